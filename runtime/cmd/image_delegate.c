/* image_delegate.c - `skiff image ...`, `skiff images`, `skiff pull` and `skiff push`: exec
 * skiff-image, the image tool that sits beside skiff (it links libarchive and libcurl; skiff
 * does not, see the Makefile). */
#define _GNU_SOURCE
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

char *cmd_image_tool(struct skiff_err **err)
{
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n < 0)
    return skiff_error(err, errno, "readlink `/proc/self/exe`"), NULL;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  return xasprintf("%.*s/skiff-image", slash ? (int)(slash - self) : 0, self);
}

int cmd_image_delegate(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  cleanup_free char *tool = cmd_image_tool(err);
  if (tool == NULL)
    return 1;
  cleanup_free char **args = xzalloc(((size_t)argc + 2) * sizeof(char *));
  args[0] = tool;
  for (int i = 0; i < argc; i++)
    args[i + 1] = argv[i];
  execv(tool, args);
  return skiff_error(err, errno, "exec `%s`", tool), 1;
}

const struct cmd_verb cmd_verb_image
    = {.name = "image",
       .fn = cmd_image_delegate,
       .usage
       = "image [--store DIR] SUB-COMMAND ...\n"
         "  skiff image import PATH [--name NAME[:TAG]]   an OCI layout (dir or tar) or `docker "
         "save` tar\n"
         "  skiff image build --rootfs DIR --name NAME[:TAG] [--config JSON|@FILE]\n"
         "  skiff image export NAME[:TAG] PATH            an OCI layout tar\n"
         "  skiff image rm NAME[:TAG]...   skiff image ls [-q]   skiff image inspect NAME[:TAG]",
       .summary = "Manage the image store.",
       .flags = cmd_image_flags,
       .permute = true};
const struct cmd_verb cmd_verb_images = {.name = "images",
                                         .fn = cmd_image_delegate,
                                         .usage = "images [--store DIR] [--quiet]",
                                         .summary = "List the images of the store.",
                                         .flags = cmd_images_flags};
const struct cmd_verb cmd_verb_pull
    = {.name = "pull",
       .fn = cmd_image_delegate,
       .usage = "pull [OPTIONS] [HOST[:PORT]/]REPO[:TAG|@sha256:DIGEST]",
       .summary = "Download an image from a registry (OCI distribution API) into the store.",
       .flags = cmd_pull_flags};
const struct cmd_verb cmd_verb_push = {.name = "push",
                                       .fn = cmd_image_delegate,
                                       .usage = "push [OPTIONS] NAME[:TAG] [REF]",
                                       .summary = "Upload an image of the store to a registry.",
                                       .flags = cmd_push_flags};
