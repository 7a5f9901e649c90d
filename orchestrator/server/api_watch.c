/* api_watch.c - GET /v1/watch: the NDJSON change stream.  Lines come from the server's
 * watch cache (ring) or, for older revisions, the store's history.  A stream with nothing to
 * send suspends its connection; the server loop resumes them all (api_wake_watchers) when
 * the watch cache has news or a bookmark is due.  This file owns the open streams. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <microhttpd.h>
#include "api_internal.h"
#include "model.h"

struct api_watcher
{
  struct api *api;
  struct MHD_Connection *conn;
  struct api_watcher *next; /* in api->watchers while suspended */
  bool suspended;
  int64_t cursor;
  char kind; /* 0 = all */
  char *node, *service;
  char *buf;
  size_t len, off;
  double last_send;
  bool failed;
};

/* ---- watch ---- */

static bool watch_match(const struct api_watcher *w, const struct watch_entry *e)
{
  if (w->kind && e->kind != w->kind)
    return false;
  if (w->node
      && !((e->kind == 'r' && strcmp(e->node, w->node) == 0)
           || (e->kind == 'n' && strcmp(e->name, w->node) == 0)))
    return false;
  if (w->service
      && !((e->kind == 'r' && strcmp(e->service, w->service) == 0)
           || (e->kind == 's' && strcmp(e->name, w->service) == 0)))
    return false;
  return true;
}

static void watch_append(struct api_watcher *w, const char *s, size_t len)
{
  w->buf = xrealloc(w->buf, w->len + len + 1);
  memcpy(w->buf + w->len, s, len);
  w->len += len;
}

#define WATCH_FILL_MAX (256 * 1024)

/* A replica's node and service from stored text (history only: the ring has them). */
static void replica_fields(const char *text, char **node, char **service)
{
  json_t *o = text ? json_loads(text, 0, NULL) : NULL;
  *node = xstrdup(model_str(o, "node", ""));
  *service = xstrdup(model_str(o, "service", ""));
  json_decref(o);
}

#define HISTORY_BATCH 1000

/* Move lines after the cursor into the buffer: from the ring when it covers the cursor,
 * else from the store's history.  The cursor only ever stops between two revisions (a txn's
 * changes share one).  -1 when the history was compacted past the cursor. */
static int watch_fill(struct api_watcher *w)
{
  struct api *api = w->api;
  struct watch_cache *wc = &api->cl->watch;
  if (w->cursor >= wc->floor)
    {
      for (size_t k = watch_cache_after(wc, w->cursor); k < wc->len; k++)
        {
          const struct watch_entry *e = watch_cache_at(wc, k);
          if (w->len >= WATCH_FILL_MAX && e->rev != w->cursor)
            break;
          if (watch_match(w, e))
            watch_append(w, e->line, e->len);
          w->cursor = e->rev;
        }
      return 0;
    }
  struct store_event *ev = NULL;
  size_t n = 0;
  cleanup_err struct skiff_err *err = NULL;
  const char *prefix = w->kind ? view_kind_prefix(w->kind) : "/";
  int r = store_history(api->cl->store, w->cursor, prefix, HISTORY_BATCH, &ev, &n, &err);
  if (r != 0)
    return -1;
  size_t use = n;
  /* A full batch may end inside a revision: leave that revision for the next read. */
  while (n == HISTORY_BATCH && use > 0 && ev[use - 1].rev == ev[n - 1].rev)
    use--;
  if (use == 0)
    use = n;
  for (size_t i = 0; i < use; i++)
    {
      const char *name;
      char kind = view_key_kind(ev[i].kv.key, &name);
      if (kind && !(kind == VIEW_EVENT && ev[i].type == STORE_DELETE))
        {
          cleanup_free char *node = NULL, *service = NULL;
          if (kind == VIEW_REPLICA && (w->node || w->service))
            replica_fields(ev[i].kv.value, &node, &service);
          struct watch_entry e;
          watch_entry_render(&ev[i], kind, name, node, service, &e);
          if (watch_match(w, &e))
            watch_append(w, e.line, e.len);
          watch_entry_clear(&e);
        }
      w->cursor = ev[i].rev;
    }
  if (n < HISTORY_BATCH && w->cursor < wc->floor) /* history read to its end: on to the ring */
    w->cursor = wc->floor;
  store_events_free(ev, n);
  return 0;
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct api_watcher *w = cls;
  (void)pos;
  if (w->off == w->len && w->api->stopping)
    return MHD_CONTENT_READER_END_OF_STREAM;
  if (w->off == w->len)
    {
      w->off = w->len = 0;
      for (int i = 0; i < 8 && w->len == 0; i++)
        {
          int64_t before = w->cursor;
          if (watch_fill(w) < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
          if (w->cursor == before)
            break;
        }
      double now = cluster_now();
      if (w->len == 0 && now - w->last_send >= 5)
        {
          char line[64];
          int k = snprintf(line, sizeof(line), "{\"type\":\"BOOKMARK\",\"revision\":%lld}\n",
                           (long long)store_revision(w->api->cl->store));
          watch_append(w, line, (size_t)k);
        }
      if (w->len == 0)
        {
          /* Nothing new: park the connection until the store changes. */
          w->suspended = true;
          w->next = w->api->watchers;
          w->api->watchers = w;
          MHD_suspend_connection(w->conn);
          return 0;
        }
      w->last_send = now;
    }
  size_t n = w->len - w->off < max ? w->len - w->off : max;
  memcpy(buf, w->buf + w->off, n);
  w->off += n;
  return (ssize_t)n;
}

static void watch_free(void *cls)
{
  struct api_watcher *w = cls;
  for (struct api_watcher **p = &w->api->watchers; *p; p = &(*p)->next)
    if (*p == w)
      {
        *p = w->next;
        break;
      }
  w->api->nwatchers--;
  free(w->node);
  free(w->service);
  free(w->buf);
  free(w);
}

void api_wake_watchers(struct api *api)
{
  struct api_watcher *w = api->watchers;
  api->watchers = NULL;
  while (w)
    {
      struct api_watcher *next = w->next;
      w->next = NULL;
      w->suspended = false;
      MHD_resume_connection(w->conn);
      w = next;
    }
}

enum MHD_Result api_route_watch(struct api *api, struct MHD_Connection *c)
{
  static const struct
  {
    const char *name;
    char kind;
  } kinds[] = {{"services", 's'}, {"service", 's'}, {"replicas", 'r'}, {"replica", 'r'},
               {"nodes", 'n'},    {"node", 'n'},    {"events", 'e'},   {"event", 'e'}};
  const char *from = api_query(c, "from"), *k = api_query(c, "kind");
  int64_t cursor = api->view->rev;
  char kind = 0;
  if (from)
    {
      char *end = NULL;
      errno = 0;
      long long v = strtoll(from, &end, 10);
      if (errno || end == from || *end || v < 0)
        return api_send_error(api, c, 400, "from: expected a non-negative revision");
      cursor = v;
    }
  if (k)
    {
      for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !kind; i++)
        if (strcmp(k, kinds[i].name) == 0)
          kind = kinds[i].kind;
      if (!kind)
        return api_send_error(api, c, 400, "kind: expected services, replicas, nodes or events");
    }
  if (cursor < store_compacted(api->cl->store))
    {
      json_t *b = json_pack("{s:s,s:i,s:I}", "error", "", "code", 410, "compactRevision",
                            (json_int_t)store_compacted(api->cl->store));
      char *msg = xasprintf("revision %lld compacted (oldest available %lld)", (long long)cursor,
                            (long long)store_compacted(api->cl->store));
      json_object_set_new(b, "error", json_string(msg));
      free(msg);
      return api_send_json(api, c, 410, b);
    }
  struct api_watcher *w = xzalloc(sizeof(*w));
  w->api = api;
  w->conn = c;
  w->cursor = cursor;
  w->kind = kind;
  w->node = api_query(c, "node") ? xstrdup(api_query(c, "node")) : NULL;
  w->service = api_query(c, "service") ? xstrdup(api_query(c, "service")) : NULL;
  w->last_send = cluster_now();
  api->nwatchers++;
  watch_cache_set_active(&api->cl->watch, true);
  struct MHD_Response *r
      = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, watch_read, w, watch_free);
  MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  api->http_count[2]++;
  return ret;
}
