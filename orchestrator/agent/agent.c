/* agent.c - `skiffd agent`: flags, the node's registration and heartbeats, and the start of
 * either agent: the real one (containers through libskiff: sync.c and the files around it)
 * or the fake runtime (fake.c, kubemark's hollow nodes).
 *
 * The real agent's threads (each owns what it touches; what is shared says so where it is
 * declared, agent_internal.h):
 *   main        the sync loop (sync.c): owns the replica records, talks to the runtime helper
 *   heartbeat   POST /v1/nodes/NAME/heartbeat every interval (re-registers on 404)
 *   watch       list + watch the node's replicas into the desired state (watch.c)
 *   status      POSTs status reports and DELETEs (status.c)
 *   probe x 4   HTTP/TCP probes (probe.c)
 *   http        the node's endpoint for logs (http.c, libmicrohttpd's threads)
 * plus one process, the runtime helper (runtime.h). */
#include "agent.h"
#include "agent_internal.h"
#include "client.h"
#include "decide.h"
#include "image.h"
#include "net.h"
#include "netagent.h"
#include "trust.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AGENT_MAX_COUNT 100000
#define AGENT_DEFAULT_ROOT "/var/lib/skiff-agent"
#define AGENT_DEFAULT_PORT 7071
#define AGENT_DEFAULT_POD_CIDR "10.244.0.0/24"

volatile sig_atomic_t agent_stopping;

/* ---- pure helpers --------------------------------------------------------------------- */

int agent_parse_labels(const char *s, json_t **out, struct skiff_err **err)
{
  cleanup_free char *copy = xstrdup(s);
  json_t *obj = json_object();
  char *save = NULL, *item;

  for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
    {
      char *eq = strchr(item, '=');
      if (eq == NULL || eq == item || eq[1] == '\0')
        {
          json_decref(obj);
          return skiff_error(err, 0, "--labels `%s`: expected key=value, got `%s`", s, item);
        }
      *eq = '\0';
      if (json_object_get(obj, item))
        {
          json_decref(obj);
          return skiff_error(err, 0, "--labels `%s`: key `%s` given twice", s, item);
        }
      json_object_set_new(obj, item, json_string(eq + 1));
    }
  *out = obj;
  return 0;
}

long agent_node_index(const char *base, long count, const char *name)
{
  size_t n = strlen(base);
  char *end = NULL;
  long i;

  if (name == NULL || strncmp(name, base, n) != 0)
    return -1;
  if (count == 1)
    return name[n] == '\0' ? 0 : -1;
  if (name[n] != '-' || name[n + 1] < '0' || name[n + 1] > '9')
    return -1;
  if (name[n + 1] == '0' && name[n + 2] != '\0')
    return -1; /* "n-01" is not ours: we never pad */
  errno = 0;
  i = strtol(name + n + 1, &end, 10);
  if (errno || *end != '\0' || i < 0 || i >= count)
    return -1;
  return i;
}

/* ---- shared by both agents ---------------------------------------------------------------- */

void agent_log(const char *fmt, ...)
{
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  va_list ap;
  pthread_mutex_lock(&lock);
  fputs("skiffd agent: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  pthread_mutex_unlock(&lock);
}

double agent_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void agent_sleep(double s)
{
  struct timespec ts;
  if (s <= 0)
    return;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

double agent_outage_failed(struct agent_outage *o, const char *what, const char *msg)
{
  double now = agent_now();
  if (!o->down)
    {
      o->since = now;
      o->next_log = now;
      o->step = 0;
      o->retry = 0;
    }
  /* one line per back-off step of the log: at once, then 1, 2, 4 ... 30 s apart */
  if (now >= o->next_log)
    {
      if (now - o->since < 0.5)
        agent_log("%s: %s (retrying)", what, msg);
      else
        agent_log("%s: %s (failing for %.0fs, retrying)", what, msg, now - o->since);
      o->next_log = now + (o->step >= 5 ? 30 : (double)(1u << o->step));
      o->step++;
    }
  o->down = true;
  /* retries themselves back off only to AGENT_RETRY_MAX: a returning server is seen soon */
  o->retry = o->retry <= 0 ? 0.25 : o->retry * 2;
  if (o->retry > AGENT_RETRY_MAX)
    o->retry = AGENT_RETRY_MAX;
  return o->retry;
}

void agent_outage_ok(struct agent_outage *o, const char *what)
{
  if (o->down)
    agent_log("%s: server reachable again after %.0fs", what, agent_now() - o->since);
  o->down = false;
  o->step = 0;
}

json_t *agent_node_body(const char *name, const char *address, int agent_port, double cpu,
                        long long memory, json_t *labels, const char *pod_cidr)
{
  json_t *body = json_pack("{s:s, s:s, s:i, s:{s:f, s:I}, s:O}", "name", name, "address", address,
                           "agentPort", agent_port, "capacity", "cpu", cpu, "memory",
                           (json_int_t)memory, "labels", labels);
  if (pod_cidr)
    json_object_set_new(body, "podCIDR", json_string(pod_cidr));
  return body;
}

void agent_block_signals(sigset_t *sigs)
{
  sigemptyset(sigs);
  sigaddset(sigs, SIGTERM);
  sigaddset(sigs, SIGINT);
  sigaddset(sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
}

void *agent_heartbeat_thread(void *arg)
{
  struct agent_heartbeat *h = arg;
  struct client *c = client_new(h->server, h->token, 5000);
  char **paths = xzalloc((h->n + 1) * sizeof(char *));
  bool *registered = xzalloc((h->n + 1) * sizeof(bool));
  struct agent_outage out = {0};
  json_t *empty = json_object();

  for (size_t i = 0; i < h->n; i++)
    {
      paths[i] = xasprintf("/v1/nodes/%s/heartbeat", h->names[i]);
      registered[i] = h->registered;
    }
  /* interval 0: follow the server's heartbeatInterval (1 s until it has answered) */
  bool follow = h->interval == 0;
  double interval = follow ? 1 : h->interval;
  while (!agent_stopping)
    {
      double start = agent_now(), next = start + interval;
      cleanup_free char *failure = NULL;
      for (size_t i = 0; i < h->n && !agent_stopping; i++)
        {
          /* A thread beating for many (hollow) nodes spreads them over the period, as
           * independent hosts would be, rather than sending them in one burst. */
          if (i > 0)
            agent_sleep(start + interval * (double)i / (double)h->n - agent_now());
          struct skiff_err *err = NULL;
          long status = 0;
          json_t *reply = NULL;
          if (h->creds)
            client_set_token(c, agent_credentials_for(h->creds, h->names[i]));
          if (registered[i]
              && client_call(c, "POST", paths[i], empty, &status, follow ? &reply : NULL, &err) < 0
              && status == 404)
            {
              /* the node object was deleted: register again (API.md, agent protocol) */
              skiff_err_free(&err);
              registered[i] = false;
            }
          if (reply)
            {
              double want = agent_heartbeat_interval(reply, interval);
              if (want != interval)
                {
                  agent_log("heartbeat: every %gs, as the server asks (was %gs)", want, interval);
                  next += want - interval;
                  interval = want;
                }
              json_decref(reply);
            }
          if (!registered[i] && err == NULL)
            {
              json_t *body = h->register_body(h->arg, h->names[i]);
              registered[i] = client_call(c, "POST", "/v1/nodes", body, NULL, NULL, &err) == 0;
              json_decref(body);
            }
          if (err && failure == NULL)
            failure = xstrdup(err->msg);
          skiff_err_free(&err);
        }
      /* heartbeats keep their interval through an outage; only the log backs off */
      if (failure)
        agent_outage_failed(&out, "heartbeat", failure);
      else
        agent_outage_ok(&out, "heartbeat");
      agent_sleep(next - agent_now());
    }
  for (size_t i = 0; i < h->n; i++)
    free(paths[i]);
  free(paths);
  free(registered);
  json_decref(empty);
  client_free(c);
  return NULL;
}

/* ---- flags ------------------------------------------------------------------------------- */

static void agent_usage(FILE *f)
{
  fprintf(
      f,
      "usage: skiffd agent --server URL[,URL...] --token-file F --name NODE [--ca-file F]\n"
      "                    [--address IP] [--cpu N]\n"
      "                    [--memory SIZE] [--labels k=v,...] [--root DIR] [--pod-cidr CIDR]\n"
      "                    [--bridge NAME] [--agent-port N] [--image-root DIR]\n"
      "                    [--log-max SIZE] [--log-retention SECONDS]\n"
      "                    [--heartbeat-interval SECONDS] [--proxy-mode MODE]\n"
      "       skiffd agent --fake-runtime --name NODE [--count N] [--fail-file PATH] ...\n"
      "  --token-file F    the join token `skiffd server` printed (or a credential)\n"
      "  --join-token-file F  the join token (also $SKIFF_JOIN_TOKEN): the server's CA is\n"
      "                    checked against its hash, the node gets its own credential\n"
      "  --ca-file F       the cluster CA, when the token is a credential ($SKIFF_CA_FILE,\n"
      "                    DATA/ca.crt)\n"
      "  --root DIR        runtime state, container dirs, leases, logs (default " AGENT_DEFAULT_ROOT
      ")\n"
      "  --pod-cidr CIDR   container subnet of this node (default: the server's, else "
      "" AGENT_DEFAULT_POD_CIDR ")\n"
      "  --bridge NAME     bridge of the node's containers (default skiff0)\n"
      "  --agent-port N    HTTP endpoint for logs (default 7071; 0 = any free port)\n"
      "  --image-root DIR  the node's image store (default $SKIFF_IMAGE_ROOT or /var/lib/skiff)\n"
      "  --log-max SIZE    rotate a replica's log at this size, one old file kept (default 10Mi)\n"
      "  --log-retention S keep a removed replica's logs this long (default 300)\n"
      "  --heartbeat-interval S  seconds between heartbeats (default: what the server asks,\n"
      "                    its --heartbeat-interval: a third of its --node-grace)\n"
      "  --proxy-mode MODE node ports on the node address: nftables (kernel DNAT), userspace,\n"
      "                    or auto (default: nftables when it works here); 127.0.0.1: userspace\n"
      "  --fake-runtime    simulate containers: bound replicas are reported Running + ready\n"
      "  --count N         run N fake nodes NODE-0 .. NODE-(N-1) in this process\n"
      "  --fail-file F     each replica named on a line of F is reported Failed (exit 1)\n"
      "  replica env SKIFF_FAKE_EXIT=N: fails at start; SKIFF_FAKE_READY=never: never ready\n");
}

static int parse_number(const char *opt, const char *s, double min, double max, double *out)
{
  char *end = NULL;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || v < min || v > max)
    {
      agent_log("%s `%s`: expected a number in [%g, %g]", opt, s, min, max);
      return -1;
    }
  *out = v;
  return 0;
}

/* The address this host uses to reach the server (a connected UDP socket sends nothing);
 * of a list "URL,URL", the first. */
static char *address_towards(const char *servers)
{
  cleanup_free char *host = NULL;
  cleanup_free char *server = strndup(servers, strcspn(servers, ","));
  const char *p = server ? strstr(server, "://") : NULL;
  p = p ? p + 3 : server ? server : servers;
  const char *end = p + strcspn(p, ":/");
  const char *port = *end == ':' ? end + 1 : "80";
  host = strndup(p, (size_t)(end - p));
  cleanup_free char *portstr = strndup(port, strcspn(port, "/"));
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *ai = NULL;
  char buf[INET_ADDRSTRLEN] = "127.0.0.1";
  if (host && getaddrinfo(host, portstr, &hints, &ai) == 0)
    {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct sockaddr_in sa;
      socklen_t sl = sizeof(sa);
      if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0
          && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof(buf));
      if (fd >= 0)
        close(fd);
      freeaddrinfo(ai);
    }
  return xstrdup(buf);
}

/* ---- the real agent's start --------------------------------------------------------------- */

struct real_opts
{
  const char *join, *ca_file, *data_dir; /* the join token, where the CA is without one */
  const char *root, *pod_cidr, *bridge, *image_root, *address;
  const char *log_max, *memory, *proxy_mode;
  double log_retention, agent_port, cpu;
  bool cpu_set;
};

static json_t *real_register_body(void *arg, const char *name)
{
  struct agent_node *n = arg;
  json_t *body = agent_node_body(name, n->address, n->agent_port, n->cpu, n->memory, n->labels,
                                 n->pod_cidr_flag);
  if (n->creds.serving_cert)
    json_object_set_new(body, "agentScheme", json_string("https"));
  return body;
}

/* Register until it works (or SIGTERM): the answer gives the node's podCIDR. */
static int register_first(struct agent_node *n, int sigfd)
{
  struct client *c = client_new(n->server, n->token, 5000);
  struct agent_outage out = {0};
  int ret = -1;
  while (ret < 0)
    {
      struct skiff_err *err = NULL;
      json_t *body = real_register_body(n, n->name), *resp = NULL;
      long status = 0;
      int r = client_request(c, "POST", "/v1/nodes", body, &status, &resp, &err);
      json_decref(body);
      const char *emsg = json_string_value(json_object_get(resp, "error"));
      if (r == 0 && status == 400 && n->pod_cidr_flag && emsg
          && strstr(emsg, "podCIDR: unknown field"))
        {
          /* a server without pod CIDRs: the flag stays ours alone */
          agent_log("the server does not take podCIDR; using --pod-cidr %s locally",
                    n->pod_cidr_flag);
          n->pod_cidr = xstrdup(n->pod_cidr_flag);
          n->pod_cidr_flag = NULL;
          json_decref(resp);
          continue;
        }
      if (r == 0 && (status == 400 || status == 409) && emsg && strstr(emsg, "podCIDR"))
        {
          /* the server refused our --pod-cidr (overlaps another node's, or a reserved range):
           * a configuration error, not an outage */
          agent_log("register: %s", emsg);
          json_decref(resp);
          ret = -2;
          break;
        }
      if (r == 0 && (status == 200 || status == 201))
        {
          json_t *jc = json_object_get(resp, "podCIDR");
          const char *cidr = json_string_value(jc);
          if (cidr && *cidr)
            {
              free(n->pod_cidr);
              n->pod_cidr = xstrdup(cidr);
              n->pod_cidr_flag = n->pod_cidr; /* re-registrations keep it */
            }
          else if (jc)
            agent_log("the server has no pod CIDR left for this node; using %s (it may "
                      "overlap another node's)",
                      n->pod_cidr);
          ret = 0;
        }
      else
        {
          cleanup_free char *msg = err ? xstrdup(err->msg) : client_error_message(status, resp);
          double wait = agent_outage_failed(&out, "register", msg);
          struct pollfd p = {.fd = sigfd, .events = POLLIN};
          if (poll(&p, 1, (int)(wait * 1000)) > 0)
            {
              json_decref(resp);
              skiff_err_free(&err);
              break;
            }
        }
      json_decref(resp);
      skiff_err_free(&err);
    }
  client_free(c);
  return ret;
}

static int make_dirs(struct agent_node *n)
{
  const char *dirs[] = {n->root, n->state_root, n->data_root, n->net_dir, n->log_dir};
  cleanup_err struct skiff_err *err = NULL;
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
    if (skiff_mkdir_p(dirs[i], 0700, &err) < 0)
      {
        agent_log("--root: %s", err->msg);
        return -1;
      }
  return 0;
}

static int agent_real_run(struct agent_node *n, const struct real_opts *o)
{
  cleanup_err struct skiff_err *err = NULL;
  char *real = realpath(o->root, NULL);
  n->root = real ? real : xstrdup(o->root);
  n->state_root = xasprintf("%s/state", n->root);
  n->data_root = xasprintf("%s/data", n->root);
  n->net_dir = xasprintf("%s/net", n->root);
  n->log_dir = xasprintf("%s/logs", n->root);
  n->bridge = o->bridge;
  n->image_root = image_store_root(o->image_root);
  n->log_retention = o->log_retention;
  n->pod_cidr_flag = o->pod_cidr;
  n->pod_cidr = xstrdup(o->pod_cidr ? o->pod_cidr : AGENT_DEFAULT_POD_CIDR);
  n->address = o->address ? xstrdup(o->address) : address_towards(n->server);
  if (o->cpu_set)
    n->cpu = o->cpu;
  else
    n->cpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
  if (o->memory)
    {
      if (skiff_parse_size(o->memory, &n->memory, &err) < 0)
        {
          agent_log("--memory: %s", err->msg);
          return 2;
        }
    }
  else
    n->memory = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
  if (skiff_parse_size(o->log_max, &n->log_max, &err) < 0 || n->log_max < 4096)
    {
      agent_log("--log-max `%s`: expected a size of at least 4k", o->log_max);
      return 2;
    }
  if (strlen(n->bridge) == 0 || strlen(n->bridge) > 15 || strchr(n->bridge, '/'))
    {
      agent_log("--bridge `%s`: expected an interface name of 1-15 characters", n->bridge);
      return 2;
    }
  uint32_t network;
  int prefix;
  if (o->pod_cidr && net_parse_subnet(o->pod_cidr, &network, &prefix, &err) < 0)
    {
      agent_log("--pod-cidr: %s", err->msg);
      return 2;
    }
  if (make_dirs(n) < 0)
    return 1;
  /* who the node is: a join (or the credential saved at one), the CA with it */
  cleanup_free char *ca = NULL, *saved = xasprintf("%s/credentials.json", n->root);
  if (o->join == NULL && client_load_ca(o->ca_file, o->data_dir, &ca, &err) < 0)
    {
      agent_log("%s", err->msg);
      return 2;
    }
  if (agent_credentials_node(&n->creds, n->server, o->join, o->join ? NULL : n->token, ca, n->name,
                             n->address, saved, (const volatile int *)&agent_stopping, &err)
      < 0)
    {
      agent_log("%s", err->msg);
      return 1;
    }
  n->token = agent_credentials_for(&n->creds, n->name);

  /* Signals are read by the sync loop through a signalfd; every thread inherits the mask. */
  sigset_t sigs;
  agent_block_signals(&sigs);
  int sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

  struct agent_http *http = agent_http_start(n, (int)o->agent_port, &err);
  if (http == NULL)
    {
      agent_log("%s", err->msg);
      return 1;
    }
  int reg = register_first(n, sigfd);
  if (reg == -2)
    return 2;
  if (reg < 0)
    return 0; /* SIGTERM while the server was away */
  if (net_parse_subnet(n->pod_cidr, &network, &prefix, &err) < 0)
    {
      agent_log("podCIDR from the server: %s", err->msg);
      return 1;
    }
  agent_log("node %s registered (address %s, pod CIDR %s on bridge %s, logs on port %d), "
            "server %s, root %s",
            n->name, n->address, n->pod_cidr, n->bridge, n->agent_port, n->server, n->root);

  /* the network side: routes to the other nodes' pod CIDRs, the node-port proxy */
  struct netagent_config nc = {.server = n->server,
                               .token = n->token,
                               .node = n->name,
                               .address = n->address,
                               .proxy_mode = o->proxy_mode};
  if (netagent_start(&nc, &err) < 0)
    {
      agent_log("network side: %s", err->msg);
      return 1;
    }

  static struct agent_desired desired;
  pthread_mutex_init(&desired.lock, NULL);
  desired.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (agent_watch_start(n, &desired, &err) < 0)
    {
      agent_log("%s", err->msg);
      return 1;
    }
  struct agent_status *status = agent_status_start(n);
  static struct agent_heartbeat hb;
  static char *names[2];
  names[0] = (char *)n->name;
  hb = (struct agent_heartbeat){.server = n->server,
                                .token = n->token,
                                .interval = n->heartbeat_interval,
                                .names = names,
                                .n = 1,
                                .register_body = real_register_body,
                                .arg = n,
                                .registered = true};
  pthread_t hbt;
  pthread_create(&hbt, NULL, agent_heartbeat_thread, &hb);
  int rc = agent_sync_loop(n, &desired, status, http, sigfd);
  /* Containers stay with their monitors; threads may sit in blocking calls: leave at once,
   * as a kubelet does (the next agent on this --root adopts the containers). */
  agent_stopping = 1;
  fflush(stderr);
  _exit(rc);
}

/* ---- main ---------------------------------------------------------------------------------- */

int agent_main(int argc, char **argv)
{
  static const struct option opts[] = {
      {"server", required_argument, NULL, 's'},
      {"token", required_argument, NULL, 't'},
      {"token-file", required_argument, NULL, 'T'},
      {"join-token-file", required_argument, NULL, 'J'},
      {"ca-file", required_argument, NULL, 'C'},
      {"data", required_argument, NULL, 'd'},
      {"name", required_argument, NULL, 'n'},
      {"cpu", required_argument, NULL, 'c'},
      {"memory", required_argument, NULL, 'm'},
      {"labels", required_argument, NULL, 'l'},
      {"address", required_argument, NULL, 'a'},
      {"count", required_argument, NULL, 'N'},
      {"heartbeat-interval", required_argument, NULL, 'i'},
      {"fail-file", required_argument, NULL, 'F'},
      {"fake-runtime", no_argument, NULL, 'f'},
      {"root", required_argument, NULL, 'r'},
      {"pod-cidr", required_argument, NULL, 'P'},
      {"bridge", required_argument, NULL, 'b'},
      {"agent-port", required_argument, NULL, 'p'},
      {"image-root", required_argument, NULL, 'I'},
      {"log-max", required_argument, NULL, 'L'},
      {"log-retention", required_argument, NULL, 'R'},
      {"proxy-mode", required_argument, NULL, 'M'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *server = NULL, *token_file = NULL, *data_dir = NULL, *join_file = NULL;
  const char *labels = "", *name = NULL, *fail_file = NULL;
  cleanup_free char *file_token = NULL, *join = NULL;
  cleanup_err struct skiff_err *err = NULL;
  struct client_target target = {NULL, NULL};
  struct real_opts ro = {.root = AGENT_DEFAULT_ROOT,
                         .bridge = SKIFF_DEFAULT_BRIDGE,
                         .log_max = "10Mi",
                         .log_retention = 300,
                         .agent_port = AGENT_DEFAULT_PORT};
  double count = 1, interval = 0; /* 0: the server's heartbeatInterval */
  int fake = 0, opt, real_only = 0;
  const char *real_flag = NULL;

  optind = 0;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
    switch (opt)
      {
        case 's':
          server = optarg;
          break;
        case 't':
          /* a secret in argv shows in ps and /proc to every user of the host */
          agent_log("--token: give the credential by --token-file F or $SKIFF_TOKEN, never on "
                    "the command line");
          return 2;
        case 'T':
          token_file = optarg;
          break;
        case 'J':
          join_file = optarg;
          break;
        case 'C':
          ro.ca_file = optarg;
          break;
        case 'd':
          data_dir = optarg;
          break;
        case 'n':
          name = optarg;
          break;
        case 'c':
          if (parse_number("--cpu", optarg, 0, 1e6, &ro.cpu) < 0)
            return 2;
          ro.cpu_set = true;
          break;
        case 'm':
          ro.memory = optarg;
          break;
        case 'l':
          labels = optarg;
          break;
        case 'a':
          ro.address = optarg;
          break;
        case 'N':
          if (parse_number("--count", optarg, 1, AGENT_MAX_COUNT, &count) < 0)
            return 2;
          break;
        case 'i':
          if (parse_number("--heartbeat-interval", optarg, AGENT_HEARTBEAT_MIN, AGENT_HEARTBEAT_MAX,
                           &interval)
              < 0)
            return 2;
          break;
        case 'F':
          fail_file = optarg;
          break;
        case 'f':
          fake = 1;
          break;
        case 'r':
        case 'P':
        case 'b':
        case 'I':
        case 'L':
        case 'M':
          real_only = 1;
          real_flag = opt == 'r'   ? "--root"
                      : opt == 'P' ? "--pod-cidr"
                      : opt == 'b' ? "--bridge"
                      : opt == 'I' ? "--image-root"
                      : opt == 'M' ? "--proxy-mode"
                                   : "--log-max";
          if (opt == 'r')
            ro.root = optarg;
          else if (opt == 'P')
            ro.pod_cidr = optarg;
          else if (opt == 'b')
            ro.bridge = optarg;
          else if (opt == 'I')
            ro.image_root = optarg;
          else if (opt == 'M')
            {
              if (!netagent_proxy_mode_valid(optarg))
                {
                  agent_log("--proxy-mode `%s`: expected auto, nftables or userspace", optarg);
                  return 2;
                }
              ro.proxy_mode = optarg;
            }
          else
            ro.log_max = optarg;
          break;
        case 'p':
          real_only = 1;
          real_flag = "--agent-port";
          if (parse_number("--agent-port", optarg, 0, 65535, &ro.agent_port) < 0)
            return 2;
          break;
        case 'R':
          real_only = 1;
          real_flag = "--log-retention";
          if (parse_number("--log-retention", optarg, 0, 1e7, &ro.log_retention) < 0)
            return 2;
          break;
        case 'h':
          agent_usage(stdout);
          return 0;
        default:
          agent_log("unknown option or missing value: `%s`", argv[optind - 1]);
          agent_usage(stderr);
          return 2;
      }
  if (optind < argc)
    {
      agent_log("unexpected argument `%s`", argv[optind]);
      return 2;
    }
  if (name == NULL || *name == '\0')
    {
      agent_log("--name NODE is required");
      return 2;
    }
  if (fake && real_only)
    {
      agent_log("%s is for the real agent, not --fake-runtime", real_flag);
      return 2;
    }
  if (!fake && (count != 1 || fail_file))
    {
      agent_log("%s needs --fake-runtime", fail_file ? "--fail-file" : "--count");
      return 2;
    }
  json_t *label_obj = NULL;
  if (agent_parse_labels(labels, &label_obj, &err) < 0)
    {
      agent_log("%s", err->msg);
      return 2;
    }
  if (token_file && client_read_token_file(token_file, &file_token, &err) < 0)
    {
      agent_log("--token-file: %s", err->msg);
      json_decref(label_obj);
      return 2;
    }
  if (join_file && client_read_token_file(join_file, &join, &err) < 0)
    {
      agent_log("--join-token-file: %s", err->msg);
      json_decref(label_obj);
      return 2;
    }
  const char *env_join = getenv("SKIFF_JOIN_TOKEN");
  if (join == NULL && env_join && *env_join)
    join = xstrdup(env_join);
  if (client_load_target(server, file_token, data_dir, &target, &err) < 0)
    {
      agent_log("%s", err->msg);
      json_decref(label_obj);
      return 2;
    }
  /* the token file may hold the join token itself */
  if (join == NULL && target.token
      && strncmp(target.token, TRUST_JOIN_PREFIX, strlen(TRUST_JOIN_PREFIX)) == 0)
    {
      join = target.token;
      target.token = NULL;
    }
  ro.join = join;
  ro.data_dir = data_dir;
  if (fake)
    {
      long long mem = 0;
      if (skiff_parse_size(ro.memory ? ro.memory : "8Gi", &mem, &err) < 0)
        {
          agent_log("--memory: %s", err->msg);
          client_target_clear(&target);
          json_decref(label_obj);
          return 2;
        }
      /* each node joins (its own credential), or one credential serves them all */
      static struct agent_credentials creds;
      char **names = xzalloc((size_t)(count + 1) * sizeof(char *));
      for (long i = 0; i < (long)count; i++)
        names[i] = count == 1 ? xstrdup(name) : xasprintf("%s-%ld", name, i);
      cleanup_free char *ca = NULL;
      int r = join ? 0 : client_load_ca(ro.ca_file, data_dir, &ca, &err);
      if (r == 0 && !join)
        client_set_default_ca(ca);
      if (r == 0)
        r = agent_credentials_obtain(&creds, target.server, join, target.token, names,
                                     (size_t)count, (const volatile int *)&agent_stopping, &err);
      for (long i = 0; i < (long)count; i++)
        free(names[i]);
      free(names);
      if (r < 0)
        {
          agent_log("%s", err->msg);
          agent_credentials_free(&creds);
          client_set_default_ca(NULL);
          client_target_clear(&target);
          json_decref(label_obj);
          return 1;
        }
      struct agent_fake_config fc = {.server = target.server,
                                     .token = (char *)agent_credentials_for(&creds, NULL),
                                     .creds = &creds,
                                     .name = name,
                                     .address = ro.address ? ro.address : "127.0.0.1",
                                     .fail_file = fail_file,
                                     .labels = label_obj,
                                     .cpu = ro.cpu_set ? ro.cpu : 4,
                                     .memory = mem,
                                     .count = (long)count,
                                     .interval = interval};
      return agent_fake_run(&fc);
    }
  static struct agent_node node;
  node.server = target.server;
  node.token = target.token;
  node.name = name;
  node.labels = label_obj;
  node.heartbeat_interval = interval;
  return agent_real_run(&node, &ro);
}
