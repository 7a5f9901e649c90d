/* store_etcd.h - internals shared by the etcd backend's files (not for users of the store:
 * they see store.h only).
 *
 *   store_etcd.c        the store_ops table: get, range, txn, history, compact, leases, poll
 *   store_etcd_http.c   the transport: POSTs to etcd's v3 JSON gateway over libcurl, 1 s
 *                       timeouts, moving to the next member when one stops answering
 *   store_etcd_codec.c  pure: base64, int64-as-string fields, key mapping, txn requests,
 *                       kv/event/watch-line parsing (unit-tested without etcd)
 *   store_etcd_watch.c  the watch thread: one streaming connection, its events queued by
 *                       revision for the owner's thread
 *   store_etcd_lease.c  the lease keeper thread: renewals that do not wait for a busy owner
 *
 * Key mapping: a skiff key K (always "/...") lives at etcd key P + K without its leading
 * "/", where P is the prefix (--etcd-prefix, default "/skiff/", always ending in "/"). */
#ifndef SKIFF_STORE_ETCD_H
#define SKIFF_STORE_ETCD_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "store.h"

/* Per-request timeout (the measurement: a write in flight while etcd elects a leader
 * waits 7 s and fails; 1 s and a retry on another member recovers in 1-2 s). */
#define ETCD_REQUEST_TIMEOUT_MS 1000L
/* How long one call keeps retrying across members before it reports etcd unavailable. */
#define ETCD_CALL_BUDGET_MS 3000L

/* ---- codec (pure) ---- */

char *etcd_b64_encode(const void *data, size_t len);
/* Decoded bytes, NUL-terminated (*len excludes the NUL); -1 on bad input. */
int etcd_b64_decode(const char *s, char **out, size_t *len);
/* An int64 field sent as a string (or a number); 0 when absent or malformed (etcd leaves
 * zero values out). */
int64_t etcd_int(json_t *obj, const char *key);
/* "/services/x" -> base64 of P + "services/x"; range ends likewise (NULL end: to the end of
 * the prefix). */
char *etcd_key_b64(const char *prefix, const char *key);
char *etcd_range_end_b64(const char *prefix, const char *key_prefix);
/* etcd key (raw bytes) -> skiff key, NULL when outside the prefix. */
char *etcd_skiff_key(const char *prefix, const char *ekey, size_t len);
/* kv object of a reply -> store_kv; 0 ok, 1 outside the prefix (skipped), -1 malformed. */
int etcd_kv_parse(json_t *kv, const char *prefix, struct store_kv *out);
/* The request of a txn: compares for ops' expectations, the writes on success, and on
 * failure a keys-only range of every key (to find the op that failed).  lease != 0 binds
 * the puts to it. */
json_t *etcd_txn_request(const char *prefix, const struct store_op *ops, size_t n, int64_t lease);
/* From the failure branch of a txn reply: index of the first op whose compare fails. */
size_t etcd_txn_failed_op(const struct store_op *ops, size_t n, json_t *reply);

/* One line of a /v3/watch stream. */
struct etcd_watch_msg
{
  int64_t header_rev;
  bool created, canceled;
  int64_t compact_rev; /* canceled because the start revision was compacted */
  char *cancel_reason;
  struct store_event *ev; /* events inside the prefix, in order */
  size_t n;
  int64_t last_rev; /* revision of the last event of the line, inside the prefix or not */
};
int etcd_watch_parse(const char *line, size_t len, const char *prefix, struct etcd_watch_msg *out,
                     struct skiff_err **err);
void etcd_watch_msg_clear(struct etcd_watch_msg *m);

/* ---- transport ---- */

struct etcd_http;
/* endpoints: "http://H:P[,http://H:P...]" (https too).  Parses only; no I/O. */
int etcd_http_new(const char *endpoints, struct etcd_http **out, struct skiff_err **err);
void etcd_http_free(struct etcd_http *h);
/* POST path (e.g. "/v3/kv/range") with req.  0: HTTP 200, *reply set.  1: etcd answered an
 * error (*reply holds {"error","code"}; *code = its gRPC code).  -1: no member answered
 * within the budget (STORE_EUNAVAILABLE).  *retried: an earlier attempt may have reached
 * etcd (its effect is unknown).  fast_fail: while etcd was found down a moment ago, fail at
 * once instead of waiting the budget out again. */
int etcd_http_call(struct etcd_http *h, const char *path, json_t *req, bool fast_fail,
                   json_t **reply, int *code, bool *retried, struct skiff_err **err);
/* The member in use and the list (the watch thread connects to them too). */
size_t etcd_http_count(const struct etcd_http *h);
const char *etcd_http_url(const struct etcd_http *h, size_t i);
size_t etcd_http_current(const struct etcd_http *h);
const char *etcd_http_endpoints(const struct etcd_http *h);

/* ---- watch thread ---- */

struct etcd_watch;
/* Start streaming every change under prefix with revision >= from (urls: the members, first
 * tried first).  The thread never touches the store; it only fills the queue. */
struct etcd_watch *etcd_watch_start(const struct etcd_http *h, const char *prefix, int64_t from);
void etcd_watch_stop(struct etcd_watch *w);
/* Readable (eventfd) when changes wait or the stream needs attention. */
int etcd_watch_fd(struct etcd_watch *w);
/* Take every queued revision <= upto (all: INT64_MAX), in order; *n events.  *next_rev: the
 * revision the stream will deliver next.  Returns the compact revision when the stream was
 * cancelled by compaction (the owner must relist, then etcd_watch_restart), else 0. */
int64_t etcd_watch_take(struct etcd_watch *w, int64_t upto, struct store_event **ev, size_t *n,
                        int64_t *next_rev);
/* Wait (at most timeout_ms) until the stream has delivered revision rev.  true if it has. */
bool etcd_watch_wait(struct etcd_watch *w, int64_t rev, long timeout_ms);
/* Drop the connection and go on from the next member (a member that stopped answering). */
void etcd_watch_reconnect(struct etcd_watch *w);
/* After a relist at rev: drop the queue and stream from rev + 1. */
void etcd_watch_restart(struct etcd_watch *w, int64_t rev);

/* ---- lease keeper thread ---- */

struct etcd_keeper;
/* Renew lease id every ttl/3 from now on, over its own connection. */
struct etcd_keeper *etcd_keeper_start(const char *endpoints, int64_t id, double ttl);
void etcd_keeper_stop(struct etcd_keeper *k);
int64_t etcd_keeper_id(const struct etcd_keeper *k);
/* 0 (*renewed_sent: CLOCK_MONOTONIC send time of the last successful renewal, 0 before the
 * first) or STORE_EXPIRED. */
int etcd_keeper_status(struct etcd_keeper *k, double *renewed_sent);

#endif
