/* monitor.c - the per-container parent (conmon / containerd-shim in small).
 *
 * It reaps the init and records its exit code and time in the state dir; for
 * containers started from images it also copies their stdout/stderr into a size-capped
 * log and serves their published ports (proxy.c).  One epoll loop: a signalfd for
 * SIGCHLD, the log pipe, the proxy's epoll fd.  It holds no fd of the caller, lives in
 * its own session and ignores terminal signals, so the container outlives the skiff
 * that created it. */
#define _GNU_SOURCE
#include "container.h"
#include "managed.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

int monitor_log_should_rotate(long long current_size, size_t incoming, long long max)
{
  return max > 0 && current_size > 0 && current_size + (long long)incoming > max;
}

struct log_sink
{
  const char *path;
  int fd;
  long long size;
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
  if (monitor_log_should_rotate(l->size, n, SKIFF_LOG_MAX))
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

void monitor_main(const char *root, const char *id, pid_t init_pid, const struct monitor_io *io)
{
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_NAME, "skiff-monitor");
  /* We live as long as the container on what the create left in our heap (the parsed
     spec, image config, JSON text): give the free pages back (1.2 MB -> 0.2 MB of
     private memory per docker-style container, measured). */
  malloc_trim(0);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.fd = sfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  int log_fd = io ? io->log_fd : -1;
  struct log_sink sink = {.path = io ? io->log_path : NULL, .fd = -1};
  if (sink.path)
    log_open(&sink);
  if (log_fd >= 0)
    {
      ev.data.fd = log_fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, log_fd, &ev);
    }
  int pfd = io && io->proxy ? proxy_fd(io->proxy) : -1;
  if (pfd >= 0)
    {
      ev.data.fd = pfd;
      epoll_ctl(ep, EPOLL_CTL_ADD, pfd, &ev);
    }

  int status = 0;
  bool exited = false;
  /* the init may have exited before we blocked SIGCHLD: look once */
  if (waitpid(init_pid, &status, WNOHANG) == init_pid)
    exited = true;
  while (!exited || log_fd >= 0)
    {
      struct epoll_event evs[16];
      int n = epoll_wait(ep, evs, 16, exited ? 200 : -1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 && exited)
        break; /* output drained long enough after exit */
      for (int i = 0; i < n; i++)
        {
          int fd = evs[i].data.fd;
          if (fd == sfd)
            {
              struct signalfd_siginfo si;
              while (read(sfd, &si, sizeof(si)) == sizeof(si))
                ;
              pid_t r;
              int st;
              while ((r = waitpid(-1, &st, WNOHANG)) > 0)
                if (r == init_pid)
                  {
                    status = st;
                    exited = true;
                  }
            }
          else if (fd == log_fd)
            {
              char buf[65536];
              ssize_t r = read(log_fd, buf, sizeof(buf));
              if (r > 0)
                log_write(&sink, buf, (size_t)r);
              else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                {
                  epoll_ctl(ep, EPOLL_CTL_DEL, log_fd, NULL);
                  close(log_fd);
                  log_fd = -1;
                }
            }
          else if (fd == pfd)
            proxy_dispatch(io->proxy);
        }
    }
  state_record_exit(root, id, status, NULL);
  /* `skiff run -d --rm`: nobody waits for this container, remove it ourselves; and a
     stopped container needs neither its veth nor its address (docker frees them too) */
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, NULL) == 0)
    managed_release_network(st->annotations);
  if (st)
    for (size_t i = 0; st->annotations && st->annotations[i] && st->annotations[i + 1]; i += 2)
      if (strcmp(st->annotations[i], "org.skiff.autoremove") == 0)
        {
          managed_remove(root, "", id, true, NULL);
          break;
        }
  _exit(0);
}
