/* container_ops.c - verbs on an existing container: kill, delete, pids, exec. */
#define _GNU_SOURCE
#include "container.h"
#include "caps.h"
#include "cgroup.h"
#include "hooks.h"
#include "managed.h"
#include "ns.h"
#include "seccomp.h"
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

int container_load_saved_spec(const char *root, const char *id, struct skiff_spec **spec,
                              struct skiff_err **err)
{
  cleanup_free char *path = xasprintf("%s/%s/config.json", root, id);
  cleanup_free char *text = NULL;
  if (skiff_read_file(path, &text, NULL, err) < 0)
    return -1;
  return spec_parse(text, strlen(text), spec, err);
}

static const char *cgroup_path_of(const struct skiff_state *st, char **tmp)
{
  if (st->cgroup_path)
    return st->cgroup_path;
  *tmp = xasprintf("/skiff/%s", st->id);
  return *tmp;
}

int container_kill(const char *root, const char *id, int sig, bool all, struct skiff_err **err)
{
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  enum skiff_status s = state_status(root, st);
  if (s != SKIFF_STATUS_CREATED && s != SKIFF_STATUS_RUNNING)
    return skiff_error(err, 0, "cannot kill container `%s`: it is %s", id, state_status_name(s));
  if (all)
    {
      cleanup_free char *tmp = NULL;
      struct skiff_cgroup *cg = NULL;
      if (cgroup_new(cgroup_path_of(st, &tmp), &cg, err) < 0)
        return -1;
      int r = cgroup_kill(cg, sig, err);
      cgroup_free(cg);
      return r;
    }
  if (kill(st->pid, sig) < 0)
    return skiff_error(err, errno, "kill pid %d of container `%s`", (int)st->pid, id);
  return 0;
}

static void wait_gone(pid_t pid, unsigned long long start, int timeout_ms)
{
  long long deadline = skiff_now_ms() + timeout_ms;
  while (state_pid_alive(pid, start) && skiff_now_ms() < deadline)
    {
      /* our own child (foreground run)? reap it */
      if (waitpid(pid, NULL, WNOHANG) == pid)
        break;
      poll(NULL, 0, 2);
    }
}

int container_delete(const char *root, const char *id, bool force, struct skiff_err **err)
{
  cleanup_close int lock = state_lock(root, id, err);
  if (lock < 0)
    return -1;
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  enum skiff_status s = state_status(root, st);
  if (s == SKIFF_STATUS_RUNNING && !force)
    return skiff_error(err, 0,
                       "cannot delete container `%s`: it is running (stop it or use --force)", id);
  cleanup_free char *tmp = NULL;
  struct skiff_cgroup *cg = NULL;
  if (cgroup_new(cgroup_path_of(st, &tmp), &cg, err) < 0)
    return -1;
  if (s != SKIFF_STATUS_STOPPED)
    {
      cgroup_kill(cg, SIGKILL, NULL);
      if (st->pid > 0 && state_pid_alive(st->pid, st->start_time))
        kill(st->pid, SIGKILL);
    }
  if (st->pid > 0)
    wait_gone(st->pid, st->start_time, 5000);

  cleanup_spec struct skiff_spec *spec = NULL;
  if (container_load_saved_spec(root, id, &spec, NULL) == 0 && spec->n_hooks[SKIFF_HOOK_POSTSTOP])
    {
      cleanup_free char *json = state_oci_json(root, st);
      struct skiff_err *herr = NULL;
      /* the spec: a failing poststop hook is logged and delete goes on */
      if (hooks_run(spec, SKIFF_HOOK_POSTSTOP, json, &herr) < 0)
        {
          skiff_report("warning: %s", herr->msg);
          skiff_err_free(&herr);
        }
    }
  int r = cgroup_destroy(cg, err);
  cgroup_free(cg);
  /* a container run from an image holds a veth and an address lease */
  managed_release_network(st->annotations);
  if (r < 0)
    return skiff_err_prefix(err, "delete container `%s`", id);
  /* the monitor writes exit.json and leaves right after its init: let it finish so no
     process of ours outlives the delete */
  if (st->monitor_pid > 0 && st->monitor_pid != getpid())
    {
      long long deadline = skiff_now_ms() + 2000;
      char path[64];
      snprintf(path, sizeof(path), "/proc/%d/comm", (int)st->monitor_pid);
      while (skiff_now_ms() < deadline)
        {
          cleanup_free char *comm = NULL;
          if (skiff_read_file(path, &comm, NULL, NULL) < 0 || strncmp(comm, "skiff-monitor", 13))
            break;
          if (state_proc_start_time(st->monitor_pid) == 0)
            break; /* zombie */
          poll(NULL, 0, 2);
        }
    }
  return state_remove(root, id, err);
}

int container_pids(const char *root, const char *id, pid_t **pids, size_t *n,
                   struct skiff_err **err)
{
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  cleanup_free char *tmp = NULL;
  struct skiff_cgroup *cg = NULL;
  if (cgroup_new(cgroup_path_of(st, &tmp), &cg, err) < 0)
    return -1;
  int r = cgroup_pids(cg, pids, n, err);
  cgroup_free(cg);
  return r;
}

static char **strv_concat(char **a, char **b)
{
  size_t na = 0, nb = 0;
  while (a && a[na])
    na++;
  while (b && b[nb])
    nb++;
  char **r = xzalloc((na + nb + 1) * sizeof(char *));
  memcpy(r, a, na * sizeof(char *));
  if (nb)
    memcpy(r + na, b, nb * sizeof(char *));
  return r;
}

static int parse_user(const char *s, struct skiff_user *u, struct skiff_err **err)
{
  char *end = NULL;
  errno = 0;
  unsigned long uid = strtoul(s, &end, 10);
  if (errno || end == s || (*end && *end != ':'))
    return skiff_error(err, 0, "--user `%s`: expected UID[:GID]", s);
  u->uid = (uid_t)uid;
  if (*end == ':')
    {
      const char *g = end + 1;
      unsigned long gid = strtoul(g, &end, 10);
      if (end == g || *end)
        return skiff_error(err, 0, "--user `%s`: expected UID[:GID]", s);
      u->gid = (gid_t)gid;
    }
  u->n_additional_gids = 0;
  u->additional_gids = NULL;
  return 0;
}

/* The exec'd process: in the container's namespaces and cgroup, with the spec's caps,
 * seccomp and no_new_privs.  Runs in the child; never returns. */
static void __attribute__((noreturn))
exec_child(const struct skiff_spec *spec, struct skiff_process *proc, int go_fd,
           const struct container_exec_opts *eo, pid_t init_pid)
{
  struct skiff_err *err = NULL;
  char c;
  /* wait until the parent put us into the cgroup */
  if (read(go_fd, &c, 1) != 1)
    _exit(126);
  close(go_fd);
  int flags = 0;
  for (size_t i = 0; i < spec->linux.n_namespaces; i++)
    if (spec->linux.namespaces[i].type != SKIFF_NS_PID)
      flags |= spec_ns_clone_flag(spec->linux.namespaces[i].type);
  if (ns_join_pid(init_pid, flags, &err) < 0)
    goto fail;
  if (chdir("/") < 0)
    goto fail;
  const char *cwd = eo->cwd ? eo->cwd : proc->cwd ? proc->cwd : "/";
  /* CVE-2024-21626: `--cwd /proc/self/fd/N` (N an fd of the caller, e.g. the host's /)
   * must not give the process a cwd outside the container: resolve inside the root. */
  if (init_enter_cwd(cwd, &err) < 0)
    goto fail;
  char *exe = init_find_executable(proc->args[0], proc->env, &err);
  if (exe == NULL)
    goto fail;
  for (size_t i = 0; i < proc->n_rlimits; i++)
    {
      struct rlimit rl = {proc->rlimits[i].soft, proc->rlimits[i].hard};
      setrlimit(proc->rlimits[i].resource, &rl);
    }
  umask(proc->user.has_umask ? proc->user.umask : 0022);
  if (spec->linux.has_seccomp && !proc->no_new_privileges
      && seccomp_apply(&spec->linux.seccomp, &err) < 0)
    goto fail;
  if (caps_apply_process(proc, &err) < 0)
    goto fail;
  if (spec->linux.has_seccomp && proc->no_new_privileges
      && seccomp_apply(&spec->linux.seccomp, &err) < 0)
    goto fail;
  /* CVE-2024-21626: nothing of ours past 0-2 (and --preserve-fds) */
  if (skiff_close_fds_from(3 + eo->preserve_fds, NULL, 0, &err) < 0)
    goto fail;
  execve(exe, proc->args, proc->env);
  skiff_error(&err, errno, "exec `%s`", exe);
fail:
  skiff_report("exec: %s", err ? err->msg : strerror(errno));
  _exit(126);
}

int container_exec(const char *root, const char *id, const struct container_exec_opts *eo,
                   int *exit_code, struct skiff_err **err)
{
  *exit_code = 0;
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  enum skiff_status s = state_status(root, st);
  if (s != SKIFF_STATUS_RUNNING && s != SKIFF_STATUS_CREATED)
    return skiff_error(err, 0, "cannot exec in container `%s`: it is %s", id, state_status_name(s));
  if (eo->args == NULL || eo->args[0] == NULL)
    return skiff_error(err, 0, "exec: a command is required");
  cleanup_spec struct skiff_spec *spec = NULL;
  if (container_load_saved_spec(root, id, &spec, err) < 0)
    return -1;
  struct skiff_process proc = spec->process;
  proc.args = eo->args;
  proc.terminal = false;
  cleanup_free char **env = strv_concat(spec->process.env, eo->env);
  proc.env = env;
  if (eo->user && parse_user(eo->user, &proc.user, err) < 0)
    return -1;

  /* join the pid namespace for our next child only, and step back right after the fork:
     our own exit (and LeakSanitizer's thread walk under ASan) must happen in our pid
     namespace */
  char nspath[64];
  snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)st->pid);
  cleanup_close int own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  {
    cleanup_close int pidns = open(nspath, O_RDONLY | O_CLOEXEC);
    if (pidns < 0 || own_pidns < 0)
      return skiff_error(err, errno, "open `%s`", pidns < 0 ? nspath : "/proc/self/ns/pid");
    if (setns(pidns, CLONE_NEWPID) < 0 && errno != EINVAL)
      return skiff_error(err, errno, "setns `%s`", nspath);
  }
  cleanup_free char *tmp = NULL;
  struct skiff_cgroup *cg = NULL;
  if (cgroup_new(cgroup_path_of(st, &tmp), &cg, err) < 0)
    return -1;
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0)
    {
      cgroup_free(cg);
      return skiff_error(err, errno, "pipe");
    }
  int master = -1, slave = -1;
  if (eo->tty && tty_open_pair(&master, &slave, err) < 0)
    {
      cgroup_free(cg);
      close(go[0]);
      close(go[1]);
      return -1;
    }
  pid_t child = fork();
  if (child < 0)
    {
      cgroup_free(cg);
      return skiff_error(err, errno, "fork");
    }
  if (child > 0 && setns(own_pidns, CLONE_NEWPID) < 0)
    abort(); /* cannot happen: our own pid namespace is always joinable */
  if (child == 0)
    {
      close(go[1]);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      struct skiff_err *terr = NULL;
      if (slave >= 0 && tty_make_controlling(slave, &terr) < 0)
        {
          skiff_report("exec: %s", terr->msg);
          _exit(126);
        }
      exec_child(spec, &proc, go[0], eo, st->pid);
    }
  close(go[0]);
  if (slave >= 0)
    close(slave);
  int r = cgroup_enter(cg, child, err);
  cgroup_free(cg);
  if (r < 0)
    {
      close(go[1]);
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
      return -1;
    }
  if (eo->pid_file)
    {
      char buf[32];
      int n = snprintf(buf, sizeof(buf), "%d", (int)child);
      skiff_write_file_atomic(eo->pid_file, buf, n, 0644, NULL);
    }
  sigset_t fwd, old;
  container_block_forwarded(&fwd, &old);
  if (write(go[1], "g", 1) != 1)
    {
      close(go[1]);
      sigprocmask(SIG_SETMASK, &old, NULL);
      return skiff_error(err, errno, "exec: start the child");
    }
  close(go[1]);
  if (eo->detach)
    {
      sigprocmask(SIG_SETMASK, &old, NULL);
      if (master >= 0)
        close(master);
      return 0;
    }
  int status = 0;
  if (master >= 0)
    {
      /* interactive: the terminal carries ^C and friends; we only copy bytes */
      int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
      tty_proxy(master, pidfd);
      close(master);
      if (pidfd >= 0)
        close(pidfd);
      waitpid(child, &status, 0);
      sigprocmask(SIG_SETMASK, &old, NULL);
      *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return 0;
    }
  status = container_wait_forwarding(child, &fwd);
  sigprocmask(SIG_SETMASK, &old, NULL);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return 0;
}

void container_block_forwarded(sigset_t *fwd, sigset_t *old)
{
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD};
  sigemptyset(fwd);
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    sigaddset(fwd, sigs[i]);
  sigprocmask(SIG_BLOCK, fwd, old);
}

int container_wait_forwarding(pid_t pid, const sigset_t *fwd)
{
  int status = 0;
  for (;;)
    {
      siginfo_t si;
      int sig = sigwaitinfo(fwd, &si);
      if (sig < 0)
        continue;
      if (sig != SIGCHLD)
        {
          kill(pid, sig);
          continue;
        }
      pid_t r;
      int st;
      while ((r = waitpid(-1, &st, WNOHANG)) > 0)
        if (r == pid)
          return st;
    }
  return status;
}
