/* ctl_args.c - skiffctl's command line as data: the verb table (positional counts, which
 * flags each verb takes) and a pure parser over argv.  No I/O. */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum
{
  TAKES_FILE = 1,
  TAKES_OUTPUT = 2,
  TAKES_WATCH = 4,
  TAKES_FOLLOW = 8, /* -f is --follow (not --filename), and --tail N */
  TAKES_TOKEN = 16, /* --ttl, --description */
};

struct verb_spec
{
  const char *name;
  size_t min_args, max_args;
  int flags;
  const char *usage;
};

static const struct verb_spec verbs[] = {
    {"apply", 0, 0, TAKES_FILE, "apply -f FILE"},
    {"get", 1, 2, TAKES_OUTPUT | TAKES_WATCH,
     "get services|replicas|nodes [NAME] [-o json|wide] [-w]"},
    {"describe", 2, 2, 0, "describe service|node NAME"},
    {"scale", 2, 2, 0, "scale SERVICE N"},
    {"delete", 2, 2, 0, "delete service NAME"},
    {"cordon", 1, 1, 0, "cordon NODE"},
    {"uncordon", 1, 1, 0, "uncordon NODE"},
    {"drain", 1, 1, 0, "drain NODE"},
    {"events", 0, 0, TAKES_OUTPUT | TAKES_WATCH, "events [-o json] [-w]"},
    {"rollout", 2, 2, TAKES_WATCH, "rollout status|undo SERVICE [-w]"},
    {"logs", 1, 1, TAKES_FOLLOW, "logs REPLICA [-f] [--tail N]"},
    {"token", 1, 2, TAKES_TOKEN | TAKES_OUTPUT,
     "token create [--ttl 24h] [--description TEXT] | token list [-o json] | token delete ID"},
};

/* Resource names and their short forms, kubectl style. */
static const struct
{
  const char *alias, *name;
} resources[] = {
    {"services", "services"}, {"service", "services"}, {"svc", "services"},
    {"replicas", "replicas"}, {"replica", "replicas"}, {"rep", "replicas"},
    {"nodes", "nodes"},       {"node", "nodes"},       {"no", "nodes"},
    {"servers", "servers"},   {"server", "servers"},
};

static const char *resource_name(const char *s)
{
  size_t i;
  for (i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
    if (strcmp(resources[i].alias, s) == 0)
      return resources[i].name;
  return NULL;
}

static const struct verb_spec *find_verb(const char *s)
{
  size_t i;
  for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
    if (strcmp(verbs[i].name, s) == 0)
      return &verbs[i];
  return NULL;
}

/* "--name=value" / "--name value" / "-xvalue" / "-x value".  Returns 1 when argv[*i] is this
 * option (value in *val, *i advanced past a separate value), 0 when not, -1 when the value is
 * missing. */
static int take_opt(int argc, char **argv, int *i, const char *shrt, const char *lng,
                    const char **val)
{
  const char *a = argv[*i];
  size_t n;

  if (lng && strncmp(a, lng, (n = strlen(lng))) == 0 && (a[n] == '\0' || a[n] == '='))
    {
      if (a[n] == '=')
        {
          *val = a + n + 1;
          return 1;
        }
    }
  else if (shrt && strncmp(a, shrt, (n = strlen(shrt))) == 0)
    {
      if (a[n] != '\0')
        {
          *val = a + n + (a[n] == '=');
          return 1;
        }
    }
  else
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *val = argv[++*i];
  return 1;
}

static int parse_output(const char *v, enum ctl_output *out, struct skiff_err **err)
{
  if (strcmp(v, "json") == 0)
    *out = CTL_OUT_JSON;
  else if (strcmp(v, "wide") == 0)
    *out = CTL_OUT_WIDE;
  else
    return skiff_error(err, 0, "-o `%s`: expected json or wide", v);
  return 0;
}

int ctl_parse_duration(const char *s, long long *seconds, struct skiff_err **err)
{
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  long long unit = 1;
  if (errno == 0 && end != s && v >= 0)
    {
      if (*end == 'm')
        unit = 60, end++;
      else if (*end == 'h')
        unit = 3600, end++;
      else if (*end == 'd')
        unit = 86400, end++;
      else if (*end == 's')
        end++;
      if (*end == '\0' && v <= 365LL * 86400 / unit)
        {
          *seconds = v * unit;
          return 0;
        }
    }
  return skiff_error(err, 0, "duration `%s`: expected e.g. 90s, 10m, 24h, 7d or 0 (never)", s);
}

static int check_verb_args(const struct verb_spec *v, struct ctl_cmdline *out, int saw_file,
                           int saw_output, int saw_watch, struct skiff_err **err)
{
  if (out->nargs < v->min_args || out->nargs > v->max_args)
    return skiff_error(err, 0, "%s: wrong number of arguments; usage: skiffctl %s", v->name,
                       v->usage);
  if ((saw_file && !(v->flags & TAKES_FILE)) || (saw_output && !(v->flags & TAKES_OUTPUT))
      || (saw_watch && !(v->flags & TAKES_WATCH)))
    return skiff_error(err, 0, "%s: option %s not supported; usage: skiffctl %s", v->name,
                       saw_file     ? "-f"
                       : saw_output ? "-o"
                                    : "-w",
                       v->usage);
  if (!(v->flags & TAKES_TOKEN) && (out->ttl >= 0 || out->description))
    return skiff_error(err, 0, "%s: option %s not supported; usage: skiffctl %s", v->name,
                       out->ttl >= 0 ? "--ttl" : "--description", v->usage);
  if ((v->flags & TAKES_FILE) && out->file == NULL)
    return skiff_error(err, 0, "%s: missing -f FILE; usage: skiffctl %s", v->name, v->usage);

  if (strcmp(v->name, "get") == 0)
    {
      const char *r = resource_name(out->args[0]);
      if (r == NULL)
        return skiff_error(err, 0,
                           "get: unknown resource `%s` (services, replicas, nodes, servers)",
                           out->args[0]);
      if (strcmp(r, "servers") == 0 && (out->nargs > 1 || out->watch))
        return skiff_error(err, 0, "get servers: takes no NAME and no -w");
      out->args[0] = r;
    }
  else if (strcmp(v->name, "describe") == 0)
    {
      const char *r = resource_name(out->args[0]);
      if (r == NULL || strcmp(r, "replicas") == 0 || strcmp(r, "servers") == 0)
        return skiff_error(err, 0, "describe: unknown resource `%s` (service, node)", out->args[0]);
      out->args[0] = r;
    }
  else if (strcmp(v->name, "delete") == 0)
    {
      const char *r = resource_name(out->args[0]);
      if (r == NULL || strcmp(r, "services") != 0)
        return skiff_error(err, 0, "delete: only `service NAME` can be deleted, not `%s`",
                           out->args[0]);
      out->args[0] = r;
    }
  else if (strcmp(v->name, "token") == 0)
    {
      const char *a = out->args[0];
      size_t want = strcmp(a, "delete") == 0 ? 2 : 1;
      if (strcmp(a, "create") != 0 && strcmp(a, "list") != 0 && strcmp(a, "delete") != 0)
        return skiff_error(err, 0, "token: unknown action `%s` (create, list, delete)", a);
      if (out->nargs != want)
        return skiff_error(err, 0, "token %s: wrong number of arguments; usage: skiffctl %s", a,
                           v->usage);
      if (strcmp(a, "create") != 0 && (out->ttl >= 0 || out->description))
        return skiff_error(err, 0, "token %s: --ttl and --description are for token create", a);
    }
  else if (strcmp(v->name, "rollout") == 0)
    {
      if (strcmp(out->args[0], "status") != 0 && strcmp(out->args[0], "undo") != 0)
        return skiff_error(err, 0, "rollout: unknown action `%s` (status, undo)", out->args[0]);
    }
  else if (strcmp(v->name, "scale") == 0)
    {
      const char *s = out->args[1];
      char *end = NULL;
      long n;
      if (*s == '\0' || *s == '-' || *s == '+')
        return skiff_error(err, 0, "scale: `%s` is not a non-negative integer", s);
      n = strtol(s, &end, 10);
      if (*end != '\0' || n < 0 || n > 1000000)
        return skiff_error(err, 0, "scale: `%s` is not a non-negative integer", s);
    }
  return 0;
}

int ctl_parse_cmdline(int argc, char **argv, struct ctl_cmdline *out, struct skiff_err **err)
{
  const struct verb_spec *v = NULL;
  int saw_file = 0, saw_output = 0, saw_watch = 0, only_args = 0;
  int i, r;

  memset(out, 0, sizeof(*out));
  out->ttl = -1;
  out->tail = -1;
  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i], *val = NULL;

      /* a negative number is an argument (for scale's message), not an option */
      if (only_args || a[0] != '-' || strcmp(a, "-") == 0 || (a[1] >= '0' && a[1] <= '9'))
        {
          if (v == NULL)
            {
              v = find_verb(a);
              if (v == NULL)
                return skiff_error(err, 0, "unknown command `%s` (try skiffctl --help)", a);
              out->verb = v->name;
              continue;
            }
          if (out->nargs == CTL_MAX_ARGS)
            return skiff_error(err, 0, "%s: unexpected argument `%s`", v->name, a);
          out->args[out->nargs++] = a;
          continue;
        }
      if (strcmp(a, "--") == 0)
        {
          only_args = 1;
          continue;
        }
      if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
        {
          out->help = 1;
          continue;
        }
      if (strcmp(a, "-w") == 0 || strcmp(a, "--watch") == 0)
        {
          saw_watch = out->watch = 1;
          continue;
        }
      if (v && (v->flags & TAKES_FOLLOW) && (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0))
        {
          out->follow = 1;
          continue;
        }
      if (v && (v->flags & TAKES_FOLLOW)
          && (r = take_opt(argc, argv, &i, NULL, "--tail", &val)) != 0)
        {
          char *end = NULL;
          if (r < 0)
            return skiff_error(err, 0, "option `%s` needs a value", a);
          out->tail = strtol(val, &end, 10);
          if (*val == '\0' || *end != '\0' || out->tail < 0 || *val == '-')
            return skiff_error(err, 0, "--tail `%s`: expected a non-negative number of lines", val);
          continue;
        }
      if ((r = take_opt(argc, argv, &i, NULL, "--server", &val)) != 0)
        out->server = val;
      else if (r == 0 && (r = take_opt(argc, argv, &i, NULL, "--token", &val)) != 0)
        out->token = val;
      else if (r == 0 && (r = take_opt(argc, argv, &i, NULL, "--data", &val)) != 0)
        out->data_dir = val;
      else if (r == 0 && (r = take_opt(argc, argv, &i, NULL, "--token-file", &val)) != 0)
        out->token_file = val;
      else if (r == 0 && (r = take_opt(argc, argv, &i, NULL, "--ca-file", &val)) != 0)
        out->ca_file = val;
      else if (r == 0 && (r = take_opt(argc, argv, &i, NULL, "--description", &val)) != 0)
        out->description = val;
      else if (r == 0 && (r = take_opt(argc, argv, &i, NULL, "--ttl", &val)) != 0)
        {
          if (r > 0 && ctl_parse_duration(val, &out->ttl, err) < 0)
            return skiff_err_prefix(err, "--ttl");
        }
      else if (r == 0 && (r = take_opt(argc, argv, &i, "-f", "--filename", &val)) != 0)
        saw_file = 1, out->file = val;
      else if (r == 0 && (r = take_opt(argc, argv, &i, "-o", "--output", &val)) != 0)
        {
          saw_output = 1;
          if (r > 0 && parse_output(val, &out->output, err) < 0)
            return -1;
        }
      else
        return skiff_error(err, 0, "unknown option `%s` (try skiffctl --help)", a);
      if (r < 0)
        return skiff_error(err, 0, "option `%s` needs a value", a);
    }
  if (out->help)
    return 0;
  if (v == NULL)
    return skiff_error(err, 0, "no command given (try skiffctl --help)");
  return check_verb_args(v, out, saw_file, saw_output, saw_watch, err);
}
