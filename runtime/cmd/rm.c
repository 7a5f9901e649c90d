/* rm.c - `skiff rm [-f] NAME...`: remove containers run from images, with their data. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

static const struct cmd_flag rm_flags[]
    = {{"force", 'f', NULL, "remove running containers too (killed first)"}, {0}};

static int rm_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool force = false;
  int c;
  while ((c = cmd_getopt(argc, argv, rm_flags, false)) != -1)
    if (c == 'f')
      force = true;
    else
      return cmd_bad_flag(&cmd_verb_rm, argc, argv, err);
  if (optind >= argc)
    return cmd_usage_error(&cmd_verb_rm, NULL, err);
  for (int i = optind; i < argc; i++)
    {
      if (managed_remove(g->root, image_store_root(NULL), argv[i], force, err) < 0)
        return 1;
      printf("%s\n", argv[i]);
    }
  return 0;
}

const struct cmd_verb cmd_verb_rm
    = {.name = "rm",
       .fn = rm_main,
       .usage = "rm [-f] NAME...",
       .summary = "Remove containers run from images: state, data dir, address lease.",
       .flags = rm_flags};
