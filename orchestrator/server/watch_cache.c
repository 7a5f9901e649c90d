/* watch_cache.c - the ring of rendered watch lines (see watch_cache.h). */
#include <string.h>
#include "jtext.h"
#include "view.h"
#include "watch_cache.h"

void watch_cache_init(struct watch_cache *w, int64_t floor)
{
  memset(w, 0, sizeof(*w));
  w->ring = xzalloc(WATCH_CACHE_SIZE * sizeof(*w->ring));
  w->floor = floor;
}

void watch_entry_clear(struct watch_entry *e)
{
  free(e->line);
  memset(e, 0, sizeof(*e));
}

static void drop_oldest(struct watch_cache *w)
{
  struct watch_entry *old = &w->ring[w->head];
  w->floor = old->rev;
  w->bytes -= old->len;
  watch_entry_clear(old);
  w->head = (w->head + 1) % WATCH_CACHE_SIZE;
  w->len--;
}

void watch_cache_free(struct watch_cache *w)
{
  while (w->len > 0)
    drop_oldest(w);
  free(w->ring);
  memset(w, 0, sizeof(*w));
}

static const char *kind_name(char kind)
{
  switch (kind)
    {
      case VIEW_SERVICE:
        return "service";
      case VIEW_REPLICA:
        return "replica";
      case VIEW_NODE:
        return "node";
      default:
        return "event";
    }
}

void watch_entry_render(const struct store_event *ev, char kind, const char *name, const char *node,
                        const char *service, struct watch_entry *e)
{
  const char *type = ev->type == STORE_DELETE              ? "DELETED"
                     : ev->kv.create_rev == ev->kv.mod_rev ? "ADDED"
                                                           : "MODIFIED";
  static _Thread_local struct jtext scratch; /* reused: the line is copied at its size */
  struct jtext t = scratch;
  t.len = 0;
  jtext_str(&t, "{\"type\":\"");
  jtext_str(&t, type);
  jtext_str(&t, "\",\"kind\":\"");
  jtext_str(&t, kind_name(kind));
  jtext_str(&t, "\",\"revision\":");
  jtext_int(&t, ev->rev);
  jtext_str(&t, ",\"object\":{\"revision\":");
  jtext_int(&t, ev->rev);
  if (kind == VIEW_REPLICA)
    {
      jtext_str(&t, ",\"createdRevision\":");
      jtext_int(&t, ev->kv.create_rev);
    }
  /* The stored object's members follow ours: `{"a":1}` contributes `,"a":1}`. */
  const char *v = ev->kv.value;
  while (v && (*v == ' ' || *v == '\n'))
    v++;
  if (v && *v == '{')
    {
      const char *rest = v + 1;
      while (*rest == ' ' || *rest == '\n')
        rest++;
      if (*rest != '}')
        jtext_str(&t, ",");
      jtext_str(&t, rest);
    }
  else
    {
      /* a delete whose previous value is unknown: the name is all there is */
      jtext_str(&t, ",\"name\":");
      jtext_quote(&t, name);
      jtext_str(&t, "}");
    }
  jtext_str(&t, "}\n");
  size_t len = t.len;
  jtext_raw(&t, "", 1);
  jtext_str(&t, name);
  jtext_raw(&t, "", 1);
  jtext_str(&t, node ? node : "");
  jtext_raw(&t, "", 1);
  jtext_str(&t, service ? service : "");
  *e = (struct watch_entry){.rev = ev->rev, .kind = kind, .len = len};
  e->line = xmalloc(t.len + 1);
  memcpy(e->line, t.s, t.len + 1);
  e->name = e->line + len + 1;
  e->node = e->name + strlen(e->name) + 1;
  e->service = e->node + strlen(e->node) + 1;
  scratch = t;
}

void watch_cache_set_active(struct watch_cache *w, bool active)
{
  w->active = active;
  while (!active && w->len > 0)
    drop_oldest(w);
}

void watch_cache_add(struct watch_cache *w, const struct store_event *ev, char kind,
                     const char *name, const char *node, const char *service)
{
  if (!w->active)
    {
      /* Nobody watches: build nothing; a stream that starts later reads the store. */
      w->floor = ev->rev;
      return;
    }
  struct watch_entry e;
  watch_entry_render(ev, kind, name, node, service, &e);
  while (w->len > 0 && (w->len == WATCH_CACHE_SIZE || w->bytes + e.len > WATCH_CACHE_BYTES))
    drop_oldest(w);
  w->ring[(w->head + w->len) % WATCH_CACHE_SIZE] = e;
  w->len++;
  w->bytes += e.len;
  w->news = true;
}

size_t watch_cache_after(const struct watch_cache *w, int64_t rev)
{
  size_t lo = 0, hi = w->len;
  while (lo < hi)
    {
      size_t mid = (lo + hi) / 2;
      if (w->ring[(w->head + mid) % WATCH_CACHE_SIZE].rev <= rev)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

const struct watch_entry *watch_cache_at(const struct watch_cache *w, size_t pos)
{
  return &w->ring[(w->head + pos) % WATCH_CACHE_SIZE];
}
