/* api_internal.h - what the api*.c files share (not used outside the API). */
#ifndef SKIFF_API_INTERNAL_H
#define SKIFF_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>
#include "api.h"

#include "auth.h"
#include "tlsio.h"

#define API_BODY_MAX (1024 * 1024)
/* Seconds a connection gets to finish its TLS handshake and send an authenticated request. */
#define API_HANDSHAKE_TIMEOUT 10

struct api_watcher;
struct request;

struct api
{
  struct cluster *cl;
  struct view *view; /* &cl->view */
  struct api_config cfg;
  struct MHD_Daemon *daemon;
  struct api_watcher *watchers; /* parked (suspended) watch streams */
  int nwatchers;                /* open watch streams */
  bool stopping;                /* shutting down: watch streams end instead of waiting */
  /* Writes of this loop pass's agent requests, committed together (api_group.c) */
  struct writes group;
  struct strmap group_keys; /* the keys group writes */
  struct request *parked;   /* requests waiting for the group to commit */
  /* HTTP metrics */
  uint64_t http_count[6]; /* by status class: index code/100 */
  uint64_t http_401, http_403, http_404, http_409, http_413;
  uint64_t group_commits, group_writes;
  /* Connections: open now; closed since the last malloc_trim (api_run hands the memory of a
   * burst of connections back to the kernel once it is over). */
  unsigned conns, conns_closed;
  double last_trim;
  struct tlsio_set tls_held; /* TLS connections holding bytes to send (tlsio.h) */
  uint64_t heartbeats;       /* node heartbeats answered (skiff_node_heartbeats_total) */
  char heartbeat_tail[48];   /* `,"heartbeatInterval":N}`: the end of every heartbeat reply */
  double tail_period;        /* the period heartbeat_tail tells (cluster_pace) */
};

struct log_proxy;

/* What a parked request answers once its group committed. */
enum api_reply
{
  API_REPLY_REPLICA, /* the replica as stored */
  API_REPLY_DELETED, /* rq->last */
  API_REPLY_ITEMS,   /* {"items": [per replica result], "revision": R} */
};

/* One request: who sent it, its body (bounded by its route's cap, auth_body_cap) and, while
 * parked, its results. */
struct request
{
  struct auth_identity who;
  char *body;
  size_t len, cap;
  bool too_big;
  bool answered;          /* refused before its body (401, 403, 413): the response is queued */
  struct log_proxy *logs; /* GET .../logs: the stream from the agent (api_logs.c) */
  /* parked (api_group.c) */
  struct MHD_Connection *conn;
  struct request *next;
  bool parked;
  enum api_reply reply_kind;
  json_t *results; /* replica name -> {"name", "code", ["error"], ["replica"]} */
  json_t *order;   /* names, in the order of the request */
  json_t *last;    /* API_REPLY_DELETED: the replica before the delete */
  unsigned code;   /* the reply, once made */
  char *reply;
};

enum MHD_Result api_send_json(struct api *api, struct MHD_Connection *c, unsigned code,
                              json_t *body); /* steals body */
enum MHD_Result api_send_error(struct api *api, struct MHD_Connection *c, unsigned code,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
enum MHD_Result api_send_405(struct api *api, struct MHD_Connection *c, const char *method,
                             const char *allow);
void api_count_status(struct api *api, unsigned code);
const char *api_query(struct MHD_Connection *c, const char *key);
/* ?revision=N: 1 when present and valid, 0 absent, -1 invalid. */
int api_query_revision(struct MHD_Connection *c, int64_t *rev);
/* {"items": [...], "revision": R} of a JSON map of the view (R: the view's revision); keep
 * filters, render shows (both may be NULL). */
json_t *api_list_of(struct api *api, json_t *map, bool (*keep)(json_t *, void *), void *arg,
                    json_t *(*render)(struct api *, json_t *), bool sort);
/* NULL after sending 400 (in *sent) on malformed JSON; optional: empty body -> {}. */
json_t *api_parse_body(struct api *api, struct MHD_Connection *c, struct request *rq, bool optional,
                       enum MHD_Result *sent);
enum MHD_Result api_store_failure(struct api *api, struct MHD_Connection *c, struct skiff_err *err);
/* Write obj (a Service or Node, reference taken) with CAS on expect; answer code with the
 * stored object (render: how to show it, may be NULL). */
enum MHD_Result api_put_and_reply(struct api *api, struct MHD_Connection *c, char kind, json_t *obj,
                                  int64_t expect, unsigned code,
                                  json_t *(*render)(struct api *, json_t *));
enum MHD_Result api_send_text(struct api *api, struct MHD_Connection *c, unsigned code,
                              char *json_text); /* takes json_text */

/* ---- grouped writes (api_group.c) ---- */
/* Does the pending group write key?  A request touching such a key commits the group first
 * (api_group_commit), so it reads what the earlier request wrote. */
bool api_group_has(struct api *api, const char *key);
void api_group_commit(struct api *api);
/* Record a result for one replica of rq (code 0 = waiting for the group). */
json_t *api_result(struct request *rq, const char *name, unsigned code, const char *error);
/* Queue a replica write (r taken) or delete for rq. */
void api_group_put_replica(struct api *api, struct request *rq, struct view_replica *r,
                           int64_t expect);
void api_group_delete_replica(struct api *api, struct request *rq, const char *name,
                              int64_t expect);
/* Park rq until its group commits: the reply is made then (rq->reply_kind) and sent. */
enum MHD_Result api_park(struct api *api, struct MHD_Connection *c, struct request *rq);
/* The reply of rq from its results (also for requests that did not need to wait). */
enum MHD_Result api_reply_now(struct api *api, struct MHD_Connection *c, struct request *rq);
void api_request_free(struct request *rq);

enum MHD_Result api_route_apply(struct api *api, struct MHD_Connection *c, struct request *rq);
enum MHD_Result api_route_services(struct api *api, struct MHD_Connection *c, const char *method,
                                   struct request *rq, const char *name, const char *sub,
                                   const char *sub2);
enum MHD_Result api_route_replicas(struct api *api, struct MHD_Connection *c, const char *method,
                                   struct request *rq, const char *name, const char *sub);
enum MHD_Result api_route_nodes(struct api *api, struct MHD_Connection *c, const char *method,
                                struct request *rq, const char *name, const char *sub);
bool api_keep_event(json_t *e, void *arg);
/* api_auth.c: the gate every request passes on its headers (authentication, the route check,
 * the body cap), the check once its body is in, and the /v1/ca, /v1/join, /v1/tokens routes. */
enum MHD_Result api_gate_headers(struct api *api, struct MHD_Connection *c, const char *method,
                                 const char *url, struct request *rq);
enum MHD_Result api_gate_upload(struct api *api, struct MHD_Connection *c, struct request *rq,
                                const char *data, size_t size);
/* MHD_YES: go on to dispatch; otherwise the 403 was queued (*sent). */
bool api_gate_body(struct api *api, struct MHD_Connection *c, const char *method, const char *url,
                   struct request *rq, enum MHD_Result *sent);
enum MHD_Result api_route_ca(struct api *api, struct MHD_Connection *c, const char *method);
enum MHD_Result api_route_join(struct api *api, struct MHD_Connection *c, const char *method,
                               struct request *rq);
enum MHD_Result api_route_tokens(struct api *api, struct MHD_Connection *c, const char *method,
                                 struct request *rq, const char *name);
enum MHD_Result api_route_watch(struct api *api, struct MHD_Connection *c);
/* GET /v1/replicas/NAME/logs (api_logs.c); called again for the request after a resume. */
enum MHD_Result api_route_logs(struct api *api, struct MHD_Connection *c, struct request *rq,
                               const char *name, const char *node);
void api_logs_request_done(struct request *rq);
/* Server stopping: end every log stream (no connection may stay suspended). */
void api_logs_shutdown(void);

#endif
