/* auth.c - the credential table, authentication, the node restrictions and the body caps
 * (see auth.h). */
#include "auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

void auth_init(struct auth *a)
{
  a->tokens = json_object();
  a->node_creds = 0;
}

void auth_free(struct auth *a)
{
  json_decref(a->tokens);
  a->tokens = NULL;
}

static bool is_node(json_t *rec)
{
  return strcmp(model_str(rec, "kind", ""), "node") == 0;
}

static void put_record(struct auth *a, const char *id, json_t *rec)
{
  json_t *old = json_object_get(a->tokens, id);
  if (old && is_node(old))
    a->node_creds--;
  if (rec == NULL)
    {
      json_object_del(a->tokens, id);
      return;
    }
  if (is_node(rec))
    a->node_creds++;
  json_object_set_new(a->tokens, id, rec);
}

int auth_load(struct auth *a, struct store *s, struct skiff_err **err)
{
  struct store_kv *kvs = NULL;
  size_t n = 0;
  if (store_range(s, AUTH_STORE_PREFIX, &kvs, &n, NULL, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      json_t *rec = json_loadb(kvs[i].value, kvs[i].len, 0, NULL);
      if (json_is_object(rec))
        put_record(a, kvs[i].key + strlen(AUTH_STORE_PREFIX), rec);
      else
        json_decref(rec);
    }
  store_kvs_free(kvs, n);
  return 0;
}

void auth_apply(struct auth *a, const struct store_event *ev)
{
  size_t np = strlen(AUTH_STORE_PREFIX);
  if (strncmp(ev->kv.key, AUTH_STORE_PREFIX, np) != 0)
    return;
  const char *id = ev->kv.key + np;
  json_t *rec = NULL;
  if (ev->type == STORE_PUT && ev->kv.value)
    rec = json_loadb(ev->kv.value, ev->kv.len, 0, NULL);
  if (rec && !json_is_object(rec))
    {
      json_decref(rec);
      rec = NULL;
    }
  put_record(a, id, rec);
}

const char *auth_kind_name(enum auth_kind k)
{
  switch (k)
    {
      case AUTH_ADMIN:
        return "admin";
      case AUTH_NODE:
        return "node";
      case AUTH_JOIN:
        return "join";
      default:
        return "none";
    }
}

static enum auth_kind kind_parse(const char *s)
{
  return strcmp(s, "admin") == 0  ? AUTH_ADMIN
         : strcmp(s, "node") == 0 ? AUTH_NODE
         : strcmp(s, "join") == 0 ? AUTH_JOIN
                                  : AUTH_NONE;
}

char *auth_record(const char *id, enum auth_kind kind, const char *node, const char *secret,
                  time_t created, time_t expires_at, const char *description)
{
  char hash[65];
  trust_secret_hash(secret, hash);
  cleanup_free char *when = model_time_string(created);
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "id", id, "kind", auth_kind_name(kind), "hash",
                        hash, "created", when, "expiresAt", (json_int_t)expires_at, "description",
                        description ? description : "");
  if (node)
    {
      json_object_set_new(o, "node", json_string(node));
      /* what a server presents when it calls this node's agent (logs): the agent learns it
         at join; kept as is (a server must be able to send it), never listed */
      cleanup_free char *call = trust_new_credential();
      json_object_set_new(o, "serverToken", json_string(call));
    }
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

int auth_authenticate(const struct auth *a, const char *authorization, time_t now,
                      struct auth_identity *who, const char **why)
{
  memset(who, 0, sizeof(*who));
  const char *secret = NULL;
  char id[TRUST_ID_LEN + 1];
  if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0)
    return *why = "missing bearer credential", 401;
  if (!trust_credential_parse(authorization + 7, id, &secret))
    return *why = "malformed credential (want <id>.<secret>)", 401;
  json_t *rec = json_object_get(a->tokens, id);
  char hash[65];
  trust_secret_hash(secret, hash);
  /* compared even for an unknown id: no timing difference between the two */
  bool match = trust_equal(hash, rec ? model_str(rec, "hash", "") : "");
  if (rec == NULL || !match)
    return *why = "unknown or revoked credential", 401;
  json_int_t exp = json_integer_value(json_object_get(rec, "expiresAt"));
  if (exp > 0 && now >= exp)
    return *why = "credential expired", 401;
  who->kind = kind_parse(model_str(rec, "kind", ""));
  if (who->kind == AUTH_NONE)
    return *why = "unknown or revoked credential", 401;
  memcpy(who->id, id, sizeof(who->id));
  snprintf(who->node, sizeof(who->node), "%s", model_str(rec, "node", ""));
  if (who->kind == AUTH_NODE && who->node[0] == '\0')
    return *why = "unknown or revoked credential", 401;
  return 0;
}

/* ---- routes ---- */

/* The path in segments, exactly as api.c's dispatch splits it (empty segments dropped). */
struct route
{
  char buf[512];
  const char *seg[6];
  size_t n;
  bool too_long;
};

static void route_split(const char *path, struct route *r)
{
  memset(r, 0, sizeof(*r));
  if (strlen(path) >= sizeof(r->buf))
    {
      r->too_long = true;
      return;
    }
  strcpy(r->buf, path);
  char *save = NULL;
  for (char *t = strtok_r(r->buf, "/", &save); t; t = strtok_r(NULL, "/", &save))
    {
      if (r->n == 6)
        {
          r->too_long = true;
          return;
        }
      r->seg[r->n++] = t;
    }
}

static bool seg_is(const struct route *r, size_t i, const char *s)
{
  return i < r->n && strcmp(r->seg[i], s) == 0;
}

bool auth_public(const char *method, const char *path)
{
  if (strcmp(method, "GET") != 0)
    return false;
  if (strcmp(path, "/healthz") == 0)
    return true;
  struct route r;
  route_split(path, &r);
  return !r.too_long && r.n == 2 && seg_is(&r, 0, "v1") && seg_is(&r, 1, "ca");
}

size_t auth_body_cap(const char *method, const char *path)
{
  struct route r;
  route_split(path, &r);
  bool post = strcmp(method, "POST") == 0, put = strcmp(method, "PUT") == 0;
  if (r.too_long || !seg_is(&r, 0, "v1"))
    return 4096;
  if ((post && r.n == 2 && (seg_is(&r, 1, "apply") || seg_is(&r, 1, "services")))
      || (put && r.n == 3 && seg_is(&r, 1, "services")))
    return 1024 * 1024; /* desired state: many services in one file */
  if (post && r.n == 2 && seg_is(&r, 1, "nodes"))
    return 64 * 1024; /* a registration: labels and capacity */
  if (post && r.n == 4 && seg_is(&r, 1, "replicas") && seg_is(&r, 3, "status"))
    return 16 * 1024; /* a status report */
  if (post && r.n == 4 && seg_is(&r, 1, "nodes") && seg_is(&r, 3, "status"))
    return 1024 * 1024; /* a node's reports of all its replicas at once */
  return 4096;          /* heartbeats, scale, undo, tokens, join; GET and DELETE carry none */
}

static int deny(char **reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int deny(char **reason, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(reason, fmt, ap) < 0)
    abort();
  va_end(ap);
  return 403;
}

/* What a node may do with one of the replicas: only those bound to it. */
static int node_replica(const struct auth_identity *who, const char *verb, const char *replica,
                        auth_replica_node_fn replica_node, void *data, char **reason)
{
  const char *bound = replica_node ? replica_node(data, replica) : NULL;
  if (bound == NULL)
    return 0; /* no such replica: the route answers 404 */
  if (strcmp(bound, who->node) == 0)
    return 0;
  if (*bound == '\0')
    return deny(reason, "node `%s` may not %s replica `%s`: it is bound to no node", who->node,
                verb, replica);
  return deny(reason, "node `%s` may not %s replica `%s`: it is bound to node `%s`", who->node,
              verb, replica, bound);
}

int auth_authorize(const struct auth_identity *who, const char *method, const char *path,
                   auth_replica_node_fn replica_node, void *data, char **reason)
{
  *reason = NULL;
  if (who->kind == AUTH_ADMIN)
    return 0;
  struct route r;
  route_split(path, &r);
  bool v1 = !r.too_long && seg_is(&r, 0, "v1");
  bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  if (who->kind == AUTH_JOIN)
    {
      if (v1 && post && r.n == 2 && seg_is(&r, 1, "join"))
        return 0;
      return deny(reason, "a join token may only join a node (POST /v1/join), not %s %s", method,
                  path);
    }
  if (who->kind != AUTH_NODE)
    return deny(reason, "no identity");
  const char *coll = v1 && r.n > 1 ? r.seg[1] : "";
  size_t rest = v1 && r.n > 1 ? r.n - 2 : 0; /* segments after the collection */
  if (v1 && get)
    {
      /* what an agent reads: the services (proxy), the replicas (its own and the service
         proxy's endpoints), the nodes (routes to the others), the watch stream */
      if (strcmp(coll, "services") == 0 || (strcmp(coll, "watch") == 0 && rest == 0)
          || ((strcmp(coll, "replicas") == 0 || strcmp(coll, "nodes") == 0) && rest <= 1))
        return 0;
    }
  if (v1 && post && strcmp(coll, "nodes") == 0)
    {
      if (rest == 0)
        return 0; /* register: the body must name the node itself (auth_authorize_body) */
      if (rest == 2 && seg_is(&r, 3, "heartbeat"))
        return strcmp(r.seg[2], who->node) == 0
                   ? 0
                   : deny(reason, "node `%s` may only heartbeat itself, not node `%s`", who->node,
                          r.seg[2]);
      /* the batched report: the route takes only replicas bound to the node it names */
      if (rest == 2 && seg_is(&r, 3, "status"))
        return strcmp(r.seg[2], who->node) == 0
                   ? 0
                   : deny(reason, "node `%s` may only report as itself, not as node `%s`",
                          who->node, r.seg[2]);
    }
  if (v1 && strcmp(coll, "replicas") == 0)
    {
      if (post && rest == 2 && seg_is(&r, 3, "status"))
        return node_replica(who, "report the status of", r.seg[2], replica_node, data, reason);
      if (strcmp(method, "DELETE") == 0 && rest == 1)
        return node_replica(who, "delete", r.seg[2], replica_node, data, reason);
    }
  return deny(reason, "node `%s` may not %s %s", who->node, method, path);
}

int auth_authorize_body(const struct auth_identity *who, const char *method, const char *path,
                        const char *body, size_t len, char **reason)
{
  *reason = NULL;
  if (who->kind != AUTH_NODE || strcmp(method, "POST") != 0)
    return 0;
  struct route r;
  route_split(path, &r);
  const char *field = NULL, *what = NULL;
  if (r.n == 2 && seg_is(&r, 0, "v1") && seg_is(&r, 1, "nodes"))
    field = "name", what = "register";
  else if (r.n == 4 && seg_is(&r, 0, "v1") && seg_is(&r, 1, "replicas") && seg_is(&r, 3, "status"))
    field = "node", what = "report as";
  if (field == NULL)
    return 0;
  json_t *doc = json_loadb(body ? body : "", len, 0, NULL);
  const char *named = json_string_value(json_object_get(doc, field));
  int ret = 0;
  if (named && strcmp(named, who->node) != 0)
    ret = deny(reason, "node `%s` may only %s itself, not node `%s`", who->node, what, named);
  json_decref(doc); /* unparsable or without the field: the route answers 400 */
  return ret;
}

const char *auth_server_token(const struct auth *a, const char *node)
{
  const char *id;
  json_t *rec;
  json_object_foreach(a->tokens, id, rec)
  {
    if (strcmp(model_str(rec, "kind", ""), "node") == 0
        && strcmp(model_str(rec, "node", ""), node) == 0)
      return json_string_value(json_object_get(rec, "serverToken"));
  }
  return NULL;
}
