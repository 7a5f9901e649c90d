/* server.c - `skiffd server`: flags, and the one event loop that runs the API (libmicrohttpd,
 * external polling on its epoll fd), the controller tick, the watch wake-ups, store
 * compaction and the sweep of expired join tokens.  The parts it wires together: cluster.h
 * (store, view, watch cache, events), security.h (CA, certificate, credentials), api.h,
 * controller.h and leader.h (several servers on one etcd: only the leader runs the
 * controller, its writes fenced). */
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
#include <time.h>
#include <unistd.h>
#include "api.h"
#include "cidr.h"
#include "client.h"
#include "cluster.h"
#include "controller.h"
#include "leader.h"
#include "security.h"
#include "server.h"

/* Heartbeats a second from all nodes together before the period stretches (Nomad's
 * max_heartbeats_per_second, 50 there; kubelets renewing their leases every 10 s send 100 a
 * second at 1,000 nodes).  An idle heartbeat arriving on its own, as those of independent
 * hosts do, costs the server 75-100 us of CPU on the 2-vCPU test VM, most of it waking the
 * loop and going back to sleep (tests/bench/scheduler_e2e, 1,000 fake nodes spread over the
 * period, 2026-12-07: 600 a second 4.9-6.5 % of a core, 400 2.8-3.7 %, 200 1.7-2.1 %).  100 a
 * second holds an idle control plane near 1 % of a core whatever the node count: up to 167
 * nodes beat every 5/3 s (grace 5 s), 1,000 every 10 s against a 30 s grace (a kubelet's
 * lease: 10 s, 40 s), 5,000 every 50 s. */
#define SERVER_MAX_HEARTBEAT_RATE 100
#define SERVER_MAX_HEARTBEAT_RATE_S "100"

struct server_opts
{
  const char *listen, *data, *tls_san;
  double heartbeat_interval, node_grace, max_heartbeat_rate;
  bool insecure_http;
  unsigned max_conns, max_conns_per_client, idle_timeout;
  struct cidr_pool pod_pool; /* --cluster-cidr, --node-cidr-mask-size */
  const char *store, *etcd_prefix, *name, *advertise;
  double lease_ttl;
};

/* What the loop drives.  The controller is made anew each time this server becomes the
 * leader, so it starts from the store with a fresh grace for every node. */
struct server
{
  struct cluster cl;
  struct api *api;
  struct controller *ctl;
  struct leader *leader;
  struct security sec;
};

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
  fprintf(
      f,
      "usage: skiffd server [--listen ADDR:PORT] [--data DIR] [--heartbeat-interval S]\n"
      "                     [--node-grace S] [--max-heartbeat-rate N] [--cluster-cidr CIDR|none]\n"
      "                     [--node-cidr-mask-size N] [--tls-san NAME,...] [--insecure-http]\n"
      "                     [--max-connections N] [--max-connections-per-client N]\n"
      "                     [--idle-timeout S] [--store sqlite|etcd:URL[,URL...]]\n"
      "                     [--etcd-prefix P] [--name N] [--advertise URL] [--leader-lease S]\n"
      "  --listen              API address (default 127.0.0.1:7070)\n"
      "  --data                data directory: store.db, CA, certificate, admin credential\n"
      "                        (default /var/lib/skiffd)\n"
      "  --store               sqlite (default: DATA/store.db) or etcd:http://H:P,... "
      "(several servers)\n"
      "  --etcd-prefix         etcd key prefix of every skiff key (default /skiff/)\n"
      "  --name                this server's name among several (default HOST:PORT)\n"
      "  --advertise           URL clients reach it at (default https://LISTEN)\n"
      "  --leader-lease        leader lease TTL in seconds (default 3)\n"
      "  --heartbeat-interval  heartbeat period agents are told to use (default: a third\n"
      "                        of --node-grace)\n"
      "  --node-grace          missed-heartbeat time before a node is NotReady "
      "(default 5)\n"
      "  --max-heartbeat-rate  heartbeats a second from all nodes together: beyond it the\n"
      "                        period (and the grace with it) stretches to nodes / N\n"
      "                        (default " SERVER_MAX_HEARTBEAT_RATE_S ", 0: no limit)\n"
      "  --cluster-cidr        pod subnets are cut from this range, or `none` "
      "(default " CIDR_DEFAULT_CLUSTER ")\n"
      "  --node-cidr-mask-size prefix of each node's pod subnet (default 24)\n"
      "  --tls-san             more names and addresses for the serving certificate\n"
      "  --insecure-http       plain HTTP instead of TLS; only on a loopback address\n"
      "  --max-connections     open connections in all (default 4096)\n"
      "  --max-connections-per-client  from one address (default 128)\n"
      "  --idle-timeout        seconds a connection may stay silent (default 60)\n");
}

static int parse_count(const char *s, const char *flag, unsigned max, unsigned *out)
{
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > max)
    {
      fprintf(stderr, "skiffd server: %s: `%s` is not a number from 1 to %u\n", flag, s, max);
      return -1;
    }
  *out = (unsigned)v;
  return 0;
}

static void server_metrics(void *data, FILE *f)
{
  struct server *sv = data;
  if (sv->ctl)
    controller_write_metrics(sv->ctl, f);
  leader_write_metrics(sv->leader, f);
}

/* Only the leader runs the controller; a new leader (or a relisted view) starts it afresh. */
static void run_controller(struct server *sv, double now, bool restart, double *last_tick,
                           double *tick_cost)
{
  if (restart && sv->ctl)
    {
      controller_free(sv->ctl);
      sv->ctl = controller_new(&sv->cl, cluster_clock(&sv->cl));
    }
  if (!leader_leading(sv->leader))
    return;
  /* The controller runs 20 ms after a change at the soonest (and never more than a quarter
   * of the time: the gap is at least three times its last run), and at least every 0.5 s for
   * heartbeat deadlines and rollout progress. */
  double gap = *tick_cost * 3 > 0.02 ? *tick_cost * 3 : 0.02;
  if (!((controller_dirty(sv->ctl) && now - *last_tick >= gap) || now - *last_tick >= 0.5))
    return;
  struct store_op fence;
  sv->cl.fence = leader_fence(sv->leader, &fence) ? &fence : NULL;
  controller_tick(sv->ctl, cluster_clock(&sv->cl));
  sv->cl.fence = NULL;
  if (sv->cl.fence_failed)
    {
      sv->cl.fence_failed = false;
      leader_fence_failed(sv->leader);
    }
  *last_tick = now;
  *tick_cost = cluster_now() - now;
  api_flush(sv->api);
}

static int run_loop(struct server *sv, int sigfd)
{
  struct cluster *cl = &sv->cl;
  struct api *api = sv->api;
  int efd = api_fd(api);
  double last_tick = 0, tick_cost = 0, last_compact = cluster_now(), last_wake = cluster_now();
  double last_trim = cluster_now();
  uint64_t trimmed_at = 0;
  for (;;)
    {
      double now = cluster_now();
      int timeout = api_timeout_ms(api, 100);
      if ((controller_dirty(sv->ctl) || cl->watch.news) && timeout > 10)
        timeout = 10;
      struct pollfd pfd[3] = {{.fd = efd, .events = POLLIN},
                              {.fd = sigfd, .events = POLLIN},
                              {.fd = store_poll_fd(cl->store), .events = POLLIN}};
      if (poll(pfd, pfd[2].fd >= 0 ? 3 : 2, timeout) < 0 && errno != EINTR)
        return skiff_error(NULL, errno, "poll");
      if (pfd[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read(sigfd, &si, sizeof(si)) > 0)
            return 0;
        }
      double busy_start = cluster_now();
      /* Changes other servers made (etcd): into the view, the watch cache, the controller. */
      cleanup_err struct skiff_err *perr = NULL;
      if ((pfd[2].revents & POLLIN) && store_poll(cl->store, &perr) < 0)
        fprintf(stderr, "skiffd: store: %s\n", perr->msg);
      api_run(api);
      api_flush(api);
      now = cluster_now();
      if (cl->resynced)
        security_relist(&sv->sec, cl->store); /* a revocation may be among what was missed */
      bool restart = leader_step(sv->leader, now) || cl->resynced;
      cl->resynced = false;
      run_controller(sv, now, restart, &last_tick, &tick_cost);
      /* Watch streams wake at most every 10 ms (changes batch up), and every second so idle
       * streams send their bookmarks. */
      if ((cl->watch.news && now - last_wake >= 0.01) || now - last_wake >= 1.0)
        {
          cl->watch.news = false;
          last_wake = now;
          api_wake_watchers(api);
          api_run(api);
        }
      /* The store's deferred housekeeping (SQLite: the WAL checkpoint, once writes pause). */
      cleanup_err struct skiff_err *ierr = NULL;
      if (store_idle(cl->store, &ierr) < 0)
        fprintf(stderr, "skiffd: store: %s\n", ierr->msg);
      /* Heartbeats that waited in socket buffers while this loop was busy are not the nodes'
       * fault: the time of a pass beyond CLUSTER_PASS_FORGIVEN does not count toward any
       * node's grace (cluster_clock). */
      double busy = cluster_now() - busy_start;
      if (busy > CLUSTER_PASS_FORGIVEN)
        cl->stalled += busy - CLUSTER_PASS_FORGIVEN;
      if (now - last_compact >= 60 && leader_leading(sv->leader))
        {
          int64_t rev = store_revision(cl->store) - 100000;
          cleanup_err struct skiff_err *err = NULL;
          if (rev > store_compacted(cl->store) && store_compact(cl->store, rev, &err) < 0)
            fprintf(stderr, "skiffd: compact: %s\n", err->msg);
          security_sweep(&sv->sec, cl, time(NULL));
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
                                       {"store", required_argument, NULL, 's'},
                                       {"etcd-prefix", required_argument, NULL, 'p'},
                                       {"name", required_argument, NULL, 'n'},
                                       {"advertise", required_argument, NULL, 'a'},
                                       {"leader-lease", required_argument, NULL, 't'},
                                       {"heartbeat-interval", required_argument, NULL, 'h'},
                                       {"node-grace", required_argument, NULL, 'g'},
                                       {"max-heartbeat-rate", required_argument, NULL, 'R'},
                                       {"cluster-cidr", required_argument, NULL, 'C'},
                                       {"node-cidr-mask-size", required_argument, NULL, 'M'},
                                       {"tls-san", required_argument, NULL, 'S'},
                                       {"insecure-http", no_argument, NULL, 'i'},
                                       {"max-connections", required_argument, NULL, 'm'},
                                       {"max-connections-per-client", required_argument, NULL, 'P'},
                                       {"idle-timeout", required_argument, NULL, 'T'},
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
        case 's':
          o->store = optarg;
          break;
        case 'p':
          o->etcd_prefix = optarg;
          break;
        case 'n':
          o->name = optarg;
          break;
        case 'a':
          o->advertise = optarg;
          break;
        case 't':
          if (parse_seconds(optarg, "--leader-lease", &o->lease_ttl, &err) < 0 || o->lease_ttl < 1)
            {
              fprintf(stderr, "skiffd server: %s\n",
                      err ? err->msg : "--leader-lease: at least 1 second");
              return 2;
            }
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
        case 'R':
          o->max_heartbeat_rate = strtod(optarg, &end);
          if (end == optarg || *end || !(o->max_heartbeat_rate >= 0)
              || o->max_heartbeat_rate > 1000000)
            {
              fprintf(stderr,
                      "skiffd server: --max-heartbeat-rate `%s`: expected a number of "
                      "heartbeats a second from 0 (no limit) to 1000000\n",
                      optarg);
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
        case 'S':
          o->tls_san = optarg;
          break;
        case 'i':
          o->insecure_http = true;
          break;
        case 'm':
        case 'P':
        case 'T':
          if (parse_count(optarg,
                          c == 'm'   ? "--max-connections"
                          : c == 'P' ? "--max-connections-per-client"
                                     : "--idle-timeout",
                          c == 'T' ? 86400 : 1000000,
                          c == 'm'   ? &o->max_conns
                          : c == 'P' ? &o->max_conns_per_client
                                     : &o->idle_timeout)
              < 0)
            return 2;
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
  /* A node is NotReady after three missed beats by default, as Docker Swarm's dispatcher
   * (5 s period, grace 3 periods; a kubelet renews its lease every 10 s against 40 s).
   * Beyond --max-heartbeat-rate beats a second from all nodes together (167 nodes at the
   * default 5/3 s) the period and the grace stretch with the node count (cluster_pace). */
  if (o->heartbeat_interval == 0)
    o->heartbeat_interval = o->node_grace / 3;
  else if (o->heartbeat_interval >= o->node_grace)
    {
      fprintf(stderr,
              "skiffd server: --heartbeat-interval %g must be shorter than --node-grace %g\n",
              o->heartbeat_interval, o->node_grace);
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
  if (o->insecure_http && !security_listen_is_loopback(o->listen))
    {
      fprintf(
          stderr,
          "skiffd server: --insecure-http: only on a loopback address (--listen 127.0.0.1:PORT), "
          "not `%s`\n",
          o->listen);
      return 2;
    }
  return -1;
}

int server_main(int argc, char **argv)
{
  struct server_opts o = {.listen = "127.0.0.1:7070",
                          .data = "/var/lib/skiffd",
                          .heartbeat_interval = 0, /* node_grace / 3 unless given */
                          .node_grace = 5,
                          .max_heartbeat_rate = SERVER_MAX_HEARTBEAT_RATE,
                          .max_conns = 4096,
                          .max_conns_per_client = 128,
                          .idle_timeout = 60,
                          .etcd_prefix = "/skiff/",
                          .lease_ttl = 3};
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
  struct server sv = {0};
  cleanup_free char *url = xasprintf("%s://%s", o.insecure_http ? "http" : "https", o.listen);
  struct store *store = NULL;
  int ret = 1, sigfd = -1;
  struct leader_config lcfg = {.name = o.name,
                               .url = o.advertise ? o.advertise : url,
                               .listen = o.listen,
                               .ttl = o.lease_ttl};
  if (skiff_mkdir_p(o.data, 0700, &err) < 0
      || store_open(o.store, o.data, o.etcd_prefix, &store, &err) < 0
      || security_open(&sv.sec, store, o.data, o.listen, o.tls_san, &err) < 0)
    goto out;
  sv.leader = leader_new(&sv.cl, store, &lcfg);
  if (cluster_open_keys(&sv.cl, store, leader_on_key, sv.leader, &err) < 0)
    goto out;
  store = NULL; /* the cluster owns it */
  cluster_set_store_observer(&sv.cl, security_store_event, &sv.sec);
  sv.cl.heartbeat_policy = (struct rc_heartbeat_policy){
      .period = o.heartbeat_interval, .grace = o.node_grace, .max_rate = o.max_heartbeat_rate};
  sv.ctl = controller_new(&sv.cl, cluster_clock(&sv.cl));
  /* the server calls agents (logs) over HTTPS: their certificates come from this CA */
  client_set_default_ca(sv.sec.pki.ca_cert);
  struct api_config acfg = {.listen = o.listen,
                            .auth = &sv.sec.auth,
                            .tls_cert = o.insecure_http ? NULL : sv.sec.pki.cert,
                            .tls_key = o.insecure_http ? NULL : sv.sec.pki.key,
                            .ca_cert = sv.sec.pki.ca_cert,
                            .ca_hash = sv.sec.pki.ca_hash,
                            .ca_key = sv.sec.pki.ca_key,
                            .max_conns = o.max_conns,
                            .max_conns_per_client = o.max_conns_per_client,
                            .idle_timeout = o.idle_timeout,
                            .pod_pool = &o.pod_pool,
                            .write_metrics = server_metrics,
                            .metrics_data = &sv,
                            .servers = leader_servers,
                            .status = leader_status,
                            .servers_data = sv.leader};
  sv.api = api_start(&sv.cl, &acfg, &err);
  if (sv.api == NULL)
    goto out;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  bool etcd = o.store && strncmp(o.store, "etcd:", 5) == 0;
  fprintf(stderr, "skiffd: listening on %s, data %s, store %s%s%s, revision %lld\n", url, o.data,
          store_backend(sv.cl.store), etcd ? " " : "", etcd ? o.store + 5 : "",
          (long long)store_revision(sv.cl.store));
  security_announce(&sv.sec, url, stderr);
  ret = run_loop(&sv, sigfd) < 0 ? 1 : 0;
  leader_resign(sv.leader);
out:
  if (err)
    fprintf(stderr, "skiffd server: %s\n", err->msg);
  api_stop(sv.api);
  if (sigfd >= 0)
    close(sigfd);
  controller_free(sv.ctl);
  if (sv.cl.store)
    cluster_close(&sv.cl);
  store_close(store);
  leader_free(sv.leader);
  security_close(&sv.sec);
  return ret;
}
