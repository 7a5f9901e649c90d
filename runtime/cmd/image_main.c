/* image_main.c - skiff-image: the image verbs (`skiff image ...`, `skiff images`) as their
 * own binary; skiff execs it.  Prints errors like skiff does. */
#define _GNU_SOURCE
#include "cmd.h"

#include <string.h>

int main(int argc, char **argv)
{
  struct cmd_global g = {.root = "/run/skiff"};
  if (argc < 2 || (strcmp(argv[1], "image") != 0 && strcmp(argv[1], "images") != 0))
    {
      fprintf(stderr, "usage: skiff-image image VERB ... | skiff-image images\n");
      return 2;
    }
  struct skiff_err *err = NULL;
  optind = 0;
  opterr = 0; /* bad flags are reported in the verb's one line */
  int rc = strcmp(argv[1], "images") == 0 ? cmd_images(&g, argc - 1, argv + 1, &err)
                                          : cmd_image(&g, argc - 1, argv + 1, &err);
  if (err)
    {
      fprintf(stderr, "skiff %s: %s\n", argv[1], err->msg);
      skiff_err_free(&err);
      return rc ? rc : 1;
    }
  return rc;
}
