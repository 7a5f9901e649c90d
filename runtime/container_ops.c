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
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
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
  /* runc's wording, which engines match ("container not running"); --all of a stopped
     container signals nobody and succeeds, as runc's */
  if (s == SKIFF_STATUS_STOPPED && all)
    return 0;
  if (s == SKIFF_STATUS_STOPPED || s == SKIFF_STATUS_CREATING)
    return skiff_error(err, 0, "cannot kill container `%s`: container not running (it is %s)", id,
                       state_status_name(s));
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

/* Is pid the init of a pid namespace of its own (the last NSpid of /proc/PID/status is 1,
 * and there are two or more)?  Killing such an init kills every process of the
 * namespace, and the kernel has done so before the init counts as exited. */
static bool is_pidns_init(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  cleanup_free char *text = NULL;
  if (skiff_read_file(path, &text, NULL, NULL) < 0)
    return false;
  char *line = strstr(text, "\nNSpid:");
  if (line == NULL)
    return false;
  line += 7;
  line[strcspn(line, "\n")] = '\0';
  size_t fields = 0;
  const char *last = "";
  for (char *save = NULL, *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
    {
      fields++;
      last = t;
    }
  return fields >= 2 && strcmp(last, "1") == 0;
}

/* Wait until pid (started at start, 0: any) has exited, at most timeout_ms; reap it if it
 * is our own child (foreground run).  A pidfd wakes us the moment it exits (its parent
 * may be a subreaper that reaps it later: a zombie counts as gone); without pidfds
 * (kernel < 5.3), poll every 2 ms.  With sig, the process is first sent sig through the
 * pidfd, so a pid reused since start is never signalled. */
static void signal_and_wait(pid_t pid, unsigned long long start, int sig, int timeout_ms)
{
  long long deadline = skiff_now_ms() + timeout_ms;
  cleanup_close int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
  /* the pidfd may name a newer process that reused the pid: check after opening it */
  if (!state_pid_alive(pid, start))
    {
      waitpid(pid, NULL, WNOHANG);
      return;
    }
  if (sig && (pfd < 0 || syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0))
    kill(pid, sig);
  while (pfd >= 0 && skiff_now_ms() < deadline)
    {
      struct pollfd p = {.fd = pfd, .events = POLLIN};
      int n = poll(&p, 1, (int)(deadline - skiff_now_ms()));
      if (n > 0 || (n < 0 && errno != EINTR))
        break;
    }
  while (state_pid_alive(pid, start) && skiff_now_ms() < deadline)
    {
      if (waitpid(pid, NULL, WNOHANG) == pid)
        return;
      poll(NULL, 0, 2);
    }
  waitpid(pid, NULL, WNOHANG);
}

static void wait_gone(pid_t pid, unsigned long long start, int timeout_ms)
{
  signal_and_wait(pid, start, 0, timeout_ms);
}

/* Kill every process of a created or running container.  The init of its own pid
 * namespace takes them all with it: no freezer, whose v1 FROZEN and THAWED writes cost
 * 2-3 ms each here (the kernel flips a static key); the cgroup-wide kill only for what is
 * left in the cgroup (a process put there from outside the namespace) or a container
 * sharing a pid namespace, and for a paused one. */
static void kill_all(struct skiff_cgroup *cg, const struct skiff_state *st, enum skiff_status s)
{
  bool alive = st->pid > 0 && state_pid_alive(st->pid, st->start_time);
  /* a paused (frozen) init takes no signal before it is thawed: cgroup_kill does that */
  if (alive && s != SKIFF_STATUS_PAUSED && is_pidns_init(st->pid))
    {
      signal_and_wait(st->pid, st->start_time, SIGKILL, 5000);
      cleanup_free pid_t *left = NULL;
      size_t n = 0;
      if (cgroup_pids(cg, &left, &n, NULL) == 0 && n == 0)
        return;
    }
  cgroup_kill(cg, SIGKILL, NULL);
  if (alive && state_pid_alive(st->pid, st->start_time))
    kill(st->pid, SIGKILL);
}

int container_delete(const char *root, const char *id, bool force, struct skiff_err **err)
{
  struct skiff_err *lerr = NULL;
  cleanup_close int lock = state_lock(root, id, &lerr);
  if (lock < 0)
    {
      /* runc: `delete --force` of a container that does not exist succeeds */
      if (force && state_validate_id(id, NULL) == 0 && strstr(lerr->msg, "does not exist"))
        {
          skiff_err_free(&lerr);
          return 0;
        }
      if (err && *err == NULL)
        *err = lerr;
      else
        skiff_err_free(&lerr);
      return -1;
    }
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  enum skiff_status s = state_status(root, st);
  /* A running or paused container is left untouched without --force.  A created one is
     deleted (its waiting init killed), as runc does: engines delete created containers
     whose start they gave up on. */
  if ((s == SKIFF_STATUS_RUNNING || s == SKIFF_STATUS_PAUSED) && !force)
    return skiff_error(err, 0,
                       "cannot delete container `%s` that is not stopped: %s (stop it or use "
                       "--force)",
                       id, state_status_name(s));
  cleanup_free char *tmp = NULL;
  struct skiff_cgroup *cg = NULL;
  if (cgroup_new(cgroup_path_of(st, &tmp), &cg, err) < 0)
    return -1;
  if (s != SKIFF_STATUS_STOPPED)
    kill_all(cg, st, s);
  if (st->pid > 0)
    wait_gone(st->pid, st->start_time, 5000);
  SKIFF_TRACE("delete: state read, init gone");

  cleanup_spec struct skiff_spec *spec = NULL;
  if ((!st->hooks_known || st->poststop_hooks > 0)
      && container_load_saved_spec(root, id, &spec, NULL) == 0
      && spec->n_hooks[SKIFF_HOOK_POSTSTOP])
    {
      cleanup_free char *json = state_hook_json(st, SKIFF_HOOK_POSTSTOP);
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
  SKIFF_TRACE("delete: cgroups removed");
  /* a container run from an image holds a veth and an address lease */
  managed_release_network(st->annotations);
  if (r < 0)
    return skiff_err_prefix(err, "delete container `%s`", id);
  /* the monitor writes exit.json and leaves right after its init: let it finish so no
     process of ours outlives the delete */
  if (st->monitor_pid > 0 && st->monitor_pid != getpid())
    {
      char path[64];
      snprintf(path, sizeof(path), "/proc/%d/comm", (int)st->monitor_pid);
      cleanup_free char *comm = NULL;
      /* still our monitor (not a process that reused its pid)? */
      if (skiff_read_file(path, &comm, NULL, NULL) == 0 && strncmp(comm, "skiff-monitor", 13) == 0)
        wait_gone(st->monitor_pid, state_proc_start_time(st->monitor_pid), 2000);
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

/* What the exec child tells its parent when it cannot start the process: "<errno>:<msg>"
 * on a CLOEXEC pipe, which its execve closes on success. */
static void __attribute__((noreturn)) exec_fail(int err_fd, struct skiff_err *err)
{
  char buf[1024];
  int n = snprintf(buf, sizeof(buf), "%d:%s", err ? err->status : errno,
                   err ? err->msg : strerror(errno));
  if (n > 0)
    skiff_write_all(err_fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
  _exit(err && err->status == ENOENT ? 127 : 126);
}

/* The exec'd process: in the container's namespaces and cgroup, with the spec's caps,
 * seccomp and no_new_privs.  Runs in the child; never returns. */
static void __attribute__((noreturn))
exec_child(const struct skiff_spec *spec, struct skiff_process *proc, int go_fd, int err_fd,
           int tty_sock, const struct container_exec_opts *eo, pid_t init_pid)
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
    exec_fail(err_fd, err);
  if (chdir("/") < 0)
    exec_fail(err_fd, (skiff_error(&err, errno, "chdir `/`"), err));
  if (tty_sock >= 0)
    {
      /* a terminal of the container's devpts, as runc's: the process finds it under
         /dev/pts; its master goes back to skiff (to proxy, or for the console socket) */
      int master = -1, slave = -1;
      char name[128];
      if (tty_open_in_root(&master, &slave, name, sizeof(name), &err) < 0
          || tty_send_fd(tty_sock, master, &err) < 0)
        exec_fail(err_fd, err);
      close(master);
      close(tty_sock);
      if (tty_make_controlling(slave, &err) < 0)
        exec_fail(err_fd, err);
    }
  const char *cwd = eo->cwd ? eo->cwd : proc->cwd ? proc->cwd : "/";
  /* CVE-2024-21626: `--cwd /proc/self/fd/N` (N an fd of the caller, e.g. the host's /)
   * must not give the process a cwd outside the container: resolve inside the root. */
  if (init_enter_cwd(cwd, &err) < 0)
    exec_fail(err_fd, err);
  char *exe = init_find_executable(proc->args[0], proc->env, &err);
  if (exe == NULL)
    exec_fail(err_fd, err);
  for (size_t i = 0; i < proc->n_rlimits; i++)
    {
      struct rlimit rl = {proc->rlimits[i].soft, proc->rlimits[i].hard};
      setrlimit(proc->rlimits[i].resource, &rl);
    }
  umask(proc->user.has_umask ? proc->user.umask : 0022);
  if (spec->linux.has_seccomp && !proc->no_new_privileges
      && seccomp_apply(&spec->linux.seccomp, &err) < 0)
    exec_fail(err_fd, err);
  if (caps_apply_process(proc, &err) < 0)
    exec_fail(err_fd, err);
  if (spec->linux.has_seccomp && proc->no_new_privileges
      && seccomp_apply(&spec->linux.seccomp, &err) < 0)
    exec_fail(err_fd, err);
  /* CVE-2024-21626: nothing of ours past 0-2 (and --preserve-fds) reaches the process;
     the error pipe (close-on-exec) stays to report a failing execve */
  if (skiff_close_fds_from(3 + eo->preserve_fds, &err_fd, 1, &err) < 0)
    exec_fail(err_fd, err);
  execve(exe, proc->args, proc->env);
  exec_fail(err_fd, (skiff_error(&err, errno, "exec: \"%s\"", exe), err));
}

/* Send the pty master to the engine's console socket (runc's --console-socket). */
static int send_console_master(const char *path, int master, struct skiff_err **err)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path))
    return skiff_error(err, ENAMETOOLONG, "console socket `%s`", path);
  strcpy(addr.sun_path, path);
  cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    return skiff_error(err, errno, "connect console socket `%s`", path);
  return tty_send_fd(fd, master, err);
}

/* The child's answer: EOF (it exec'd) or "<errno>:<message>". */
static int read_child_error(int fd, struct skiff_err **err)
{
  char buf[1024];
  ssize_t n = skiff_read_all(fd, buf, sizeof(buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  char *colon = strchr(buf, ':');
  int status = colon ? atoi(buf) : 0;
  skiff_error(err, 0, "%s", colon ? colon + 1 : buf);
  if (*err)
    (*err)->status = status;
  return -1;
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
    return skiff_error(err, 0, "cannot exec in container `%s`: container not running (it is %s)",
                       id, state_status_name(s));
  if (eo->process == NULL && (eo->args == NULL || eo->args[0] == NULL))
    return skiff_error(err, 0, "exec: a command is required");
  cleanup_spec struct skiff_spec *spec = NULL;
  if (container_load_saved_spec(root, id, &spec, err) < 0)
    return -1;
  struct skiff_process proc = eo->process ? *eo->process : spec->process;
  cleanup_free char **env = eo->process ? NULL : strv_concat(spec->process.env, eo->env);
  if (!eo->process)
    {
      proc.args = eo->args;
      proc.terminal = false;
      proc.env = env;
    }
  if (eo->user && parse_user(eo->user, &proc.user, err) < 0)
    return -1;
  bool console = proc.terminal || (eo->tty && eo->console_socket);
  if (console && eo->console_socket == NULL)
    return skiff_error(err, 0, "process.terminal is true: --console-socket is required");

  /* Everything the exec needs is made before we touch our pid namespace, so no error
     path can return with it switched: the cgroup, the pipes, the terminal's socket pair,
     both namespace fds.  A library caller such as the agent keeps running: a failure must
     leak none of them either. */
  cleanup_free char *tmp = NULL;
  struct skiff_cgroup *cg = NULL;
  if (cgroup_new(cgroup_path_of(st, &tmp), &cg, err) < 0)
    return -1;
  int go[2] = {-1, -1}, cerr[2] = {-1, -1}, tsv[2] = {-1, -1};
  int master = -1, own_pidns = -1, pidns = -1;
  bool ready = false;
  char nspath[64];
  snprintf(nspath, sizeof(nspath), "/proc/%d/ns/pid", (int)st->pid);
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(cerr, O_CLOEXEC) < 0)
    skiff_error(err, errno, "pipe");
  else if ((eo->tty || console) && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, tsv) < 0)
    skiff_error(err, errno, "socketpair");
  else if ((own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0)
    skiff_error(err, errno, "open `/proc/self/ns/pid`");
  else if ((pidns = open(nspath, O_RDONLY | O_CLOEXEC)) < 0)
    skiff_error(err, errno, "open `%s`", nspath);
  /* join the pid namespace for our next child only, and step back right after the fork:
     our own exit (and LeakSanitizer's thread walk under ASan) must happen in our pid
     namespace */
  else if (setns(pidns, CLONE_NEWPID) < 0 && errno != EINVAL)
    skiff_error(err, errno, "setns `%s`", nspath);
  else
    ready = true;
  pid_t child = -1;
  if (ready)
    {
      child = fork();
      int saved = errno;
      if (child != 0 && setns(own_pidns, CLONE_NEWPID) < 0)
        abort(); /* cannot happen: our own pid namespace is always joinable */
      if (child < 0)
        skiff_error(err, saved, "fork");
    }
  if (child != 0)
    {
      if (own_pidns >= 0)
        close(own_pidns);
      if (pidns >= 0)
        close(pidns);
    }
  if (child < 0)
    {
      int fds[] = {go[0], go[1], cerr[0], cerr[1], tsv[0], tsv[1]};
      for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
          close(fds[i]);
      cgroup_free(cg);
      return -1;
    }
  if (child == 0)
    {
      close(go[1]);
      close(cerr[0]);
      if (tsv[0] >= 0)
        close(tsv[0]);
      /* a foreground exec dies with us; a detached one lives on (the engine's subreaper
         reaps it): an error before go is seen as EOF on go */
      if (!eo->detach)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
      exec_child(spec, &proc, go[0], cerr[1], tsv[1], eo, st->pid);
    }
  close(go[0]);
  close(cerr[1]);
  if (tsv[1] >= 0)
    close(tsv[1]);
  int r = cgroup_enter(cg, child, err);
  cgroup_free(cg);
  if (r == 0 && eo->pid_file)
    {
      char buf[32];
      int n = snprintf(buf, sizeof(buf), "%d", (int)child);
      r = skiff_write_file_atomic(eo->pid_file, buf, n, 0644, err);
    }
  if (r < 0)
    {
      close(go[1]);
      close(cerr[0]);
      if (tsv[0] >= 0)
        close(tsv[0]);
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
      return -1;
    }
  sigset_t fwd, old;
  container_block_forwarded(&fwd, &old);
  if (write(go[1], "g", 1) != 1)
    {
      int saved = errno;
      close(go[1]);
      close(cerr[0]);
      if (tsv[0] >= 0)
        close(tsv[0]);
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
      sigprocmask(SIG_SETMASK, &old, NULL);
      return skiff_error(err, saved, "exec: start the child");
    }
  close(go[1]);
  /* the terminal's master, from the child (no master: its error pipe says why) */
  if (tsv[0] >= 0)
    {
      struct skiff_err *terr = NULL;
      if (tty_recv_fd(tsv[0], &master, &terr) < 0)
        master = -1;
      close(tsv[0]);
      if (master >= 0 && console)
        r = send_console_master(eo->console_socket, master, &terr);
      else if (master >= 0)
        {
          struct winsize ws;
          if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
            ioctl(master, TIOCSWINSZ, &ws);
        }
      if (master < 0 || r < 0)
        {
          /* the child's own reason comes first, if it gave one */
          if (read_child_error(cerr[0], err) == 0 && err && *err == NULL)
            {
              *err = terr;
              terr = NULL;
            }
          skiff_err_free(&terr);
          close(cerr[0]);
          if (master >= 0)
            close(master);
          kill(child, SIGKILL);
          waitpid(child, NULL, 0);
          sigprocmask(SIG_SETMASK, &old, NULL);
          return -1;
        }
    }
  /* wait for the execve (the pipe closes) or the child's reason why not */
  r = read_child_error(cerr[0], err);
  close(cerr[0]);
  if (r < 0)
    {
      waitpid(child, NULL, 0);
      sigprocmask(SIG_SETMASK, &old, NULL);
      if (master >= 0)
        close(master);
      return -1;
    }
  if (console && master >= 0)
    {
      close(master); /* the engine holds the terminal now */
      master = -1;
    }
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
    }
  else
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
