/* kill.c - `skiff kill ID [SIGNAL]`: signal the init (or, with --all, every process
 * of the container's cgroup).  Signals by name (TERM, SIGTERM) or number. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <signal.h>

static const struct cmd_flag kill_flags[]
    = {{"all", 'a', NULL, "every process of the container's cgroup, not only the init"}, {0}};

static int kill_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool all = false;
  int c;
  while ((c = cmd_getopt(argc, argv, kill_flags, false)) != -1)
    if (c == 'a')
      all = true;
    else
      return cmd_bad_flag(&cmd_verb_kill, argc, argv, err);
  if (argc - optind < 1 || argc - optind > 2)
    return cmd_usage_error(&cmd_verb_kill, NULL, err);
  int sig = SIGTERM;
  if (argc - optind == 2 && skiff_parse_signal(argv[optind + 1], &sig, err) < 0)
    return 2;
  return container_kill(g->root, argv[optind], sig, all, err) < 0 ? 1 : 0;
}

const struct cmd_verb cmd_verb_kill
    = {.name = "kill",
       .fn = kill_main,
       .usage = "kill [--all] ID [SIGNAL]",
       .summary = "Send a signal (TERM, SIGTERM or 15; default TERM) to the container's init.",
       .flags = kill_flags};
