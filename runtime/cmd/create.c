/* create.c - `skiff create`: set the container up and leave its process waiting.  Also
 * the option parsing that create and run share (runc's flags). */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <string.h>

/* create's and run's options; run adds --detach and --keep */
static const struct option container_opts_table[] = {{"bundle", required_argument, 0, 'b'},
                                                     {"pid-file", required_argument, 0, 'p'},
                                                     {"console-socket", required_argument, 0, 'c'},
                                                     {"preserve-fds", required_argument, 0, 'f'},
                                                     {"no-pivot", no_argument, 0, 'n'},
                                                     {"no-new-keyring", no_argument, 0, 'k'},
                                                     {"detach", no_argument, 0, 'd'},
                                                     {"keep", no_argument, 0, 'K'},
                                                     {0, 0, 0, 0}};

int cmd_parse_container_opts(const char *verb, int argc, char **argv, struct container_opts *o,
                             struct skiff_err **err)
{
  bool is_run = strcmp(verb, "run") == 0;
  int c;
  while ((c = getopt_long(argc, argv, is_run ? "+b:d" : "+b:", container_opts_table, NULL)) != -1)
    switch (c)
      {
        case 'b':
          o->bundle = optarg;
          break;
        case 'p':
          o->pid_file = optarg;
          break;
        case 'c':
          o->console_socket = optarg;
          break;
        case 'f':
          if (cmd_parse_int("--preserve-fds", optarg, &o->preserve_fds, err) < 0)
            return -1;
          break;
        case 'n':
        case 'k':
          break; /* accepted for runc compatibility */
        case 'd':
        case 'K':
          if (is_run)
            {
              *(c == 'd' ? &o->detach : &o->keep) = true;
              break;
            }
          /* create has no --detach/--keep */
          __attribute__((fallthrough));
        default:
          return skiff_error(err, 0,
                             "usage: skiff %s [--bundle DIR] [--pid-file F] [--console-socket S] "
                             "[--preserve-fds N]%s ID",
                             verb, is_run ? " [--detach] [--keep]" : "");
      }
  return cmd_one_id(verb, argc, argv, &o->id, err);
}

int cmd_create(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  struct container_opts o = {.root = g->root, .bundle = "."};
  if (cmd_parse_container_opts("create", argc, argv, &o, err) < 0)
    return 2;
  return container_create(&o, err) < 0 ? 1 : 0;
}
