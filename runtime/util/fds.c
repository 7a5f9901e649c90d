/* fds.c - closing every inherited file descriptor before a program of the container or of
 * a hook runs (CVE-2024-21626: a host fd that reaches such a program - above all a
 * directory of the host - gives it a way out of the container).  close_range(2) first; a
 * kernel without it, or a seccomp profile that refuses it, gets the slow path through
 * /proc/self/fd; when neither works the caller must fail rather than run with the fds. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>

static bool kept(int fd, const int *keep, size_t n_keep)
{
  for (size_t i = 0; i < n_keep; i++)
    if (keep[i] == fd)
      return true;
  return false;
}

static int cmp_int(const void *a, const void *b)
{
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* close_range over [lowfd, ~0] minus the kept fds; 0, or -1 with errno. */
static int close_ranges(int lowfd, const int *keep, size_t n_keep)
{
  int sorted[16];
  size_t n = 0;
  for (size_t i = 0; i < n_keep && n < 16; i++)
    if (keep[i] >= lowfd)
      sorted[n++] = keep[i];
  if (n < n_keep && n == 16)
    {
      errno = E2BIG;
      return -1;
    }
  qsort(sorted, n, sizeof(int), cmp_int);
  unsigned from = (unsigned)lowfd;
  for (size_t i = 0; i < n; i++)
    {
      unsigned k = (unsigned)sorted[i];
      if (k < from) /* a duplicate */
        continue;
      if (k > from && syscall(SYS_close_range, from, k - 1, 0) < 0)
        return -1;
      from = k + 1;
    }
  return syscall(SYS_close_range, from, ~0U, 0) < 0 ? -1 : 0;
}

/* The slow path: close what /proc/self/fd lists. */
static int close_listed(int lowfd, const int *keep, size_t n_keep, struct skiff_err **err)
{
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return skiff_error(err, errno,
                       "close inherited fds: close_range unavailable and open "
                       "`/proc/self/fd`");
  DIR *d = fdopendir(dfd);
  if (d == NULL)
    {
      int saved = errno;
      close(dfd);
      return skiff_error(err, saved, "close inherited fds: read `/proc/self/fd`");
    }
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d)) != NULL)
    {
      char *end = NULL;
      long fd = strtol(de->d_name, &end, 10);
      if (end == de->d_name || *end || fd < lowfd || fd == dfd || kept((int)fd, keep, n_keep))
        continue;
      /* /proc lists by number, so closing while reading skips nothing */
      close((int)fd);
    }
  int saved = errno;
  closedir(d);
  if (saved)
    return skiff_error(err, saved, "close inherited fds: read `/proc/self/fd`");
  return 0;
}

int skiff_close_fds_from(int lowfd, const int *keep, size_t n_keep, struct skiff_err **err)
{
  if (close_ranges(lowfd, keep, n_keep) == 0)
    return 0;
  /* ENOSYS (before 5.9), EPERM (a seccomp profile), EINVAL: the fallback decides */
  return close_listed(lowfd, keep, n_keep, err);
}
