/* logs.c - `skiff logs [-f] NAME`: the output of a detached container. */
#define _GNU_SOURCE
#include "cmd.h"
#include "managed.h"

int cmd_logs(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"follow", no_argument, 0, 'f'}, {0, 0, 0, 0}};
  bool follow = false;
  int c;
  while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1)
    if (c == 'f')
      follow = true;
    else
      return skiff_error(err, 0, "usage: skiff logs [-f] NAME"), 2;
  if (argc - optind != 1)
    return skiff_error(err, 0, "usage: skiff logs [-f] NAME"), 2;
  return managed_logs(g->root, cmd_image_store(), argv[optind], follow, err) < 0 ? 1 : 0;
}
