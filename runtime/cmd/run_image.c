/* run_image.c - `skiff run [OPTIONS] IMAGE [CMD...]`: docker-style run of an image
 * (run.c hands over here when the argument is not an OCI bundle run). */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
                                         {"pull", required_argument, 0, 'L'},
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
  if (image_ref_has_registry(argv[first]))
    return true; /* HOST/REPO is never a container id */
  struct stat st;
  return stat("config.json", &st) < 0; /* no bundle here: report the missing image */
}

/* Options only runc's `run ID` takes: their values (a pid file `run.d/pid`) must never be
 * taken for an image to pull. */
static const char *const runc_only[]
    = {"--bundle",       "-b",     "--pid-file", "--console-socket",
       "--preserve-fds", "--keep", "--no-pivot", "--no-new-keyring"};

int cmd_run_pull(int argc, char **argv, struct skiff_err **err)
{
  for (int i = 1; i < argc; i++)
    for (size_t k = 0; k < sizeof(runc_only) / sizeof(runc_only[0]); k++)
      {
        size_t n = strlen(runc_only[k]);
        if (strncmp(argv[i], runc_only[k], n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
          return 0;
      }
  const char *policy = "missing";
  optind = 0;
  int c, saved_opterr = opterr;
  opterr = 0;
  while ((c = getopt_long(argc, argv, RUN_SHORT, run_opts, NULL)) != -1)
    if (c == 'L')
      policy = optarg;
  opterr = saved_opterr;
  int first = optind;
  optind = 0;
  if (strcmp(policy, "always") != 0 && strcmp(policy, "missing") != 0
      && strcmp(policy, "never") != 0)
    return skiff_error(err, 0, "--pull `%s`: expected always, missing or never", policy);
  if (first >= argc || strcmp(policy, "never") == 0)
    return 0;
  const char *ref = argv[first];
  if (!image_ref_has_registry(ref))
    {
      if (strcmp(policy, "always") == 0)
        return skiff_error(err, 0,
                           "--pull always: `%s` names no registry (a name without HOST/ is an "
                           "image of the local store)",
                           ref);
      return 0;
    }
  struct image_info *have = NULL;
  if (strcmp(policy, "missing") == 0
      && image_resolve(image_store_root(NULL), ref, &have, NULL) == 0)
    {
      image_info_free(have);
      return 0;
    }
  cleanup_free char *tool = cmd_image_tool(err);
  if (tool == NULL)
    return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    return skiff_error(err, errno, "fork");
  if (pid == 0)
    {
      /* stdout belongs to the container (or to -d's name): progress goes to stderr */
      dup2(STDERR_FILENO, STDOUT_FILENO);
      skiff_close_fds_from(3, NULL, 0, NULL); /* nothing of the caller's but stdio */
      execl(tool, tool, "pull", ref, (char *)NULL);
      fprintf(stderr, "skiff run: exec `%s`: %s\n", tool, strerror(errno));
      _exit(127);
    }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return skiff_error(err, errno, "waitpid");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  return CMD_REPORTED; /* skiff-image printed the pull's one-line error */
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
          case 'L':
            break; /* done before the sealed re-exec: cmd_run_pull */
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
