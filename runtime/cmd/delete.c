/* delete.c - `skiff delete [--force] ID`: remove a container and everything it owns. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

int cmd_delete(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool force;
  if (cmd_switch_only(argc, argv, "force", 'f', &force, 1, 1, "delete [--force] ID", err) < 0)
    return 2;
  return container_delete(g->root, argv[optind], force, err) < 0 ? 1 : 0;
}
