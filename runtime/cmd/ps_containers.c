/* ps_containers.c - `skiff ps [-a] [-q]`: containers run from images, like `docker ps`. */
#define _GNU_SOURCE
#include "cmd.h"
#include <string.h>
#include "image.h"
#include "managed.h"

int cmd_ps_containers(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[]
      = {{"all", no_argument, 0, 'a'}, {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
  bool all = false, quiet = false;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "+aq", opts, NULL)) != -1)
    if (c == 'a')
      all = true;
    else if (c == 'q')
      quiet = true;
    else
      return skiff_error(err, 0, "usage: skiff ps [-a] [-q]  |  skiff ps ID"), 2;
  struct managed_ps_row *rows = NULL;
  size_t n = 0;
  if (managed_list(g->root, image_store_root(NULL), all, &rows, &n, err) < 0)
    return 1;
  if (!quiet)
    printf("%-24s %-16s %-28s %-10s %-16s %s\n", "NAME", "IMAGE", "COMMAND", "STATUS", "IP",
           "PORTS");
  for (size_t i = 0; i < n; i++)
    {
      if (quiet)
        {
          printf("%s\n", rows[i].name);
          continue;
        }
      if (strlen(rows[i].command) > 26)
        strcpy(rows[i].command + 23, "...");
      printf("%-24s %-16s %-28s %-10s %-16s %s\n", rows[i].name, rows[i].image, rows[i].command,
             rows[i].status, rows[i].ip, rows[i].ports);
    }
  managed_ps_rows_free(rows, n);
  return 0;
}
