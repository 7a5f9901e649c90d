/* skiffd.c - main of the orchestrator daemon: `skiffd server ...` runs the control plane
 * (server.c), `skiffd agent ...` the node agent (agent.c), `skiffd netagent ...` the node's
 * network side alone (netagent.c). */
#include <stdio.h>
#include <string.h>
#include "agent.h"
#include "netagent.h"
#include "server.h"

static void usage(FILE *f)
{
  fprintf(f, "usage: skiffd server [--listen ADDR:PORT] [--data DIR] [--heartbeat-interval S] "
             "[--node-grace S]\n"
             "       skiffd agent [--fake-runtime] ...   (skiffd agent --help)\n"
             "       skiffd netagent --name NODE ...     (skiffd netagent --help)\n"
             "       skiffd --version\n");
}

int main(int argc, char **argv)
{
  if (argc < 2)
    {
      usage(stderr);
      return 2;
    }
  if (strcmp(argv[1], "server") == 0)
    return server_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "agent") == 0)
    return agent_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "agent-runtime") == 0) /* spawned by the agent, not for people */
    return agent_runtime_main(argc, argv);
  if (strcmp(argv[1], "netagent") == 0)
    return netagent_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
    {
      usage(stdout);
      return 0;
    }
  if (strcmp(argv[1], "--version") == 0)
    {
      printf("skiffd version %s\n", SKIFF_VERSION);
      return 0;
    }
  fprintf(stderr, "skiffd: unknown command `%s`\n", argv[1]);
  usage(stderr);
  return 2;
}
