/* ps_containers.c - `skiff ps [-a] [-q]`: containers run from images, like `docker ps`. */
#define _GNU_SOURCE
#include "cmd.h"
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
  return managed_ps(g->root, image_store_root(NULL), all, quiet, err) < 0 ? 1 : 0;
}
