/* inspect.c - `skiff inspect NAME`: a container run from an image, as JSON. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

static int inspect_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  if (cmd_no_flags(&cmd_verb_inspect, argc, argv, 1, 1, err))
    return 2;
  char *text = managed_inspect(g->root, image_store_root(NULL), argv[optind], err);
  if (text == NULL)
    return 1;
  printf("%s\n", text);
  free(text);
  return 0;
}

const struct cmd_verb cmd_verb_inspect
    = {.name = "inspect",
       .fn = inspect_main,
       .usage = "inspect NAME",
       .summary
       = "A container run from an image as JSON: image, command, network, ports, labels, state."};
