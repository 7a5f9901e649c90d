/* api.c - the HTTP/JSON API of `skiffd server` on libmicrohttpd (routes in API.md): bearer
 * auth, bounded bodies, JSON errors, the NDJSON watch stream (suspended connections resumed
 * when the store changes), /metrics and /healthz.  Reads come from the in-memory view
 * (equal to the store, see server.c); writes go to the store with compare-and-swap. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include "model.h"
#include "server.h"

struct request
{
  char *body;
  size_t len;
  bool too_big;
};

struct srv_watcher
{
  struct orch_server *srv;
  struct MHD_Connection *conn;
  struct srv_watcher *next; /* in srv->watchers while suspended */
  bool suspended;
  int64_t cursor;
  char kind; /* 0 = all */
  char *node, *service;
  char *buf;
  size_t len, off;
  double last_send;
  bool failed;
};

/* ---- responses ---- */

static enum MHD_Result send_text(struct orch_server *srv, struct MHD_Connection *c, unsigned code,
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
  if (code / 100 < 6)
    srv->http_count[code / 100]++;
  srv->http_401 += code == 401;
  srv->http_404 += code == 404;
  srv->http_409 += code == 409;
  return ret;
}

static enum MHD_Result send_json(struct orch_server *srv, struct MHD_Connection *c, unsigned code,
                                 json_t *body)
{
  char *s = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  char *t = xasprintf("%s\n", s);
  free(s);
  return send_text(srv, c, code, "application/json", t, NULL);
}

static enum MHD_Result __attribute__((format(printf, 4, 5)))
send_error(struct orch_server *srv, struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  json_t *b = json_pack("{s:s,s:i}", "error", msg ? msg : "error", "code", (int)code);
  free(msg);
  return send_json(srv, c, code, b);
}

static enum MHD_Result send_405(struct orch_server *srv, struct MHD_Connection *c,
                                const char *method, const char *allow)
{
  json_t *b = json_pack("{s:s,s:i}", "error", "method not allowed", "code", 405);
  (void)method;
  char *s = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  char *t = xasprintf("%s\n", s);
  free(s);
  return send_text(srv, c, 405, "application/json", t, allow);
}

/* ---- helpers ---- */

static const char *query(struct MHD_Connection *c, const char *key)
{
  return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* ?revision=N: 1 when present and valid, 0 absent, -1 invalid. */
static int query_revision(struct MHD_Connection *c, int64_t *rev)
{
  const char *s = query(c, "revision");
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

static bool auth_ok(struct orch_server *srv, struct MHD_Connection *c)
{
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
    return false;
  const char *t = h + 7;
  size_t lt = strlen(t), lk = strlen(srv->token);
  unsigned char diff = lt != lk;
  /* Constant time over the token length: no timing oracle on the prefix. */
  for (size_t i = 0; i < lk; i++)
    diff |= (unsigned char)(srv->token[i] ^ (i < lt ? t[i] : 0));
  return diff == 0;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* {"items": [...sorted by name...], "revision": R}; filter may skip objects. */
static json_t *list_of(struct orch_server *srv, json_t *map, bool (*keep)(json_t *, void *),
                       void *arg, json_t *(*view)(struct orch_server *, json_t *, json_t *),
                       json_t *varg, bool sort)
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
      json_array_append_new(items, view ? view(srv, o, varg) : json_deep_copy(o));
    }
  free(names);
  return json_pack("{s:o,s:I}", "items", items, "revision", (json_int_t)store_revision(srv->store));
}

static json_t *parse_body(struct orch_server *srv, struct MHD_Connection *c, struct request *rq,
                          bool optional, enum MHD_Result *sent)
{
  if (rq->len == 0 && optional)
    return json_object();
  json_error_t jerr;
  json_t *doc = json_loadb(rq->body ? rq->body : "", rq->len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    *sent = send_error(srv, c, 400, "malformed JSON: line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text);
  return doc;
}

static enum MHD_Result store_failure(struct orch_server *srv, struct MHD_Connection *c,
                                     struct skiff_err *err)
{
  return send_error(srv, c, 500, "store: %s", err ? err->msg : "error");
}

/* Write one object (CAS on expect) and answer with its stored version. */
static enum MHD_Result put_and_reply(struct orch_server *srv, struct MHD_Connection *c,
                                     const char *prefix, json_t *map, json_t *obj, int64_t expect,
                                     unsigned code)
{
  const char *name = model_str(obj, "name", "");
  cleanup_free char *key = xasprintf("%s%s", prefix, name);
  cleanup_free char *val = srv_encode(obj);
  cleanup_err struct skiff_err *err = NULL;
  struct store_op op
      = {.type = STORE_PUT, .key = key, .value = val, .len = strlen(val), .expect_rev = expect};
  int r = srv_commit(srv, &op, 1, NULL, &err);
  if (r == STORE_CONFLICT)
    return send_error(srv, c, 409, "%s: revision conflict (stored revision %lld, expected %lld)",
                      key, (long long)model_int(json_object_get(map, name), "revision", 0),
                      (long long)expect);
  if (r < 0)
    return store_failure(srv, c, err);
  json_t *stored = json_object_get(map, name);
  return send_json(srv, c, code, json_deep_copy(stored));
}

/* ---- services ---- */

/* nodePorts are cluster-wide (every node's proxy listens on them): one service per port.
 * Returns an error message (caller frees) or NULL. */
static char *node_port_conflict(struct orch_server *srv, json_t *list, bool single)
{
  json_t *owner = json_object();
  const char *name;
  json_t *svc;
  size_t i, j;
  json_t *p;
  json_object_foreach(srv->services, name, svc)
  {
    bool replaced = false;
    json_array_foreach(list, i, p) replaced |= strcmp(model_str(p, "name", ""), name) == 0;
    if (replaced)
      continue;
    json_array_foreach(json_object_get(svc, "ports"), j, p)
    {
      cleanup_free char *k = xasprintf("%lld", (long long)model_int(p, "nodePort", 0));
      if (model_int(p, "nodePort", 0) > 0)
        json_object_set_new(owner, k, json_string(name));
    }
  }
  char *msg = NULL;
  json_array_foreach(list, i, svc)
  {
    json_array_foreach(json_object_get(svc, "ports"), j, p)
    {
      int64_t port = model_int(p, "nodePort", 0);
      cleanup_free char *k = xasprintf("%lld", (long long)port);
      const char *o = model_str(owner, k, NULL);
      if (port > 0 && o && strcmp(o, model_str(svc, "name", "")) != 0 && msg == NULL)
        {
          cleanup_free char *path = single ? xstrdup("service") : xasprintf("services[%zu]", i);
          msg = xasprintf("%s.ports[%zu].nodePort: %lld is already used by service `%s`", path, j,
                          (long long)port, o);
        }
      if (port > 0)
        json_object_set_new(owner, k, json_string(model_str(svc, "name", "")));
    }
  }
  json_decref(owner);
  return msg;
}

static enum MHD_Result apply_services(struct orch_server *srv, struct MHD_Connection *c,
                                      json_t *list, int64_t *revs, bool create_only, bool single)
{
  size_t n = json_array_size(list);
  struct store_op *ops = xzalloc((n ? n : 1) * sizeof(*ops));
  char **bufs = xzalloc((2 * n + 1) * sizeof(char *));
  json_t *changed = json_array(), *newgen = json_array();
  size_t nops = 0, nb = 0;
  size_t *opidx = xzalloc((n ? n : 1) * sizeof(size_t));
  bool created = false;
  enum MHD_Result ret;
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *conflict = node_port_conflict(srv, list, single);
  if (conflict)
    {
      ret = send_error(srv, c, 409, "%s (nothing applied)", conflict);
      goto out;
    }
  for (size_t i = 0; i < n; i++)
    {
      json_t *desired = json_array_get(list, i);
      const char *name = model_str(desired, "name", "");
      json_t *old = json_object_get(srv->services, name);
      if (old && create_only)
        {
          ret = send_error(srv, c, 409, "service `%s` already exists", name);
          goto out;
        }
      if (revs[i] > 0 && model_int(old, "revision", 0) != revs[i])
        {
          ret = send_error(srv, c, 409,
                           "%s: revision conflict (stored revision %lld, expected %lld)",
                           single ? "service" : "services",
                           (long long)model_int(old, "revision", 0), (long long)revs[i]);
          goto out;
        }
      bool ch, ng;
      json_t *obj = controller_merge_service(old, desired, &ch, &ng);
      if (ch)
        {
          bufs[nb] = xasprintf("/services/%s", name);
          bufs[nb + 1] = srv_encode(obj);
          ops[nops]
              = (struct store_op){.type = STORE_PUT,
                                  .key = bufs[nb],
                                  .value = bufs[nb + 1],
                                  .len = strlen(bufs[nb + 1]),
                                  .expect_rev = old ? model_int(old, "revision", 0) : STORE_ABSENT};
          opidx[nops++] = i;
          nb += 2;
          json_array_append_new(changed, json_string(name));
          if (ng && old)
            json_array_append_new(newgen, json_string(name));
          created |= old == NULL;
        }
      json_decref(obj);
    }
  size_t failed = 0;
  int r = srv_commit(srv, ops, nops, &failed, &err);
  if (r == STORE_CONFLICT)
    {
      ret = send_error(srv, c, 409, "services[%zu]: revision conflict, nothing applied",
                       opidx[failed]);
      goto out;
    }
  if (r < 0)
    {
      ret = store_failure(srv, c, err);
      goto out;
    }
  size_t i;
  json_t *v;
  json_array_foreach(changed, i, v)
  {
    const char *name = json_string_value(v);
    json_t *svc = json_object_get(srv->services, name);
    bool ng = false;
    size_t j;
    json_t *w;
    json_array_foreach(newgen, j, w) ng |= strcmp(json_string_value(w), name) == 0;
    if (ng)
      srv_event(srv, "Normal", "Service", name, "RolloutStarted", "generation %lld (image %s)",
                (long long)model_int(svc, "generation", 1), model_str(svc, "image", ""));
    else
      srv_event(srv, "Normal", "Service", name, "Applied", "revision %lld",
                (long long)model_int(svc, "revision", 0));
  }
  if (single)
    {
      json_t *svc = json_object_get(srv->services, model_str(json_array_get(list, 0), "name", ""));
      ret = send_json(srv, c, created ? 201 : 200, json_deep_copy(svc));
    }
  else
    {
      json_t *items = json_array();
      json_array_foreach(list, i, v)
      {
        json_array_append_new(
            items, json_deep_copy(json_object_get(srv->services, model_str(v, "name", ""))));
      }
      ret = send_json(srv, c, 200,
                      json_pack("{s:o,s:O,s:I}", "items", items, "changed", changed, "revision",
                                (json_int_t)store_revision(srv->store)));
    }
out:
  for (size_t k = 0; k < nb; k++)
    free(bufs[k]);
  free(bufs);
  free(ops);
  free(opidx);
  json_decref(changed);
  json_decref(newgen);
  return ret;
}

static enum MHD_Result route_apply(struct orch_server *srv, struct MHD_Connection *c,
                                   struct request *rq)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = parse_body(srv, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  json_t *list = NULL;
  int64_t *revs = NULL;
  cleanup_err struct skiff_err *err = NULL;
  enum MHD_Result ret;
  if (model_apply_parse(doc, &list, &revs, &err) < 0)
    ret = send_error(srv, c, 400, "%s (nothing applied)", err->msg);
  else
    ret = apply_services(srv, c, list, revs, false, false);
  json_decref(doc);
  json_decref(list);
  free(revs);
  return ret;
}

/* POST /v1/services (create) and PUT /v1/services/NAME (create or replace). */
static enum MHD_Result route_service_write(struct orch_server *srv, struct MHD_Connection *c,
                                           struct request *rq, const char *name)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = parse_body(srv, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  enum MHD_Result ret;
  cleanup_err struct skiff_err *err = NULL;
  json_t *svc = NULL;
  int64_t rev = 0, qrev = 0;
  int q = query_revision(c, &qrev);
  if (name && json_is_object(doc) && json_object_get(doc, "name") == NULL)
    json_object_set_new(doc, "name", json_string(name));
  if (q < 0)
    ret = send_error(srv, c, 400, "revision: expected a non-negative integer");
  else if (model_service_parse(doc, "service", &svc, &rev, &err) < 0)
    ret = send_error(srv, c, 400, "%s", err->msg);
  else if (name && strcmp(name, model_str(svc, "name", "")) != 0)
    ret = send_error(srv, c, 400, "service.name: `%s` does not match the URL (`%s`)",
                     model_str(svc, "name", ""), name);
  else
    {
      json_t *list = json_array();
      json_array_append(list, svc);
      int64_t r = q > 0 ? qrev : rev;
      ret = apply_services(srv, c, list, &r, name == NULL, true);
      json_decref(list);
    }
  json_decref(svc);
  json_decref(doc);
  return ret;
}

static enum MHD_Result route_services(struct orch_server *srv, struct MHD_Connection *c,
                                      const char *method, struct request *rq, const char *name,
                                      const char *sub, const char *sub2)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") == 0)
        return send_json(srv, c, 200, list_of(srv, srv->services, NULL, NULL, NULL, NULL, true));
      if (strcmp(method, "POST") == 0)
        return route_service_write(srv, c, rq, NULL);
      return send_405(srv, c, method, "GET, POST");
    }
  json_t *svc = json_object_get(srv->services, name);
  if (sub == NULL)
    {
      if (strcmp(method, "GET") == 0)
        return svc ? send_json(srv, c, 200, json_deep_copy(svc))
                   : send_error(srv, c, 404, "service `%s` not found", name);
      if (strcmp(method, "PUT") == 0)
        return route_service_write(srv, c, rq, name);
      if (strcmp(method, "DELETE") == 0)
        {
          int64_t rev = 0;
          if (query_revision(c, &rev) < 0)
            return send_error(srv, c, 400, "revision: expected a non-negative integer");
          if (svc == NULL)
            return send_error(srv, c, 404, "service `%s` not found", name);
          json_t *last = json_deep_copy(svc);
          cleanup_free char *key = xasprintf("/services/%s", name);
          cleanup_err struct skiff_err *err = NULL;
          int r = store_delete(srv->store, key, rev > 0 ? rev : STORE_ANY_REV, NULL, &err);
          if (r != 0)
            {
              json_decref(last);
              return r == STORE_CONFLICT ? send_error(srv, c, 409, "%s: revision conflict", key)
                                         : store_failure(srv, c, err);
            }
          srv_event(srv, "Normal", "Service", name, "Deleted", "service deleted");
          return send_json(srv, c, 200, last);
        }
      return send_405(srv, c, method, "GET, PUT, DELETE");
    }
  if (svc == NULL)
    return send_error(srv, c, 404, "service `%s` not found", name);
  enum MHD_Result sent = MHD_NO;
  if (strcmp(sub, "scale") == 0 && sub2 == NULL)
    {
      if (strcmp(method, "POST") != 0)
        return send_405(srv, c, method, "POST");
      json_t *doc = parse_body(srv, c, rq, false, &sent);
      if (doc == NULL)
        return sent;
      json_t *n = json_object_get(doc, "replicas");
      bool ok = json_is_object(doc) && json_object_size(doc) == 1 && json_is_integer(n)
                && json_integer_value(n) >= 0 && json_integer_value(n) <= 100000;
      int64_t want = ok ? json_integer_value(n) : 0;
      json_decref(doc);
      if (!ok)
        return send_error(srv, c, 400, "scale.replicas: expected a non-negative integer");
      json_t *obj = json_deep_copy(svc);
      json_object_set_new(obj, "replicas", json_integer(want));
      enum MHD_Result ret = put_and_reply(srv, c, "/services/", srv->services, obj,
                                          model_int(svc, "revision", 0), 200);
      srv_event(srv, "Normal", "Service", name, "Scaled", "replicas %lld", (long long)want);
      json_decref(obj);
      return ret;
    }
  if (strcmp(sub, "rollout") == 0 && sub2 == NULL)
    {
      if (strcmp(method, "GET") != 0)
        return send_405(srv, c, method, "GET");
      return send_json(srv, c, 200, controller_rollout_status(srv, svc));
    }
  if (strcmp(sub, "rollout") == 0 && strcmp(sub2, "undo") == 0)
    {
      if (strcmp(method, "POST") != 0)
        return send_405(srv, c, method, "POST");
      json_t *doc = parse_body(srv, c, rq, true, &sent);
      if (doc == NULL)
        return sent;
      json_t *g = json_object_get(doc, "generation");
      bool ok = json_is_object(doc) && json_object_size(doc) == (g ? 1 : 0)
                && (g == NULL || (json_is_integer(g) && json_integer_value(g) > 0));
      int64_t gen = ok && g ? json_integer_value(g) : 0;
      json_decref(doc);
      if (!ok)
        return send_error(srv, c, 400, "undo.generation: expected a positive integer");
      cleanup_err struct skiff_err *err = NULL;
      json_t *obj = controller_undo_service(svc, gen, &err);
      if (obj == NULL)
        return send_error(srv, c, 409, "%s", err->msg);
      int64_t from = model_int(svc, "generation", 1);
      enum MHD_Result ret = put_and_reply(srv, c, "/services/", srv->services, obj,
                                          model_int(svc, "revision", 0), 200);
      srv_event(srv, "Normal", "Service", name, "RolloutUndo", "generation %lld -> %lld (image %s)",
                (long long)from, (long long)model_int(obj, "generation", 0),
                model_str(obj, "image", ""));
      json_decref(obj);
      return ret;
    }
  return send_error(srv, c, 404, "no route for %s", sub);
}

/* ---- replicas ---- */

struct replica_filter
{
  const char *service, *node;
};

static bool keep_replica(json_t *r, void *arg)
{
  struct replica_filter *f = arg;
  return (f->service == NULL || strcmp(model_str(r, "service", ""), f->service) == 0)
         && (f->node == NULL || strcmp(model_str(r, "node", ""), f->node) == 0);
}

static enum MHD_Result replica_status(struct orch_server *srv, struct MHD_Connection *c,
                                      struct request *rq, json_t *rep)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = parse_body(srv, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  cleanup_err struct skiff_err *err = NULL;
  enum MHD_Result ret;
  const char *name = model_str(rep, "name", "");
  int st = model_replica_state_parse(model_str(rep, "state", ""));
  if (model_status_parse(doc, &err) < 0)
    ret = send_error(srv, c, 400, "%s", err->msg);
  else if (strcmp(model_str(doc, "node", ""), model_str(rep, "node", "")) != 0)
    ret = send_error(srv, c, 409, "replica `%s` is bound to node `%s`, not `%s`", name,
                     model_str(rep, "node", ""), model_str(doc, "node", ""));
  else if (st == REPLICA_TERMINATING || st == REPLICA_LOST)
    {
      json_t *body = json_pack("{s:s,s:i,s:O}", "error", "replica is being stopped: stop it",
                               "code", 409, "replica", rep);
      ret = send_json(srv, c, 409, body);
    }
  else
    {
      json_t *obj = json_deep_copy(rep);
      const char *key;
      json_t *v;
      json_object_foreach(doc, key, v)
      {
        if (strcmp(key, "node") != 0)
          json_object_set(obj, key, v);
      }
      if (json_equal(obj, rep))
        ret = send_json(srv, c, 200, json_deep_copy(rep));
      else
        {
          int nst = model_replica_state_parse(model_str(obj, "state", ""));
          if (nst != st && (nst == REPLICA_FAILED || nst == REPLICA_BACKOFF))
            srv_event(srv, "Warning", "Replica", name, nst == REPLICA_FAILED ? "Failed" : "BackOff",
                      "exit code %lld%s%s", (long long)model_int(obj, "lastExitCode", -1),
                      *model_str(obj, "reason", "") ? ": " : "", model_str(obj, "reason", ""));
          ret = put_and_reply(srv, c, "/replicas/", srv->replicas, obj,
                              model_int(rep, "revision", 0), 200);
        }
      json_decref(obj);
    }
  json_decref(doc);
  return ret;
}

static enum MHD_Result route_replicas(struct orch_server *srv, struct MHD_Connection *c,
                                      const char *method, struct request *rq, const char *name,
                                      const char *sub)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") != 0)
        return send_405(srv, c, method, "GET");
      struct replica_filter f = {query(c, "service"), query(c, "node")};
      return send_json(srv, c, 200,
                       list_of(srv, srv->replicas, keep_replica, &f, NULL, NULL, true));
    }
  json_t *rep = json_object_get(srv->replicas, name);
  if (rep == NULL)
    return send_error(srv, c, 404, "replica `%s` not found", name);
  if (sub && strcmp(sub, "status") == 0)
    {
      if (strcmp(method, "POST") != 0)
        return send_405(srv, c, method, "POST");
      return replica_status(srv, c, rq, rep);
    }
  if (sub)
    return send_error(srv, c, 404, "no route for %s", sub);
  if (strcmp(method, "GET") == 0)
    return send_json(srv, c, 200, json_deep_copy(rep));
  if (strcmp(method, "DELETE") != 0)
    return send_405(srv, c, method, "GET, DELETE");
  int st = model_replica_state_parse(model_str(rep, "state", ""));
  const char *node = model_str(rep, "node", "");
  json_t *n = json_object_get(srv->nodes, node);
  bool node_ready = n && strcmp(model_str(n, "status", ""), "Ready") == 0;
  if (*node && node_ready && model_replica_state_live(st) && st != REPLICA_PENDING)
    {
      /* Graceful: the agent stops it, then deletes it. */
      json_t *obj = json_deep_copy(rep);
      json_object_set_new(obj, "state", json_string("Terminating"));
      json_object_set_new(obj, "ready", json_false());
      json_object_set_new(obj, "reason", json_string("deleted by request"));
      enum MHD_Result ret = put_and_reply(srv, c, "/replicas/", srv->replicas, obj,
                                          model_int(rep, "revision", 0), 200);
      json_decref(obj);
      return ret;
    }
  json_t *last = json_deep_copy(rep);
  cleanup_free char *key = xasprintf("/replicas/%s", name);
  cleanup_err struct skiff_err *err = NULL;
  if (store_delete(srv->store, key, STORE_ANY_REV, NULL, &err) != 0)
    {
      json_decref(last);
      return store_failure(srv, c, err);
    }
  return send_json(srv, c, 200, last);
}

/* ---- nodes ---- */

static enum MHD_Result node_register(struct orch_server *srv, struct MHD_Connection *c,
                                     struct request *rq)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = parse_body(srv, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  json_t *reg = NULL;
  cleanup_err struct skiff_err *err = NULL;
  enum MHD_Result ret;
  if (model_node_parse(doc, &reg, &err) < 0)
    {
      json_decref(doc);
      return send_error(srv, c, 400, "%s", err->msg);
    }
  json_decref(doc);
  const char *name = model_str(reg, "name", "");
  json_t *old = json_object_get(srv->nodes, name);
  json_t *obj = old ? json_deep_copy(old) : json_deep_copy(reg);
  if (old)
    {
      const char *key;
      json_t *v;
      json_object_foreach(reg, key, v)
      {
        json_object_set(obj, key, v);
      }
    }
  else
    {
      cleanup_free char *now = model_time_string(time(NULL));
      json_object_set_new(obj, "cordoned", json_false());
      json_object_set_new(obj, "created", json_string(now));
    }
  json_object_set_new(obj, "status", json_string("Ready"));
  json_object_set_new(srv->heartbeats, name, json_real(srv_now()));
  if (old && json_equal(old, obj))
    ret = send_json(srv, c, 200, srv_node_view(srv, old, NULL));
  else
    {
      cleanup_free char *key = xasprintf("/nodes/%s", name);
      cleanup_free char *val = srv_encode(obj);
      if (store_put(srv->store, key, val, old ? model_int(old, "revision", 0) : STORE_ABSENT, NULL,
                    &err)
          != 0)
        ret = err ? store_failure(srv, c, err) : send_error(srv, c, 409, "%s: conflict", key);
      else
        {
          if (!old)
            srv_event(srv, "Normal", "Node", name, "NodeRegistered", "address %s",
                      model_str(obj, "address", ""));
          json_t *alloc = srv_node_allocations(srv);
          ret = send_json(srv, c, old ? 200 : 201,
                          srv_node_view(srv, json_object_get(srv->nodes, name), alloc));
          json_decref(alloc);
        }
    }
  json_decref(obj);
  json_decref(reg);
  return ret;
}

static enum MHD_Result node_set_cordon(struct orch_server *srv, struct MHD_Connection *c,
                                       json_t *node, bool cordon, bool drain)
{
  const char *name = model_str(node, "name", "");
  cleanup_free char *nname = xstrdup(name);
  cleanup_err struct skiff_err *err = NULL;
  size_t cap = 1 + (drain ? json_object_size(srv->replicas) : 0), n = 0;
  struct store_op *ops = xzalloc(cap * sizeof(*ops));
  char **bufs = xzalloc(2 * cap * sizeof(char *));
  size_t nb = 0;
  if (model_bool(node, "cordoned", false) != cordon)
    {
      json_t *obj = json_deep_copy(node);
      json_object_set_new(obj, "cordoned", json_boolean(cordon));
      bufs[nb++] = xasprintf("/nodes/%s", name);
      bufs[nb++] = srv_encode(obj);
      ops[n++] = (struct store_op){STORE_PUT, bufs[nb - 2], bufs[nb - 1], strlen(bufs[nb - 1]),
                                   model_int(node, "revision", 0)};
      json_decref(obj);
    }
  const char *rname;
  json_t *r;
  int drained = 0;
  if (drain)
    json_object_foreach(srv->replicas, rname, r)
    {
      int st = model_replica_state_parse(model_str(r, "state", ""));
      if (strcmp(model_str(r, "node", ""), name) != 0 || !model_replica_state_live(st))
        continue;
      json_t *obj = json_deep_copy(r);
      json_object_set_new(obj, "state", json_string("Terminating"));
      json_object_set_new(obj, "ready", json_false());
      json_object_set_new(obj, "reason", json_string("node drained"));
      bufs[nb++] = xasprintf("/replicas/%s", rname);
      bufs[nb++] = srv_encode(obj);
      ops[n++] = (struct store_op){STORE_PUT, bufs[nb - 2], bufs[nb - 1], strlen(bufs[nb - 1]),
                                   model_int(r, "revision", 0)};
      json_decref(obj);
      drained++;
    }
  int rc = srv_commit(srv, ops, n, NULL, &err);
  for (size_t i = 0; i < nb; i++)
    free(bufs[i]);
  free(bufs);
  free(ops);
  if (rc != 0)
    return rc == STORE_CONFLICT ? send_error(srv, c, 409, "node `%s`: conflict, retry", nname)
                                : store_failure(srv, c, err);
  if (drain)
    srv_event(srv, "Normal", "Node", nname, "Drained", "cordoned; %d replicas stopping", drained);
  else if (n > 0)
    srv_event(srv, "Normal", "Node", nname, cordon ? "Cordoned" : "Uncordoned", "%s",
              cordon ? "no new replicas will be placed here" : "schedulable again");
  json_t *alloc = srv_node_allocations(srv);
  enum MHD_Result ret
      = send_json(srv, c, 200, srv_node_view(srv, json_object_get(srv->nodes, nname), alloc));
  json_decref(alloc);
  return ret;
}

static enum MHD_Result route_nodes(struct orch_server *srv, struct MHD_Connection *c,
                                   const char *method, struct request *rq, const char *name,
                                   const char *sub)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") == 0)
        {
          json_t *alloc = srv_node_allocations(srv);
          json_t *l = list_of(srv, srv->nodes, NULL, NULL, srv_node_view, alloc, true);
          json_decref(alloc);
          return send_json(srv, c, 200, l);
        }
      if (strcmp(method, "POST") == 0)
        return node_register(srv, c, rq);
      return send_405(srv, c, method, "GET, POST");
    }
  json_t *node = json_object_get(srv->nodes, name);
  if (node == NULL)
    return send_error(srv, c, 404, "node `%s` not found", name);
  if (sub == NULL)
    {
      if (strcmp(method, "GET") == 0)
        {
          json_t *alloc = srv_node_allocations(srv);
          enum MHD_Result ret = send_json(srv, c, 200, srv_node_view(srv, node, alloc));
          json_decref(alloc);
          return ret;
        }
      if (strcmp(method, "DELETE") == 0)
        {
          json_t *last = json_deep_copy(node);
          cleanup_free char *key = xasprintf("/nodes/%s", name);
          cleanup_err struct skiff_err *err = NULL;
          json_object_del(srv->heartbeats, name);
          if (store_delete(srv->store, key, STORE_ANY_REV, NULL, &err) != 0)
            {
              json_decref(last);
              return store_failure(srv, c, err);
            }
          srv_event(srv, "Normal", "Node", model_str(last, "name", ""), "Deleted",
                    "node removed; its replicas are replaced");
          return send_json(srv, c, 200, last);
        }
      return send_405(srv, c, method, "GET, DELETE");
    }
  if (strcmp(method, "POST") != 0)
    return send_405(srv, c, method, "POST");
  if (strcmp(sub, "heartbeat") == 0)
    {
      json_object_set_new(srv->heartbeats, name, json_real(srv_now()));
      if (strcmp(model_str(node, "status", ""), "Ready") != 0)
        srv->dirty = true; /* let the controller mark it Ready now */
      return send_json(srv, c, 200,
                       json_pack("{s:s,s:s,s:f}", "name", name, "status",
                                 model_str(node, "status", ""), "heartbeatInterval",
                                 srv->heartbeat_interval));
    }
  if (strcmp(sub, "cordon") == 0 || strcmp(sub, "uncordon") == 0 || strcmp(sub, "drain") == 0)
    return node_set_cordon(srv, c, node, strcmp(sub, "uncordon") != 0, strcmp(sub, "drain") == 0);
  return send_error(srv, c, 404, "no route for %s", sub);
}

static bool keep_event(json_t *e, void *arg)
{
  return arg == NULL || strcmp(model_str(e, "object", ""), arg) == 0;
}

/* ---- watch ---- */

static bool watch_match(const struct srv_watcher *w, const struct srv_watch_entry *e)
{
  if (w->kind && e->kind != w->kind)
    return false;
  if (w->node
      && !((e->kind == 'r' && strcmp(e->node, w->node) == 0)
           || (e->kind == 'n' && strcmp(e->name, w->node) == 0)))
    return false;
  if (w->service
      && !((e->kind == 'r' && strcmp(e->service, w->service) == 0)
           || (e->kind == 's' && strcmp(e->name, w->service) == 0)))
    return false;
  return true;
}

static void watch_append(struct srv_watcher *w, const char *s, size_t len)
{
  w->buf = xrealloc(w->buf, w->len + len + 1);
  memcpy(w->buf + w->len, s, len);
  w->len += len;
}

#define WATCH_FILL_MAX (256 * 1024)

/* Move lines after the cursor into the buffer: from the ring when it covers the cursor,
 * else from the store's history.  -1 when the history was compacted past the cursor. */
static int watch_fill(struct srv_watcher *w)
{
  struct orch_server *srv = w->srv;
  if (w->cursor >= srv->ring_floor)
    {
      size_t lo = 0, hi = srv->ring_len;
      while (lo < hi)
        {
          size_t mid = (lo + hi) / 2;
          if (srv->ring[(srv->ring_head + mid) % SRV_WATCH_RING].rev <= w->cursor)
            lo = mid + 1;
          else
            hi = mid;
        }
      for (size_t k = lo; k < srv->ring_len && w->len < WATCH_FILL_MAX; k++)
        {
          const struct srv_watch_entry *e = &srv->ring[(srv->ring_head + k) % SRV_WATCH_RING];
          if (watch_match(w, e))
            watch_append(w, e->line, e->len);
          w->cursor = e->rev;
        }
      return 0;
    }
  struct store_event *ev = NULL;
  size_t n = 0;
  cleanup_err struct skiff_err *err = NULL;
  int r = store_history(srv->store, w->cursor, "/", 1000, &ev, &n, &err);
  if (r != 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      char kind;
      const char *name;
      json_t *obj = srv_event_object(&ev[i], &kind, &name);
      if (obj)
        {
          struct srv_watch_entry e;
          srv_render_event(&ev[i], obj, kind, name, &e);
          if (watch_match(w, &e))
            watch_append(w, e.line, e.len);
          srv_watch_entry_clear(&e);
          json_decref(obj);
        }
      w->cursor = ev[i].rev;
    }
  if (n == 0) /* nothing left in the history: continue from the ring */
    w->cursor = srv->ring_floor;
  store_events_free(ev, n);
  return 0;
}

static ssize_t watch_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct srv_watcher *w = cls;
  (void)pos;
  if (w->off == w->len)
    {
      w->off = w->len = 0;
      for (int i = 0; i < 8 && w->len == 0; i++)
        {
          int64_t before = w->cursor;
          if (watch_fill(w) < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
          if (w->cursor == before)
            break;
        }
      double now = srv_now();
      if (w->len == 0 && now - w->last_send >= 5)
        {
          char line[64];
          int k = snprintf(line, sizeof(line), "{\"type\":\"BOOKMARK\",\"revision\":%lld}\n",
                           (long long)store_revision(w->srv->store));
          watch_append(w, line, (size_t)k);
        }
      if (w->len == 0)
        {
          /* Nothing new: park the connection until the store changes. */
          w->suspended = true;
          w->next = w->srv->watchers;
          w->srv->watchers = w;
          MHD_suspend_connection(w->conn);
          return 0;
        }
      w->last_send = now;
    }
  size_t n = w->len - w->off < max ? w->len - w->off : max;
  memcpy(buf, w->buf + w->off, n);
  w->off += n;
  return (ssize_t)n;
}

static void watch_free(void *cls)
{
  struct srv_watcher *w = cls;
  for (struct srv_watcher **p = &w->srv->watchers; *p; p = &(*p)->next)
    if (*p == w)
      {
        *p = w->next;
        break;
      }
  w->srv->nwatchers--;
  free(w->node);
  free(w->service);
  free(w->buf);
  free(w);
}

void api_wake_watchers(struct orch_server *srv)
{
  struct srv_watcher *w = srv->watchers;
  srv->watchers = NULL;
  while (w)
    {
      struct srv_watcher *next = w->next;
      w->next = NULL;
      w->suspended = false;
      MHD_resume_connection(w->conn);
      w = next;
    }
}

static enum MHD_Result route_watch(struct orch_server *srv, struct MHD_Connection *c)
{
  static const struct
  {
    const char *name;
    char kind;
  } kinds[] = {{"services", 's'}, {"service", 's'}, {"replicas", 'r'}, {"replica", 'r'},
               {"nodes", 'n'},    {"node", 'n'},    {"events", 'e'},   {"event", 'e'}};
  const char *from = query(c, "from"), *k = query(c, "kind");
  int64_t cursor = store_revision(srv->store);
  char kind = 0;
  if (from)
    {
      char *end = NULL;
      errno = 0;
      long long v = strtoll(from, &end, 10);
      if (errno || end == from || *end || v < 0)
        return send_error(srv, c, 400, "from: expected a non-negative revision");
      cursor = v;
    }
  if (k)
    {
      for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !kind; i++)
        if (strcmp(k, kinds[i].name) == 0)
          kind = kinds[i].kind;
      if (!kind)
        return send_error(srv, c, 400, "kind: expected services, replicas, nodes or events");
    }
  if (cursor < store_compacted(srv->store))
    {
      json_t *b = json_pack("{s:s,s:i,s:I}", "error", "", "code", 410, "compactRevision",
                            (json_int_t)store_compacted(srv->store));
      char *msg = xasprintf("revision %lld compacted (oldest available %lld)", (long long)cursor,
                            (long long)store_compacted(srv->store));
      json_object_set_new(b, "error", json_string(msg));
      free(msg);
      return send_json(srv, c, 410, b);
    }
  struct srv_watcher *w = xzalloc(sizeof(*w));
  w->srv = srv;
  w->conn = c;
  w->cursor = cursor;
  w->kind = kind;
  w->node = query(c, "node") ? xstrdup(query(c, "node")) : NULL;
  w->service = query(c, "service") ? xstrdup(query(c, "service")) : NULL;
  w->last_send = srv_now();
  srv->nwatchers++;
  struct MHD_Response *r
      = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, watch_read, w, watch_free);
  MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  srv->http_count[2]++;
  return ret;
}

/* ---- metrics ---- */

static enum MHD_Result route_metrics(struct orch_server *srv, struct MHD_Connection *c)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return send_error(srv, c, 500, "open_memstream: %s", strerror(errno));
  int states[REPLICA_STATE_COUNT] = {0};
  int ready = 0, notready = 0;
  const char *name;
  json_t *o;
  json_object_foreach(srv->replicas, name, o)
  {
    int s = model_replica_state_parse(model_str(o, "state", ""));
    if (s >= 0)
      states[s]++;
  }
  json_object_foreach(srv->nodes, name, o)
  {
    if (strcmp(model_str(o, "status", ""), "Ready") == 0)
      ready++;
    else
      notready++;
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
          (long long)store_revision(srv->store));
  fprintf(f, "# TYPE skiff_services gauge\nskiff_services %zu\n", json_object_size(srv->services));
  fprintf(f, "# TYPE skiff_replicas gauge\n");
  for (int s = 0; s < REPLICA_STATE_COUNT; s++)
    fprintf(f, "skiff_replicas{state=\"%s\"} %d\n", model_replica_state_name(s), states[s]);
  fprintf(f,
          "# TYPE skiff_nodes gauge\nskiff_nodes{status=\"Ready\"} %d\n"
          "skiff_nodes{status=\"NotReady\"} %d\n",
          ready, notready);
  fprintf(f, "# TYPE skiff_http_requests_total counter\n");
  for (int k = 1; k < 6; k++)
    fprintf(f, "skiff_http_requests_total{code=\"%dxx\"} %llu\n", k,
            (unsigned long long)srv->http_count[k]);
  fprintf(f,
          "# TYPE skiff_scheduler_placements_total counter\n"
          "skiff_scheduler_placements_total %llu\n"
          "# TYPE skiff_scheduler_unschedulable_total counter\n"
          "skiff_scheduler_unschedulable_total %llu\n"
          "# TYPE skiff_watchers gauge\nskiff_watchers %d\n"
          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
          "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n",
          (unsigned long long)srv->placements, (unsigned long long)srv->unschedulable,
          srv->nwatchers, rss_pages * sysconf(_SC_PAGESIZE), cpu);
  fclose(f);
  return send_text(srv, c, 200, "text/plain; version=0.0.4", text, NULL);
}

/* ---- dispatch ---- */

static enum MHD_Result dispatch(struct orch_server *srv, struct MHD_Connection *c, const char *url,
                                const char *method, struct request *rq)
{
  if (strcmp(url, "/healthz") == 0)
    {
      if (strcmp(method, "GET") != 0)
        return send_405(srv, c, method, "GET");
      return send_json(srv, c, 200,
                       json_pack("{s:s,s:I}", "status", "ok", "revision",
                                 (json_int_t)store_revision(srv->store)));
    }
  if (!auth_ok(srv, c))
    return send_error(srv, c, 401, "missing or wrong bearer token");
  if (rq->too_big)
    return send_error(srv, c, 413, "request body over %d bytes", SRV_BODY_MAX);
  if (strcmp(url, "/metrics") == 0)
    return strcmp(method, "GET") == 0 ? route_metrics(srv, c) : send_405(srv, c, method, "GET");

  /* /v1/<collection>[/<name>[/<sub>[/<sub2>]]] */
  char *segs[6] = {0};
  size_t nseg = 0;
  cleanup_free char *path = xstrdup(url);
  char *save = NULL;
  for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save))
    {
      if (nseg == 6)
        return send_error(srv, c, 404, "no route for %s", url);
      segs[nseg++] = t;
    }
  if (nseg < 2 || strcmp(segs[0], "v1") != 0)
    return send_error(srv, c, 404, "no route for %s", url);
  const char *coll = segs[1], *name = segs[2], *sub = segs[3], *sub2 = segs[4];
  if (segs[5] || (sub2 && strcmp(coll, "services") != 0))
    return send_error(srv, c, 404, "no route for %s", url);
  if (strcmp(coll, "services") == 0)
    return route_services(srv, c, method, rq, name, sub, sub2);
  if (strcmp(coll, "replicas") == 0)
    return route_replicas(srv, c, method, rq, name, sub);
  if (strcmp(coll, "nodes") == 0)
    return route_nodes(srv, c, method, rq, name, sub);
  if (name == NULL && strcmp(coll, "apply") == 0)
    return strcmp(method, "POST") == 0 ? route_apply(srv, c, rq) : send_405(srv, c, method, "POST");
  if (name == NULL && strcmp(coll, "events") == 0)
    return strcmp(method, "GET") == 0 ? send_json(
               srv, c, 200,
               list_of(srv, srv->events, keep_event, (void *)query(c, "object"), NULL, NULL, false))
                                      : send_405(srv, c, method, "GET");
  if (name == NULL && strcmp(coll, "watch") == 0)
    return strcmp(method, "GET") == 0 ? route_watch(srv, c) : send_405(srv, c, method, "GET");
  return send_error(srv, c, 404, "no route for %s", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  struct orch_server *srv = cls;
  struct request *rq = *con_cls;
  (void)version;
  if (rq == NULL)
    {
      *con_cls = xzalloc(sizeof(struct request));
      return MHD_YES;
    }
  if (*upload_size > 0)
    {
      /* Bounded memory: past the limit the rest of the body is read and dropped. */
      if (!rq->too_big && rq->len + *upload_size <= SRV_BODY_MAX)
        {
          rq->body = xrealloc(rq->body, rq->len + *upload_size + 1);
          memcpy(rq->body + rq->len, upload, *upload_size);
          rq->len += *upload_size;
        }
      else
        {
          rq->too_big = true;
          free(rq->body);
          rq->body = NULL;
          rq->len = 0;
        }
      *upload_size = 0;
      return MHD_YES;
    }
  return dispatch(srv, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)c;
  (void)toe;
  struct request *rq = *con_cls;
  if (rq)
    {
      free(rq->body);
      free(rq);
      *con_cls = NULL;
    }
}

struct MHD_Daemon *api_start(struct orch_server *srv, const char *listen, struct skiff_err **err)
{
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
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, (uint16_t)port, NULL, NULL, on_request, srv,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)20000, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)120, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
  if (d == NULL)
    skiff_error(err, errno ? errno : EADDRINUSE, "listen on `%s`", listen);
  return d;
}

void api_stop(struct orch_server *srv, struct MHD_Daemon *d)
{
  /* MHD must not be stopped with suspended connections. */
  api_wake_watchers(srv);
  MHD_run(d);
  MHD_stop_daemon(d);
}
