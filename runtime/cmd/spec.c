/* spec.c - `skiff spec`: write a default config.json (like `runc spec`). */
#define _GNU_SOURCE
#include "cmd.h"
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

int cmd_spec(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  static const struct option opts[]
      = {{"bundle", required_argument, 0, 'b'}, {"rootless", no_argument, 0, 'r'}, {0, 0, 0, 0}};
  const char *bundle = ".";
  int c;
  while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1)
    if (c == 'b')
      bundle = optarg;
    else if (c == 'r')
      return skiff_error(err, 0, "--rootless: not supported"), 2;
    else
      return skiff_error(err, 0, "usage: skiff spec [--bundle DIR]"), 2;
  if (argc - optind != 0)
    return skiff_error(err, 0, "usage: skiff spec [--bundle DIR]"), 2;
  cleanup_free char *path = xasprintf("%s/config.json", bundle);
  cleanup_free char *text = spec_default_json();
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      if (errno == EEXIST)
        return skiff_error(err, 0, "`%s` already exists: remove it first", path), 1;
      return skiff_error(err, errno, "open `%s`", path), 1;
    }
  if (skiff_write_all(fd, text, strlen(text)) < 0 || skiff_write_all(fd, "\n", 1) < 0)
    return skiff_error(err, errno, "write `%s`", path), 1;
  return 0;
}
