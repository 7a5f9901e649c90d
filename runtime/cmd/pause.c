/* pause.c - `skiff pause ID` and `skiff resume ID` (runc's): freeze and thaw every process
 * of a running container through its cgroup's freezer. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

static int pause_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  if (cmd_no_flags(&cmd_verb_pause, argc, argv, 1, 1, err))
    return 2;
  return container_set_paused(g->root, argv[optind], true, err) < 0 ? 1 : 0;
}

static int resume_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  if (cmd_no_flags(&cmd_verb_resume, argc, argv, 1, 1, err))
    return 2;
  return container_set_paused(g->root, argv[optind], false, err) < 0 ? 1 : 0;
}

const struct cmd_verb cmd_verb_pause
    = {.name = "pause",
       .fn = pause_main,
       .usage = "pause ID",
       .summary = "Freeze every process of a running container (state says paused)."};
const struct cmd_verb cmd_verb_resume = {.name = "resume",
                                         .fn = resume_main,
                                         .usage = "resume ID",
                                         .summary = "Thaw a paused container."};
