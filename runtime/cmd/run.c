/* run.c - `skiff run`: create + start; in the foreground it waits, forwards signals
 * and exits with the container's exit code (128+N for a signal), like runc.  Without
 * --bundle and with an image name it is docker's run (run_image.c). */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

int cmd_run(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  struct image_info *image = NULL;
  if (cmd_run_is_image(argc, argv, &image))
    return cmd_run_image(g, argc, argv, image, err);
  struct container_opts o = {.root = g->root, .bundle = "."};
  optind = 0;
  if (cmd_parse_container_opts("run", argc, argv, &o, err) < 0)
    return 2;
  int code = 0;
  if (container_run(&o, &code, err) < 0)
    return 1;
  return code;
}
