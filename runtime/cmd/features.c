/* features.c - `skiff features`: the OCI features document. */
#define _GNU_SOURCE
#include "cmd.h"
#include "spec.h"

static int features_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  if (cmd_no_flags(&cmd_verb_features, argc, argv, 0, 0, err))
    return 2;
  if (argc - optind != 0)
    return cmd_usage_error(&cmd_verb_features, NULL, err);
  cleanup_free char *text = spec_features_json();
  printf("%s\n", text);
  return 0;
}

const struct cmd_verb cmd_verb_features
    = {.name = "features",
       .fn = features_main,
       .usage = "features",
       .summary = "Print what this runtime supports (the OCI features document, JSON)."};
