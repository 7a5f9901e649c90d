/* start.c - `skiff start`: release a created container's process. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

int cmd_start(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  const char *id;
  if (getopt_long(argc, argv, "+", (struct option[]){{0, 0, 0, 0}}, NULL) != -1)
    return skiff_error(err, 0, "usage: skiff start ID"), 2;
  if (cmd_one_id("start", argc, argv, &id, err) < 0)
    return 2;
  return container_start(g->root, id, err) < 0 ? 1 : 0;
}
