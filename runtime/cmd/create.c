/* create.c - `skiff create`: set the container up and leave its process waiting. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

int cmd_create(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"bundle", required_argument, 0, 'b'},
                                       {"pid-file", required_argument, 0, 'p'},
                                       {"console-socket", required_argument, 0, 'c'},
                                       {"preserve-fds", required_argument, 0, 'f'},
                                       {"no-pivot", no_argument, 0, 'n'},
                                       {"no-new-keyring", no_argument, 0, 'k'},
                                       {0, 0, 0, 0}};
  struct container_opts o = {.root = g->root, .bundle = "."};
  int c;
  while ((c = getopt_long(argc, argv, "+b:", opts, NULL)) != -1)
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
        case 'n':
        case 'k':
          break; /* accepted for runc compatibility */
        default:
          return skiff_error(err, 0,
                             "usage: skiff create [--bundle DIR] [--pid-file F] "
                             "[--console-socket S] ID"),
                 2;
      }
  if (cmd_one_id("create", argc, argv, &o.id, err) < 0)
    return 2;
  return container_create(&o, err) < 0 ? 1 : 0;
}
