/* state.c - `skiff state`: print the OCI state JSON of a container. */
#define _GNU_SOURCE
#include "cmd.h"
#include "state.h"

int cmd_state(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  const char *id;
  if (getopt_long(argc, argv, "+", (struct option[]){{0, 0, 0, 0}}, NULL) != -1)
    return skiff_error(err, 0, "usage: skiff state ID"), 2;
  if (cmd_one_id("state", argc, argv, &id, err) < 0)
    return 2;
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(g->root, id, &st, err) < 0)
    return 1;
  cleanup_free char *json = state_oci_json(g->root, st);
  printf("%s\n", json);
  return 0;
}
