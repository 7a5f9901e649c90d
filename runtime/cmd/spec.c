/* spec.c - `skiff spec`: write a default config.json (like `runc spec`). */
#define _GNU_SOURCE
#include "cmd.h"
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static const struct cmd_flag spec_flags[]
    = {{"bundle", 'b', "DIR", "write DIR/config.json (default: ./config.json)"},
       {"rootless", CMD_LONG(1), NULL, "refused: skiff runs containers as root"},
       {0}};

static int spec_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  const char *bundle = ".";
  int c;
  while ((c = cmd_getopt(argc, argv, spec_flags, false)) != -1)
    if (c == 'b')
      bundle = optarg;
    else if (c == CMD_LONG(1))
      return skiff_error(err, 0, "--rootless: not supported (skiff runs containers as root)"), 2;
    else
      return cmd_bad_flag(&cmd_verb_spec, argc, argv, err);
  if (argc - optind != 0)
    return cmd_usage_error(&cmd_verb_spec, NULL, err);
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

const struct cmd_verb cmd_verb_spec
    = {.name = "spec",
       .fn = spec_main,
       .usage = "spec [--bundle DIR]",
       .summary
       = "Write a default config.json: Docker's capabilities, masked paths and seccomp profile.",
       .flags = spec_flags};
