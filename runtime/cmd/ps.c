/* ps.c - `skiff ps ID`: the processes of a container (from its cgroup). */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <string.h>

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

int cmd_ps(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  /* without an ID this is docker's `ps`: the containers run from images */
  bool has_id = false;
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-' && !(i > 1 && strcmp(argv[i - 1], "--format") == 0))
      has_id = true;
  if (!has_id)
    return cmd_ps_containers(g, argc, argv, err);
  static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
  const char *format = "table";
  int c;
  while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1)
    if (c == 'f')
      format = optarg;
    else
      return skiff_error(err, 0, "usage: skiff ps [--format table|json] ID"), 2;
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
