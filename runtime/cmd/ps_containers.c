/* ps_containers.c - `skiff ps [-a] [-q] [--filter ...]`: containers run from images, like
 * `docker ps`. */
#define _GNU_SOURCE
#include "cmd.h"
#include <string.h>
#include "image.h"
#include "managed.h"

const struct cmd_flag cmd_ps_containers_flags[]
    = {{NULL, 0, NULL, "Containers (docker's ps: `skiff ps [OPTIONS]`):"},
       {"all", 'a', NULL, "stopped containers too"},
       {"quiet", 'q', NULL, "only the names"},
       {"filter", 'f', "KEY=VALUE",
        "name=, label=KEY[=VALUE], status=running|paused|exited|created|restarting, ancestor=IMAGE "
        "(repeat: all must match)"},
       {0}};

int cmd_ps_containers(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool all = false, quiet = false;
  cleanup_free char **filters = xzalloc((size_t)argc * sizeof(char *));
  size_t nf = 0;
  int c;
  optind = 0;
  while ((c = cmd_getopt(argc, argv, cmd_ps_containers_flags, false)) != -1)
    if (c == 'a')
      all = true;
    else if (c == 'q')
      quiet = true;
    else if (c == 'f')
      filters[nf++] = optarg;
    else
      return cmd_bad_flag(&cmd_verb_ps, argc, argv, err);
  /* docker: a status filter looks at stopped containers too */
  for (size_t i = 0; i < nf; i++)
    if (strncmp(filters[i], "status=", 7) == 0)
      all = true;
  struct managed_ps_row *rows = NULL;
  size_t n = 0;
  if (managed_list(g->root, image_store_root(NULL), all, &rows, &n, err) < 0)
    return 1;
  int rc = 0;
  if (!quiet)
    printf("%-24s %-16s %-28s %-14s %-8s %-16s %s\n", "NAME", "IMAGE", "COMMAND", "STATUS",
           "RESTARTS", "IP", "PORTS");
  for (size_t i = 0; i < n && rc == 0; i++)
    {
      bool match = true;
      for (size_t f = 0; f < nf && match; f++)
        if (managed_ps_match(&rows[i], filters[f], &match, err) < 0)
          rc = 2;
      if (rc || !match)
        continue;
      if (quiet)
        {
          printf("%s\n", rows[i].name);
          continue;
        }
      if (strlen(rows[i].command) > 26)
        strcpy(rows[i].command + 23, "...");
      printf("%-24s %-16s %-28s %-14s %-8d %-16s %s\n", rows[i].name, rows[i].image,
             rows[i].command, rows[i].status, rows[i].restarts, rows[i].ip, rows[i].ports);
    }
  managed_ps_rows_free(rows, n);
  return rc;
}
