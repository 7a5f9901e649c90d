/* metrics.h - the web app's request counters, in-flight gauge and latency histogram, and their
 * rendering in the Prometheus text exposition format (version 0.0.4).
 *
 * The counters are C11 atomics updated with relaxed ordering: libmicrohttpd's worker threads
 * record requests concurrently and a scrape only needs each number to be exact on its own, not
 * a consistent snapshot of all of them (Prometheus tolerates that skew by design). */
#ifndef WEBAPP_METRICS_H
#define WEBAPP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Handlers the counters are labelled with; WEBAPP_ROUTE_NONE is an unknown path. */
enum webapp_route
{
  WEBAPP_ROUTE_NONE = 0,
  WEBAPP_ROUTE_INDEX,
  WEBAPP_ROUTE_INFO,
  WEBAPP_ROUTE_HEALTHZ,
  WEBAPP_ROUTE_READYZ,
  WEBAPP_ROUTE_WORK,
  WEBAPP_ROUTE_CRASH,
  WEBAPP_ROUTE_METRICS,
  WEBAPP_ROUTE_COUNT
};

/* Status codes the handlers produce; anything else is counted as "other". */
#define WEBAPP_METRICS_CODES 8

/* Upper bounds of the latency histogram buckets, in microseconds (+Inf is implicit). */
#define WEBAPP_METRICS_BUCKETS 14
extern const uint64_t webapp_metrics_bucket_us[WEBAPP_METRICS_BUCKETS];

struct webapp_metrics
{
  _Atomic uint64_t requests[WEBAPP_ROUTE_COUNT][WEBAPP_METRICS_CODES + 1];
  _Atomic uint64_t requests_total; /* every request the handler saw, for the info page */
  _Atomic int64_t in_flight;
  /* Per-bucket counts (not cumulative; made cumulative when rendered), last one is +Inf. */
  _Atomic uint64_t latency_buckets[WEBAPP_METRICS_BUCKETS + 1];
  _Atomic uint64_t latency_sum_us;
  _Atomic uint64_t latency_count;
};

/* Route name used as the `handler` label ("/", "/api/info", ..., "none"). */
const char *webapp_route_name(enum webapp_route route);

void webapp_metrics_init(struct webapp_metrics *m);
/* A request reached the handler: bumps requests_total and in_flight; returns the new total. */
uint64_t webapp_metrics_request_started(struct webapp_metrics *m);
/* The response for a request was sent (or the connection died): count it by route and
 * status, drop in_flight, observe its duration. */
void webapp_metrics_request_done(struct webapp_metrics *m, enum webapp_route route, int status,
                                 uint64_t duration_us);
/* Add one observation to the latency histogram only. */
void webapp_metrics_observe(struct webapp_metrics *m, uint64_t duration_us);
uint64_t webapp_metrics_requests_total(const struct webapp_metrics *m);
int64_t webapp_metrics_in_flight(const struct webapp_metrics *m);

/* Extra facts rendered alongside the counters. */
struct webapp_metrics_info
{
  const char *replica, *node, *version;
  double start_time; /* unix seconds */
  int ready;
};

/* Render the Prometheus text format; returns a malloc'd NUL-terminated string, *len its length. */
char *webapp_metrics_render(const struct webapp_metrics *m, const struct webapp_metrics_info *info,
                            size_t *len);

#endif
