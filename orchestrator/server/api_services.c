/* api_services.c - Service routes: apply (all or nothing), create/replace/get/list/delete,
 * scale, rollout status and undo. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <microhttpd.h>
#include "api_internal.h"
#include "model.h"
#include "reconcile.h"
#include "service.h"

/* ---- services ---- */

/* nodePorts are cluster-wide (every node's proxy listens on them): one service per port.
 * Returns an error message (caller frees) or NULL. */
static char *node_port_conflict(struct api *api, json_t *list, bool single)
{
  json_t *owner = json_object();
  const char *name;
  json_t *svc;
  size_t i, j;
  json_t *p;
  json_object_foreach(api->view->services, name, svc)
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

/* The service as the API shows it: its status computed now from its replicas in the view,
 * at one revision (a status written by the controller for an older generation never shows a
 * rollout Complete). */
static json_t *service_live(struct api *api, json_t *svc)
{
  struct rc_counts c;
  view_service_counts(api->view, svc, &c);
  enum rc_rollout st = service_rollout_seen(svc, &c);
  cleanup_free char *detail = st == RC_ROLLOUT_COMPLETE
                                  ? NULL
                                  : view_rollout_culprit(api->view, model_str(svc, "name", ""),
                                                         model_int(svc, "generation", 1));
  cleanup_free char *now = model_time_string(time(NULL));
  json_t *out = json_copy(svc);
  json_object_set_new(out, "status", service_status(svc, &c, st, detail, now));
  return out;
}

static enum MHD_Result apply_services(struct api *api, struct MHD_Connection *c, json_t *list,
                                      int64_t *revs, bool create_only, bool single)
{
  size_t n = json_array_size(list);
  struct writes w = {0};
  json_t *changed = json_array(), *newgen = json_array();
  size_t *opidx = xzalloc((n ? n : 1) * sizeof(size_t));
  bool created = false;
  enum MHD_Result ret;
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *conflict = node_port_conflict(api, list, single);
  if (conflict)
    {
      ret = api_send_error(api, c, 409, "%s (nothing applied)", conflict);
      goto out;
    }
  for (size_t i = 0; i < n; i++)
    {
      json_t *desired = json_array_get(list, i);
      const char *name = model_str(desired, "name", "");
      json_t *old = json_object_get(api->view->services, name);
      if (old && create_only)
        {
          ret = api_send_error(api, c, 409, "service `%s` already exists", name);
          goto out;
        }
      if (revs[i] > 0 && model_int(old, "revision", 0) != revs[i])
        {
          ret = api_send_error(api, c, 409,
                               "%s: revision conflict (stored revision %lld, expected %lld)",
                               single ? "service" : "services",
                               (long long)model_int(old, "revision", 0), (long long)revs[i]);
          goto out;
        }
      bool ch, ng;
      json_t *obj = service_merge(old, desired, &ch, &ng);
      if (ch)
        {
          opidx[w.n] = i;
          writes_put_json(&w, VIEW_SERVICE, name, obj,
                          old ? model_int(old, "revision", 0) : STORE_ABSENT);
          json_array_append_new(changed, json_string(name));
          if (ng && old)
            json_array_append_new(newgen, json_string(name));
          created |= old == NULL;
        }
      else
        json_decref(obj);
    }
  size_t failed = 0;
  if (w.n > STORE_TXN_MAX_OPS)
    {
      /* One store transaction holds at most that many writes (etcd's limit). */
      ret = api_send_error(api, c, 413,
                           "%zu changed services in one apply: at most %d (nothing applied)", w.n,
                           STORE_TXN_MAX_OPS);
      goto out;
    }
  int r = cluster_commit(api->cl, &w, &failed, &err);
  if (r == STORE_CONFLICT)
    {
      ret = api_send_error(api, c, 409, "services[%zu]: revision conflict, nothing applied",
                           opidx[failed]);
      goto out;
    }
  if (r < 0)
    {
      ret = api_store_failure(api, c, err);
      goto out;
    }
  size_t i;
  json_t *v;
  json_array_foreach(changed, i, v)
  {
    const char *name = json_string_value(v);
    json_t *svc = json_object_get(api->view->services, name);
    bool ng = false;
    size_t j;
    json_t *x;
    json_array_foreach(newgen, j, x) ng |= strcmp(json_string_value(x), name) == 0;
    if (ng)
      recorder_event(&api->cl->events, "Normal", "Service", name, "RolloutStarted",
                     "generation %lld (image %s)", (long long)model_int(svc, "generation", 1),
                     model_str(svc, "image", ""));
    else
      recorder_event(&api->cl->events, "Normal", "Service", name, "Applied", "revision %lld",
                     (long long)model_int(svc, "revision", 0));
  }
  if (single)
    {
      json_t *svc
          = json_object_get(api->view->services, model_str(json_array_get(list, 0), "name", ""));
      ret = api_send_json(api, c, created ? 201 : 200, service_live(api, svc));
    }
  else
    {
      json_t *items = json_array();
      json_array_foreach(list, i, v)
      {
        json_array_append_new(items, service_live(api, json_object_get(api->view->services,
                                                                       model_str(v, "name", ""))));
      }
      ret = api_send_json(api, c, 200,
                          json_pack("{s:o,s:O,s:I}", "items", items, "changed", changed, "revision",
                                    (json_int_t)api->view->rev));
    }
out:
  writes_free(&w);
  free(opidx);
  json_decref(changed);
  json_decref(newgen);
  return ret;
}

enum MHD_Result api_route_apply(struct api *api, struct MHD_Connection *c, struct request *rq)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = api_parse_body(api, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  json_t *list = NULL;
  int64_t *revs = NULL;
  cleanup_err struct skiff_err *err = NULL;
  enum MHD_Result ret;
  if (model_apply_parse(doc, &list, &revs, &err) < 0)
    ret = api_send_error(api, c, 400, "%s (nothing applied)", err->msg);
  else
    ret = apply_services(api, c, list, revs, false, false);
  json_decref(doc);
  json_decref(list);
  free(revs);
  return ret;
}

/* POST /v1/services (create) and PUT /v1/services/NAME (create or replace). */
static enum MHD_Result route_service_write(struct api *api, struct MHD_Connection *c,
                                           struct request *rq, const char *name)
{
  enum MHD_Result sent = MHD_NO;
  json_t *doc = api_parse_body(api, c, rq, false, &sent);
  if (doc == NULL)
    return sent;
  enum MHD_Result ret;
  cleanup_err struct skiff_err *err = NULL;
  json_t *svc = NULL;
  int64_t rev = 0, qrev = 0;
  int q = api_query_revision(c, &qrev);
  if (name && json_is_object(doc) && json_object_get(doc, "name") == NULL)
    json_object_set_new(doc, "name", json_string(name));
  if (q < 0)
    ret = api_send_error(api, c, 400, "revision: expected a non-negative integer");
  else if (model_service_parse(doc, "service", &svc, &rev, &err) < 0)
    ret = api_send_error(api, c, 400, "%s", err->msg);
  else if (name && strcmp(name, model_str(svc, "name", "")) != 0)
    ret = api_send_error(api, c, 400, "service.name: `%s` does not match the URL (`%s`)",
                         model_str(svc, "name", ""), name);
  else
    {
      json_t *list = json_array();
      json_array_append(list, svc);
      int64_t r = q > 0 ? qrev : rev;
      ret = apply_services(api, c, list, &r, name == NULL, true);
      json_decref(list);
    }
  json_decref(svc);
  json_decref(doc);
  return ret;
}

enum MHD_Result api_route_services(struct api *api, struct MHD_Connection *c, const char *method,
                                   struct request *rq, const char *name, const char *sub,
                                   const char *sub2)
{
  if (name == NULL)
    {
      if (strcmp(method, "GET") == 0)
        return api_send_json(api, c, 200,
                             api_list_of(api, api->view->services, NULL, NULL, service_live, true));
      if (strcmp(method, "POST") == 0)
        return route_service_write(api, c, rq, NULL);
      return api_send_405(api, c, method, "GET, POST");
    }
  json_t *svc = json_object_get(api->view->services, name);
  if (sub == NULL)
    {
      if (strcmp(method, "GET") == 0)
        return svc ? api_send_json(api, c, 200, service_live(api, svc))
                   : api_send_error(api, c, 404, "service `%s` not found", name);
      if (strcmp(method, "PUT") == 0)
        return route_service_write(api, c, rq, name);
      if (strcmp(method, "DELETE") == 0)
        {
          int64_t rev = 0;
          if (api_query_revision(c, &rev) < 0)
            return api_send_error(api, c, 400, "revision: expected a non-negative integer");
          if (svc == NULL)
            return api_send_error(api, c, 404, "service `%s` not found", name);
          json_t *last = json_deep_copy(svc);
          cleanup_err struct skiff_err *err = NULL;
          struct writes w = {0};
          writes_delete(&w, VIEW_SERVICE, name, rev > 0 ? rev : STORE_ANY_REV);
          int r = cluster_commit(api->cl, &w, NULL, &err);
          writes_free(&w);
          if (r != 0)
            {
              json_decref(last);
              return r == STORE_CONFLICT
                         ? api_send_error(api, c, 409, "/services/%s: revision conflict", name)
                         : api_store_failure(api, c, err);
            }
          recorder_event(&api->cl->events, "Normal", "Service", name, "Deleted", "service deleted");
          return api_send_json(api, c, 200, last);
        }
      return api_send_405(api, c, method, "GET, PUT, DELETE");
    }
  if (svc == NULL)
    return api_send_error(api, c, 404, "service `%s` not found", name);
  enum MHD_Result sent = MHD_NO;
  if (strcmp(sub, "scale") == 0 && sub2 == NULL)
    {
      if (strcmp(method, "POST") != 0)
        return api_send_405(api, c, method, "POST");
      json_t *doc = api_parse_body(api, c, rq, false, &sent);
      if (doc == NULL)
        return sent;
      json_t *n = json_object_get(doc, "replicas");
      bool ok = json_is_object(doc) && json_object_size(doc) == 1 && json_is_integer(n)
                && json_integer_value(n) >= 0 && json_integer_value(n) <= 100000;
      int64_t want = ok ? json_integer_value(n) : 0;
      json_decref(doc);
      if (!ok)
        return api_send_error(api, c, 400, "scale.replicas: expected a non-negative integer");
      json_t *obj = json_deep_copy(svc);
      json_object_set_new(obj, "replicas", json_integer(want));
      recorder_event(&api->cl->events, "Normal", "Service", name, "Scaled", "replicas %lld",
                     (long long)want);
      return api_put_and_reply(api, c, VIEW_SERVICE, obj, model_int(svc, "revision", 0), 200,
                               service_live);
    }
  if (strcmp(sub, "rollout") == 0 && sub2 == NULL)
    {
      if (strcmp(method, "GET") != 0)
        return api_send_405(api, c, method, "GET");
      /* Counted from the replicas at one revision, which the answer names. */
      json_t *live = service_live(api, svc);
      json_t *body = service_rollout_status(live);
      json_decref(live);
      json_object_set_new(body, "revision", json_integer(api->view->rev));
      return api_send_json(api, c, 200, body);
    }
  if (strcmp(sub, "rollout") == 0 && strcmp(sub2, "undo") == 0)
    {
      if (strcmp(method, "POST") != 0)
        return api_send_405(api, c, method, "POST");
      json_t *doc = api_parse_body(api, c, rq, true, &sent);
      if (doc == NULL)
        return sent;
      json_t *g = json_object_get(doc, "generation");
      bool ok = json_is_object(doc) && json_object_size(doc) == (g ? 1 : 0)
                && (g == NULL || (json_is_integer(g) && json_integer_value(g) > 0));
      int64_t gen = ok && g ? json_integer_value(g) : 0;
      json_decref(doc);
      if (!ok)
        return api_send_error(api, c, 400, "undo.generation: expected a positive integer");
      cleanup_err struct skiff_err *err = NULL;
      json_t *obj = service_undo(svc, gen, &err);
      if (obj == NULL)
        return api_send_error(api, c, 409, "%s", err->msg);
      int64_t from = model_int(svc, "generation", 1);
      recorder_event(&api->cl->events, "Normal", "Service", name, "RolloutUndo",
                     "generation %lld -> %lld (image %s)", (long long)from,
                     (long long)model_int(obj, "generation", 0), model_str(obj, "image", ""));
      return api_put_and_reply(api, c, VIEW_SERVICE, obj, model_int(svc, "revision", 0), 200,
                               service_live);
    }
  return api_send_error(api, c, 404, "no route for %s", sub);
}
