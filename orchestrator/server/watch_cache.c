/* watch_cache.c - the ring of rendered watch lines (see watch_cache.h). */
#include <string.h>
#include "model.h"
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
  free(e->name);
  free(e->node);
  free(e->service);
  free(e->line);
  memset(e, 0, sizeof(*e));
}

void watch_cache_free(struct watch_cache *w)
{
  for (size_t i = 0; i < w->len; i++)
    watch_entry_clear(&w->ring[(w->head + i) % WATCH_CACHE_SIZE]);
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

void watch_entry_render(const struct store_event *ev, json_t *obj, char kind, const char *name,
                        struct watch_entry *e)
{
  const char *type = ev->type == STORE_DELETE              ? "DELETED"
                     : ev->kv.create_rev == ev->kv.mod_rev ? "ADDED"
                                                           : "MODIFIED";
  json_t *line = json_pack("{s:s,s:s,s:I,s:O}", "type", type, "kind", kind_name(kind), "revision",
                           (json_int_t)ev->rev, "object", obj);
  *e = (struct watch_entry){.rev = ev->rev, .kind = kind, .name = xstrdup(name)};
  if (kind == VIEW_REPLICA)
    {
      e->node = xstrdup(model_str(obj, "node", ""));
      e->service = xstrdup(model_str(obj, "service", ""));
    }
  char *s = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(9));
  e->line = xasprintf("%s\n", s);
  e->len = strlen(e->line);
  free(s);
  json_decref(line);
}

void watch_cache_add(struct watch_cache *w, const struct store_event *ev, json_t *obj, char kind,
                     const char *name)
{
  struct watch_entry e;
  watch_entry_render(ev, obj, kind, name, &e);
  size_t idx = (w->head + w->len) % WATCH_CACHE_SIZE;
  if (w->len == WATCH_CACHE_SIZE)
    {
      struct watch_entry *old = &w->ring[w->head];
      w->floor = old->rev;
      watch_entry_clear(old);
      w->head = (w->head + 1) % WATCH_CACHE_SIZE;
      idx = (w->head + w->len - 1) % WATCH_CACHE_SIZE;
    }
  else
    w->len++;
  w->ring[idx] = e;
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
