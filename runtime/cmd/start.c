/* start.c - `skiff start`: release a created container's process. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

static int start_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  if (cmd_no_flags(&cmd_verb_start, argc, argv, 1, 1, err))
    return 2;
  return container_start(g->root, argv[optind], err) < 0 ? 1 : 0;
}

const struct cmd_verb cmd_verb_start
    = {.name = "start",
       .fn = start_main,
       .usage = "start ID",
       .summary = "Run the process of a created container (poststart hooks run after it)."};
