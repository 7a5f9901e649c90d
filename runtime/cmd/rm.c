/* rm.c - `skiff rm [-f] NAME...`: remove containers run from images, with their data. */
#define _GNU_SOURCE
#include "cmd.h"
#include "managed.h"

int cmd_rm(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {0, 0, 0, 0}};
  bool force = false;
  int c;
  while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1)
    if (c == 'f')
      force = true;
    else
      return skiff_error(err, 0, "usage: skiff rm [-f] NAME..."), 2;
  if (optind >= argc)
    return skiff_error(err, 0, "usage: skiff rm [-f] NAME..."), 2;
  for (int i = optind; i < argc; i++)
    {
      if (managed_remove(g->root, cmd_image_store(), argv[i], force, err) < 0)
        return 1;
      printf("%s\n", argv[i]);
    }
  return 0;
}
