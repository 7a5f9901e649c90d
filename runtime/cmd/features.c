/* features.c - `skiff features`: the OCI features document. */
#define _GNU_SOURCE
#include "cmd.h"
#include "spec.h"

int cmd_features(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  (void)argv;
  if (argc > 1)
    return skiff_error(err, 0, "usage: skiff features"), 2;
  cleanup_free char *text = spec_features_json();
  printf("%s\n", text);
  return 0;
}
