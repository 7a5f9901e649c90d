/* view.h - the in-memory view of the store (kube-apiserver's watch cache / an informer's
 * store): every Service, Replica, Node and Event as the store holds it, plus the in-memory
 * node heartbeats.  Fed only by committed store events (view_apply, called from the store's
 * commit callback in cluster.c), so after a write returns the view equals the store.  Read by
 * the API and the controller; nothing else writes it. */
#ifndef SKIFF_VIEW_H
#define SKIFF_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "store.h"
#include "util.h"

/* Object kinds, by store prefix. */
enum view_kind
{
  VIEW_SERVICE = 's',
  VIEW_REPLICA = 'r',
  VIEW_NODE = 'n',
  VIEW_EVENT = 'e',
};

struct view
{
  /* name -> object (with "revision"; replicas also "createdRevision") */
  json_t *services, *replicas, *nodes, *events;
  /* In memory only: node name -> monotonic time of its last heartbeat. */
  json_t *heartbeats;
  int64_t event_seq; /* highest Event seq seen */
};

void view_init(struct view *v);
void view_free(struct view *v);
/* Keys outside the four kinds (/leader, /servers/..., /config/...) go to whoever follows
 * them (leader.c); ev->kv.value may be NULL for a delete. */
typedef void (*view_key_fn)(void *data, const struct store_event *ev);
/* Read every object from the store (replacing what the view held), in one snapshot; other
 * keys go to other (may be NULL). */
int view_load(struct view *v, struct store *s, view_key_fn other, void *data,
              struct skiff_err **err);
/* A store event as an object with "revision" (and "createdRevision" for replicas); kind and
 * name filled.  NULL for keys outside the four kinds and for a value that is not JSON.
 * New reference. */
json_t *view_event_object(const struct store_event *ev, char *kind, const char **name);
/* Apply one committed event; returns the object it carried (new reference, as
 * view_event_object) or NULL for keys outside the four kinds. */
json_t *view_apply(struct view *v, const struct store_event *ev, char *kind, const char **name);

bool view_node_ready(struct view *v, const char *name);
/* name -> {"cpu": milli, "mem": bytes, "replicas": n} for every node. */
json_t *view_node_allocations(struct view *v);
/* Node with derived fields (allocated, allocatable, lastHeartbeat); new reference. */
json_t *view_node_render(struct view *v, json_t *node, json_t *alloc, double now);

#endif
