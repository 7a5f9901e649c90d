/* init.c - the container init: what runs in the cloned child between clone3() and
 * execve() of process.args.  It talks to its parent only over the sync socket and
 * reports any failure there as one line before it exits. */
#define _GNU_SOURCE
#include "container.h"
#include "caps.h"
#include "hooks.h"
#include "mount.h"
#include "ns.h"
#include "seccomp.h"
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>

static void __attribute__((noreturn)) fail(int sync_fd, struct skiff_err *err)
{
  sync_send(sync_fd, SYNC_ERROR, err && err->msg ? err->msg : "container init failed", NULL);
  _exit(1);
}

char *init_find_executable(const char *file, char **env, struct skiff_err **err)
{
  if (file == NULL || *file == '\0')
    {
      skiff_error(err, 0, "process.args[0]: empty");
      return NULL;
    }
  /* runc's wording: engines map "executable file not found" and "no such file or
     directory" to exit 127, "permission denied" to 126 */
  if (strchr(file, '/'))
    {
      if (access(file, X_OK) < 0)
        {
          skiff_error(err, errno, "exec: \"%s\"", file);
          return NULL;
        }
      return xstrdup(file);
    }
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp(env[i], "PATH=", 5) == 0)
      path = env[i] + 5;
  cleanup_free char *copy = xstrdup(path);
  char *save = NULL;
  for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
    {
      char *cand = xasprintf("%s/%s", *dir ? dir : ".", file);
      struct stat st;
      if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
        return cand;
      free(cand);
    }
  skiff_error(err, 0, "exec: \"%s\": executable file not found in $PATH", file);
  if (err && *err)
    (*err)->status = ENOENT;
  return NULL;
}

/* chdir to process.cwd resolved inside the new root; a cwd that leads outside it
 * (`..` chains are clamped by RESOLVE_IN_ROOT, /proc/self/fd/N magic links refused
 * by RESOLVE_NO_MAGICLINKS) is rejected: CVE-2024-21626. */
int init_enter_cwd(const char *cwd, struct skiff_err **err)
{
  if (cwd == NULL || *cwd == '\0')
    cwd = "/";
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, AT_FDCWD, cwd, &how, sizeof(how));
  if (fd < 0 && errno == ENOENT)
    {
      /* runc creates a missing cwd; do it inside the root only */
      if (strstr(cwd, "/proc/") == NULL && skiff_mkdir_p(cwd, 0755, NULL) == 0)
        fd = (int)syscall(SYS_openat2, AT_FDCWD, cwd, &how, sizeof(how));
      else
        errno = ENOENT;
    }
  if (fd < 0)
    return skiff_error(err, errno, "process.cwd `%s`", cwd);
  int r = fchdir(fd);
  int saved = errno;
  close(fd);
  if (r < 0)
    return skiff_error(err, saved, "chdir to process.cwd `%s`", cwd);
  return 0;
}

static int setup_console(int console_fd, struct skiff_err **err)
{
  cleanup_close int master = -1, slave = -1;
  char name[128];
  if (tty_open_in_root(&master, &slave, name, sizeof(name), err) < 0)
    return -1;
  if (mount_setup_console(name, err) < 0)
    return -1;
  /* hand the master to whoever listens on the console socket, as runc does */
  if (tty_send_fd(console_fd, master, err) < 0)
    return -1;
  return tty_make_controlling(steal_fd(&slave), err) < 0 ? -1 : 0;
}

static int apply_rlimits(const struct skiff_process *p, struct skiff_err **err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
      if (setrlimit(p->rlimits[i].resource, &rl) < 0)
        return skiff_error(err, errno, "setrlimit %s", p->rlimits[i].type);
    }
  return 0;
}

static int apply_sysctl(char **kv, struct skiff_err **err)
{
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
    {
      cleanup_free char *path = xasprintf("/proc/sys/%s", kv[i]);
      for (char *p = path + 10; *p; p++)
        if (*p == '.')
          *p = '/';
      if (strstr(path, "..") || skiff_write_string_at(AT_FDCWD, path, kv[i + 1], err) < 0)
        return skiff_error(err, EINVAL, "linux.sysctl `%s`", kv[i]);
    }
  return 0;
}

static int apply_seccomp(const struct init_args *a, struct skiff_err **err)
{
  const struct skiff_seccomp *profile = &a->spec->linux.seccomp;
  unsigned flags = 0;
  if (a->seccomp_bpf == NULL)
    return seccomp_apply(profile, err);
  if (seccomp_kernel_flags(profile, &flags, err) < 0)
    return -1;
  return seccomp_load_bpf_flags(a->seccomp_bpf, a->seccomp_bpf_len, flags, err);
}

void init_main(const struct init_args *a)
{
  struct skiff_err *err = NULL;
  const struct skiff_spec *spec = a->spec;
  const struct skiff_process *proc = &spec->process;
  char type;
  cleanup_free char *payload = NULL;

  /* the monitor blocks SIGCHLD for its signalfd; our program must start clean */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* the creator's state lock: our copy would keep it held (a delete waiting forever) */
  if (a->lock_fd >= 0)
    close(a->lock_fd);
  /* Our own session: the caller's process group and terminal signals (^C, a hangup, a
   * kill of the group) miss the container, which outlives `skiff create` and `run -d`. */
  setsid();
  if (a->stdio_fd >= 0)
    {
      int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null < 0 || dup2(null, 0) < 0 || dup2(a->stdio_fd, 1) < 0 || dup2(a->stdio_fd, 2) < 0)
        _exit(1);
      close(null);
    }
  SKIFF_TRACE("init: started");
  if (a->cgroup && cgroup_enter_self(a->cgroup, a->born_in_cgroup2, &err) < 0)
    fail(a->sync_fd, err);
  SKIFF_TRACE("init: joined its cgroups");
  /* the parent dies -> we die; a half-created container must not linger */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!a->quick && (sync_recv(a->sync_fd, &type, &payload, &err) < 0 || type != SYNC_MAPPED))
    _exit(1);
  free(payload);
  payload = NULL;

  /* In a new user namespace we still carry the host's root credentials, which the
     namespace does not map: become its root (a mapped id) before touching any file. */
  if (a->new_userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
    fail(a->sync_fd, (skiff_error(&err, errno, "become root of the user namespace"), err));
  if (ns_join_spec_paths(spec, CLONE_NEWPID, &err) < 0)
    fail(a->sync_fd, err);
  if (a->loopback_up && net_loopback_up_here(&err) < 0)
    fail(a->sync_fd, err);
  if (!a->quick
      && (sync_send(a->sync_fd, SYNC_NSREADY, "", &err) < 0
          || sync_recv(a->sync_fd, &type, &payload, &err) < 0 || type != SYNC_GO))
    _exit(1);
  /* the state the hooks get: createContainer now, startContainer before exec */
  cleanup_free char *state_json = steal_pointer(&payload);
  if (hooks_run(spec, SKIFF_HOOK_CREATE_CONTAINER, state_json, &err) < 0)
    fail(a->sync_fd, err);

  if (a->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
    fail(a->sync_fd, (skiff_error(&err, errno, "unshare cgroup namespace"), err));
  if (spec_find_namespace(spec, SKIFF_NS_UTS))
    {
      if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
        fail(a->sync_fd, (skiff_error(&err, errno, "sethostname `%s`", spec->hostname), err));
      if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
        fail(a->sync_fd, (skiff_error(&err, errno, "setdomainname `%s`", spec->domainname), err));
    }
  if (a->overlay_data)
    {
      /* the image rootfs: an overlay mounted in our own mount namespace only, so it
         vanishes with the container; private first so nothing propagates to the host */
      if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        fail(a->sync_fd, (skiff_error(&err, errno, "make / private"), err));
      if (mount("overlay", a->rootfs, "overlay", 0, a->overlay_data) < 0)
        fail(a->sync_fd, (skiff_error(&err, errno, "mount overlay on `%s`", a->rootfs), err));
    }
  SKIFF_TRACE("init: hooks, hostname");
  if (mount_prepare_rootfs(spec, a->rootfs, &err) < 0)
    fail(a->sync_fd, err);
  SKIFF_TRACE("init: spec mounts, /dev");
  if (proc->terminal && a->console_fd >= 0 && setup_console(a->console_fd, &err) < 0)
    fail(a->sync_fd, err);
  if (a->console_fd >= 0)
    close(a->console_fd);
  /* before readonlyPaths make /proc/sys read-only (podman's configs list it), as runc */
  if (apply_sysctl(spec->linux.sysctl, &err) < 0)
    fail(a->sync_fd, err);
  if (mount_finalize_rootfs(spec, &err) < 0)
    fail(a->sync_fd, err);
  SKIFF_TRACE("init: sysctl, masks, pivot_root, readonly");
  if (apply_rlimits(proc, &err) < 0)
    fail(a->sync_fd, err);
  if (init_enter_cwd(proc->cwd, &err) < 0)
    fail(a->sync_fd, err);
  cleanup_free char *exe = init_find_executable(proc->args[0], proc->env, &err);
  if (exe == NULL)
    fail(a->sync_fd, err);
  if (proc->user.has_umask)
    umask(proc->user.umask);
  else
    umask(0022);

  /* CVE-2024-21626: no fd of the caller or of ours reaches the container or its hooks:
     everything past stdio and the preserved fds goes now, while a failure can still fail
     the create; the sync socket and the exec fifo go once used. */
  int still_needed[3] = {a->sync_fd}, n_needed = 1;
  if (a->fifo_fd >= 0)
    still_needed[n_needed++] = a->fifo_fd;
  if (skiff_trace_fd >= 0) /* SKIFF_TRACE only; it goes with the last close before exec */
    still_needed[n_needed++] = skiff_trace_fd;
  if (skiff_close_fds_from(3 + a->preserve_fds, still_needed, (size_t)n_needed, &err) < 0)
    fail(a->sync_fd, err);

  /* Without no_new_privs the filter must be loaded while we still hold CAP_SYS_ADMIN;
     with it, as late as possible so it filters nothing of ours. */
  bool seccomp_late = proc->no_new_privileges;
  if (spec->linux.has_seccomp && !seccomp_late && apply_seccomp(a, &err) < 0)
    fail(a->sync_fd, err);
  if (caps_apply_process(proc, &err) < 0)
    fail(a->sync_fd, err);
  if (spec->linux.has_seccomp && seccomp_late && apply_seccomp(a, &err) < 0)
    fail(a->sync_fd, err);

  SKIFF_TRACE("init: rlimits, cwd, caps, seccomp");
  /* From here the container lives on its own: it must survive its creator, which exits
   * as soon as it reads READY (`skiff create`), so the death signal goes first.  A
   * creator that died meanwhile closed its end: the send fails and we give up. */
  prctl(PR_SET_PDEATHSIG, 0);
  if (sync_send(a->sync_fd, SYNC_READY, "", &err) < 0)
    _exit(1);
  if (a->release_on_sync)
    {
      /* a foreground run releases us itself, no exec fifo; if it dies first, its end of
         the socket closes and we give up */
      cleanup_free char *go = NULL;
      if (sync_recv(a->sync_fd, &type, &go, &err) < 0 || type != SYNC_START)
        _exit(1);
    }
  close(a->sync_fd);

  if (a->fifo_fd >= 0)
    {
      /* blocks until `skiff start` opens the fifo for reading */
      char path[64];
      snprintf(path, sizeof(path), "/proc/self/fd/%d", a->fifo_fd);
      int w = open(path, O_WRONLY | O_CLOEXEC);
      if (w < 0 || write(w, "0", 1) != 1)
        _exit(1);
      close(w);
      close(a->fifo_fd);
    }
  if (spec->n_hooks[SKIFF_HOOK_START_CONTAINER])
    {
      cleanup_free char *created = state_json_with_status(state_json, "created");
      if (hooks_run(spec, SKIFF_HOOK_START_CONTAINER, created ? created : state_json, &err) < 0)
        {
          skiff_report("%s", err->msg);
          _exit(1);
        }
    }
  SKIFF_TRACE("init: execve");
  /* and once more right before exec: only 0-2 and the preserved ones survive it */
  if (skiff_close_fds_from(3 + a->preserve_fds, NULL, 0, &err) < 0)
    {
      skiff_report("%s", err->msg);
      _exit(1);
    }
  signal(SIGPIPE, SIG_DFL);
  execve(exe, proc->args, proc->env);
  skiff_report("exec `%s`: %s", exe, strerror(errno));
  _exit(127);
}
