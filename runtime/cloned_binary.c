/* cloned_binary.c - re-exec skiff from a sealed memfd copy of its own executable
 * (CVE-2019-5736: the container must never get a handle on the host's skiff file).
 *
 * "Already the copy" is decided by the file itself: F_GET_SEALS on /proc/self/exe
 * returns our seals only for a memfd we sealed; a file on a host filesystem has none
 * (fcntl fails with EINVAL), and no environment variable is trusted for it. */
#define _GNU_SOURCE
#include "cloned_binary.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

extern char **environ;

static int seals_of(int fd)
{
  int s = fcntl(fd, F_GET_SEALS);
  return s < 0 ? 0 : s;
}

int cloned_binary_is_sealed(struct skiff_err **err)
{
  cleanup_close int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `/proc/self/exe`");
  return (seals_of(fd) & CLONED_BINARY_SEALS) == CLONED_BINARY_SEALS;
}

/* A memfd that may be executed: MFD_EXEC where the kernel knows it (vm.memfd_noexec). */
static int exec_memfd(struct skiff_err **err)
{
  int fd = memfd_create("skiff", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create("skiff", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return skiff_error(err, errno, "memfd_create `skiff`");
  return fd;
}

/* Copy all of src into dst (sendfile, then plain read/write if that is refused). */
static int copy_all(int src, int dst, off_t size, struct skiff_err **err)
{
  off_t done = 0;
  while (done < size)
    {
      ssize_t n = sendfile(dst, src, NULL, (size_t)(size - done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EINVAL || errno == ENOSYS) && done == 0)
        break;
      if (n < 0)
        return skiff_error(err, errno, "sendfile `/proc/self/exe` to memfd");
      if (n == 0)
        return skiff_error(err, 0, "`/proc/self/exe`: short copy (%lld of %lld bytes)",
                           (long long)done, (long long)size);
      done += n;
    }
  char buf[65536];
  while (done < size)
    {
      ssize_t r = read(src, buf, sizeof(buf));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return skiff_error(err, r < 0 ? errno : 0, "read `/proc/self/exe`");
      for (ssize_t off = 0; off < r;)
        {
          ssize_t w = write(dst, buf + off, (size_t)(r - off));
          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            return skiff_error(err, errno, "write memfd copy of `/proc/self/exe`");
          off += w;
        }
      done += r;
    }
  return 0;
}

int cloned_binary_ensure(int argc, char **argv, struct skiff_err **err)
{
  (void)argc;
  cleanup_close int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return skiff_error(err, errno, "open `/proc/self/exe`");
  if ((seals_of(self) & CLONED_BINARY_SEALS) == CLONED_BINARY_SEALS)
    return 0;
  struct stat st;
  if (fstat(self, &st) < 0)
    return skiff_error(err, errno, "fstat `/proc/self/exe`");
  cleanup_close int mfd = exec_memfd(err);
  if (mfd < 0)
    return -1;
  if (copy_all(self, mfd, st.st_size, err) < 0)
    return -1;
  /* F_SEAL_WRITE fails with EBUSY while the kernel still holds a page of our writes
     (seen once in 336 churn cycles): let it settle and try again */
  int sealed = -1;
  for (int attempt = 0; attempt < 50 && sealed < 0; attempt++)
    {
      sealed = fcntl(mfd, F_ADD_SEALS, CLONED_BINARY_SEALS);
      if (sealed < 0 && errno != EBUSY)
        break;
      if (sealed < 0)
        usleep(1000);
    }
  if (sealed < 0)
    return skiff_error(err, errno, "fcntl F_ADD_SEALS on the memfd copy of skiff");
  /* Check what we built before trusting it: the re-exec'd skiff only looks at seals. */
  if ((seals_of(mfd) & CLONED_BINARY_SEALS) != CLONED_BINARY_SEALS)
    return skiff_error(err, 0, "memfd copy of skiff: seals not applied");
  SKIFF_TRACE("memfd copy sealed, re-exec");
  fexecve(mfd, argv, environ);
  return skiff_error(err, errno, "fexecve the sealed copy of `/proc/self/exe`");
}
