/* scheduler.c - filter and score nodes for one replica (see scheduler.h).  Pure: the only
 * allocation is the port list sched_assume grows inside the caller's snapshot. */
#include <string.h>
#include "scheduler.h"
#include "util.h"

static const char *const reason_names[SCHED_REASON_COUNT] = {
    [SCHED_NOT_READY] = "NotReady",
    [SCHED_CORDONED] = "cordoned",
    [SCHED_SELECTOR] = "selector mismatch",
    [SCHED_CPU] = "insufficient cpu",
    [SCHED_MEMORY] = "insufficient memory",
    [SCHED_PORT] = "nodePort held by another service",
    [SCHED_MAX_PER_NODE] = "maxPerNode reached",
};

static bool labels_match(const struct sched_node *node, const struct sched_request *req)
{
  for (size_t i = 0; i < req->nselector; i++)
    {
      bool found = false;
      for (size_t j = 0; j < node->nlabels && !found; j++)
        found = strcmp(node->labels[j].key, req->selector[i].key) == 0
                && strcmp(node->labels[j].value, req->selector[i].value) == 0;
      if (!found)
        return false;
    }
  return true;
}

int sched_filter(const struct sched_node *node, const struct sched_request *req)
{
  if (!node->ready)
    return SCHED_NOT_READY;
  if (node->cordoned)
    return SCHED_CORDONED;
  if (!labels_match(node, req))
    return SCHED_SELECTOR;
  if (node->cpu_cap > 0 && node->cpu_used + req->cpu > node->cpu_cap)
    return SCHED_CPU;
  if (node->mem_cap > 0 && node->mem_used + req->mem > node->mem_cap)
    return SCHED_MEMORY;
  for (size_t i = 0; i < req->nnode_ports; i++)
    for (size_t j = 0; j < node->nports; j++)
      if (node->ports[j].port == req->node_ports[i]
          && (node->ports[j].owner == NULL || req->owner == NULL
              || strcmp(node->ports[j].owner, req->owner) != 0))
        return SCHED_PORT;
  if (req->max_per_node > 0 && node->svc_count >= req->max_per_node)
    return SCHED_MAX_PER_NODE;
  return -1;
}

/* Mean used fraction of CPU and memory after placing req; unlimited resources count 0. */
static double allocated_fraction(const struct sched_node *n, const struct sched_request *req)
{
  double f = 0;
  if (n->cpu_cap > 0)
    f += (double)(n->cpu_used + req->cpu) / (double)n->cpu_cap;
  if (n->mem_cap > 0)
    f += (double)(n->mem_used + req->mem) / (double)n->mem_cap;
  return f / 2;
}

int sched_compare(const struct sched_node *a, const struct sched_node *b,
                  const struct sched_request *req)
{
  if (req->spread && a->gen_count != b->gen_count)
    return a->gen_count < b->gen_count ? -1 : 1;
  if (req->spread && a->svc_count != b->svc_count)
    return a->svc_count < b->svc_count ? -1 : 1;
  double fa = allocated_fraction(a, req), fb = allocated_fraction(b, req);
  /* Fractions within 1e-9 are equal: keeps ties exact across platforms. */
  if (fa < fb - 1e-9)
    return -1;
  if (fa > fb + 1e-9)
    return 1;
  return strcmp(a->name, b->name);
}

long sched_pick_node(const struct sched_node *nodes, size_t n, const struct sched_request *req,
                     struct sched_why *why)
{
  /* Same order as sched_compare, written out so the best node's score is computed once and
   * a node with more replicas of the service is dropped before any division. */
  long best = -1;
  int best_count = 0, best_gen = 0;
  double best_frac = 0;
  if (why)
    memset(why, 0, sizeof(*why));
  for (size_t i = 0; i < n; i++)
    {
      const struct sched_node *node = &nodes[i];
      int r = sched_filter(node, req);
      if (r >= 0)
        {
          if (why)
            why->count[r]++;
          continue;
        }
      /* spread: fewer of this generation, then fewer of the service */
      int spread_cmp = !req->spread                    ? 0
                       : node->gen_count != best_gen   ? (node->gen_count < best_gen ? -1 : 1)
                       : node->svc_count != best_count ? (node->svc_count < best_count ? -1 : 1)
                                                       : 0;
      if (best >= 0 && spread_cmp > 0)
        continue;
      double frac = allocated_fraction(node, req);
      if (best >= 0 && spread_cmp == 0)
        {
          if (frac > best_frac + 1e-9)
            continue;
          if (frac >= best_frac - 1e-9 && strcmp(node->name, nodes[best].name) >= 0)
            continue;
        }
      best = (long)i;
      best_count = node->svc_count;
      best_gen = node->gen_count;
      best_frac = frac;
    }
  if (why)
    why->nodes = n;
  return best;
}

void sched_assume(struct sched_node *node, const struct sched_request *req)
{
  node->cpu_used += req->cpu;
  node->mem_used += req->mem;
  node->svc_count++;
  node->gen_count++;
  for (size_t i = 0; i < req->nnode_ports; i++)
    {
      /* Replicas of one service share its port: keep one entry per (port, service). */
      bool held = false;
      for (size_t j = 0; j < node->nports && !held; j++)
        held = node->ports[j].port == req->node_ports[i]
               && (node->ports[j].owner == req->owner
                   || (node->ports[j].owner && req->owner
                       && strcmp(node->ports[j].owner, req->owner) == 0));
      if (held)
        continue;
      if (node->nports == node->ports_cap)
        {
          node->ports_cap = node->ports_cap ? node->ports_cap * 2 : 4;
          node->ports = xrealloc(node->ports, node->ports_cap * sizeof(*node->ports));
        }
      node->ports[node->nports++] = (struct sched_port){req->node_ports[i], req->owner};
    }
}

/* Binary min-heap of node indexes ordered by sched_compare. */
struct heap
{
  size_t *idx;
  size_t len;
  const struct sched_node *nodes;
  const struct sched_request *req;
};

static bool heap_less(const struct heap *h, size_t a, size_t b)
{
  return sched_compare(&h->nodes[h->idx[a]], &h->nodes[h->idx[b]], h->req) < 0;
}

static void heap_swap(struct heap *h, size_t a, size_t b)
{
  size_t t = h->idx[a];
  h->idx[a] = h->idx[b];
  h->idx[b] = t;
}

static void heap_down(struct heap *h, size_t i)
{
  for (;;)
    {
      size_t l = 2 * i + 1, r = l + 1, m = i;
      if (l < h->len && heap_less(h, l, m))
        m = l;
      if (r < h->len && heap_less(h, r, m))
        m = r;
      if (m == i)
        return;
      heap_swap(h, i, m);
      i = m;
    }
}

size_t sched_place_many(struct sched_node *nodes, size_t n, const struct sched_request *req,
                        size_t count, long *out, struct sched_why *why)
{
  struct heap h = {.idx = xmalloc((n ? n : 1) * sizeof(size_t)), .nodes = nodes, .req = req};
  for (size_t i = 0; i < n; i++)
    if (sched_filter(&nodes[i], req) < 0)
      h.idx[h.len++] = i;
  for (size_t i = h.len / 2; i-- > 0;)
    heap_down(&h, i);
  size_t placed = 0;
  for (size_t k = 0; k < count; k++)
    {
      if (h.len == 0)
        {
          /* Nothing fits from here on: say why once, over every node. */
          if (why && placed == k)
            sched_pick_node(nodes, n, req, why);
          out[k] = -1;
          continue;
        }
      size_t best = h.idx[0];
      out[k] = (long)best;
      placed++;
      sched_assume(&nodes[best], req);
      /* The chosen node's key grew; it leaves the heap when it no longer fits. */
      if (sched_filter(&nodes[best], req) >= 0)
        h.idx[0] = h.idx[--h.len];
      heap_down(&h, 0);
    }
  free(h.idx);
  return placed;
}

void sched_node_release(struct sched_node *node)
{
  free(node->ports);
  node->ports = NULL;
  node->nports = node->ports_cap = 0;
}

char *sched_why_string(const struct sched_why *why)
{
  if (why->nodes == 0)
    return xstrdup("0/0 nodes are available: no nodes registered");
  char *s = xasprintf("0/%zu nodes are available:", why->nodes);
  const char *sep = " ";
  for (int i = 0; i < SCHED_REASON_COUNT; i++)
    if (why->count[i])
      {
        char *t = xasprintf("%s%s%zu %s", s, sep, why->count[i], reason_names[i]);
        free(s);
        s = t;
        sep = ", ";
      }
  return s;
}
