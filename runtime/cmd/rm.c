/* rm.c - `skiff rm [-f] NAME...`: remove containers run from images, with their data. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

int cmd_rm(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool force;
  if (cmd_switch_only(argc, argv, "force", 'f', &force, 1, 0, "rm [-f] NAME...", err) < 0)
    return 2;
  for (int i = optind; i < argc; i++)
    {
      if (managed_remove(g->root, image_store_root(NULL), argv[i], force, err) < 0)
        return 1;
      printf("%s\n", argv[i]);
    }
  return 0;
}
