/* netagent_main.c - `skiffd netagent`: the network side of a node on its own (host-gw routes
 * and the service proxy), as kube-proxy and flanneld run beside a kubelet.  `skiffd agent`
 * starts the same code in-process; this front end serves nodes whose containers something
 * else runs, and the network tests and benchmarks. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "client.h"
#include "netagent.h"

static void print_line(const char *line)
{
  fprintf(stderr, "skiffd netagent: %s\n", line);
}

static void usage(FILE *f)
{
  fprintf(f, "usage: skiffd netagent --name NODE [--address IP] [--server URL[,URL...]]\n"
             "                       [--token-file F] [--ca-file F] [--data DIR] [--workers N]\n"
             "                       [--proxy-mode auto|nftables|userspace]\n"
             "  routes every other node's podCIDR via its address (host-gw) and serves every\n"
             "  service's nodePort on 127.0.0.1 and IP, forwarding to ready replicas\n"
             "  --workers N  proxy loops (threads), default one per CPU\n"
             "  --proxy-mode on IP: nftables (kernel DNAT), userspace, auto (default: nftables\n"
             "               when it works here); 127.0.0.1 is served in userspace\n");
}

int netagent_main(int argc, char **argv)
{
  static const struct option opts[] = {
      {"server", required_argument, NULL, 's'},
      {"token", required_argument, NULL, 't'},
      {"token-file", required_argument, NULL, 'T'},
      {"ca-file", required_argument, NULL, 'C'},
      {"data", required_argument, NULL, 'd'},
      {"name", required_argument, NULL, 'n'},
      {"address", required_argument, NULL, 'a'},
      {"workers", required_argument, NULL, 'w'},
      {"proxy-mode", required_argument, NULL, 'M'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *server = NULL, *token = NULL, *token_file = NULL, *data = NULL, *ca_file = NULL;
  cleanup_free char *file_token = NULL, *ca = NULL;
  cleanup_err struct skiff_err *err = NULL;
  struct client_target target = {NULL, NULL};
  struct netagent_config cfg = {NULL, NULL, NULL, NULL, 0, 0, NULL};
  sigset_t sigs;
  int opt, sig = 0;
  char *end = NULL;

  optind = 0;
  while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
    switch (opt)
      {
        case 's':
          server = optarg;
          break;
        case 't':
          /* a secret in argv shows in ps and /proc to every user of the host */
          fprintf(stderr, "skiffd netagent: --token: give the credential by --token-file F or "
                          "$SKIFF_TOKEN, never on the command line\n");
          return 2;
        case 'C':
          ca_file = optarg;
          break;
        case 'T':
          token_file = optarg;
          break;
        case 'd':
          data = optarg;
          break;
        case 'n':
          cfg.node = optarg;
          break;
        case 'a':
          cfg.address = optarg;
          break;
        case 'w':
          cfg.proxy_workers = (int)strtol(optarg, &end, 10);
          if (end == optarg || *end || cfg.proxy_workers < 1 || cfg.proxy_workers > 8)
            {
              fprintf(stderr, "skiffd netagent: --workers `%s`: expected 1..8\n", optarg);
              return 2;
            }
          break;
        case 'M':
          if (!netagent_proxy_mode_valid(optarg))
            {
              fprintf(stderr,
                      "skiffd netagent: --proxy-mode `%s`: expected auto, nftables or "
                      "userspace\n",
                      optarg);
              return 2;
            }
          cfg.proxy_mode = optarg;
          break;
        case 'h':
          usage(stdout);
          return 0;
        default:
          usage(stderr);
          return 2;
      }
  if (optind < argc)
    {
      fprintf(stderr, "skiffd netagent: unexpected argument `%s`\n", argv[optind]);
      return 2;
    }
  if (cfg.node == NULL)
    {
      fprintf(stderr, "skiffd netagent: --name NODE is required\n");
      return 2;
    }
  if (token_file && client_read_token_file(token_file, &file_token, &err) < 0)
    {
      fprintf(stderr, "skiffd netagent: --token-file: %s\n", err->msg);
      return 2;
    }
  if (client_load_target(server, token ? token : file_token, data, &target, &err) < 0
      || client_load_ca(ca_file, data, &ca, &err) < 0)
    {
      fprintf(stderr, "skiffd netagent: %s\n", err->msg);
      client_target_clear(&target);
      return 2;
    }
  client_set_default_ca(ca); /* the cluster CA the server is verified against */
  cfg.server = target.server;
  cfg.token = target.token;

  /* Signals go to this thread only (sigwait below), not to the proxy loops. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  skiff_set_reporter(print_line);
  if (netagent_start(&cfg, &err) < 0)
    {
      fprintf(stderr, "skiffd netagent: %s\n", err->msg);
      client_target_clear(&target);
      return 1;
    }
  fprintf(stderr, "skiffd netagent: node %s, address %s, server %s\n", cfg.node,
          cfg.address ? cfg.address : "(none)", cfg.server);
  while (sigwait(&sigs, &sig) != 0)
    ;
  netagent_stop();
  client_target_clear(&target);
  return 0;
}
