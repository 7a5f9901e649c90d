/* reconcile.c - pure controller decisions (see reconcile.h). */
#include <math.h>
#include <string.h>
#include "reconcile.h"
#include "util.h"

const struct rc_backoff_policy rc_backoff_default = {.base = 1, .cap = 30, .reset_after = 60};

const char *rc_why_string(enum rc_why why)
{
  switch (why)
    {
      case RC_WHY_UNSCHEDULED:
        return "scale down: not scheduled yet";
      case RC_WHY_NOT_READY:
        return "scale down: not ready";
      case RC_WHY_LOADED:
        return "scale down: on the node with the most replicas of the service";
      case RC_WHY_NEWEST:
        return "scale down: newest replica";
      case RC_WHY_OLD_GENERATION:
        return "rolling update: older generation";
      case RC_WHY_TERMINAL:
        return "exited and not restarted: replaced";
    }
  return "";
}

static bool bound(const struct rc_replica *r)
{
  return r->node != NULL && r->node[0] != '\0';
}

void rc_count(const struct rc_service *svc, const struct rc_replica *r, size_t n,
              struct rc_counts *c)
{
  memset(c, 0, sizeof(*c));
  for (size_t i = 0; i < n; i++)
    {
      if (r[i].state == REPLICA_TERMINATING && bound(&r[i]) && r[i].node_ready)
        c->running++;
      if (!model_replica_state_live(r[i].state))
        continue;
      c->live++;
      c->running++;
      c->ready += r[i].ready;
      if (r[i].generation == svc->generation)
        {
          c->updated++;
          c->updated_ready += r[i].ready;
        }
      else
        c->old++;
    }
}

/* Node loads: group[i] numbers replica i's node (-1 unbound); load[g] counts live replicas
 * of the service on node g.  Sorting indexes by node name keeps this O(n log n). */
struct loads
{
  int *group;
  int *load;
};

static const struct rc_replica *sort_base;

static int by_node(const void *a, const void *b)
{
  const struct rc_replica *ra = &sort_base[*(const size_t *)a];
  const struct rc_replica *rb = &sort_base[*(const size_t *)b];
  return strcmp(ra->node ? ra->node : "", rb->node ? rb->node : "");
}

static void loads_init(struct loads *l, const struct rc_replica *r, size_t n)
{
  size_t *idx = xmalloc((n ? n : 1) * sizeof(size_t));
  l->group = xmalloc((n ? n : 1) * sizeof(int));
  l->load = xzalloc((n ? n : 1) * sizeof(int));
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  sort_base = r; /* qsort has no context argument in C11; single-threaded use only */
  qsort(idx, n, sizeof(size_t), by_node);
  int g = -1;
  const char *prev = NULL;
  for (size_t k = 0; k < n; k++)
    {
      const struct rc_replica *x = &r[idx[k]];
      if (!bound(x))
        {
          l->group[idx[k]] = -1;
          continue;
        }
      if (prev == NULL || strcmp(prev, x->node) != 0)
        g++;
      prev = x->node;
      l->group[idx[k]] = g;
      if (model_replica_state_live(x->state))
        l->load[g]++;
    }
  free(idx);
}

static int load_of(const struct loads *l, size_t i)
{
  return l->group[i] < 0 ? 0 : l->load[l->group[i]];
}

/* Scale-down preference between two candidates: unscheduled, then not ready, then on the
 * most loaded node, then newest, then name.  < 0 when a goes first. */
static int stop_order(const struct rc_replica *a, int load_a, const struct rc_replica *b,
                      int load_b)
{
  if (bound(a) != bound(b))
    return bound(a) ? 1 : -1;
  if (a->ready != b->ready)
    return a->ready ? 1 : -1;
  if (load_a != load_b)
    return load_a > load_b ? -1 : 1;
  if (a->created != b->created)
    return a->created > b->created ? -1 : 1;
  return strcmp(a->name, b->name) > 0 ? -1 : 1;
}

/* Pick `count` replicas among those matching `want_old`/current generation, one at a time so
 * that node loads follow each choice.  ready_budget < 0: no limit on ready ones. */
static void pick_stops(const struct rc_service *svc, const struct rc_replica *r, size_t n,
                       bool *gone, struct loads *loads, bool old_gen, int count, int ready_budget,
                       struct rc_plan *plan)
{
  while (count > 0)
    {
      long best = -1;
      int best_load = 0;
      int min_load = -1;
      for (size_t i = 0; i < n; i++)
        {
          if (gone[i] || !model_replica_state_live(r[i].state)
              || (r[i].generation != svc->generation) != old_gen)
            continue;
          if (r[i].ready && ready_budget == 0)
            continue;
          int load = load_of(loads, i);
          if (min_load < 0 || load < min_load)
            min_load = load;
          if (best < 0 || stop_order(&r[i], load, &r[best], best_load) < 0)
            {
              best = (long)i;
              best_load = load;
            }
        }
      if (best < 0)
        return;
      enum rc_why why;
      if (old_gen)
        why = RC_WHY_OLD_GENERATION;
      else if (!bound(&r[best]))
        why = RC_WHY_UNSCHEDULED;
      else if (!r[best].ready)
        why = RC_WHY_NOT_READY;
      else if (best_load > min_load)
        why = RC_WHY_LOADED;
      else
        why = RC_WHY_NEWEST;
      if (r[best].ready && ready_budget > 0)
        ready_budget--;
      gone[best] = true;
      if (loads->group[best] >= 0)
        loads->load[loads->group[best]]--;
      plan->stop[plan->nstop++] = (struct rc_stop){.index = (size_t)best, .why = why};
      count--;
    }
}

void rc_plan_compute(const struct rc_service *svc, const struct rc_replica *r, size_t n,
                     struct rc_plan *plan)
{
  memset(plan, 0, sizeof(*plan));
  plan->stop = xmalloc((n ? n : 1) * sizeof(*plan->stop));
  plan->drop = xmalloc((n ? n : 1) * sizeof(*plan->drop));
  bool *gone = xzalloc((n ? n : 1) * sizeof(bool));
  struct rc_counts *c = &plan->counts;
  rc_count(svc, r, n, c);
  /* Node loads only matter when something is stopped (sorting costs n log n). */
  struct loads loads = {NULL, NULL};
  if (c->updated > svc->desired || c->old > 0)
    loads_init(&loads, r, n);

  for (size_t i = 0; i < n; i++)
    if (r[i].state == REPLICA_FAILED || r[i].state == REPLICA_SUCCEEDED)
      plan->drop[plan->ndrop++] = (struct rc_stop){.index = i, .why = RC_WHY_TERMINAL};

  int cap = svc->desired + svc->max_surge;
  int create = svc->desired - c->updated;
  if (create > cap - c->running)
    create = cap - c->running;
  plan->create = create > 0 ? create : 0;

  /* Too many of the current generation (scale down). */
  if (c->updated > svc->desired)
    pick_stops(svc, r, n, gone, &loads, false, c->updated - svc->desired, -1, plan);

  if (c->old > 0)
    {
      /* Rolling update (kube's Deployment arithmetic): keep at least desired -
       * maxUnavailable replicas available; unready new replicas count as unavailable. */
      int min_available = svc->desired - svc->max_unavailable;
      if (min_available < 0)
        min_available = 0;
      int unready_new = c->updated - c->updated_ready;
      int budget = c->live - min_available - unready_new;
      int ready_budget = c->ready - min_available;
      if (budget > c->old)
        budget = c->old;
      if (budget > 0)
        pick_stops(svc, r, n, gone, &loads, true, budget, ready_budget > 0 ? ready_budget : 0,
                   plan);
    }
  free(gone);
  free(loads.group);
  free(loads.load);
}

void rc_plan_free(struct rc_plan *plan)
{
  free(plan->stop);
  free(plan->drop);
  plan->stop = plan->drop = NULL;
  plan->nstop = plan->ndrop = 0;
}

bool rc_node_ready(double now, double last_heartbeat, double grace)
{
  return now - last_heartbeat <= grace;
}

void rc_heartbeat_pace(struct rc_heartbeat *h, const struct rc_heartbeat_policy *p, size_t nodes,
                       double now)
{
  double period = p->period;
  if (p->max_rate > 0 && (double)nodes / p->max_rate > period)
    period = ceil((double)nodes / p->max_rate * 4) / 4;
  /* the grace of a period alone: the configured one's, scaled */
  double scaled = p->grace * period / p->period;
  double old = h->period > 0 ? p->grace * h->period / p->period : 0;
  h->period = period;
  if (scaled < old)
    {
      double keep = now < h->held_until && h->held_grace > old ? h->held_grace : old;
      h->held_grace = keep;
      h->held_until = now + keep;
    }
  h->grace = now < h->held_until && h->held_grace > scaled ? h->held_grace : scaled;
}

double rc_backoff_delay(const struct rc_backoff_policy *p, unsigned consecutive)
{
  if (consecutive == 0)
    return 0;
  if (consecutive > 62)
    return p->cap;
  double d = p->base * ldexp(1.0, (int)consecutive - 1);
  return d < p->cap ? d : p->cap;
}

unsigned rc_backoff_consecutive(const struct rc_backoff_policy *p, unsigned consecutive,
                                double ran_for)
{
  return ran_for >= p->reset_after ? 0 : consecutive;
}

bool rc_should_restart(const char *policy, int exit_code)
{
  if (policy == NULL || strcmp(policy, "always") == 0)
    return true;
  if (strcmp(policy, "on-failure") == 0)
    return exit_code != 0;
  return false;
}

const char *rc_rollout_name(enum rc_rollout r)
{
  static const char *const names[] = {"Progressing", "Complete", "Stalled"};
  return names[r];
}

enum rc_rollout rc_rollout_state(const struct rc_counts *c, int desired, double now,
                                 double last_progress, double deadline)
{
  if (c->old == 0 && c->updated == desired && c->updated_ready == desired)
    return RC_ROLLOUT_COMPLETE;
  if (now - last_progress > deadline)
    return RC_ROLLOUT_STALLED;
  return RC_ROLLOUT_PROGRESSING;
}
