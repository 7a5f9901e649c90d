/* view.c - the in-memory view of the store (see view.h): loaded once at start, then kept
 * equal to the store by the committed changes it is fed.  Owns the indexes (replicas by
 * name and by service, nodes by name and in name order, shared templates) and the totals
 * kept per node and per state. */
#include <string.h>
#include <time.h>
#include "reconcile.h"
#include "view.h"

static const struct
{
  const char *prefix;
  char kind;
} kinds[] = {{"/services/", VIEW_SERVICE},
             {"/replicas/", VIEW_REPLICA},
             {"/nodes/", VIEW_NODE},
             {"/events/", VIEW_EVENT}};

char view_key_kind(const char *key, const char **name)
{
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (strncmp(key, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
      {
        *name = key + strlen(kinds[i].prefix);
        return kinds[i].kind;
      }
  return 0;
}

const char *view_kind_prefix(char kind)
{
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (kinds[i].kind == kind)
      return kinds[i].prefix;
  return "/";
}

void view_init(struct view *v)
{
  memset(v, 0, sizeof(*v));
  v->services = json_object();
  v->events = json_object();
}

static void node_free(struct view_node *n)
{
  for (size_t i = 0; i < n->nports; i++)
    free(n->ports[i].owner);
  free(n->ports);
  json_decref(n->obj);
  free(n->name);
  free(n);
}

void view_free(struct view *v)
{
  size_t pos = 0;
  void *val;
  while (strmap_next(&v->replicas, &pos, NULL, &val))
    view_replica_free(val);
  pos = 0;
  while (strmap_next(&v->groups, &pos, NULL, &val))
    {
      struct view_group *g = val;
      free(g->items);
      free(g->service);
      free(g);
    }
  for (size_t i = 0; i < v->nnodes; i++)
    node_free(v->node_list[i]);
  free(v->node_list);
  strmap_free(&v->replicas);
  strmap_free(&v->groups);
  strmap_free(&v->nodes);
  strmap_free(&v->specs); /* empty once every replica let go of its template */
  json_decref(v->services);
  json_decref(v->events);
  memset(v, 0, sizeof(*v));
}

/* ---- per-node totals ---- */

static void port_add(struct view_node *n, int port, const char *owner, int delta)
{
  for (size_t i = 0; i < n->nports; i++)
    if (n->ports[i].port == port && strcmp(n->ports[i].owner, owner) == 0)
      {
        n->ports[i].count += delta;
        if (n->ports[i].count <= 0)
          {
            free(n->ports[i].owner);
            n->ports[i] = n->ports[--n->nports];
          }
        return;
      }
  if (delta <= 0)
    return;
  n->ports = xrealloc(n->ports, (n->nports + 1) * sizeof(*n->ports));
  n->ports[n->nports++] = (struct view_port){port, xstrdup(owner), delta};
}

static void charge(struct view_node *n, const struct view_replica *r, int sign)
{
  n->cpu_used += sign * r->spec->cpu;
  n->mem_used += sign * r->spec->mem;
  n->nholding += sign;
  for (size_t i = 0; i < r->spec->nnode_ports; i++)
    port_add(n, r->spec->node_ports[i], r->service, sign);
}

/* Count (or uncount) a replica of the view on its node. */
static void account(struct view *v, struct view_replica *r, int sign)
{
  bool holding = *r->node && view_holds_resources(r->state);
  if (sign > 0)
    {
      v->by_state[r->state]++;
      if (holding && (r->holds = view_node(v, r->node)))
        charge(r->holds, r, +1);
      else if (holding)
        v->unattached++; /* its node is not (or no longer) known */
    }
  else
    {
      v->by_state[r->state]--;
      if (r->holds)
        charge(r->holds, r, -1);
      else if (holding)
        v->unattached--;
      r->holds = NULL;
    }
}

/* ---- groups ---- */

static void group_add(struct view *v, struct view_replica *r)
{
  struct view_group *g = view_group(v, r->service);
  if (g == NULL)
    {
      g = xzalloc(sizeof(*g));
      g->service = xstrdup(r->service);
      strmap_put(&v->groups, g->service, g);
    }
  if (g->n == g->cap)
    {
      g->cap = g->cap ? g->cap * 2 : 16;
      g->items = xrealloc(g->items, g->cap * sizeof(*g->items));
    }
  r->group = g;
  r->group_pos = g->n;
  g->items[g->n++] = r;
}

static void group_remove(struct view *v, struct view_replica *r)
{
  struct view_group *g = r->group;
  g->items[r->group_pos] = g->items[--g->n];
  g->items[r->group_pos]->group_pos = r->group_pos;
  r->group = NULL;
  if (g->n == 0)
    {
      strmap_del(&v->groups, g->service);
      free(g->items);
      free(g->service);
      free(g);
    }
}

/* ---- replicas ---- */

void view_put_replica(struct view *v, struct view_replica *r, int64_t rev, int64_t create_rev)
{
  r->rev = rev;
  r->create_rev = create_rev;
  if (rev > v->rev)
    v->rev = rev;
  struct view_replica *cur = view_replica(v, r->name);
  if (cur == NULL)
    {
      r->group = NULL;
      r->holds = NULL;
      r->mark = 0;
      strmap_put(&v->replicas, r->name, r);
      group_add(v, r);
      account(v, r, +1);
      return;
    }
  /* Keep the struct the indexes point to; take the new contents. */
  account(v, cur, -1);
  bool regroup = strcmp(cur->service, r->service) != 0;
  if (regroup)
    group_remove(v, cur);
  struct view_group *g = cur->group;
  size_t pos = cur->group_pos;
  uint64_t mark = cur->mark;
  struct view_replica old = *cur;
  *cur = *r;
  cur->name = old.name; /* the map's key */
  free(r->name);
  free(r);
  old.name = NULL;
  free(old.service);
  free(old.node);
  free(old.address);
  free(old.reason);
  view_spec_unref(old.spec);
  json_decref(old.extra);
  cur->mark = mark;
  cur->holds = NULL;
  if (regroup)
    group_add(v, cur);
  else
    {
      cur->group = g;
      cur->group_pos = pos;
    }
  account(v, cur, +1);
}

static void replica_delete(struct view *v, const char *name)
{
  struct view_replica *r = view_replica(v, name);
  if (r == NULL)
    return;
  account(v, r, -1);
  group_remove(v, r);
  strmap_del(&v->replicas, r->name);
  view_replica_free(r);
}

/* ---- nodes ---- */

static void node_parse(struct view_node *n)
{
  json_t *cap = json_object_get(n->obj, "capacity");
  n->ready = strcmp(model_str(n->obj, "status", ""), "Ready") == 0;
  n->cordoned = model_bool(n->obj, "cordoned", false);
  n->cpu_cap = model_cpu_milli(json_object_get(cap, "cpu"));
  n->mem_cap = model_memory_bytes(json_object_get(cap, "memory"));
}

static void node_put(struct view *v, const char *name, json_t *obj)
{
  struct view_node *n = view_node(v, name);
  if (n)
    {
      json_decref(n->obj);
      n->obj = obj;
      node_parse(n);
      return;
    }
  n = xzalloc(sizeof(*n));
  n->name = xstrdup(name);
  n->obj = obj;
  node_parse(n);
  strmap_put(&v->nodes, n->name, n);
  if (v->nnodes == v->node_cap)
    {
      v->node_cap = v->node_cap ? v->node_cap * 2 : 64;
      v->node_list = xrealloc(v->node_list, v->node_cap * sizeof(*v->node_list));
    }
  /* keep name order: binary search for the place, shift the rest */
  size_t lo = 0, hi = v->nnodes;
  while (lo < hi)
    {
      size_t mid = (lo + hi) / 2;
      if (strcmp(v->node_list[mid]->name, n->name) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  memmove(&v->node_list[lo + 1], &v->node_list[lo], (v->nnodes - lo) * sizeof(*v->node_list));
  v->node_list[lo] = n;
  v->nnodes++;
  /* Replicas bound to this name before it existed (it was deleted and came back) count now. */
  size_t pos = 0;
  void *val;
  while (v->unattached > 0 && strmap_next(&v->replicas, &pos, NULL, &val))
    {
      struct view_replica *r = val;
      if (r->holds == NULL && view_holds_resources(r->state) && strcmp(r->node, name) == 0)
        {
          charge(r->holds = n, r, +1);
          v->unattached--;
        }
    }
}

static void node_delete(struct view *v, const char *name)
{
  struct view_node *n = strmap_del(&v->nodes, name);
  if (n == NULL)
    return;
  size_t pos = 0;
  void *val;
  while (n->nholding > 0 && strmap_next(&v->replicas, &pos, NULL, &val))
    if (((struct view_replica *)val)->holds == n)
      {
        ((struct view_replica *)val)->holds = NULL;
        n->nholding--;
        v->unattached++;
      }
  for (size_t i = 0; i < v->nnodes; i++)
    if (v->node_list[i] == n)
      {
        memmove(&v->node_list[i], &v->node_list[i + 1],
                (v->nnodes - i - 1) * sizeof(*v->node_list));
        v->nnodes--;
        break;
      }
  node_free(n);
}

bool view_node_ready(struct view *v, const char *name)
{
  struct view_node *n = view_node(v, name);
  return n && n->ready;
}

void view_heartbeat(struct view *v, const char *node, double now)
{
  struct view_node *n = view_node(v, node);
  if (n)
    n->heartbeat = now;
}

json_t *view_node_render(struct view_node *n, double now)
{
  json_t *out = json_deep_copy(n->obj);
  int64_t cpu = n->cpu_used, mem = n->mem_used;
  cleanup_free char *ms = model_format_memory(mem);
  cleanup_free char *fs = model_format_memory(n->mem_cap > mem ? n->mem_cap - mem : 0);
  json_object_set_new(out, "allocated",
                      json_pack("{s:f,s:s,s:I}", "cpu", (double)cpu / 1000.0, "memory", ms,
                                "replicas", (json_int_t)n->nholding));
  json_object_set_new(out, "allocatable",
                      json_pack("{s:f,s:s}", "cpu",
                                (double)(n->cpu_cap > cpu ? n->cpu_cap - cpu : 0) / 1000.0,
                                "memory", fs));
  if (n->heartbeat > 0)
    {
      time_t wall = time(NULL) - (time_t)(now - n->heartbeat);
      cleanup_free char *ts = model_time_string(wall);
      json_object_set_new(out, "lastHeartbeat", json_string(ts));
    }
  else
    json_object_set_new(out, "lastHeartbeat", json_null());
  return out;
}

/* ---- services ---- */

size_t view_service_replicas(struct view *v, const char *service, struct rc_replica **out)
{
  struct view_group *g = view_group(v, service);
  size_t n = g ? g->n : 0;
  struct rc_replica *rr = xmalloc((n ? n : 1) * sizeof(*rr));
  for (size_t i = 0; i < n; i++)
    {
      struct view_replica *r = g->items[i];
      rr[i] = (struct rc_replica){.name = r->name,
                                  .node = r->node,
                                  .generation = r->generation,
                                  .state = r->state,
                                  .ready = r->ready,
                                  .node_ready = r->holds ? r->holds->ready
                                                         : *r->node && view_node_ready(v, r->node),
                                  .created = r->create_rev};
    }
  *out = rr;
  return n;
}

char *view_rollout_culprit(struct view *v, const char *service, int64_t generation)
{
  struct view_group *g = view_group(v, service);
  for (size_t i = 0; g && i < g->n; i++)
    {
      struct view_replica *r = g->items[i];
      if (r->generation == generation && !r->ready && model_replica_state_live(r->state))
        return xasprintf("; %s: %s%s%s", r->name, model_replica_state_name(r->state),
                         *r->reason ? ", " : "", r->reason);
    }
  return NULL;
}

void view_service_counts(struct view *v, json_t *svc, struct rc_counts *c)
{
  struct rc_replica *rr = NULL;
  size_t n = view_service_replicas(v, model_str(svc, "name", ""), &rr);
  struct rc_service s = {.desired = (int)model_int(svc, "replicas", 1),
                         .generation = model_int(svc, "generation", 1)};
  rc_count(&s, rr, n, c);
  free(rr);
}

/* ---- every kind ---- */

void view_put_json(struct view *v, char kind, const char *name, json_t *obj, int64_t rev)
{
  json_object_set_new(obj, "revision", json_integer(rev));
  if (rev > v->rev)
    v->rev = rev;
  if (kind == VIEW_NODE)
    node_put(v, name, obj);
  else if (kind == VIEW_SERVICE)
    json_object_set_new(v->services, name, obj);
  else
    {
      if (model_int(obj, "seq", 0) > v->event_seq)
        v->event_seq = model_int(obj, "seq", 0);
      json_object_set_new(v->events, name, obj);
    }
}

bool view_put_text(struct view *v, const struct store_event *ev)
{
  const char *name;
  char kind = view_key_kind(ev->kv.key, &name);
  if (kind == 0 || ev->kv.value == NULL)
    return false;
  if (kind == VIEW_REPLICA)
    {
      struct view_replica *r = view_replica_decode(v, name, ev->kv.value);
      if (r == NULL)
        return false;
      view_put_replica(v, r, ev->rev, ev->kv.create_rev);
      return true;
    }
  json_t *obj = json_loads(ev->kv.value, 0, NULL);
  if (!json_is_object(obj))
    {
      json_decref(obj);
      return false;
    }
  view_put_json(v, kind, name, obj, ev->rev);
  return true;
}

void view_delete(struct view *v, char kind, const char *name, int64_t rev)
{
  if (rev > v->rev)
    v->rev = rev;
  switch (kind)
    {
      case VIEW_REPLICA:
        replica_delete(v, name);
        break;
      case VIEW_NODE:
        node_delete(v, name);
        break;
      case VIEW_SERVICE:
        json_object_del(v->services, name);
        break;
      default:
        json_object_del(v->events, name);
    }
}

int view_load(struct view *v, struct store *s, view_key_fn other, void *data,
              struct skiff_err **err)
{
  /* One range over every key: one snapshot, at the revision after which the store's commit
   * callback takes over (store.h), whatever the backend.  Nodes before replicas, so each
   * replica is counted on its node as it arrives. */
  static const char *const order[] = {"/nodes/", "/services/", "/replicas/", "/events/"};
  struct store_kv *kvs = NULL;
  size_t n = 0;
  if (store_range(s, "/", &kvs, &n, NULL, err) < 0)
    return -1;
  for (size_t k = 0; k < 4; k++)
    for (size_t i = 0; i < n; i++)
      if (strncmp(kvs[i].key, order[k], strlen(order[k])) == 0)
        {
          struct store_event ev = {.type = STORE_PUT, .rev = kvs[i].mod_rev, .kv = kvs[i]};
          view_put_text(v, &ev);
        }
  const char *name;
  for (size_t i = 0; i < n && other; i++)
    if (view_key_kind(kvs[i].key, &name) == 0)
      {
        struct store_event ev = {.type = STORE_PUT, .rev = kvs[i].mod_rev, .kv = kvs[i]};
        other(data, &ev);
      }
  store_kvs_free(kvs, n);
  v->rev = store_revision(s);
  return 0;
}
