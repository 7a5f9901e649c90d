/* exec.c - `skiff exec ID CMD...`: run a command inside a running container; runc's
 * `exec --process FILE` (how engines run their exec) takes the whole process from FILE. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <errno.h>
#include <string.h>

static const struct cmd_flag exec_flags[]
    = {{"env", 'e', "KEY=VALUE", "add an environment variable"},
       {"cwd", CMD_LONG(1), "DIR", "working directory inside the container"},
       {"workdir", 'w', "DIR", "same as --cwd"},
       {"user", 'u', "UID[:GID]", "run as this user"},
       {"detach", 'd', NULL, "return once the process started (print nothing, wait for nothing)"},
       {"pid-file", CMD_LONG(2), "FILE", "write the process's pid (host pid namespace) to FILE"},
       {"preserve-fds", CMD_LONG(3), "N", "pass fds 3 .. 3+N-1 on to the process"},
       {"process", 'p', "FILE", "the OCI process (JSON) to run, instead of CMD and the flags"},
       {"console-socket", CMD_LONG(4), "PATH", "with a terminal: send the pty master there"},
       {"tty", 't', NULL, "a pseudo-terminal, proxied to yours (needs a terminal on stdin)"},
       {"interactive", 'i', NULL, "keep stdin open (it always is)"},
       {0}};

static int exec_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  struct container_exec_opts eo = {0};
  cleanup_free char **env = xzalloc((size_t)argc * sizeof(char *));
  const char *process_file = NULL;
  size_t nenv = 0;
  int c;
  while ((c = cmd_getopt(argc, argv, exec_flags, false)) != -1)
    switch (c)
      {
        case 'e':
          if (strchr(optarg, '=') == NULL)
            return skiff_error(err, 0, "--env `%s`: expected KEY=VALUE", optarg), 2;
          env[nenv++] = optarg;
          break;
        case CMD_LONG(1):
        case 'w':
          eo.cwd = optarg;
          break;
        case 'u':
          eo.user = optarg;
          break;
        case 'd':
          eo.detach = true;
          break;
        case CMD_LONG(2):
          eo.pid_file = optarg;
          break;
        case CMD_LONG(3):
          if (cmd_parse_int("--preserve-fds", optarg, &eo.preserve_fds, err) < 0)
            return 2;
          break;
        case 'p':
          process_file = optarg;
          break;
        case CMD_LONG(4):
          eo.console_socket = optarg;
          break;
        case 't':
          eo.tty = true;
          break;
        case 'i':
          break; /* stdin is always passed through */
        default:
          return cmd_bad_flag(&cmd_verb_exec, argc, argv, err);
      }
  if (argc - optind < (process_file ? 1 : 2))
    return cmd_usage_error(&cmd_verb_exec, NULL, err);
  /* docker's answer to `exec -it` from a script: refuse instead of hanging */
  if (eo.tty && !eo.console_socket && !eo.detach && !isatty(STDIN_FILENO))
    return skiff_error(err, 0,
                       "-t: the input device is not a TTY (run without -t, or from a "
                       "terminal)"),
           2;
  struct skiff_process *proc = NULL;
  if (process_file)
    {
      cleanup_free char *text = NULL;
      size_t len = 0;
      if (skiff_read_file(process_file, &text, &len, err) < 0
          || spec_parse_process(text, len, &proc, err) < 0)
        return skiff_err_prefix(err, "--process `%s`", process_file), 2;
      eo.process = proc;
    }
  eo.env = env;
  eo.args = argv + optind + 1;
  int code = 0;
  int r = container_exec(g->root, argv[optind], &eo, &code, err);
  spec_process_free(proc);
  if (r < 0)
    {
      /* docker's codes: the command was not found (127) or could not be run (126) */
      int st = *err ? (*err)->status : 0;
      return st == ENOENT ? 127 : (st == EACCES || st == ENOEXEC || st == EPERM) ? 126 : 1;
    }
  return code;
}

const struct cmd_verb cmd_verb_exec
    = {.name = "exec",
       .fn = exec_main,
       .usage = "exec [OPTIONS] ID CMD [ARG...]\n  skiff exec [OPTIONS] --process FILE ID",
       .summary
       = "Run a process in a running container: its namespaces, cgroup, capabilities and seccomp.",
       .flags = exec_flags};
