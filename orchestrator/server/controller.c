/* controller.c - the reconcile loop of `skiffd server`: node lifecycle, replica controller
 * and rolling-update status, then the scheduler binding (controller_sched.c), applied to the
 * store.  Decisions come from reconcile.c and scheduler.c (pure); this file turns the
 * cluster's view into their inputs and their outputs into writes: CAS on each object's
 * revision, create-if-absent for new replicas.  A write that meets a conflict is dropped
 * alone (counted in /metrics and logged); the rest of the tick commits and the next tick
 * decides again.  Start at controller_tick(). */
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "controller_internal.h"
#include "model.h"
#include "reconcile.h"
#include "service.h"

static const double tick_bounds[CONTROLLER_TICK_BUCKETS]
    = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

void controller_commit(struct controller *ctl, struct writes *w)
{
  cleanup_err struct skiff_err *err = NULL;
  int dropped = cluster_commit_each(ctl->cl, w, &err);
  if (dropped < 0)
    fprintf(stderr, "skiffd: controller: %s\n", err->msg);
  else if (dropped > 0)
    {
      ctl->conflicts += (uint64_t)dropped;
      char keys[256] = "";
      int shown = 0;
      for (size_t i = 0; i < w->n && shown < 3; i++)
        if (w->status[i] == STORE_CONFLICT)
          {
            size_t l = strlen(keys);
            snprintf(keys + l, sizeof(keys) - l, "%s%s", shown++ ? ", " : "", w->ops[i].key);
          }
      fprintf(stderr,
              "skiffd: controller: %d of %zu writes met a revision conflict and are left to the "
              "next tick (%s%s); the others committed\n",
              dropped, w->n, keys, dropped > shown ? ", ..." : "");
    }
  writes_clear(w);
}

static void set_state(struct view_replica *r, enum replica_state st, const char *reason)
{
  r->state = st;
  view_replica_set(&r->reason, reason);
  if (st == REPLICA_LOST || st == REPLICA_TERMINATING)
    r->ready = false;
}

/* Queue r (in the view) with a new state. */
static void put_state(struct controller *ctl, struct writes *w, struct view_replica *r,
                      enum replica_state st, const char *reason)
{
  struct view_replica *c = view_replica_clone(r);
  set_state(c, st, reason);
  writes_put_replica(w, c, r->rev);
  r->mark = ctl->tick_no;
}

static void delete_replica(struct controller *ctl, struct writes *w, struct view_replica *r)
{
  writes_delete(w, VIEW_REPLICA, r->name, r->rev);
  r->mark = ctl->tick_no;
}

/* ---- node lifecycle ---- */

static void reconcile_nodes(struct controller *ctl, double now, struct writes *w)
{
  struct view *v = ctl->view;
  size_t nready = 0;
  double grace = cluster_pace(ctl->cl)->grace;
  for (size_t i = 0; i < v->nnodes; i++)
    {
      struct view_node *n = v->node_list[i];
      /* After a restart every node gets a fresh grace period from the server's start. */
      double last = n->heartbeat > 0 ? n->heartbeat : ctl->start;
      bool ready = rc_node_ready(now, last, grace);
      nready += ready;
      if (n->heartbeat == 0 && !n->ready)
        continue; /* NotReady before a restart and still silent */
      if (ready == n->ready)
        continue;
      json_t *obj = json_copy(n->obj);
      json_object_set_new(obj, "status", json_string(ready ? "Ready" : "NotReady"));
      writes_put_json(w, VIEW_NODE, n->name, obj, model_int(n->obj, "revision", 0));
      if (ready)
        recorder_event(&ctl->cl->events, "Normal", "Node", n->name, "NodeReady",
                       "heartbeats resumed");
      else
        recorder_event(&ctl->cl->events, "Warning", "Node", n->name, "NodeNotReady",
                       "no heartbeat for %.1fs", now - last);
    }
  controller_commit(ctl, w);

  /* Full disruption (kube's node lifecycle controller does the same): when every node is
   * NotReady the fault is most likely ours or the network's, and there is nowhere to move
   * replicas to, so they are not marked Lost; they stay as they are until nodes return. */
  nready = 0;
  for (size_t i = 0; i < v->nnodes; i++)
    nready += v->node_list[i]->ready;
  bool full_disruption = nready == 0 && v->nnodes > 1;
  /* Replicas need a look only when a node is NotReady or a node changed (came back, was
   * removed), and every 10 s as a safety net. */
  if (nready == v->nnodes && !ctl->nodes_changed && now - ctl->last_replica_sweep < 10)
    return;
  ctl->nodes_changed = false;
  ctl->last_replica_sweep = now;

  /* An event per replica for the first ones, then one summary: a node of 300 replicas that
   * dies must not cost 300 event writes. */
  int lost = 0, back = 0;
  size_t pos = 0;
  void *val;
  while (strmap_next(&v->replicas, &pos, NULL, &val))
    {
      struct view_replica *r = val;
      if (*r->node == '\0')
        {
          if (r->state == REPLICA_TERMINATING)
            delete_replica(ctl, w, r);
          continue;
        }
      struct view_node *node = view_node(v, r->node);
      bool ready = node && node->ready;
      if (node == NULL)
        {
          delete_replica(ctl, w, r);
          if (++lost <= 20)
            recorder_event(&ctl->cl->events, "Warning", "Replica", r->name, "Lost",
                           "node %s was removed", r->node);
        }
      else if (!ready && model_replica_state_live(r->state) && !full_disruption)
        {
          cleanup_free char *why = xasprintf("node %s is NotReady", r->node);
          put_state(ctl, w, r, REPLICA_LOST, why);
          if (++lost <= 20)
            recorder_event(&ctl->cl->events, "Warning", "Replica", r->name, "Lost",
                           "%s; replacing it", why);
        }
      else if (!ready && r->state == REPLICA_TERMINATING)
        delete_replica(ctl, w, r);
      else if (ready && r->state == REPLICA_LOST)
        {
          put_state(ctl, w, r, REPLICA_TERMINATING, "node came back: replica was replaced");
          if (++back <= 20)
            recorder_event(&ctl->cl->events, "Normal", "Replica", r->name, "Terminating",
                           "node %s is back; stopping the stale replica", r->node);
        }
    }
  if (lost > 20)
    recorder_event(&ctl->cl->events, "Warning", "Scheduler", "node-lifecycle", "Lost",
                   "%d more replicas lost with their nodes (one event each for the first 20)",
                   lost - 20);
  if (back > 20)
    recorder_event(&ctl->cl->events, "Normal", "Scheduler", "node-lifecycle", "Terminating",
                   "%d more stale replicas stopping on returned nodes", back - 20);
  controller_commit(ctl, w);
}

/* ---- replica controller + rolling update ---- */

/* Service status and rollout state (Progressing / Complete / Stalled), written when it
 * changed.  The same computation answers GET /v1/services (service.h). */
static void update_status(struct controller *ctl, json_t *svc, const struct rc_counts *c,
                          double now, struct writes *w)
{
  const char *name = model_str(svc, "name", "");
  int64_t gen = model_int(svc, "generation", 1);
  int desired = (int)model_int(svc, "replicas", 1);
  cleanup_free char *sig = xasprintf("%lld/%d/%d/%d/%d", (long long)gen, desired, c->updated,
                                     c->updated_ready, c->old);
  json_t *p = json_object_get(ctl->progress, name);
  if (p == NULL || strcmp(model_str(p, "sig", ""), sig) != 0)
    {
      /* "done": the generation whose rollout was last announced Complete (kept across
         signature changes, so a replica that restarts does not announce it again) */
      json_int_t done = p ? model_int(p, "done", 0) : 0;
      json_object_set_new(ctl->progress, name,
                          json_pack("{s:s,s:f,s:I}", "sig", sig, "t", now, "done", done));
      p = json_object_get(ctl->progress, name);
    }
  double deadline
      = json_real_value(json_object_get(json_object_get(svc, "update"), "progressDeadline"));
  enum rc_rollout state
      = rc_rollout_state(c, desired, now, json_real_value(json_object_get(p, "t")), deadline);
  cleanup_free char *detail
      = state == RC_ROLLOUT_COMPLETE ? NULL : view_rollout_culprit(ctl->view, name, gen);
  cleanup_free char *nowstr = model_time_string(time(NULL));
  json_t *status = service_status(svc, c, state, detail, nowstr);
  bool first_complete = state == RC_ROLLOUT_COMPLETE && model_int(p, "done", 0) != gen;
  json_t *old = json_object_get(json_object_get(svc, "status"), "rollout");
  const char *oldstate = model_str(old, "state", "");
  bool changed_state
      = strcmp(oldstate, rc_rollout_name(state)) != 0 || model_int(old, "generation", 0) != gen;
  if (!json_equal(status, json_object_get(svc, "status")))
    {
      const char *msg = model_str(json_object_get(status, "rollout"), "message", "");
      if (changed_state && state == RC_ROLLOUT_COMPLETE && *oldstate && first_complete)
        recorder_event(&ctl->cl->events, "Normal", "Service", name, "RolloutComplete", "%s", msg);
      else if (changed_state && state == RC_ROLLOUT_STALLED)
        recorder_event(&ctl->cl->events, "Warning", "Service", name, "RolloutStalled", "%s", msg);
      json_t *copy = json_copy(svc);
      json_object_set(copy, "status", status);
      writes_put_json(w, VIEW_SERVICE, name, copy, model_int(svc, "revision", 0));
    }
  if (first_complete)
    json_object_set_new(p, "done", json_integer(gen));
  json_decref(status);
}

/* Replacing exited replicas backs off like restarts do (reconcile.h): the first round of
 * replacements is immediate, then 1 s, 2 s, ... 30 s between rounds, forgotten after 60 s
 * without an exit, so an image that always exits does not churn the store.  While a round
 * waits, the Failed replicas it will replace stay (with the agent's reason, e.g. `image "x"
 * not found on node n1`), so `skiffctl get replicas` shows why nothing runs. */
static void replacement_backoff(struct controller *ctl, const char *sname, struct rc_plan *plan,
                                double now)
{
  json_t *st = json_object_get(ctl->replace_backoff, sname);
  unsigned rounds = (unsigned)model_int(st, "rounds", 0);
  double last = st ? json_real_value(json_object_get(st, "last")) : 0;
  double next = st ? json_real_value(json_object_get(st, "next")) : 0;
  if (plan->ndrop == 0)
    {
      if (st && now - last >= rc_backoff_default.reset_after)
        json_object_del(ctl->replace_backoff, sname);
      if (now < next)
        plan->create = 0;
      return;
    }
  if (now < next)
    {
      if (plan->create > 0)
        plan->ndrop = 0; /* replaced at the next round, visible until then */
      plan->create = 0;
      return;
    }
  rounds = rc_backoff_consecutive(&rc_backoff_default, rounds, now - last);
  json_object_set_new(ctl->replace_backoff, sname,
                      json_pack("{s:i,s:f,s:f}", "rounds", (int)(rounds + 1), "last", now, "next",
                                now + rc_backoff_delay(&rc_backoff_default, rounds + 1)));
}

static bool name_taken(const char *name, void *arg)
{
  return view_replica(arg, name) != NULL;
}

static void add_fresh(struct controller *ctl, struct view_replica *r)
{
  if (ctl->nfresh == ctl->fresh_cap)
    {
      ctl->fresh_cap = ctl->fresh_cap ? ctl->fresh_cap * 2 : 64;
      ctl->fresh = xrealloc(ctl->fresh, ctl->fresh_cap * sizeof(*ctl->fresh));
    }
  ctl->fresh[ctl->nfresh++] = r;
}

/* Why a terminal replica is replaced, for its Replaced event. */
static char *replaced_why(json_t *svc, const struct view_replica *r)
{
  const char *policy = model_str(svc, "restart", "always");
  cleanup_free char *code
      = r->has_exit ? xasprintf("exit code %d", r->exit_code) : xstrdup("never started");
  bool would_restart = rc_should_restart(policy, r->has_exit ? r->exit_code : 1);
  return xasprintf("%s (%s%s%s): %s; replaced", model_replica_state_name(r->state), code,
                   *r->reason ? ", " : "", r->reason,
                   would_restart ? "its node gave up restarting it"
                                 : "exited and the restart policy says no restart");
}

static void reconcile_service(struct controller *ctl, json_t *svc, double now, struct writes *w)
{
  struct view *v = ctl->view;
  const char *sname = model_str(svc, "name", "");
  struct view_group *g = view_group(v, sname);
  struct rc_replica *rr = NULL;
  size_t n = view_service_replicas(v, sname, &rr);
  json_t *upd = json_object_get(svc, "update");
  struct rc_service s = {.desired = (int)model_int(svc, "replicas", 1),
                         .generation = model_int(svc, "generation", 1),
                         .max_surge = (int)model_int(upd, "maxSurge", 1),
                         .max_unavailable = (int)model_int(upd, "maxUnavailable", 0)};
  struct rc_plan plan;
  rc_plan_compute(&s, rr, n, &plan);
  replacement_backoff(ctl, sname, &plan, now);

  for (size_t i = 0; i < plan.ndrop; i++)
    {
      struct view_replica *r = g->items[plan.drop[i].index];
      cleanup_free char *why = replaced_why(svc, r);
      delete_replica(ctl, w, r);
      recorder_event(&ctl->cl->events, "Warning", "Replica", r->name, "Replaced", "%s", why);
    }
  for (size_t i = 0; i < plan.nstop; i++)
    {
      struct view_replica *r = g->items[plan.stop[i].index];
      const char *why = rc_why_string(plan.stop[i].why);
      if (rr[plan.stop[i].index].node_ready)
        put_state(ctl, w, r, REPLICA_TERMINATING, why);
      else
        delete_replica(ctl, w, r);
      recorder_event(&ctl->cl->events, "Normal", "Replica", r->name,
                     plan.stop[i].why == RC_WHY_OLD_GENERATION ? "Terminating" : "ScaledDown", "%s",
                     why);
    }
  /* New replicas are placed by controller_schedule in this same tick and written once,
   * bound.  One event per service and tick for creations (a scale to 1000 is one line). */
  if (plan.create > 0)
    {
      json_t *tpl = model_service_template(svc);
      struct view_spec *spec = view_spec_get(v, tpl);
      json_decref(tpl);
      cleanup_free char *created = model_time_string(time(NULL));
      cleanup_free char *names = NULL;
      for (int i = 0; i < plan.create; i++)
        {
          cleanup_free char *name
              = name_gen_replica(&ctl->names, sname, s.generation, name_taken, v);
          struct view_replica *r = view_replica_new(name, sname, s.generation, spec);
          snprintf(r->created, sizeof(r->created), "%s", created);
          add_fresh(ctl, r);
          if (i < 3)
            {
              char *t = xasprintf("%s%s%s", names ? names : "", names ? ", " : "", name);
              free(names);
              names = t;
            }
        }
      view_spec_unref(spec);
      recorder_event(&ctl->cl->events, "Normal", "Service", sname, "Created",
                     "created %d replica%s of generation %lld: %s%s", plan.create,
                     plan.create > 1 ? "s" : "", (long long)s.generation, names,
                     plan.create > 3 ? ", ..." : "");
    }
  update_status(ctl, svc, &plan.counts, now, w);
  rc_plan_free(&plan);
  free(rr);
}

/* A service needs reconciling when it or its replicas changed, when a node changed, or
 * (each second) while its rollout is not Complete, for the progress deadline. */
static bool needs_reconcile(struct controller *ctl, const char *name, json_t *svc, bool all)
{
  if (all || json_object_get(ctl->dirty_services, name))
    return true;
  json_t *ro = json_object_get(json_object_get(svc, "status"), "rollout");
  return strcmp(model_str(ro, "state", ""), "Complete") != 0;
}

static void reconcile_orphans(struct controller *ctl, struct writes *w)
{
  struct view *v = ctl->view;
  size_t pos = 0;
  void *val;
  while (strmap_next(&v->groups, &pos, NULL, &val))
    {
      struct view_group *g = val;
      if (json_object_get(v->services, g->service))
        continue;
      /* Its service was deleted. */
      for (size_t i = 0; i < g->n; i++)
        {
          struct view_replica *r = g->items[i];
          bool node_ready = *r->node && view_node_ready(v, r->node);
          if (model_replica_state_live(r->state) && node_ready)
            put_state(ctl, w, r, REPLICA_TERMINATING, "service deleted");
          else if (r->state != REPLICA_TERMINATING || !node_ready)
            delete_replica(ctl, w, r);
        }
    }
}

static void reconcile_services(struct controller *ctl, double now, struct writes *w)
{
  const char *name;
  json_t *svc;
  bool all = ctl->all_dirty;
  bool periodic = now - ctl->last_full_reconcile >= 1.0;
  bool any = json_object_size(ctl->dirty_services) > 0 || all;
  if (!any && periodic)
    json_object_foreach(ctl->view->services, name, svc)
    {
      any |= needs_reconcile(ctl, name, svc, false);
    }
  if (periodic)
    ctl->last_full_reconcile = now;
  if (!any)
    return;
  ctl->all_dirty = false;
  reconcile_orphans(ctl, w);
  json_object_foreach(ctl->view->services, name, svc)
  {
    if (needs_reconcile(ctl, name, svc, all))
      reconcile_service(ctl, svc, now, w);
  }
  json_object_clear(ctl->dirty_services);
  /* Forget rollout progress of deleted services. */
  void *tmp;
  json_object_foreach_safe(ctl->progress, tmp, name, svc)
  {
    if (json_object_get(ctl->view->services, name) == NULL)
      json_object_del(ctl->progress, name);
  }
}

/* ---- the loop ---- */

/* The observer the cluster calls for every committed change (cluster.h). */
static void observe(void *data, char kind, const char *name, const char *service,
                    enum store_op_type type)
{
  struct controller *ctl = data;
  if (kind == VIEW_SERVICE || kind == VIEW_NODE || (kind == VIEW_REPLICA && type == STORE_DELETE))
    ctl->sched_retry = true;
  if (kind == VIEW_SERVICE)
    json_object_set_new(ctl->dirty_services, name, json_true());
  else if (kind == VIEW_REPLICA)
    json_object_set_new(ctl->dirty_services, service, json_true());
  else if (kind == VIEW_NODE)
    ctl->all_dirty = ctl->nodes_changed = true;
  ctl->dirty = true;
}

struct controller *controller_new(struct cluster *c, double now)
{
  struct controller *ctl = xzalloc(sizeof(*ctl));
  ctl->cl = c;
  ctl->view = &c->view;
  ctl->start = now;
  ctl->progress = json_object();
  ctl->replace_backoff = json_object();
  ctl->dirty_services = json_object();
  ctl->all_dirty = ctl->dirty = true;
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
    seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)ctl;
  name_gen_init(&ctl->names, seed);
  cluster_set_observer(c, observe, ctl);
  return ctl;
}

void controller_free(struct controller *ctl)
{
  if (ctl == NULL)
    return;
  cluster_set_observer(ctl->cl, NULL, NULL);
  json_decref(ctl->progress);
  json_decref(ctl->replace_backoff);
  json_decref(ctl->dirty_services);
  free(ctl->fresh);
  free(ctl);
}

bool controller_dirty(const struct controller *ctl)
{
  return ctl->dirty;
}

void controller_write_metrics(const struct controller *ctl, FILE *f)
{
  static const char *const phases[] = {"nodes", "services", "commit", "events"};
  fprintf(f,
          "# TYPE skiff_scheduler_placements_total counter\n"
          "skiff_scheduler_placements_total %llu\n"
          "# TYPE skiff_scheduler_unschedulable_total counter\n"
          "skiff_scheduler_unschedulable_total %llu\n"
          "# TYPE skiff_controller_conflicts_total counter\n"
          "skiff_controller_conflicts_total %llu\n"
          "# TYPE skiff_controller_tick_seconds histogram\n",
          (unsigned long long)ctl->placements, (unsigned long long)ctl->unschedulable,
          (unsigned long long)ctl->conflicts);
  for (int i = 0; i < CONTROLLER_TICK_BUCKETS; i++)
    fprintf(f, "skiff_controller_tick_seconds_bucket{le=\"%g\"} %llu\n", tick_bounds[i],
            (unsigned long long)ctl->tick_le[i]);
  fprintf(f,
          "skiff_controller_tick_seconds_bucket{le=\"+Inf\"} %llu\n"
          "skiff_controller_tick_seconds_sum %.6f\n"
          "skiff_controller_tick_seconds_count %llu\n"
          "# TYPE skiff_controller_last_tick_seconds gauge\n",
          (unsigned long long)ctl->ticks, ctl->tick_sum, (unsigned long long)ctl->ticks);
  for (int i = 0; i < 4; i++)
    fprintf(f, "skiff_controller_last_tick_seconds{phase=\"%s\"} %.6f\n", phases[i],
            ctl->last_phase[i]);
}

void controller_tick(struct controller *ctl, double now)
{
  struct writes w = {0};
  double t0 = cluster_now();
  ctl->dirty = false;
  ctl->tick_no++;
  reconcile_nodes(ctl, now, &w);
  double t1 = cluster_now();
  reconcile_services(ctl, now, &w);
  controller_schedule(ctl, now, &w);
  double t2 = cluster_now();
  controller_commit(ctl, &w);
  double t3 = cluster_now();
  writes_free(&w);
  cluster_flush_events(ctl->cl);
  double t4 = cluster_now();
  double took = t4 - t0;
  ctl->last_phase[0] = t1 - t0;
  ctl->last_phase[1] = t2 - t1;
  ctl->last_phase[2] = t3 - t2;
  ctl->last_phase[3] = t4 - t3;
  ctl->ticks++;
  ctl->tick_sum += took;
  if (took >= 0.5)
    fprintf(stderr,
            "skiffd: controller: slow tick %.0f ms (nodes %.0f, services and scheduling %.0f, "
            "commit %.0f, events %.0f)\n",
            took * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t4 - t3) * 1e3);
  for (int i = 0; i < CONTROLLER_TICK_BUCKETS; i++)
    ctl->tick_le[i] += took <= tick_bounds[i];
}
