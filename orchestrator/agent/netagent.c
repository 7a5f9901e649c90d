/* netagent.c - the network side of a node (see netagent.h): the informer that mirrors the
 * server's nodes, services and replicas, and the loop that turns them into routes and proxy
 * rules.
 *
 * Threads.  The network side runs apart from the agent's sync loop because its work never
 * waits on containers and the containers' work must never wait on it: the watch stream blocks
 * in libcurl, route and listener changes are syscalls, and the proxy moves bytes all the time.
 *   watcher   lists nodes, services and replicas, then follows one watch stream; keeps the
 *             three maps (the informer cache) and marks them dirty;
 *   applier   20 ms after the maps change (a burst of watch lines becomes one pass), and every
 *             10 s anyway (flannel re-checks its routes the same way), builds the proxy table
 *             and the wanted routes from the maps and applies them;
 *   proxy     svcproxy.c's loops (one per CPU) move the bytes of 127.0.0.1 (and of the node
 *             address when the kernel does not: proxy mode userspace); the applier rewrites
 *             the nftables rules of the node address (svcnat.c).
 * Shared state: the maps, `dirty`, `synced` and `stopping`, under na->lock. */
#define _GNU_SOURCE
#include "netagent.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "client.h"
#include "hostnet.h"
#include "model.h"
#include "svcnat.h"
#include "svcproxy.h"

#define NETAGENT_DEBOUNCE_MS 20
#define NETAGENT_RESYNC_S 10.0
#define NETAGENT_RETRY_S 2.0

struct netagent
{
  char *server, *token, *node, *address;
  uint32_t self_addr;
  struct svcproxy *proxy;
  struct svcnat *nat; /* node ports on the node address in the kernel; NULL: userspace only */
  pthread_t watcher, applier;

  pthread_mutex_t lock;
  pthread_cond_t changed;              /* maps changed, or stopping */
  json_t *nodes, *services, *replicas; /* name -> object, as the server last sent them */
  bool dirty, synced, stopping;
  volatile int cancel; /* makes the watcher's blocked HTTP calls give up */
};

static struct netagent *running;

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait on na->changed until `until` (monotonic seconds) with the lock held. */
static void wait_until(struct netagent *na, double until)
{
  struct timespec ts;
  double s = until > 1e12 ? 1e12 : until;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  pthread_cond_timedwait(&na->changed, &na->lock, &ts);
}

/* ---- watcher: the informer ---------------------------------------------------------------- */

static int list_into(struct client *c, const char *path, json_t **map, json_int_t *rev,
                     struct skiff_err **err)
{
  json_t *list = NULL, *item;
  size_t i;
  if (client_call(c, "GET", path, NULL, NULL, &list, err) < 0)
    return -1;
  *map = json_object();
  json_array_foreach(json_object_get(list, "items"), i, item)
  {
    const char *name = model_str(item, "name", "");
    if (*name)
      json_object_set(*map, name, item);
  }
  *rev = json_integer_value(json_object_get(list, "revision"));
  json_decref(list);
  return 0;
}

static int on_watch_line(json_t *ev, void *data)
{
  struct netagent *na = data;
  const char *type = model_str(ev, "type", ""), *kind = model_str(ev, "kind", "");
  json_t *obj = json_object_get(ev, "object");
  const char *name = model_str(obj, "name", "");
  json_t *map = strcmp(kind, "node") == 0      ? na->nodes
                : strcmp(kind, "service") == 0 ? na->services
                : strcmp(kind, "replica") == 0 ? na->replicas
                                               : NULL;
  if (map == NULL || *name == '\0')
    return na->cancel; /* events, bookmarks */
  bool deleted = strcmp(type, "DELETED") == 0;
  int64_t rev = deleted ? model_int(ev, "revision", 0) : model_int(obj, "revision", 0);
  pthread_mutex_lock(&na->lock);
  json_t *cur = json_object_get(map, name);
  /* The watch starts at the oldest of the three lists: skip what a list already had. */
  if (cur == NULL || model_int(cur, "revision", 0) < rev)
    {
      if (deleted)
        json_object_del(map, name);
      else
        json_object_set(map, name, obj);
      na->dirty = true;
      pthread_cond_broadcast(&na->changed);
    }
  pthread_mutex_unlock(&na->lock);
  return na->cancel;
}

static void report_outage(const char *what, int *down, struct skiff_err **err)
{
  if (*err && !*down)
    skiff_report("network: %s: %s (retrying)", what, (*err)->msg);
  if (*err == NULL && *down)
    skiff_report("network: %s: server reachable again", what);
  *down = *err != NULL;
  skiff_err_free(err);
}

static void *watcher_main(void *arg)
{
  struct netagent *na = arg;
  struct client *c = client_new(na->server, na->token, 30000);
  int down = 0;
  client_set_cancel(c, &na->cancel);
  while (!na->cancel)
    {
      struct skiff_err *err = NULL;
      json_t *nodes = NULL, *services = NULL, *replicas = NULL;
      json_int_t r1 = 0, r2 = 0, r3 = 0;
      if (list_into(c, "/v1/nodes", &nodes, &r1, &err) == 0
          && list_into(c, "/v1/services", &services, &r2, &err) == 0
          && list_into(c, "/v1/replicas", &replicas, &r3, &err) == 0)
        {
          report_outage("list", &down, &err);
          pthread_mutex_lock(&na->lock);
          json_decref(na->nodes);
          json_decref(na->services);
          json_decref(na->replicas);
          na->nodes = nodes;
          na->services = services;
          na->replicas = replicas;
          na->dirty = na->synced = true;
          pthread_cond_broadcast(&na->changed);
          pthread_mutex_unlock(&na->lock);
          json_int_t from = r1 < r2 ? r1 : r2;
          cleanup_free char *path
              = xasprintf("/v1/watch?from=%lld", (long long)(from < r3 ? from : r3));
          /* Ends on a server restart, a 410 after compaction, or a dead connection: list
           * again. */
          if (client_stream(c, path, on_watch_line, na, &err) == 0)
            continue;
          if (na->cancel)
            {
              skiff_err_free(&err); /* stopping: the abort is ours */
              break;
            }
          report_outage("watch", &down, &err);
        }
      else
        {
          json_decref(nodes);
          json_decref(services);
          json_decref(replicas);
          if (na->cancel)
            {
              skiff_err_free(&err);
              break;
            }
          report_outage("list", &down, &err);
        }
      pthread_mutex_lock(&na->lock);
      if (!na->stopping)
        wait_until(na, now_s() + 1);
      pthread_mutex_unlock(&na->lock);
    }
  client_free(c);
  return NULL;
}

/* ---- applier: the sync of routes and proxy ------------------------------------------------ */

static bool has_ready_port(const struct svc_table *t)
{
  for (size_t i = 0; i < t->n_ports; i++)
    if (t->ports[i].n_ready)
      return true;
  return false;
}

static void *applier_main(void *arg)
{
  struct netagent *na = arg;
  struct hostnet_state hs = {NULL, 0, 0};
  double resync_at = 0, retry_at = 1e18;
  bool nat_failed = false;
  int forward_on = 0;

  pthread_mutex_lock(&na->lock);
  while (!na->stopping)
    {
      double next = resync_at < retry_at ? resync_at : retry_at;
      if (!na->dirty && now_s() < next)
        wait_until(na, next);
      if (na->stopping)
        break;
      if (!na->dirty && now_s() < next)
        continue;
      if (na->dirty)
        {
          pthread_mutex_unlock(&na->lock);
          struct timespec ts = {0, NETAGENT_DEBOUNCE_MS * 1000000L};
          nanosleep(&ts, NULL);
          pthread_mutex_lock(&na->lock);
        }
      na->dirty = false;
      if (!na->synced)
        {
          resync_at = now_s() + NETAGENT_RESYNC_S;
          continue;
        }
      struct svc_table *t = svc_table_build(na->services, na->replicas);
      struct hostnet_route *routes = NULL;
      size_t n_routes = hostnet_desired(na->nodes, na->node, na->self_addr, &routes);
      pthread_mutex_unlock(&na->lock);

      cleanup_err struct skiff_err *err = NULL;
      int failed = 0;
      if (na->nat && svcnat_update(na->nat, t, &err) < 0)
        {
          failed = 1;
          if (!nat_failed)
            skiff_report("node ports: %s (retrying)", err->msg);
          nat_failed = true;
          skiff_err_free(&err);
        }
      else if (na->nat)
        {
          nat_failed = false;
          if (has_ready_port(t))
            hostnet_forwarding_on(&forward_on, "node ports: connections to the node address "
                                               "are forwarded to replicas");
        }
      failed += svcproxy_update(na->proxy, t);
      int rfailed = hostnet_sync(&hs, routes, n_routes, &err);
      if (rfailed < 0)
        skiff_report("host-gw: %s", err->msg);
      free(routes);
      resync_at = now_s() + NETAGENT_RESYNC_S;
      retry_at = failed || rfailed ? now_s() + NETAGENT_RETRY_S : 1e18;
      pthread_mutex_lock(&na->lock);
    }
  pthread_mutex_unlock(&na->lock);
  hostnet_state_clear(&hs);
  return NULL;
}

/* ---- start / stop ------------------------------------------------------------------------- */

static void netagent_free(struct netagent *na)
{
  svcproxy_stop(na->proxy);
  svcnat_close(na->nat);
  json_decref(na->nodes);
  json_decref(na->services);
  json_decref(na->replicas);
  pthread_cond_destroy(&na->changed);
  pthread_mutex_destroy(&na->lock);
  free(na->server);
  free(na->token);
  free(na->node);
  free(na->address);
  free(na);
}

bool netagent_proxy_mode_valid(const char *mode)
{
  return mode == NULL || strcmp(mode, "auto") == 0 || strcmp(mode, "nftables") == 0
         || strcmp(mode, "userspace") == 0;
}

/* The node ports: in the kernel on the node address when the mode allows and nftables works
 * here, the userspace proxy on 127.0.0.1 (and on the node address otherwise). */
static int start_node_ports(const struct netagent_config *cfg, struct netagent *na,
                            struct skiff_err **err)
{
  const char *mode = cfg->proxy_mode && *cfg->proxy_mode ? cfg->proxy_mode : "auto";
  bool kernel_ok = na->self_addr != 0 && (na->self_addr >> 24) != 127;
  cleanup_err struct skiff_err *nerr = NULL;

  if (!netagent_proxy_mode_valid(mode))
    return skiff_error(err, 0, "network: proxy mode `%s`: expected auto, nftables or userspace",
                       mode);
  if (strcmp(mode, "nftables") == 0 && !kernel_ok)
    return skiff_error(err, 0,
                       "network: proxy mode nftables needs a node address that is not "
                       "loopback (--address)");
  if (strcmp(mode, "userspace") != 0 && kernel_ok
      && svcnat_open(cfg->node, na->self_addr, &na->nat, &nerr) < 0)
    {
      if (strcmp(mode, "nftables") == 0)
        return skiff_error(err, 0, "network: proxy mode nftables: %s", nerr->msg);
      skiff_report("node ports: %s: the userspace proxy serves the node address", nerr->msg);
    }
  if (svcproxy_start(na->nat ? NULL : cfg->address, cfg->proxy_workers, cfg->max_conns, &na->proxy,
                     err)
      < 0)
    {
      svcnat_close(na->nat);
      return -1;
    }
  if (na->nat)
    {
      cleanup_free char *table = svcnat_table_name(cfg->node);
      skiff_report("node ports: nftables DNAT on %s (table ip %s), userspace proxy on 127.0.0.1",
                   cfg->address, table);
    }
  else
    skiff_report("node ports: userspace proxy on 127.0.0.1%s%s", kernel_ok ? " and " : "",
                 kernel_ok ? cfg->address : "");
  return 0;
}

int netagent_start(const struct netagent_config *cfg, struct skiff_err **err)
{
  struct netagent *na;
  pthread_condattr_t ca;
  struct sigaction old;
  struct rlimit rl;

  if (running)
    return skiff_error(err, 0, "network: already started");
  if (cfg->server == NULL || *cfg->server == '\0')
    return skiff_error(err, 0, "network: no server URL");
  if (cfg->node == NULL || !model_name_valid(cfg->node, 63))
    return skiff_error(err, 0, "network: node name `%s` is not valid", cfg->node ? cfg->node : "");
  na = xzalloc(sizeof(*na));
  if (cfg->address && *cfg->address && cidr_parse_addr(cfg->address, &na->self_addr) < 0)
    {
      free(na);
      return skiff_error(err, 0, "network: node address `%s` is not an IPv4 address", cfg->address);
    }
  if (start_node_ports(cfg, na, err) < 0)
    {
      free(na);
      return -1;
    }
  na->server = xstrdup(cfg->server);
  na->token = cfg->token ? xstrdup(cfg->token) : NULL;
  na->node = xstrdup(cfg->node);
  na->address = xstrdup(cfg->address ? cfg->address : "");
  na->nodes = json_object();
  na->services = json_object();
  na->replicas = json_object();
  pthread_mutex_init(&na->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&na->changed, &ca);
  pthread_condattr_destroy(&ca);

  if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
    signal(SIGPIPE, SIG_IGN);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }

  int rc = pthread_create(&na->applier, NULL, applier_main, na);
  if (rc != 0)
    {
      netagent_free(na);
      return skiff_error(err, rc, "network: start the applier thread");
    }
  rc = pthread_create(&na->watcher, NULL, watcher_main, na);
  if (rc != 0)
    {
      pthread_mutex_lock(&na->lock);
      na->stopping = true;
      pthread_cond_broadcast(&na->changed);
      pthread_mutex_unlock(&na->lock);
      pthread_join(na->applier, NULL);
      netagent_free(na);
      return skiff_error(err, rc, "network: start the watch thread");
    }
  running = na;
  return 0;
}

void netagent_stop(void)
{
  struct netagent *na = running;
  if (na == NULL)
    return;
  running = NULL;
  pthread_mutex_lock(&na->lock);
  na->stopping = true;
  na->cancel = 1;
  pthread_cond_broadcast(&na->changed);
  pthread_mutex_unlock(&na->lock);
  pthread_join(na->applier, NULL);
  pthread_join(na->watcher, NULL);
  netagent_free(na);
}
