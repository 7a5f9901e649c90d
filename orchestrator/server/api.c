/* api.c - the HTTP/JSON API of `skiffd server` on libmicrohttpd (routes in API.md): TLS,
 * connection limits, JSON errors, routing, /metrics and /healthz, and the shared response
 * helpers.  Every request passes the gate of api_auth.c on its headers (who, may they, how
 * big a body) before a byte of its body is read.  Routes live in api_services.c,
 * api_cluster.c (replicas, nodes, events), api_watch.c and api_auth.c (CA, join, tokens).  Reads
 * come from the cluster's view (equal to the store, see cluster.h); writes go through
 * cluster_commit with compare-and-swap.  Owns the HTTP metrics. */
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <string.h>
#include <microhttpd.h>
#include "api_internal.h"
#include "model.h"

/* ---- responses ---- */

static enum MHD_Result send_text(struct api *api, struct MHD_Connection *c, unsigned code,
                                 const char *ctype, char *text, const char *allow)
{
  struct MHD_Response *r
      = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", ctype);
  if (allow)
    MHD_add_response_header(r, "Allow", allow);
  if (code == 401)
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  api_count_status(api, code);
  return ret;
}

void api_count_status(struct api *api, unsigned code)
{
  if (code / 100 < 6)
    api->http_count[code / 100]++;
  api->http_401 += code == 401;
  api->http_403 += code == 403;
  api->http_413 += code == 413;
  api->http_404 += code == 404;
  api->http_409 += code == 409;
}

enum MHD_Result api_send_text(struct api *api, struct MHD_Connection *c, unsigned code,
                              char *json_text)
{
  size_t n = strlen(json_text);
  json_text = xrealloc(json_text, n + 2);
  json_text[n] = '\n';
  json_text[n + 1] = '\0';
  return send_text(api, c, code, "application/json", json_text, NULL);
}

enum MHD_Result api_send_json(struct api *api, struct MHD_Connection *c, unsigned code,
                              json_t *body)
{
  char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));
  json_decref(body);
  char *t = xasprintf("%s\n", s);
  free(s);
  return send_text(api, c, code, "application/json", t, NULL);
}

enum MHD_Result api_send_error(struct api *api, struct MHD_Connection *c, unsigned code,
                               const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  json_t *b = json_pack("{s:s,s:i}", "error", msg ? msg : "error", "code", (int)code);
  free(msg);
  return api_send_json(api, c, code, b);
}

enum MHD_Result api_send_405(struct api *api, struct MHD_Connection *c, const char *method,
                             const char *allow)
{
  json_t *b = json_pack("{s:s,s:i}", "error", "method not allowed", "code", 405);
  (void)method;
  char *s = json_dumps(b, JSON_COMPACT | JSON_REAL_PRECISION(9));
  json_decref(b);
  char *t = xasprintf("%s\n", s);
  free(s);
  return send_text(api, c, 405, "application/json", t, allow);
}

/* ---- helpers ---- */

const char *api_query(struct MHD_Connection *c, const char *key)
{
  return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* ?revision=N: 1 when present and valid, 0 absent, -1 invalid. */
int api_query_revision(struct MHD_Connection *c, int64_t *rev)
{
  const char *s = api_query(c, "revision");
  if (s == NULL)
    return 0;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0)
    return -1;
  *rev = v;
  return 1;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* {"items": [...sorted by name...], "revision": R}; filter may skip objects. */
json_t *api_list_of(struct api *api, json_t *map, bool (*keep)(json_t *, void *), void *arg,
                    json_t *(*render)(struct api *, json_t *), bool sort)
{
  size_t n = json_object_size(map), k = 0;
  const char **names = xmalloc((n ? n : 1) * sizeof(char *));
  const char *name;
  json_t *o;
  json_object_foreach(map, name, o)
  {
    names[k++] = name;
  }
  if (sort)
    qsort(names, n, sizeof(char *), cmp_str);
  json_t *items = json_array();
  for (size_t i = 0; i < n; i++)
    {
      o = json_object_get(map, names[i]);
      if (keep && !keep(o, arg))
        continue;
      json_array_append_new(items, render ? render(api, o) : json_incref(o));
    }
  free(names);
  return json_pack("{s:o,s:I}", "items", items, "revision", (json_int_t)api->view->rev);
}

json_t *api_parse_body(struct api *api, struct MHD_Connection *c, struct request *rq, bool optional,
                       enum MHD_Result *sent)
{
  if (rq->len == 0 && optional)
    return json_object();
  json_error_t jerr;
  json_t *doc = json_loadb(rq->body ? rq->body : "", rq->len,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (doc == NULL)
    *sent = api_send_error(api, c, 400, "malformed JSON: line %d column %d: %s", jerr.line,
                           jerr.column, jerr.text);
  return doc;
}

enum MHD_Result api_store_failure(struct api *api, struct MHD_Connection *c, struct skiff_err *err)
{
  /* The store out of reach (etcd down, no leader): nothing was decided, the client retries. */
  if (err && err->status == STORE_EUNAVAILABLE)
    return api_send_error(api, c, 503, "store unavailable: %s", err->msg);
  return api_send_error(api, c, 500, "store: %s", err ? err->msg : "error");
}

/* Write one object (CAS on expect) and answer with its stored version. */
enum MHD_Result api_put_and_reply(struct api *api, struct MHD_Connection *c, char kind, json_t *obj,
                                  int64_t expect, unsigned code,
                                  json_t *(*render)(struct api *, json_t *))
{
  cleanup_free char *name = xstrdup(model_str(obj, "name", ""));
  struct writes w = {0};
  writes_put_json(&w, kind, name, obj, expect);
  cleanup_err struct skiff_err *err = NULL;
  int r = cluster_commit(api->cl, &w, NULL, &err);
  writes_free(&w);
  json_t *stored = kind == VIEW_SERVICE         ? json_object_get(api->view->services, name)
                   : view_node(api->view, name) ? view_node(api->view, name)->obj
                                                : NULL;
  if (r == STORE_CONFLICT)
    return api_send_error(api, c, 409,
                          "%s%s: revision conflict (stored revision %lld, expected %lld)",
                          view_kind_prefix(kind), name, (long long)model_int(stored, "revision", 0),
                          (long long)expect);
  if (r < 0)
    return api_store_failure(api, c, err);
  return api_send_json(api, c, code, render ? render(api, stored) : json_incref(stored));
}

/* ---- metrics ---- */

static enum MHD_Result route_metrics(struct api *api, struct MHD_Connection *c)
{
  char *text = NULL;
  size_t len = 0;
  const struct rc_heartbeat *pace = cluster_pace(api->cl);
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return api_send_error(api, c, 500, "open_memstream: %s", strerror(errno));
  int ready = 0, notready = 0;
  for (size_t i = 0; i < api->view->nnodes; i++)
    {
      ready += api->view->node_list[i]->ready;
      notready += !api->view->node_list[i]->ready;
    }
  long rss_pages = 0;
  FILE *sf = fopen("/proc/self/statm", "re");
  if (sf)
    {
      long size;
      if (fscanf(sf, "%ld %ld", &size, &rss_pages) != 2)
        rss_pages = 0;
      fclose(sf);
    }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
               + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  fprintf(f, "# TYPE skiff_store_revision gauge\nskiff_store_revision %lld\n",
          (long long)store_revision(api->cl->store));
  fprintf(f, "# TYPE skiff_services gauge\nskiff_services %zu\n",
          json_object_size(api->view->services));
  fprintf(f, "# TYPE skiff_replicas gauge\n");
  for (int s = 0; s < REPLICA_STATE_COUNT; s++)
    fprintf(f, "skiff_replicas{state=\"%s\"} %zu\n", model_replica_state_name(s),
            api->view->by_state[s]);
  fprintf(f,
          "# TYPE skiff_nodes gauge\nskiff_nodes{status=\"Ready\"} %d\n"
          "skiff_nodes{status=\"NotReady\"} %d\n",
          ready, notready);
  fprintf(f, "# TYPE skiff_http_requests_total counter\n");
  for (int k = 1; k < 6; k++)
    fprintf(f, "skiff_http_requests_total{code=\"%dxx\"} %llu\n", k,
            (unsigned long long)api->http_count[k]);
  fprintf(f,
          "# TYPE skiff_store_txns_total counter\nskiff_store_txns_total %llu\n"
          "# TYPE skiff_store_conflicts_total counter\nskiff_store_conflicts_total %llu\n"
          "# TYPE skiff_api_group_commits_total counter\nskiff_api_group_commits_total %llu\n"
          "# TYPE skiff_api_group_writes_total counter\nskiff_api_group_writes_total %llu\n"
          "# TYPE skiff_events_dropped_total counter\nskiff_events_dropped_total %llu\n"
          "# TYPE skiff_http_refused_total counter\n"
          "skiff_http_refused_total{code=\"401\"} %llu\nskiff_http_refused_total{code=\"403\"} "
          "%llu\nskiff_http_refused_total{code=\"413\"} %llu\n"
          "# TYPE skiff_node_heartbeats_total counter\nskiff_node_heartbeats_total %llu\n"
          "# TYPE skiff_heartbeat_interval_seconds gauge\nskiff_heartbeat_interval_seconds %g\n"
          "# TYPE skiff_node_grace_seconds gauge\nskiff_node_grace_seconds %g\n",
          (unsigned long long)api->cl->txns, (unsigned long long)api->cl->conflicts,
          (unsigned long long)api->group_commits, (unsigned long long)api->group_writes,
          (unsigned long long)api->cl->events.dropped, (unsigned long long)api->http_401,
          (unsigned long long)api->http_403, (unsigned long long)api->http_413,
          (unsigned long long)api->heartbeats, pace->period, pace->grace);
  if (api->cfg.write_metrics)
    api->cfg.write_metrics(api->cfg.metrics_data, f);
  fprintf(f,
          "# TYPE skiff_http_connections gauge\nskiff_http_connections %u\n"
          "# TYPE skiff_watchers gauge\nskiff_watchers %d\n"
          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
          "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n",
          api->conns, api->nwatchers, rss_pages * sysconf(_SC_PAGESIZE), cpu);
  fclose(f);
  return send_text(api, c, 200, "text/plain; version=0.0.4", text, NULL);
}

/* ---- dispatch ---- */

static enum MHD_Result dispatch(struct api *api, struct MHD_Connection *c, const char *url,
                                const char *method, struct request *rq)
{
  if (strcmp(url, "/healthz") == 0)
    {
      if (strcmp(method, "GET") != 0)
        return api_send_405(api, c, method, "GET");
      /* Who this server is and who leads, when several share the store (leader.c). */
      json_t *h = api->cfg.status ? api->cfg.status(api->cfg.servers_data) : json_object();
      json_object_set_new(h, "status", json_string("ok"));
      json_object_set_new(h, "revision", json_integer(store_revision(api->cl->store)));
      return api_send_json(api, c, 200, h);
    }
  if (rq->too_big)
    return api_send_error(api, c, 413, "request body over %zu bytes", rq->cap);
  if (strcmp(url, "/metrics") == 0)
    return strcmp(method, "GET") == 0 ? route_metrics(api, c) : api_send_405(api, c, method, "GET");

  /* /v1/<collection>[/<name>[/<sub>[/<sub2>]]] */
  char *segs[6] = {0};
  size_t nseg = 0;
  cleanup_free char *path = xstrdup(url);
  char *save = NULL;
  for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save))
    {
      if (nseg == 6)
        return api_send_error(api, c, 404, "no route for %s", url);
      segs[nseg++] = t;
    }
  if (nseg < 2 || strcmp(segs[0], "v1") != 0)
    return api_send_error(api, c, 404, "no route for %s", url);
  const char *coll = segs[1], *name = segs[2], *sub = segs[3], *sub2 = segs[4];
  if (segs[5] || (sub2 && strcmp(coll, "services") != 0))
    return api_send_error(api, c, 404, "no route for %s", url);
  if (strcmp(coll, "services") == 0)
    return api_route_services(api, c, method, rq, name, sub, sub2);
  if (strcmp(coll, "replicas") == 0)
    return api_route_replicas(api, c, method, rq, name, sub);
  if (strcmp(coll, "nodes") == 0)
    return api_route_nodes(api, c, method, rq, name, sub);
  if (name == NULL && strcmp(coll, "apply") == 0)
    return strcmp(method, "POST") == 0 ? api_route_apply(api, c, rq)
                                       : api_send_405(api, c, method, "POST");
  if (name == NULL && strcmp(coll, "events") == 0)
    return strcmp(method, "GET") == 0
               ? api_send_json(api, c, 200,
                               api_list_of(api, api->view->events, api_keep_event,
                                           (void *)api_query(c, "object"), NULL, false))
               : api_send_405(api, c, method, "GET");
  if (name == NULL && strcmp(coll, "servers") == 0 && api->cfg.servers)
    return strcmp(method, "GET") == 0 ? api_send_json(
               api, c, 200,
               json_pack("{s:o,s:I}", "items", api->cfg.servers(api->cfg.servers_data), "revision",
                         (json_int_t)store_revision(api->cl->store)))
                                      : api_send_405(api, c, method, "GET");
  if (name == NULL && strcmp(coll, "ca") == 0)
    return api_route_ca(api, c, method);
  if (name == NULL && strcmp(coll, "join") == 0)
    return api_route_join(api, c, method, rq);
  if (strcmp(coll, "tokens") == 0 && sub == NULL)
    return api_route_tokens(api, c, method, rq, name);
  if (name == NULL && strcmp(coll, "watch") == 0)
    return strcmp(method, "GET") == 0 ? api_route_watch(api, c)
                                      : api_send_405(api, c, method, "GET");
  return api_send_error(api, c, 404, "no route for %s", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  struct api *api = cls;
  struct request *rq = *con_cls;
  (void)version;
  if (rq == NULL)
    {
      /* the headers are in, the body is not: decide who it is and what it may send now */
      rq = *con_cls = xzalloc(sizeof(struct request));
      return api_gate_headers(api, c, method, url, rq);
    }
  if (rq->reply)
    {
      /* resumed after its group committed (api_group.c) */
      char *text = rq->reply;
      rq->reply = NULL;
      return api_send_text(api, c, rq->code, text);
    }
  if (*upload_size > 0)
    {
      size_t n = *upload_size;
      *upload_size = 0;
      return api_gate_upload(api, c, rq, upload, n);
    }
  if (rq->answered)
    return MHD_YES; /* refused on its headers: the response is queued */
  enum MHD_Result sent;
  if (!api_gate_body(api, c, method, url, rq, &sent))
    return sent;
  return dispatch(api, c, url, method, rq);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
  struct api *api = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED)
    {
      api->conns++;
      /* Fewer system calls per small request (tlsio.h); the session exists and has moved
       * no byte yet: its handshake runs in a later pass of the loop. */
      const union MHD_ConnectionInfo *s
          = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
      const union MHD_ConnectionInfo *fd
          = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
      if (api->cfg.tls_cert && s && s->tls_session && fd)
        {
          struct tlsio *io = xmalloc(sizeof(*io));
          tlsio_attach(io, &api->tls_held, s->tls_session, fd->connect_fd);
          *socket_context = io;
        }
    }
  else
    {
      /* libmicrohttpd deinits the session before this notice and closes the socket after
       * it: what the connection still holds (its last response, its TLS close) goes now */
      if (*socket_context)
        tlsio_detach(*socket_context);
      free(*socket_context);
      *socket_context = NULL;
      api->conns--;
      api->conns_closed++;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)c;
  (void)toe;
  struct request *rq = *con_cls;
  if (rq && !rq->parked)
    {
      api_logs_request_done(rq);
      api_request_free(rq);
      *con_cls = NULL;
    }
}

struct api *api_start(struct cluster *cl, const struct api_config *cfg, struct skiff_err **err)
{
  const char *listen = cfg->listen;
  cleanup_free char *host = xstrdup(listen);
  char *colon = strrchr(host, ':');
  if (colon == NULL)
    {
      skiff_error(err, 0, "--listen `%s`: expected ADDR:PORT", listen);
      return NULL;
    }
  *colon = '\0';
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end || port < 0 || port > 65535)
    {
      skiff_error(err, 0, "--listen `%s`: invalid port", listen);
      return NULL;
    }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  const char *h = *host ? host : "0.0.0.0";
  if (strcmp(h, "localhost") == 0)
    h = "127.0.0.1";
  if (inet_pton(AF_INET, h, &sa.sin_addr) != 1)
    {
      skiff_error(err, 0, "--listen `%s`: expected an IPv4 address", listen);
      return NULL;
    }
  struct api *api = xzalloc(sizeof(*api));
  api->cl = cl;
  api->view = &cl->view;
  api->cfg = *cfg;
  api->cfg.listen = NULL;
  /* Bounded by construction: so many connections in all and per client address, each with
   * libmicrohttpd's fixed memory pool; a connection must finish its handshake and send an
   * authenticated request within API_HANDSHAKE_TIMEOUT (then idle_timeout applies), and an
   * unauthenticated one never gets its body read (api_auth.c). */
  struct MHD_OptionItem tls[]
      = {{MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key},
         {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert},
         {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
         {MHD_OPTION_END, 0, NULL}};
  if (cfg->tls_cert == NULL)
    tls[0].option = MHD_OPTION_END;
  errno = 0;
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | (cfg->tls_cert ? MHD_USE_TLS : 0), (uint16_t)port,
      NULL, NULL, on_request, api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, api, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
      api, MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      cfg->max_conns_per_client, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_HANDSHAKE_TIMEOUT,
      MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
  if (d == NULL)
    {
      skiff_error(err, errno ? errno : EADDRINUSE, "listen on `%s`%s", listen,
                  cfg->tls_cert && !MHD_is_feature_supported(MHD_FEATURE_TLS)
                      ? " (libmicrohttpd without TLS)"
                      : "");
      free(api);
      return NULL;
    }
  api->daemon = d;
  return api;
}

int api_fd(struct api *api)
{
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_EPOLL_FD);
  return info ? info->epoll_fd : -1;
}

int api_timeout_ms(struct api *api, int max)
{
  MHD_UNSIGNED_LONG_LONG mto;
  if (MHD_get_timeout(api->daemon, &mto) == MHD_YES && mto < (MHD_UNSIGNED_LONG_LONG)max)
    return (int)mto;
  return max;
}

/* One pass of libmicrohttpd, then what its TLS connections hold goes out (tlsio.h). */
static void run_mhd(struct api *api)
{
  MHD_run(api->daemon);
  tlsio_flush_all(&api->tls_held);
}

void api_run(struct api *api)
{
  run_mhd(api);
  /* A burst of connections (a flood, a thousand agents reconnecting) leaves their TLS
   * sessions and buffers freed but held by malloc: give the pages back once it is over. */
  if (api->conns_closed >= 256 && api->conns < api->conns_closed / 4)
    {
      double now = cluster_now();
      if (now - api->last_trim >= 5)
        {
          malloc_trim(0);
          api->conns_closed = 0;
          api->last_trim = now;
        }
    }
}

void api_flush(struct api *api)
{
  bool replies = api->parked != NULL;
  api_group_commit(api);
  cluster_flush_events(api->cl);
  watch_cache_set_active(&api->cl->watch, api->nwatchers > 0);
  if (replies)
    run_mhd(api);
}

void api_stop(struct api *api)
{
  if (api == NULL)
    return;
  struct MHD_Daemon *d = api->daemon;
  /* MHD must not be stopped with suspended connections: answer the parked requests and end
   * every watch stream first. */
  api_flush(api);
  api->stopping = true;
  api_logs_shutdown();
  for (int i = 0; i < 50 && api->watchers; i++)
    {
      api_wake_watchers(api);
      run_mhd(api);
    }
  MHD_stop_daemon(d);
  writes_free(&api->group);
  strmap_free(&api->group_keys);
  free(api);
}
