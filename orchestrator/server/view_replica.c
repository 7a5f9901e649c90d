/* view_replica.c - the Replica as a C struct (see view.h): creation, copies, the stored JSON
 * text written by hand (jtext.c), parsing stored text back, and the shared templates. */
#include <string.h>
#include "jtext.h"
#include "view.h"

static const char *const modeled[]
    = {"name",    "service",      "generation", "node",    "state", "ready",    "restarts",
       "address", "lastExitCode", "reason",     "created", "spec",  "revision", "createdRevision",
       NULL};

bool view_holds_resources(enum replica_state st)
{
  return st == REPLICA_SCHEDULED || st == REPLICA_STARTING || st == REPLICA_RUNNING
         || st == REPLICA_BACKOFF || st == REPLICA_TERMINATING;
}

/* ---- templates ---- */

struct spec_entry
{
  struct view_spec spec;
  struct strmap *owner;
};

struct view_spec *view_spec_ref(struct view_spec *s)
{
  if (s)
    s->refs++;
  return s;
}

void view_spec_unref(struct view_spec *s)
{
  if (s == NULL || --s->refs > 0)
    return;
  struct spec_entry *e = (struct spec_entry *)s;
  strmap_del(e->owner, s->text);
  free(s->text);
  free(s->node_ports);
  free(e);
}

static struct view_spec *spec_by_text(struct view *v, char *text, json_t *tpl)
{
  struct spec_entry *e = strmap_get(&v->specs, text);
  if (e)
    {
      free(text);
      return view_spec_ref(&e->spec);
    }
  e = xzalloc(sizeof(*e));
  e->owner = &v->specs;
  struct view_spec *s = &e->spec;
  s->text = text;
  s->len = strlen(text);
  s->refs = 1;
  json_t *res = json_object_get(tpl, "resources");
  s->cpu = model_cpu_milli(json_object_get(res, "cpu"));
  s->mem = model_memory_bytes(json_object_get(res, "memory"));
  json_t *ports = json_object_get(tpl, "ports");
  s->node_ports = xmalloc((json_array_size(ports) + 1) * sizeof(int));
  size_t i;
  json_t *p;
  json_array_foreach(ports, i, p)
  {
    int np = (int)model_int(p, "nodePort", 0);
    if (np > 0)
      s->node_ports[s->nnode_ports++] = np;
  }
  strmap_put(&v->specs, s->text, e);
  return s;
}

struct view_spec *view_spec_get(struct view *v, json_t *tpl)
{
  if (!json_is_object(tpl))
    return spec_by_text(v, xstrdup("{}"), NULL);
  return spec_by_text(v, json_dumps(tpl, JSON_COMPACT | JSON_REAL_PRECISION(9)), tpl);
}

/* ---- the struct ---- */

void view_replica_set(char **field, const char *value)
{
  if (*field && strcmp(*field, value) == 0)
    return;
  free(*field);
  *field = xstrdup(value);
}

struct view_replica *view_replica_new(const char *name, const char *service, int64_t generation,
                                      struct view_spec *spec)
{
  struct view_replica *r = xzalloc(sizeof(*r));
  r->name = xstrdup(name);
  r->service = xstrdup(service);
  r->generation = generation;
  r->node = xstrdup("");
  r->state = REPLICA_PENDING;
  r->address = xstrdup("");
  r->reason = xstrdup("");
  r->spec = view_spec_ref(spec);
  return r;
}

struct view_replica *view_replica_clone(const struct view_replica *r)
{
  struct view_replica *c = xmalloc(sizeof(*c));
  *c = *r;
  c->name = xstrdup(r->name);
  c->service = xstrdup(r->service);
  c->node = xstrdup(r->node);
  c->address = xstrdup(r->address);
  c->reason = xstrdup(r->reason);
  c->spec = view_spec_ref(r->spec);
  c->extra = r->extra ? json_deep_copy(r->extra) : NULL;
  c->group = NULL;
  c->group_pos = 0;
  c->holds = NULL;
  return c;
}

void view_replica_free(struct view_replica *r)
{
  if (r == NULL)
    return;
  free(r->name);
  free(r->service);
  free(r->node);
  free(r->address);
  free(r->reason);
  view_spec_unref(r->spec);
  json_decref(r->extra);
  free(r);
}

bool view_replica_same(const struct view_replica *a, const struct view_replica *b)
{
  return strcmp(a->name, b->name) == 0 && strcmp(a->service, b->service) == 0
         && a->generation == b->generation && strcmp(a->node, b->node) == 0 && a->state == b->state
         && a->ready == b->ready && a->has_exit == b->has_exit
         && (!a->has_exit || a->exit_code == b->exit_code) && a->restarts == b->restarts
         && strcmp(a->address, b->address) == 0 && strcmp(a->reason, b->reason) == 0
         && strcmp(a->created, b->created) == 0 && a->spec == b->spec
         && (a->extra == b->extra || json_equal(a->extra, b->extra));
}

/* ---- JSON text ---- */

static void field(struct jtext *t, const char *key)
{
  jtext_str(t, ",\"");
  jtext_str(t, key);
  jtext_str(t, "\":");
}

const char *view_replica_text(const struct view_replica *r, bool with_revs, size_t *len)
{
  /* One buffer reused for every replica: encoding 10,000 new replicas must not touch 10 MB
   * of fresh memory. */
  static _Thread_local struct jtext scratch;
  struct jtext t = scratch;
  t.len = 0;
  jtext_str(&t, "{");
  if (with_revs)
    {
      jtext_str(&t, "\"revision\":");
      jtext_int(&t, r->rev);
      jtext_str(&t, ",\"createdRevision\":");
      jtext_int(&t, r->create_rev);
      jtext_str(&t, ",");
    }
  jtext_str(&t, "\"name\":");
  jtext_quote(&t, r->name);
  field(&t, "service");
  jtext_quote(&t, r->service);
  field(&t, "generation");
  jtext_int(&t, r->generation);
  field(&t, "node");
  jtext_quote(&t, r->node);
  field(&t, "state");
  jtext_quote(&t, model_replica_state_name(r->state));
  field(&t, "ready");
  jtext_str(&t, r->ready ? "true" : "false");
  field(&t, "restarts");
  jtext_int(&t, r->restarts);
  field(&t, "address");
  jtext_quote(&t, r->address);
  field(&t, "lastExitCode");
  if (r->has_exit)
    jtext_int(&t, r->exit_code);
  else
    jtext_str(&t, "null");
  field(&t, "reason");
  jtext_quote(&t, r->reason);
  field(&t, "created");
  jtext_quote(&t, r->created);
  field(&t, "spec");
  if (r->spec)
    jtext_raw(&t, r->spec->text, r->spec->len);
  else
    jtext_str(&t, "{}");
  const char *key;
  json_t *val;
  json_object_foreach(r->extra, key, val)
  {
    char *s = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
    jtext_str(&t, ",");
    jtext_quote(&t, key);
    jtext_str(&t, ":");
    jtext_str(&t, s ? s : "null");
    free(s);
  }
  jtext_str(&t, "}");
  scratch = t;
  if (len)
    *len = t.len;
  return t.s;
}

char *view_replica_encode(const struct view_replica *r, bool with_revs, size_t *len)
{
  size_t n;
  const char *s = view_replica_text(r, with_revs, &n);
  char *out = xmalloc(n + 1);
  memcpy(out, s, n + 1);
  if (len)
    *len = n;
  return out;
}

json_t *view_replica_json(const struct view_replica *r)
{
  cleanup_free char *s = view_replica_encode(r, true, NULL);
  return json_loads(s, 0, NULL);
}

static bool is_modeled(const char *key)
{
  for (size_t i = 0; modeled[i]; i++)
    if (strcmp(modeled[i], key) == 0)
      return true;
  return false;
}

struct view_replica *view_replica_decode(struct view *v, const char *name, const char *text)
{
  json_t *o = json_loads(text, 0, NULL);
  if (!json_is_object(o))
    {
      json_decref(o);
      return NULL;
    }
  json_t *spec = json_object_get(o, "spec");
  struct view_spec *s = view_spec_get(v, spec);
  struct view_replica *r
      = view_replica_new(name, model_str(o, "service", ""), model_int(o, "generation", 0), s);
  view_spec_unref(s);
  view_replica_set(&r->node, model_str(o, "node", ""));
  int st = model_replica_state_parse(model_str(o, "state", ""));
  r->state = st < 0 ? REPLICA_PENDING : (enum replica_state)st;
  r->ready = model_bool(o, "ready", false);
  r->restarts = (int)model_int(o, "restarts", 0);
  view_replica_set(&r->address, model_str(o, "address", ""));
  json_t *code = json_object_get(o, "lastExitCode");
  r->has_exit = json_is_integer(code);
  r->exit_code = r->has_exit ? (int)json_integer_value(code) : 0;
  view_replica_set(&r->reason, model_str(o, "reason", ""));
  snprintf(r->created, sizeof(r->created), "%s", model_str(o, "created", ""));
  const char *key;
  json_t *val;
  json_object_foreach(o, key, val)
  {
    if (is_modeled(key))
      continue;
    if (r->extra == NULL)
      r->extra = json_object();
    json_object_set(r->extra, key, val);
  }
  json_decref(o);
  return r;
}
