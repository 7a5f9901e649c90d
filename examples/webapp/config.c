/* config.c - the web app's command line, environment and identity (replica, node, hostname,
 * version, start time).  Pure: the caller passes getenv() and gethostname() results in. */
#include "app.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char webapp_usage[]
    = "usage: webapp [options]\n"
      "  --port N           listen port (default: $PORT, else 8080; 0 picks a free port)\n"
      "  --bind ADDR        listen address, IPv4 or IPv6 literal (default: every IPv4 address)\n"
      "  --ready-after SECS /readyz answers 503 for SECS seconds after start (default 0)\n"
      "  --allow-crash      let POST /crash exit the process with code 1\n"
      "  --max-work-ms N    upper bound of GET /work?ms=N (default 10000)\n"
      "  --threads N        worker threads, each with its own epoll (default: CPUs, at least 4)\n"
      "  --max-conns N      open connections at most (default 1000)\n"
      "  --timeout SECS     close connections idle this long (default 10)\n"
      "  --grace SECS       on SIGTERM wait this long at most for in-flight requests "
      "(default 10)\n"
      "  --app-version STR  version shown by the app (default: $WEBAPP_VERSION, "
      "else " WEBAPP_VERSION ")\n"
      "environment: SKIFF_REPLICA (replica name, default hostname), SKIFF_NODE (node name,\n"
      "default \"local\"), PORT, WEBAPP_VERSION\n";

int webapp_parse_bounded(const char *s, long min, long max, long *out)
{
  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

struct int_flag
{
  const char *name;
  size_t offset;
  long min, max;
};

/* Flags that take an integer, with the range each accepts. */
static const struct int_flag int_flags[] = {
    {"--port", offsetof(struct webapp_config, port), 0, 65535},
    {"--ready-after", offsetof(struct webapp_config, ready_after_s), 0, 86400},
    {"--max-work-ms", offsetof(struct webapp_config, max_work_ms), 0, 600000},
    {"--threads", offsetof(struct webapp_config, threads), 0, 256},
    {"--max-conns", offsetof(struct webapp_config, max_conns), 1, 1000000},
    {"--timeout", offsetof(struct webapp_config, timeout_s), 1, 3600},
    {"--grace", offsetof(struct webapp_config, grace_s), 0, 3600},
};

int webapp_config_parse(struct webapp_config *cfg, int argc, char *const argv[],
                        const char *port_env, struct skiff_err **err)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->port = 8080;
  cfg->max_work_ms = 10000;
  cfg->max_conns = 1000;
  cfg->timeout_s = 10;
  cfg->grace_s = 10;
  cfg->conn_memory = 32 * 1024;

  if (port_env && *port_env)
    {
      long v;
      if (webapp_parse_bounded(port_env, 0, 65535, &v) < 0)
        return skiff_error(err, 0, "invalid PORT `%s`: want 0..65535", port_env);
      cfg->port = (int)v;
    }

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
        return WEBAPP_CONFIG_HELP;
      if (strcmp(a, "--allow-crash") == 0)
        {
          cfg->allow_crash = 1;
          continue;
        }
      /* Every other flag takes a value: "--flag VALUE" or "--flag=VALUE". */
      const char *eq = strchr(a, '=');
      size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
      const char *value = eq ? eq + 1 : NULL;
      const struct int_flag *f = NULL;
      for (size_t k = 0; k < sizeof(int_flags) / sizeof(int_flags[0]); k++)
        if (strlen(int_flags[k].name) == name_len && strncmp(int_flags[k].name, a, name_len) == 0)
          f = &int_flags[k];
      int is_bind = name_len == 6 && strncmp(a, "--bind", 6) == 0;
      int is_version = name_len == 13 && strncmp(a, "--app-version", 13) == 0;
      if (f == NULL && !is_bind && !is_version)
        return skiff_error(err, 0, "unknown option `%s` (see --help)", a);
      if (value == NULL)
        {
          if (i + 1 >= argc)
            return skiff_error(err, 0, "option `%.*s` needs a value", (int)name_len, a);
          value = argv[++i];
        }
      if (is_bind)
        {
          if (*value == '\0')
            return skiff_error(err, 0, "option `--bind` needs an address");
          cfg->bind = value;
        }
      else if (is_version)
        {
          if (*value == '\0' || strlen(value) >= sizeof(((struct webapp_identity *)0)->version))
            return skiff_error(err, 0, "invalid --app-version `%s`: want 1..63 characters", value);
          cfg->version = value;
        }
      else
        {
          long v;
          if (webapp_parse_bounded(value, f->min, f->max, &v) < 0)
            return skiff_error(err, 0, "invalid %s `%s`: want %ld..%ld", f->name, value, f->min,
                               f->max);
          *(int *)((char *)cfg + f->offset) = (int)v;
        }
    }
  return 0;
}

static void copy_or_default(char *dst, size_t size, const char *value, const char *fallback)
{
  snprintf(dst, size, "%s", value && *value ? value : fallback);
}

void webapp_identity_init(struct webapp_identity *id, const char *replica, const char *node,
                          const char *hostname, const char *version, time_t started, long pid)
{
  memset(id, 0, sizeof(*id));
  copy_or_default(id->hostname, sizeof(id->hostname), hostname, "localhost");
  copy_or_default(id->replica, sizeof(id->replica), replica, id->hostname);
  copy_or_default(id->node, sizeof(id->node), node, "local");
  copy_or_default(id->version, sizeof(id->version), version, WEBAPP_VERSION);
  id->started_unix = started;
  id->pid = pid;
  struct tm tm;
  if (gmtime_r(&started, &tm) == NULL
      || strftime(id->started, sizeof(id->started), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(id->started, sizeof(id->started), "%lld", (long long)started);
}
