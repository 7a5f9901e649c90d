/* service.c - what applying a Service means beyond validation: generations (a new one when
 * the template changes, the earlier one back when its template returns), the history kept
 * for undo, and the rollout status answer.  Pure functions over jansson objects, used by
 * the API (api_services.c) and driven by unit tests. */
#include <string.h>
#include <time.h>
#include "model.h"
#include "service.h"

static json_t *history_template(json_t *entry)
{
  json_t *t = json_copy(entry);
  json_object_del(t, "generation");
  return t;
}

static void history_push(json_t *hist, json_t *tpl, int64_t gen)
{
  json_t *e = json_copy(tpl);
  json_object_set_new(e, "generation", json_integer(gen));
  json_array_append_new(hist, e);
  while (json_array_size(hist) > MODEL_HISTORY_MAX)
    json_array_remove(hist, 0);
}

json_t *service_merge(json_t *old, json_t *desired, bool *changed, bool *new_gen)
{
  json_t *tpl = model_service_template(desired);
  json_t *obj;
  *new_gen = false;
  if (old == NULL)
    {
      cleanup_free char *now = model_time_string(time(NULL));
      obj = json_deep_copy(desired);
      json_object_set_new(obj, "generation", json_integer(1));
      json_object_set_new(obj, "created", json_string(now));
      json_t *hist = json_array();
      history_push(hist, tpl, 1);
      json_object_set_new(obj, "history", hist);
      *changed = *new_gen = true;
      json_decref(tpl);
      return obj;
    }
  obj = json_deep_copy(old);
  const char *key;
  json_t *v;
  json_object_foreach(desired, key, v)
  {
    json_object_set(obj, key, v);
  }
  json_t *old_tpl = model_service_template(old);
  if (!json_equal(old_tpl, tpl))
    {
      json_t *hist = json_object_get(obj, "history");
      if (!json_is_array(hist))
        {
          hist = json_array();
          json_object_set_new(obj, "history", hist);
        }
      int64_t gen = model_int(old, "generation", 1), maxgen = gen;
      bool found = false;
      size_t i;
      json_t *e;
      json_array_foreach(hist, i, e)
      {
        if (model_int(e, "generation", 0) > maxgen)
          maxgen = model_int(e, "generation", 0);
      }
      json_array_foreach(hist, i, e)
      {
        json_t *t = history_template(e);
        bool same = json_equal(t, tpl);
        json_decref(t);
        if (same)
          {
            /* Same template as an earlier generation: go back to it (kube reuses the
             * ReplicaSet), so replicas of that generation count as updated. */
            gen = model_int(e, "generation", 0);
            json_array_remove(hist, i);
            found = true;
            break;
          }
      }
      if (!found)
        gen = maxgen + 1;
      history_push(hist, tpl, gen);
      json_object_set_new(obj, "generation", json_integer(gen));
      *new_gen = true;
    }
  json_decref(old_tpl);
  json_decref(tpl);
  *changed = !json_equal(old, obj);
  return obj;
}

json_t *service_undo(json_t *old, int64_t gen, struct skiff_err **err)
{
  json_t *hist = json_object_get(old, "history");
  int64_t cur = model_int(old, "generation", 1);
  size_t n = json_array_size(hist);
  json_t *target = NULL;
  if (gen == 0)
    {
      for (size_t i = n; i-- > 0 && target == NULL;)
        if (model_int(json_array_get(hist, i), "generation", 0) != cur)
          target = json_array_get(hist, i);
      if (target == NULL)
        {
          skiff_error(err, 0, "service `%s` has no previous generation to go back to",
                      model_str(old, "name", ""));
          return NULL;
        }
    }
  else
    {
      for (size_t i = 0; i < n && target == NULL; i++)
        if (model_int(json_array_get(hist, i), "generation", 0) == gen)
          target = json_array_get(hist, i);
      if (target == NULL || gen == cur)
        {
          skiff_error(err, 0, "service `%s`: generation %lld %s", model_str(old, "name", ""),
                      (long long)gen, target ? "is already current" : "is not in its history");
          return NULL;
        }
    }
  json_t *desired = json_deep_copy(old);
  json_t *tpl = history_template(target);
  const char *key;
  json_t *v;
  json_object_foreach(tpl, key, v)
  {
    json_object_set(desired, key, v);
  }
  json_decref(tpl);
  bool changed, new_gen;
  json_t *obj = service_merge(old, desired, &changed, &new_gen);
  json_decref(desired);
  return obj;
}

json_t *service_status(json_t *svc, const struct rc_counts *c, enum rc_rollout st,
                       const char *detail, const char *now)
{
  int64_t gen = model_int(svc, "generation", 1);
  int desired = (int)model_int(svc, "replicas", 1);
  cleanup_free char *msg = NULL;
  if (st == RC_ROLLOUT_COMPLETE)
    msg = xasprintf("%d of %d updated replicas ready", c->updated_ready, desired);
  else
    msg = xasprintf("generation %lld: %d of %d updated replicas ready, %d old%s%s", (long long)gen,
                    c->updated_ready, desired, c->old,
                    st == RC_ROLLOUT_STALLED ? ", no progress within the deadline" : "",
                    detail ? detail : "");
  json_t *old = json_object_get(json_object_get(svc, "status"), "rollout");
  bool same = strcmp(model_str(old, "state", ""), rc_rollout_name(st)) == 0
              && model_int(old, "generation", 0) == gen;
  json_t *rollout
      = json_pack("{s:I,s:s,s:s,s:s}", "generation", (json_int_t)gen, "state", rc_rollout_name(st),
                  "message", msg, "since", same ? model_str(old, "since", now) : now);
  return json_pack("{s:i,s:i,s:i,s:i,s:o}", "replicas", c->live, "ready", c->ready, "updated",
                   c->updated, "available", c->ready, "rollout", rollout);
}

enum rc_rollout service_rollout_seen(json_t *svc, const struct rc_counts *c)
{
  int desired = (int)model_int(svc, "replicas", 1);
  if (rc_rollout_state(c, desired, 0, 0, 1) == RC_ROLLOUT_COMPLETE)
    return RC_ROLLOUT_COMPLETE;
  json_t *old = json_object_get(json_object_get(svc, "status"), "rollout");
  if (strcmp(model_str(old, "state", ""), "Stalled") == 0
      && model_int(old, "generation", 0) == model_int(svc, "generation", 1))
    return RC_ROLLOUT_STALLED;
  return RC_ROLLOUT_PROGRESSING;
}

json_t *service_rollout_status(json_t *svc)
{
  json_t *st = json_object_get(svc, "status");
  json_t *ro = json_object_get(st, "rollout");
  int64_t gen = model_int(svc, "generation", 1);
  json_t *hist = json_array();
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(svc, "history"), i, e)
  {
    int64_t g = model_int(e, "generation", 0);
    json_array_append_new(hist, json_pack("{s:I,s:s,s:b}", "generation", (json_int_t)g, "image",
                                          model_str(e, "image", ""), "current", g == gen));
  }
  return json_pack("{s:s,s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:o}", "service", model_str(svc, "name", ""),
                   "generation", (json_int_t)gen, "state", model_str(ro, "state", "Progressing"),
                   "message", model_str(ro, "message", "waiting for the controller"), "desired",
                   (json_int_t)model_int(svc, "replicas", 1), "updated",
                   (json_int_t)model_int(st, "updated", 0), "ready",
                   (json_int_t)model_int(st, "ready", 0), "available",
                   (json_int_t)model_int(st, "available", 0), "history", hist);
}
