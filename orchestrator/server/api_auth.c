/* api_auth.c - the gate every request passes (authentication and the route check on its
 * headers, before its body is read; the body cap; the node checks once the body is in), and
 * the routes of the cluster's trust: GET /v1/ca, POST /v1/join, /v1/tokens.  The rules are
 * auth.c's; this file applies them to libmicrohttpd's requests and writes credentials. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include "api_internal.h"
#include "cidr.h"
#include "model.h"
#include "pki.h"

/* An agent's serving certificate lives as long as a server's would; it is made anew at each
 * join (every agent start with a join token). */
#define AGENT_CERT_DAYS 365

/* Answer now, on the headers: the body (if any) is never read into memory. */
static enum MHD_Result refuse(struct api *api, struct MHD_Connection *c, struct request *rq,
                              unsigned code, const char *msg)
{
  rq->answered = true;
  free(rq->body);
  rq->body = NULL;
  rq->len = 0;
  return api_send_error(api, c, code, "%s", msg);
}

static const char *replica_node(void *data, const char *replica)
{
  struct api *api = data;
  struct view_replica *r = view_replica(api->view, replica);
  return r ? r->node : NULL;
}

enum MHD_Result api_gate_headers(struct api *api, struct MHD_Connection *c, const char *method,
                                 const char *url, struct request *rq)
{
  rq->cap = auth_body_cap(method, url);
  if (!auth_public(method, url))
    {
      const char *why = NULL;
      const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
      if (auth_authenticate(api->cfg.auth, h, time(NULL), &rq->who, &why) != 0)
        return refuse(api, c, rq, 401, why);
      cleanup_free char *reason = NULL;
      if (auth_authorize(&rq->who, method, url, replica_node, api, &reason) != 0)
        return refuse(api, c, rq, 403, reason);
      /* a client that proved who it is gets the idle timeout, not the handshake one */
      MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, api->cfg.idle_timeout);
    }
  const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
  if (len)
    {
      char *end = NULL;
      errno = 0;
      unsigned long long n = strtoull(len, &end, 10);
      if (errno || end == len || *end || n > rq->cap)
        {
          char msg[96];
          snprintf(msg, sizeof(msg), "request body over %zu bytes", rq->cap);
          return refuse(api, c, rq, 413, msg);
        }
    }
  return MHD_YES;
}

enum MHD_Result api_gate_upload(struct api *api, struct MHD_Connection *c, struct request *rq,
                                const char *data, size_t size)
{
  if (rq->answered || rq->too_big)
    return MHD_YES; /* dropped: nothing more of it is kept */
  if (rq->len + size > rq->cap)
    {
      /* a chunked body that outgrew its cap: answer now, keep nothing */
      char msg[96];
      snprintf(msg, sizeof(msg), "request body over %zu bytes", rq->cap);
      rq->too_big = true;
      return refuse(api, c, rq, 413, msg);
    }
  rq->body = xrealloc(rq->body, rq->len + size + 1);
  memcpy(rq->body + rq->len, data, size);
  rq->len += size;
  rq->body[rq->len] = '\0';
  return MHD_YES;
}

bool api_gate_body(struct api *api, struct MHD_Connection *c, const char *method, const char *url,
                   struct request *rq, enum MHD_Result *sent)
{
  cleanup_free char *reason = NULL;
  if (auth_authorize_body(&rq->who, method, url, rq->body, rq->len, &reason) == 0)
    return true;
  *sent = api_send_error(api, c, 403, "%s", reason);
  return false;
}

/* ---- GET /v1/ca ---- */

enum MHD_Result api_route_ca(struct api *api, struct MHD_Connection *c, const char *method)
{
  if (strcmp(method, "GET") != 0)
    return api_send_405(api, c, method, "GET");
  return api_send_json(
      api, c, 200,
      json_pack("{s:s,s:s}", "certificate", api->cfg.ca_cert, "hash", api->cfg.ca_hash));
}

/* ---- credentials ---- */

/* A record as the API shows it: no hash, the expiry as a time. */
static json_t *public_record(json_t *rec, time_t now)
{
  json_t *o = json_deep_copy(rec);
  json_object_del(o, "hash");
  json_object_del(o, "serverToken");
  json_int_t exp = json_integer_value(json_object_get(rec, "expiresAt"));
  json_object_del(o, "expiresAt");
  if (exp > 0)
    {
      cleanup_free char *t = model_time_string((time_t)exp);
      json_object_set_new(o, "expires", json_string(t));
    }
  else
    json_object_set_new(o, "expires", json_null());
  json_object_set_new(o, "expired", json_boolean(exp > 0 && now >= exp));
  return o;
}

/* The ids of node's credentials (node NULL: none). */
static json_t *credentials_of(struct api *api, const char *node)
{
  json_t *ids = json_array();
  const char *id;
  json_t *rec;
  if (node)
    json_object_foreach(api->cfg.auth->tokens, id, rec)
    {
      if (strcmp(model_str(rec, "kind", ""), "node") == 0
          && strcmp(model_str(rec, "node", ""), node) == 0)
        json_array_append_new(ids, json_string(id));
    }
  return ids;
}

/* Write a new credential record; a node's earlier credentials are deleted in the same
 * transaction (a node joining again: the old ones stop working).  *cred gets id.secret. */
static int issue(struct api *api, enum auth_kind kind, const char *node, time_t expires_at,
                 const char *description, char **cred, struct skiff_err **err)
{
  for (int attempt = 0; attempt < 3; attempt++)
    {
      char *c = trust_new_credential(), id[TRUST_ID_LEN + 1];
      const char *secret = NULL;
      trust_credential_parse(c, id, &secret);
      json_t *replaced = credentials_of(api, kind == AUTH_NODE ? node : NULL);
      size_t n = 1 + json_array_size(replaced);
      struct store_op *ops = xzalloc(n * sizeof(*ops));
      char **keys = xzalloc(n * sizeof(char *));
      keys[0] = xasprintf("%s%s", AUTH_STORE_PREFIX, id);
      cleanup_free char *rec
          = auth_record(id, kind, node, secret, time(NULL), expires_at, description);
      ops[0] = (struct store_op){STORE_PUT, keys[0], rec, strlen(rec), STORE_ABSENT};
      for (size_t i = 1; i < n; i++)
        {
          keys[i] = xasprintf("%s%s", AUTH_STORE_PREFIX,
                              json_string_value(json_array_get(replaced, i - 1)));
          ops[i] = (struct store_op){
              .type = STORE_DELETE, .key = keys[i], .expect_rev = STORE_ANY_REV};
        }
      json_decref(replaced);
      /* straight to the store: credentials are no object of the view; its commit callback
         hands them to the credential table (cluster_set_store_observer) */
      int r = store_txn(api->cl->store, ops, n, NULL, NULL, err);
      for (size_t i = 0; i < n; i++)
        free(keys[i]);
      free(keys);
      free(ops);
      if (r == 0)
        {
          *cred = c;
          return 0;
        }
      free(c);
      if (r < 0)
        return -1;
      /* a conflict: the id was taken, or another server deleted a replaced one: again */
    }
  return skiff_error(err, 0, "could not write a new credential (conflicts)");
}

enum MHD_Result api_route_join(struct api *api, struct MHD_Connection *c, const char *method,
                               struct request *rq)
{
  if (strcmp(method, "POST") != 0)
    return api_send_405(api, c, method, "POST");
  enum MHD_Result sent = MHD_NO;
  json_t *doc = api_parse_body(api, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  const char *named = json_string_value(json_object_get(doc, "node"));
  json_t *addr_v = json_object_get(doc, "address");
  cleanup_free char *node = xstrdup(named ? named : "");
  cleanup_free char *address = json_is_string(addr_v) ? xstrdup(json_string_value(addr_v)) : NULL;
  bool bad_address = addr_v && !json_is_string(addr_v);
  json_decref(doc);
  if (!model_name_valid(node, 63))
    return api_send_error(api, c, 400,
                          "node: expected a name of at most 63 characters of a-z, 0-9 and `-`");
  uint32_t ip;
  if (bad_address || (address && (cidr_parse_addr(address, &ip) < 0 || ip == 0)))
    return api_send_error(api, c, 400, "address: expected the node's IPv4 address");
  json_t *earlier = credentials_of(api, node);
  bool rejoin = json_array_size(earlier) > 0;
  json_decref(earlier);
  if (!rejoin && api->cfg.auth->node_creds >= AUTH_MAX_NODE_CREDENTIALS)
    return api_send_error(api, c, 409,
                          "%d node credentials exist already: delete unused ones first "
                          "(skiffctl token list, skiffctl token delete)",
                          AUTH_MAX_NODE_CREDENTIALS);
  char desc[96];
  snprintf(desc, sizeof(desc), "joined with %s `%s`", auth_kind_name(rq->who.kind), rq->who.id);
  cleanup_free char *cred = NULL;
  cleanup_err struct skiff_err *err = NULL;
  int r = issue(api, AUTH_NODE, node, 0, desc, &cred, &err);
  if (r < 0)
    return api_store_failure(api, c, err);
  char cid[TRUST_ID_LEN + 1];
  trust_credential_parse(cred, cid, NULL);
  const char *server_token = auth_server_token(api->cfg.auth, node);
  json_t *answer = json_pack("{s:s,s:s,s:s,s:s}", "node", node, "id", cid, "token", cred,
                             "serverToken", server_token ? server_token : "");
  /* the agent's endpoint certificate (as k3s signs its agents' serving certificates): the
     address the servers call it at, and the node name */
  cleanup_free char *cert = NULL, *key = NULL;
  char *names[] = {address, node, NULL};
  if (address && api->cfg.ca_key
      && pki_issue(api->cfg.ca_cert, api->cfg.ca_key, names, AGENT_CERT_DAYS, false, &cert, &key,
                   &err)
             == 0)
    {
      json_object_set_new(answer, "servingCert", json_string(cert));
      json_object_set_new(answer, "servingKey", json_string(key));
    }
  else if (address && err)
    skiff_report("join of node %s: no serving certificate: %s", node, err->msg);
  return api_send_json(api, c, 201, answer);
}

static json_t *token_view(struct api *api, json_t *rec)
{
  (void)api;
  return public_record(rec, time(NULL));
}

static enum MHD_Result create_token(struct api *api, struct MHD_Connection *c, struct request *rq)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = api_parse_body(api, c, rq, true, &sent);
  if (doc == NULL)
    return sent;
  json_t *ttl = json_object_get(doc, "ttl"), *d = json_object_get(doc, "description");
  double secs = ttl ? json_number_value(ttl) : AUTH_JOIN_TTL_DEFAULT;
  const char *desc = d ? json_string_value(d) : "";
  enum MHD_Result ret;
  if (!json_is_object(doc) || (ttl && !json_is_number(ttl)) || secs < 0 || secs > 365 * 86400.0)
    ret = api_send_error(api, c, 400, "ttl: expected seconds from 0 (never expires) to 31536000");
  else if (desc == NULL || strlen(desc) > 200)
    ret = api_send_error(api, c, 400, "description: expected a string of at most 200 bytes");
  else
    {
      time_t exp = secs > 0 ? time(NULL) + (time_t)(secs + 0.5) : 0;
      cleanup_free char *cred = NULL;
      cleanup_err struct skiff_err *err = NULL;
      if (issue(api, AUTH_JOIN, NULL, exp, desc, &cred, &err) < 0)
        ret = api_store_failure(api, c, err);
      else
        {
          char id[TRUST_ID_LEN + 1];
          trust_credential_parse(cred, id, NULL);
          cleanup_free char *join = trust_join_format(api->cfg.ca_hash, cred);
          json_t *o = public_record(json_object_get(api->cfg.auth->tokens, id), time(NULL));
          json_object_set_new(o, "token", json_string(join));
          ret = api_send_json(api, c, 201, o);
        }
    }
  json_decref(doc);
  return ret;
}

static enum MHD_Result delete_token(struct api *api, struct MHD_Connection *c, const char *id)
{
  json_t *rec = json_object_get(api->cfg.auth->tokens, id);
  if (rec == NULL)
    return api_send_error(api, c, 404, "token `%s` not found", id);
  if (strcmp(model_str(rec, "kind", ""), "admin") == 0)
    {
      int admins = 0;
      const char *k;
      json_t *r;
      json_object_foreach(api->cfg.auth->tokens, k, r)
      {
        admins += strcmp(model_str(r, "kind", ""), "admin") == 0;
      }
      if (admins <= 1)
        return api_send_error(api, c, 409, "token `%s` is the last admin credential", id);
    }
  json_t *last = public_record(rec, time(NULL));
  cleanup_free char *key = xasprintf("%s%s", AUTH_STORE_PREFIX, id);
  struct store_op op = {.type = STORE_DELETE, .key = key, .expect_rev = STORE_ANY_REV};
  cleanup_err struct skiff_err *err = NULL;
  int r = store_txn(api->cl->store, &op, 1, NULL, NULL, &err);
  if (r != 0)
    {
      json_decref(last);
      return r < 0 ? api_store_failure(api, c, err)
                   : api_send_error(api, c, 404, "token `%s` not found", id);
    }
  return api_send_json(api, c, 200, last);
}

enum MHD_Result api_route_tokens(struct api *api, struct MHD_Connection *c, const char *method,
                                 struct request *rq, const char *name)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") == 0)
        return api_send_json(api, c, 200,
                             api_list_of(api, api->cfg.auth->tokens, NULL, NULL, token_view, true));
      if (strcmp(method, "POST") == 0)
        return create_token(api, c, rq);
      return api_send_405(api, c, method, "GET, POST");
    }
  if (strcmp(method, "DELETE") != 0)
    return api_send_405(api, c, method, "DELETE");
  return delete_token(api, c, name);
}
