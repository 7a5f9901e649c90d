/* cluster.h - the state the parts of `skiffd server` share, and the one way to change it.
 *
 *   store   the revisioned store (../store/store.h): the truth
 *   view    the in-memory view of the store (view.h), fed by the store's commit callback
 *   watch   the watch cache (watch_cache.h): committed changes rendered for watch streams
 *   events  the Event recorder (recorder.h), flushed once per loop pass
 *
 * The API (api*.c) and the controller (controller.c) call into it; it calls into neither:
 * the controller learns of committed changes through the observer it registers.  One thread:
 * libmicrohttpd runs in external-polling mode inside the server loop, so handlers, the
 * controller tick and the commit callback never run concurrently and nothing needs a lock. */
#ifndef SKIFF_CLUSTER_H
#define SKIFF_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "recorder.h"
#include "store.h"
#include "view.h"
#include "watch_cache.h"
#include "writes.h"

/* Called for every committed change of a service, replica or node (obj: the new object, or
 * the last one for a delete), and for a heartbeat of a node that is not Ready. */
typedef void (*cluster_observer_fn)(void *data, char kind, const char *name, json_t *obj,
                                    enum store_op_type type);

struct cluster
{
  struct store *store;
  struct view view;
  struct watch_cache watch;
  struct recorder events;
  cluster_observer_fn observe;
  void *observe_data;
  view_key_fn keys; /* changes of keys outside the view's kinds (leader.c) */
  void *keys_data;
  /* While set, every txn carries this compare first (the leader's fence, set by the server
   * loop around the controller tick); fence_failed tells that it failed. */
  const struct store_op *fence;
  bool fence_failed;
  bool resynced; /* the view was listed again (the store lost the thread of changes) */
};

double cluster_now(void); /* CLOCK_MONOTONIC seconds */
/* Take over an open store: load the view from it and follow its commits. */
int cluster_open(struct cluster *c, struct store *s, struct skiff_err **err);
/* The same, with the keys outside the view's kinds given to keys (loaded ones, then every
 * change). */
int cluster_open_keys(struct cluster *c, struct store *s, view_key_fn keys, void *data,
                      struct skiff_err **err);
void cluster_close(struct cluster *c);
void cluster_set_observer(struct cluster *c, cluster_observer_fn fn, void *data);
/* Write ops in one store txn; the view, the watch cache and the observer follow through the
 * commit callback before it returns.  0, STORE_CONFLICT (*failed = index) or -1.  More than
 * a txn holds (STORE_TXN_MAX_OPS, etcd's limit) goes in chunks, each atomic: a chunk that
 * conflicts does not stop the others (the first conflict is reported). */
int cluster_commit(struct cluster *c, const struct store_op *ops, size_t n, size_t *failed,
                   struct skiff_err **err);
/* Write the queued Events (best effort: a failure is logged). */
void cluster_flush_events(struct cluster *c);
/* A node's heartbeat (in memory, not a store write). */
void cluster_heartbeat(struct cluster *c, const char *node, double now);
/* Serialized object for the store (without the revision fields); caller frees. */
char *cluster_encode(json_t *obj);

#endif
