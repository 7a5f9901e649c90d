/* server.c - `skiffd server`: flags, the bearer token, and the one event loop that runs the
 * API (libmicrohttpd, external polling on its epoll fd), the controller tick, the watch
 * wake-ups and store compaction.  The parts it wires together: cluster.h (store, view, watch
 * cache, events), api.h and controller.h. */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api.h"
#include "cidr.h"
#include "cluster.h"
#include "controller.h"
#include "server.h"

struct server_opts
{
  const char *listen, *data;
  double heartbeat_interval, node_grace;
  struct cidr_pool pod_pool; /* --cluster-cidr, --node-cidr-mask-size */
};

static int load_token(const char *data_dir, char **token, struct skiff_err **err)
{
  cleanup_free char *path = xasprintf("%s/token", data_dir);
  char *tok = NULL;
  if (skiff_read_file(path, &tok, NULL, NULL) == 0)
    {
      tok[strcspn(tok, "\r\n")] = '\0';
      if (strlen(tok) >= 16)
        {
          chmod(path, 0600);
          *token = tok;
          return 0;
        }
      free(tok);
    }
  unsigned char rnd[32];
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
    return skiff_error(err, errno, "getrandom");
  char hex[65];
  for (size_t i = 0; i < sizeof(rnd); i++)
    snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
  cleanup_free char *line = xasprintf("%s\n", hex);
  if (skiff_write_file_atomic(path, line, strlen(line), 0600, err) < 0)
    return -1;
  *token = xstrdup(hex);
  return 0;
}

static int parse_seconds(const char *s, const char *flag, double *out, struct skiff_err **err)
{
  char *end = NULL;
  errno = 0;
  double d = strtod(s, &end);
  if (errno || end == s || (*end && strcmp(end, "s") != 0) || !(d > 0) || d > 86400)
    return skiff_error(err, 0, "%s: invalid duration `%s` (seconds, e.g. 5 or 0.5)", flag, s);
  *out = d;
  return 0;
}

static void usage(FILE *f)
{
  fprintf(f, "usage: skiffd server [--listen ADDR:PORT] [--data DIR] [--heartbeat-interval S]\n"
             "                     [--node-grace S] [--cluster-cidr CIDR|none]\n"
             "                     [--node-cidr-mask-size N]\n"
             "  --listen              API address (default 127.0.0.1:7070)\n"
             "  --data                data directory: store.db and token (default "
             "/var/lib/skiffd)\n"
             "  --heartbeat-interval  heartbeat period agents are told to use (default 1)\n"
             "  --node-grace          missed-heartbeat time before a node is NotReady "
             "(default 5)\n"
             "  --cluster-cidr        pod subnets are cut from this range, or `none` "
             "(default " CIDR_DEFAULT_CLUSTER ")\n"
             "  --node-cidr-mask-size prefix of each node's pod subnet (default 24)\n");
}

static void metrics_of_controller(void *data, FILE *f)
{
  controller_write_metrics(data, f);
}

static int run_loop(struct cluster *cl, struct api *api, struct controller *ctl, int sigfd)
{
  int efd = api_fd(api);
  double last_tick = 0, tick_cost = 0, last_compact = cluster_now(), last_wake = cluster_now();
  double last_trim = cluster_now();
  uint64_t trimmed_at = 0;
  for (;;)
    {
      double now = cluster_now();
      int timeout = api_timeout_ms(api, 100);
      if ((controller_dirty(ctl) || cl->watch.news) && timeout > 10)
        timeout = 10;
      struct pollfd pfd[2] = {{.fd = efd, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
      if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
        return skiff_error(NULL, errno, "poll");
      if (pfd[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read(sigfd, &si, sizeof(si)) > 0)
            return 0;
        }
      double busy_start = cluster_now();
      api_run(api);
      api_flush(api);
      now = cluster_now();
      /* The controller runs 20 ms after a change at the soonest (and never more than a quarter
       * of the time: the gap is at least three times its last run), and at least every 0.5 s for
       * heartbeat deadlines and rollout progress. */
      double gap = tick_cost * 3 > 0.02 ? tick_cost * 3 : 0.02;
      if ((controller_dirty(ctl) && now - last_tick >= gap) || now - last_tick >= 0.5)
        {
          controller_tick(ctl, cluster_clock(cl));
          last_tick = now;
          tick_cost = cluster_now() - now;
          api_flush(api);
        }
      /* Watch streams wake at most every 10 ms (changes batch up), and every second so idle
       * streams send their bookmarks. */
      if ((cl->watch.news && now - last_wake >= 0.01) || now - last_wake >= 1.0)
        {
          cl->watch.news = false;
          last_wake = now;
          api_wake_watchers(api);
          api_run(api);
        }
      /* Heartbeats that waited in socket buffers while this loop was busy are not the nodes'
       * fault: the time of a pass beyond CLUSTER_PASS_FORGIVEN does not count toward any
       * node's grace (cluster_clock). */
      double busy = cluster_now() - busy_start;
      if (busy > CLUSTER_PASS_FORGIVEN)
        cl->stalled += busy - CLUSTER_PASS_FORGIVEN;
      if (now - last_compact >= 60)
        {
          int64_t rev = store_revision(cl->store) - 100000;
          cleanup_err struct skiff_err *err = NULL;
          if (rev > store_compacted(cl->store) && store_compact(cl->store, rev, &err) < 0)
            fprintf(stderr, "skiffd: compact: %s\n", err->msg);
          last_compact = now;
        }
      /* A burst of writes leaves freed memory between the objects the view keeps: hand the
       * free pages back to the kernel once things settle. */
      if (cl->writes - trimmed_at >= 1000 && now - last_trim >= 5)
        {
          malloc_trim(0);
          trimmed_at = cl->writes;
          last_trim = now;
        }
    }
}

static int parse_args(int argc, char **argv, struct server_opts *o)
{
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"data", required_argument, NULL, 'd'},
                                       {"heartbeat-interval", required_argument, NULL, 'h'},
                                       {"node-grace", required_argument, NULL, 'g'},
                                       {"cluster-cidr", required_argument, NULL, 'C'},
                                       {"node-cidr-mask-size", required_argument, NULL, 'M'},
                                       {"help", no_argument, NULL, 'H'},
                                       {NULL, 0, NULL, 0}};
  cleanup_err struct skiff_err *err = NULL;
  const char *cluster_cidr = CIDR_DEFAULT_CLUSTER;
  long node_prefix = CIDR_DEFAULT_NODE_PREFIX;
  char *end = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
        case 'l':
          o->listen = optarg;
          break;
        case 'd':
          o->data = optarg;
          break;
        case 'h':
        case 'g':
          if (parse_seconds(optarg, c == 'h' ? "--heartbeat-interval" : "--node-grace",
                            c == 'h' ? &o->heartbeat_interval : &o->node_grace, &err)
              < 0)
            {
              fprintf(stderr, "skiffd server: %s\n", err->msg);
              return 2;
            }
          break;
        case 'C':
          cluster_cidr = optarg;
          break;
        case 'M':
          node_prefix = strtol(optarg, &end, 10);
          if (end == optarg || *end || node_prefix < 1 || node_prefix > 32)
            {
              fprintf(stderr, "skiffd server: --node-cidr-mask-size `%s`: expected 1..32\n",
                      optarg);
              return 2;
            }
          break;
        case 'H':
          usage(stdout);
          return 0;
        default:
          usage(stderr);
          return 2;
      }
  if (optind < argc)
    {
      fprintf(stderr, "skiffd server: unexpected argument `%s`\n", argv[optind]);
      usage(stderr);
      return 2;
    }
  o->pod_pool.enabled = strcmp(cluster_cidr, "none") != 0;
  o->pod_pool.node_prefix = (int)node_prefix;
  if (o->pod_pool.enabled
      && (cidr_parse(cluster_cidr, &o->pod_pool.cluster, &err) < 0
          || cidr_check_cluster(&o->pod_pool.cluster, (int)node_prefix, &err) < 0))
    {
      fprintf(stderr, "skiffd server: --cluster-cidr: %s\n", err->msg);
      return 2;
    }
  return -1;
}

int server_main(int argc, char **argv)
{
  struct server_opts o = {.listen = "127.0.0.1:7070",
                          .data = "/var/lib/skiffd",
                          .heartbeat_interval = 1,
                          .node_grace = 5};
  int r = parse_args(argc, argv, &o);
  if (r >= 0)
    return r;

  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *token = NULL;
  struct cluster cl = {0};
  struct store *store = NULL;
  struct controller *ctl = NULL;
  struct api *api = NULL;
  int ret = 1, sigfd = -1;
  if (store_sqlite_open(o.data, &store, &err) < 0 || load_token(o.data, &token, &err) < 0)
    goto out;
  if (cluster_open(&cl, store, &err) < 0)
    goto out;
  store = NULL; /* the cluster owns it */
  ctl = controller_new(&cl, o.node_grace, cluster_clock(&cl));
  struct api_config acfg = {.listen = o.listen,
                            .token = token,
                            .heartbeat_interval = o.heartbeat_interval,
                            .pod_pool = &o.pod_pool,
                            .write_metrics = metrics_of_controller,
                            .metrics_data = ctl};
  api = api_start(&cl, &acfg, &err);
  if (api == NULL)
    goto out;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  fprintf(stderr, "skiffd: listening on %s, data %s, store revision %lld\n", o.listen, o.data,
          (long long)store_revision(cl.store));
  ret = run_loop(&cl, api, ctl, sigfd) < 0 ? 1 : 0;
out:
  if (err)
    fprintf(stderr, "skiffd server: %s\n", err->msg);
  api_stop(api);
  if (sigfd >= 0)
    close(sigfd);
  controller_free(ctl);
  if (cl.store)
    cluster_close(&cl);
  store_close(store);
  return ret;
}
