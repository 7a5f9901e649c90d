/* delete.c - `skiff delete [--force] ID`: remove a container and everything it owns. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

static const struct cmd_flag delete_flags[]
    = {{"force", 'f', NULL, "kill a running or paused container first; a missing one is no error"},
       {0}};

static int delete_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool force = false;
  int c;
  while ((c = cmd_getopt(argc, argv, delete_flags, false)) != -1)
    if (c == 'f')
      force = true;
    else
      return cmd_bad_flag(&cmd_verb_delete, argc, argv, err);
  if (argc - optind != 1)
    return cmd_usage_error(&cmd_verb_delete, NULL, err);
  return container_delete(g->root, argv[optind], force, err) < 0 ? 1 : 0;
}

const struct cmd_verb cmd_verb_delete
    = {.name = "delete",
       .fn = delete_main,
       .usage = "delete [--force] ID",
       .summary
       = "Remove a stopped (or created) container: processes, cgroup, state, network; poststop "
         "hooks run.",
       .flags = delete_flags};
