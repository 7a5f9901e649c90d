/* run.c - `skiff run`: create + start; in the foreground it waits, forwards signals
 * and exits with the container's exit code (128+N for a signal), like runc. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

int cmd_run(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"bundle", required_argument, 0, 'b'},
                                       {"pid-file", required_argument, 0, 'p'},
                                       {"console-socket", required_argument, 0, 'c'},
                                       {"preserve-fds", required_argument, 0, 'f'},
                                       {"detach", no_argument, 0, 'd'},
                                       {"keep", no_argument, 0, 'k'},
                                       {"no-pivot", no_argument, 0, 'n'},
                                       {"no-new-keyring", no_argument, 0, 'K'},
                                       {0, 0, 0, 0}};
  if (cmd_run_is_image(argc, argv))
    return cmd_run_image(g, argc, argv, err);
  struct container_opts o = {.root = g->root, .bundle = "."};
  int c;
  while ((c = getopt_long(argc, argv, "+b:d", opts, NULL)) != -1)
    switch (c)
      {
        case 'b':
          o.bundle = optarg;
          break;
        case 'p':
          o.pid_file = optarg;
          break;
        case 'c':
          o.console_socket = optarg;
          break;
        case 'f':
          if (cmd_parse_int("--preserve-fds", optarg, &o.preserve_fds, err) < 0)
            return 2;
          break;
        case 'd':
          o.detach = true;
          break;
        case 'k':
          o.keep = true;
          break;
        case 'n':
        case 'K':
          break;
        default:
          return skiff_error(err, 0, "usage: skiff run [--bundle DIR] [--detach] ID"), 2;
      }
  if (cmd_one_id("run", argc, argv, &o.id, err) < 0)
    return 2;
  int code = 0;
  if (container_run(&o, &code, err) < 0)
    return 1;
  return code;
}
