/* cloned_binary.c - re-execute skiff through a handle the container cannot write
 * (CVE-2019-5736): a private read-only overlayfs over its directory, else a sealed memfd
 * copy (see cloned_binary.h).
 *
 * "Already protected" is decided by the running file itself: F_GET_SEALS on
 * /proc/self/exe returns our seals only for a memfd we sealed, fstatfs() says whether
 * it sits on a read-only overlayfs, statx() whether it is immutable; no environment
 * variable is trusted for it. */
#define _GNU_SOURCE
#include "cloned_binary.h"
#include "spec.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif

extern char **environ;

static int seals_of(int fd)
{
  int s = fcntl(fd, F_GET_SEALS);
  return s < 0 ? 0 : s;
}

static enum cloned_binary_kind kind_of(int fd)
{
  if ((seals_of(fd) & CLONED_BINARY_SEALS) == CLONED_BINARY_SEALS)
    return CLONED_BINARY_MEMFD;
  /* read-only either at the mount or at the superblock: a write through this path is
     refused (EROFS), and a container cannot remount a mount of another namespace */
  struct statfs sf;
  if (fstatfs(fd, &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC && (sf.f_flags & ST_RDONLY))
    return CLONED_BINARY_OVERLAY;
  /* the filesystem reports the flag it enforces (ext4, xfs, btrfs, tmpfs...) */
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0
      && (sx.stx_attributes_mask & STATX_ATTR_IMMUTABLE)
      && (sx.stx_attributes & STATX_ATTR_IMMUTABLE))
    return CLONED_BINARY_IMMUTABLE;
  return CLONED_BINARY_NONE;
}

/* The running executable cannot change without an exec, which starts this process
 * image afresh: the answer is asked once (main asks before the verb, ensure again). */
static int kind_cached = -1;

int cloned_binary_kind(struct skiff_err **err)
{
  if (kind_cached >= 0)
    return kind_cached;
  cleanup_close int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `/proc/self/exe`");
  kind_cached = (int)kind_of(fd);
  return kind_cached;
}

/* overlayfs escapes ':' and '\' in a lowerdir list with '\' */
static char *escape_lower(const char *path)
{
  char *out = xmalloc(2 * strlen(path) + 1), *o = out;
  for (const char *p = path; *p; p++)
    {
      if (*p == ':' || *p == '\\')
        *o++ = '\\';
      *o++ = *p;
    }
  *o = '\0';
  return out;
}

/* An O_PATH handle on our own binary through a new, detached, read-only overlay of its
 * directory, or -1 (the caller falls back to the copy; *err says why).  Two lower
 * layers and no upper one is overlayfs's "lower-only" mode: the superblock is read-only
 * for good.  The binary's directory is the top layer, so a file of the same name in
 * lower_dir cannot stand in for it. */
static int overlay_handle(int self, const char *lower_dir, struct skiff_err **err)
{
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    return skiff_error(err, errno, "readlink `/proc/self/exe`");
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (exe[0] != '/' || slash == NULL || slash[1] == '\0')
    return skiff_error(err, 0, "`/proc/self/exe` is `%s`, not a path", exe);
  *slash = '\0';
  const char *name = slash + 1;
  cleanup_free char *top = escape_lower(exe[0] ? exe : "/");
  cleanup_free char *bottom = escape_lower(lower_dir);
  cleanup_free char *lowers = xasprintf("%s:%s", top, bottom);

  cleanup_close int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
  if (fs < 0)
    return skiff_error(err, errno, "fsopen overlay");
  if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir", lowers, 0) < 0)
    return skiff_error(err, errno, "overlay lowerdir `%s`", lowers);
  /* layers on different filesystems turn xino on and log about it; we need no inode
     numbers of our own */
  syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "xino", "off", 0);
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return skiff_error(err, errno, "create the overlay over `%s`", exe);
  cleanup_close int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                                       MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
  if (mnt < 0)
    return skiff_error(err, errno, "fsmount the overlay over `%s`", exe);
  int fd = openat(mnt, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s` in the overlay over `%s`", name, exe);
  /* the same file we run (not one put there since we started): size and times agree */
  struct stat a, b;
  if (fstat(self, &a) < 0 || fstat(fd, &b) < 0 || !S_ISREG(b.st_mode) || a.st_size != b.st_size
      || a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec)
    {
      close(fd);
      return skiff_error(err, 0, "`%s/%s` changed since skiff started", exe, name);
    }
  return fd;
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

/* A sealed memfd copy of the running binary, or -1. */
static int memfd_handle(int self, struct skiff_err **err)
{
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
  return steal_fd(&mfd);
}

bool cloned_binary_reexecuted(int kind)
{
  return kind == CLONED_BINARY_OVERLAY || kind == CLONED_BINARY_MEMFD;
}

int cloned_binary_ensure(char **argv, const char *lower_dir, bool immutable_enough,
                         struct skiff_err **err)
{
  int kind = cloned_binary_kind(err);
  if (kind < 0)
    return -1;
  if (cloned_binary_reexecuted(kind) || (kind == CLONED_BINARY_IMMUTABLE && immutable_enough))
    return 0;
  cleanup_close int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    return skiff_error(err, errno, "open `/proc/self/exe`");
  cleanup_close int fd = -1;
  if (lower_dir)
    {
      struct skiff_err *why = NULL;
      fd = overlay_handle(self, lower_dir, &why);
      skiff_err_free(&why); /* the copy below is the answer to any overlay failure */
    }
  SKIFF_TRACE(fd >= 0 ? "read-only overlay of the binary made" : "no overlay");
  if (fd < 0)
    {
      fd = memfd_handle(self, err);
      if (fd < 0)
        return -1;
      SKIFF_TRACE("sealed memfd copy made");
    }
  /* a handle we made must be what the re-executed skiff will recognise, or it would
     make another one forever */
  if (!cloned_binary_reexecuted((int)kind_of(fd)))
    return skiff_error(err, 0, "the protected copy of skiff is neither sealed nor read-only");
  fexecve(fd, argv, environ);
  return skiff_error(err, errno, "fexecve the protected copy of `/proc/self/exe`");
}

/* The deferred re-exec of an immutable binary (one per process: main sets it). */
static char **deferred_argv;
static const char *deferred_lower;

void cloned_binary_defer(char **argv, const char *lower_dir)
{
  deferred_argv = argv;
  deferred_lower = lower_dir;
}

static bool names_cap(char *const *set, const char *cap)
{
  for (size_t i = 0; set && set[i]; i++)
    if (strcmp(set[i], cap) == 0)
      return true;
  return false;
}

bool cloned_binary_may_unlock(const struct skiff_process *p)
{
  if (!p->has_caps)
    return true;
  const struct skiff_caps *c = &p->caps;
  char *const *sets[] = {c->bounding, c->effective, c->permitted, c->inheritable, c->ambient};
  for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
    if (names_cap(sets[i], "CAP_LINUX_IMMUTABLE"))
      return true;
  return false;
}

int cloned_binary_check_process(const struct skiff_process *p, struct skiff_err **err)
{
  if (deferred_argv == NULL || !cloned_binary_may_unlock(p))
    return 0;
  char **argv = deferred_argv;
  deferred_argv = NULL;
  SKIFF_TRACE("immutable binary, but the config grants CAP_LINUX_IMMUTABLE: re-exec");
  return cloned_binary_ensure(argv, deferred_lower, false, err);
}
