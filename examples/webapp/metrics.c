/* metrics.c - request counters, in-flight gauge and latency histogram of the web app, and their
 * Prometheus text rendering.  No I/O: the caller serves the rendered text. */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* 0.5 ms .. 10 s: a loopback GET is well under a millisecond, /work?ms=N spans the rest. */
const uint64_t webapp_metrics_bucket_us[WEBAPP_METRICS_BUCKETS]
    = {500,    1000,   2500,   5000,    10000,   25000,   50000,
       100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

static const int counted_codes[WEBAPP_METRICS_CODES] = {200, 400, 403, 404, 405, 413, 500, 503};

static const char *const route_names[WEBAPP_ROUTE_COUNT] = {
    [WEBAPP_ROUTE_NONE] = "none",      [WEBAPP_ROUTE_INDEX] = "/",
    [WEBAPP_ROUTE_INFO] = "/api/info", [WEBAPP_ROUTE_HEALTHZ] = "/healthz",
    [WEBAPP_ROUTE_READYZ] = "/readyz", [WEBAPP_ROUTE_WORK] = "/work",
    [WEBAPP_ROUTE_CRASH] = "/crash",   [WEBAPP_ROUTE_METRICS] = "/metrics",
};

const char *webapp_route_name(enum webapp_route route)
{
  if ((int)route < 0 || route >= WEBAPP_ROUTE_COUNT)
    return "none";
  return route_names[route];
}

void webapp_metrics_init(struct webapp_metrics *m)
{
  memset(m, 0, sizeof(*m));
}

uint64_t webapp_metrics_request_started(struct webapp_metrics *m)
{
  atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed);
  return atomic_fetch_add_explicit(&m->requests_total, 1, memory_order_relaxed) + 1;
}

static int code_index(int status)
{
  for (int i = 0; i < WEBAPP_METRICS_CODES; i++)
    if (counted_codes[i] == status)
      return i;
  return WEBAPP_METRICS_CODES;
}

void webapp_metrics_observe(struct webapp_metrics *m, uint64_t duration_us)
{
  int b = 0;
  while (b < WEBAPP_METRICS_BUCKETS && duration_us > webapp_metrics_bucket_us[b])
    b++;
  atomic_fetch_add_explicit(&m->latency_buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->latency_sum_us, duration_us, memory_order_relaxed);
  atomic_fetch_add_explicit(&m->latency_count, 1, memory_order_relaxed);
}

void webapp_metrics_request_done(struct webapp_metrics *m, enum webapp_route route, int status,
                                 uint64_t duration_us)
{
  if ((int)route < 0 || route >= WEBAPP_ROUTE_COUNT)
    route = WEBAPP_ROUTE_NONE;
  atomic_fetch_add_explicit(&m->requests[route][code_index(status)], 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
  webapp_metrics_observe(m, duration_us);
}

uint64_t webapp_metrics_requests_total(const struct webapp_metrics *m)
{
  return atomic_load_explicit(&m->requests_total, memory_order_relaxed);
}

int64_t webapp_metrics_in_flight(const struct webapp_metrics *m)
{
  return atomic_load_explicit(&m->in_flight, memory_order_relaxed);
}

/* Label values escape backslash, double quote and newline (exposition format spec). */
static void put_label_value(FILE *f, const char *s)
{
  for (; s && *s; s++)
    {
      if (*s == '\\')
        fputs("\\\\", f);
      else if (*s == '"')
        fputs("\\\"", f);
      else if (*s == '\n')
        fputs("\\n", f);
      else
        fputc(*s, f);
    }
}

char *webapp_metrics_render(const struct webapp_metrics *m, const struct webapp_metrics_info *info,
                            size_t *len)
{
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  if (f == NULL)
    abort(); /* only fails on OOM, like xmalloc */

  fputs("# HELP webapp_http_requests_total HTTP requests answered, by handler and status code.\n"
        "# TYPE webapp_http_requests_total counter\n",
        f);
  for (int r = 0; r < WEBAPP_ROUTE_COUNT; r++)
    for (int c = 0; c <= WEBAPP_METRICS_CODES; c++)
      {
        uint64_t n = atomic_load_explicit(&m->requests[r][c], memory_order_relaxed);
        if (n == 0)
          continue;
        fprintf(f, "webapp_http_requests_total{handler=\"%s\",code=\"", route_names[r]);
        if (c < WEBAPP_METRICS_CODES)
          fprintf(f, "%d", counted_codes[c]);
        else
          fputs("other", f);
        fprintf(f, "\"} %llu\n", (unsigned long long)n);
      }

  fprintf(f,
          "# HELP webapp_http_requests_in_flight HTTP requests being handled now.\n"
          "# TYPE webapp_http_requests_in_flight gauge\n"
          "webapp_http_requests_in_flight %lld\n",
          (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed));

  fputs("# HELP webapp_http_request_duration_seconds Time from request headers received to "
        "response sent.\n"
        "# TYPE webapp_http_request_duration_seconds histogram\n",
        f);
  uint64_t cumulative = 0;
  for (int b = 0; b <= WEBAPP_METRICS_BUCKETS; b++)
    {
      cumulative += atomic_load_explicit(&m->latency_buckets[b], memory_order_relaxed);
      if (b < WEBAPP_METRICS_BUCKETS)
        fprintf(f, "webapp_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)webapp_metrics_bucket_us[b] / 1e6, (unsigned long long)cumulative);
      else
        fprintf(f, "webapp_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cumulative);
    }
  fprintf(f, "webapp_http_request_duration_seconds_sum %.6f\n",
          (double)atomic_load_explicit(&m->latency_sum_us, memory_order_relaxed) / 1e6);
  /* _count equals the +Inf bucket by definition; print that, not a second racy load. */
  fprintf(f, "webapp_http_request_duration_seconds_count %llu\n", (unsigned long long)cumulative);

  if (info)
    {
      fputs("# HELP webapp_info Identity of this replica.\n# TYPE webapp_info gauge\n"
            "webapp_info{replica=\"",
            f);
      put_label_value(f, info->replica);
      fputs("\",node=\"", f);
      put_label_value(f, info->node);
      fputs("\",version=\"", f);
      put_label_value(f, info->version);
      fprintf(f,
              "\"} 1\n"
              "# HELP webapp_start_time_seconds Start time of the process since the epoch.\n"
              "# TYPE webapp_start_time_seconds gauge\n"
              "webapp_start_time_seconds %.3f\n"
              "# HELP webapp_ready 1 when /readyz answers 200.\n"
              "# TYPE webapp_ready gauge\n"
              "webapp_ready %d\n",
              info->start_time, info->ready ? 1 : 0);
    }

  if (fclose(f) != 0)
    abort();
  if (len)
    *len = size;
  return buf;
}
