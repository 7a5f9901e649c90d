/* server.c - `skiffd server`: flags, the bearer token, the in-memory view of the store and
 * the watch cache (both fed by the store's commit callback), and the one event loop that runs
 * libmicrohttpd (external polling, epoll) and the controller tick. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <microhttpd.h>
#include "model.h"
#include "server.h"

double srv_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *srv_encode(json_t *obj)
{
  json_t *copy = json_copy(obj);
  json_object_del(copy, "revision");
  json_object_del(copy, "createdRevision");
  char *s = json_dumps(copy, JSON_COMPACT | JSON_REAL_PRECISION(9));
  json_decref(copy);
  return s;
}

static const char *kind_name(char kind)
{
  switch (kind)
    {
      case 's':
        return "service";
      case 'r':
        return "replica";
      case 'n':
        return "node";
      default:
        return "event";
    }
}

static void ring_push(struct orch_server *srv, struct srv_watch_entry *e)
{
  size_t idx = (srv->ring_head + srv->ring_len) % SRV_WATCH_RING;
  if (srv->ring_len == SRV_WATCH_RING)
    {
      struct srv_watch_entry *old = &srv->ring[srv->ring_head];
      srv->ring_floor = old->rev;
      srv_watch_entry_clear(old);
      srv->ring_head = (srv->ring_head + 1) % SRV_WATCH_RING;
      idx = (srv->ring_head + srv->ring_len - 1) % SRV_WATCH_RING;
    }
  else
    srv->ring_len++;
  srv->ring[idx] = *e;
}

void srv_watch_entry_clear(struct srv_watch_entry *e)
{
  free(e->name);
  free(e->node);
  free(e->service);
  free(e->line);
  memset(e, 0, sizeof(*e));
}

void srv_render_event(const struct store_event *ev, json_t *obj, char kind, const char *name,
                      struct srv_watch_entry *e)
{
  const char *type = ev->type == STORE_DELETE              ? "DELETED"
                     : ev->kv.create_rev == ev->kv.mod_rev ? "ADDED"
                                                           : "MODIFIED";
  json_t *line = json_pack("{s:s,s:s,s:I,s:O}", "type", type, "kind", kind_name(kind), "revision",
                           (json_int_t)ev->rev, "object", obj);
  *e = (struct srv_watch_entry){.rev = ev->rev, .kind = kind, .name = xstrdup(name)};
  if (kind == 'r')
    {
      e->node = xstrdup(model_str(obj, "node", ""));
      e->service = xstrdup(model_str(obj, "service", ""));
    }
  char *s = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(9));
  e->line = xasprintf("%s\n", s);
  e->len = strlen(e->line);
  free(s);
  json_decref(line);
}

json_t *srv_event_object(const struct store_event *ev, char *kind, const char **name)
{
  static const struct
  {
    const char *prefix;
    char kind;
  } kinds[] = {{"/services/", 's'}, {"/replicas/", 'r'}, {"/nodes/", 'n'}, {"/events/", 'e'}};
  json_t *obj = NULL;
  for (size_t i = 0; i < 4 && obj == NULL; i++)
    if (strncmp(ev->kv.key, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
      {
        *kind = kinds[i].kind;
        *name = ev->kv.key + strlen(kinds[i].prefix);
        obj = ev->kv.value ? json_loads(ev->kv.value, 0, NULL) : NULL;
        if (obj == NULL)
          obj = json_pack("{s:s}", "name", *name);
      }
  if (obj == NULL)
    return NULL;
  json_object_set_new(obj, "revision", json_integer(ev->rev));
  if (*kind == 'r')
    json_object_set_new(obj, "createdRevision", json_integer(ev->kv.create_rev));
  return obj;
}

/* The store's commit callback: keep the view equal to the store and render watch lines. */
static void on_commit(void *data, const struct store_event *ev, size_t n)
{
  struct orch_server *srv = data;
  for (size_t i = 0; i < n; i++)
    {
      char kind;
      const char *name;
      json_t *obj = srv_event_object(&ev[i], &kind, &name);
      if (obj == NULL)
        {
          leader_on_change(srv, ev[i].kv.key, ev[i].kv.value, ev[i].rev,
                           ev[i].type == STORE_DELETE);
          continue;
        }
      if (kind == 'e' && ev[i].type == STORE_PUT && model_int(obj, "seq", 0) > srv->event_seq)
        srv->event_seq = model_int(obj, "seq", 0); /* events of other servers */
      json_t *map = kind == 's'   ? srv->services
                    : kind == 'r' ? srv->replicas
                    : kind == 'n' ? srv->nodes
                                  : srv->events;
      if (kind == 's' || kind == 'n' || (kind == 'r' && ev[i].type == STORE_DELETE))
        srv->sched_retry = true;
      if (kind == 's')
        json_object_set_new(srv->dirty_services, name, json_true());
      else if (kind == 'r')
        json_object_set_new(srv->dirty_services, model_str(obj, "service", ""), json_true());
      else if (kind == 'n')
        srv->all_dirty = srv->nodes_changed = true;
      if (ev[i].type == STORE_PUT)
        json_object_set(map, name, obj);
      else
        json_object_del(map, name);
      /* Trimming old Events is housekeeping: not worth a line in every watch stream. */
      if (kind == 'e' && ev[i].type == STORE_DELETE)
        {
          json_decref(obj);
          continue;
        }
      struct srv_watch_entry e;
      srv_render_event(&ev[i], obj, kind, name, &e);
      json_decref(obj);
      ring_push(srv, &e);
    }
  srv->dirty = true;
  srv->watch_dirty = true;
}

int srv_commit(struct orch_server *srv, struct store_op *ops, size_t n, size_t *failed,
               struct skiff_err **err)
{
  /* A txn holds at most STORE_TXN_MAX_OPS ops (etcd's limit, kept on every backend): a
   * larger batch (a controller tick, a drain) goes in chunks, each atomic.  The ops of such
   * batches are independent compare-and-swaps, so a chunk that conflicts does not stop the
   * others: the first conflict is reported, the rest is committed.  Controller writes carry
   * the leader fence (leader.c) as their first op. */
  struct store_op chunk[STORE_TXN_MAX_OPS];
  size_t fence = srv->fence_writes && leader_fence(srv, &chunk[0]) ? 1 : 0;
  size_t per = STORE_TXN_MAX_OPS - fence;
  int ret = 0;
  for (size_t off = 0; off < n; off += per)
    {
      size_t k = n - off < per ? n - off : per, f = 0;
      memcpy(chunk + fence, ops + off, k * sizeof(*ops));
      int r = store_txn(srv->store, chunk, k + fence, &f, NULL, err);
      if (r < 0)
        return -1;
      if (r == STORE_CONFLICT && fence && f == 0)
        {
          leader_fence_failed(srv); /* no longer the leader: write nothing more */
          return STORE_CONFLICT;
        }
      if (r == STORE_CONFLICT && ret == 0)
        {
          ret = STORE_CONFLICT;
          if (failed)
            *failed = off + f - fence;
        }
    }
  return ret;
}

void srv_event(struct orch_server *srv, const char *type, const char *kind, const char *object,
               const char *reason, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  int64_t seq = ++srv->event_seq;
  cleanup_free char *now = model_time_string(time(NULL));
  json_t *ev = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)seq, "time", now,
                         "type", type, "kind", kind, "object", object, "reason", reason, "message",
                         msg ? msg : "");
  json_array_append_new(srv->event_queue, ev);
}

void srv_flush_events(struct orch_server *srv)
{
  size_t n = json_array_size(srv->event_queue);
  if (n == 0)
    return;
  /* One txn for every queued event, each trimming the one SRV_EVENTS_KEEP older. */
  struct store_op *ops = xzalloc(2 * n * sizeof(*ops));
  char **bufs = xzalloc(3 * n * sizeof(char *));
  size_t nops = 0, nb = 0;
  int64_t first = model_int(json_array_get(srv->event_queue, 0), "seq", 0);
  for (size_t i = 0; i < n; i++)
    {
      json_t *ev = json_array_get(srv->event_queue, i);
      int64_t seq = model_int(ev, "seq", 0), old = seq - SRV_EVENTS_KEEP;
      char *val = bufs[nb++] = srv_encode(ev);
      char *key = bufs[nb++] = xasprintf("/events/%020lld", (long long)seq);
      ops[nops++] = (struct store_op){STORE_PUT, key, val, strlen(val), STORE_ANY_REV};
      char *oldname = xasprintf("%020lld", (long long)old);
      if (old > 0 && (old >= first || json_object_get(srv->events, oldname)))
        {
          char *okey = bufs[nb++] = xasprintf("/events/%s", oldname);
          ops[nops++]
              = (struct store_op){.type = STORE_DELETE, .key = okey, .expect_rev = STORE_ANY_REV};
        }
      free(oldname);
    }
  json_array_clear(srv->event_queue);
  cleanup_err struct skiff_err *err = NULL;
  if (srv_commit(srv, ops, nops, NULL, &err) < 0)
    fprintf(stderr, "skiffd: events: %s\n", err->msg);
  for (size_t i = 0; i < nb; i++)
    free(bufs[i]);
  free(bufs);
  free(ops);
}

json_t *srv_node_allocations(struct orch_server *srv)
{
  json_t *alloc = json_object();
  const char *name;
  json_t *r;
  json_object_foreach(srv->replicas, name, r)
  {
    const char *node = model_str(r, "node", "");
    int st = model_replica_state_parse(model_str(r, "state", ""));
    if (*node == '\0'
        || !(st == REPLICA_SCHEDULED || st == REPLICA_STARTING || st == REPLICA_RUNNING
             || st == REPLICA_BACKOFF || st == REPLICA_TERMINATING))
      continue;
    json_t *a = json_object_get(alloc, node);
    if (a == NULL)
      {
        a = json_pack("{s:I,s:I,s:I}", "cpu", (json_int_t)0, "mem", (json_int_t)0, "replicas",
                      (json_int_t)0);
        json_object_set_new(alloc, node, a);
      }
    json_t *res = json_object_get(json_object_get(r, "spec"), "resources");
    json_object_set_new(
        a, "cpu",
        json_integer(model_int(a, "cpu", 0) + model_cpu_milli(json_object_get(res, "cpu"))));
    json_object_set_new(
        a, "mem",
        json_integer(model_int(a, "mem", 0) + model_memory_bytes(json_object_get(res, "memory"))));
    json_object_set_new(a, "replicas", json_integer(model_int(a, "replicas", 0) + 1));
  }
  return alloc;
}

json_t *srv_node_view(struct orch_server *srv, json_t *node, json_t *alloc)
{
  json_t *v = json_deep_copy(node);
  const char *name = model_str(node, "name", "");
  json_t *a = json_object_get(alloc, name);
  int64_t cpu = model_int(a, "cpu", 0), mem = model_int(a, "mem", 0);
  json_t *cap = json_object_get(node, "capacity");
  int64_t ccpu = model_cpu_milli(json_object_get(cap, "cpu"));
  int64_t cmem = model_memory_bytes(json_object_get(cap, "memory"));
  cleanup_free char *ms = model_format_memory(mem);
  cleanup_free char *fs = model_format_memory(cmem > mem ? cmem - mem : 0);
  json_object_set_new(v, "allocated",
                      json_pack("{s:f,s:s,s:I}", "cpu", (double)cpu / 1000.0, "memory", ms,
                                "replicas", (json_int_t)model_int(a, "replicas", 0)));
  json_object_set_new(
      v, "allocatable",
      json_pack("{s:f,s:s}", "cpu", (double)(ccpu > cpu ? ccpu - cpu : 0) / 1000.0, "memory", fs));
  json_t *hb = json_object_get(srv->heartbeats, name);
  if (hb)
    {
      time_t wall = time(NULL) - (time_t)(srv_now() - json_real_value(hb));
      cleanup_free char *ts = model_time_string(wall);
      json_object_set_new(v, "lastHeartbeat", json_string(ts));
    }
  else
    json_object_set_new(v, "lastHeartbeat", json_null());
  return v;
}

/* ---- startup ---- */

/* One range over every key: the view is one snapshot, at the revision after which the
 * store's commit callback takes over (store.h). */
static int load_view(struct orch_server *srv, struct skiff_err **err)
{
  struct
  {
    const char *prefix;
    json_t *map;
  } kinds[] = {{"/services/", srv->services},
               {"/replicas/", srv->replicas},
               {"/nodes/", srv->nodes},
               {"/events/", srv->events}};
  struct store_kv *kvs = NULL;
  size_t n = 0;
  if (store_range(srv->store, "/", &kvs, &n, NULL, err) < 0)
    return -1;
  for (size_t k = 0; k < 4; k++)
    json_object_clear(kinds[k].map);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < 5; k++)
      {
        if (k == 4)
          {
            leader_on_change(srv, kvs[i].key, kvs[i].value, kvs[i].mod_rev, false);
            break;
          }
        size_t plen = strlen(kinds[k].prefix);
        if (strncmp(kvs[i].key, kinds[k].prefix, plen) != 0)
          continue;
        json_t *obj = json_loads(kvs[i].value, 0, NULL);
        if (obj == NULL)
          break;
        json_object_set_new(obj, "revision", json_integer(kvs[i].mod_rev));
        if (k == 1)
          json_object_set_new(obj, "createdRevision", json_integer(kvs[i].create_rev));
        json_object_set_new(kinds[k].map, kvs[i].key + plen, obj);
        if (k == 3 && model_int(obj, "seq", 0) > srv->event_seq)
          srv->event_seq = model_int(obj, "seq", 0);
        break;
      }
  store_kvs_free(kvs, n);
  return 0;
}

/* The store lost the thread of changes (compacted while etcd was out of reach): list again,
 * and let every watcher whose cursor is now older than the ring start over (410). */
static void on_resync(void *data)
{
  struct orch_server *srv = data;
  cleanup_err struct skiff_err *err = NULL;
  fprintf(stderr, "skiffd: store history compacted past our view: listing again\n");
  if (load_view(srv, &err) < 0)
    {
      fprintf(stderr, "skiffd: relist: %s\n", err->msg);
      return;
    }
  for (size_t i = 0; i < srv->ring_len; i++)
    srv_watch_entry_clear(&srv->ring[(srv->ring_head + i) % SRV_WATCH_RING]);
  srv->ring_head = srv->ring_len = 0;
  srv->ring_floor = store_revision(srv->store);
  srv->all_dirty = srv->nodes_changed = srv->sched_retry = srv->dirty = true;
  srv->watch_dirty = true;
}

static int load_token(struct orch_server *srv, struct skiff_err **err)
{
  cleanup_free char *path = xasprintf("%s/token", srv->data_dir);
  char *tok = NULL;
  if (skiff_read_file(path, &tok, NULL, NULL) == 0)
    {
      tok[strcspn(tok, "\r\n")] = '\0';
      if (strlen(tok) >= 16)
        {
          chmod(path, 0600);
          srv->token = tok;
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
  srv->token = xstrdup(hex);
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
             "                     [--node-grace S] [--store sqlite|etcd:URL[,URL...]]\n"
             "                     [--etcd-prefix P] [--name N] [--advertise URL] "
             "[--leader-lease S]\n"
             "  --listen              API address (default 127.0.0.1:7070)\n"
             "  --data                data directory: store.db and token (default "
             "/var/lib/skiffd)\n"
             "  --store               sqlite (default: DATA/store.db) or etcd:http://H:P,... "
             "(several servers)\n"
             "  --etcd-prefix         etcd key prefix of every skiff key (default /skiff/)\n"
             "  --name                this server's name among several (default HOST:PORT)\n"
             "  --advertise           URL other servers and clients reach it at (default "
             "http://LISTEN)\n"
             "  --leader-lease        leader lease TTL in seconds (default 3)\n"
             "  --heartbeat-interval  heartbeat period agents are told to use (default 1)\n"
             "  --node-grace          missed-heartbeat time before a node is NotReady "
             "(default 5)\n");
}

static void server_free(struct orch_server *srv)
{
  for (size_t i = 0; i < srv->ring_len; i++)
    {
      struct srv_watch_entry *e = &srv->ring[(srv->ring_head + i) % SRV_WATCH_RING];
      free(e->name);
      free(e->node);
      free(e->service);
      free(e->line);
    }
  free(srv->ring);
  json_decref(srv->services);
  json_decref(srv->replicas);
  json_decref(srv->nodes);
  json_decref(srv->events);
  json_decref(srv->heartbeats);
  json_decref(srv->progress);
  json_decref(srv->event_queue);
  json_decref(srv->dirty_services);
  json_decref(srv->replace_backoff);
  leader_free(srv);
  store_close(srv->store);
  free(srv->token);
  free(srv->data_dir);
}

static int run_loop(struct orch_server *srv, struct MHD_Daemon *d, int sigfd)
{
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
  int efd = info ? info->epoll_fd : -1;
  double last_tick = 0, tick_cost = 0, last_compact = srv_now(), last_wake = srv_now();
  for (;;)
    {
      double now = srv_now();
      int timeout = 100;
      MHD_UNSIGNED_LONG_LONG mto;
      if (MHD_get_timeout(d, &mto) == MHD_YES && mto < (MHD_UNSIGNED_LONG_LONG)timeout)
        timeout = (int)mto;
      if ((srv->dirty || srv->watch_dirty) && timeout > 10)
        timeout = 10;
      struct pollfd pfd[3] = {{.fd = efd, .events = POLLIN},
                              {.fd = sigfd, .events = POLLIN},
                              {.fd = store_poll_fd(srv->store), .events = POLLIN}};
      if (poll(pfd, pfd[2].fd >= 0 ? 3 : 2, timeout) < 0 && errno != EINTR)
        return skiff_error(NULL, errno, "poll");
      if (pfd[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read(sigfd, &si, sizeof(si)) > 0)
            return 0;
        }
      double busy_start = srv_now();
      /* Changes other servers made (etcd): into the view and the watch ring, in order. */
      cleanup_err struct skiff_err *perr = NULL;
      if ((pfd[2].revents & POLLIN) && store_poll(srv->store, &perr) < 0)
        fprintf(stderr, "skiffd: store: %s\n", perr->msg);
      MHD_run(d);
      now = srv_now();
      leader_step(srv, now);
      /* The controller runs 20 ms after a change at the soonest (and never more than a quarter
       * of the time: the gap is at least three times its last run), and at least every 0.5 s for
       * heartbeat deadlines and rollout progress. */
      double gap = tick_cost * 3 > 0.02 ? tick_cost * 3 : 0.02;
      /* Only the leader runs controllers (leader.c), its writes fenced on its leader key. */
      if (leader_leading(srv) && ((srv->dirty && now - last_tick >= gap) || now - last_tick >= 0.5))
        {
          srv->dirty = false;
          srv->fence_writes = true;
          controller_tick(srv, now);
          srv->fence_writes = false;
          last_tick = now;
          tick_cost = srv_now() - now;
        }
      /* Watch streams wake at most every 10 ms (changes batch up), and every second so idle
       * streams send their bookmarks. */
      if ((srv->watch_dirty && now - last_wake >= 0.01) || now - last_wake >= 1.0)
        {
          srv->watch_dirty = false;
          last_wake = now;
          api_wake_watchers(srv);
          MHD_run(d);
        }
      /* Heartbeats that waited in socket buffers while this loop was busy are not the nodes'
       * fault: forgive a stall of over a second by moving every heartbeat forward by it. */
      double stall = srv_now() - busy_start;
      if (stall > 1.0)
        {
          const char *name;
          json_t *hb;
          json_object_foreach(srv->heartbeats, name, hb)
          {
            json_real_set(hb, json_real_value(hb) + stall);
          }
        }
      if (now - last_compact >= 60 && leader_leading(srv))
        {
          int64_t rev = store_revision(srv->store) - 100000;
          cleanup_err struct skiff_err *err = NULL;
          if (rev > store_compacted(srv->store) && store_compact(srv->store, rev, &err) < 0)
            fprintf(stderr, "skiffd: compact: %s\n", err->msg);
          last_compact = now;
        }
    }
}

int server_main(int argc, char **argv)
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
                                       {"help", no_argument, NULL, 'H'},
                                       {NULL, 0, NULL, 0}};
  const char *listen = "127.0.0.1:7070", *data = "/var/lib/skiffd";
  const char *store_spec = NULL, *etcd_prefix = "/skiff/", *name = NULL, *advertise = NULL;
  double lease_ttl = 3;
  struct orch_server srv = {.heartbeat_interval = 1, .node_grace = 5};
  cleanup_err struct skiff_err *err = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
        case 'l':
          listen = optarg;
          break;
        case 'd':
          data = optarg;
          break;
        case 's':
          store_spec = optarg;
          break;
        case 'p':
          etcd_prefix = optarg;
          break;
        case 'n':
          name = optarg;
          break;
        case 'a':
          advertise = optarg;
          break;
        case 't':
          if (parse_seconds(optarg, "--leader-lease", &lease_ttl, &err) < 0 || lease_ttl < 1)
            {
              fprintf(stderr, "skiffd server: %s\n",
                      err ? err->msg : "--leader-lease: at least 1 second");
              return 2;
            }
          break;
        case 'h':
        case 'g':
          if (parse_seconds(optarg, c == 'h' ? "--heartbeat-interval" : "--node-grace",
                            c == 'h' ? &srv.heartbeat_interval : &srv.node_grace, &err)
              < 0)
            {
              fprintf(stderr, "skiffd server: %s\n", err->msg);
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

  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  srv.data_dir = xstrdup(data);
  srv.services = json_object();
  srv.replicas = json_object();
  srv.nodes = json_object();
  srv.events = json_object();
  srv.heartbeats = json_object();
  srv.progress = json_object();
  srv.event_queue = json_array();
  srv.dirty_services = json_object();
  srv.replace_backoff = json_object();
  srv.ring = xzalloc(SRV_WATCH_RING * sizeof(*srv.ring));
  srv.start_mono = srv_now();
  int ret = 1;
  struct MHD_Daemon *d = NULL;
  int sigfd = -1;
  srv.listen = listen;
  if (skiff_mkdir_p(data, 0700, &err) < 0
      || store_open(store_spec, data, etcd_prefix, &srv.store, &err) < 0)
    goto out;
  leader_init(&srv, name, advertise, lease_ttl);
  if (load_token(&srv, &err) < 0 || leader_share_token(&srv, &err) < 0 || load_view(&srv, &err) < 0)
    goto out;
  srv.ring_floor = store_revision(srv.store);
  store_set_notify(srv.store, on_commit, &srv);
  store_set_resync(srv.store, on_resync, &srv);
  d = api_start(&srv, listen, &err);
  if (d == NULL)
    goto out;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  fprintf(stderr, "skiffd: listening on %s, data %s, store %s%s%s, revision %lld\n", listen, data,
          store_backend(srv.store), store_spec && strncmp(store_spec, "etcd:", 5) == 0 ? " " : "",
          store_spec && strncmp(store_spec, "etcd:", 5) == 0 ? store_spec + 5 : "",
          (long long)store_revision(srv.store));
  ret = run_loop(&srv, d, sigfd) < 0 ? 1 : 0;
  leader_resign(&srv);
out:
  if (err)
    fprintf(stderr, "skiffd server: %s\n", err->msg);
  if (d)
    api_stop(&srv, d);
  if (sigfd >= 0)
    close(sigfd);
  server_free(&srv);
  return ret;
}
