/* tty.c - host pseudo-terminals for interactive runs and execs (see tty.h). */
#define _GNU_SOURCE
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/signalfd.h>
#include <termios.h>

int tty_open_pair(int *master, int *slave, struct skiff_err **err)
{
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return skiff_error(err, errno, "open `/dev/ptmx`");
  char name[128];
  if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
    {
      int saved = errno;
      close(m);
      return skiff_error(err, saved, "set up the pseudo-terminal");
    }
  int s = open(name, O_RDWR | O_NOCTTY);
  if (s < 0)
    {
      int saved = errno;
      close(m);
      return skiff_error(err, saved, "open `%s`", name);
    }
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl(m, TIOCSWINSZ, &ws);
  *master = m;
  *slave = s;
  return 0;
}

/* Unix98 pty slaves have majors 136..143. */
#define PTY_SLAVE_MAJOR_FIRST 136
#define PTY_SLAVE_MAJOR_LAST 143

int tty_open_in_root(int *master, int *slave, char *name, size_t len, struct skiff_err **err)
{
  cleanup_close int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return skiff_error(err, errno, "open `/dev/ptmx`");
  if (unlockpt(m) < 0)
    return skiff_error(err, errno, "unlockpt");
  if (ptsname_r(m, name, len) != 0)
    return skiff_error(err, errno, "ptsname");
  cleanup_close int s = open(name, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
  if (s < 0 && errno == ELOOP)
    return skiff_error(err, ELOOP, "`%s` is not a pty slave (a symlink)", name);
  if (s < 0)
    return skiff_error(err, errno, "open `%s`", name);
  struct stat st;
  if (fstat(s, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) < PTY_SLAVE_MAJOR_FIRST
      || major(st.st_rdev) > PTY_SLAVE_MAJOR_LAST)
    return skiff_error(err, EINVAL, "`%s` is not a pty slave", name);
  *master = steal_fd(&m);
  *slave = steal_fd(&s);
  return 0;
}

int tty_send_fd(int sock, int fd, struct skiff_err **err)
{
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof(cbuf));
  char data[] = "/dev/ptmx";
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  struct msghdr msg
      = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error(err, errno, "send the pty master over the console socket");
  return 0;
}

int tty_recv_fd(int sock, int *fd, struct skiff_err **err)
{
  char cbuf[CMSG_SPACE(sizeof(int))], data[64];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  struct msghdr msg
      = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
  ssize_t n;
  do
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error(err, errno, "receive the pty master from the console socket");
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || c == NULL || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
    return skiff_error(err, 0, "console socket: no pty master received");
  memcpy(fd, CMSG_DATA(c), sizeof(int));
  return 0;
}

int tty_make_controlling(int slave, struct skiff_err **err)
{
  if (setsid() < 0 && errno != EPERM)
    return skiff_error(err, errno, "setsid");
  if (ioctl(slave, TIOCSCTTY, 0) < 0)
    return skiff_error(err, errno, "ioctl TIOCSCTTY");
  for (int i = 0; i < 3; i++)
    if (dup2(slave, i) < 0)
      return skiff_error(err, errno, "dup2 the terminal");
  if (slave > 2)
    close(slave);
  return 0;
}

static bool copy_some(int from, int to)
{
  char buf[8192];
  ssize_t n = read(from, buf, sizeof(buf));
  if (n <= 0)
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  return skiff_write_all(to, buf, (size_t)n) >= 0;
}

void tty_proxy(int master, int pidfd)
{
  struct termios saved, raw;
  bool is_tty = tcgetattr(STDIN_FILENO, &saved) == 0;
  if (is_tty)
    {
      raw = saved;
      cfmakeraw(&raw);
      tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  sigprocmask(SIG_BLOCK, &winch, NULL);
  int sfd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
  bool in_open = true, out_open = true;
  while (out_open)
    {
      struct pollfd p[4] = {{.fd = master, .events = POLLIN},
                            {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
                            {.fd = sfd, .events = POLLIN},
                            {.fd = pidfd, .events = POLLIN}};
      if (poll(p, 4, -1) < 0 && errno != EINTR)
        break;
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        out_open = copy_some(master, STDOUT_FILENO) && !(p[0].revents & POLLERR);
      if (p[1].revents & (POLLIN | POLLHUP))
        in_open = copy_some(STDIN_FILENO, master);
      if (p[2].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          while (read(sfd, &si, sizeof(si)) == sizeof(si))
            ;
          struct winsize ws;
          if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
            ioctl(master, TIOCSWINSZ, &ws);
        }
      if (p[3].revents & POLLIN)
        {
          /* the process is gone: drain what it wrote last, then stop */
          int fl = fcntl(master, F_GETFL);
          fcntl(master, F_SETFL, fl | O_NONBLOCK);
          while (copy_some(master, STDOUT_FILENO))
            {
              struct pollfd q = {.fd = master, .events = POLLIN};
              if (poll(&q, 1, 0) <= 0 || !(q.revents & POLLIN))
                break;
            }
          break;
        }
    }
  if (is_tty)
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (sfd >= 0)
    close(sfd);
  sigprocmask(SIG_UNBLOCK, &winch, NULL);
}
