/* run_image.c - `skiff run [OPTIONS] IMAGE [CMD...]`: docker-style run of an image
 * (run.c hands over here when the argument is not an OCI bundle run). */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"
#include "restart.h"

#include <errno.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/wait.h>

const struct cmd_flag cmd_run_image_flags[]
    = {{NULL, 0, NULL, "Image (docker's run: `skiff run [OPTIONS] IMAGE [CMD...]`):"},
       {"name", CMD_LONG(20), "NAME", "container name (default IMAGE-<6 hex>)"},
       {"detach", 'd', NULL, "run in the background and print the name"},
       {"rm", CMD_LONG(21), NULL, "remove the container when it exits"},
       {"env", 'e', "KEY=VALUE", "set an environment variable (KEY alone: the caller's value)"},
       {"env-file", CMD_LONG(22), "FILE", "read KEY=VALUE lines (# comments) from FILE"},
       {"label", 'l', "KEY=VALUE", "attach a label (see ps --filter label=...)"},
       {"publish", 'p', "[IP:]HOST:CTR[/tcp]", "publish a container port on the host"},
       {"volume", 'v', "HOST:CTR[:ro]", "bind-mount a host path"},
       {"memory", 'm', "SIZE", "memory limit (64m, 1g; at least 4m)"},
       {"cpus", CMD_LONG(23), "N", "CPU quota in CPUs (0.5)"},
       {"pids-limit", CMD_LONG(24), "N", "maximum number of processes"},
       {"hostname", 'h', "NAME", "the container's hostname (default: its name)"},
       {"user", 'u', "USER[:GROUP]", "a name (the image's /etc/passwd, /etc/group) or an id"},
       {"workdir", 'w', "DIR", "working directory inside the container"},
       {"read-only", CMD_LONG(25), NULL, "mount the root filesystem read-only"},
       {"net", CMD_LONG(26), "bridge|none|host", "network (default bridge)"},
       {"network", CMD_LONG(27), "bridge|none|host", "same as --net"},
       {"entrypoint", CMD_LONG(28), "CMD", "override the image's entrypoint"},
       {"restart", CMD_LONG(29), "POLICY",
        "no, always, unless-stopped, on-failure[:N]: the monitor restarts it, with back-off"},
       {"pull", CMD_LONG(30), "always|missing|never",
        "pull a HOST/REPO reference first (default missing: when the store lacks it)"},
       {"interactive", 'i', NULL, "keep stdin open (it always is in the foreground)"},
       {"tty", 't', NULL, "a pseudo-terminal for the process, proxied to yours"},
       {0}};

/* Is this argv a docker-style run?  True unless --bundle/-b is given, or the first
 * positional argument is not an image while ./config.json exists (runc's `run ID`).
 * *image gets the image when it was found (handed on to the run: resolved once). */
/* Scan run's argv with the image form's flags: *first gets the first operand (argc if none),
 * *pull the --pull value; true when a flag only runc's form has (--pid-file, --keep ...) is
 * there, or --bundle: then it is runc's run, and its values are no image to pull. */
static bool scan_run_args(int argc, char **argv, int *first, const char **pull)
{
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--bundle") == 0 || strcmp(argv[i], "-b") == 0
        || strncmp(argv[i], "--bundle=", 9) == 0)
      return true;
  optind = 0;
  int saved_opterr = opterr, c;
  bool bundle_flag = false;
  opterr = 0;
  while ((c = cmd_getopt(argc, argv, cmd_run_image_flags, false)) != -1)
    if (c == CMD_LONG(30) && pull)
      *pull = optarg;
    else if (c == '?' && strncmp(argv[optind - 1], "--", 2) == 0)
      for (size_t i = 0; cmd_run_bundle_flags[i].help; i++)
        if (cmd_run_bundle_flags[i].name
            && strncmp(argv[optind - 1] + 2, cmd_run_bundle_flags[i].name,
                       strcspn(argv[optind - 1] + 2, "="))
                   == 0)
          bundle_flag = true;
  opterr = saved_opterr;
  *first = optind;
  optind = 0;
  return bundle_flag;
}

bool cmd_run_is_image(int argc, char **argv, struct image_info **image)
{
  *image = NULL;
  int first;
  if (scan_run_args(argc, argv, &first, NULL))
    return false;
  struct stat st;
  if (first >= argc) /* no operand: the usage error of docker's form, unless a bundle is here */
    return stat("config.json", &st) < 0;
  if (image_resolve(image_store_root(NULL), argv[first], image, NULL) == 0)
    return true;
  if (image_ref_has_registry(argv[first]))
    return true;                       /* HOST/REPO is never a container id */
  return stat("config.json", &st) < 0; /* no bundle here: report the missing image */
}

int cmd_run_pull(int argc, char **argv, struct skiff_err **err)
{
  const char *policy = "missing";
  int first;
  if (scan_run_args(argc, argv, &first, &policy))
    return 0;
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

/* Growing NULL-terminated lists of borrowed or owned strings. */
struct strv
{
  char **v;
  size_t n;
};

static void strv_add(struct strv *l, char *s)
{
  l->v = xrealloc(l->v, (l->n + 2) * sizeof(char *));
  l->v[l->n++] = s;
  l->v[l->n] = NULL;
}

/* -e KEY=VALUE, or KEY alone: the caller's value (docker's), skipped when unset. */
static void add_env(struct strv *env, struct strv *owned, const char *kv)
{
  if (strchr(kv, '='))
    {
      strv_add(env, (char *)kv);
      return;
    }
  const char *v = getenv(kv);
  if (v == NULL)
    return;
  char *s = xasprintf("%s=%s", kv, v);
  strv_add(owned, s);
  strv_add(env, s);
}

static int add_env_file(struct strv *env, struct strv *owned, const char *path,
                        struct skiff_err **err)
{
  cleanup_free char *text = NULL;
  if (skiff_read_file(path, &text, NULL, err) < 0)
    return skiff_err_prefix(err, "--env-file");
  char **lines = NULL;
  if (managed_parse_env_file(text, path, &lines, err) < 0)
    return -1;
  for (size_t i = 0; lines[i]; i++)
    {
      strv_add(owned, lines[i]);
      add_env(env, owned, lines[i]);
    }
  free(lines);
  return 0;
}

/* What the flags make: the run's options and the lists they point into. */
struct run_args
{
  struct managed_run_opts o;
  struct strv env, owned, vols, labels;
  struct container_publish *ports;
  size_t np;
};

static int parse_run_flags(int argc, char **argv, struct run_args *a, struct skiff_err **err)
{
  struct managed_run_opts *o = &a->o;
  struct strv *env = &a->env, *owned = &a->owned;
  int c;
  optind = 0;
  while ((c = cmd_getopt(argc, argv, cmd_run_image_flags, false)) != -1)
    {
      switch (c)
        {
          case CMD_LONG(20):
            if (managed_validate_name(optarg, err) < 0)
              return -1;
            o->name = optarg;
            break;
          case 'd':
            o->detach = true;
            break;
          case CMD_LONG(21):
            o->autoremove = true;
            break;
          case 'e':
            add_env(env, owned, optarg);
            break;
          case CMD_LONG(22):
            if (add_env_file(env, owned, optarg, err) < 0)
              return -1;
            break;
          case 'l':
            if (optarg[0] == '=' || optarg[0] == '\0')
              return skiff_error(err, 0, "--label `%s`: expected KEY=VALUE", optarg);
            strv_add(&a->labels, optarg);
            break;
          case 'p':
            if (proxy_parse_publish(optarg, &a->ports[a->np].host_ip, &a->ports[a->np].host_port,
                                    &a->ports[a->np].container_port, err)
                < 0)
              return -1;
            a->np++;
            break;
          case 'v':
            strv_add(&a->vols, optarg);
            break;
          case 'm':
            if (skiff_parse_size(optarg, &o->memory, err) < 0)
              return skiff_err_prefix(err, "-m");
            if (o->memory < 4 * 1024 * 1024)
              return skiff_error(err, 0, "-m `%s`: the minimum memory limit is 4m", optarg);
            break;
          case CMD_LONG(23):
            if (managed_parse_cpus(optarg, &o->cpus, err) < 0)
              return -1;
            break;
          case CMD_LONG(24):
            {
              int n = 0;
              if (cmd_parse_int("--pids-limit", optarg, &n, err) < 0)
                return -1;
              if (n == 0)
                return skiff_error(err, 0, "--pids-limit `%s`: must be above 0", optarg);
              o->pids_limit = n;
              break;
            }
          case 'h':
            o->hostname = optarg;
            break;
          case 'u':
            o->user = optarg;
            break;
          case 'w':
            if (optarg[0] != '/')
              return skiff_error(err, 0, "-w `%s`: must be an absolute path", optarg);
            o->workdir = optarg;
            break;
          case CMD_LONG(25):
            o->read_only = true;
            break;
          case CMD_LONG(26):
          case CMD_LONG(27):
            o->net = optarg;
            break;
          case CMD_LONG(28):
            o->entrypoint = optarg;
            break;
          case CMD_LONG(29):
            if (restart_parse_policy(optarg, &o->restart, err) < 0)
              return -1;
            break;
          case 'i':
            break; /* stdin is passed through in the foreground */
          case 't':
            o->tty = true;
            break;
          case CMD_LONG(30):
            break; /* done before the sealed re-exec: cmd_run_pull */
          default:
            return cmd_bad_flag(&cmd_verb_run, argc, argv, err), -1;
        }
    }
  if (optind >= argc)
    return cmd_usage_error(&cmd_verb_run, NULL, err), -1;
  if (o->tty && !isatty(STDIN_FILENO))
    return skiff_error(err, 0,
                       "-t: the input device is not a TTY (run without -t, or from a "
                       "terminal)");
  if (o->autoremove && o->restart.policy != CONTAINER_RESTART_NO)
    return skiff_error(err, 0,
                       "--rm and --restart conflict: a container that restarts is never "
                       "removed on exit");
  o->image = argv[optind];
  o->cmd = argv + optind + 1;
  o->env = env->v;
  o->volumes = a->vols.v;
  o->labels = a->labels.v;
  o->ports = a->ports;
  o->n_ports = a->np;
  return 0;
}

int cmd_run_image(struct cmd_global *g, int argc, char **argv, struct image_info *image,
                  struct skiff_err **err)
{
  struct run_args a = {.o = {.state_root = g->root,
                             .store = image_store_root(NULL),
                             .net = "bridge",
                             .resolved = image},
                       .ports = xzalloc((size_t)argc * sizeof(struct container_publish))};
  int rc = 125; /* docker: a run that fails before the container runs, bad flags included */
  if (parse_run_flags(argc, argv, &a, err) == 0)
    {
      int code = 0;
      char *name = NULL;
      if (managed_run(&a.o, &code, &name, err) == 0)
        rc = code;
      if (name && a.o.detach && rc == 0)
        printf("%s\n", name);
      free(name);
    }
  image_info_free(image);
  for (size_t i = 0; i < a.np; i++)
    free(a.ports[i].host_ip);
  free(a.ports);
  for (size_t i = 0; i < a.owned.n; i++)
    free(a.owned.v[i]);
  free(a.owned.v);
  free(a.env.v);
  free(a.vols.v);
  free(a.labels.v);
  return rc;
}
