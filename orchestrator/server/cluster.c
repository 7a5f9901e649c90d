/* cluster.c - the server's shared state and its write path (see cluster.h): every commit
 * goes through the store, whose commit callback feeds the view, the watch cache and the
 * controller's observer. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cluster.h"
#include "model.h"

double cluster_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *cluster_encode(json_t *obj)
{
  json_t *copy = json_copy(obj);
  json_object_del(copy, "revision");
  json_object_del(copy, "createdRevision");
  char *s = json_dumps(copy, JSON_COMPACT | JSON_REAL_PRECISION(9));
  json_decref(copy);
  return s;
}

/* The store's commit callback: keep the view equal to the store, render watch lines, tell
 * the controller. */
static void on_commit(void *data, const struct store_event *ev, size_t n)
{
  struct cluster *c = data;
  for (size_t i = 0; i < n; i++)
    {
      char kind;
      const char *name;
      json_t *obj = view_apply(&c->view, &ev[i], &kind, &name);
      if (obj == NULL)
        {
          if (c->keys)
            c->keys(c->keys_data, &ev[i]);
          continue;
        }
      if (kind != VIEW_EVENT && c->observe)
        c->observe(c->observe_data, kind, name, obj, ev[i].type);
      /* Trimming old Events is housekeeping: not worth a line in every watch stream. */
      if (!(kind == VIEW_EVENT && ev[i].type == STORE_DELETE))
        watch_cache_add(&c->watch, &ev[i], obj, kind, name);
      json_decref(obj);
    }
}

/* The store lost the thread of changes (its history was compacted while etcd was out of
 * reach): list again; watchers older than the new ring start over (410). */
static void on_resync(void *data)
{
  struct cluster *c = data;
  cleanup_err struct skiff_err *err = NULL;
  fprintf(stderr, "skiffd: store history compacted past our view: listing again\n");
  if (view_load(&c->view, c->store, c->keys, c->keys_data, &err) < 0)
    {
      fprintf(stderr, "skiffd: relist: %s\n", err->msg);
      return;
    }
  watch_cache_free(&c->watch);
  watch_cache_init(&c->watch, store_revision(c->store));
  c->watch.news = true;
  c->resynced = true;
}

int cluster_open_keys(struct cluster *c, struct store *s, view_key_fn keys, void *data,
                      struct skiff_err **err)
{
  memset(c, 0, sizeof(*c));
  c->store = s;
  c->keys = keys;
  c->keys_data = data;
  view_init(&c->view);
  if (view_load(&c->view, s, keys, data, err) < 0)
    {
      view_free(&c->view);
      return -1;
    }
  watch_cache_init(&c->watch, store_revision(s));
  recorder_init(&c->events, c->view.event_seq);
  store_set_notify(s, on_commit, c);
  store_set_resync(s, on_resync, c);
  return 0;
}

int cluster_open(struct cluster *c, struct store *s, struct skiff_err **err)
{
  return cluster_open_keys(c, s, NULL, NULL, err);
}

void cluster_close(struct cluster *c)
{
  if (c->store)
    {
      store_set_notify(c->store, NULL, NULL);
      store_set_resync(c->store, NULL, NULL);
    }
  recorder_free(&c->events);
  watch_cache_free(&c->watch);
  view_free(&c->view);
  store_close(c->store);
  c->store = NULL;
}

void cluster_set_observer(struct cluster *c, cluster_observer_fn fn, void *data)
{
  c->observe = fn;
  c->observe_data = data;
}

int cluster_commit(struct cluster *c, const struct store_op *ops, size_t n, size_t *failed,
                   struct skiff_err **err)
{
  struct store_op chunk[STORE_TXN_MAX_OPS];
  size_t fence = 0;
  if (c->fence)
    chunk[fence++] = *c->fence;
  size_t per = STORE_TXN_MAX_OPS - fence;
  int ret = 0;
  for (size_t off = 0; off < n; off += per)
    {
      size_t k = n - off < per ? n - off : per, f = 0;
      memcpy(chunk + fence, ops + off, k * sizeof(*ops));
      int r = store_txn(c->store, chunk, k + fence, &f, NULL, err);
      if (r < 0)
        return -1;
      if (r == STORE_CONFLICT && fence && f == 0)
        {
          c->fence_failed = true; /* no longer the leader: write nothing more */
          return STORE_CONFLICT;
        }
      if (r == STORE_CONFLICT && ret == 0)
        {
          ret = STORE_CONFLICT;
          if (failed)
            *failed = off + f - fence;
        }
    }
  return ret;
}

void cluster_flush_events(struct cluster *c)
{
  struct writes w = {0};
  recorder_take(&c->events, c->view.events, &w);
  cleanup_err struct skiff_err *err = NULL;
  if (cluster_commit(c, w.ops, w.n, NULL, &err) < 0)
    fprintf(stderr, "skiffd: events: %s\n", err->msg);
  writes_free(&w);
}

void cluster_heartbeat(struct cluster *c, const char *node, double now)
{
  json_object_set_new(c->view.heartbeats, node, json_real(now));
  json_t *obj = json_object_get(c->view.nodes, node);
  /* A NotReady node that heartbeats again: let the controller mark it Ready now. */
  if (obj && strcmp(model_str(obj, "status", ""), "Ready") != 0 && c->observe)
    c->observe(c->observe_data, VIEW_NODE, node, obj, STORE_PUT);
}
