/* monitor.c - the per-container parent (conmon / containerd-shim in small) that skiff's
 * docker-style verbs and the agent put between them and the init; the OCI verbs use none
 * (the engine that drives them brings its own, see container.h).
 *
 * monitor_create forks it from `skiff create`; it spawns the init, answers the caller and
 * stays.  It reaps the init and records its exit code and time in the state dir,
 * restarts it by the container's --restart policy with back-off (restart.c), and for
 * containers started from images copies their stdout/stderr into a size-capped log and
 * serves their published ports (proxy.c).  One epoll loop: a signalfd for SIGCHLD, the
 * log pipe, the proxy's epoll fd.  It holds no fd of the caller, lives in its own session
 * and ignores terminal signals, so the container outlives the skiff that created it. */
#define _GNU_SOURCE
#include "container_internal.h"
#include "managed.h"
#include "restart.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

int monitor_log_should_rotate(long long current_size, size_t incoming, long long max)
{
  return max > 0 && current_size > 0 && current_size + (long long)incoming > max;
}

/* What the monitor watches besides the init. */
struct monitor_io
{
  int log_fd;                /* read end of the container's stdout/stderr, or -1 */
  const char *log_path;      /* file the output goes to (rotated at log_max) */
  long long log_max;         /* 0: SKIFF_LOG_MAX */
  struct skiff_proxy *proxy; /* published ports, or NULL */
};

struct log_sink
{
  const char *path;
  int fd;
  long long size, max;
};

static void log_open(struct log_sink *l)
{
  struct stat st;
  l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  l->size = l->fd >= 0 && fstat(l->fd, &st) == 0 ? st.st_size : 0;
}

static void log_write(struct log_sink *l, const char *buf, size_t n)
{
  if (l->path == NULL)
    return;
  if (monitor_log_should_rotate(l->size, n, l->max))
    {
      /* keep one previous file: bounded disk use, `skiff logs` still shows recent history */
      cleanup_free char *old = xasprintf("%s.1", l->path);
      if (l->fd >= 0)
        close(l->fd);
      rename(l->path, old);
      log_open(l);
    }
  if (l->fd >= 0 && skiff_write_all(l->fd, buf, n) > 0)
    l->size += (long long)n;
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
  /* the monitor serves up to PROXY_PUBLISH_LIMITS connections of 2 fds each: take the
     hard fd limit (the container's own limits come from its spec, set already) */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  struct skiff_proxy *p = proxy_new();
  struct proxy_limits lim = PROXY_PUBLISH_LIMITS;
  proxy_set_limits(p, &lim);
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

/* The monitor's loop state. */
struct monitor
{
  struct create_ctx *c;
  struct monitor_io io;
  struct log_sink sink;
  int ep, sfd;
  pid_t init;
  int status;
  bool exited;
};

static int watch_fd(struct monitor *m, int fd)
{
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  return epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Everything the loop waits on, made before the create reports success: a monitor that
 * cannot see its init exit would never record the exit code, so a failure here fails the
 * create instead. */
static int monitor_prepare(struct monitor *m, struct skiff_err **err)
{
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
    return skiff_error(err, errno, "monitor: block SIGCHLD");
  m->sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (m->sfd < 0)
    return skiff_error(err, errno, "monitor: signalfd");
  m->ep = epoll_create1(EPOLL_CLOEXEC);
  if (m->ep < 0)
    return skiff_error(err, errno, "monitor: epoll_create1");
  int fds[3] = {m->sfd, m->io.log_fd, m->io.proxy ? proxy_fd(m->io.proxy) : -1};
  for (int i = 0; i < 3; i++)
    if (fds[i] >= 0 && watch_fd(m, fds[i]) < 0)
      return skiff_error(err, errno, "monitor: epoll_ctl");
  return 0;
}

static void reap(struct monitor *m)
{
  struct signalfd_siginfo si;
  while (read(m->sfd, &si, sizeof(si)) == sizeof(si))
    ;
  pid_t r;
  int st;
  while ((r = waitpid(-1, &st, WNOHANG)) > 0)
    if (r == m->init)
      {
        m->status = st;
        m->exited = true;
      }
}

/* Serve the fds for up to timeout_ms (-1: until the init exited and its output is
 * drained, or drained for 200 ms after the exit). */
static void serve(struct monitor *m, int timeout_ms)
{
  long long deadline = timeout_ms >= 0 ? skiff_now_ms() + timeout_ms : 0;
  for (;;)
    {
      int wait_ms = -1;
      if (timeout_ms >= 0)
        {
          long long left = deadline - skiff_now_ms();
          if (left <= 0)
            return;
          wait_ms = (int)left;
        }
      else if (m->exited)
        {
          if (m->io.log_fd < 0)
            return;
          wait_ms = 200;
        }
      /* idle published-port clients expire on time (not while draining after the exit:
         a shorter wait there would cut the drain short) */
      int pt = m->io.proxy && !(timeout_ms < 0 && m->exited) ? proxy_timeout_ms(m->io.proxy) : -1;
      if (pt >= 0 && (wait_ms < 0 || pt < wait_ms))
        wait_ms = pt;
      struct epoll_event evs[16];
      int n = epoll_wait(m->ep, evs, 16, wait_ms);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 && timeout_ms < 0 && m->exited)
        return; /* output drained long enough after exit */
      for (int i = 0; i < n; i++)
        {
          int fd = evs[i].data.fd;
          if (fd == m->sfd)
            reap(m);
          else if (fd == m->io.log_fd)
            {
              char buf[65536];
              ssize_t r = read(fd, buf, sizeof(buf));
              if (r > 0)
                log_write(&m->sink, buf, (size_t)r);
              else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                {
                  epoll_ctl(m->ep, EPOLL_CTL_DEL, fd, NULL);
                  close(fd);
                  m->io.log_fd = -1;
                }
            }
          else if (m->io.proxy && fd == proxy_fd(m->io.proxy))
            proxy_dispatch(m->io.proxy);
        }
      if (m->io.proxy)
        proxy_expire(m->io.proxy); /* idle clients must not hold the port */
    }
}

static bool stopped_by_user(struct monitor *m)
{
  return state_stopped_by_user(m->c->opts->root, m->c->opts->id);
}

/* Wait out the back-off, serving the ports, and notice a `skiff stop` meanwhile. */
static bool backoff(struct monitor *m, long long delay_ms)
{
  long long deadline = skiff_now_ms() + delay_ms;
  while (skiff_now_ms() < deadline)
    {
      if (stopped_by_user(m))
        return false;
      long long left = deadline - skiff_now_ms();
      serve(m, left < 100 ? (int)left : 100);
    }
  return !stopped_by_user(m);
}

/* Spawn the init again (the namespaces went with the old one): a new log pipe, the
 * same cgroup and address, no exec fifo.  Returns its pid or -1. */
static pid_t respawn(struct monitor *m)
{
  struct create_ctx *c = m->c;
  int logp[2] = {-1, -1};
  struct skiff_err *err = NULL;
  pid_t pid = 0;
  if (c->opts->log_path && pipe2(logp, O_CLOEXEC) == 0)
    c->stdio_fd = logp[1];
  if (c->opts->net)
    net_detach(c->opts->id, NULL); /* the old veth died with its namespace; make sure */
  int r = container_spawn_init(c, &pid, &err);
  if (logp[1] >= 0)
    close(logp[1]);
  c->stdio_fd = -1;
  if (r < 0)
    {
      if (logp[0] >= 0)
        close(logp[0]);
      cleanup_free char *line = xasprintf("skiff: restart: %s\n", err->msg);
      log_write(&m->sink, line, strlen(line));
      skiff_err_free(&err);
      return -1;
    }
  if (logp[0] >= 0 && watch_fd(m, logp[0]) == 0)
    m->io.log_fd = logp[0];
  else if (logp[0] >= 0)
    {
      /* unwatched, the pipe would fill and block the init for good: its writes fail instead */
      close(logp[0]);
      const char *line = "skiff: restart: the output of this run is not logged (epoll_ctl)\n";
      log_write(&m->sink, line, strlen(line));
    }
  return pid;
}

/* Wait for the init, restart it as its policy says, record the last exit, leave. */
static void __attribute__((noreturn)) monitor_loop(struct monitor *m)
{
  const struct container_opts *o = m->c->opts;
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_NAME, "skiff-monitor");
  /* We live as long as the container on what the create left in our heap (the parsed
     spec, image config, JSON text): give the free pages back (1.2 MB -> 0.2 MB of
     private memory per docker-style container, measured). */
  malloc_trim(0);
  /* the signalfd and the epoll set were made by monitor_prepare */
  m->sink = (struct log_sink){
      .path = m->io.log_path, .fd = -1, .max = m->io.log_max > 0 ? m->io.log_max : SKIFF_LOG_MAX};
  if (m->sink.path)
    log_open(&m->sink);

  int restarts = 0, consecutive = 0;
  for (;;)
    {
      long long started = skiff_now_ms();
      /* the init may have exited before we blocked SIGCHLD: look once */
      if (waitpid(m->init, &m->status, WNOHANG) == m->init)
        m->exited = true;
      serve(m, -1);
      state_record_exit(o->root, o->id, m->status, NULL);
      int code = WIFEXITED(m->status) ? WEXITSTATUS(m->status) : 128 + WTERMSIG(m->status);
      pid_t pid = -1;
      while (pid < 0)
        {
          if (!restart_should(&o->restart, code, restarts, stopped_by_user(m)))
            goto out;
          /* a run of RESTART_RESET_MS or more starts the back-off again */
          consecutive = skiff_now_ms() - started >= RESTART_RESET_MS ? 0 : consecutive + 1;
          state_set_restarting(o->root, o->id, true);
          if (!backoff(m, restart_delay_ms(consecutive - 1)))
            goto out;
          restarts++;
          started = skiff_now_ms();
          pid = respawn(m);
          code = 127; /* could not start: counts as a failed run */
        }
      m->init = pid;
      m->exited = false;
      m->status = 0;
      container_save_created(m->c, pid, getpid(), restarts, NULL);
    }
out:
  state_set_restarting(o->root, o->id, false);
  /* `skiff run -d --rm`: nobody waits for this container, remove it ourselves; and a
     stopped container needs neither its veth nor its address (docker frees them too) */
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(o->root, o->id, &st, NULL) == 0)
    managed_release_network(st->annotations);
  if (st)
    for (size_t i = 0; st->annotations && st->annotations[i] && st->annotations[i + 1]; i += 2)
      if (strcmp(st->annotations[i], "org.skiff.autoremove") == 0)
        {
          managed_remove(o->root, "", o->id, true, NULL);
          break;
        }
  _exit(0);
}

/* The monitor's side of create: spawn the init, answer the caller on res ("P<pid>" or
 * "E<message>"), drop every fd of the caller, become the loop. */
static void __attribute__((noreturn)) monitor_child(struct create_ctx *c, int res)
{
  const struct container_opts *opts = c->opts;
  struct skiff_err *merr = NULL;
  pid_t pid = 0;
  struct monitor m = {.c = c,
                      .io = {.log_fd = -1, .log_path = opts->log_path, .log_max = opts->log_max},
                      .sfd = -1,
                      .ep = -1};
  /* what the caller gave us */
  size_t n_inherited = 0;
  int *inherited = list_open_fds(&n_inherited);
  int logp[2] = {-1, -1};
  /* its own session, so the caller's terminal signals miss it */
  setsid();
  SKIFF_TRACE("monitor forked");
  if (opts->log_path && pipe2(logp, O_CLOEXEC) == 0)
    {
      c->stdio_fd = logp[1];
      m.io.log_fd = logp[0];
    }
  int r = container_spawn_init(c, &pid, &merr);
  if (logp[1] >= 0)
    close(logp[1]);
  c->stdio_fd = -1;
  if (r == 0 && opts->n_ports)
    m.io.proxy = make_proxy(opts, &merr);
  /* the caller may be gone (killed): its pipe must not kill us with SIGPIPE */
  signal(SIGPIPE, SIG_IGN);
  if (r < 0 || (opts->n_ports && m.io.proxy == NULL) || monitor_prepare(&m, &merr) < 0
      || container_save_created(c, pid, getpid(), 0, &merr) < 0)
    {
      if (pid > 0)
        container_discard_init(c, pid);
      cleanup_free char *msg = xasprintf("E%s", merr->msg);
      skiff_write_all(res, msg, strlen(msg));
      _exit(1);
    }
  container_ctx_unlock(c);
  char ok[32];
  int n = snprintf(ok, sizeof(ok), "P%d", (int)pid);
  skiff_write_all(res, ok, n);
  signal(SIGPIPE, SIG_DFL);
  close(res);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; i++)
    dup2(null, i);
  /* drop every fd the caller gave us, so nobody waits on a pipe we hold */
  for (size_t i = 0; i < n_inherited; i++)
    if (inherited[i] > 2 && inherited[i] != res)
      close(inherited[i]);
  free(inherited);
  if (c->fifo_fd >= 0)
    {
      close(c->fifo_fd); /* the init holds its own copy; restarts go without one */
      c->fifo_fd = -1;
    }
  container_cache_seccomp(c);
  m.init = pid;
  monitor_loop(&m);
}

pid_t monitor_create(struct create_ctx *c, struct skiff_err **err)
{
  int res[2] = {-1, -1};
  if (pipe2(res, O_CLOEXEC) < 0)
    {
      skiff_error(err, errno, "pipe");
      container_ctx_abort(c);
      return -1;
    }
  pid_t mon = fork();
  if (mon < 0)
    {
      skiff_error(err, errno, "fork the monitor");
      close(res[0]);
      close(res[1]);
      container_ctx_abort(c);
      return -1;
    }
  if (mon == 0)
    {
      close(res[0]);
      monitor_child(c, res[1]);
    }
  close(res[1]);
  /* The monitor holds the state lock now (the same open file): our copy goes without
     LOCK_UN, which would release it for the monitor too. */
  close(c->lock_fd);
  c->lock_fd = -1;
  /* One read: the monitor writes its answer at once (< PIPE_BUF).  Not read to EOF:
     the init holds a copy of the pipe until it execs. */
  char buf[4096];
  ssize_t n;
  do
    n = read(res[0], buf, sizeof(buf) - 1);
  while (n < 0 && errno == EINTR);
  close(res[0]);
  if (n <= 0)
    {
      waitpid(mon, NULL, WNOHANG);
      skiff_error(err, 0, "monitor died while creating the container");
      container_ctx_abort(c);
      return -1;
    }
  buf[n] = '\0';
  if (buf[0] != 'P')
    {
      skiff_error(err, 0, "%s", buf + 1);
      waitpid(mon, NULL, 0);
      container_ctx_abort(c);
      return -1;
    }
  return (pid_t)atoi(buf + 1);
}
