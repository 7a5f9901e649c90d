/* svctable.c - the service proxy's endpoint table and its round robin (see svctable.h). */
#include "svctable.h"

#include <stdlib.h>
#include <string.h>
#include "cidr.h"
#include "model.h"

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_port(const void *a, const void *b)
{
  return ((const struct svc_port *)a)->node_port - ((const struct svc_port *)b)->node_port;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Keys of a name -> object map, sorted: the table does not depend on hash order. */
static const char **sorted_keys(json_t *map, size_t *n)
{
  const char **keys = xzalloc((json_object_size(map) + 1) * sizeof(*keys));
  const char *k;
  json_t *v;
  *n = 0;
  json_object_foreach(map, k, v)
  {
    keys[(*n)++] = k;
  }
  qsort(keys, *n, sizeof(*keys), cmp_str);
  return keys;
}

/* FNV-1a over the replica name, its address and port. */
static uint64_t endpoint_id(const char *replica, uint32_t addr, int port)
{
  uint64_t h = 0xcbf29ce484222325ull;
  const unsigned char *s = (const unsigned char *)replica;
  for (; *s; s++)
    h = (h ^ *s) * 0x100000001b3ull;
  for (int i = 0; i < 4; i++)
    h = (h ^ ((addr >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  h = (h ^ (uint64_t)port) * 0x100000001b3ull;
  return h;
}

struct svc_port *svc_table_port(struct svc_table *t, int node_port)
{
  struct svc_port key = {.node_port = node_port};
  if (t == NULL || t->n_ports == 0)
    return NULL;
  return bsearch(&key, t->ports, t->n_ports, sizeof(key), cmp_port);
}

static void add_ports_of(struct svc_table *t, const char *name, json_t *svc, size_t *cap)
{
  size_t i;
  json_t *pe;
  json_array_foreach(json_object_get(svc, "ports"), i, pe)
  {
    int np = (int)model_int(pe, "nodePort", 0);
    bool taken = false;
    if (np <= 0 || np > 65535)
      continue;
    for (size_t j = 0; j < t->n_ports; j++)
      taken |= t->ports[j].node_port == np; /* one service per nodePort: the first by name */
    if (taken)
      continue;
    if (t->n_ports == *cap)
      t->ports = xrealloc(t->ports, (*cap = *cap * 2 + 4) * sizeof(*t->ports));
    t->ports[t->n_ports++] = (struct svc_port){.node_port = np, .service = xstrdup(name)};
  }
}

static void add_endpoint(struct svc_port *p, const struct svc_endpoint *ep)
{
  p->eps = xrealloc(p->eps, (p->n_eps + 1) * sizeof(*p->eps));
  p->eps[p->n_eps] = *ep;
  p->eps[p->n_eps].replica = xstrdup(ep->replica);
  p->n_eps++;
}

static void add_replica(struct svc_table *t, const char *name, json_t *r, size_t *cap_alive)
{
  const char *state = model_str(r, "state", "");
  bool running = strcmp(state, "Running") == 0;
  uint32_t addr;
  size_t i;
  json_t *pe;

  if (!(running || strcmp(state, "Terminating") == 0)
      || cidr_parse_addr(model_str(r, "address", ""), &addr) < 0 || addr == 0)
    return;
  json_array_foreach(json_object_get(json_object_get(r, "spec"), "ports"), i, pe)
  {
    int np = (int)model_int(pe, "nodePort", 0), cport = (int)model_int(pe, "container", 0);
    if (np <= 0 || cport <= 0 || cport > 65535)
      continue;
    struct svc_endpoint ep = {endpoint_id(name, addr, cport), (char *)name, addr, cport,
                              running && model_bool(r, "ready", false)};
    if (t->n_alive == *cap_alive)
      t->alive = xrealloc(t->alive, (*cap_alive = *cap_alive * 2 + 8) * sizeof(*t->alive));
    t->alive[t->n_alive++] = ep.id;
    struct svc_port *p = svc_table_port(t, np);
    if (p && strcmp(p->service, model_str(r, "service", "")) == 0)
      add_endpoint(p, &ep);
  }
}

struct svc_table *svc_table_build(json_t *services, json_t *replicas)
{
  struct svc_table *t = xzalloc(sizeof(*t));
  size_t n = 0, cap = 0, cap_alive = 0;
  cleanup_free const char **snames = sorted_keys(services, &n);
  for (size_t i = 0; i < n; i++)
    add_ports_of(t, snames[i], json_object_get(services, snames[i]), &cap);
  if (t->n_ports)
    qsort(t->ports, t->n_ports, sizeof(*t->ports), cmp_port);

  cleanup_free const char **rnames = sorted_keys(replicas, &n);
  for (size_t i = 0; i < n; i++)
    add_replica(t, rnames[i], json_object_get(replicas, rnames[i]), &cap_alive);
  if (t->n_alive)
    qsort(t->alive, t->n_alive, sizeof(*t->alive), cmp_u64);

  for (size_t i = 0; i < t->n_ports; i++)
    {
      struct svc_port *p = &t->ports[i];
      p->ready = xzalloc((p->n_eps + 1) * sizeof(*p->ready));
      for (size_t j = 0; j < p->n_eps; j++)
        if (p->eps[j].ready)
          p->ready[p->n_ready++] = j;
    }
  return t;
}

void svc_table_free(struct svc_table *t)
{
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->n_ports; i++)
    {
      for (size_t j = 0; j < t->ports[i].n_eps; j++)
        free(t->ports[i].eps[j].replica);
      free(t->ports[i].eps);
      free(t->ports[i].ready);
      free(t->ports[i].service);
    }
  free(t->ports);
  free(t->alive);
  free(t);
}

const struct svc_endpoint *svc_port_pick(struct svc_port *p)
{
  if (p == NULL || p->n_ready == 0)
    return NULL;
  return &p->eps[p->ready[p->rr++ % p->n_ready]];
}

bool svc_table_alive(const struct svc_table *t, uint64_t id)
{
  return t && t->n_alive && bsearch(&id, t->alive, t->n_alive, sizeof(id), cmp_u64) != NULL;
}

void svc_table_carry_rr(struct svc_table *t, const struct svc_table *old)
{
  for (size_t i = 0; old && i < t->n_ports; i++)
    {
      struct svc_port *o = svc_table_port((struct svc_table *)old, t->ports[i].node_port);
      if (o)
        t->ports[i].rr = o->rr;
    }
}

char *svc_port_describe(const struct svc_port *p)
{
  size_t len = 0, cap = 128 + p->n_eps * 24; /* name <= 40, ip:port <= 22 */
  char *s = xmalloc(cap), a[16];
  len += (size_t)snprintf(s, cap, "%s :%d ->", p->service, p->node_port);
  for (size_t j = 0; j < p->n_ready; j++)
    {
      const struct svc_endpoint *e = &p->eps[p->ready[j]];
      cidr_format_addr(e->addr, a);
      len += (size_t)snprintf(s + len, cap - len, " %s:%d", a, e->port);
    }
  if (p->n_ready == 0)
    len += (size_t)snprintf(s + len, cap - len, " (no ready replica)");
  if (p->n_eps > p->n_ready)
    snprintf(s + len, cap - len, " (+%zu not ready)", p->n_eps - p->n_ready);
  return s;
}

bool svc_port_same(const struct svc_port *p, const struct svc_table *old)
{
  const struct svc_port *o = svc_table_port((struct svc_table *)old, p->node_port);
  if (o == NULL || o->n_eps != p->n_eps || strcmp(o->service, p->service) != 0)
    return false;
  for (size_t j = 0; j < p->n_eps; j++)
    if (o->eps[j].id != p->eps[j].id || o->eps[j].ready != p->eps[j].ready)
      return false;
  return true;
}
