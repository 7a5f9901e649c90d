/* main.c - the sample web app's process: libmicrohttpd in epoll mode (a pool of worker
 * threads, each with its own epoll set, in one process), signal handling and graceful
 * shutdown.  Every request is routed and rendered by app.c; this file only adapts it to
 * libmicrohttpd and is the one place that prints. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

/* Per-request context, from the first handler call to the completion callback. */
struct request_ctx
{
  uint64_t start_us;
  enum webapp_route route;
  uint64_t sequence;
  uint64_t body_bytes;
  int too_large;
  int responded;
  int status;
  int exit_after;
};

static uint64_t mono_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static const char *lookup_arg(void *ctx, const char *key)
{
  return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
  struct webapp_state *st = cls;
  (void)version;
  (void)upload_data;

  struct request_ctx *ctx = *con_cls;
  if (ctx == NULL)
    {
      /* First call: headers are in.  Answer on a later call: libmicrohttpd 0.9.75 closes the
       * connection after a response queued on the first call (it counts as "early"). */
      ctx = xzalloc(sizeof(*ctx));
      ctx->start_us = mono_us();
      ctx->sequence = webapp_metrics_request_started(&st->metrics);
      *con_cls = ctx;
      /* A declared body over the limit gets 413 now, an early response after which
       * libmicrohttpd closes the connection without reading the body. */
      const char *cl
          = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      long declared;
      if (cl == NULL || webapp_parse_bounded(cl, 0, WEBAPP_MAX_BODY, &declared) == 0)
        return MHD_YES;
      ctx->too_large = 1;
    }
  if (ctx->responded)
    {
      *upload_data_size = 0;
      return MHD_YES;
    }
  if (*upload_data_size > 0)
    {
      /* No endpoint reads a body: discard it.  A chunked body (no Content-Length) that grows
       * over the limit closes the connection; a response can no longer be queued mid-body. */
      ctx->body_bytes += *upload_data_size;
      *upload_data_size = 0;
      ctx->status = 413;
      return ctx->body_bytes <= WEBAPP_MAX_BODY ? MHD_YES : MHD_NO;
    }

  struct webapp_request req = {
      .method = method,
      .path = url,
      .arg = lookup_arg,
      .arg_ctx = conn,
      .now_ms = mono_us() / 1000,
      .sequence = ctx->sequence,
  };
  struct webapp_response resp;
  if (ctx->too_large)
    webapp_response_too_large(&resp);
  else
    webapp_handle(st, &req, &resp);
  ctx->responded = 1;
  ctx->route = webapp_route_lookup(url);
  ctx->status = resp.status;
  ctx->exit_after = resp.exit_after;

  struct MHD_Response *r = MHD_create_response_from_buffer(
      resp.body_len, resp.body, resp.body_static ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_FREE);
  if (r == NULL)
    {
      webapp_response_free(&resp);
      ctx->status = 500;
      return MHD_NO;
    }
  /* The body now belongs to the MHD response. */
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp.content_type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  /* Error bodies echo query values; keep browsers from sniffing them into HTML. */
  MHD_add_response_header(r, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
  if (resp.allow)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp.allow);
  /* While draining, answer requests on open keep-alive connections and close them. */
  if (resp.exit_after || atomic_load(&st->draining))
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
  MHD_destroy_response(r);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct webapp_state *st = cls;
  struct request_ctx *ctx = *con_cls;
  (void)conn;
  (void)toe;
  if (ctx == NULL)
    return;
  webapp_metrics_request_done(&st->metrics, ctx->route, ctx->status, mono_us() - ctx->start_us);
  int exit_after = ctx->exit_after;
  free(ctx);
  *con_cls = NULL;
  if (exit_after)
    {
      /* POST /crash with --allow-crash: a deliberate crash for self-heal demos; no cleanup. */
      fprintf(stderr, "webapp: POST /crash: exiting with code 1\n");
      _exit(1);
    }
}

/* One worker per CPU, but at least 4: a /work request holds its worker thread (and the other
 * connections that thread serves) for its whole duration, and health probes should still get
 * through on a small machine under a load demo. */
static int default_threads(void)
{
  cpu_set_t set;
  int n = 1;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    n = CPU_COUNT(&set);
  return n < 4 ? 4 : n > 64 ? 64 : n;
}

/* Parse --bind into a socket address; port filled in.  Returns 0, or -1 with *err. */
static int bind_address(const char *bind, int port, struct sockaddr_storage *ss, int *is_v6,
                        struct skiff_err **err)
{
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  *is_v6 = 0;
  if (bind == NULL || inet_pton(AF_INET, bind, &in4->sin_addr) == 1)
    {
      in4->sin_family = AF_INET;
      in4->sin_port = htons((uint16_t)port);
      if (bind == NULL)
        in4->sin_addr.s_addr = htonl(INADDR_ANY);
      return 0;
    }
  if (inet_pton(AF_INET6, bind, &in6->sin6_addr) == 1)
    {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons((uint16_t)port);
      *is_v6 = 1;
      return 0;
    }
  return skiff_error(err, 0, "invalid --bind `%s`: want an IPv4 or IPv6 address", bind);
}

/* SIGTERM: stop accepting, let in-flight requests finish (at most grace seconds), exit 0. */
static int drain_and_stop(struct MHD_Daemon *d, struct webapp_state *st, int sig)
{
  atomic_store(&st->draining, 1);
  MHD_socket lfd = MHD_quiesce_daemon(d);
  /* quiesce only takes the socket out of MHD's epoll sets; shut it down as well so the kernel
   * refuses new connections instead of queueing them in a backlog nobody accepts from. */
  if (lfd != MHD_INVALID_SOCKET)
    shutdown(lfd, SHUT_RDWR);
  fprintf(stderr, "webapp: SIG%s: draining %lld in-flight requests (grace %d s)\n",
          sigabbrev_np(sig), (long long)webapp_metrics_in_flight(&st->metrics), st->cfg->grace_s);

  uint64_t deadline = mono_us() + (uint64_t)st->cfg->grace_s * 1000000;
  while (webapp_metrics_in_flight(&st->metrics) > 0 && mono_us() < deadline)
    {
      struct timespec tick = {0, 5 * 1000 * 1000};
      nanosleep(&tick, NULL);
    }
  int64_t left = webapp_metrics_in_flight(&st->metrics);
  if (left > 0)
    {
      /* A worker thread is still inside a handler; stopping the daemon would wait for it. */
      fprintf(stderr, "webapp: grace period over, abandoning %lld requests\n", (long long)left);
      /* Exit without running exit handlers under the feet of the busy worker threads. */
      _exit(0);
    }
  MHD_stop_daemon(d);
  if (lfd != MHD_INVALID_SOCKET)
    close(lfd);
  fprintf(stderr, "webapp: stopped\n");
  return 0;
}

int main(int argc, char **argv)
{
  cleanup_err struct skiff_err *err = NULL;
  struct webapp_config cfg;
  int r = webapp_config_parse(&cfg, argc, argv, getenv(WEBAPP_ENV_PORT), &err);
  if (r == WEBAPP_CONFIG_HELP)
    {
      fputs(webapp_usage, stdout);
      return 0;
    }
  if (r < 0)
    {
      fprintf(stderr, "webapp: %s\n", err->msg);
      return 2;
    }
  if (cfg.threads == 0)
    cfg.threads = default_threads();

  char hostname[128] = "";
  if (gethostname(hostname, sizeof(hostname) - 1) < 0)
    snprintf(hostname, sizeof(hostname), "localhost");
  struct webapp_identity id;
  webapp_identity_init(&id, getenv(WEBAPP_ENV_REPLICA), getenv(WEBAPP_ENV_NODE), hostname,
                       cfg.version ? cfg.version : getenv(WEBAPP_ENV_VERSION), time(NULL),
                       (long)getpid());
  static struct webapp_state st; /* shared with the worker threads for the process lifetime */
  webapp_state_init(&st, &cfg, &id, mono_us() / 1000);

  struct sockaddr_storage addr;
  int is_v6;
  if (bind_address(cfg.bind, cfg.port, &addr, &is_v6, &err) < 0)
    {
      fprintf(stderr, "webapp: %s\n", err->msg);
      return 2;
    }

  /* Signals go to this thread only (sigwaitinfo below): block them before MHD starts its
   * threads, which inherit the mask. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (is_v6)
    flags |= MHD_USE_IPv6;
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_SOCK_ADDR, 0, &addr},
      {MHD_OPTION_CONNECTION_LIMIT, cfg.max_conns, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, cfg.timeout_s, NULL},
      /* Bounds request line + headers per connection; larger ones get 431/414. */
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg.conn_memory, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, &st},
      {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
      {cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, cfg.threads, NULL},
      {MHD_OPTION_END, 0, NULL},
  };
  struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)cfg.port, NULL, NULL, on_request, &st,
                                          MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
  if (d == NULL)
    {
      fprintf(stderr, "webapp: MHD_start_daemon on %s port %d failed (is the port in use?)\n",
              cfg.bind ? cfg.bind : "0.0.0.0", cfg.port);
      return 1;
    }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  fprintf(stderr,
          "webapp: listening on %s port %u: replica %s, node %s, version %s, %d threads%s\n",
          cfg.bind ? cfg.bind : "0.0.0.0", info ? info->port : (unsigned)cfg.port, id.replica,
          id.node, id.version, cfg.threads, cfg.allow_crash ? ", crash allowed" : "");

  for (;;)
    {
      siginfo_t si;
      int sig = sigwaitinfo(&sigs, &si);
      if (sig < 0)
        {
          if (errno == EINTR)
            continue;
          fprintf(stderr, "webapp: sigwaitinfo: %s\n", strerror(errno));
          return 1;
        }
      return drain_and_stop(d, &st, sig);
    }
}
