/* stop.c - `skiff stop [-t SECS] NAME...`: SIGTERM, then SIGKILL after the grace time;
 * the monitor does not restart a container stopped this way.  Also `skiff restart`. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

static const struct cmd_flag stop_flags[]
    = {{"time", 't', "SECS", "seconds to wait after SIGTERM before SIGKILL (default 10)"}, {0}};

static int stop_or_restart(const struct cmd_verb *v, struct cmd_global *g, int argc, char **argv,
                           struct skiff_err **err)
{
  int timeout = 10, c;
  while ((c = cmd_getopt(argc, argv, stop_flags, false)) != -1)
    if (c != 't')
      return cmd_bad_flag(v, argc, argv, err);
    else if (cmd_parse_int("-t", optarg, &timeout, err) < 0)
      return 2;
  if (optind >= argc)
    return cmd_usage_error(v, NULL, err);
  for (int i = optind; i < argc; i++)
    {
      int r = v == &cmd_verb_stop
                  ? managed_stop(g->root, argv[i], timeout, err)
                  : managed_restart(g->root, image_store_root(NULL), argv[i], timeout, err);
      if (r < 0)
        return 1;
      printf("%s\n", argv[i]);
    }
  return 0;
}

static int stop_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  return stop_or_restart(&cmd_verb_stop, g, argc, argv, err);
}

static int restart_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  return stop_or_restart(&cmd_verb_restart, g, argc, argv, err);
}

const struct cmd_verb cmd_verb_stop
    = {.name = "stop",
       .fn = stop_main,
       .usage = "stop [-t SECS] NAME...",
       .summary
       = "Stop containers: SIGTERM, then SIGKILL after the grace time; no restart policy applies.",
       .flags = stop_flags};
const struct cmd_verb cmd_verb_restart
    = {.name = "restart",
       .fn = restart_main,
       .usage = "restart [-t SECS] NAME...",
       .summary
       = "Stop containers (if running) and start them again, with their name, image, network and "
         "ports.",
       .flags = stop_flags};
