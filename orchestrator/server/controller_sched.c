/* controller_sched.c - the scheduler binding (kube-scheduler's bind step) inside the
 * controller tick: the tick's Pending replicas, the ones waiting from before and the ones the
 * replica controller just made, are placed with the pure scheduler (scheduler.c) over a
 * snapshot taken from the view's per-node totals, and written bound.  A new replica is thus
 * written once, already bound; one that fits nowhere is written Pending with the reason.
 * Replicas of one service generation ask for the same, so they are placed as a batch
 * (sched_place_many). */
#include <string.h>
#include "controller_internal.h"
#include "model.h"
#include "scheduler.h"

struct pending
{
  struct view_replica *r;
  bool fresh; /* made by this tick, not yet in the view */
  size_t order;
};

static int by_service_then_age(const void *a, const void *b)
{
  const struct pending *pa = a, *pb = b;
  int c = strcmp(pa->r->service, pb->r->service);
  if (c)
    return c;
  if (pa->r->generation != pb->r->generation)
    return pa->r->generation < pb->r->generation ? -1 : 1;
  if (pa->fresh != pb->fresh)
    return pa->fresh ? 1 : -1;
  if (pa->r->create_rev != pb->r->create_rev)
    return pa->r->create_rev < pb->r->create_rev ? -1 : 1;
  if (pa->fresh)
    return pa->order < pb->order ? -1 : 1;
  return strcmp(pa->r->name, pb->r->name);
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

struct snapshot
{
  struct sched_node *nodes;
  struct sched_label **labels;
  size_t n;
  struct strmap index; /* node name -> index + 1 */
};

static void snapshot_take(struct view *v, struct snapshot *s)
{
  s->n = v->nnodes;
  s->nodes = xzalloc((s->n ? s->n : 1) * sizeof(*s->nodes));
  s->labels = xzalloc((s->n ? s->n : 1) * sizeof(*s->labels));
  memset(&s->index, 0, sizeof(s->index));
  for (size_t i = 0; i < s->n; i++)
    {
      struct view_node *vn = v->node_list[i];
      struct sched_node *n = &s->nodes[i];
      *n = (struct sched_node){.name = vn->name,
                               .ready = vn->ready,
                               .cordoned = vn->cordoned,
                               .cpu_cap = vn->cpu_cap,
                               .mem_cap = vn->mem_cap,
                               .cpu_used = vn->cpu_used,
                               .mem_used = vn->mem_used};
      s->labels[i] = labels_of(json_object_get(vn->obj, "labels"), &n->nlabels);
      n->labels = s->labels[i];
      if (vn->nports)
        {
          n->ports = xmalloc(vn->nports * sizeof(*n->ports));
          n->ports_cap = n->nports = vn->nports;
          for (size_t k = 0; k < vn->nports; k++)
            n->ports[k] = (struct sched_port){vn->ports[k].port, vn->ports[k].owner};
        }
      strmap_put(&s->index, vn->name, (void *)(uintptr_t)(i + 1));
    }
}

static void snapshot_free(struct snapshot *s)
{
  for (size_t i = 0; i < s->n; i++)
    {
      sched_node_release(&s->nodes[i]);
      free(s->labels[i]);
    }
  free(s->nodes);
  free(s->labels);
  strmap_free(&s->index);
}

/* Spread: how many live replicas of the service each node has, and how many of them are of
 * the generation being placed (those the tick stops do not count). */
static void count_service(struct controller *ctl, struct snapshot *s, const char *service,
                          int64_t generation)
{
  for (size_t i = 0; i < s->n; i++)
    s->nodes[i].svc_count = s->nodes[i].gen_count = 0;
  struct view_group *g = view_group(ctl->view, service);
  for (size_t i = 0; g && i < g->n; i++)
    {
      struct view_replica *r = g->items[i];
      if (r->mark == ctl->tick_no || !model_replica_state_live(r->state) || !*r->node)
        continue;
      uintptr_t ix = (uintptr_t)strmap_get(&s->index, r->node);
      if (ix)
        {
          s->nodes[ix - 1].svc_count++;
          s->nodes[ix - 1].gen_count += r->generation == generation;
        }
    }
}

/* Place one run of replicas of one service generation. */
static void place_run(struct controller *ctl, struct snapshot *s, struct pending *run, size_t k,
                      struct writes *w, int *bound)
{
  json_t *svc = json_object_get(ctl->view->services, run[0].r->service);
  long *out = xmalloc(k * sizeof(long));
  cleanup_free char *why_text = NULL, *first_failed = NULL;
  size_t nfailed = 0;
  if (svc == NULL)
    {
      /* an orphan waiting to be removed: nothing to place it by */
      for (size_t i = 0; i < k; i++)
        out[i] = -2;
    }
  else
    {
      const struct view_spec *spec = run[0].r->spec;
      json_t *pl = json_object_get(svc, "placement");
      size_t nsel;
      cleanup_free struct sched_label *sel = labels_of(json_object_get(pl, "selector"), &nsel);
      struct sched_request req = {.cpu = spec->cpu,
                                  .mem = spec->mem,
                                  .owner = run[0].r->service,
                                  .node_ports = spec->node_ports,
                                  .nnode_ports = spec->nnode_ports,
                                  .selector = sel,
                                  .nselector = nsel,
                                  .spread = model_bool(pl, "spread", true),
                                  .max_per_node = (int)model_int(pl, "maxPerNode", 0)};
      count_service(ctl, s, run[0].r->service, run[0].r->generation);
      struct sched_why why;
      if (sched_place_many(s->nodes, s->n, &req, k, out, &why) < k)
        why_text = sched_why_string(&why);
    }
  for (size_t i = 0; i < k; i++)
    {
      struct view_replica *r = run[i].r;
      if (out[i] == -2)
        {
          if (run[i].fresh)
            view_replica_free(r);
          continue;
        }
      if (out[i] >= 0)
        {
          const char *node = s->nodes[out[i]].name;
          struct view_replica *c = run[i].fresh ? r : view_replica_clone(r);
          view_replica_set(&c->node, node);
          c->state = REPLICA_SCHEDULED;
          view_replica_set(&c->reason, "");
          writes_put_replica(w, c, run[i].fresh ? STORE_ABSENT : r->rev);
          ctl->placements++;
          /* An event per binding for the first ones of a tick, then one summary: a burst of
           * 10,000 placements must not cost 10,000 event writes. */
          if (++*bound <= 20)
            recorder_event(&ctl->cl->events, "Normal", "Replica", r->name, "Scheduled",
                           "bound to node %s", node);
          continue;
        }
      if (run[i].fresh || strcmp(why_text, r->reason) != 0)
        {
          struct view_replica *c = run[i].fresh ? r : view_replica_clone(r);
          view_replica_set(&c->reason, why_text);
          ctl->unschedulable++;
          if (nfailed++ == 0)
            first_failed = xstrdup(r->name);
          writes_put_replica(w, c, run[i].fresh ? STORE_ABSENT : r->rev);
        }
    }
  /* One event per service generation and tick, on its first replica that did not fit. */
  if (nfailed == 1)
    recorder_event(&ctl->cl->events, "Warning", "Replica", first_failed, "FailedScheduling", "%s",
                   why_text);
  else if (nfailed > 1)
    recorder_event(&ctl->cl->events, "Warning", "Replica", first_failed, "FailedScheduling",
                   "%s (and %zu more replicas of generation %lld)", why_text, nfailed - 1,
                   (long long)run[0].r->generation);
  free(out);
}

void controller_schedule(struct controller *ctl, double now, struct writes *w)
{
  struct view *v = ctl->view;
  /* Replicas already found unschedulable wait (kube's unschedulable queue) until a node or a
   * service changed or a replica went away, or 5 s passed. */
  bool retry = ctl->sched_retry || now - ctl->sched_last_retry >= 5;
  if (retry)
    {
      ctl->sched_retry = false;
      ctl->sched_last_retry = now;
    }
  size_t cap = ctl->nfresh + v->by_state[REPLICA_PENDING];
  struct pending *pend = xmalloc((cap ? cap : 1) * sizeof(*pend));
  size_t np = 0;
  if (v->by_state[REPLICA_PENDING] > 0)
    {
      size_t pos = 0;
      void *val;
      while (strmap_next(&v->replicas, &pos, NULL, &val) && np < cap)
        {
          struct view_replica *r = val;
          if (r->state != REPLICA_PENDING || r->mark == ctl->tick_no || (!retry && *r->reason))
            continue;
          pend[np++] = (struct pending){.r = r};
        }
    }
  for (size_t i = 0; i < ctl->nfresh; i++)
    pend[np++] = (struct pending){.r = ctl->fresh[i], .fresh = true, .order = i};
  ctl->nfresh = 0;
  if (np == 0)
    {
      free(pend);
      return;
    }
  qsort(pend, np, sizeof(*pend), by_service_then_age);
  struct snapshot s;
  snapshot_take(v, &s);
  int bound = 0;
  for (size_t i = 0; i < np;)
    {
      size_t j = i + 1;
      while (j < np && strcmp(pend[j].r->service, pend[i].r->service) == 0
             && pend[j].r->generation == pend[i].r->generation)
        j++;
      place_run(ctl, &s, &pend[i], j - i, w, &bound);
      i = j;
    }
  if (bound > 20)
    recorder_event(&ctl->cl->events, "Normal", "Scheduler", "scheduler", "Scheduled",
                   "bound %d more replicas (one event each for the first 20)", bound - 20);
  snapshot_free(&s);
  free(pend);
}
