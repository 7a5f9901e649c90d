/* app.h - the sample web app's logic without sockets: command line and environment, identity
 * of the replica, routing, and the rendering of every endpoint (HTML page, JSON, health,
 * readiness, CPU work, crash, Prometheus metrics).  main.c adapts it to libmicrohttpd; the unit
 * tests drive it directly. */
#ifndef WEBAPP_APP_H
#define WEBAPP_APP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "metrics.h"
#include "util.h"

#define WEBAPP_VERSION "0.1.0"

/* Environment variables the orchestrator sets (see README). */
#define WEBAPP_ENV_REPLICA "SKIFF_REPLICA"
#define WEBAPP_ENV_NODE "SKIFF_NODE"
#define WEBAPP_ENV_PORT "PORT"
#define WEBAPP_ENV_VERSION "WEBAPP_VERSION"

struct webapp_config
{
  int port;            /* 0 picks a free port */
  const char *bind;    /* IPv4 or IPv6 literal; NULL = every IPv4 address */
  int ready_after_s;   /* /readyz answers 503 until this many seconds after start */
  int allow_crash;     /* POST /crash exits 1 only when set */
  int max_work_ms;     /* upper bound of /work?ms=N */
  int threads;         /* worker threads, each with its own epoll; 0 = CPUs, at least 4 */
  int max_conns;       /* open connections at most; more are refused */
  int timeout_s;       /* close a connection idle (no byte in or out) this long */
  int grace_s;         /* on SIGTERM, wait this long at most for in-flight requests */
  size_t conn_memory;  /* bytes per connection for request line + headers */
  const char *version; /* --app-version, else NULL (then env, then WEBAPP_VERSION) */
};

/* Return values of webapp_config_parse besides 0 and -1. */
#define WEBAPP_CONFIG_HELP 1

extern const char webapp_usage[];

/* Defaults, then PORT (port_env, may be NULL), then the flags in argv[1..].  Strings point
 * into argv.  Returns 0, WEBAPP_CONFIG_HELP for --help, or -1 with *err naming the flag. */
int webapp_config_parse(struct webapp_config *cfg, int argc, char *const argv[],
                        const char *port_env, struct skiff_err **err);

struct webapp_identity
{
  char replica[128];
  char node[128];
  char hostname[128];
  char version[64];
  char started[32]; /* ISO 8601 UTC */
  time_t started_unix;
  long pid;
};

/* Empty or NULL names fall back: replica to hostname, node to "local", version to
 * WEBAPP_VERSION.  Overlong values are truncated. */
void webapp_identity_init(struct webapp_identity *id, const char *replica, const char *node,
                          const char *hostname, const char *version, time_t started, long pid);

/* Everything the handlers share.  Only atomics change after start. */
struct webapp_state
{
  const struct webapp_config *cfg;
  struct webapp_identity id;
  struct webapp_metrics metrics;
  uint64_t started_ms; /* CLOCK_MONOTONIC at start, milliseconds */
  atomic_int draining; /* set on SIGTERM: readiness fails, connections close after reply */
};

void webapp_state_init(struct webapp_state *st, const struct webapp_config *cfg,
                       const struct webapp_identity *id, uint64_t started_ms);
int webapp_state_ready(const struct webapp_state *st, uint64_t now_ms);

struct webapp_request
{
  const char *method;
  const char *path; /* without the query string */
  /* Query argument lookup (NULL when absent); arg may be NULL for "no arguments". */
  const char *(*arg)(void *ctx, const char *key);
  void *arg_ctx;
  uint64_t now_ms;   /* CLOCK_MONOTONIC, milliseconds */
  uint64_t sequence; /* this request's number, from webapp_metrics_request_started */
};

struct webapp_response
{
  int status;
  const char *content_type;
  char *body; /* malloc'd unless body_static */
  size_t body_len;
  int body_static;
  const char *allow; /* Allow header for 405, else NULL */
  int exit_after;    /* POST /crash: exit 1 once the response is sent */
};

enum webapp_route webapp_route_lookup(const char *path);
/* Route, validate and answer one request; resp is always filled (free it after use). */
void webapp_handle(struct webapp_state *st, const struct webapp_request *req,
                   struct webapp_response *resp);
/* 413 for a request body over WEBAPP_MAX_BODY bytes (no endpoint takes a body). */
#define WEBAPP_MAX_BODY (64 * 1024)
void webapp_response_too_large(struct webapp_response *resp);
void webapp_response_free(struct webapp_response *resp);

/* Rendering, public for the tests. */
char *webapp_html_escape(const char *s);
char *webapp_render_page(const struct webapp_state *st, uint64_t requests, int refresh_s,
                         uint64_t now_ms, size_t *len);
char *webapp_render_info(const struct webapp_state *st, uint64_t requests, uint64_t now_ms,
                         size_t *len);
/* Parse a decimal integer in [min, max]; -1 on anything else (sign, spaces, overflow). */
int webapp_parse_bounded(const char *s, long min, long max, long *out);
/* Burn this thread's CPU for ms milliseconds; returns the number of loop rounds. */
uint64_t webapp_burn_cpu(int ms);

#endif
