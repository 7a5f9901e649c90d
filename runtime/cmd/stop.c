/* stop.c - `skiff stop [-t SECS] NAME...`: SIGTERM, then SIGKILL after the grace time. */
#define _GNU_SOURCE
#include "cmd.h"
#include "managed.h"

int cmd_stop(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[] = {{"time", required_argument, 0, 't'}, {0, 0, 0, 0}};
  int timeout = 10, c;
  while ((c = getopt_long(argc, argv, "+t:", opts, NULL)) != -1)
    if (c != 't' || cmd_parse_int("-t", optarg, &timeout, err) < 0)
      return *err ? 2 : (skiff_error(err, 0, "usage: skiff stop [-t SECS] NAME..."), 2);
  if (optind >= argc)
    return skiff_error(err, 0, "usage: skiff stop [-t SECS] NAME..."), 2;
  for (int i = optind; i < argc; i++)
    {
      if (managed_stop(g->root, argv[i], timeout, err) < 0)
        return 1;
      printf("%s\n", argv[i]);
    }
  return 0;
}
