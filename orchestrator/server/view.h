/* view.h - the in-memory view of the store (kube-apiserver's watch cache / an informer's
 * store).  Services and Events are kept as the JSON objects the store holds; Nodes and
 * Replicas, the hot part, as C structs: a replica's state, node and counts are fields, every
 * replica of one service generation shares one parsed template (view_spec), every node keeps
 * the totals of the replicas that hold resources on it, and the replicas of a service are
 * grouped, so the controller, the scheduler and /metrics never parse or look up JSON.
 *
 * Fed only with committed changes (cluster.c's commit callback): the objects the writer
 * built are taken as they are (view_put_replica, view_put_json), other changes are parsed
 * from the stored text (view_put_text).  So after a write returns the view equals the store.
 * Read by the API and the controller; nothing else writes it.  In-memory only: node
 * heartbeats. */
#ifndef SKIFF_VIEW_H
#define SKIFF_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "model.h"
#include "store.h"
#include "strmap.h"
#include "util.h"

/* Object kinds, by store prefix. */
enum view_kind
{
  VIEW_SERVICE = 's',
  VIEW_REPLICA = 'r',
  VIEW_NODE = 'n',
  VIEW_EVENT = 'e',
};

/* The kind and name of a store key ("/replicas/web-1-abcde"); 0 for other keys. */
char view_key_kind(const char *key, const char **name);
const char *view_kind_prefix(char kind);

/* A replica template (the "spec" of a replica): shared by every replica created from it. */
struct view_spec
{
  char *text; /* compact JSON, as stored inside the replica */
  size_t len;
  unsigned refs;
  int64_t cpu, mem; /* reserved millicores and bytes */
  int *node_ports;
  size_t nnode_ports;
};

struct view_port
{
  int port;
  char *owner; /* service */
  int count;   /* replicas of owner holding it here */
};

struct view_node
{
  char *name;
  json_t *obj; /* the stored Node, with "revision" */
  bool ready, cordoned;
  int64_t cpu_cap, mem_cap;
  /* Replicas bound here in a state that holds resources (Scheduled, Starting, Running,
   * BackOff, Terminating): their sum, kept up to date by every change. */
  int64_t cpu_used, mem_used;
  int nholding;
  struct view_port *ports;
  size_t nports;
  double heartbeat; /* monotonic time of the last heartbeat; 0 = none since the start */
};

struct view_replica;

/* The replicas of one service name (the service itself may be gone: orphans). */
struct view_group
{
  char *service;
  struct view_replica **items;
  size_t n, cap;
};

struct view_replica
{
  char *name;
  char *service;
  int64_t generation;
  char *node; /* "" while unbound */
  enum replica_state state;
  bool ready;
  bool has_exit; /* lastExitCode is a number (else null) */
  int exit_code;
  int restarts;
  char *address, *reason;
  char created[24]; /* RFC 3339 */
  int64_t rev, create_rev;
  struct view_spec *spec;
  json_t *extra; /* fields this server does not model, kept as they came (NULL: none) */
  /* In the view only: */
  struct view_group *group;
  size_t group_pos;
  struct view_node *holds; /* the node its resources are counted on */
  uint64_t mark;           /* scratch for the controller's tick */
};

struct view
{
  json_t *services; /* name -> Service, with "revision" */
  json_t *events;   /* name -> Event, with "revision" */
  struct strmap nodes;
  struct view_node **node_list; /* sorted by name (the scheduler's order) */
  size_t nnodes, node_cap;
  struct strmap replicas;
  struct strmap groups;
  struct strmap specs;
  int64_t rev;       /* revision of the newest change applied */
  int64_t event_seq; /* highest Event seq seen */
  size_t by_state[REPLICA_STATE_COUNT];
  size_t unattached; /* replicas holding resources on a node the view does not have */
};

void view_init(struct view *v);
void view_free(struct view *v);
/* Keys outside the four kinds (/leader, /servers/..., /config/...) go to whoever follows
 * them (leader.c); ev->kv.value may be NULL for a delete. */
typedef void (*view_key_fn)(void *data, const struct store_event *ev);
/* Read every object from the store into an empty view, in one snapshot; other keys go to
 * other (may be NULL). */
int view_load(struct view *v, struct store *s, view_key_fn other, void *data,
              struct skiff_err **err);

/* ---- changes (cluster.c) ---- */
/* PUT of a replica the writer built (detached, taken over). */
void view_put_replica(struct view *v, struct view_replica *r, int64_t rev, int64_t create_rev);
/* PUT of a Service, Node or Event object (reference taken over). */
void view_put_json(struct view *v, char kind, const char *name, json_t *obj, int64_t rev);
/* PUT parsed from the stored text (changes made elsewhere); false when it is not JSON. */
bool view_put_text(struct view *v, const struct store_event *ev);
void view_delete(struct view *v, char kind, const char *name, int64_t rev);

/* ---- reads ---- */
static inline struct view_replica *view_replica(struct view *v, const char *name)
{
  return strmap_get(&v->replicas, name);
}
static inline struct view_node *view_node(struct view *v, const char *name)
{
  return strmap_get(&v->nodes, name);
}
static inline struct view_group *view_group(struct view *v, const char *service)
{
  return strmap_get(&v->groups, service);
}
bool view_node_ready(struct view *v, const char *name);
/* The replicas of a service as the pure controller logic takes them (reconcile.h); caller
 * frees *out; the strings point into the view. */
struct rc_replica;
struct rc_counts;
size_t view_service_replicas(struct view *v, const char *service, struct rc_replica **out);
/* Counts of svc's replicas at the view's revision. */
void view_service_counts(struct view *v, json_t *svc, struct rc_counts *c);
/* "; NAME: STATE, reason" for a live, not ready replica of the generation, or NULL. */
char *view_rollout_culprit(struct view *v, const char *service, int64_t generation);
/* Node JSON with the derived fields (allocated, allocatable, lastHeartbeat); new reference. */
json_t *view_node_render(struct view_node *n, double now);
void view_heartbeat(struct view *v, const char *node, double now);

/* ---- replicas (view_replica.c) ---- */
bool view_holds_resources(enum replica_state st);
/* A detached replica (not in the view). */
struct view_replica *view_replica_new(const char *name, const char *service, int64_t generation,
                                      struct view_spec *spec);
struct view_replica *view_replica_clone(const struct view_replica *r);
void view_replica_free(struct view_replica *r);
/* Equal stored contents (revisions aside). */
bool view_replica_same(const struct view_replica *a, const struct view_replica *b);
void view_replica_set(char **field, const char *value);
/* The stored JSON text (no revision fields); caller frees.  with_revs: the API's form, with
 * "revision" and "createdRevision". */
char *view_replica_encode(const struct view_replica *r, bool with_revs, size_t *len);
/* The same text in a buffer reused by the next call (no allocation). */
const char *view_replica_text(const struct view_replica *r, bool with_revs, size_t *len);
json_t *view_replica_json(const struct view_replica *r);
/* Parse stored text into a detached replica; NULL when it is not a replica object. */
struct view_replica *view_replica_decode(struct view *v, const char *name, const char *text);
/* The shared spec for a template object / its compact text (a new reference). */
struct view_spec *view_spec_get(struct view *v, json_t *tpl);
struct view_spec *view_spec_ref(struct view_spec *s);
void view_spec_unref(struct view_spec *s);

#endif
