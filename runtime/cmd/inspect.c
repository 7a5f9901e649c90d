/* inspect.c - `skiff inspect NAME`: a container run from an image, as JSON. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

int cmd_inspect(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  if (argc != 2 || argv[1][0] == '-')
    return skiff_error(err, 0, "usage: skiff inspect NAME"), 2;
  char *text = managed_inspect(g->root, image_store_root(NULL), argv[1], err);
  if (text == NULL)
    return 1;
  printf("%s\n", text);
  free(text);
  return 0;
}
