/* logs.c - `skiff logs [-f] NAME`: the output of a detached container. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

int cmd_logs(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool follow;
  if (cmd_switch_only(argc, argv, "follow", 'f', &follow, 1, 1, "logs [-f] NAME", err) < 0)
    return 2;
  return managed_logs(g->root, image_store_root(NULL), argv[optind], follow, STDOUT_FILENO, err) < 0
             ? 1
             : 0;
}
