/* hooks.c - run OCI hooks (see hooks.h).  A hook is a host program (or, for
 * startContainer, a program inside the container): fork, exec with its args and env,
 * feed the state on stdin, wait with the hook's timeout. */
#define _GNU_SOURCE
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static int run_one(const struct skiff_hook *h, const char *kind, const char *state_json,
                   struct skiff_err **err)
{
  int in[2];
  if (pipe2(in, O_CLOEXEC) < 0)
    return skiff_error(err, errno, "%s hook `%s`: pipe", kind, h->path);
  pid_t pid = fork();
  if (pid < 0)
    {
      close(in[0]);
      close(in[1]);
      return skiff_error(err, errno, "%s hook `%s`: fork", kind, h->path);
    }
  if (pid == 0)
    {
      /* stdin: the state; stdout: /dev/null (a hook's output must not mix with ours, the
       * state JSON); stderr stays ours.  Flags cleared: dup2 onto itself keeps CLOEXEC. */
      int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (devnull < 0 || dup2(in[0], 0) < 0 || dup2(devnull, 1) < 0 || fcntl(0, F_SETFD, 0) < 0
          || fcntl(1, F_SETFD, 0) < 0)
        _exit(127);
      /* CVE-2024-21626: no fd of ours past stdio reaches a hook (a startContainer hook runs
       * inside the container, where a host fd is a way out) */
      if (skiff_close_fds_from(3, NULL, 0, NULL) < 0)
        _exit(127);
      char *const empty[] = {NULL};
      char *argv0[] = {h->path, NULL};
      execve(h->path, h->args && h->args[0] ? h->args : argv0, h->env ? h->env : empty);
      _exit(127);
    }
  close(in[0]);
  /* SIGPIPE when the hook does not read its stdin: ignore it for this write */
  struct sigaction ign = {.sa_handler = SIG_IGN}, old;
  sigaction(SIGPIPE, &ign, &old);
  skiff_write_all(in[1], state_json, strlen(state_json));
  close(in[1]);
  sigaction(SIGPIPE, &old, NULL);

  long long deadline = h->has_timeout && h->timeout > 0 ? skiff_now_ms() + h->timeout * 1000LL : 0;
  int status = 0;
  for (;;)
    {
      pid_t r = waitpid(pid, &status, deadline ? WNOHANG : 0);
      if (r == pid)
        break;
      if (r < 0 && errno != EINTR)
        return skiff_error(err, errno, "%s hook `%s`: waitpid", kind, h->path);
      if (deadline && skiff_now_ms() > deadline)
        {
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          return skiff_error(err, 0, "%s hook `%s`: timed out after %d s", kind, h->path,
                             h->timeout);
        }
      if (deadline)
        poll(NULL, 0, 5);
    }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return skiff_error(err, 0, "%s hook `%s`: cannot execute (exit 127)", kind, h->path);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return skiff_error(err, 0, "%s hook `%s`: exited with status %d", kind, h->path,
                       WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return skiff_error(err, 0, "%s hook `%s`: killed by signal %d", kind, h->path,
                       WTERMSIG(status));
  return 0;
}

int hooks_run(const struct skiff_spec *spec, enum skiff_hook_kind kind, const char *state_json,
              struct skiff_err **err)
{
  for (size_t i = 0; i < spec->n_hooks[kind]; i++)
    if (run_one(&spec->hooks[kind][i], spec_hook_kind_name(kind), state_json, err) < 0)
      return -1;
  return 0;
}
