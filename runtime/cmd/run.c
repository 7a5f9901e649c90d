/* run.c - `skiff run`: create + start; in the foreground it waits, forwards signals
 * and exits with the container's exit code (128+N for a signal), like runc.  Without
 * --bundle and with an image name it is docker's run (run_image.c). */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

static int run_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  struct image_info *image = NULL;
  if (cmd_run_is_image(argc, argv, &image))
    return cmd_run_image(g, argc, argv, image, err);
  struct container_opts o = {.root = g->root, .bundle = "."};
  if (cmd_parse_container_opts(&cmd_verb_run, argc, argv, &o, err) < 0)
    return 2;
  int code = 0;
  if (container_run(&o, &code, err) < 0)
    return 1;
  return code;
}

const struct cmd_verb cmd_verb_run
    = {.name = "run",
       .fn = run_main,
       .usage = "run [--bundle DIR] [OPTIONS] ID\n  skiff run [OPTIONS] IMAGE [CMD...]",
       .summary = "Create and start a container from a bundle (runc) or an image (docker); in the "
                  "foreground, wait and exit with its code.",
       .flags = cmd_run_bundle_flags,
       .flags2 = cmd_run_image_flags};
