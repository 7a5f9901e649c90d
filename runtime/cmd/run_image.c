/* run_image.c - `skiff run [OPTIONS] IMAGE [CMD...]`: docker-style run of an image
 * (run.c hands over here when the argument is not an OCI bundle run). */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

#include <string.h>
#include <sys/stat.h>

static const struct option run_opts[] = {{"name", required_argument, 0, 'N'},
                                         {"detach", no_argument, 0, 'd'},
                                         {"rm", no_argument, 0, 'R'},
                                         {"env", required_argument, 0, 'e'},
                                         {"publish", required_argument, 0, 'p'},
                                         {"volume", required_argument, 0, 'v'},
                                         {"memory", required_argument, 0, 'm'},
                                         {"cpus", required_argument, 0, 'C'},
                                         {"pids-limit", required_argument, 0, 'P'},
                                         {"hostname", required_argument, 0, 'h'},
                                         {"user", required_argument, 0, 'u'},
                                         {"workdir", required_argument, 0, 'w'},
                                         {"read-only", no_argument, 0, 'r'},
                                         {"net", required_argument, 0, 'n'},
                                         {"network", required_argument, 0, 'n'},
                                         {"entrypoint", required_argument, 0, 'E'},
                                         {"interactive", no_argument, 0, 'i'},
                                         {"tty", no_argument, 0, 't'},
                                         {0, 0, 0, 0}};
#define RUN_SHORT "+de:p:v:m:h:u:w:it"

/* Is this argv a docker-style run?  True unless --bundle/-b is given, or the first
 * positional argument is not an image while ./config.json exists (runc's `run ID`).
 * *image gets the image when it was found (handed on to the run: resolved once). */
bool cmd_run_is_image(int argc, char **argv, struct image_info **image)
{
  *image = NULL;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--bundle") == 0 || strcmp(argv[i], "-b") == 0
        || strncmp(argv[i], "--bundle=", 9) == 0)
      return false;
  optind = 0;
  int saved_opterr = opterr;
  opterr = 0;
  while (getopt_long(argc, argv, RUN_SHORT, run_opts, NULL) != -1)
    ;
  opterr = saved_opterr;
  int first = optind;
  optind = 0;
  if (first >= argc)
    return false;
  if (image_resolve(image_store_root(NULL), argv[first], image, NULL) == 0)
    return true;
  struct stat st;
  return stat("config.json", &st) < 0; /* no bundle here: report the missing image */
}

int cmd_run_image(struct cmd_global *g, int argc, char **argv, struct image_info *image,
                  struct skiff_err **err)
{
  struct managed_run_opts o = {
      .state_root = g->root, .store = image_store_root(NULL), .net = "bridge", .resolved = image};
  cleanup_free char **env = xzalloc((size_t)argc * sizeof(char *));
  cleanup_free char **env_owned = xzalloc((size_t)argc * sizeof(char *)); /* -e KEY copies */
  cleanup_free char **vols = xzalloc((size_t)argc * sizeof(char *));
  cleanup_free struct container_publish *ports = xzalloc((size_t)argc * sizeof(*ports));
  size_t ne = 0, nv = 0, np = 0, no = 0;
  int c, rc = 125; /* docker: a run that fails before the container runs, bad flags included */
  optind = 0;
  while ((c = getopt_long(argc, argv, RUN_SHORT, run_opts, NULL)) != -1)
    {
      switch (c)
        {
          case 'N':
            o.name = optarg;
            break;
          case 'd':
            o.detach = true;
            break;
          case 'R':
            o.autoremove = true;
            break;
          case 'e':
            if (strchr(optarg, '=') == NULL)
              {
                /* docker's -e KEY passes the caller's value */
                const char *v = getenv(optarg);
                if (v == NULL)
                  continue;
                env[ne++] = env_owned[no++] = xasprintf("%s=%s", optarg, v);
              }
            else
              env[ne++] = optarg;
            break;
          case 'p':
            if (proxy_parse_publish(optarg, &ports[np].host_ip, &ports[np].host_port,
                                    &ports[np].container_port, err)
                < 0)
              goto out;
            np++;
            break;
          case 'v':
            vols[nv++] = optarg;
            break;
          case 'm':
            if (skiff_parse_size(optarg, &o.memory, err) < 0)
              {
                skiff_err_prefix(err, "-m");
                goto out;
              }
            if (o.memory < 4 * 1024 * 1024)
              {
                skiff_error(err, 0, "-m `%s`: the minimum memory limit is 4m", optarg);
                goto out;
              }
            break;
          case 'C':
            if (managed_parse_cpus(optarg, &o.cpus, err) < 0)
              goto out;
            break;
          case 'P':
            {
              int n = 0;
              if (cmd_parse_int("--pids-limit", optarg, &n, err) < 0 || n == 0)
                {
                  if (!*err)
                    skiff_error(err, 0, "--pids-limit `%s`: must be above 0", optarg);
                  goto out;
                }
              o.pids_limit = n;
              break;
            }
          case 'h':
            o.hostname = optarg;
            break;
          case 'u':
            o.user = optarg;
            break;
          case 'w':
            if (optarg[0] != '/')
              {
                skiff_error(err, 0, "-w `%s`: must be an absolute path", optarg);
                goto out;
              }
            o.workdir = optarg;
            break;
          case 'r':
            o.read_only = true;
            break;
          case 'n':
            o.net = optarg;
            break;
          case 'E':
            o.entrypoint = optarg;
            break;
          case 'i':
            break; /* stdin is passed through in the foreground */
          case 't':
            skiff_error(err, 0, "-t: a terminal for image runs is not supported yet");
            goto out;
          default:
            skiff_error(err, 0, "usage: skiff run [OPTIONS] IMAGE [CMD...]");
            goto out;
        }
    }
  if (optind >= argc)
    {
      skiff_error(err, 0, "usage: skiff run [OPTIONS] IMAGE [CMD...]");
      goto out;
    }
  o.image = argv[optind];
  o.cmd = argv + optind + 1;
  o.env = env;
  o.volumes = vols;
  o.ports = ports;
  o.n_ports = np;
  int code = 0;
  char *name = NULL;
  if (managed_run(&o, &code, &name, err) < 0)
    rc = 125; /* docker's code for "the run itself failed" */
  else
    rc = code;
  if (name && o.detach && rc == 0)
    printf("%s\n", name);
  free(name);
out:
  image_info_free(image);
  for (size_t i = 0; i < np; i++)
    free(ports[i].host_ip);
  for (size_t i = 0; i < no; i++)
    free(env_owned[i]);
  return rc;
}
