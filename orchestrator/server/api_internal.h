/* api_internal.h - what the api*.c files share (not used outside the API). */
#ifndef SKIFF_API_INTERNAL_H
#define SKIFF_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>
#include "api.h"

#define API_BODY_MAX (1024 * 1024)

struct api_watcher;

struct api
{
  struct cluster *cl;
  struct view *view; /* &cl->view */
  struct api_config cfg;
  char *token;
  struct MHD_Daemon *daemon;
  struct api_watcher *watchers; /* parked (suspended) watch streams */
  int nwatchers;                /* open watch streams */
  bool stopping;                /* shutting down: watch streams end instead of waiting */
  /* HTTP metrics */
  uint64_t http_count[6]; /* by status class: index code/100 */
  uint64_t http_401, http_404, http_409;
};

/* One request's body, bounded by API_BODY_MAX. */
struct request
{
  char *body;
  size_t len;
  bool too_big;
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
/* {"items": [...], "revision": R}; keep filters, view renders (both may be NULL). */
json_t *api_list_of(struct api *api, json_t *map, bool (*keep)(json_t *, void *), void *arg,
                    json_t *(*view)(struct api *, json_t *, json_t *), json_t *varg, bool sort);
/* NULL after sending 400 (in *sent) on malformed JSON; optional: empty body -> {}. */
json_t *api_parse_body(struct api *api, struct MHD_Connection *c, struct request *rq, bool optional,
                       enum MHD_Result *sent);
enum MHD_Result api_store_failure(struct api *api, struct MHD_Connection *c, struct skiff_err *err);
/* Write obj under prefix+name with CAS on expect; answer code with the stored object. */
enum MHD_Result api_put_and_reply(struct api *api, struct MHD_Connection *c, const char *prefix,
                                  json_t *map, json_t *obj, int64_t expect, unsigned code);

enum MHD_Result api_route_apply(struct api *api, struct MHD_Connection *c, struct request *rq);
enum MHD_Result api_route_services(struct api *api, struct MHD_Connection *c, const char *method,
                                   struct request *rq, const char *name, const char *sub,
                                   const char *sub2);
enum MHD_Result api_route_replicas(struct api *api, struct MHD_Connection *c, const char *method,
                                   struct request *rq, const char *name, const char *sub);
enum MHD_Result api_route_nodes(struct api *api, struct MHD_Connection *c, const char *method,
                                struct request *rq, const char *name, const char *sub);
bool api_keep_event(json_t *e, void *arg);
enum MHD_Result api_route_watch(struct api *api, struct MHD_Connection *c);

#endif
