/* ps.c - `skiff ps ID`: the processes of a container (from its cgroup), runc's ps.
 * Without an ID it is docker's ps (ps_containers.c). */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <string.h>

const struct cmd_flag cmd_ps_flags[]
    = {{NULL, 0, NULL, "Processes of a container (runc's ps: `skiff ps [--format F] ID`):"},
       {"format", 'f', "table|json", "json: the pids as an array (what containerd reads)"},
       {0}};

static void print_cmdline(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (skiff_read_file(path, &text, &len, NULL) < 0 || len == 0)
    {
      printf("?\n");
      return;
    }
  for (size_t i = 0; i + 1 < len; i++)
    if (text[i] == '\0')
      text[i] = ' ';
  printf("%s\n", text);
}

static int ps_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  /* without an ID this is docker's `ps`: the containers run from images */
  int saved = opterr;
  opterr = 0;
  optind = 0;
  while (cmd_getopt(argc, argv, cmd_ps_containers_flags, false) != -1)
    ;
  opterr = saved;
  if (optind >= argc)
    return cmd_ps_containers(g, argc, argv, err);
  const char *format = "table";
  int c;
  optind = 0;
  while ((c = cmd_getopt(argc, argv, cmd_ps_flags, false)) != -1)
    if (c == 'f')
      format = optarg;
    else
      {
        const char *a = argv[optind - 1];
        for (size_t i = 0; cmd_ps_containers_flags[i].help; i++)
          if (cmd_ps_containers_flags[i].name && a[0] == '-' && a[1] == '-'
              && strcmp(a + 2, cmd_ps_containers_flags[i].name) == 0)
            return skiff_error(err, 0,
                               "`%s` belongs to the container list, which takes no ID (skiff ps "
                               "[-a] [-q] [--filter F]); with an ID: skiff ps [--format F] ID",
                               a),
                   2;
        return cmd_bad_flag(&cmd_verb_ps, argc, argv, err);
      }
  if (strcmp(format, "json") != 0 && strcmp(format, "table") != 0)
    return skiff_error(err, 0, "--format `%s`: expected table or json", format), 2;
  const char *id;
  if (cmd_one_id("ps", argc, argv, &id, err) < 0)
    return 2;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (container_pids(g->root, id, &pids, &n, err) < 0)
    return 1;
  if (strcmp(format, "json") == 0)
    {
      printf("[");
      for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", (int)pids[i]);
      printf("]\n");
      return 0;
    }
  printf("%-8s %s\n", "PID", "CMD");
  for (size_t i = 0; i < n; i++)
    {
      printf("%-8d ", (int)pids[i]);
      print_cmdline(pids[i]);
    }
  return 0;
}

const struct cmd_verb cmd_verb_ps
    = {.name = "ps",
       .fn = ps_main,
       .usage = "ps [--format table|json] ID\n  skiff ps [-a] [-q] [--filter KEY=VALUE]...",
       .summary
       = "The processes of a container (with an ID, as runc), or the containers run from images "
         "(without, as docker).",
       .flags = cmd_ps_flags,
       .flags2 = cmd_ps_containers_flags};
