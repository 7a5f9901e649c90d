/* system.c - `skiff system prune`: remove what docker's would: stopped containers run
 * from images, with their data, and what is left of removed ones. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

#include <string.h>

static const struct cmd_flag system_flags[]
    = {{"force", 'f', NULL, "accepted (docker asks for confirmation without it; skiff never asks)"},
       {0}};

static int system_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  int c;
  while ((c = cmd_getopt(argc, argv, system_flags, true)) != -1)
    if (c != 'f')
      return cmd_bad_flag(&cmd_verb_system, argc, argv, err);
  if (argc - optind != 1 || strcmp(argv[optind], "prune") != 0)
    return cmd_usage_error(&cmd_verb_system, argc - optind == 1 ? "unknown sub-command" : NULL,
                           err);
  char **removed = NULL;
  unsigned long long bytes = 0;
  if (managed_prune(g->root, image_store_root(NULL), &removed, &bytes, err) < 0)
    return 1;
  printf("Deleted containers:\n");
  for (size_t i = 0; removed && removed[i]; i++)
    {
      printf("%s\n", removed[i]);
      free(removed[i]);
    }
  free(removed);
  printf("\nTotal reclaimed space: %llu bytes\n", bytes);
  return 0;
}

const struct cmd_verb cmd_verb_system
    = {.name = "system",
       .fn = system_main,
       .usage = "system prune [-f]",
       .summary
       = "Remove stopped containers run from images, their data, and leftovers of removed ones.",
       .flags = system_flags,
       .permute = true};
