/* model.c - Service / Node / status-report validation and normalization (see model.h).
 * Each field has a checker that either fills the normalized object or returns an error
 * whose message starts with the field's JSON path. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include "model.h"
#include "cidr.h"

static const char *const state_names[REPLICA_STATE_COUNT] = {
    [REPLICA_PENDING] = "Pending",         [REPLICA_SCHEDULED] = "Scheduled",
    [REPLICA_STARTING] = "Starting",       [REPLICA_RUNNING] = "Running",
    [REPLICA_BACKOFF] = "BackOff",         [REPLICA_SUCCEEDED] = "Succeeded",
    [REPLICA_FAILED] = "Failed",           [REPLICA_LOST] = "Lost",
    [REPLICA_TERMINATING] = "Terminating",
};

const char *const model_template_fields[] = {
    "image", "command", "env", "resources", "ports", "health", "restart", "terminationGracePeriod",
    NULL};

const char *model_replica_state_name(enum replica_state s)
{
  return (unsigned)s < REPLICA_STATE_COUNT ? state_names[s] : "Unknown";
}

int model_replica_state_parse(const char *s)
{
  for (int i = 0; s && i < REPLICA_STATE_COUNT; i++)
    if (strcmp(s, state_names[i]) == 0)
      return i;
  return -1;
}

bool model_replica_state_live(enum replica_state s)
{
  return s == REPLICA_PENDING || s == REPLICA_SCHEDULED || s == REPLICA_STARTING
         || s == REPLICA_RUNNING || s == REPLICA_BACKOFF;
}

bool model_name_valid(const char *name, size_t max)
{
  size_t len = strlen(name);
  if (len == 0 || len > max || name[0] == '-' || name[len - 1] == '-')
    return false;
  for (size_t i = 0; i < len; i++)
    if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '-'))
      return false;
  return true;
}

/* ---- generic checkers: each returns 0 or -1 with "<path>: <why>" ---- */

static int bad(struct skiff_err **err, const char *path, const char *why)
{
  return skiff_error(err, 0, "%s: %s", path, why);
}

static int check_fields(json_t *obj, const char *path, const char *const allowed[],
                        struct skiff_err **err)
{
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v)
  {
    bool ok = false;
    for (size_t i = 0; allowed[i] && !ok; i++)
      ok = strcmp(key, allowed[i]) == 0;
    if (!ok)
      return skiff_error(err, 0, "%s.%s: unknown field", path, key);
  }
  return 0;
}

static int get_object(json_t *v, const char *path, struct skiff_err **err)
{
  return json_is_object(v) ? 0 : bad(err, path, "expected an object");
}

static int get_int(json_t *v, const char *path, int64_t min, int64_t max, const char *what,
                   int64_t *out, struct skiff_err **err)
{
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
    return skiff_error(err, 0, "%s: expected %s", path, what);
  *out = json_integer_value(v);
  return 0;
}

static int get_number(json_t *v, const char *path, double min, const char *what, double *out,
                      struct skiff_err **err)
{
  if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < min)
    return skiff_error(err, 0, "%s: expected %s", path, what);
  *out = json_number_value(v);
  return 0;
}

static int get_string(json_t *v, const char *path, bool nonempty, const char **out,
                      struct skiff_err **err)
{
  if (!json_is_string(v) || (nonempty && json_string_length(v) == 0))
    return bad(err, path, nonempty ? "expected a non-empty string" : "expected a string");
  if (strlen(json_string_value(v)) != json_string_length(v))
    return bad(err, path, "string contains a NUL byte");
  *out = json_string_value(v);
  return 0;
}

/* ["a", "b"] -> new array; empty allowed unless nonempty. */
static int get_string_array(json_t *v, const char *path, bool nonempty, json_t **out,
                            struct skiff_err **err)
{
  if (!json_is_array(v) || (nonempty && json_array_size(v) == 0))
    return bad(err, path,
               nonempty ? "expected a non-empty array of strings" : "expected an array of strings");
  size_t i;
  json_t *item;
  json_array_foreach(v, i, item)
  {
    cleanup_free char *p = xasprintf("%s[%zu]", path, i);
    const char *s;
    if (get_string(item, p, false, &s, err) < 0)
      return -1;
  }
  *out = json_deep_copy(v);
  return 0;
}

/* {"K": "V"}: env (keys without '=') and labels/selectors. */
static int get_string_map(json_t *v, const char *path, bool env, json_t **out,
                          struct skiff_err **err)
{
  if (get_object(v, path, err) < 0)
    return -1;
  const char *key;
  json_t *val;
  json_object_foreach(v, key, val)
  {
    cleanup_free char *p = xasprintf("%s.%s", path, key);
    const char *s;
    if (*key == '\0' || (env && strchr(key, '=')) || strlen(key) > 253)
      return bad(err, p, env ? "invalid variable name" : "invalid key");
    if (get_string(val, p, false, &s, err) < 0)
      return -1;
  }
  *out = json_deep_copy(v);
  return 0;
}

char *model_format_memory(int64_t bytes)
{
  static const struct
  {
    const char *suffix;
    int64_t unit;
  } units[] = {{"Gi", 1LL << 30}, {"Mi", 1LL << 20}, {"Ki", 1LL << 10}};
  for (size_t i = 0; bytes > 0 && i < sizeof(units) / sizeof(units[0]); i++)
    if (bytes % units[i].unit == 0)
      return xasprintf("%lld%s", (long long)(bytes / units[i].unit), units[i].suffix);
  return xasprintf("%lld", (long long)bytes);
}

int64_t model_memory_bytes(json_t *v)
{
  long long b = 0;
  if (json_is_integer(v))
    return json_integer_value(v);
  if (json_is_string(v) && skiff_parse_size(json_string_value(v), &b, NULL) == 0)
    return b;
  return 0;
}

int64_t model_cpu_milli(json_t *v)
{
  return json_is_number(v) ? (int64_t)llround(json_number_value(v) * 1000.0) : 0;
}

char *model_time_string(time_t t)
{
  struct tm tm;
  char buf[32];
  gmtime_r(&t, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return xstrdup(buf);
}

const char *model_str(json_t *obj, const char *key, const char *dflt)
{
  json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t model_int(json_t *obj, const char *key, int64_t dflt)
{
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? json_integer_value(v) : dflt;
}

bool model_bool(json_t *obj, const char *key, bool dflt)
{
  json_t *v = json_object_get(obj, key);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* cpu (cores) and memory (bytes or size string) -> {"cpu": n, "memory": "64Mi"} */
static int get_resources(json_t *v, const char *path, json_t **out, struct skiff_err **err)
{
  static const char *const fields[] = {"cpu", "memory", NULL};
  if (get_object(v, path, err) < 0 || check_fields(v, path, fields, err) < 0)
    return -1;
  double cpu = 0;
  int64_t mem = 0;
  json_t *c = json_object_get(v, "cpu"), *m = json_object_get(v, "memory");
  cleanup_free char *pc = xasprintf("%s.cpu", path);
  cleanup_free char *pm = xasprintf("%s.memory", path);
  if (c && (get_number(c, pc, 0, "a non-negative number of cores", &cpu, err) < 0 || cpu > 1e6))
    return bad(err, pc, "expected a non-negative number of cores");
  if (json_is_integer(m) && json_integer_value(m) >= 0)
    mem = json_integer_value(m);
  else if (json_is_string(m))
    {
      long long b;
      if (skiff_parse_size(json_string_value(m), &b, NULL) < 0 || b < 0)
        return bad(err, pm, "expected a size like \"64Mi\" or a number of bytes");
      mem = b;
    }
  else if (m)
    return bad(err, pm, "expected a size like \"64Mi\" or a number of bytes");
  /* Beyond this a size stops reading back as itself (and a reservation would become 0). */
  if (mem > MODEL_MEMORY_MAX)
    return bad(err, pm, "out of range: at most 1Pi (1125899906842624 bytes)");
  cleanup_free char *ms = model_format_memory(mem);
  *out = json_pack("{s:f,s:s}", "cpu", round(cpu * 1000.0) / 1000.0, "memory", ms);
  return 0;
}

static int get_port(json_t *v, const char *path, int64_t *out, struct skiff_err **err)
{
  return get_int(v, path, 1, 65535, "a port number (1-65535)", out, err);
}

static int get_ports(json_t *v, const char *path, json_t **out, struct skiff_err **err)
{
  static const char *const fields[] = {"container", "nodePort", NULL};
  if (!json_is_array(v))
    return bad(err, path, "expected an array");
  json_t *arr = json_array();
  size_t i;
  json_t *item;
  json_array_foreach(v, i, item)
  {
    cleanup_free char *p = xasprintf("%s[%zu]", path, i);
    cleanup_free char *pc = xasprintf("%s.container", p);
    cleanup_free char *pn = xasprintf("%s.nodePort", p);
    int64_t cport = 0, nport = 0;
    json_t *np;
    if (get_object(item, p, err) < 0 || check_fields(item, p, fields, err) < 0)
      goto fail;
    if (json_object_get(item, "container") == NULL)
      {
        bad(err, pc, "required");
        goto fail;
      }
    if (get_port(json_object_get(item, "container"), pc, &cport, err) < 0)
      goto fail;
    np = json_object_get(item, "nodePort");
    if (np && !(json_is_integer(np) && json_integer_value(np) == 0)
        && get_port(np, pn, &nport, err) < 0)
      goto fail;
    for (size_t j = 0; nport && j < i; j++)
      if (model_int(json_array_get(arr, j), "nodePort", 0) == nport)
        {
          bad(err, pn, "duplicate nodePort");
          goto fail;
        }
    json_array_append_new(
        arr, json_pack("{s:I,s:I}", "container", (json_int_t)cport, "nodePort", (json_int_t)nport));
  }
  *out = arr;
  return 0;
fail:
  json_decref(arr);
  return -1;
}

static int get_probe(json_t *v, const char *path, json_t **out, struct skiff_err **err)
{
  static const char *const fields[]
      = {"http", "tcp", "exec", "period", "timeout", "failureThreshold", NULL};
  static const char *const http_fields[] = {"path", "port", NULL};
  static const char *const tcp_fields[] = {"port", NULL};
  static const char *const exec_fields[] = {"command", NULL};
  if (get_object(v, path, err) < 0 || check_fields(v, path, fields, err) < 0)
    return -1;
  json_t *http = json_object_get(v, "http"), *tcp = json_object_get(v, "tcp"),
         *exec = json_object_get(v, "exec");
  if ((http != NULL) + (tcp != NULL) + (exec != NULL) != 1)
    return bad(err, path, "expected exactly one of http, tcp, exec");
  json_t *probe = json_object();
  cleanup_free char *p = NULL;
  cleanup_free char *ptr = xasprintf("%s.failureThreshold", path);
  int64_t port;
  const char *s;
  if (http)
    {
      p = xasprintf("%s.http", path);
      cleanup_free char *pp = xasprintf("%s.path", p);
      cleanup_free char *pt = xasprintf("%s.port", p);
      json_t *jpath = json_object_get(http, "path");
      if (get_object(http, p, err) < 0 || check_fields(http, p, http_fields, err) < 0
          || (jpath && get_string(jpath, pp, true, &s, err) < 0)
          || get_port(json_object_get(http, "port"), pt, &port, err) < 0)
        goto fail;
      if (jpath && s[0] != '/')
        {
          bad(err, pp, "expected a path starting with /");
          goto fail;
        }
      json_object_set_new(
          probe, "http", json_pack("{s:s,s:I}", "path", jpath ? s : "/", "port", (json_int_t)port));
    }
  else if (tcp)
    {
      p = xasprintf("%s.tcp", path);
      cleanup_free char *pt = xasprintf("%s.port", p);
      if (get_object(tcp, p, err) < 0 || check_fields(tcp, p, tcp_fields, err) < 0
          || get_port(json_object_get(tcp, "port"), pt, &port, err) < 0)
        goto fail;
      json_object_set_new(probe, "tcp", json_pack("{s:I}", "port", (json_int_t)port));
    }
  else
    {
      p = xasprintf("%s.exec", path);
      cleanup_free char *pc = xasprintf("%s.command", p);
      json_t *cmd = NULL;
      if (get_object(exec, p, err) < 0 || check_fields(exec, p, exec_fields, err) < 0
          || get_string_array(json_object_get(exec, "command"), pc, true, &cmd, err) < 0)
        goto fail;
      json_object_set_new(probe, "exec", json_pack("{s:o}", "command", cmd));
    }
  struct
  {
    const char *name;
    double dflt, min;
  } nums[] = {{"period", 5, 0.1}, {"timeout", 1, 0.1}};
  for (size_t i = 0; i < 2; i++)
    {
      double d = nums[i].dflt;
      json_t *jv = json_object_get(v, nums[i].name);
      cleanup_free char *pn = xasprintf("%s.%s", path, nums[i].name);
      if (jv && get_number(jv, pn, nums[i].min, "a number of seconds >= 0.1", &d, err) < 0)
        goto fail;
      json_object_set_new(probe, nums[i].name, json_real(d));
    }
  int64_t thr = 3;
  json_t *jt = json_object_get(v, "failureThreshold");
  if (jt && get_int(jt, ptr, 1, 1000, "a positive integer", &thr, err) < 0)
    goto fail;
  json_object_set_new(probe, "failureThreshold", json_integer(thr));
  *out = probe;
  return 0;
fail:
  json_decref(probe);
  return -1;
}

static int get_health(json_t *v, const char *path, json_t **out, struct skiff_err **err)
{
  static const char *const fields[] = {"liveness", "readiness", NULL};
  if (get_object(v, path, err) < 0 || check_fields(v, path, fields, err) < 0)
    return -1;
  json_t *h = json_object();
  for (size_t i = 0; i < 2; i++)
    {
      json_t *pv = json_object_get(v, fields[i]), *probe = NULL;
      if (pv == NULL)
        continue;
      cleanup_free char *p = xasprintf("%s.%s", path, fields[i]);
      if (get_probe(pv, p, &probe, err) < 0)
        {
          json_decref(h);
          return -1;
        }
      json_object_set_new(h, fields[i], probe);
    }
  *out = h;
  return 0;
}

static int get_update(json_t *v, const char *path, json_t **out, struct skiff_err **err)
{
  static const char *const fields[] = {"maxSurge", "maxUnavailable", "progressDeadline", NULL};
  if (get_object(v, path, err) < 0 || check_fields(v, path, fields, err) < 0)
    return -1;
  int64_t surge = 1, unavail = 0;
  double deadline = 60;
  cleanup_free char *ps = xasprintf("%s.maxSurge", path);
  cleanup_free char *pu = xasprintf("%s.maxUnavailable", path);
  cleanup_free char *pd = xasprintf("%s.progressDeadline", path);
  json_t *js = json_object_get(v, "maxSurge"), *ju = json_object_get(v, "maxUnavailable"),
         *jd = json_object_get(v, "progressDeadline");
  if ((js && get_int(js, ps, 0, 100000, "a non-negative integer", &surge, err) < 0)
      || (ju && get_int(ju, pu, 0, 100000, "a non-negative integer", &unavail, err) < 0)
      || (jd && get_number(jd, pd, 1, "a number of seconds >= 1", &deadline, err) < 0))
    return -1;
  if (surge == 0 && unavail == 0)
    return bad(err, path, "maxSurge and maxUnavailable cannot both be 0");
  *out = json_pack("{s:I,s:I,s:f}", "maxSurge", (json_int_t)surge, "maxUnavailable",
                   (json_int_t)unavail, "progressDeadline", deadline);
  return 0;
}

static int get_placement(json_t *v, const char *path, json_t **out, struct skiff_err **err)
{
  static const char *const fields[] = {"spread", "selector", "maxPerNode", NULL};
  if (get_object(v, path, err) < 0 || check_fields(v, path, fields, err) < 0)
    return -1;
  json_t *jsp = json_object_get(v, "spread"), *jsel = json_object_get(v, "selector"),
         *jm = json_object_get(v, "maxPerNode"), *sel = NULL;
  int64_t maxper = 0;
  cleanup_free char *psp = xasprintf("%s.spread", path);
  cleanup_free char *psel = xasprintf("%s.selector", path);
  cleanup_free char *pm = xasprintf("%s.maxPerNode", path);
  if (jsp && !json_is_boolean(jsp))
    return bad(err, psp, "expected true or false");
  if (jm && get_int(jm, pm, 0, 100000, "a non-negative integer", &maxper, err) < 0)
    return -1;
  if (jsel && get_string_map(jsel, psel, false, &sel, err) < 0)
    return -1;
  *out = json_pack("{s:b,s:o,s:I}", "spread", jsp ? json_is_true(jsp) : 1, "selector",
                   sel ? sel : json_object(), "maxPerNode", (json_int_t)maxper);
  return 0;
}

int model_service_parse(json_t *in, const char *path, json_t **out, int64_t *revision,
                        struct skiff_err **err)
{
  static const char *const fields[]
      = {"name",      "image",      "replicas", "command", "env",
         "resources", "ports",      "health",   "restart", "terminationGracePeriod",
         "update",    "placement",  "revision", "status",  "history",
         "created",   "generation", NULL};
  static const char *const restarts[] = {"always", "on-failure", "never", NULL};
  if (get_object(in, path, err) < 0 || check_fields(in, path, fields, err) < 0)
    return -1;
  json_t *svc = json_object(), *sub;
  /* Absent sections validate as {} so their defaults come from one place. */
  json_t *empty = json_object();
  const char *s;
  int64_t n;
  cleanup_free char *p = NULL;
#define FIELD(f) (free(p), p = xasprintf("%s.%s", path, f), json_object_get(in, f))

  sub = FIELD("name");
  if (sub == NULL)
    goto required;
  if (get_string(sub, p, true, &s, err) < 0)
    goto fail;
  if (!model_name_valid(s, MODEL_NAME_MAX))
    {
      bad(err, p,
          "expected lower-case letters, digits and '-' (at most 40, no leading or "
          "trailing '-')");
      goto fail;
    }
  json_object_set_new(svc, "name", json_string(s));

  sub = FIELD("image");
  if (sub == NULL)
    goto required;
  if (get_string(sub, p, true, &s, err) < 0)
    goto fail;
  json_object_set_new(svc, "image", json_string(s));

  n = 1;
  sub = FIELD("replicas");
  if (sub && get_int(sub, p, 0, 100000, "a non-negative integer", &n, err) < 0)
    goto fail;
  json_object_set_new(svc, "replicas", json_integer(n));

  json_t *val = NULL;
  sub = FIELD("command");
  if (sub && get_string_array(sub, p, false, &val, err) < 0)
    goto fail;
  json_object_set_new(svc, "command", val ? val : json_array());

  val = NULL;
  sub = FIELD("env");
  if (sub && get_string_map(sub, p, true, &val, err) < 0)
    goto fail;
  json_object_set_new(svc, "env", val ? val : json_object());

  val = NULL;
  sub = FIELD("resources");
  if (get_resources(sub ? sub : empty, p, &val, err) < 0)
    goto fail;
  json_object_set_new(svc, "resources", val);

  val = NULL;
  sub = FIELD("ports");
  if (sub && get_ports(sub, p, &val, err) < 0)
    goto fail;
  json_object_set_new(svc, "ports", val ? val : json_array());

  val = NULL;
  sub = FIELD("health");
  if (sub && get_health(sub, p, &val, err) < 0)
    goto fail;
  json_object_set_new(svc, "health", val ? val : json_object());

  s = "always";
  sub = FIELD("restart");
  if (sub)
    {
      bool ok = json_is_string(sub);
      for (size_t i = 0; ok && restarts[i]; i++)
        if (strcmp(json_string_value(sub), restarts[i]) == 0)
          {
            s = restarts[i];
            break;
          }
        else if (restarts[i + 1] == NULL)
          ok = false;
      if (!ok)
        {
          bad(err, p, "expected \"always\", \"on-failure\" or \"never\"");
          goto fail;
        }
    }
  json_object_set_new(svc, "restart", json_string(s));

  double grace = MODEL_GRACE_DEFAULT;
  sub = FIELD("terminationGracePeriod");
  if (sub
      && (get_number(sub, p, 0, "a number of seconds between 0 and 3600", &grace, err) < 0
          || grace > MODEL_GRACE_MAX))
    {
      if (grace > MODEL_GRACE_MAX)
        bad(err, p, "expected a number of seconds between 0 and 3600");
      goto fail;
    }
  json_object_set_new(svc, "terminationGracePeriod", json_real(grace));

  val = NULL;
  sub = FIELD("update");
  if (get_update(sub ? sub : empty, p, &val, err) < 0)
    goto fail;
  json_object_set_new(svc, "update", val);

  val = NULL;
  sub = FIELD("placement");
  if (get_placement(sub ? sub : empty, p, &val, err) < 0)
    goto fail;
  json_object_set_new(svc, "placement", val);

  n = 0;
  sub = FIELD("revision");
  if (sub && get_int(sub, p, 0, INT64_MAX, "a non-negative integer", &n, err) < 0)
    goto fail;
  if (revision)
    *revision = n;
#undef FIELD
  *out = svc;
  json_decref(empty);
  return 0;

required:
  bad(err, p, "required");
fail:
  json_decref(svc);
  json_decref(empty);
  return -1;
}

int model_apply_parse(json_t *doc, json_t **out, int64_t **revisions, struct skiff_err **err)
{
  bool list = json_is_array(doc);
  if (!list && !json_is_object(doc))
    return skiff_error(err, 0, "expected a Service object or an array of them");
  size_t n = list ? json_array_size(doc) : 1;
  json_t *arr = json_array();
  int64_t *revs = xzalloc((n ? n : 1) * sizeof(*revs));
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *path = list ? xasprintf("services[%zu]", i) : xstrdup("service");
      json_t *svc = NULL;
      if (model_service_parse(list ? json_array_get(doc, i) : doc, path, &svc, &revs[i], err) < 0)
        goto fail;
      json_array_append_new(arr, svc);
      for (size_t j = 0; j < i; j++)
        if (strcmp(model_str(json_array_get(arr, j), "name", ""), model_str(svc, "name", "")) == 0)
          {
            skiff_error(err, 0, "%s.name: duplicate service name `%s`", path,
                        model_str(svc, "name", ""));
            goto fail;
          }
    }
  *out = arr;
  *revisions = revs;
  return 0;
fail:
  json_decref(arr);
  free(revs);
  return -1;
}

json_t *model_service_template(json_t *svc)
{
  json_t *t = json_object();
  for (size_t i = 0; model_template_fields[i]; i++)
    {
      json_t *v = json_object_get(svc, model_template_fields[i]);
      if (v)
        json_object_set_new(t, model_template_fields[i], json_deep_copy(v));
    }
  return t;
}

int model_node_parse(json_t *in, json_t **out, struct skiff_err **err)
{
  static const char *const fields[]
      = {"name",        "address",       "agentPort", "capacity",    "labels",
         "revision",    "status",        "cordoned",  "created",     "allocated",
         "allocatable", "lastHeartbeat", "podCIDR",   "agentScheme", NULL};
  const char *name, *addr = "";
  int64_t port = 0;
  json_t *cap = NULL, *labels = NULL, *v;
  if (get_object(in, "node", err) < 0 || check_fields(in, "node", fields, err) < 0)
    return -1;
  v = json_object_get(in, "name");
  if (v == NULL)
    return bad(err, "node.name", "required");
  if (get_string(v, "node.name", true, &name, err) < 0)
    return -1;
  if (!model_name_valid(name, 63))
    return bad(err, "node.name", "expected lower-case letters, digits and '-' (at most 63)");
  v = json_object_get(in, "address");
  if (v && get_string(v, "node.address", false, &addr, err) < 0)
    return -1;
  v = json_object_get(in, "agentPort");
  if (v && !(json_is_integer(v) && json_integer_value(v) == 0)
      && get_port(v, "node.agentPort", &port, err) < 0)
    return -1;
  v = json_object_get(in, "labels");
  if (v && get_string_map(v, "node.labels", false, &labels, err) < 0)
    return -1;
  json_t *empty = json_object();
  int r = get_resources(json_object_get(in, "capacity") ? json_object_get(in, "capacity") : empty,
                        "node.capacity", &cap, err);
  json_decref(empty);
  if (r < 0)
    {
      json_decref(labels);
      return -1;
    }
  const char *scheme = "http";
  v = json_object_get(in, "agentScheme");
  if (v
      && (get_string(v, "node.agentScheme", false, &scheme, err) < 0
          || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)))
    {
      json_decref(labels);
      json_decref(cap);
      return *err ? -1 : bad(err, "node.agentScheme", "expected http or https");
    }
  *out = json_pack("{s:s,s:s,s:I,s:o,s:o}", "name", name, "address", addr, "agentPort",
                   (json_int_t)port, "capacity", cap, "labels", labels ? labels : json_object());
  /* agentScheme: https when the agent serves its endpoint with the certificate its join got */
  if (strcmp(scheme, "https") == 0)
    json_object_set_new(*out, "agentScheme", json_string("https"));
  /* podCIDR: the node asks for this subnet (agent --pod-cidr); absent or "": the server
   * allocates one.  Normalized to the canonical form. */
  v = json_object_get(in, "podCIDR");
  const char *pod = "";
  struct cidr c;
  char canon[CIDR_STRLEN];
  if (v && get_string(v, "node.podCIDR", false, &pod, err) < 0)
    {
      json_decref(*out);
      return -1;
    }
  if (*pod)
    {
      if (cidr_parse(pod, &c, err) < 0 || cidr_check_pod(&c, err) < 0)
        {
          json_decref(*out);
          return skiff_err_prefix(err, "node.podCIDR");
        }
      cidr_format(&c, canon);
      json_object_set_new(*out, "podCIDR", json_string(canon));
    }
  return 0;
}

/* The fields of one status report at path; the node field is checked by the caller. */
static int status_fields(json_t *in, const char *path, struct skiff_err **err)
{
  const char *s;
  int64_t n;
  cleanup_free char *p_state = xasprintf("%s.state", path);
  json_t *v = json_object_get(in, "state");
  if (v == NULL)
    return bad(err, p_state, "required");
  int st = json_is_string(v) ? model_replica_state_parse(json_string_value(v)) : -1;
  if (st != REPLICA_STARTING && st != REPLICA_RUNNING && st != REPLICA_BACKOFF
      && st != REPLICA_SUCCEEDED && st != REPLICA_FAILED)
    return bad(err, p_state, "expected one of Starting, Running, BackOff, Succeeded, Failed");
  cleanup_free char *p_ready = xasprintf("%s.ready", path);
  v = json_object_get(in, "ready");
  if (v && !json_is_boolean(v))
    return bad(err, p_ready, "expected true or false");
  cleanup_free char *p_restarts = xasprintf("%s.restarts", path);
  v = json_object_get(in, "restarts");
  if (v && get_int(v, p_restarts, 0, INT32_MAX, "a non-negative integer", &n, err) < 0)
    return -1;
  cleanup_free char *p_address = xasprintf("%s.address", path);
  v = json_object_get(in, "address");
  if (v && get_string(v, p_address, false, &s, err) < 0)
    return -1;
  cleanup_free char *p_reason = xasprintf("%s.reason", path);
  v = json_object_get(in, "reason");
  if (v && get_string(v, p_reason, false, &s, err) < 0)
    return -1;
  cleanup_free char *p_exit = xasprintf("%s.lastExitCode", path);
  v = json_object_get(in, "lastExitCode");
  if (v && !json_is_null(v)
      && get_int(v, p_exit, -1, 255, "an exit code (-1..255) or null", &n, err) < 0)
    return -1;
  return 0;
}

int model_status_parse(json_t *in, struct skiff_err **err)
{
  static const char *const fields[]
      = {"node", "state", "ready", "restarts", "address", "lastExitCode", "reason", NULL};
  const char *s;
  if (get_object(in, "status", err) < 0 || check_fields(in, "status", fields, err) < 0)
    return -1;
  json_t *v = json_object_get(in, "node");
  if (v == NULL)
    return bad(err, "status.node", "required");
  if (get_string(v, "status.node", true, &s, err) < 0)
    return -1;
  return status_fields(in, "status", err);
}

int model_node_status_parse(json_t *in, struct skiff_err **err)
{
  static const char *const top[] = {"replicas", NULL};
  static const char *const fields[]
      = {"name", "state", "ready", "restarts", "address", "lastExitCode", "reason", NULL};
  if (get_object(in, "status", err) < 0 || check_fields(in, "status", top, err) < 0)
    return -1;
  json_t *items = json_object_get(in, "replicas");
  if (!json_is_array(items))
    return bad(err, "status.replicas", "expected an array");
  if (json_array_size(items) > MODEL_STATUS_BATCH_MAX)
    return bad(err, "status.replicas", "at most " MODEL_STR(MODEL_STATUS_BATCH_MAX) " reports");
  json_t *seen = json_object();
  size_t i;
  json_t *item;
  int ret = 0;
  json_array_foreach(items, i, item)
  {
    cleanup_free char *path = xasprintf("status.replicas[%zu]", i);
    cleanup_free char *pname = xasprintf("%s.name", path);
    const char *name;
    json_t *v = json_object_get(item, "name");
    if (get_object(item, path, err) < 0 || check_fields(item, path, fields, err) < 0
        || (v == NULL && bad(err, pname, "required") < 0)
        || get_string(v, pname, true, &name, err) < 0 || status_fields(item, path, err) < 0)
      {
        ret = -1;
        break;
      }
    if (json_object_get(seen, name))
      {
        cleanup_free char *why = xasprintf("`%s` is reported twice", name);
        ret = bad(err, pname, why);
        break;
      }
    json_object_set_new(seen, name, json_true());
  }
  json_decref(seen);
  return ret;
}
