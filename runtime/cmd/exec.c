/* exec.c - `skiff exec ID CMD...`: run a command inside a running container. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <string.h>

int cmd_exec(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"env", required_argument, 0, 'e'},
                                       {"cwd", required_argument, 0, 'w'},
                                       {"user", required_argument, 0, 'u'},
                                       {"detach", no_argument, 0, 'd'},
                                       {"pid-file", required_argument, 0, 'p'},
                                       {"preserve-fds", required_argument, 0, 'f'},
                                       {"tty", no_argument, 0, 't'},
                                       {"interactive", no_argument, 0, 'i'},
                                       {0, 0, 0, 0}};
  struct container_exec_opts eo = {0};
  cleanup_free char **env = xzalloc((size_t)argc * sizeof(char *));
  size_t nenv = 0;
  int c;
  while ((c = getopt_long(argc, argv, "+e:w:u:dti", opts, NULL)) != -1)
    switch (c)
      {
        case 'e':
          if (strchr(optarg, '=') == NULL)
            return skiff_error(err, 0, "--env `%s`: expected KEY=VALUE", optarg), 2;
          env[nenv++] = optarg;
          break;
        case 'w':
          eo.cwd = optarg;
          break;
        case 'u':
          eo.user = optarg;
          break;
        case 'd':
          eo.detach = true;
          break;
        case 'p':
          eo.pid_file = optarg;
          break;
        case 'f':
          if (cmd_parse_int("--preserve-fds", optarg, &eo.preserve_fds, err) < 0)
            return 2;
          break;
        case 't':
          eo.tty = true;
          break;
        case 'i':
          break; /* stdin is always passed through */
        default:
          return skiff_error(err, 0, "usage: skiff exec [--env K=V] [--cwd DIR] ID CMD..."), 2;
      }
  if (argc - optind < 2)
    return skiff_error(err, 0, "usage: skiff exec [OPTIONS] ID CMD..."), 2;
  eo.env = env;
  eo.args = argv + optind + 1;
  int code = 0;
  if (container_exec(g->root, argv[optind], &eo, &code, err) < 0)
    return 1;
  return code;
}
