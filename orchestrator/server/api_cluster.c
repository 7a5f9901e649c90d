/* api_cluster.c - Replica routes (list/get/delete, agent status reports) and Node routes
 * (register, heartbeat, cordon/uncordon/drain, delete). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <microhttpd.h>
#include "api_internal.h"
#include "model.h"

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

static enum MHD_Result replica_status(struct api *api, struct MHD_Connection *c, struct request *rq,
                                      json_t *rep)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = api_parse_body(api, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  cleanup_err struct skiff_err *err = NULL;
  enum MHD_Result ret;
  const char *name = model_str(rep, "name", "");
  int st = model_replica_state_parse(model_str(rep, "state", ""));
  if (model_status_parse(doc, &err) < 0)
    ret = api_send_error(api, c, 400, "%s", err->msg);
  else if (strcmp(model_str(doc, "node", ""), model_str(rep, "node", "")) != 0)
    ret = api_send_error(api, c, 409, "replica `%s` is bound to node `%s`, not `%s`", name,
                         model_str(rep, "node", ""), model_str(doc, "node", ""));
  else if (st == REPLICA_TERMINATING || st == REPLICA_LOST)
    {
      json_t *body = json_pack("{s:s,s:i,s:O}", "error", "replica is being stopped: stop it",
                               "code", 409, "replica", rep);
      ret = api_send_json(api, c, 409, body);
    }
  else
    {
      json_t *obj = json_copy(rep);
      const char *key;
      json_t *v;
      json_object_foreach(doc, key, v)
      {
        if (strcmp(key, "node") != 0)
          json_object_set(obj, key, v);
      }
      if (json_equal(obj, rep))
        ret = api_send_json(api, c, 200, json_incref(rep));
      else
        {
          int nst = model_replica_state_parse(model_str(obj, "state", ""));
          if (nst != st && (nst == REPLICA_FAILED || nst == REPLICA_BACKOFF))
            recorder_event(&api->cl->events, "Warning", "Replica", name,
                           nst == REPLICA_FAILED ? "Failed" : "BackOff", "exit code %lld%s%s",
                           (long long)model_int(obj, "lastExitCode", -1),
                           *model_str(obj, "reason", "") ? ": " : "", model_str(obj, "reason", ""));
          ret = api_put_and_reply(api, c, "/replicas/", api->view->replicas, obj,
                                  model_int(rep, "revision", 0), 200);
        }
      json_decref(obj);
    }
  json_decref(doc);
  return ret;
}

enum MHD_Result api_route_replicas(struct api *api, struct MHD_Connection *c, const char *method,
                                   struct request *rq, const char *name, const char *sub)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") != 0)
        return api_send_405(api, c, method, "GET");
      struct replica_filter f = {api_query(c, "service"), api_query(c, "node")};
      return api_send_json(
          api, c, 200, api_list_of(api, api->view->replicas, keep_replica, &f, NULL, NULL, true));
    }
  json_t *rep = json_object_get(api->view->replicas, name);
  if (rep == NULL)
    return api_send_error(api, c, 404, "replica `%s` not found", name);
  if (sub && strcmp(sub, "status") == 0)
    {
      if (strcmp(method, "POST") != 0)
        return api_send_405(api, c, method, "POST");
      return replica_status(api, c, rq, rep);
    }
  if (sub)
    return api_send_error(api, c, 404, "no route for %s", sub);
  if (strcmp(method, "GET") == 0)
    return api_send_json(api, c, 200, json_incref(rep));
  if (strcmp(method, "DELETE") != 0)
    return api_send_405(api, c, method, "GET, DELETE");
  int st = model_replica_state_parse(model_str(rep, "state", ""));
  const char *node = model_str(rep, "node", "");
  json_t *n = json_object_get(api->view->nodes, node);
  bool node_ready = n && strcmp(model_str(n, "status", ""), "Ready") == 0;
  if (*node && node_ready && model_replica_state_live(st) && st != REPLICA_PENDING)
    {
      /* Graceful: the agent stops it, then deletes it. */
      json_t *obj = json_copy(rep);
      json_object_set_new(obj, "state", json_string("Terminating"));
      json_object_set_new(obj, "ready", json_false());
      json_object_set_new(obj, "reason", json_string("deleted by request"));
      enum MHD_Result ret = api_put_and_reply(api, c, "/replicas/", api->view->replicas, obj,
                                              model_int(rep, "revision", 0), 200);
      json_decref(obj);
      return ret;
    }
  json_t *last = json_deep_copy(rep);
  cleanup_free char *key = xasprintf("/replicas/%s", name);
  cleanup_err struct skiff_err *err = NULL;
  if (store_delete(api->cl->store, key, STORE_ANY_REV, NULL, &err) != 0)
    {
      json_decref(last);
      return api_store_failure(api, c, err);
    }
  return api_send_json(api, c, 200, last);
}

/* ---- nodes ---- */

static json_t *node_view(struct api *api, json_t *node, json_t *alloc)
{
  return view_node_render(api->view, node, alloc, cluster_now());
}

static enum MHD_Result node_register(struct api *api, struct MHD_Connection *c, struct request *rq)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = api_parse_body(api, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  json_t *reg = NULL;
  cleanup_err struct skiff_err *err = NULL;
  enum MHD_Result ret;
  if (model_node_parse(doc, &reg, &err) < 0)
    {
      json_decref(doc);
      return api_send_error(api, c, 400, "%s", err->msg);
    }
  json_decref(doc);
  const char *name = model_str(reg, "name", "");
  json_t *old = json_object_get(api->view->nodes, name);
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
  cluster_heartbeat(api->cl, name, cluster_now());
  if (old && json_equal(old, obj))
    {
      json_t *alloc = view_node_allocations(api->view);
      ret = api_send_json(api, c, 200, node_view(api, old, alloc));
      json_decref(alloc);
    }
  else
    {
      cleanup_free char *key = xasprintf("/nodes/%s", name);
      cleanup_free char *val = cluster_encode(obj);
      if (store_put(api->cl->store, key, val, old ? model_int(old, "revision", 0) : STORE_ABSENT,
                    NULL, &err)
          != 0)
        ret = err ? api_store_failure(api, c, err)
                  : api_send_error(api, c, 409, "%s: conflict", key);
      else
        {
          if (!old)
            recorder_event(&api->cl->events, "Normal", "Node", name, "NodeRegistered", "address %s",
                           model_str(obj, "address", ""));
          json_t *alloc = view_node_allocations(api->view);
          ret = api_send_json(api, c, old ? 200 : 201,
                              node_view(api, json_object_get(api->view->nodes, name), alloc));
          json_decref(alloc);
        }
    }
  json_decref(obj);
  json_decref(reg);
  return ret;
}

static enum MHD_Result node_set_cordon(struct api *api, struct MHD_Connection *c, json_t *node,
                                       bool cordon, bool drain)
{
  const char *name = model_str(node, "name", "");
  cleanup_free char *nname = xstrdup(name);
  cleanup_err struct skiff_err *err = NULL;
  size_t cap = 1 + (drain ? json_object_size(api->view->replicas) : 0), n = 0;
  struct store_op *ops = xzalloc(cap * sizeof(*ops));
  char **bufs = xzalloc(2 * cap * sizeof(char *));
  size_t nb = 0;
  if (model_bool(node, "cordoned", false) != cordon)
    {
      json_t *obj = json_deep_copy(node);
      json_object_set_new(obj, "cordoned", json_boolean(cordon));
      bufs[nb++] = xasprintf("/nodes/%s", name);
      bufs[nb++] = cluster_encode(obj);
      ops[n++] = (struct store_op){STORE_PUT, bufs[nb - 2], bufs[nb - 1], strlen(bufs[nb - 1]),
                                   model_int(node, "revision", 0)};
      json_decref(obj);
    }
  const char *rname;
  json_t *r;
  int drained = 0;
  if (drain)
    json_object_foreach(api->view->replicas, rname, r)
    {
      int st = model_replica_state_parse(model_str(r, "state", ""));
      if (strcmp(model_str(r, "node", ""), name) != 0 || !model_replica_state_live(st))
        continue;
      json_t *obj = json_deep_copy(r);
      json_object_set_new(obj, "state", json_string("Terminating"));
      json_object_set_new(obj, "ready", json_false());
      json_object_set_new(obj, "reason", json_string("node drained"));
      bufs[nb++] = xasprintf("/replicas/%s", rname);
      bufs[nb++] = cluster_encode(obj);
      ops[n++] = (struct store_op){STORE_PUT, bufs[nb - 2], bufs[nb - 1], strlen(bufs[nb - 1]),
                                   model_int(r, "revision", 0)};
      json_decref(obj);
      drained++;
    }
  int rc = cluster_commit(api->cl, ops, n, NULL, &err);
  for (size_t i = 0; i < nb; i++)
    free(bufs[i]);
  free(bufs);
  free(ops);
  if (rc != 0)
    return rc == STORE_CONFLICT ? api_send_error(api, c, 409, "node `%s`: conflict, retry", nname)
                                : api_store_failure(api, c, err);
  if (drain)
    recorder_event(&api->cl->events, "Normal", "Node", nname, "Drained",
                   "cordoned; %d replicas stopping", drained);
  else if (n > 0)
    recorder_event(&api->cl->events, "Normal", "Node", nname, cordon ? "Cordoned" : "Uncordoned",
                   "%s", cordon ? "no new replicas will be placed here" : "schedulable again");
  json_t *alloc = view_node_allocations(api->view);
  enum MHD_Result ret
      = api_send_json(api, c, 200, node_view(api, json_object_get(api->view->nodes, nname), alloc));
  json_decref(alloc);
  return ret;
}

enum MHD_Result api_route_nodes(struct api *api, struct MHD_Connection *c, const char *method,
                                struct request *rq, const char *name, const char *sub)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") == 0)
        {
          json_t *alloc = view_node_allocations(api->view);
          json_t *l = api_list_of(api, api->view->nodes, NULL, NULL, node_view, alloc, true);
          json_decref(alloc);
          return api_send_json(api, c, 200, l);
        }
      if (strcmp(method, "POST") == 0)
        return node_register(api, c, rq);
      return api_send_405(api, c, method, "GET, POST");
    }
  json_t *node = json_object_get(api->view->nodes, name);
  if (node == NULL)
    return api_send_error(api, c, 404, "node `%s` not found", name);
  if (sub == NULL)
    {
      if (strcmp(method, "GET") == 0)
        {
          json_t *alloc = view_node_allocations(api->view);
          enum MHD_Result ret = api_send_json(api, c, 200, node_view(api, node, alloc));
          json_decref(alloc);
          return ret;
        }
      if (strcmp(method, "DELETE") == 0)
        {
          json_t *last = json_deep_copy(node);
          cleanup_free char *key = xasprintf("/nodes/%s", name);
          cleanup_err struct skiff_err *err = NULL;
          if (store_delete(api->cl->store, key, STORE_ANY_REV, NULL, &err) != 0)
            {
              json_decref(last);
              return api_store_failure(api, c, err);
            }
          recorder_event(&api->cl->events, "Normal", "Node", model_str(last, "name", ""), "Deleted",
                         "node removed; its replicas are replaced");
          return api_send_json(api, c, 200, last);
        }
      return api_send_405(api, c, method, "GET, DELETE");
    }
  if (strcmp(method, "POST") != 0)
    return api_send_405(api, c, method, "POST");
  if (strcmp(sub, "heartbeat") == 0)
    {
      cluster_heartbeat(api->cl, name, cluster_now());
      return api_send_json(api, c, 200,
                           json_pack("{s:s,s:s,s:f}", "name", name, "status",
                                     model_str(node, "status", ""), "heartbeatInterval",
                                     api->cfg.heartbeat_interval));
    }
  if (strcmp(sub, "cordon") == 0 || strcmp(sub, "uncordon") == 0 || strcmp(sub, "drain") == 0)
    return node_set_cordon(api, c, node, strcmp(sub, "uncordon") != 0, strcmp(sub, "drain") == 0);
  return api_send_error(api, c, 404, "no route for %s", sub);
}

bool api_keep_event(json_t *e, void *arg)
{
  return arg == NULL || strcmp(model_str(e, "object", ""), arg) == 0;
}
