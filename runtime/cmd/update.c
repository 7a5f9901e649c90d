/* update.c - `skiff update` (runc's): new cgroup limits for a live container, from flags
 * or from a linux.resources JSON (`-r FILE`, `-r -` for stdin: what podman and containerd
 * send). */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <errno.h>
#include <string.h>

static const struct cmd_flag update_flags[]
    = {{"resources", 'r', "FILE", "a linux.resources JSON object (- for stdin); other flags win"},
       {"memory", 'm', "SIZE", "memory limit (64m, 1g; -1 for none)"},
       {"memory-swap", CMD_LONG(1), "SIZE", "memory + swap limit (-1 for none)"},
       {"memory-reservation", CMD_LONG(2), "SIZE", "memory soft limit"},
       {"cpu-shares", CMD_LONG(3), "N", "cpu shares (v2: converted to a weight)"},
       {"cpu-quota", CMD_LONG(4), "USEC", "cpu time per period (-1 for none)"},
       {"cpu-period", CMD_LONG(5), "USEC", "cpu period"},
       {"cpuset-cpus", CMD_LONG(6), "LIST", "cpus the container may use (0-1)"},
       {"cpuset-mems", CMD_LONG(7), "LIST", "memory nodes the container may use"},
       {"pids-limit", CMD_LONG(8), "N", "maximum number of processes (-1 for none)"},
       {0}};

/* "-1" is "no limit" for the flags that allow it; else a size with a unit. */
static int parse_limit(const char *flag, const char *v, bool size, int64_t *out,
                       struct skiff_err **err)
{
  if (strcmp(v, "-1") == 0)
    {
      *out = -1;
      return 0;
    }
  long long n = 0;
  if (size)
    {
      if (skiff_parse_size(v, &n, err) < 0)
        return skiff_err_prefix(err, "%s", flag);
    }
  else
    {
      char *end = NULL;
      errno = 0;
      n = strtoll(v, &end, 10);
      if (errno || end == v || *end || n < 0)
        return skiff_error(err, 0, "%s `%s`: expected a non-negative integer or -1", flag, v);
    }
  *out = n;
  return 0;
}

static int read_resources(const char *path, struct skiff_resources *r, struct skiff_err **err)
{
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (strcmp(path, "-") == 0)
    {
      size_t cap = 4096;
      text = xmalloc(cap);
      ssize_t n;
      while ((n = read(STDIN_FILENO, text + len, cap - len - 1)) > 0)
        if ((len += (size_t)n) + 1 == cap)
          text = xrealloc(text, cap *= 2);
      if (n < 0)
        return skiff_error(err, errno, "--resources: read stdin");
      text[len] = '\0';
    }
  else if (skiff_read_file(path, &text, &len, err) < 0)
    return skiff_err_prefix(err, "--resources");
  if (spec_parse_resources(text, len, r, err) < 0)
    return skiff_err_prefix(err, "--resources `%s`", path);
  return 0;
}

static int update_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  struct skiff_resources r = {0};
  const char *file = NULL;
  int c, rc = 2;
  /* the file first, so that flags given with it override its values */
  for (int pass = 0; pass < 2; pass++)
    {
      optind = 0;
      while ((c = cmd_getopt(argc, argv, update_flags, false)) != -1)
        {
          int64_t v = 0;
          if (c == '?')
            {
              rc = cmd_bad_flag(&cmd_verb_update, argc, argv, err);
              goto out;
            }
          if (pass == 0)
            {
              if (c == 'r')
                file = optarg;
              continue;
            }
          const char *name = NULL;
          for (size_t i = 0; update_flags[i].help; i++)
            if (update_flags[i].key == c)
              name = update_flags[i].name;
          bool size = c == 'm' || c == CMD_LONG(1) || c == CMD_LONG(2);
          if (c != 'r' && c != CMD_LONG(6) && c != CMD_LONG(7)
              && parse_limit(name, optarg, size, &v, err) < 0)
            goto out;
          switch (c)
            {
              case 'm':
                r.has_memory_limit = true, r.memory_limit = v;
                break;
              case CMD_LONG(1):
                r.has_memory_swap = true, r.memory_swap = v;
                break;
              case CMD_LONG(2):
                r.has_memory_reservation = true, r.memory_reservation = v;
                break;
              case CMD_LONG(3):
                r.has_cpu_shares = true, r.cpu_shares = (uint64_t)(v < 0 ? 0 : v);
                break;
              case CMD_LONG(4):
                r.has_cpu_quota = true, r.cpu_quota = v;
                break;
              case CMD_LONG(5):
                r.has_cpu_period = true, r.cpu_period = (uint64_t)(v < 0 ? 0 : v);
                break;
              case CMD_LONG(6):
                free(r.cpuset_cpus);
                r.cpuset_cpus = xstrdup(optarg);
                break;
              case CMD_LONG(7):
                free(r.cpuset_mems);
                r.cpuset_mems = xstrdup(optarg);
                break;
              case CMD_LONG(8):
                r.has_pids_limit = true, r.pids_limit = v;
                break;
            }
        }
      if (pass == 0 && file && read_resources(file, &r, err) < 0)
        goto out;
    }
  if (argc - optind != 1)
    {
      rc = cmd_usage_error(&cmd_verb_update, NULL, err);
      goto out;
    }
  rc = container_update(g->root, argv[optind], &r, err) < 0 ? 1 : 0;
out:
  spec_resources_free(&r);
  return rc;
}

const struct cmd_verb cmd_verb_update
    = {.name = "update",
       .fn = update_main,
       .usage = "update [OPTIONS] ID",
       .summary = "Change the cgroup limits of a running (or paused, created) container.",
       .flags = update_flags};
