/* container.c - create, start and run (see container.h for the process picture).
 * Owns the parent side of the init handshake and the state dir while creating. */
#define _GNU_SOURCE
#include "container.h"
#include "cgroup.h"
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
  do
    n = recv(fd, buf, SYNC_MAX, 0);
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

/* Everything create and run share, resolved once. */
struct create_ctx
{
  const struct container_opts *opts;
  struct skiff_spec *owned_spec;
  const struct skiff_spec *spec;
  char *spec_text;
  char *bundle, *rootfs, *dir, *cgroup_path;
  int fifo_fd;
  char *seccomp_key; /* cache key of the profile; bpf is the cached filter if any */
  char *overlay_data;
  int stdio_fd; /* init's stdout/stderr (the write end of the monitor's log pipe), or -1 */
  void *bpf;
  size_t bpf_len;
};

static void ctx_free(struct create_ctx *c)
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
  if (c->fifo_fd >= 0)
    close(c->fifo_fd);
}

static int ctx_init(struct create_ctx *c, const struct container_opts *o, struct skiff_err **err)
{
  memset(c, 0, sizeof(*c));
  c->fifo_fd = -1;
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

/* The state dir with the config copy, the exec fifo and a first state.json. */
static int ctx_prepare_dir(struct create_ctx *c, struct skiff_err **err)
{
  const struct container_opts *o = c->opts;
  if (state_create_dir(o->root, o->id, err) < 0)
    return -1;
  cleanup_free char *cfg = xasprintf("%s/config.json", c->dir);
  if (skiff_write_file(cfg, c->spec_text, strlen(c->spec_text), 0600, err) < 0)
    return -1;
  cleanup_free char *fifo = xasprintf("%s/exec.fifo", c->dir);
  /* 0622: the init may already run as a non-root user when it opens it */
  if (mkfifo(fifo, 0622) < 0)
    return skiff_error(err, errno, "mkfifo `%s`", fifo);
  chmod(fifo, 0622);
  c->fifo_fd = open(fifo, O_PATH | O_CLOEXEC);
  if (c->fifo_fd < 0)
    return skiff_error(err, errno, "open `%s`", fifo);
  struct skiff_state st = {.id = (char *)o->id,
                           .bundle = c->bundle,
                           .rootfs = c->rootfs,
                           .cgroup_path = c->cgroup_path,
                           .owner = (char *)"root",
                           .annotations = c->spec->annotations};
  cleanup_free char *now = state_now_rfc3339();
  st.created = now;
  return state_save(o->root, &st, err);
}

/* The state the prestart, createRuntime and createContainer hooks read.  Built with
 * jansson: a bundle path is any string (a `"` or `\\` in it broke the printf-built JSON). */
static char *creating_state_json(struct create_ctx *c, pid_t pid)
{
  json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:s}", "ociVersion", "1.2.0", "id", c->opts->id, "status",
                        "creating", "pid", (int)pid, "bundle", c->bundle);
  /* a bundle that is not UTF-8 was refused earlier, by state_save: only OOM fails here */
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (text == NULL)
    abort();
  return text;
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

/* Clone the init and walk it through the handshake.  On success *pid is the init,
 * waiting on the exec fifo, inside its cgroup.  On failure nothing is left: the init
 * is killed and reaped, the cgroup removed. */
static int spawn_init(struct create_ctx *c, pid_t *pid_out, struct skiff_err **err)
{
  const struct skiff_spec *spec = c->spec;
  struct skiff_cgroup *cg = NULL;
  int sv[2] = {-1, -1}, console_fd = -1, cgfd = -1;
  pid_t pid = -1;
  int ret = -1;
  char type;
  char *payload = NULL;

  if (spec->process.terminal && c->opts->console_socket == NULL)
    return skiff_error(err, 0, "process.terminal is true: --console-socket is required");
  if (cgroup_new(c->cgroup_path, &cg, err) < 0 || cgroup_create(cg, err) < 0)
    goto out;
  if (spec->linux.has_resources && cgroup_apply(cg, &spec->linux.resources, err) < 0)
    goto out;
  if (c->opts->console_socket && spec->process.terminal)
    {
      console_fd = connect_console(c->opts->console_socket, err);
      if (console_fd < 0)
        goto out;
    }
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
                             .born_in_cgroup2 = (ca.flags & CLONE_INTO_CGROUP) != 0};
      init_main(&ia);
    }
  close(sv[1]);
  sv[1] = -1;
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
  if (c->opts->net_loopback && net_loopback_up(pid, err) < 0)
    goto out;
  {
    cleanup_free char *state = creating_state_json(c, pid);
    if (hooks_run(spec, SKIFF_HOOK_PRESTART, state, err) < 0
        || hooks_run(spec, SKIFF_HOOK_CREATE_RUNTIME, state, err) < 0)
      goto out;
    if (sync_send(sv[0], SYNC_GO, state, err) < 0)
      goto out;
  }
  free(payload);
  payload = NULL;
  if (sync_recv(sv[0], &type, &payload, err) < 0)
    goto out;
  if (type != SYNC_READY)
    {
      skiff_error(err, 0, "%s", type == SYNC_ERROR ? payload : "unexpected message from init");
      goto out;
    }
  *pid_out = pid;
  pid = -1;
  ret = 0;
out:
  free(payload);
  if (pid > 0)
    {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
    }
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

/* The fds open right now (the caller's, inherited by a fork), malloc'd. */
static int *list_open_fds(size_t *n)
{
  size_t cap = 16;
  int *fds = xmalloc(cap * sizeof(int));
  *n = 0;
  cleanup_dir DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  int self = d ? dirfd(d) : -1;
  while (d && (de = readdir(d)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      int fd = atoi(de->d_name);
      if (fd == self)
        continue;
      if (*n == cap)
        fds = xrealloc(fds, (cap *= 2) * sizeof(int));
      fds[(*n)++] = fd;
    }
  return fds;
}

/* Listen on every published port now: a port in use fails the create. */
static struct skiff_proxy *make_proxy(const struct container_opts *o, struct skiff_err **err)
{
  struct skiff_proxy *p = proxy_new();
  for (size_t i = 0; i < o->n_ports; i++)
    if (proxy_add(p, o->ports[i].host_ip, o->ports[i].host_port,
                  o->net_ip ? o->net_ip : "127.0.0.1", o->ports[i].container_port, err)
        < 0)
      {
        proxy_free(p);
        return NULL;
      }
  return p;
}

static int write_pid_file(const char *path, pid_t pid, struct skiff_err **err)
{
  if (path == NULL)
    return 0;
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
  return skiff_write_file_atomic(path, buf, n, 0644, err);
}

static int save_created(struct create_ctx *c, pid_t pid, pid_t monitor, struct skiff_err **err)
{
  cleanup_free char *now = state_now_rfc3339();
  struct skiff_state st = {.id = (char *)c->opts->id,
                           .bundle = c->bundle,
                           .rootfs = c->rootfs,
                           .cgroup_path = c->cgroup_path,
                           .owner = (char *)"root",
                           .annotations = c->spec->annotations,
                           .pid = pid,
                           .start_time = state_proc_start_time(pid),
                           .monitor_pid = monitor,
                           .created_done = true,
                           .created = now};
  return state_save(c->opts->root, &st, err);
}

/* First container with this profile: store the compiled filter for the next ones.
 * Called when nobody waits on us any more (the monitor, or `run` once started). */
static void ctx_cache_seccomp(struct create_ctx *c)
{
  if (c->seccomp_key && c->bpf == NULL)
    seccomp_cache_store(c->opts->root, c->seccomp_key, &c->spec->linux.seccomp);
}

/* Undo a failed create: the state dir (the cgroup is gone with spawn_init). */
static void ctx_abort(struct create_ctx *c)
{
  if (c->dir)
    skiff_rm_rf(c->dir, NULL);
}

/* ctx_init + the state dir; a failure removes what it made (not another container's dir). */
static int ctx_setup(struct create_ctx *c, const struct container_opts *opts,
                     struct skiff_err **err)
{
  if (ctx_init(c, opts, err) < 0)
    return -1;
  if (ctx_prepare_dir(c, err) < 0)
    {
      if (!(*err && strstr((*err)->msg, "already exists")))
        ctx_abort(c);
      return -1;
    }
  return 0;
}

int container_create(const struct container_opts *opts, struct skiff_err **err)
{
  struct create_ctx c;
  int ret = -1, res[2] = {-1, -1};
  if (ctx_setup(&c, opts, err) < 0)
    goto out;
  if (pipe2(res, O_CLOEXEC) < 0)
    {
      skiff_error(err, errno, "pipe");
      ctx_abort(&c);
      goto out;
    }
  pid_t mon = fork();
  if (mon < 0)
    {
      skiff_error(err, errno, "fork the monitor");
      ctx_abort(&c);
      goto out;
    }
  if (mon == 0)
    {
      /* the monitor: its own session, so the caller's terminal signals miss it */
      struct skiff_err *merr = NULL;
      pid_t pid = 0;
      struct monitor_io io = {.log_fd = -1, .log_path = opts->log_path};
      close(res[0]);
      /* what the caller gave us (after res[0] went: its number may be reused below) */
      size_t n_inherited = 0;
      int *inherited = list_open_fds(&n_inherited);
      int logp[2] = {-1, -1};
      setsid();
      /* Fault tolerance (SIGKILL of `skiff create`): hold the container's lock while
       * creating, so a `delete --force` that comes meanwhile waits for a consistent
       * state instead of racing us; a delete that came first leaves no dir to lock. */
      int lock = state_lock(opts->root, opts->id, &merr);
      if (lock < 0)
        {
          cleanup_free char *msg = xasprintf("E%s", merr->msg);
          skiff_write_all(res[1], msg, strlen(msg));
          _exit(1);
        }
      if (opts->log_path && pipe2(logp, O_CLOEXEC) == 0)
        {
          c.stdio_fd = logp[1];
          io.log_fd = logp[0];
        }
      int r = spawn_init(&c, &pid, &merr);
      if (logp[1] >= 0)
        close(logp[1]);
      if (r == 0 && opts->n_ports)
        io.proxy = make_proxy(opts, &merr);
      /* the caller may be gone (killed): its pipe must not kill us with SIGPIPE */
      signal(SIGPIPE, SIG_IGN);
      if (r < 0 || (opts->n_ports && io.proxy == NULL)
          || save_created(&c, pid, getpid(), &merr) < 0)
        {
          if (pid > 0)
            {
              /* spawn_init succeeded: its cgroup is ours to remove (a delete may have
                 taken the state dir from under us) */
              struct skiff_cgroup *cg = NULL;
              kill(pid, SIGKILL);
              waitpid(pid, NULL, 0);
              if (cgroup_new(c.cgroup_path, &cg, NULL) == 0)
                {
                  cgroup_kill(cg, SIGKILL, NULL);
                  cgroup_destroy(cg, NULL);
                  cgroup_free(cg);
                }
            }
          cleanup_free char *msg = xasprintf("E%s", merr->msg);
          skiff_write_all(res[1], msg, strlen(msg));
          _exit(1);
        }
      /* LOCK_UN, not just close: the init shares this open file until it execs */
      flock(lock, LOCK_UN);
      close(lock);
      char ok[32];
      int n = snprintf(ok, sizeof(ok), "P%d", (int)pid);
      skiff_write_all(res[1], ok, n);
      signal(SIGPIPE, SIG_DFL);
      close(res[1]);
      int null = open("/dev/null", O_RDWR | O_CLOEXEC);
      for (int i = 0; i < 3; i++)
        dup2(null, i);
      /* drop every fd the caller gave us, so nobody waits on a pipe we hold */
      for (size_t i = 0; i < n_inherited; i++)
        if (inherited[i] > 2 && inherited[i] != res[1])
          close(inherited[i]);
      free(inherited);
      ctx_cache_seccomp(&c);
      monitor_main(opts->root, opts->id, pid, &io);
    }
  close(res[1]);
  res[1] = -1;
  /* One read: the monitor writes its answer at once (< PIPE_BUF).  Not read to EOF:
     the init holds a copy of the pipe until it execs. */
  char buf[4096];
  ssize_t n;
  do
    n = read(res[0], buf, sizeof(buf) - 1);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    {
      waitpid(mon, NULL, WNOHANG);
      skiff_error(err, 0, "monitor died while creating the container");
      ctx_abort(&c);
      goto out;
    }
  buf[n] = '\0';
  if (buf[0] != 'P')
    {
      skiff_error(err, 0, "%s", buf + 1);
      waitpid(mon, NULL, 0);
      ctx_abort(&c);
      goto out;
    }
  if (write_pid_file(opts->pid_file, (pid_t)atoi(buf + 1), err) < 0)
    goto out;
  ret = 0;
out:
  for (int i = 0; i < 2; i++)
    if (res[i] >= 0)
      close(res[i]);
  ctx_free(&c);
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
  return 0;
}

static void run_poststart(const char *root, const struct skiff_state *st)
{
  cleanup_spec struct skiff_spec *spec = NULL;
  if (container_load_saved_spec(root, st->id, &spec, NULL) < 0
      || spec->n_hooks[SKIFF_HOOK_POSTSTART] == 0)
    return;
  cleanup_free char *json = state_oci_json(root, st);
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

int container_run(const struct container_opts *opts, int *exit_code, struct skiff_err **err)
{
  *exit_code = 0;
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
  if (ctx_setup(&c, opts, err) < 0)
    goto out;
  sigset_t fwd, old;
  if (spawn_init(&c, &pid, err) < 0 || save_created(&c, pid, getpid(), err) < 0
      || write_pid_file(opts->pid_file, pid, err) < 0)
    {
      if (pid > 0)
        {
          kill(pid, SIGKILL);
          waitpid(pid, NULL, 0);
          container_delete(opts->root, opts->id, true, NULL);
        }
      else
        ctx_abort(&c);
      goto out;
    }
  /* block before release so no signal is lost; the init was cloned earlier with the
     old mask, so it is not affected */
  container_block_forwarded(&fwd, &old);
  {
    cleanup_state struct skiff_state *st = NULL;
    if (state_load(opts->root, opts->id, &st, err) < 0 || release_init(opts->root, st, err) < 0)
      {
        sigprocmask(SIG_SETMASK, &old, NULL);
        container_delete(opts->root, opts->id, true, NULL);
        goto out;
      }
    run_poststart(opts->root, st);
  }
  ctx_cache_seccomp(&c);
  int status = container_wait_forwarding(pid, &fwd);
  sigprocmask(SIG_SETMASK, &old, NULL);
  state_record_exit(opts->root, opts->id, status, NULL);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (!opts->keep)
    container_delete(opts->root, opts->id, true, NULL);
  ret = 0;
out:
  ctx_free(&c);
  return ret;
}
