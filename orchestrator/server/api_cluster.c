/* api_cluster.c - Replica routes (list/get/delete, agent status reports) and Node routes
 * (register, heartbeat, the batched node status report, cordon/uncordon/drain, delete).
 * The agents' writes (reports, deletes) join the pass's write group (api_group.c). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <microhttpd.h>
#include "api_internal.h"
#include "jtext.h"
#include "model.h"
#include "nodeipam.h"

/* ---- replicas ---- */

static int by_name(const void *a, const void *b)
{
  return strcmp((*(struct view_replica *const *)a)->name, (*(struct view_replica *const *)b)->name);
}

/* GET /v1/replicas[?service=S][&node=N]: written as text (tens of thousands of replicas). */
static enum MHD_Result list_replicas(struct api *api, struct MHD_Connection *c)
{
  const char *service = api_query(c, "service"), *node = api_query(c, "node");
  struct view *v = api->view;
  size_t n = 0;
  struct view_replica **items = xmalloc((v->replicas.n ? v->replicas.n : 1) * sizeof(*items));
  if (service)
    {
      struct view_group *g = view_group(v, service);
      for (size_t i = 0; g && i < g->n; i++)
        items[n++] = g->items[i];
    }
  else
    {
      size_t pos = 0;
      void *val;
      while (strmap_next(&v->replicas, &pos, NULL, &val))
        items[n++] = val;
    }
  qsort(items, n, sizeof(*items), by_name);
  struct jtext t = {0};
  jtext_str(&t, "{\"items\":[");
  bool first = true;
  for (size_t i = 0; i < n; i++)
    {
      if (node && strcmp(items[i]->node, node) != 0)
        continue;
      size_t len;
      char *s = view_replica_encode(items[i], true, &len);
      if (!first)
        jtext_str(&t, ",");
      jtext_raw(&t, s, len);
      free(s);
      first = false;
    }
  jtext_str(&t, "],\"revision\":");
  jtext_int(&t, v->rev);
  jtext_str(&t, "}");
  free(items);
  return api_send_text(api, c, 200, jtext_take(&t, NULL));
}

/* A status report (fields of model_status_parse, "node" and "name" aside) applied to a copy
 * of r; NULL when it changes nothing. */
static struct view_replica *apply_report(const struct view_replica *r, json_t *doc)
{
  struct view_replica *c = view_replica_clone(r);
  const char *key;
  json_t *v;
  json_object_foreach(doc, key, v)
  {
    if (strcmp(key, "node") == 0 || strcmp(key, "name") == 0)
      continue;
    if (strcmp(key, "state") == 0)
      c->state = (enum replica_state)model_replica_state_parse(json_string_value(v));
    else if (strcmp(key, "ready") == 0)
      c->ready = json_is_true(v);
    else if (strcmp(key, "restarts") == 0)
      c->restarts = (int)json_integer_value(v);
    else if (strcmp(key, "address") == 0)
      view_replica_set(&c->address, json_string_value(v));
    else if (strcmp(key, "reason") == 0)
      view_replica_set(&c->reason, json_string_value(v));
    else if (strcmp(key, "lastExitCode") == 0)
      {
        c->has_exit = json_is_integer(v);
        c->exit_code = c->has_exit ? (int)json_integer_value(v) : 0;
      }
    else
      {
        if (c->extra == NULL)
          c->extra = json_object();
        json_object_set(c->extra, key, v);
      }
  }
  if (view_replica_same(r, c))
    {
      view_replica_free(c);
      return NULL;
    }
  return c;
}

/* One report for replica `name` from `node` (validated): recorded in rq's results, its write
 * queued in the group.  single: errors answer the whole request (the per-replica route). */
static void report_one(struct api *api, struct request *rq, const char *name, const char *node,
                       json_t *doc)
{
  struct view_replica *rep = view_replica(api->view, name);
  if (rep == NULL)
    {
      cleanup_free char *msg = xasprintf("replica `%s` not found", name);
      api_result(rq, name, 404, msg);
      return;
    }
  if (strcmp(node, rep->node) != 0)
    {
      cleanup_free char *msg
          = xasprintf("replica `%s` is bound to node `%s`, not `%s`", name, rep->node, node);
      api_result(rq, name, 409, msg);
      return;
    }
  if (rep->state == REPLICA_TERMINATING || rep->state == REPLICA_LOST)
    {
      json_t *item = api_result(rq, name, 409, "replica is being stopped: stop it");
      json_object_set_new(item, "replica", view_replica_json(rep));
      return;
    }
  struct view_replica *next = apply_report(rep, doc);
  if (next == NULL)
    {
      api_result(rq, name, 200, NULL);
      return;
    }
  if (next->state != rep->state
      && (next->state == REPLICA_FAILED || next->state == REPLICA_BACKOFF))
    {
      /* a replica that never started has no exit code: say only why */
      cleanup_free char *exit
          = next->has_exit ? xasprintf("exit code %d%s", next->exit_code, *next->reason ? ": " : "")
                           : xstrdup("");
      recorder_event(&api->cl->events, "Warning", "Replica", name,
                     next->state == REPLICA_FAILED ? "Failed" : "BackOff", "%s%s (restarts %d)",
                     exit, next->reason, next->restarts);
    }
  api_group_put_replica(api, rq, next, rep->rev);
}

static bool results_waiting(struct request *rq)
{
  const char *name;
  json_t *item;
  json_object_foreach(rq->results, name, item)
  {
    if (json_integer_value(json_object_get(item, "code")) == 0)
      return true;
  }
  return false;
}

/* The request's body, checked by check; NULL after answering 400 (in *sent). */
static json_t *checked_body(struct api *api, struct MHD_Connection *c, struct request *rq,
                            int (*check)(json_t *, struct skiff_err **), enum MHD_Result *sent)
{
  json_t *doc = api_parse_body(api, c, rq, false, sent);
  if (doc == NULL)
    return NULL;
  cleanup_err struct skiff_err *err = NULL;
  if (check(doc, &err) < 0)
    {
      json_decref(doc);
      *sent = api_send_error(api, c, 400, "%s", err->msg);
      return NULL;
    }
  return doc;
}

/* POST /v1/replicas/NAME/status */
static enum MHD_Result replica_status(struct api *api, struct MHD_Connection *c, struct request *rq,
                                      const char *name)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = checked_body(api, c, rq, model_status_parse, &sent);
  if (doc == NULL)
    return sent;
  cleanup_free char *key = xasprintf("/replicas/%s", name);
  if (api_group_has(api, key))
    api_group_commit(api); /* read what the earlier report of this pass wrote */
  rq->reply_kind = API_REPLY_REPLICA;
  json_t *item = NULL;
  report_one(api, rq, name, model_str(doc, "node", ""), doc);
  json_decref(doc);
  item = json_object_get(rq->results, name);
  if (json_integer_value(json_object_get(item, "code")) == 0)
    return api_park(api, c, rq);
  if (json_object_get(item, "replica"))
    {
      /* Terminating or Lost: the body carries the replica so the agent sees it must stop. */
      json_object_del(item, "name");
      json_object_set_new(item, "error", json_string("replica is being stopped: stop it"));
      return api_send_json(api, c, 409, json_incref(item));
    }
  return api_reply_now(api, c, rq);
}

/* DELETE /v1/replicas/NAME */
static enum MHD_Result replica_delete(struct api *api, struct MHD_Connection *c, struct request *rq,
                                      const char *name)
{
  cleanup_free char *key = xasprintf("/replicas/%s", name);
  if (api_group_has(api, key))
    api_group_commit(api);
  struct view_replica *rep = view_replica(api->view, name);
  if (rep == NULL)
    return api_send_error(api, c, 404, "replica `%s` not found", name);
  bool node_ready = *rep->node && view_node_ready(api->view, rep->node);
  if (node_ready && model_replica_state_live(rep->state) && rep->state != REPLICA_PENDING)
    {
      /* Graceful: the agent stops it, then deletes it. */
      struct view_replica *next = view_replica_clone(rep);
      next->state = REPLICA_TERMINATING;
      next->ready = false;
      view_replica_set(&next->reason, "deleted by request");
      rq->reply_kind = API_REPLY_REPLICA;
      api_group_put_replica(api, rq, next, rep->rev);
      return api_park(api, c, rq);
    }
  rq->reply_kind = API_REPLY_DELETED;
  rq->last = view_replica_json(rep);
  api_group_delete_replica(api, rq, name, rep->rev);
  return api_park(api, c, rq);
}

enum MHD_Result api_route_replicas(struct api *api, struct MHD_Connection *c, const char *method,
                                   struct request *rq, const char *name, const char *sub)
{
  if (name == NULL)
    return strcmp(method, "GET") == 0 ? list_replicas(api, c) : api_send_405(api, c, method, "GET");
  if (sub && strcmp(sub, "status") == 0)
    {
      if (strcmp(method, "POST") != 0)
        return api_send_405(api, c, method, "POST");
      return replica_status(api, c, rq, name);
    }
  if (sub && strcmp(sub, "logs") == 0)
    {
      if (strcmp(method, "GET") != 0)
        return api_send_405(api, c, method, "GET");
      if (rq->logs) /* a log stream resumed: its replica may be gone meanwhile */
        return api_route_logs(api, c, rq, name, NULL);
      struct view_replica *rep = view_replica(api->view, name);
      if (rep == NULL)
        return api_send_error(api, c, 404, "replica `%s` not found", name);
      return api_route_logs(api, c, rq, name, rep->node);
    }
  if (sub)
    return api_send_error(api, c, 404, "no route for %s", sub);
  if (strcmp(method, "DELETE") == 0)
    return replica_delete(api, c, rq, name);
  if (strcmp(method, "GET") != 0)
    return api_send_405(api, c, method, "GET, DELETE");
  struct view_replica *rep = view_replica(api->view, name);
  if (rep == NULL)
    return api_send_error(api, c, 404, "replica `%s` not found", name);
  return api_send_text(api, c, 200, view_replica_encode(rep, true, NULL));
}

/* ---- nodes ---- */

static json_t *node_json(struct api *api, const char *name)
{
  struct view_node *n = view_node(api->view, name);
  return n ? view_node_render(n, cluster_clock(api->cl)) : json_null();
}

static json_t *render_node(struct api *api, json_t *obj)
{
  return node_json(api, model_str(obj, "name", ""));
}

static enum MHD_Result node_register(struct api *api, struct MHD_Connection *c, struct request *rq)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = api_parse_body(api, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  json_t *reg = NULL;
  cleanup_err struct skiff_err *err = NULL;
  if (model_node_parse(doc, &reg, &err) < 0)
    {
      json_decref(doc);
      return api_send_error(api, c, 400, "%s", err->msg);
    }
  json_decref(doc);
  cleanup_free char *name = xstrdup(model_str(reg, "name", ""));
  struct view_node *cur = view_node(api->view, name);
  json_t *old = cur ? cur->obj : NULL;
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
  int code
      = nodeipam_assign(api->cfg.pod_pool, api->view, &api->cl->events, name, reg, old, obj, &err);
  if (code != 0)
    {
      enum MHD_Result sent_err
          = api_send_error(api, c, (unsigned)code, "node `%s`: %s", name, err->msg);
      json_decref(obj);
      json_decref(reg);
      return sent_err;
    }
  json_object_set_new(obj, "status", json_string("Ready"));
  json_decref(reg);
  if (old && json_equal(old, obj))
    {
      json_decref(obj);
      cluster_heartbeat(api->cl, name, cluster_clock(api->cl));
      return api_send_json(api, c, 200, node_json(api, name));
    }
  if (!old)
    recorder_event(&api->cl->events, "Normal", "Node", name, "NodeRegistered", "address %s",
                   model_str(obj, "address", ""));
  enum MHD_Result ret = api_put_and_reply(api, c, VIEW_NODE, obj,
                                          old ? model_int(old, "revision", 0) : STORE_ABSENT,
                                          old ? 200 : 201, render_node);
  /* Registering counts as a heartbeat. */
  cluster_heartbeat(api->cl, name, cluster_clock(api->cl));
  return ret;
}

/* POST /v1/nodes/NAME/status: the node's replica reports in one request (and a heartbeat). */
static enum MHD_Result node_status(struct api *api, struct MHD_Connection *c, struct request *rq,
                                   const char *node)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = checked_body(api, c, rq, model_node_status_parse, &sent);
  if (doc == NULL)
    return sent;
  cluster_heartbeat(api->cl, node, cluster_clock(api->cl));
  json_t *items = json_object_get(doc, "replicas");
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item)
  {
    cleanup_free char *key = xasprintf("/replicas/%s", model_str(item, "name", ""));
    if (api_group_has(api, key))
      {
        api_group_commit(api);
        break;
      }
  }
  rq->reply_kind = API_REPLY_ITEMS;
  rq->results = json_object();
  rq->order = json_array();
  json_array_foreach(items, i, item)
  {
    report_one(api, rq, model_str(item, "name", ""), node, item);
  }
  json_decref(doc);
  if (results_waiting(rq))
    return api_park(api, c, rq);
  return api_reply_now(api, c, rq);
}

static enum MHD_Result node_set_cordon(struct api *api, struct MHD_Connection *c,
                                       struct view_node *node, bool cordon, bool drain)
{
  cleanup_free char *nname = xstrdup(node->name);
  cleanup_err struct skiff_err *err = NULL;
  struct writes w = {0};
  if (model_bool(node->obj, "cordoned", false) != cordon)
    {
      json_t *obj = json_deep_copy(node->obj);
      json_object_set_new(obj, "cordoned", json_boolean(cordon));
      writes_put_json(&w, VIEW_NODE, nname, obj, model_int(node->obj, "revision", 0));
    }
  bool cordon_write = w.n > 0;
  int drained = 0;
  if (drain)
    {
      size_t pos = 0;
      void *val;
      while (strmap_next(&api->view->replicas, &pos, NULL, &val))
        {
          struct view_replica *r = val;
          if (strcmp(r->node, nname) != 0 || !model_replica_state_live(r->state))
            continue;
          struct view_replica *next = view_replica_clone(r);
          next->state = REPLICA_TERMINATING;
          next->ready = false;
          view_replica_set(&next->reason, "node drained");
          writes_put_replica(&w, next, r->rev);
          drained++;
        }
    }
  int dropped = cluster_commit_each(api->cl, &w, &err);
  writes_free(&w);
  if (dropped != 0)
    return dropped > 0 ? api_send_error(api, c, 409, "node `%s`: %d writes met a conflict, retry",
                                        nname, dropped)
                       : api_store_failure(api, c, err);
  if (drain)
    recorder_event(&api->cl->events, "Normal", "Node", nname, "Drained",
                   "cordoned; %d replicas stopping", drained);
  else if (cordon_write)
    recorder_event(&api->cl->events, "Normal", "Node", nname, cordon ? "Cordoned" : "Uncordoned",
                   "%s", cordon ? "no new replicas will be placed here" : "schedulable again");
  return api_send_json(api, c, 200, node_json(api, nname));
}

static enum MHD_Result list_nodes(struct api *api, struct MHD_Connection *c)
{
  json_t *items = json_array();
  double now = cluster_clock(api->cl);
  for (size_t i = 0; i < api->view->nnodes; i++)
    json_array_append_new(items, view_node_render(api->view->node_list[i], now));
  return api_send_json(
      api, c, 200, json_pack("{s:o,s:I}", "items", items, "revision", (json_int_t)api->view->rev));
}

/* POST /v1/nodes/NAME/heartbeat: the hot path of an idle cluster (one per node and
 * second), answered without building JSON trees. */
static enum MHD_Result node_heartbeat(struct api *api, struct MHD_Connection *c,
                                      struct view_node *node)
{
  cluster_heartbeat(api->cl, node->name, cluster_clock(api->cl));
  api->heartbeats++;
  struct jtext t = {0};
  jtext_str(&t, "{\"name\":");
  jtext_quote(&t, node->name);
  jtext_str(&t, node->ready ? ",\"status\":\"Ready\"" : ",\"status\":\"NotReady\"");
  double period = cluster_pace(api->cl)->period;
  if (period != api->tail_period)
    {
      snprintf(api->heartbeat_tail, sizeof(api->heartbeat_tail), ",\"heartbeatInterval\":%g}",
               period);
      api->tail_period = period;
    }
  jtext_str(&t, api->heartbeat_tail);
  return api_send_text(api, c, 200, jtext_take(&t, NULL));
}

enum MHD_Result api_route_nodes(struct api *api, struct MHD_Connection *c, const char *method,
                                struct request *rq, const char *name, const char *sub)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") == 0)
        return list_nodes(api, c);
      if (strcmp(method, "POST") == 0)
        return node_register(api, c, rq);
      return api_send_405(api, c, method, "GET, POST");
    }
  struct view_node *node = view_node(api->view, name);
  if (node == NULL)
    return api_send_error(api, c, 404, "node `%s` not found", name);
  if (sub == NULL)
    {
      if (strcmp(method, "GET") == 0)
        return api_send_json(api, c, 200, view_node_render(node, cluster_clock(api->cl)));
      if (strcmp(method, "DELETE") == 0)
        {
          json_t *last = json_deep_copy(node->obj);
          cleanup_err struct skiff_err *err = NULL;
          struct writes w = {0};
          writes_delete(&w, VIEW_NODE, name, STORE_ANY_REV);
          int r = cluster_commit(api->cl, &w, NULL, &err);
          writes_free(&w);
          if (r != 0)
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
    return node_heartbeat(api, c, node);
  if (strcmp(sub, "status") == 0)
    return node_status(api, c, rq, name);
  if (strcmp(sub, "cordon") == 0 || strcmp(sub, "uncordon") == 0 || strcmp(sub, "drain") == 0)
    return node_set_cordon(api, c, node, strcmp(sub, "uncordon") != 0, strcmp(sub, "drain") == 0);
  return api_send_error(api, c, 404, "no route for %s", sub);
}

bool api_keep_event(json_t *e, void *arg)
{
  return arg == NULL || strcmp(model_str(e, "object", ""), arg) == 0;
}
