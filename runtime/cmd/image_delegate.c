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
