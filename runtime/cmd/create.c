/* create.c - `skiff create`: set the container up and leave its process waiting.  Also
 * the option parsing that create and run share (runc's flags). */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <string.h>

#define CREATE_FLAGS                                                                               \
  {"bundle", 'b', "DIR", "the bundle: config.json and the rootfs (default: .)"},                   \
      {"pid-file", CMD_LONG(1), "FILE", "write the init's pid (host pid namespace) to FILE"},      \
      {"console-socket", CMD_LONG(2), "PATH",                                                      \
       "AF_UNIX socket that receives the pty master (process.terminal)"},                          \
      {"preserve-fds", CMD_LONG(3), "N", "pass fds 3 .. 3+N-1 on into the container"},             \
      {"no-pivot", CMD_LONG(4), NULL, "accepted for runc compatibility (skiff always pivots)"},    \
  {                                                                                                \
    "no-new-keyring", CMD_LONG(5), NULL, "accepted for runc compatibility"                         \
  }

static const struct cmd_flag create_flags[] = {CREATE_FLAGS, {0}};

const struct cmd_flag cmd_run_bundle_flags[]
    = {{NULL, 0, NULL, "OCI bundle (runc's run: `skiff run [--bundle DIR] ... ID`):"},
       CREATE_FLAGS,
       {"detach", 'd', NULL, "return once started (no wait, no delete)"},
       {"keep", CMD_LONG(6), NULL, "keep the state after the container exits"},
       {0}};

static int create_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
const struct cmd_verb cmd_verb_create
    = {.name = "create",
       .fn = create_main,
       .usage = "create [OPTIONS] ID",
       .summary = "Create a container from a bundle; its process waits for `skiff start`.",
       .flags = create_flags};

int cmd_parse_container_opts(const struct cmd_verb *v, int argc, char **argv,
                             struct container_opts *o, struct skiff_err **err)
{
  bool is_run = v == &cmd_verb_run;
  int c;
  optind = 0;
  while ((c = cmd_getopt(argc, argv, is_run ? cmd_run_bundle_flags : create_flags, false)) != -1)
    switch (c)
      {
        case 'b':
          o->bundle = optarg;
          break;
        case CMD_LONG(1):
          o->pid_file = optarg;
          break;
        case CMD_LONG(2):
          o->console_socket = optarg;
          break;
        case CMD_LONG(3):
          if (cmd_parse_int("--preserve-fds", optarg, &o->preserve_fds, err) < 0)
            return -1;
          break;
        case CMD_LONG(4):
        case CMD_LONG(5):
          break; /* accepted for runc compatibility */
        case 'd':
          o->detach = true;
          break;
        case CMD_LONG(6):
          o->keep = true;
          break;
        default:
          cmd_bad_flag(v, argc, argv, err);
          return -1;
      }
  return cmd_one_id(v->name, argc, argv, &o->id, err);
}

static int create_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  struct container_opts o = {.root = g->root, .bundle = "."};
  if (cmd_parse_container_opts(&cmd_verb_create, argc, argv, &o, err) < 0)
    return 2;
  return container_create(&o, err) < 0 ? 1 : 0;
}
