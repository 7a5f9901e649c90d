/* model.h - the orchestrator's objects on the wire and in the store: Service (desired state),
 * Replica, Node, Event as jansson objects.  Validation of outside input lives here: every
 * rejection names the JSON path of the offending field (`services[0].replicas: expected a
 * non-negative integer`), unknown fields are rejected, and a parsed object comes back
 * normalized with every default filled in, so the rest of the server never checks types. */
#ifndef SKIFF_MODEL_H
#define SKIFF_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include "util.h"

enum replica_state
{
  REPLICA_PENDING,
  REPLICA_SCHEDULED,
  REPLICA_STARTING,
  REPLICA_RUNNING,
  REPLICA_BACKOFF,
  REPLICA_SUCCEEDED,
  REPLICA_FAILED,
  REPLICA_LOST,
  REPLICA_TERMINATING,
  REPLICA_STATE_COUNT,
};

const char *model_replica_state_name(enum replica_state s);
/* -1 when unknown. */
int model_replica_state_parse(const char *s);
/* Counted toward the service's replicas: Pending, Scheduled, Starting, Running, BackOff. */
bool model_replica_state_live(enum replica_state s);

/* Service fields that make the pod template: a change to any of them is a new generation. */
extern const char *const model_template_fields[];

#define MODEL_NAME_MAX 40
/* terminationGracePeriod: seconds between SIGTERM and SIGKILL when a replica stops */
#define MODEL_GRACE_DEFAULT 10.0
#define MODEL_GRACE_MAX 3600.0
#define MODEL_HISTORY_MAX 10
/* Largest resources.memory / capacity.memory accepted: 1 PiB. */
#define MODEL_MEMORY_MAX (1LL << 50)

/* DNS-label-like name: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most max characters. */
bool model_name_valid(const char *name, size_t max);

/* Validate one Service at `path` (e.g. "services[0]"); *out gets a new normalized object with
 * only desired-state fields; *revision gets the body's "revision" (0 when absent).
 * Read-only fields (generation, created, status, history) are accepted and dropped. */
int model_service_parse(json_t *in, const char *path, json_t **out, int64_t *revision,
                        struct skiff_err **err);
/* A desired-state document: one Service or an array of them.  *out is an array of normalized
 * services, *revisions (caller frees) their body revisions.  Duplicate names are rejected. */
int model_apply_parse(json_t *doc, json_t **out, int64_t **revisions, struct skiff_err **err);
/* New object with the template fields of a normalized service. */
json_t *model_service_template(json_t *svc);

/* Node registration body -> normalized {name, address, agentPort, capacity, labels}. */
int model_node_parse(json_t *in, json_t **out, struct skiff_err **err);
/* Agent status report body, checked; fields kept as given. */
int model_status_parse(json_t *in, struct skiff_err **err);
/* A node's batched report (POST /v1/nodes/NAME/status): {"replicas": [{"name": ..., "state":
 * ..., ...}, ...]}, each item a status report with "name" in place of "node", no name twice,
 * at most MODEL_STATUS_BATCH_MAX items. */
#define MODEL_STATUS_BATCH_MAX 10000
#define MODEL_STR_(x) #x
#define MODEL_STR(x) MODEL_STR_(x)
int model_node_status_parse(json_t *in, struct skiff_err **err);

/* Sizes and CPU as normalized in objects. */
char *model_format_memory(int64_t bytes);
int64_t model_memory_bytes(json_t *v); /* from a normalized value; 0 when absent */
int64_t model_cpu_milli(json_t *v);    /* cores -> millicores; 0 when absent */
/* RFC 3339 UTC, caller frees. */
char *model_time_string(time_t t);

/* Small accessors with defaults (for normalized objects). */
const char *model_str(json_t *obj, const char *key, const char *dflt);
int64_t model_int(json_t *obj, const char *key, int64_t dflt);
bool model_bool(json_t *obj, const char *key, bool dflt);

#endif
