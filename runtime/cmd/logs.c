/* logs.c - `skiff logs [-f] NAME`: the output of a detached container. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

static const struct cmd_flag logs_flags[]
    = {{"follow", 'f', NULL, "keep printing new output until the container stops"}, {0}};

static int logs_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool follow = false;
  int c;
  while ((c = cmd_getopt(argc, argv, logs_flags, false)) != -1)
    if (c == 'f')
      follow = true;
    else
      return cmd_bad_flag(&cmd_verb_logs, argc, argv, err);
  if (argc - optind != 1)
    return cmd_usage_error(&cmd_verb_logs, NULL, err);
  return managed_logs(g->root, image_store_root(NULL), argv[optind], follow, STDOUT_FILENO, err) < 0
             ? 1
             : 0;
}

const struct cmd_verb cmd_verb_logs = {
    .name = "logs",
    .fn = logs_main,
    .usage = "logs [-f] NAME",
    .summary
    = "Print what a detached container wrote to stdout and stderr (kept to 10 MiB + one rotation).",
    .flags = logs_flags};
