/* controller.c - the reconcile loop of `skiffd server`: node lifecycle, replica controller,
 * rolling update status and the scheduler binding, applied to the store.  Decisions come
 * from reconcile.c and scheduler.c (pure); this file turns the cluster's view into their
 * inputs and their outputs into store writes (CAS on each object's revision: a conflicting
 * tick is simply dropped and the next one decides again).  Start at controller_tick(). */
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "controller.h"
#include "model.h"
#include "reconcile.h"
#include "scheduler.h"

struct controller
{
  struct cluster *cl;
  struct view *view;
  double node_grace;
  double start;               /* nodes get a grace period from the controller's start */
  bool dirty;                 /* a change was observed since the last tick */
  json_t *progress;           /* service -> {"sig", "t"}: last rollout progress */
  json_t *replace_backoff;    /* service -> {rounds, last, next}: replacing exited replicas */
  json_t *dirty_services;     /* name -> true: reconcile it at the next tick */
  bool all_dirty;             /* a node changed: reconcile every service */
  bool nodes_changed;         /* a node object changed since the last replica sweep */
  double last_replica_sweep;  /* node controller's last pass over replicas */
  double last_full_reconcile; /* every service is reconciled at least each second */
  bool sched_retry;           /* a node, a service or a replica's resources changed */
  double sched_last_retry;    /* when unschedulable replicas were last retried */
  uint64_t placements, unschedulable;
};

/* A tick's writes are committed in one store txn per phase: CAS on each object's revision,
 * create-if-absent for new ones. */
static void batch_add(struct writes *b, enum store_op_type type, const char *prefix, json_t *obj)
{
  char *key = xasprintf("%s%s", prefix, model_str(obj, "name", ""));
  json_t *rev = json_object_get(obj, "revision");
  int64_t expect = rev ? json_integer_value(rev) : STORE_ABSENT;
  if (type == STORE_PUT)
    writes_put(b, key, cluster_encode(obj), expect);
  else
    writes_delete(b, key, expect);
}

static void batch_commit(struct controller *ctl, struct writes *b)
{
  cleanup_err struct skiff_err *err = NULL;
  if (cluster_commit(ctl->cl, b->ops, b->n, NULL, &err) < 0)
    fprintf(stderr, "skiffd: controller: %s\n", err->msg);
  writes_clear(b);
}

static enum replica_state state_of(json_t *r)
{
  int s = model_replica_state_parse(model_str(r, "state", ""));
  return s < 0 ? REPLICA_PENDING : (enum replica_state)s;
}

static void set_state(json_t *r, enum replica_state st, const char *reason)
{
  json_object_set_new(r, "state", json_string(model_replica_state_name(st)));
  json_object_set_new(r, "reason", json_string(reason));
  if (st == REPLICA_LOST || st == REPLICA_TERMINATING)
    json_object_set_new(r, "ready", json_false());
}

/* ---- node lifecycle ---- */

static void reconcile_nodes(struct controller *ctl, double now, struct writes *b)
{
  const char *name;
  json_t *node;
  json_object_foreach(ctl->view->nodes, name, node)
  {
    json_t *hb = json_object_get(ctl->view->heartbeats, name);
    /* After a restart every node gets a fresh grace period from the server's start. */
    double last = hb ? json_real_value(hb) : ctl->start;
    bool ready = rc_node_ready(now, last, ctl->node_grace);
    bool was = strcmp(model_str(node, "status", ""), "Ready") == 0;
    if (hb == NULL && !was)
      continue; /* NotReady before a restart and still silent */
    if (ready == was)
      continue;
    json_t *n = json_copy(node);
    json_object_set_new(n, "status", json_string(ready ? "Ready" : "NotReady"));
    batch_add(b, STORE_PUT, "/nodes/", n);
    json_decref(n);
    if (ready)
      recorder_event(&ctl->cl->events, "Normal", "Node", name, "NodeReady", "heartbeats resumed");
    else
      recorder_event(&ctl->cl->events, "Warning", "Node", name, "NodeNotReady",
                     "no heartbeat for %.1fs", now - last);
  }
  batch_commit(ctl, b);

  /* Full disruption (kube's node lifecycle controller does the same): when every node is
   * NotReady the fault is most likely ours or the network's, and there is nowhere to move
   * replicas to, so they are not marked Lost; they stay as they are until nodes return. */
  size_t nready = 0;
  json_object_foreach(ctl->view->nodes, name, node)
  {
    nready += strcmp(model_str(node, "status", ""), "Ready") == 0;
  }
  bool full_disruption = nready == 0 && json_object_size(ctl->view->nodes) > 1;
  /* Replicas need a look only when a node is NotReady or a node changed (came back, was
   * removed), and every 10 s as a safety net. */
  if (nready == json_object_size(ctl->view->nodes) && !ctl->nodes_changed
      && now - ctl->last_replica_sweep < 10)
    return;
  ctl->nodes_changed = false;
  ctl->last_replica_sweep = now;

  json_t *r;
  json_object_foreach(ctl->view->replicas, name, r)
  {
    const char *nodename = model_str(r, "node", "");
    enum replica_state st = state_of(r);
    if (*nodename == '\0')
      {
        if (st == REPLICA_TERMINATING)
          batch_add(b, STORE_DELETE, "/replicas/", r);
        continue;
      }
    json_t *node = json_object_get(ctl->view->nodes, nodename);
    bool ready = view_node_ready(ctl->view, nodename);
    if (node == NULL)
      {
        batch_add(b, STORE_DELETE, "/replicas/", r);
        recorder_event(&ctl->cl->events, "Warning", "Replica", name, "Lost", "node %s was removed",
                       nodename);
      }
    else if (!ready && model_replica_state_live(st) && !full_disruption)
      {
        json_t *c = json_copy(r);
        cleanup_free char *why = xasprintf("node %s is NotReady", nodename);
        set_state(c, REPLICA_LOST, why);
        batch_add(b, STORE_PUT, "/replicas/", c);
        json_decref(c);
        recorder_event(&ctl->cl->events, "Warning", "Replica", name, "Lost", "%s; replacing it",
                       why);
      }
    else if (!ready && st == REPLICA_TERMINATING)
      batch_add(b, STORE_DELETE, "/replicas/", r);
    else if (ready && st == REPLICA_LOST)
      {
        json_t *c = json_copy(r);
        set_state(c, REPLICA_TERMINATING, "node came back: replica was replaced");
        batch_add(b, STORE_PUT, "/replicas/", c);
        json_decref(c);
        recorder_event(&ctl->cl->events, "Normal", "Replica", name, "Terminating",
                       "node %s is back; stopping the stale replica", nodename);
      }
  }
  batch_commit(ctl, b);
}

/* ---- replica controller + rolling update ---- */

static char *replica_name(const char *svc, int64_t gen)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char rnd[5];
  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
    for (size_t i = 0; i < sizeof(rnd); i++)
      rnd[i] = (unsigned char)rand();
  char sfx[6];
  for (size_t i = 0; i < 5; i++)
    sfx[i] = alphabet[rnd[i] % 36];
  sfx[5] = '\0';
  return xasprintf("%s-%lld-%s", svc, (long long)gen, sfx);
}

static json_t *new_replica(json_t *svc)
{
  const char *sname = model_str(svc, "name", "");
  int64_t gen = model_int(svc, "generation", 1);
  cleanup_free char *name = replica_name(sname, gen);
  cleanup_free char *now = model_time_string(time(NULL));
  return json_pack("{s:s,s:s,s:I,s:s,s:s,s:b,s:i,s:s,s:n,s:s,s:s,s:o}", "name", name, "service",
                   sname, "generation", (json_int_t)gen, "node", "", "state", "Pending", "ready", 0,
                   "restarts", 0, "address", "", "lastExitCode", "reason", "", "created", now,
                   "spec", model_service_template(svc));
}

/* Service status and rollout state (Progressing / Complete / Stalled). */
static void update_status(struct controller *ctl, json_t *svc, const struct rc_counts *c,
                          json_t **reps, size_t n, double now, struct writes *b)
{
  const char *name = model_str(svc, "name", "");
  int64_t gen = model_int(svc, "generation", 1);
  int desired = (int)model_int(svc, "replicas", 1);
  cleanup_free char *sig = xasprintf("%lld/%d/%d/%d/%d", (long long)gen, desired, c->updated,
                                     c->updated_ready, c->old);
  json_t *p = json_object_get(ctl->progress, name);
  if (p == NULL || strcmp(model_str(p, "sig", ""), sig) != 0)
    {
      json_object_set_new(ctl->progress, name, json_pack("{s:s,s:f}", "sig", sig, "t", now));
      p = json_object_get(ctl->progress, name);
    }
  double deadline
      = json_real_value(json_object_get(json_object_get(svc, "update"), "progressDeadline"));
  enum rc_rollout state
      = rc_rollout_state(c, desired, now, json_real_value(json_object_get(p, "t")), deadline);
  cleanup_free char *msg = NULL;
  if (state == RC_ROLLOUT_COMPLETE)
    msg = xasprintf("%d of %d updated replicas ready", c->updated_ready, desired);
  else
    {
      const char *culprit = "";
      cleanup_free char *detail = NULL;
      for (size_t i = 0; i < n && detail == NULL; i++)
        if (model_int(reps[i], "generation", 0) == gen && !model_bool(reps[i], "ready", false)
            && model_replica_state_live(state_of(reps[i])))
          {
            const char *why = model_str(reps[i], "reason", "");
            culprit = model_str(reps[i], "name", "");
            detail = xasprintf("; %s: %s%s%s", culprit, model_str(reps[i], "state", ""),
                               *why ? ", " : "", why);
          }
      msg = xasprintf("generation %lld: %d of %d updated replicas ready, %d old%s%s",
                      (long long)gen, c->updated_ready, desired, c->old,
                      state == RC_ROLLOUT_STALLED ? ", no progress within the deadline" : "",
                      detail ? detail : "");
    }
  json_t *old = json_object_get(json_object_get(svc, "status"), "rollout");
  const char *oldstate = model_str(old, "state", "");
  bool changed_state
      = strcmp(oldstate, rc_rollout_name(state)) != 0 || model_int(old, "generation", 0) != gen;
  cleanup_free char *nowstr = model_time_string(time(NULL));
  json_t *rollout = json_pack("{s:I,s:s,s:s,s:s}", "generation", (json_int_t)gen, "state",
                              rc_rollout_name(state), "message", msg, "since",
                              changed_state ? nowstr : model_str(old, "since", nowstr));
  json_t *status = json_pack("{s:i,s:i,s:i,s:i,s:o}", "replicas", c->live, "ready", c->ready,
                             "updated", c->updated, "available", c->ready, "rollout", rollout);
  if (!json_equal(status, json_object_get(svc, "status")))
    {
      json_t *copy = json_copy(svc);
      json_object_set(copy, "status", status);
      batch_add(b, STORE_PUT, "/services/", copy);
      json_decref(copy);
      if (changed_state && state == RC_ROLLOUT_COMPLETE && *oldstate)
        recorder_event(&ctl->cl->events, "Normal", "Service", name, "RolloutComplete", "%s", msg);
      else if (changed_state && state == RC_ROLLOUT_STALLED)
        recorder_event(&ctl->cl->events, "Warning", "Service", name, "RolloutStalled", "%s", msg);
    }
  json_decref(status);
}

/* Replacing exited replicas backs off like restarts do (reconcile.h): the first round of
 * replacements is immediate, then 1 s, 2 s, ... 30 s between rounds, forgotten after 60 s
 * without an exit, so an image that always exits does not churn the store. */
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
  rounds = rc_backoff_consecutive(&rc_backoff_default, rounds, now - last);
  if (now < next)
    plan->create = 0;
  json_object_set_new(ctl->replace_backoff, sname,
                      json_pack("{s:i,s:f,s:f}", "rounds", (int)(rounds + 1), "last", now, "next",
                                now + rc_backoff_delay(&rc_backoff_default, rounds + 1)));
}

static void reconcile_service(struct controller *ctl, json_t *svc, json_t *list, double now,
                              struct writes *b)
{
  size_t n = json_array_size(list);
  json_t **reps = xmalloc((n ? n : 1) * sizeof(json_t *));
  struct rc_replica *rr = xmalloc((n ? n : 1) * sizeof(*rr));
  for (size_t i = 0; i < n; i++)
    {
      json_t *r = json_array_get(list, i);
      reps[i] = r;
      const char *node = model_str(r, "node", "");
      rr[i] = (struct rc_replica){.name = model_str(r, "name", ""),
                                  .node = node,
                                  .generation = model_int(r, "generation", 0),
                                  .state = state_of(r),
                                  .ready = model_bool(r, "ready", false),
                                  .node_ready = *node && view_node_ready(ctl->view, node),
                                  .created = model_int(r, "createdRevision", 0)};
    }
  json_t *upd = json_object_get(svc, "update");
  struct rc_service s = {.desired = (int)model_int(svc, "replicas", 1),
                         .generation = model_int(svc, "generation", 1),
                         .max_surge = (int)model_int(upd, "maxSurge", 1),
                         .max_unavailable = (int)model_int(upd, "maxUnavailable", 0)};
  struct rc_plan plan;
  rc_plan_compute(&s, rr, n, &plan);
  const char *sname = model_str(svc, "name", "");
  replacement_backoff(ctl, sname, &plan, now);

  for (size_t i = 0; i < plan.ndrop; i++)
    {
      json_t *r = reps[plan.drop[i].index];
      json_t *code = json_object_get(r, "lastExitCode");
      batch_add(b, STORE_DELETE, "/replicas/", r);
      recorder_event(&ctl->cl->events, "Warning", "Replica", model_str(r, "name", ""), "Replaced",
                     "%s (exit code %lld%s%s): %s", model_str(r, "state", ""),
                     (long long)(json_is_integer(code) ? json_integer_value(code) : -1),
                     *model_str(r, "reason", "") ? ", " : "", model_str(r, "reason", ""),
                     rc_why_string(RC_WHY_TERMINAL));
    }
  for (size_t i = 0; i < plan.nstop; i++)
    {
      json_t *r = reps[plan.stop[i].index];
      const char *why = rc_why_string(plan.stop[i].why);
      if (rr[plan.stop[i].index].node_ready)
        {
          json_t *c = json_copy(r);
          set_state(c, REPLICA_TERMINATING, why);
          batch_add(b, STORE_PUT, "/replicas/", c);
          json_decref(c);
        }
      else
        batch_add(b, STORE_DELETE, "/replicas/", r);
      recorder_event(&ctl->cl->events, "Normal", "Replica", model_str(r, "name", ""),
                     plan.stop[i].why == RC_WHY_OLD_GENERATION ? "Terminating" : "ScaledDown", "%s",
                     why);
    }
  /* One event per service and tick for creations (a scale to 1000 is one line). */
  cleanup_free char *created = NULL;
  for (int i = 0; i < plan.create; i++)
    {
      json_t *r = new_replica(svc);
      batch_add(b, STORE_PUT, "/replicas/", r);
      if (i < 3)
        {
          char *t = xasprintf("%s%s%s", created ? created : "", created ? ", " : "",
                              model_str(r, "name", ""));
          free(created);
          created = t;
        }
      json_decref(r);
    }
  if (plan.create > 0)
    recorder_event(&ctl->cl->events, "Normal", "Service", sname, "Created",
                   "created %d replica%s of generation %lld: %s%s", plan.create,
                   plan.create > 1 ? "s" : "", (long long)s.generation, created,
                   plan.create > 3 ? ", ..." : "");
  update_status(ctl, svc, &plan.counts, reps, n, now, b);
  rc_plan_free(&plan);
  free(rr);
  free(reps);
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

static void reconcile_services(struct controller *ctl, double now, struct writes *b)
{
  const char *name;
  json_t *r, *svc;
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
  json_t *by_svc = json_object();
  json_object_foreach(ctl->view->replicas, name, r)
  {
    const char *sname = model_str(r, "service", "");
    if (json_object_get(ctl->view->services, sname) == NULL)
      {
        /* Orphan: its service was deleted. */
        enum replica_state st = state_of(r);
        const char *node = model_str(r, "node", "");
        if (model_replica_state_live(st) && *node && view_node_ready(ctl->view, node))
          {
            json_t *c = json_copy(r);
            set_state(c, REPLICA_TERMINATING, "service deleted");
            batch_add(b, STORE_PUT, "/replicas/", c);
            json_decref(c);
          }
        else if (st != REPLICA_TERMINATING || !*node || !view_node_ready(ctl->view, node))
          batch_add(b, STORE_DELETE, "/replicas/", r);
        continue;
      }
    json_t *list = json_object_get(by_svc, sname);
    if (list == NULL)
      {
        list = json_array();
        json_object_set_new(by_svc, sname, list);
      }
    json_array_append(list, r);
  }
  json_object_foreach(ctl->view->services, name, svc)
  {
    if (!needs_reconcile(ctl, name, svc, all))
      continue;
    json_t *list = json_object_get(by_svc, name);
    json_t *empty = list ? NULL : json_array();
    reconcile_service(ctl, svc, list ? list : empty, now, b);
    json_decref(empty);
  }
  json_object_clear(ctl->dirty_services);
  /* Forget rollout progress of deleted services. */
  void *tmp;
  json_object_foreach_safe(ctl->progress, tmp, name, svc)
  {
    if (json_object_get(ctl->view->services, name) == NULL)
      json_object_del(ctl->progress, name);
  }
  json_decref(by_svc);
  batch_commit(ctl, b);
}

/* ---- scheduler binding ---- */

static int by_created(const void *a, const void *b)
{
  json_t *ra = *(json_t *const *)a, *rb = *(json_t *const *)b;
  int c = strcmp(model_str(ra, "service", ""), model_str(rb, "service", ""));
  if (c)
    return c;
  int64_t x = model_int(ra, "createdRevision", 0), y = model_int(rb, "createdRevision", 0);
  if (x != y)
    return x < y ? -1 : 1;
  return strcmp(model_str(ra, "name", ""), model_str(rb, "name", ""));
}

static struct sched_label *labels_of(json_t *map, size_t *n)
{
  *n = json_object_size(map);
  struct sched_label *l = xmalloc((*n ? *n : 1) * sizeof(*l));
  const char *k;
  json_t *v;
  size_t i = 0;
  json_object_foreach(map, k, v)
  {
    l[i++] = (struct sched_label){.key = k, .value = json_string_value(v)};
  }
  return l;
}

static int *node_ports_of(json_t *spec, size_t *n)
{
  json_t *ports = json_object_get(spec, "ports");
  int *out = xmalloc((json_array_size(ports) + 1) * sizeof(int));
  size_t i;
  json_t *p;
  *n = 0;
  json_array_foreach(ports, i, p)
  {
    int np = (int)model_int(p, "nodePort", 0);
    if (np > 0)
      out[(*n)++] = np;
  }
  return out;
}

static bool holds_resources(enum replica_state st)
{
  return st == REPLICA_SCHEDULED || st == REPLICA_STARTING || st == REPLICA_RUNNING
         || st == REPLICA_BACKOFF || st == REPLICA_TERMINATING;
}

static void schedule_pending(struct controller *ctl, double now, struct writes *b)
{
  size_t npend = 0, cap = 0;
  json_t **pend = NULL;
  const char *name;
  json_t *r;
  /* Replicas already found unschedulable wait (kube's unschedulable queue) until a node or a
   * service changed or a replica went away, or 5 s passed. */
  bool retry = ctl->sched_retry || now - ctl->sched_last_retry >= 5;
  if (retry)
    {
      ctl->sched_retry = false;
      ctl->sched_last_retry = now;
    }
  json_object_foreach(ctl->view->replicas, name, r)
  {
    if (state_of(r) != REPLICA_PENDING || (!retry && *model_str(r, "reason", "")))
      continue;
    if (npend == cap)
      pend = xrealloc(pend, (cap = cap ? cap * 2 : 64) * sizeof(json_t *));
    pend[npend++] = r;
  }
  if (npend == 0)
    return;
  qsort(pend, npend, sizeof(json_t *), by_created);

  /* Snapshot: nodes in name order (json objects keep insertion order, so sort the keys). */
  size_t nn = json_object_size(ctl->view->nodes);
  struct sched_node *nodes = xzalloc((nn ? nn : 1) * sizeof(*nodes));
  struct sched_label **labels = xzalloc((nn ? nn : 1) * sizeof(*labels));
  const char **names = xmalloc((nn ? nn : 1) * sizeof(char *));
  size_t k = 0;
  json_t *node;
  json_object_foreach(ctl->view->nodes, name, node)
  {
    names[k++] = name;
  }
  qsort(names, nn, sizeof(char *), (int (*)(const void *, const void *))strcmp);
  json_t *index = json_object();
  for (size_t i = 0; i < nn; i++)
    {
      node = json_object_get(ctl->view->nodes, names[i]);
      json_t *capj = json_object_get(node, "capacity");
      nodes[i] = (struct sched_node){
          .name = model_str(node, "name", names[i]),
          .ready = strcmp(model_str(node, "status", ""), "Ready") == 0,
          .cordoned = model_bool(node, "cordoned", false),
          .cpu_cap = model_cpu_milli(json_object_get(capj, "cpu")),
          .mem_cap = model_memory_bytes(json_object_get(capj, "memory")),
      };
      labels[i] = labels_of(json_object_get(node, "labels"), &nodes[i].nlabels);
      nodes[i].labels = labels[i];
      json_object_set_new(index, names[i], json_integer((json_int_t)i));
    }
  json_object_foreach(ctl->view->replicas, name, r)
  {
    json_t *ix = json_object_get(index, model_str(r, "node", ""));
    if (ix == NULL || !holds_resources(state_of(r)))
      continue;
    json_t *spec = json_object_get(r, "spec");
    json_t *res = json_object_get(spec, "resources");
    size_t np;
    cleanup_free int *ports = node_ports_of(spec, &np);
    struct sched_request used = {.cpu = model_cpu_milli(json_object_get(res, "cpu")),
                                 .mem = model_memory_bytes(json_object_get(res, "memory")),
                                 .owner = model_str(r, "service", ""),
                                 .node_ports = ports,
                                 .nnode_ports = np};
    sched_assume(&nodes[json_integer_value(ix)], &used);
  }

  int bound = 0;
  const char *cur_svc = NULL, *failed_svc = NULL;
  int64_t failed_gen = 0;
  char *failed_why = NULL;
  json_t *svc = NULL;
  for (size_t p = 0; p < npend; p++)
    {
      r = pend[p];
      const char *sname = model_str(r, "service", "");
      if (cur_svc == NULL || strcmp(cur_svc, sname) != 0)
        {
          /* New service: count its replicas per node for spreading. */
          cur_svc = sname;
          svc = json_object_get(ctl->view->services, sname);
          for (size_t i = 0; i < nn; i++)
            nodes[i].svc_count = 0;
          json_t *o;
          const char *oname;
          json_object_foreach(ctl->view->replicas, oname, o)
          {
            json_t *ix = json_object_get(index, model_str(o, "node", ""));
            if (ix && strcmp(model_str(o, "service", ""), sname) == 0
                && model_replica_state_live(state_of(o)))
              nodes[json_integer_value(ix)].svc_count++;
          }
        }
      if (svc == NULL)
        continue;
      json_t *spec = json_object_get(r, "spec");
      json_t *res = json_object_get(spec, "resources");
      json_t *pl = json_object_get(svc, "placement");
      size_t np, nsel;
      cleanup_free int *ports = node_ports_of(spec, &np);
      cleanup_free struct sched_label *sel = labels_of(json_object_get(pl, "selector"), &nsel);
      struct sched_request req = {.cpu = model_cpu_milli(json_object_get(res, "cpu")),
                                  .mem = model_memory_bytes(json_object_get(res, "memory")),
                                  .owner = sname,
                                  .node_ports = ports,
                                  .nnode_ports = np,
                                  .selector = sel,
                                  .nselector = nsel,
                                  .spread = model_bool(pl, "spread", true),
                                  .max_per_node = (int)model_int(pl, "maxPerNode", 0)};
      struct sched_why why;
      const char *rname = model_str(r, "name", "");
      int64_t gen = model_int(r, "generation", 0);
      /* Replicas of one generation ask for the same: after one fails the rest fail too. */
      long best = failed_svc && strcmp(failed_svc, sname) == 0 && failed_gen == gen
                      ? -1
                      : sched_pick_node(nodes, nn, &req, &why);
      if (best < 0 && !(failed_svc && strcmp(failed_svc, sname) == 0 && failed_gen == gen))
        {
          free(failed_why);
          failed_why = sched_why_string(&why);
          failed_svc = sname;
          failed_gen = gen;
        }
      if (best >= 0)
        {
          sched_assume(&nodes[best], &req);
          json_t *c = json_copy(r);
          json_object_set_new(c, "node", json_string(nodes[best].name));
          set_state(c, REPLICA_SCHEDULED, "");
          batch_add(b, STORE_PUT, "/replicas/", c);
          json_decref(c);
          ctl->placements++;
          /* An event per binding for the first ones of a tick, then one summary: a burst of
           * 10,000 placements must not cost 10,000 event writes. */
          if (++bound <= 20)
            recorder_event(&ctl->cl->events, "Normal", "Replica", rname, "Scheduled",
                           "bound to node %s", nodes[best].name);
          continue;
        }
      const char *reason = failed_why;
      if (strcmp(reason, model_str(r, "reason", "")) != 0)
        {
          json_t *c = json_copy(r);
          json_object_set_new(c, "reason", json_string(reason));
          batch_add(b, STORE_PUT, "/replicas/", c);
          json_decref(c);
          ctl->unschedulable++;
          recorder_event(&ctl->cl->events, "Warning", "Replica", rname, "FailedScheduling", "%s",
                         reason);
        }
    }
  batch_commit(ctl, b);
  if (bound > 20)
    recorder_event(&ctl->cl->events, "Normal", "Scheduler", "scheduler", "Scheduled",
                   "bound %d more replicas (one event each for the first 20)", bound - 20);
  free(failed_why);
  for (size_t i = 0; i < nn; i++)
    {
      sched_node_release(&nodes[i]);
      free(labels[i]);
    }
  json_decref(index);
  free(labels);
  free(names);
  free(nodes);
  free(pend);
}

/* The observer the cluster calls for every committed change (cluster.h). */
static void observe(void *data, char kind, const char *name, json_t *obj, enum store_op_type type)
{
  struct controller *ctl = data;
  if (kind == VIEW_SERVICE || kind == VIEW_NODE || (kind == VIEW_REPLICA && type == STORE_DELETE))
    ctl->sched_retry = true;
  if (kind == VIEW_SERVICE)
    json_object_set_new(ctl->dirty_services, name, json_true());
  else if (kind == VIEW_REPLICA)
    json_object_set_new(ctl->dirty_services, model_str(obj, "service", ""), json_true());
  else if (kind == VIEW_NODE)
    ctl->all_dirty = ctl->nodes_changed = true;
  ctl->dirty = true;
}

struct controller *controller_new(struct cluster *c, double node_grace, double now)
{
  struct controller *ctl = xzalloc(sizeof(*ctl));
  ctl->cl = c;
  ctl->view = &c->view;
  ctl->node_grace = node_grace;
  ctl->start = now;
  ctl->progress = json_object();
  ctl->replace_backoff = json_object();
  ctl->dirty_services = json_object();
  ctl->all_dirty = ctl->dirty = true;
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
  free(ctl);
}

bool controller_dirty(const struct controller *ctl)
{
  return ctl->dirty;
}

void controller_write_metrics(const struct controller *ctl, FILE *f)
{
  fprintf(f,
          "# TYPE skiff_scheduler_placements_total counter\n"
          "skiff_scheduler_placements_total %llu\n"
          "# TYPE skiff_scheduler_unschedulable_total counter\n"
          "skiff_scheduler_unschedulable_total %llu\n",
          (unsigned long long)ctl->placements, (unsigned long long)ctl->unschedulable);
}

void controller_tick(struct controller *ctl, double now)
{
  struct writes b = {0};
  ctl->dirty = false;
  reconcile_nodes(ctl, now, &b);
  reconcile_services(ctl, now, &b);
  schedule_pending(ctl, now, &b);
  writes_free(&b);
  cluster_flush_events(ctl->cl);
}
