/* container.c - create, start and run (see container.h for the process picture).
 * Owns the parent side of the init handshake and the state dir while creating; the
 * monitor's side of create is in monitor.c. */
#define _GNU_SOURCE
#include "container_internal.h"
#include "caps.h"
#include "cgroup.h"
#include "cloned_binary.h"
#include "hooks.h"
#include "ns.h"
#include "seccomp_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

int sync_send(int fd, char type, const char *payload, struct skiff_err **err)
{
  size_t len = payload ? strlen(payload) : 0;
  if (len > SYNC_MAX - 1)
    len = SYNC_MAX - 1;
  char *buf = xmalloc(len + 1);
  buf[0] = type;
  memcpy(buf + 1, payload ? payload : "", len);
  ssize_t n;
  do
    n = send(fd, buf, len + 1, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  free(buf);
  if (n < 0)
    return skiff_error(err, errno, "sync socket: send");
  return 0;
}

int sync_recv(int fd, char *type, char **payload, struct skiff_err **err)
{
  char *buf = xmalloc(SYNC_MAX + 1);
  ssize_t n;
  bool reset = false;
  /* An init that fails sends SYNC_ERROR and exits; when a message of ours (a SYNC_START
   * queued early) was still unread in its socket, the kernel marks ours ECONNRESET, and a
   * SEQPACKET recv reports that pending error before the queued message.  Reading the
   * error clears it: the next recv returns the SYNC_ERROR (or 0 when none was sent). */
  do
    {
      n = recv(fd, buf, SYNC_MAX, 0);
      if (n < 0 && errno == ECONNRESET && !reset)
        {
          reset = true;
          errno = EINTR;
        }
    }
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    {
      free(buf);
      if (n == 0)
        return skiff_error(err, 0, "container init exited during setup");
      return skiff_error(err, errno, "sync socket: recv");
    }
  buf[n] = '\0';
  *type = buf[0];
  *payload = xstrdup(buf + 1);
  free(buf);
  return 0;
}

static int read_spec_text(const char *bundle, char **text, struct skiff_err **err)
{
  cleanup_free char *path = xasprintf("%s/config.json", bundle);
  if (skiff_read_file(path, text, NULL, err) < 0)
    return -1;
  return 0;
}

void container_ctx_free(struct create_ctx *c)
{
  if (c->owned_spec)
    spec_free(c->owned_spec);
  free(c->spec_text);
  free(c->bundle);
  free(c->rootfs);
  free(c->dir);
  free(c->cgroup_path);
  free(c->seccomp_key);
  free(c->bpf);
  free(c->overlay_data);
  free(c->created);
  if (c->fifo_fd >= 0)
    close(c->fifo_fd);
  if (c->sync_fd >= 0)
    close(c->sync_fd);
  container_ctx_unlock(c);
}

void container_ctx_unlock(struct create_ctx *c)
{
  if (c->lock_fd < 0)
    return;
  /* LOCK_UN, not just close: the init shares this open file until it closes its copy */
  flock(c->lock_fd, LOCK_UN);
  close(c->lock_fd);
  c->lock_fd = -1;
}

static int ctx_init(struct create_ctx *c, const struct container_opts *o, struct skiff_err **err)
{
  memset(c, 0, sizeof(*c));
  c->fifo_fd = -1;
  c->sync_fd = -1;
  c->lock_fd = -1;
  c->stdio_fd = -1;
  c->opts = o;
  if (state_validate_id(o->id, err) < 0)
    return -1;
  const char *bundle = o->bundle ? o->bundle : ".";
  c->bundle = realpath(bundle, NULL);
  if (c->bundle == NULL)
    return skiff_error(err, errno, "bundle `%s`", bundle);
  if (o->spec)
    {
      c->spec = o->spec;
      c->spec_text = xstrdup(o->spec_json ? o->spec_json : "{}");
    }
  else
    {
      if (read_spec_text(c->bundle, &c->spec_text, err) < 0)
        return -1;
      if (spec_parse(c->spec_text, strlen(c->spec_text), &c->owned_spec, err) < 0)
        return skiff_err_prefix(err, "%s/config.json", c->bundle);
      c->spec = c->owned_spec;
    }
  if (!c->spec->has_process)
    return skiff_error(err, 0, "process: required to create a container");
  /* CVE-2019-5736: an immutable skiff re-executes through the overlay now if this
     config could clear the flag (cloned_binary.h); nothing is made yet */
  if (cloned_binary_check_process(&c->spec->process, err) < 0)
    return -1;
  if (c->spec->oci_version_unknown)
    skiff_report("warning: ociVersion \"%s\": not a 1.x version, read as 1.x",
                 c->spec->oci_version);
  if (spec_find_namespace(c->spec, SKIFF_NS_MOUNT) == NULL)
    return skiff_error(err, 0, "linux.namespaces: a mount namespace is required");
  cleanup_free char *root = c->spec->root_path[0] == '/'
                                ? xstrdup(c->spec->root_path)
                                : xasprintf("%s/%s", c->bundle, c->spec->root_path);
  c->rootfs = realpath(root, NULL);
  if (c->rootfs == NULL)
    return skiff_error(err, errno, "root.path `%s`", root);
  struct stat st;
  if (stat(c->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
    return skiff_error(err, ENOTDIR, "root.path `%s`", c->rootfs);
  c->dir = state_dir(o->root, o->id);
  if (o->overlay_lower)
    c->overlay_data = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", o->overlay_lower,
                                o->overlay_upper, o->overlay_work);
  if (c->spec->linux.has_seccomp)
    {
      c->seccomp_key = seccomp_cache_key(&c->spec->linux.seccomp);
      if (c->seccomp_key)
        seccomp_cache_load(o->root, c->seccomp_key, &c->bpf, &c->bpf_len);
    }
  c->cgroup_path = c->spec->linux.cgroups_path ? xstrdup(c->spec->linux.cgroups_path)
                                               : xasprintf("/skiff/%s", o->id);
  if (c->cgroup_path[0] != '/')
    {
      /* "slice:prefix:name" is the systemd form; we have no systemd driver */
      if (strchr(c->cgroup_path, ':'))
        return skiff_error(err, 0, "linux.cgroupsPath `%s`: systemd cgroup paths are not supported",
                           c->cgroup_path);
      char *abs = xasprintf("/%s", c->cgroup_path);
      free(c->cgroup_path);
      c->cgroup_path = abs;
    }
  return 0;
}

/* The state dir with the config copy and the exec fifo (state.json comes once created);
 * a foreground run releases its init over the sync socket and needs no fifo. */
static int ctx_prepare_dir(struct create_ctx *c, struct skiff_err **err)
{
  cleanup_free char *cfg = xasprintf("%s/config.json", c->dir);
  if (skiff_write_file(cfg, c->spec_text, strlen(c->spec_text), 0600, err) < 0)
    return -1;
  if (!c->release_on_sync)
    {
      cleanup_free char *fifo = xasprintf("%s/exec.fifo", c->dir);
      /* 0622: the init may already run as a non-root user when it opens it */
      if (mkfifo(fifo, 0622) < 0)
        return skiff_error(err, errno, "mkfifo `%s`", fifo);
      chmod(fifo, 0622);
      c->fifo_fd = open(fifo, O_PATH | O_CLOEXEC);
      if (c->fifo_fd < 0)
        return skiff_error(err, errno, "open `%s`", fifo);
    }
  /* state.json is written once, when created: until then the dir reads as "creating"
     (state_load), and delete finds the cgroup through the config copy */
  c->created = state_now_rfc3339();
  return 0;
}

/* The state hooks get while creating (status "creating", the spec's annotations). */
static char *creating_state_json(struct create_ctx *c, pid_t pid)
{
  struct skiff_state st = {.id = (char *)c->opts->id,
                           .bundle = c->bundle,
                           .pid = pid,
                           .annotations = c->spec->annotations};
  return state_hook_json(&st, SKIFF_HOOK_CREATE_RUNTIME);
}

static int connect_console(const char *path, struct skiff_err **err)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path))
    return skiff_error(err, ENAMETOOLONG, "console socket `%s`", path);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return skiff_error(err, errno, "socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
    {
      int saved = errno;
      close(fd);
      return skiff_error(err, saved, "connect console socket `%s`", path);
    }
  return fd;
}

/* runc and crun run a config whose ambient capabilities cannot be raised (`runc spec`
 * lists three without inheritable ones): they warn and go on; so do we (the init leaves
 * them out, caps_apply_process). */
static void warn_unraisable_ambient(const struct skiff_process *p)
{
  cleanup_free char *dropped = p->has_caps ? caps_unraisable_ambient(&p->caps) : NULL;
  if (dropped)
    skiff_report("warning: process.capabilities.ambient: %s not both permitted and "
                 "inheritable: not raised",
                 dropped);
}

/* Does the parent have work between clone3 and READY (id maps, a v2 cgroup move, the oom
 * score, a veth, prestart/createRuntime hooks), or does the init need the state JSON for
 * hooks of its own?  If not, the init goes from clone3 to READY without waiting for us:
 * two round trips less per start (each one a wake-up of the other process, which costs
 * most under load). */
static bool quick_handshake(const struct create_ctx *c, unsigned long long clone_flags)
{
  const struct skiff_spec *spec = c->spec;
  return !(clone_flags & CLONE_NEWUSER)
         && (cgroup_detect_mode() != CGROUP_MODE_V2 || (clone_flags & CLONE_INTO_CGROUP))
         && !spec->process.has_oom_score_adj && !(c->opts->net && c->opts->net_ip)
         && spec->n_hooks[SKIFF_HOOK_PRESTART] == 0 && spec->n_hooks[SKIFF_HOOK_CREATE_RUNTIME] == 0
         && spec->n_hooks[SKIFF_HOOK_CREATE_CONTAINER] == 0
         && spec->n_hooks[SKIFF_HOOK_START_CONTAINER] == 0;
}

static int write_pid_file(const char *path, pid_t pid, struct skiff_err **err);

/* c->early_state: while the init sets itself up (on the other CPU), write what a created
 * container needs (state.json, the pid file) and queue the init's SYNC_START.  The init
 * reads it after its READY and finds it there: it execs without waiting for us, and our
 * writes are no longer on the start's critical path.  The init still execs only once
 * the state is on disk (the message follows the writes). */
static int release_early(struct create_ctx *c, pid_t pid, int sync_fd, struct skiff_err **err)
{
  if (container_save_created(c, pid, c->early_monitor, 0, err) < 0
      || write_pid_file(c->opts->pid_file, pid, err) < 0)
    return -1;
  if (sync_send(sync_fd, SYNC_START, "", err) < 0)
    return -1;
  c->released = true;
  SKIFF_TRACE("state.json written, init released ahead");
  return 0;
}

int container_spawn_init(struct create_ctx *c, pid_t *pid_out, struct skiff_err **err)
{
  const struct skiff_spec *spec = c->spec;
  struct skiff_cgroup *cg = NULL;
  int sv[2] = {-1, -1}, console_fd = -1, cgfd = -1;
  pid_t pid = -1;
  int ret = -1;
  char type;
  char *payload = NULL;

  if (spec->process.terminal && c->opts->console_socket == NULL && c->opts->console_fd == NULL)
    return skiff_error(err, 0, "process.terminal is true: --console-socket is required");
  if (cgroup_new(c->cgroup_path, &cg, err) < 0 || cgroup_create(cg, err) < 0)
    goto out;
  if (spec->linux.has_resources && cgroup_apply(cg, &spec->linux.resources, err) < 0)
    goto out;
  SKIFF_TRACE("cgroup created and limits set");
  if (c->opts->console_socket && spec->process.terminal)
    {
      console_fd = connect_console(c->opts->console_socket, err);
      if (console_fd < 0)
        goto out;
    }
  else if (c->opts->console_fd && spec->process.terminal)
    {
      console_fd = fcntl(*c->opts->console_fd, F_DUPFD_CLOEXEC, 3);
      if (console_fd < 0)
        {
          skiff_error(err, errno, "console socket");
          goto out;
        }
    }
  warn_unraisable_ambient(&spec->process);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      skiff_error(err, errno, "socketpair");
      goto out;
    }
  const struct skiff_namespace *pidns = spec_find_namespace(spec, SKIFF_NS_PID);
  if (pidns && pidns->path)
    {
      /* setns(CLONE_NEWPID) only moves our future children: the init */
      cleanup_close int fd = open(pidns->path, O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWPID) < 0)
        {
          skiff_error(err, errno, "join pid namespace `%s`", pidns->path);
          goto out;
        }
    }
  struct clone_args ca = {.flags = (unsigned)ns_clone_flags(spec), .exit_signal = SIGCHLD};
  cgfd = cgroup_open_clone_fd(cg, NULL);
  if (cgfd >= 0)
    {
      /* cgroup v2: born inside the cgroup, no migration afterwards */
      ca.flags |= CLONE_INTO_CGROUP;
      ca.cgroup = (unsigned)cgfd;
    }
  pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
  if (pid < 0 && cgfd >= 0 && (errno == EINVAL || errno == ENOSYS || errno == E2BIG))
    {
      ca.flags &= ~(unsigned long long)CLONE_INTO_CGROUP;
      close(cgfd);
      cgfd = -1;
      pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
    }
  if (pid < 0)
    {
      skiff_error(err, errno, "clone3 the container init");
      goto out;
    }
  if (pid == 0)
    {
      close(sv[0]);
      const struct skiff_namespace *cgns = spec_find_namespace(spec, SKIFF_NS_CGROUP);
      struct init_args ia = {.spec = spec,
                             .rootfs = c->rootfs,
                             .sync_fd = sv[1],
                             .fifo_fd = c->fifo_fd,
                             .console_fd = console_fd,
                             .preserve_fds = c->opts->preserve_fds,
                             .new_cgroupns = cgns && cgns->path == NULL,
                             .new_userns = (ca.flags & CLONE_NEWUSER) != 0,
                             .seccomp_bpf = c->bpf,
                             .seccomp_bpf_len = c->bpf_len,
                             .overlay_data = c->overlay_data,
                             .stdio_fd = c->stdio_fd,
                             .cgroup = cgroup_detect_mode() == CGROUP_MODE_V1 ? cg : NULL,
                             .born_in_cgroup2 = (ca.flags & CLONE_INTO_CGROUP) != 0,
                             .quick = quick_handshake(c, ca.flags),
                             .release_on_sync = c->release_on_sync,
                             .loopback_up = c->opts->net_loopback,
                             .lock_fd = c->lock_fd};
      init_main(&ia);
    }
  SKIFF_TRACE("clone3 returned");
  close(sv[1]);
  sv[1] = -1;
  if (quick_handshake(c, ca.flags))
    {
      if (c->early_state && c->release_on_sync && release_early(c, pid, sv[0], err) < 0)
        goto out;
      goto ready;
    }
  if (ca.flags & CLONE_NEWUSER && ns_write_id_maps(pid, spec, err) < 0)
    goto out;
  /* v2 children are born in the cgroup; on v1 the init joins it itself (see
     cgroup_enter_self: no kernel RCU wait, 5-30 ms saved per start) */
  if (cgroup_detect_mode() == CGROUP_MODE_V2 && !(ca.flags & CLONE_INTO_CGROUP)
      && cgroup_enter(cg, pid, err) < 0)
    goto out;
  if (spec->process.has_oom_score_adj)
    {
      cleanup_free char *p = xasprintf("/proc/%d/oom_score_adj", (int)pid);
      cleanup_free char *v = xasprintf("%d", spec->process.oom_score_adj);
      if (skiff_write_string_at(AT_FDCWD, p, v, err) < 0)
        goto out;
    }
  if (sync_send(sv[0], SYNC_MAPPED, "", err) < 0)
    goto out;
  if (sync_recv(sv[0], &type, &payload, err) < 0)
    goto out;
  if (type == SYNC_ERROR)
    {
      skiff_error(err, 0, "%s", payload);
      goto out;
    }
  if (c->opts->net && c->opts->net_ip
      && net_attach(c->opts->net, pid, c->opts->id, c->opts->net_ip, err) < 0)
    goto out;
  {
    cleanup_free char *state = creating_state_json(c, pid);
    if (hooks_run(spec, SKIFF_HOOK_PRESTART, state, err) < 0
        || hooks_run(spec, SKIFF_HOOK_CREATE_RUNTIME, state, err) < 0)
      goto out;
    if (sync_send(sv[0], SYNC_GO, state, err) < 0)
      goto out;
  }
ready:
  free(payload);
  payload = NULL;
  if (sync_recv(sv[0], &type, &payload, err) < 0)
    goto out;
  SKIFF_TRACE("init ready");
  if (type != SYNC_READY)
    {
      skiff_error(err, 0, "%s", type == SYNC_ERROR ? payload : "unexpected message from init");
      goto out;
    }
  *pid_out = pid;
  pid = -1;
  if (c->release_on_sync)
    c->sync_fd = steal_fd(&sv[0]);
  ret = 0;
out:
  free(payload);
  if (pid > 0)
    {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
  if (ret < 0 && c->released && c->opts->pid_file)
    unlink(c->opts->pid_file); /* state.json goes with the caller's container_ctx_abort */
  if (ret < 0 && cg)
    cgroup_destroy(cg, NULL);
  if (cg)
    cgroup_free(cg);
  for (int i = 0; i < 2; i++)
    if (sv[i] >= 0)
      close(sv[i]);
  if (console_fd >= 0)
    close(console_fd);
  if (cgfd >= 0)
    close(cgfd);
  return ret;
}

static int write_pid_file(const char *path, pid_t pid, struct skiff_err **err)
{
  if (path == NULL)
    return 0;
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
  return skiff_write_file_atomic(path, buf, n, 0644, err);
}

int container_save_created(struct create_ctx *c, pid_t pid, pid_t monitor, int restarts,
                           struct skiff_err **err)
{
  struct skiff_state st = {.id = (char *)c->opts->id,
                           .bundle = c->bundle,
                           .rootfs = c->rootfs,
                           .cgroup_path = c->cgroup_path,
                           .owner = (char *)"root",
                           .annotations = c->spec->annotations,
                           .pid = pid,
                           .start_time = state_proc_start_time(pid),
                           .monitor_pid = monitor,
                           .restart_count = restarts,
                           .created_done = true,
                           .created = c->created,
                           .hooks_known = true,
                           .poststart_hooks = (int)c->spec->n_hooks[SKIFF_HOOK_POSTSTART],
                           .poststop_hooks = (int)c->spec->n_hooks[SKIFF_HOOK_POSTSTOP]};
  return state_save(c->opts->root, &st, err);
}

/* Called when nobody waits on us any more (the monitor, `run` once started) or, for
 * create, once everything else is done: one compile per profile and state root. */
void container_cache_seccomp(struct create_ctx *c)
{
  if (c->seccomp_key && c->bpf == NULL)
    seccomp_cache_store(c->opts->root, c->seccomp_key, &c->spec->linux.seccomp);
}

void container_ctx_abort(struct create_ctx *c)
{
  container_ctx_unlock(c);
  if (c->dir)
    skiff_rm_rf(c->dir, NULL);
}

int container_ctx_setup(struct create_ctx *c, const struct container_opts *opts, bool foreground,
                        struct skiff_err **err)
{
  if (ctx_init(c, opts, err) < 0)
    return -1;
  c->release_on_sync = foreground;
  SKIFF_TRACE("spec read and checked");
  if (state_create_dir(opts->root, opts->id, err) < 0)
    return -1; /* "already exists": not ours to remove */
  /* Fault tolerance (SIGKILL of `skiff create`): hold the container's lock while
   * creating, so a `delete --force` that comes meanwhile waits for a consistent state
   * instead of racing us; a delete that came first leaves no dir to lock. */
  c->lock_fd = state_lock(opts->root, opts->id, err);
  if (c->lock_fd < 0 || ctx_prepare_dir(c, err) < 0)
    {
      container_ctx_abort(c);
      return -1;
    }
  SKIFF_TRACE("state dir, config copy, exec fifo");
  return 0;
}

void container_discard_init(struct create_ctx *c, pid_t pid)
{
  struct skiff_cgroup *cg = NULL;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  if (cgroup_new(c->cgroup_path, &cg, NULL) == 0)
    {
      cgroup_kill(cg, SIGKILL, NULL);
      cgroup_destroy(cg, NULL);
      cgroup_free(cg);
    }
}

/* runc's create: the init is our child until we exit, then the caller's subreaper's (an
 * engine's conmon or shim reaps it and learns its exit).  No process of ours stays. */
static pid_t create_unmonitored(struct create_ctx *c, struct skiff_err **err)
{
  pid_t pid = 0;
  if (container_spawn_init(c, &pid, err) < 0)
    {
      container_ctx_abort(c);
      return -1;
    }
  if (container_save_created(c, pid, 0, 0, err) < 0)
    {
      container_discard_init(c, pid);
      container_ctx_abort(c);
      return -1;
    }
  container_ctx_unlock(c);
  return pid;
}

static bool wants_monitor(const struct container_opts *o)
{
  return o->monitor || o->log_path || o->n_ports || o->restart.policy != CONTAINER_RESTART_NO;
}

int container_create(const struct container_opts *opts, struct skiff_err **err)
{
  struct create_ctx c;
  int ret = -1;
  if (container_ctx_setup(&c, opts, false, err) < 0)
    goto out;
  pid_t pid = wants_monitor(opts) ? monitor_create(&c, err) : create_unmonitored(&c, err);
  if (pid < 0)
    goto out;
  if (write_pid_file(opts->pid_file, pid, err) < 0)
    goto out;
  SKIFF_TRACE("created");
  if (!wants_monitor(opts))
    container_cache_seccomp(&c);
  ret = 0;
out:
  container_ctx_free(&c);
  return ret;
}

/* Release the init: read its byte from the exec fifo, then remove the fifo. */
static int release_init(const char *root, const struct skiff_state *st, struct skiff_err **err)
{
  cleanup_free char *fifo = xasprintf("%s/%s/exec.fifo", root, st->id);
  cleanup_close int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", fifo);
  long long deadline = skiff_now_ms() + 10000;
  for (;;)
    {
      char b;
      ssize_t n = read(fd, &b, 1);
      if (n == 1)
        break;
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return skiff_error(err, errno, "read `%s`", fifo);
      if (!state_pid_alive(st->pid, st->start_time))
        return skiff_error(err, 0, "container `%s`: init process died before start", st->id);
      if (skiff_now_ms() > deadline)
        return skiff_error(err, ETIMEDOUT, "start container `%s`", st->id);
      struct pollfd p = {.fd = fd, .events = POLLIN};
      poll(&p, 1, n == 0 ? 1 : 100);
    }
  unlink(fifo);
  SKIFF_TRACE("exec fifo read: init released");
  return 0;
}

static void run_poststart(const char *root, const struct skiff_state *st)
{
  if (st->hooks_known && st->poststart_hooks == 0)
    return; /* no config to parse */
  cleanup_spec struct skiff_spec *spec = NULL;
  if (container_load_saved_spec(root, st->id, &spec, NULL) < 0
      || spec->n_hooks[SKIFF_HOOK_POSTSTART] == 0)
    return;
  cleanup_free char *json = state_hook_json(st, SKIFF_HOOK_POSTSTART);
  struct skiff_err *err = NULL;
  /* the spec says a failing poststart hook is logged, not fatal */
  if (hooks_run(spec, SKIFF_HOOK_POSTSTART, json, &err) < 0)
    {
      skiff_report("warning: %s", err->msg);
      skiff_err_free(&err);
    }
}

int container_start(const char *root, const char *id, struct skiff_err **err)
{
  cleanup_close int lock = state_lock(root, id, err);
  if (lock < 0)
    return -1;
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  enum skiff_status s = state_status(root, st);
  if (s != SKIFF_STATUS_CREATED)
    return skiff_error(err, 0, "cannot start container `%s`: it is %s, not created", id,
                       state_status_name(s));
  if (release_init(root, st, err) < 0)
    return -1;
  run_poststart(root, st);
  return 0;
}

/* Send the init its SYNC_START (unless release_early queued it): it execs
 * process.args.  No exec fifo, no re-read of the state: the process that created the
 * init releases it. */
static int release_on_sync(struct create_ctx *c, struct skiff_err **err)
{
  if (!c->released && sync_send(c->sync_fd, SYNC_START, "", err) < 0)
    return -1;
  close(steal_fd(&c->sync_fd));
  SKIFF_TRACE("init released");
  return 0;
}

/* After the init's READY: state.json and the pid file, unless release_early wrote them. */
static int save_created_late(struct create_ctx *c, pid_t pid, pid_t monitor, struct skiff_err **err)
{
  if (c->released)
    return 0;
  if (container_save_created(c, pid, monitor, 0, err) < 0)
    return -1;
  return write_pid_file(c->opts->pid_file, pid, err);
}

/* No hook forks between here and the init's release: the forwarded signals can be
 * blocked before the clone (the init clears its mask first thing), so none is lost
 * even when the init execs before we are back from the handshake. */
static bool block_before_spawn(const struct create_ctx *c)
{
  return c->spec->n_hooks[SKIFF_HOOK_PRESTART] == 0
         && c->spec->n_hooks[SKIFF_HOOK_CREATE_RUNTIME] == 0;
}

static void poststart_after_release(const struct create_ctx *c)
{
  if (c->spec->n_hooks[SKIFF_HOOK_POSTSTART] == 0)
    return;
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(c->opts->root, c->opts->id, &st, NULL) == 0)
    run_poststart(c->opts->root, st);
}

/* `run --detach` without a monitor: create and start in one process, as runc's run -d
 * does.  The init is released over the sync socket the moment state.json is written
 * (no exec fifo to make, open and remove, no second lock and state read); we return
 * without waiting for its exec, and it outlives us (no death signal past READY). */
static int run_detached(const struct container_opts *opts, struct skiff_err **err)
{
  struct create_ctx c;
  int ret = -1;
  pid_t pid = 0;
  if (container_ctx_setup(&c, opts, true, err) < 0)
    goto out;
  c.early_state = true;
  if (container_spawn_init(&c, &pid, err) < 0 || save_created_late(&c, pid, 0, err) < 0)
    {
      if (pid > 0)
        container_discard_init(&c, pid);
      container_ctx_abort(&c);
      goto out;
    }
  container_ctx_unlock(&c);
  SKIFF_TRACE("created");
  if (release_on_sync(&c, err) < 0)
    {
      container_delete(opts->root, opts->id, true, NULL);
      goto out;
    }
  poststart_after_release(&c);
  container_cache_seccomp(&c);
  ret = 0;
out:
  container_ctx_free(&c);
  return ret;
}

int container_run(const struct container_opts *opts, int *exit_code, struct skiff_err **err)
{
  *exit_code = 0;
  if (opts->detach && !wants_monitor(opts))
    return run_detached(opts, err);
  if (opts->detach)
    {
      if (container_create(opts, err) < 0)
        return -1;
      if (container_start(opts->root, opts->id, err) < 0)
        {
          container_delete(opts->root, opts->id, true, NULL);
          return -1;
        }
      return 0;
    }
  /* Foreground: we are the monitor ourselves. */
  struct create_ctx c;
  int ret = -1;
  pid_t pid = 0;
  if (container_ctx_setup(&c, opts, true, err) < 0)
    goto out;
  sigset_t fwd, old;
  /* block before the init can run our process so no signal is lost; the init clears
     the mask it inherits */
  bool early = block_before_spawn(&c);
  if (early)
    container_block_forwarded(&fwd, &old);
  c.early_state = early;
  c.early_monitor = getpid();
  if (container_spawn_init(&c, &pid, err) < 0 || save_created_late(&c, pid, getpid(), err) < 0)
    {
      if (early)
        sigprocmask(SIG_SETMASK, &old, NULL);
      if (pid > 0)
        container_discard_init(&c, pid);
      container_ctx_abort(&c);
      goto out;
    }
  container_ctx_unlock(&c);
  SKIFF_TRACE("state.json: created");
  if (!early)
    container_block_forwarded(&fwd, &old);
  if (release_on_sync(&c, err) < 0)
    {
      sigprocmask(SIG_SETMASK, &old, NULL);
      container_delete(opts->root, opts->id, true, NULL);
      goto out;
    }
  poststart_after_release(&c);
  container_cache_seccomp(&c);
  int status = container_wait_forwarding(pid, &fwd);
  SKIFF_TRACE("container exited");
  sigprocmask(SIG_SETMASK, &old, NULL);
  /* exit.json only for a container that stays or poststop hooks that are told the exit
     code: otherwise delete removes it at once */
  if (opts->keep || c.spec->n_hooks[SKIFF_HOOK_POSTSTOP])
    state_record_exit(opts->root, opts->id, status, NULL);
  SKIFF_TRACE("exit recorded");
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (!opts->keep)
    container_delete(opts->root, opts->id, true, NULL);
  SKIFF_TRACE("deleted");
  ret = 0;
out:
  container_ctx_free(&c);
  return ret;
}
