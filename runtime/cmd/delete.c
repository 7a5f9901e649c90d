/* delete.c - `skiff delete [--force] ID`: remove a container and everything it owns. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

int cmd_delete(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {0, 0, 0, 0}};
  bool force = false;
  int c;
  while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1)
    if (c == 'f')
      force = true;
    else
      return skiff_error(err, 0, "usage: skiff delete [--force] ID"), 2;
  const char *id;
  if (cmd_one_id("delete", argc, argv, &id, err) < 0)
    return 2;
  return container_delete(g->root, id, force, err) < 0 ? 1 : 0;
}
