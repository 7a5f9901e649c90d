/* cluster.h - the state the parts of `skiffd server` share, and the one way to change it.
 *
 *   store   the revisioned store (../store/store.h): the truth
 *   view    the in-memory view of the store (view.h), fed by the store's commit callback
 *   watch   the watch cache (watch_cache.h): committed changes rendered for watch streams
 *   events  the Event recorder (recorder.h), flushed once per loop pass
 *
 * Writes are lists (writes.h) that carry the objects they write: when a txn commits, the
 * commit callback hands each object to the view as it is (no parsing back), tells the
 * controller's observer, and renders watch lines only while someone watches.
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
#include "reconcile.h"
#include "recorder.h"
#include "store.h"
#include "view.h"
#include "watch_cache.h"
#include "writes.h"

/* At most this many ops per store txn (etcd's default --max-txn-ops is 128). */
#define CLUSTER_TXN_OPS 128

/* Called for every committed change of a service, replica or node (service: the replica's
 * service), and for a heartbeat of a node that is not Ready. */
typedef void (*cluster_observer_fn)(void *data, char kind, const char *name, const char *service,
                                    enum store_op_type type);

struct cluster
{
  struct store *store;
  struct view view;
  struct watch_cache watch;
  struct recorder events;
  cluster_observer_fn observe;
  void *observe_data;
  /* Every committed store event, whatever its key (the credential table of auth.h follows
   * /auth/ keys so; other servers' writes included): may be NULL. */
  void (*store_observe)(void *data, const struct store_event *ev);
  void *store_observe_data;
  uint64_t txns, writes, conflicts; /* txns and ops committed; ops dropped for a conflict */
  double stalled; /* seconds the loop was busy beyond CLUSTER_PASS_FORGIVEN per pass */
  /* During a txn of ours: the objects of its ops, in op order. */
  const struct store_op *pending_ops;
  void **pending_objs;
  size_t npending;
  view_key_fn keys; /* changes of keys outside the view's kinds (leader.c) */
  void *keys_data;
  /* While set, every txn carries this compare first (the leader's fence, set by the server
   * loop around the controller tick); fence_failed tells that it failed. */
  const struct store_op *fence;
  bool fence_failed;
  bool resynced; /* the view was listed again (the store lost the thread of changes) */
  /* Heartbeat pacing (reconcile.h): the configured policy and what is in force; read it
   * through cluster_pace, which follows the number of registered nodes. */
  struct rc_heartbeat_policy heartbeat_policy;
  struct rc_heartbeat pace;
};

double cluster_now(void); /* CLOCK_MONOTONIC seconds */
/* The server's responsive time: monotonic time minus the time its loop spent busy beyond
 * CLUSTER_PASS_FORGIVEN in a pass.  Heartbeats and node grace run on it: while the one loop
 * is busy (a burst of 30,000 replicas) the agents' heartbeats wait in its socket buffers,
 * which is not the nodes' fault.  An idle loop loses nothing of real time. */
#define CLUSTER_PASS_FORGIVEN 0.05
double cluster_clock(const struct cluster *c);
/* Take over an open store: load the view from it and follow its commits. */
int cluster_open(struct cluster *c, struct store *s, struct skiff_err **err);
/* The same, with the keys outside the view's kinds given to keys (loaded ones, then every
 * change). */
int cluster_open_keys(struct cluster *c, struct store *s, view_key_fn keys, void *data,
                      struct skiff_err **err);
void cluster_close(struct cluster *c);
void cluster_set_observer(struct cluster *c, cluster_observer_fn fn, void *data);
void cluster_set_store_observer(struct cluster *c,
                                void (*fn)(void *data, const struct store_event *ev), void *data);
/* Every op of w in one store txn, all or nothing (apply).  0, STORE_CONFLICT (*failed set)
 * or -1.  The objects are taken by the view or freed; w is cleared either way. */
int cluster_commit(struct cluster *c, struct writes *w, size_t *failed, struct skiff_err **err);
/* Independent writes (a controller tick, grouped agent reports): txns of at most
 * CLUSTER_TXN_OPS ops; an op whose compare fails is dropped (w->status[i] = STORE_CONFLICT)
 * and the rest of its txn committed.  Returns the number of ops dropped, or -1 on a store
 * error (ops not committed get status -1).  w keeps its ops (and statuses) until cleared. */
int cluster_commit_each(struct cluster *c, struct writes *w, struct skiff_err **err);
/* Write the queued Events (best effort: a failure is logged). */
void cluster_flush_events(struct cluster *c);
/* The heartbeat period agents are told and the grace nodes are judged by now, for the nodes
 * registered now (the one place both are decided: the API answers with the period, the
 * controller and the leader judge with the grace). */
const struct rc_heartbeat *cluster_pace(struct cluster *c);
/* A node's heartbeat (in memory, not a store write). */
void cluster_heartbeat(struct cluster *c, const char *node, double now);
/* Serialized object for the store (without the revision fields); caller frees. */
char *cluster_encode(json_t *obj);

#endif
