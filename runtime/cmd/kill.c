/* kill.c - `skiff kill ID [SIGNAL]`: signal the init (or, with --all, every process
 * of the container's cgroup).  Signals by name (TERM, SIGTERM) or number. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <signal.h>

int cmd_kill(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"all", no_argument, 0, 'a'}, {0, 0, 0, 0}};
  bool all = false;
  int c;
  while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1)
    if (c == 'a')
      all = true;
    else
      return skiff_error(err, 0, "usage: skiff kill [--all] ID [SIGNAL]"), 2;
  if (argc - optind < 1 || argc - optind > 2)
    return skiff_error(err, 0, "usage: skiff kill [--all] ID [SIGNAL]"), 2;
  int sig = SIGTERM;
  if (argc - optind == 2 && skiff_parse_signal(argv[optind + 1], &sig, err) < 0)
    return 2;
  return container_kill(g->root, argv[optind], sig, all, err) < 0 ? 1 : 0;
}
