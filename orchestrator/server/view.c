/* view.c - the in-memory view of the store (see view.h): loaded once at start, then kept
 * equal to the store by the committed events it is fed. */
#include <string.h>
#include <time.h>
#include "model.h"
#include "view.h"

static const struct
{
  const char *prefix;
  char kind;
} kinds[] = {{"/services/", VIEW_SERVICE},
             {"/replicas/", VIEW_REPLICA},
             {"/nodes/", VIEW_NODE},
             {"/events/", VIEW_EVENT}};

void view_init(struct view *v)
{
  memset(v, 0, sizeof(*v));
  v->services = json_object();
  v->replicas = json_object();
  v->nodes = json_object();
  v->events = json_object();
  v->heartbeats = json_object();
}

void view_free(struct view *v)
{
  json_decref(v->services);
  json_decref(v->replicas);
  json_decref(v->nodes);
  json_decref(v->events);
  json_decref(v->heartbeats);
  memset(v, 0, sizeof(*v));
}

static json_t *map_of(struct view *v, char kind)
{
  switch (kind)
    {
      case VIEW_SERVICE:
        return v->services;
      case VIEW_REPLICA:
        return v->replicas;
      case VIEW_NODE:
        return v->nodes;
      default:
        return v->events;
    }
}

json_t *view_event_object(const struct store_event *ev, char *kind, const char **name)
{
  json_t *obj = NULL;
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && obj == NULL; i++)
    if (strncmp(ev->kv.key, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
      {
        *kind = kinds[i].kind;
        *name = ev->kv.key + strlen(kinds[i].prefix);
        obj = ev->kv.value ? json_loads(ev->kv.value, 0, NULL) : NULL;
        /* A delete whose previous value is unknown still names the object. */
        if (obj == NULL && ev->type == STORE_DELETE)
          obj = json_pack("{s:s}", "name", *name);
        if (obj == NULL)
          return NULL;
      }
  if (obj == NULL)
    return NULL;
  json_object_set_new(obj, "revision", json_integer(ev->rev));
  if (*kind == VIEW_REPLICA)
    json_object_set_new(obj, "createdRevision", json_integer(ev->kv.create_rev));
  return obj;
}

json_t *view_apply(struct view *v, const struct store_event *ev, char *kind, const char **name)
{
  json_t *obj = view_event_object(ev, kind, name);
  if (obj == NULL)
    return NULL;
  json_t *map = map_of(v, *kind);
  if (ev->type == STORE_PUT)
    json_object_set(map, *name, obj);
  else
    json_object_del(map, *name);
  /* A deleted node's heartbeats go with it (a new node of that name starts afresh). */
  if (*kind == VIEW_NODE && ev->type == STORE_DELETE)
    json_object_del(v->heartbeats, *name);
  if (*kind == VIEW_EVENT && model_int(obj, "seq", 0) > v->event_seq)
    v->event_seq = model_int(obj, "seq", 0);
  return obj;
}

int view_load(struct view *v, struct store *s, view_key_fn other, void *data,
              struct skiff_err **err)
{
  /* One range over every key: one snapshot, at the revision after which the store's commit
   * callback takes over (store.h), whatever the backend. */
  struct store_kv *kvs = NULL;
  size_t n = 0;
  if (store_range(s, "/", &kvs, &n, NULL, err) < 0)
    return -1;
  json_object_clear(v->services);
  json_object_clear(v->replicas);
  json_object_clear(v->nodes);
  json_object_clear(v->events);
  for (size_t i = 0; i < n; i++)
    {
      struct store_event ev = {.type = STORE_PUT, .rev = kvs[i].mod_rev, .kv = kvs[i]};
      char kind;
      const char *name;
      json_t *obj = view_apply(v, &ev, &kind, &name);
      if (obj == NULL && other)
        other(data, &ev);
      json_decref(obj);
    }
  store_kvs_free(kvs, n);
  return 0;
}

bool view_node_ready(struct view *v, const char *name)
{
  json_t *n = json_object_get(v->nodes, name);
  return n && strcmp(model_str(n, "status", ""), "Ready") == 0;
}

json_t *view_node_allocations(struct view *v)
{
  json_t *alloc = json_object();
  const char *name;
  json_t *r;
  json_object_foreach(v->replicas, name, r)
  {
    const char *node = model_str(r, "node", "");
    int st = model_replica_state_parse(model_str(r, "state", ""));
    if (*node == '\0'
        || !(st == REPLICA_SCHEDULED || st == REPLICA_STARTING || st == REPLICA_RUNNING
             || st == REPLICA_BACKOFF || st == REPLICA_TERMINATING))
      continue;
    json_t *a = json_object_get(alloc, node);
    if (a == NULL)
      {
        a = json_pack("{s:I,s:I,s:I}", "cpu", (json_int_t)0, "mem", (json_int_t)0, "replicas",
                      (json_int_t)0);
        json_object_set_new(alloc, node, a);
      }
    json_t *res = json_object_get(json_object_get(r, "spec"), "resources");
    json_object_set_new(
        a, "cpu",
        json_integer(model_int(a, "cpu", 0) + model_cpu_milli(json_object_get(res, "cpu"))));
    json_object_set_new(
        a, "mem",
        json_integer(model_int(a, "mem", 0) + model_memory_bytes(json_object_get(res, "memory"))));
    json_object_set_new(a, "replicas", json_integer(model_int(a, "replicas", 0) + 1));
  }
  return alloc;
}

json_t *view_node_render(struct view *v, json_t *node, json_t *alloc, double now)
{
  json_t *out = json_deep_copy(node);
  const char *name = model_str(node, "name", "");
  json_t *a = json_object_get(alloc, name);
  int64_t cpu = model_int(a, "cpu", 0), mem = model_int(a, "mem", 0);
  json_t *cap = json_object_get(node, "capacity");
  int64_t ccpu = model_cpu_milli(json_object_get(cap, "cpu"));
  int64_t cmem = model_memory_bytes(json_object_get(cap, "memory"));
  cleanup_free char *ms = model_format_memory(mem);
  cleanup_free char *fs = model_format_memory(cmem > mem ? cmem - mem : 0);
  json_object_set_new(out, "allocated",
                      json_pack("{s:f,s:s,s:I}", "cpu", (double)cpu / 1000.0, "memory", ms,
                                "replicas", (json_int_t)model_int(a, "replicas", 0)));
  json_object_set_new(
      out, "allocatable",
      json_pack("{s:f,s:s}", "cpu", (double)(ccpu > cpu ? ccpu - cpu : 0) / 1000.0, "memory", fs));
  json_t *hb = json_object_get(v->heartbeats, name);
  if (hb)
    {
      time_t wall = time(NULL) - (time_t)(now - json_real_value(hb));
      cleanup_free char *ts = model_time_string(wall);
      json_object_set_new(out, "lastHeartbeat", json_string(ts));
    }
  else
    json_object_set_new(out, "lastHeartbeat", json_null());
  return out;
}
