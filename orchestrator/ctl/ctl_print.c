/* ctl_print.c - API objects as skiffctl prints them: table columns and rows for services,
 * replicas, nodes and events, `describe` pages and the rollout status line.  Pure: JSON in,
 * new strings out; the field names are those of orchestrator/API.md. */
#include "ctl.h"

#include <string.h>
#include <time.h>

/* ---- field access ----------------------------------------------------------------------- */

static const char *str(json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

static long long num(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  if (json_is_integer(v))
    return json_integer_value(v);
  if (json_is_real(v))
    return (long long)json_real_value(v);
  return 0;
}

/* cpu-like numbers: "0.25", "4"; memory-like: strings as the server gives them. */
static char *quantity(json_t *v)
{
  if (json_is_string(v))
    return xstrdup(json_string_value(v));
  if (json_is_integer(v))
    return xasprintf("%lld", (long long)json_integer_value(v));
  if (json_is_real(v))
    return xasprintf("%g", json_real_value(v));
  return xstrdup("0");
}

long long ctl_parse_time(const char *s)
{
  struct tm tm;
  const char *end;

  if (s == NULL || *s == '\0')
    return -1;
  memset(&tm, 0, sizeof(tm));
  end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == NULL)
    return -1;
  if (*end == '.')
    while (*++end >= '0' && *end <= '9')
      ;
  if (strcmp(end, "Z") != 0)
    return -1;
  return (long long)timegm(&tm);
}

static void age_of(json_t *o, const char *key, long long now, char *buf, size_t len)
{
  long long t = ctl_parse_time(str(o, key));
  if (t < 0)
    snprintf(buf, len, "<unknown>");
  else
    ctl_format_age(now - t, buf, len);
}

/* "k=v,k2=v2" of a JSON object of strings, "<none>" when empty. */
static char *pairs(json_t *obj, const char *sep)
{
  const char *k;
  json_t *v;
  char *out = xstrdup("");

  json_object_foreach(obj, k, v)
  {
    char *val = quantity(v);
    char *n = xasprintf("%s%s%s=%s", out, *out ? sep : "", k, val);
    free(val);
    free(out);
    out = n;
  }
  if (*out == '\0')
    {
      free(out);
      out = xstrdup("<none>");
    }
  return out;
}

static char *join_strings(json_t *arr)
{
  size_t i;
  json_t *v;
  char *out = xstrdup("");
  json_array_foreach(arr, i, v)
  {
    char *n
        = xasprintf("%s%s%s", out, i ? " " : "", json_string_value(v) ? json_string_value(v) : "");
    free(out);
    out = n;
  }
  return out;
}

static char *ports_text(json_t *ports)
{
  size_t i;
  json_t *p;
  char *out = xstrdup("");
  json_array_foreach(ports, i, p)
  {
    char *n;
    if (num(p, "nodePort") > 0)
      n = xasprintf("%s%s%lld:%lld", out, i ? "," : "", num(p, "container"), num(p, "nodePort"));
    else
      n = xasprintf("%s%s%lld", out, i ? "," : "", num(p, "container"));
    free(out);
    out = n;
  }
  if (*out == '\0')
    {
      free(out);
      out = xstrdup("<none>");
    }
  return out;
}

/* ---- tables ----------------------------------------------------------------------------- */

struct columns
{
  const char *resource;
  size_t n, nwide;
  const char *names[12];
};

static const struct columns column_sets[] = {
    {"services",
     6,
     9,
     {"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "GENERATION", "AGE", "IMAGE", "PORTS",
      "ROLLOUT"}},
    {"replicas",
     6,
     11,
     {"NAME", "READY", "STATE", "RESTARTS", "NODE", "AGE", "SERVICE", "GENERATION", "ADDRESS",
      "EXIT", "REASON"}},
    {"nodes",
     6,
     10,
     {"NAME", "STATUS", "REPLICAS", "CPU", "MEMORY", "AGE", "ADDRESS", "CPU-ALLOCATED",
      "MEMORY-ALLOCATED", "LABELS"}},
    {"events", 5, 6, {"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE", "REVISION"}},
    {"servers", 5, 5, {"NAME", "LEADER", "URL", "NODES", "AGE"}},
};

static const struct columns *columns_for(const char *resource)
{
  size_t i;
  for (i = 0; i < sizeof(column_sets) / sizeof(column_sets[0]); i++)
    if (strcmp(column_sets[i].resource, resource) == 0)
      return &column_sets[i];
  return &column_sets[0];
}

struct ctl_table *ctl_table_for(const char *resource, int wide)
{
  const struct columns *c = columns_for(resource);
  return ctl_table_new(wide ? c->nwide : c->n, c->names);
}

static void service_cells(json_t *s, long long now, char **cells)
{
  json_t *st = json_object_get(s, "status");
  char age[32];
  age_of(s, "created", now, age, sizeof age);
  cells[0] = xstrdup(str(s, "name"));
  cells[1] = xasprintf("%lld/%lld", num(st, "ready"), num(s, "replicas"));
  cells[2] = xasprintf("%lld", num(st, "updated"));
  cells[3] = xasprintf("%lld", num(st, "available"));
  cells[4] = xasprintf("%lld", num(s, "generation"));
  cells[5] = xstrdup(age);
  cells[6] = xstrdup(str(s, "image"));
  cells[7] = ports_text(json_object_get(s, "ports"));
  cells[8] = xstrdup(str(json_object_get(st, "rollout"), "state"));
}

static void replica_cells(json_t *r, long long now, char **cells)
{
  json_t *exit = json_object_get(r, "lastExitCode");
  char age[32];
  age_of(r, "created", now, age, sizeof age);
  cells[0] = xstrdup(str(r, "name"));
  cells[1] = xstrdup(json_is_true(json_object_get(r, "ready")) ? "1/1" : "0/1");
  cells[2] = xstrdup(str(r, "state"));
  cells[3] = xasprintf("%lld", num(r, "restarts"));
  cells[4] = xstrdup(*str(r, "node") ? str(r, "node") : "<none>");
  cells[5] = xstrdup(age);
  cells[6] = xstrdup(str(r, "service"));
  cells[7] = xasprintf("%lld", num(r, "generation"));
  cells[8] = xstrdup(*str(r, "address") ? str(r, "address") : "<none>");
  cells[9] = json_is_integer(exit) ? xasprintf("%lld", (long long)json_integer_value(exit))
                                   : xstrdup("<none>");
  cells[10] = xstrdup(*str(r, "reason") ? str(r, "reason") : "<none>");
}

static void node_cells(json_t *n, long long now, char **cells)
{
  json_t *cap = json_object_get(n, "capacity"), *alloc = json_object_get(n, "allocated");
  cleanup_free char *cpu = quantity(json_object_get(cap, "cpu"));
  cleanup_free char *mem = quantity(json_object_get(cap, "memory"));
  char age[32];
  const char *status = *str(n, "status") ? str(n, "status") : "Unknown";
  age_of(n, "created", now, age, sizeof age);
  cells[0] = xstrdup(str(n, "name"));
  cells[1] = json_is_true(json_object_get(n, "cordoned"))
                 ? xasprintf("%s,SchedulingDisabled", status)
                 : xstrdup(status);
  cells[2] = alloc ? xasprintf("%lld", num(alloc, "replicas")) : xstrdup("<none>");
  cells[3] = xstrdup(cpu);
  cells[4] = xstrdup(mem);
  cells[5] = xstrdup(age);
  cells[6] = xstrdup(*str(n, "address") ? str(n, "address") : "<none>");
  cells[7] = alloc ? quantity(json_object_get(alloc, "cpu")) : xstrdup("<none>");
  cells[8] = alloc ? quantity(json_object_get(alloc, "memory")) : xstrdup("<none>");
  cells[9] = pairs(json_object_get(n, "labels"), ",");
}

static void event_cells(json_t *e, long long now, char **cells)
{
  char age[32];
  const char *kind = str(e, "kind");
  cleanup_free char *lower = xstrdup(*kind ? kind : "object");
  for (char *p = lower; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = *p - 'A' + 'a';
  age_of(e, "time", now, age, sizeof age);
  cells[0] = xstrdup(age);
  cells[1] = xstrdup(str(e, "type"));
  cells[2] = xstrdup(str(e, "reason"));
  cells[3] = xasprintf("%s/%s", lower, str(e, "object"));
  cells[4] = xstrdup(str(e, "message"));
  cells[5] = xasprintf("%lld", num(e, "revision"));
}

/* `get servers`: the API servers sharing one etcd, the leader marked; NODES are the nodes
 * whose heartbeats that server receives. */
static void server_cells(json_t *s, long long now, char **cells)
{
  char age[32];
  age_of(s, "started", now, age, sizeof age);
  cells[0] = json_is_true(json_object_get(s, "self")) ? xasprintf("%s (this)", str(s, "name"))
                                                      : xstrdup(str(s, "name"));
  cells[1] = xstrdup(json_is_true(json_object_get(s, "leader")) ? "yes" : "no");
  cells[2] = xstrdup(str(s, "url"));
  cells[3] = xasprintf("%lld", num(s, "nodes"));
  cells[4] = xstrdup(age);
}

void ctl_table_add_object(struct ctl_table *t, const char *resource, int wide, json_t *obj,
                          long long now)
{
  char *cells[12] = {NULL};
  size_t i;
  (void)wide;
  if (strcmp(resource, "replicas") == 0)
    replica_cells(obj, now, cells);
  else if (strcmp(resource, "nodes") == 0)
    node_cells(obj, now, cells);
  else if (strcmp(resource, "events") == 0)
    event_cells(obj, now, cells);
  else if (strcmp(resource, "servers") == 0)
    server_cells(obj, now, cells);
  else
    service_cells(obj, now, cells);
  ctl_table_add(t, (const char *const *)cells);
  for (i = 0; i < 12; i++)
    free(cells[i]);
}

/* ---- describe --------------------------------------------------------------------------- */

struct text
{
  char *s;
};

static void __attribute__((format(printf, 2, 3))) add(struct text *t, const char *fmt, ...)
{
  va_list ap;
  char *piece = NULL, *n;
  va_start(ap, fmt);
  if (vasprintf(&piece, fmt, ap) < 0)
    abort();
  va_end(ap);
  n = xasprintf("%s%s", t->s ? t->s : "", piece);
  free(piece);
  free(t->s);
  t->s = n;
}

/* A nested table, indented by two spaces. */
static void add_table(struct text *t, struct ctl_table *tab)
{
  cleanup_free char *body = ctl_table_format(tab, 0);
  char *save = NULL, *line;
  if (tab->nrows <= 1)
    {
      add(t, "  <none>\n");
      return;
    }
  for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    add(t, "  %s\n", line);
}

static char *probe_text(json_t *p)
{
  json_t *h = json_object_get(p, "http"), *c = json_object_get(p, "tcp"),
         *e = json_object_get(p, "exec");
  cleanup_free char *what = NULL;
  if (h)
    what = xasprintf("http :%lld%s", num(h, "port"), str(h, "path"));
  else if (c)
    what = xasprintf("tcp :%lld", num(c, "port"));
  else if (e)
    {
      cleanup_free char *cmd = join_strings(json_object_get(e, "command"));
      what = xasprintf("exec [%s]", cmd);
    }
  else
    return NULL;
  return xasprintf("%s every %llds, timeout %llds, %lld failures", what, num(p, "period"),
                   num(p, "timeout"), num(p, "failureThreshold"));
}

/* Events about NAME or about replicas named NAME-<generation>-...  */
static int event_matches(json_t *e, const char *name, json_t *replica_names)
{
  const char *obj = str(e, "object");
  size_t n = strlen(name);
  if (strcmp(obj, name) == 0)
    return 1;
  if (replica_names)
    return json_object_get(replica_names, obj) != NULL;
  return strncmp(obj, name, n) == 0 && obj[n] == '-' && obj[n + 1] >= '0' && obj[n + 1] <= '9';
}

static void add_events(struct text *t, json_t *events, const char *name, json_t *replica_names,
                       long long now)
{
  struct ctl_table *tab = ctl_table_for("events", 0);
  json_t *items = json_object_get(events, "items"), *e;
  size_t i, total = json_array_size(items), shown = 0, first;
  cleanup_free size_t *idx = xzalloc((total + 1) * sizeof(size_t));

  json_array_foreach(items, i, e)
  {
    if (event_matches(e, name, replica_names))
      idx[shown++] = i;
  }
  /* the newest 20 */
  first = shown > 20 ? shown - 20 : 0;
  for (i = first; i < shown; i++)
    ctl_table_add_object(tab, "events", 0, json_array_get(items, idx[i]), now);
  add(t, "Events:\n");
  add_table(t, tab);
  ctl_table_free(tab);
}

char *ctl_describe_service(json_t *s, json_t *replicas, json_t *events, long long now)
{
  struct text t = {NULL};
  json_t *st = json_object_get(s, "status"), *ro = json_object_get(st, "rollout");
  json_t *res = json_object_get(s, "resources"), *up = json_object_get(s, "update");
  json_t *pl = json_object_get(s, "placement"), *health = json_object_get(s, "health");
  json_t *items = json_object_get(replicas, "items"), *r;
  cleanup_free char *cmd = join_strings(json_object_get(s, "command"));
  cleanup_free char *env = pairs(json_object_get(s, "env"), " ");
  cleanup_free char *cpu = quantity(json_object_get(res, "cpu"));
  cleanup_free char *mem = quantity(json_object_get(res, "memory"));
  cleanup_free char *ports = ports_text(json_object_get(s, "ports"));
  cleanup_free char *sel = pairs(json_object_get(pl, "selector"), ",");
  cleanup_free char *live = probe_text(json_object_get(health, "liveness"));
  cleanup_free char *ready = probe_text(json_object_get(health, "readiness"));
  struct ctl_table *tab = ctl_table_for("replicas", 1);
  size_t i;

  add(&t, "Name:          %s\n", str(s, "name"));
  add(&t, "Image:         %s\n", str(s, "image"));
  add(&t, "Command:       %s\n", *cmd ? cmd : "<image default>");
  add(&t, "Env:           %s\n", env);
  add(&t, "Resources:     cpu %s, memory %s\n", cpu, mem);
  add(&t, "Ports:         %s\n", ports);
  add(&t, "Liveness:      %s\n", live ? live : "<none>");
  add(&t, "Readiness:     %s\n", ready ? ready : "<none>");
  add(&t, "Restart:       %s\n", str(s, "restart"));
  add(&t, "Update:        maxSurge %lld, maxUnavailable %lld, progressDeadline %llds\n",
      num(up, "maxSurge"), num(up, "maxUnavailable"), num(up, "progressDeadline"));
  add(&t, "Placement:     %s, selector %s, maxPerNode %lld\n",
      json_is_false(json_object_get(pl, "spread")) ? "no spread" : "spread", sel,
      num(pl, "maxPerNode"));
  add(&t, "Replicas:      %lld desired | %lld updated | %lld ready | %lld available\n",
      num(s, "replicas"), num(st, "updated"), num(st, "ready"), num(st, "available"));
  add(&t, "Generation:    %lld\n", num(s, "generation"));
  add(&t, "Rollout:       %s%s%s%s\n", *str(ro, "state") ? str(ro, "state") : "<none>",
      *str(ro, "message") ? " (" : "", str(ro, "message"), *str(ro, "message") ? ")" : "");
  add(&t, "Created:       %s\n", str(s, "created"));
  add(&t, "Revision:      %lld\n", num(s, "revision"));

  json_array_foreach(items, i, r) ctl_table_add_object(tab, "replicas", 1, r, now);
  add(&t, "Replica list:\n");
  add_table(&t, tab);
  ctl_table_free(tab);
  /* replica names we do not list any more (replaced ones) still match by prefix */
  add_events(&t, events, str(s, "name"), NULL, now);
  return t.s;
}

char *ctl_describe_node(json_t *n, json_t *replicas, json_t *events, long long now)
{
  struct text t = {NULL};
  json_t *cap = json_object_get(n, "capacity"), *al = json_object_get(n, "allocated");
  json_t *able = json_object_get(n, "allocatable");
  json_t *items = json_object_get(replicas, "items"), *r, *names = json_object();
  cleanup_free char *labels = pairs(json_object_get(n, "labels"), ",");
  cleanup_free char *ccpu = quantity(json_object_get(cap, "cpu"));
  cleanup_free char *cmem = quantity(json_object_get(cap, "memory"));
  cleanup_free char *acpu = quantity(json_object_get(al, "cpu"));
  cleanup_free char *amem = quantity(json_object_get(al, "memory"));
  cleanup_free char *fcpu = quantity(json_object_get(able, "cpu"));
  cleanup_free char *fmem = quantity(json_object_get(able, "memory"));
  struct ctl_table *tab = ctl_table_for("replicas", 0);
  size_t i;

  add(&t, "Name:            %s\n", str(n, "name"));
  add(&t, "Status:          %s\n", *str(n, "status") ? str(n, "status") : "Unknown");
  add(&t, "Cordoned:        %s\n", json_is_true(json_object_get(n, "cordoned")) ? "yes" : "no");
  add(&t, "Address:         %s\n", str(n, "address"));
  add(&t, "Agent port:      %lld\n", num(n, "agentPort"));
  add(&t, "Labels:          %s\n", labels);
  add(&t, "Capacity:        cpu %s, memory %s\n", ccpu, cmem);
  add(&t, "Allocated:       cpu %s, memory %s, %lld replicas\n", acpu, amem, num(al, "replicas"));
  add(&t, "Allocatable:     cpu %s, memory %s\n", fcpu, fmem);
  add(&t, "Last heartbeat:  %s\n", *str(n, "lastHeartbeat") ? str(n, "lastHeartbeat") : "<never>");
  add(&t, "Created:         %s\n", str(n, "created"));
  json_array_foreach(items, i, r)
  {
    ctl_table_add_object(tab, "replicas", 0, r, now);
    json_object_set_new(names, str(r, "name"), json_true());
  }
  add(&t, "Replica list:\n");
  add_table(&t, tab);
  ctl_table_free(tab);
  add_events(&t, events, str(n, "name"), names, now);
  json_decref(names);
  return t.s;
}

char *ctl_rollout_line(json_t *ro)
{
  return xasprintf("service %s: generation %lld %s%s%s (desired %lld, updated %lld, ready %lld, "
                   "available %lld)",
                   str(ro, "service"), num(ro, "generation"),
                   *str(ro, "state") ? str(ro, "state") : "Unknown",
                   *str(ro, "message") ? ": " : "", str(ro, "message"), num(ro, "desired"),
                   num(ro, "updated"), num(ro, "ready"), num(ro, "available"));
}
