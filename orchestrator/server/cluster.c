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
        continue;
      if (kind != VIEW_EVENT && c->observe)
        c->observe(c->observe_data, kind, name, obj, ev[i].type);
      /* Trimming old Events is housekeeping: not worth a line in every watch stream. */
      if (!(kind == VIEW_EVENT && ev[i].type == STORE_DELETE))
        watch_cache_add(&c->watch, &ev[i], obj, kind, name);
      json_decref(obj);
    }
}

int cluster_open(struct cluster *c, struct store *s, struct skiff_err **err)
{
  memset(c, 0, sizeof(*c));
  c->store = s;
  view_init(&c->view);
  if (view_load(&c->view, s, err) < 0)
    {
      view_free(&c->view);
      return -1;
    }
  watch_cache_init(&c->watch, store_revision(s));
  recorder_init(&c->events, c->view.event_seq);
  store_set_notify(s, on_commit, c);
  return 0;
}

void cluster_close(struct cluster *c)
{
  if (c->store)
    store_set_notify(c->store, NULL, NULL);
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
  if (n == 0)
    return 0;
  return store_txn(c->store, ops, n, failed, NULL, err);
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
