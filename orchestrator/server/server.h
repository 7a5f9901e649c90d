/* server.h - state shared by the parts of `skiffd server`: server.c (flags, event loop, token,
 * in-memory view + watch cache fed by the store), api.c (HTTP routes) and controller.c
 * (reconcile loop).  One thread: libmicrohttpd runs in external-polling mode inside the
 * server loop, so handlers, the controller tick and store callbacks never run concurrently
 * and nothing here needs a lock. */
#ifndef SKIFF_SERVER_H
#define SKIFF_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "store.h"
#include "util.h"

#define SRV_BODY_MAX (1024 * 1024)
#define SRV_EVENTS_KEEP 1000
#define SRV_WATCH_RING 65536

/* One change as the watch stream sends it, pre-rendered once for every watcher. */
struct srv_watch_entry
{
  int64_t rev;
  char kind; /* 's' service, 'r' replica, 'n' node, 'e' event */
  char *name;
  char *node;    /* replicas: the node it is bound to */
  char *service; /* replicas: its service */
  char *line;    /* NDJSON line with trailing newline */
  size_t len;
};

struct srv_watcher;

struct srv_leader;

struct orch_server
{
  struct store *store;
  char *data_dir;
  const char *listen;
  struct srv_leader *leader; /* leader.c: election, fencing, presence of several servers */
  bool fence_writes;         /* controller running: srv_commit fences its txns */
  char *token;
  double heartbeat_interval;
  double node_grace;
  double start_mono;

  /* The in-memory view of the store: name -> object (with "revision"), updated by the
   * store's commit callback, so it always equals the store after a write returns. */
  json_t *services, *replicas, *nodes, *events;
  /* In memory only: node name -> monotonic time of its last heartbeat. */
  json_t *heartbeats;
  int64_t event_seq;
  json_t *event_queue; /* events recorded since the last srv_flush_events */
  /* Controller memory: service -> {"gen", "sig", "t"} last rollout progress. */
  json_t *progress;
  bool dirty;                 /* store changed since the last controller tick */
  bool watch_dirty;           /* new watch entries: wake suspended watchers */
  json_t *replace_backoff;    /* service -> {rounds, last, next}: replacing exited replicas */
  json_t *dirty_services;     /* name -> true: reconcile it at the next tick */
  bool all_dirty;             /* a node changed: reconcile every service */
  bool nodes_changed;         /* a node object changed since the last replica sweep */
  double last_replica_sweep;  /* node controller's last pass over replicas */
  double last_full_reconcile; /* every service is reconciled at least each second */
  bool sched_retry;           /* a node, a service or a replica's resources changed */
  double sched_last_retry;    /* when unschedulable replicas were last retried */
  bool stopping;              /* shutting down: watch streams end instead of waiting */

  struct srv_watch_entry *ring; /* circular, SRV_WATCH_RING entries */
  size_t ring_head, ring_len;
  int64_t ring_floor;           /* the ring holds every change with revision > ring_floor */
  struct srv_watcher *watchers; /* suspended watch streams */
  int nwatchers;                /* open watch streams */

  /* Metrics. */
  uint64_t http_count[6]; /* by status class: index code/100 */
  uint64_t http_401, http_404, http_409;
  uint64_t placements, unschedulable;
};

/* server.c */
double srv_now(void); /* CLOCK_MONOTONIC seconds */
/* Write ops in one store txn; the view and watch cache follow through the callback.
 * Returns 0, STORE_CONFLICT or -1. */
int srv_commit(struct orch_server *srv, struct store_op *ops, size_t n, size_t *failed,
               struct skiff_err **err);
/* Serialized object for the store (without "revision"); caller frees. */
char *srv_encode(json_t *obj);
/* Record an Event (kind "Service"|"Replica"|"Node"): queued, written by srv_flush_events
 * in one txn (after each request and each controller tick).  Best effort. */
void srv_event(struct orch_server *srv, const char *type, const char *kind, const char *object,
               const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void srv_flush_events(struct orch_server *srv);
/* Node with derived fields (allocated, allocatable, lastHeartbeat); new reference. */
json_t *srv_node_view(struct orch_server *srv, json_t *node, json_t *alloc);
/* name -> {"cpu": milli, "mem": bytes, "replicas": n} for every node. */
json_t *srv_node_allocations(struct orch_server *srv);
/* Store event -> object with "revision" (NULL for keys outside the four kinds). */
json_t *srv_event_object(const struct store_event *ev, char *kind, const char **name);
/* Render one watch line (obj from srv_event_object). */
void srv_render_event(const struct store_event *ev, json_t *obj, char kind, const char *name,
                      struct srv_watch_entry *e);
void srv_watch_entry_clear(struct srv_watch_entry *e);

/* api.c */
struct MHD_Daemon;
struct MHD_Daemon *api_start(struct orch_server *srv, const char *listen, struct skiff_err **err);
void api_wake_watchers(struct orch_server *srv);
void api_stop(struct orch_server *srv, struct MHD_Daemon *d);

/* controller.c */
void controller_tick(struct orch_server *srv, double now);

/* leader.c - several servers on one store (etcd): one runs the controllers.  With a
 * store without leases (SQLite) the one server always leads. */
void leader_init(struct orch_server *srv, const char *name, const char *url, double ttl);
void leader_free(struct orch_server *srv);
/* Each loop pass: renew the lease, campaign, publish presence, merge peers' heartbeats. */
void leader_step(struct orch_server *srv, double now);
bool leader_leading(struct orch_server *srv);
const char *leader_name(struct orch_server *srv); /* who leads ("" unknown) */
/* A change of a key outside the view's kinds (/leader, /servers/...). */
void leader_on_change(struct orch_server *srv, const char *key, const char *value, int64_t rev,
                      bool deleted);
/* The compare every controller txn carries; false when nothing is fenced. */
bool leader_fence(struct orch_server *srv, struct store_op *op);
void leader_fence_failed(struct orch_server *srv);
/* The bearer token shared by every server of the store (written to DATA/token too). */
int leader_share_token(struct orch_server *srv, struct skiff_err **err);
void leader_resign(struct orch_server *srv);
json_t *leader_servers(struct orch_server *srv); /* items of GET /v1/servers */
json_t *leader_status(struct orch_server *srv);  /* {server, leader, leading, store} */

/* server main, called by skiffd.c */
int server_main(int argc, char **argv);

#endif
