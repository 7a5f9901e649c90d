/* main.c - the skiff CLI entry: global flags, verb dispatch, the only place that
 * prints an error.  Verbs and flags follow runc's so tools written for it drive skiff. */
#define _GNU_SOURCE
#include "cmd.h"
#include "cloned_binary.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SKIFF_VERSION "0.1.0"

static const struct
{
  const char *name;
  cmd_fn fn;
  const char *usage;
} verbs[] = {
    {"create", cmd_create,
     "create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID"},
    {"start", cmd_start, "start ID"},
    {"state", cmd_state, "state ID"},
    {"kill", cmd_kill, "kill [--all] ID [SIGNAL]"},
    {"delete", cmd_delete, "delete [--force] ID"},
    {"run", cmd_run,
     "run [--bundle DIR] [--detach] [--pid-file F] [--console-socket S] [--keep] ID\n"
     "  skiff run [--name N] [-d] [--rm] [-e K=V] [-p [IP:]H:C] [-v HOST:CTR[:ro]] [-m SIZE]\n"
     "            [--cpus N] [--pids-limit N] [--hostname H] [--user U] [-w DIR] [--read-only]\n"
     "            [--net bridge|none|host] [--entrypoint CMD] [--pull always|missing|never]\n"
     "            IMAGE [CMD...]"},
    {"exec", cmd_exec, "exec [--env K=V] [--cwd DIR] [--user UID[:GID]] [--detach] ID CMD..."},
    {"list", cmd_list, "list [--format table|json] [--quiet]"},
    {"ps", cmd_ps, "ps [--format table|json] ID\n  skiff ps [-a] [-q]"},
    {"spec", cmd_spec, "spec [--bundle DIR]"},
    {"features", cmd_features, "features"},
    {"image", cmd_image_delegate,
     "image [--store DIR] import PATH [--name N[:T]] | build --rootfs DIR --name N[:T] "
     "[--config JSON|@F] | rm N[:T] | export N[:T] PATH | ls | inspect N[:T]"},
    {"images", cmd_image_delegate, "images [--store DIR] [--quiet]"},
    {"pull", cmd_image_delegate,
     "pull [--store DIR] [--authfile F] [--creds USER:PASS] [--insecure] "
     "[--platform OS/ARCH[/VARIANT]] [-q] REF"},
    {"push", cmd_image_delegate,
     "push [--store DIR] [--authfile F] [--creds USER:PASS] [--insecure] [-q] NAME [REF]"},
    {"stop", cmd_stop, "stop [-t SECS] NAME..."},
    {"rm", cmd_rm, "rm [-f] NAME..."},
    {"logs", cmd_logs, "logs [-f] NAME"},
    {"inspect", cmd_inspect, "inspect NAME"},
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void usage(FILE *f)
{
  fprintf(f, "usage: skiff [--root DIR] VERB [OPTIONS] ...\n\nverbs:\n");
  for (size_t i = 0; i < N_VERBS; i++)
    fprintf(f, "  skiff %s\n", verbs[i].usage);
  fprintf(f, "\n  skiff --version\n");
}

int cmd_parse_int(const char *flag, const char *v, int *out, struct skiff_err **err)
{
  char *end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 0 || n > INT_MAX)
    return skiff_error(err, 0, "%s `%s`: expected a non-negative integer", flag, v);
  *out = (int)n;
  return 0;
}

int cmd_switch_only(int argc, char **argv, const char *name, char letter, bool *set, int min_args,
                    int max_args, const char *usage, struct skiff_err **err)
{
  const struct option opts[] = {{name, no_argument, 0, letter}, {0, 0, 0, 0}};
  const char shortopts[] = {'+', letter, '\0'};
  int c, n;
  *set = false;
  while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1)
    {
      if (c != letter)
        return skiff_error(err, 0, "unknown option `%s`; usage: skiff %s", argv[optind - 1], usage);
      *set = true;
    }
  n = argc - optind;
  if (n < min_args || (max_args > 0 && n > max_args))
    return skiff_error(err, 0, "usage: skiff %s", usage);
  return 0;
}

int cmd_one_id(const char *verb, int argc, char **argv, const char **id, struct skiff_err **err)
{
  if (argc - optind != 1)
    return skiff_error(err, 0, "%s: expected exactly one container id (got %d arguments)", verb,
                       argc - optind);
  *id = argv[optind];
  return 0;
}

/* The library's warnings and a child's last words (util.h: skiff_report). */
static void report_to_stderr(const char *line)
{
  fprintf(stderr, "skiff: %s\n", line);
}

int main(int argc, char **argv)
{
  skiff_set_reporter(report_to_stderr);
  struct cmd_global g = {.root = getenv("SKIFF_STATE_ROOT")};
  if (g.root == NULL || *g.root == '\0')
    g.root = "/run/skiff";
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *a = argv[i];
      if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0)
        {
          printf("skiff version %s\nspec: 1.2.0\n", SKIFF_VERSION);
          return 0;
        }
      if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
        {
          usage(stdout);
          return 0;
        }
      if (strcmp(a, "--root") == 0 && i + 1 < argc)
        g.root = argv[++i];
      else if (strncmp(a, "--root=", 7) == 0)
        g.root = a + 7;
      else if ((strcmp(a, "--log") == 0 || strcmp(a, "--log-format") == 0) && i + 1 < argc)
        i++; /* accepted for runc compatibility; skiff logs to stderr */
      else if (strncmp(a, "--log=", 6) == 0 || strncmp(a, "--log-format=", 13) == 0
               || strcmp(a, "--debug") == 0 || strcmp(a, "--systemd-cgroup") == 0)
        ;
      else
        {
          fprintf(stderr, "skiff: unknown global option `%s`\n", a);
          return 2;
        }
    }
  if (i >= argc)
    {
      usage(stderr);
      return 2;
    }
  if (g.root[0] != '/')
    {
      fprintf(stderr, "skiff: --root `%s`: must be an absolute path\n", g.root);
      return 2;
    }
  for (size_t v = 0; v < N_VERBS; v++)
    if (strcmp(argv[i], verbs[v].name) == 0)
      {
        struct skiff_err *err = NULL;
        /* an image run pulls first, with the real binary's path at hand (see cmd.h) */
        if (verbs[v].fn == cmd_run && cloned_binary_is_sealed(NULL) == 0
            && cmd_run_pull(argc - i, argv + i, &err) < 0)
          {
            if (err)
              fprintf(stderr, "skiff run: %s\n", err->msg);
            skiff_err_free(&err);
            return 125; /* docker's code for a run that failed before the container */
          }
        /* CVE-2019-5736: the verbs that put skiff code into a container run from a sealed
         * memfd copy, so /proc/PID/exe never leads the container to the host's binary. */
        if ((verbs[v].fn == cmd_create || verbs[v].fn == cmd_run || verbs[v].fn == cmd_exec)
            && cloned_binary_ensure(argc, argv, &err) < 0)
          {
            fprintf(stderr, "skiff %s: %s\n", verbs[v].name, err->msg);
            skiff_err_free(&err);
            return 1;
          }
        optind = 0; /* GNU getopt: reinitialise for the verb's own argv */
        opterr = 0; /* bad flags are reported by the verb, in its one line */
        int rc = verbs[v].fn(&g, argc - i, argv + i, &err);
        if (err)
          {
            fprintf(stderr, "skiff %s: %s\n", verbs[v].name, err->msg);
            skiff_err_free(&err);
            return rc ? rc : 1;
          }
        return rc;
      }
  fprintf(stderr, "skiff: unknown verb `%s` (see skiff --help)\n", argv[i]);
  return 2;
}
