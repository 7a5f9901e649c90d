/* cluster.c - the server's shared state and its write path (see cluster.h): every commit
 * goes through the store, whose commit callback feeds the view, the watch cache and the
 * controller's observer. */
#include <errno.h>
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

double cluster_clock(const struct cluster *c)
{
  return cluster_now() - c->stalled;
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

/* One committed change: into the view (the writer's object when this is our txn, else
 * parsed), then the observer and the watch cache. */
static void apply_one(struct cluster *c, const struct store_event *ev, void **obj)
{
  const char *name;
  char kind = view_key_kind(ev->kv.key, &name);
  if (kind == 0)
    {
      if (c->keys)
        c->keys(c->keys_data, ev);
      return;
    }
  cleanup_free char *service = NULL, *node = NULL;
  struct view_replica *r;
  if (kind == VIEW_REPLICA && ev->type == STORE_DELETE && (r = view_replica(&c->view, name)))
    {
      /* what the watch filters and the observer need, before it is gone */
      service = xstrdup(r->service);
      node = xstrdup(r->node);
    }
  if (ev->type == STORE_DELETE)
    view_delete(&c->view, kind, name, ev->rev);
  else if (obj && *obj)
    {
      if (kind == VIEW_REPLICA)
        view_put_replica(&c->view, *obj, ev->rev, ev->kv.create_rev);
      else
        view_put_json(&c->view, kind, name, *obj, ev->rev);
      *obj = NULL;
    }
  else if (!view_put_text(&c->view, ev))
    return;
  if (kind == VIEW_REPLICA && ev->type == STORE_PUT && (r = view_replica(&c->view, name)))
    {
      service = xstrdup(r->service);
      node = xstrdup(r->node);
    }
  if (service == NULL)
    service = xstrdup("");
  if (node == NULL)
    node = xstrdup("");
  if (kind != VIEW_EVENT && c->observe)
    c->observe(c->observe_data, kind, name, service, ev->type);
  /* Trimming old Events is housekeeping: not worth a line in every watch stream. */
  if (!(kind == VIEW_EVENT && ev->type == STORE_DELETE))
    watch_cache_add(&c->watch, ev, kind, name, node, service);
}

/* The store's commit callback. */
static void on_commit(void *data, const struct store_event *ev, size_t n)
{
  struct cluster *c = data;
  bool ours = c->pending_ops && c->npending == n;
  for (size_t i = 0; i < n; i++)
    {
      if (c->store_observe)
        c->store_observe(c->store_observe_data, &ev[i]);
      /* On etcd other servers' txns arrive here too, maybe during ours: an object is taken
       * only for the same key with the same stored text. */
      const struct store_op *op = ours ? &c->pending_ops[i] : NULL;
      void **obj = op && op->type == ev[i].type && strcmp(op->key, ev[i].kv.key) == 0
                           && (op->type != STORE_PUT
                               || (op->len == ev[i].kv.len
                                   && memcmp(op->value, ev[i].kv.value, op->len) == 0))
                       ? &c->pending_objs[i]
                       : NULL;
      apply_one(c, &ev[i], obj);
    }
}

/* The store lost the thread of changes (its history was compacted while etcd was out of
 * reach): list again; watchers older than the new ring start over (410). */
static void on_resync(void *data)
{
  struct cluster *c = data;
  cleanup_err struct skiff_err *err = NULL;
  fprintf(stderr, "skiffd: store history compacted past our view: listing again\n");
  struct view fresh;
  view_init(&fresh);
  if (view_load(&fresh, c->store, c->keys, c->keys_data, &err) < 0)
    {
      view_free(&fresh);
      fprintf(stderr, "skiffd: relist: %s\n", err->msg);
      return;
    }
  fresh.event_seq = c->view.event_seq > fresh.event_seq ? c->view.event_seq : fresh.event_seq;
  view_free(&c->view);
  c->view = fresh;
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

void cluster_set_store_observer(struct cluster *c,
                                void (*fn)(void *data, const struct store_event *ev), void *data)
{
  c->store_observe = fn;
  c->store_observe_data = data;
}

/* One store txn of ops with their objects; the objects left over are the caller's.  While
 * the leader's fence is set it goes first in the txn (its events are the ops' alone). */
static int txn(struct cluster *c, const struct store_op *ops, void **objs, size_t n, size_t *failed,
               struct skiff_err **err)
{
  struct store_op fenced[STORE_TXN_MAX_OPS];
  const struct store_op *send = ops;
  size_t nsend = n, f = 0;
  if (c->fence)
    {
      if (n + 1 > STORE_TXN_MAX_OPS)
        return skiff_error(err, EINVAL, "txn of %zu ops and the leader fence", n);
      fenced[0] = *c->fence;
      memcpy(fenced + 1, ops, n * sizeof(*ops));
      send = fenced;
      nsend = n + 1;
    }
  c->pending_ops = ops;
  c->pending_objs = objs;
  c->npending = n;
  int r = store_txn(c->store, send, nsend, &f, NULL, err);
  c->pending_ops = NULL;
  c->pending_objs = NULL;
  c->npending = 0;
  if (r == STORE_CONFLICT && c->fence)
    {
      if (f == 0)
        {
          /* Not the leader any more: this write and every later one of the tick fail. */
          c->fence_failed = true;
          return skiff_error(err, 0, "fenced off: the leader key is no longer ours");
        }
      f--;
    }
  if (failed)
    *failed = f;
  if (r == 0)
    {
      c->txns++;
      c->writes += n;
    }
  return r;
}

int cluster_commit(struct cluster *c, struct writes *w, size_t *failed, struct skiff_err **err)
{
  int r = w->n ? txn(c, w->ops, w->objs, w->n, failed, err) : 0;
  writes_clear(w);
  return r;
}

int cluster_commit_each(struct cluster *c, struct writes *w, struct skiff_err **err)
{
  struct store_op ops[CLUSTER_TXN_OPS];
  void *objs[CLUSTER_TXN_OPS];
  size_t idx[CLUSTER_TXN_OPS];
  int dropped = 0;
  for (size_t i = 0; i < w->n; i++)
    w->status[i] = -1;
  size_t per = CLUSTER_TXN_OPS - (c->fence ? 1 : 0);
  for (size_t start = 0; start < w->n; start += per)
    {
      size_t m = w->n - start < per ? w->n - start : per;
      for (size_t k = 0; k < m; k++)
        idx[k] = start + k;
      while (m > 0)
        {
          for (size_t k = 0; k < m; k++)
            {
              ops[k] = w->ops[idx[k]];
              objs[k] = w->objs[idx[k]];
            }
          size_t failed = 0;
          int r = txn(c, ops, objs, m, &failed, err);
          if (r < 0)
            return -1;
          if (r == 0)
            {
              for (size_t k = 0; k < m; k++)
                {
                  w->status[idx[k]] = 0;
                  if (objs[k] == NULL) /* the view took it */
                    w->objs[idx[k]] = NULL;
                }
              break;
            }
          /* A compare failed: drop that op alone and commit the rest. */
          w->status[idx[failed]] = STORE_CONFLICT;
          dropped++;
          c->conflicts++;
          memmove(&idx[failed], &idx[failed + 1], (m - failed - 1) * sizeof(idx[0]));
          m--;
        }
    }
  return dropped;
}

void cluster_flush_events(struct cluster *c)
{
  struct writes w = {0};
  recorder_take(&c->events, c->view.events, &w);
  cleanup_err struct skiff_err *err = NULL;
  if (cluster_commit(c, &w, NULL, &err) < 0)
    fprintf(stderr, "skiffd: events: %s\n", err->msg);
  writes_free(&w);
}

const struct rc_heartbeat *cluster_pace(struct cluster *c)
{
  rc_heartbeat_pace(&c->pace, &c->heartbeat_policy, c->view.nnodes, cluster_clock(c));
  return &c->pace;
}

void cluster_heartbeat(struct cluster *c, const char *node, double now)
{
  struct view_node *n = view_node(&c->view, node);
  if (n == NULL)
    return;
  n->heartbeat = now;
  /* A NotReady node that heartbeats again: let the controller mark it Ready now. */
  if (!n->ready && c->observe)
    c->observe(c->observe_data, VIEW_NODE, node, "", STORE_PUT);
}
