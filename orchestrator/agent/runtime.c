/* runtime.c - the agent's side of the runtime driver (see runtime.h): spawn the helper,
 * send it requests, read its answers.  Used by the sync loop's thread only. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct rt
{
  int sock;
  pid_t pid;
  uint64_t next_id;
  char *buf; /* bytes read, not yet a whole line */
  size_t len, cap;
};

int rt_start(const struct rt_config *cfg, struct rt **out, struct skiff_err **err)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return skiff_error(err, errno, "socketpair for the runtime helper");
  /* fd 3 in the helper: dup2 onto 3 only clears FD_CLOEXEC when the numbers differ */
  if (sv[1] == 3)
    {
      int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
      close(sv[1]);
      sv[1] = moved;
    }
  char logmax[32];
  snprintf(logmax, sizeof(logmax), "%lld", cfg->log_max);
  char *const argv[] = {(char *)"skiffd",
                        (char *)"agent-runtime",
                        (char *)"--node",
                        (char *)cfg->node,
                        (char *)"--state-root",
                        (char *)cfg->state_root,
                        (char *)"--image-root",
                        (char *)cfg->image_root,
                        (char *)"--data-root",
                        (char *)cfg->data_root,
                        (char *)"--log-dir",
                        (char *)cfg->log_dir,
                        (char *)"--log-max",
                        logmax,
                        (char *)"--bridge",
                        (char *)cfg->bridge,
                        (char *)"--subnet",
                        (char *)cfg->subnet,
                        (char *)"--net-dir",
                        (char *)cfg->net_dir,
                        NULL};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGHUP);
  sigaddset(&defaults, SIGPIPE);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  pid_t pid = 0;
  /* /proc/self/exe: the binary this agent runs, wherever it was installed */
  int r = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(sv[1]);
  if (r != 0)
    {
      close(sv[0]);
      return skiff_error(err, r, "spawn the runtime helper `/proc/self/exe agent-runtime`");
    }
  int fl = fcntl(sv[0], F_GETFL);
  fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
  struct rt *rt = xzalloc(sizeof(*rt));
  rt->sock = sv[0];
  rt->pid = pid;
  rt->next_id = 1;
  *out = rt;
  return 0;
}

int rt_fd(const struct rt *rt)
{
  return rt->sock;
}

pid_t rt_pid(const struct rt *rt)
{
  return rt->pid;
}

void rt_free(struct rt *rt)
{
  if (rt == NULL)
    return;
  if (rt->sock >= 0)
    close(rt->sock);
  if (rt->pid > 0)
    {
      /* EOF on its socket makes it exit at once; containers stay with their monitors */
      for (int i = 0; i < 200 && waitpid(rt->pid, NULL, WNOHANG) == 0; i++)
        usleep(10000);
      if (waitpid(rt->pid, NULL, WNOHANG) == 0)
        {
          kill(rt->pid, SIGKILL);
          waitpid(rt->pid, NULL, 0);
        }
    }
  free(rt->buf);
  free(rt);
}

/* Write the whole line; the socket is non-blocking for reads, so wait when it is full. */
static uint64_t send_request(struct rt *rt, json_t *req, struct skiff_err **err)
{
  uint64_t id = rt->next_id++;
  json_object_set_new(req, "id", json_integer((json_int_t)id));
  char *text = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  cleanup_free char *line = xasprintf("%s\n", text);
  free(text);
  size_t len = strlen(line), off = 0;
  while (off < len)
    {
      ssize_t n = send(rt->sock, line + off, len - off, MSG_NOSIGNAL);
      if (n > 0)
        {
          off += (size_t)n;
          continue;
        }
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          struct timespec ts = {0, 1000000};
          nanosleep(&ts, NULL);
          continue;
        }
      skiff_error(err, errno, "send to the runtime helper (pid %d)", (int)rt->pid);
      return 0;
    }
  return id;
}

uint64_t rt_run(struct rt *rt, const struct rt_run_req *req, struct skiff_err **err)
{
  json_t *j = json_pack("{s:s,s:s,s:s,s:O,s:O,s:I,s:f}", "op", "run", "name", req->name, "image",
                        req->image, "command", req->command, "env", req->env, "memory",
                        (json_int_t)req->memory, "cpus", req->cpus);
  return send_request(rt, j, err);
}

uint64_t rt_signal(struct rt *rt, const char *name, int sig, bool all, struct skiff_err **err)
{
  return send_request(
      rt, json_pack("{s:s,s:s,s:i,s:b}", "op", "signal", "name", name, "signal", sig, "all", all),
      err);
}

uint64_t rt_remove(struct rt *rt, const char *name, struct skiff_err **err)
{
  return send_request(rt, json_pack("{s:s,s:s}", "op", "remove", "name", name), err);
}

uint64_t rt_exec(struct rt *rt, const char *name, char *const *argv, double timeout,
                 struct skiff_err **err)
{
  json_t *a = json_array();
  for (size_t i = 0; argv && argv[i]; i++)
    json_array_append_new(a, json_string(argv[i]));
  return send_request(
      rt, json_pack("{s:s,s:s,s:o,s:f}", "op", "exec", "name", name, "argv", a, "timeout", timeout),
      err);
}

int rt_read(struct rt *rt, json_t **reply, struct skiff_err **err)
{
  *reply = NULL;
  for (;;)
    {
      char *nl = rt->len ? memchr(rt->buf, '\n', rt->len) : NULL;
      if (nl)
        {
          size_t n = (size_t)(nl - rt->buf);
          *reply = json_loadb(rt->buf, n, 0, NULL);
          memmove(rt->buf, nl + 1, rt->len - n - 1);
          rt->len -= n + 1;
          if (*reply == NULL)
            continue; /* cannot happen with our helper; skip rather than stall */
          return 1;
        }
      if (rt->cap - rt->len < 65536)
        rt->buf = xrealloc(rt->buf, rt->cap = rt->cap * 2 + 65536);
      ssize_t n = recv(rt->sock, rt->buf + rt->len, rt->cap - rt->len, 0);
      if (n > 0)
        {
          rt->len += (size_t)n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return 0;
      return skiff_error(err, n < 0 ? errno : 0, "runtime helper (pid %d) %s", (int)rt->pid,
                         n == 0 ? "exited" : "socket failed");
    }
}

uint64_t rt_pull(struct rt *rt, const char *image, struct skiff_err **err)
{
  return send_request(rt, json_pack("{s:s,s:s}", "op", "pull", "image", image), err);
}
