/* state.c - `skiff state`: print the OCI state JSON of a container. */
#define _GNU_SOURCE
#include "cmd.h"
#include "state.h"

static int state_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  if (cmd_no_flags(&cmd_verb_state, argc, argv, 1, 1, err))
    return 2;
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(g->root, argv[optind], &st, err) < 0)
    return 1;
  cleanup_free char *json = state_oci_json(g->root, st);
  printf("%s\n", json);
  return 0;
}

const struct cmd_verb cmd_verb_state
    = {.name = "state",
       .fn = state_main,
       .usage = "state ID",
       .summary
       = "Print the OCI state of a container: creating, created, running, paused or stopped."};
