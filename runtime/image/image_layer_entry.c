/* image_layer_entry.c - symlink and regular-file entries of a layer written in their parent
 * directory (image_layer_entry.h): 3 system calls for a symlink where libarchive's
 * path-based write and the parent check made 10, 6 plus the writes for a file where they
 * made 11 plus the writes (and 3 more to start a large file's writeback). */
#define _GNU_SOURCE
#include "image_layer_entry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void image_parent_cache_drop(struct image_parent_cache *pc)
{
  free(pc->path);
  pc->path = NULL;
  if (pc->fd >= 0)
    close(pc->fd);
  pc->fd = -1;
}

void image_parent_cache_touch(struct image_parent_cache *pc, const char *clean)
{
  size_t n = strlen(clean);
  if (pc->path
      && (strcmp(clean, ".") == 0
          || (strncmp(pc->path, clean, n) == 0 && (pc->path[n] == '\0' || pc->path[n] == '/'))))
    image_parent_cache_drop(pc);
}

static const char *base_name(const char *clean)
{
  const char *slash = strrchr(clean, '/');
  return slash ? slash + 1 : clean;
}

int image_entry_remove(int dfd, const char *base)
{
  struct stat st;
  if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -1;
  return unlinkat(dfd, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
}

/* atime (now when the entry has none, as libarchive does) and mtime of e */
static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
  ts[0] = (struct timespec){.tv_nsec = UTIME_NOW};
  if (archive_entry_atime_is_set(e))
    ts[0] = (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)};
  ts[1] = (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
}

int image_entry_symlink(int pfd, const char *clean, struct archive_entry *e, bool owner,
                        struct skiff_err **err)
{
  const char *base = base_name(clean);
  const char *target = archive_entry_symlink(e);
  if (target == NULL || *target == '\0')
    return skiff_error(err, 0, "entry `%s`: symlink without a target", clean);
  if (symlinkat(target, pfd, base) < 0
      && (errno != EEXIST || image_entry_remove(pfd, base) < 0 || symlinkat(target, pfd, base) < 0))
    return skiff_error(err, errno, "entry `%s`: symlink", clean);
  if (owner)
    (void)fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                   AT_SYMLINK_NOFOLLOW);
  struct timespec ts[2];
  entry_times(e, ts);
  (void)utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
  return 0;
}

/* e's data from `in` into fd, at the offsets the reader gives (a sparse entry's holes stay
 * holes), the file then sized to the entry. */
static int write_data(int fd, const char *clean, struct archive *in, struct archive_entry *e,
                      struct skiff_err **err)
{
  la_int64_t end = 0; /* the file offset */
  for (;;)
    {
      const void *buf;
      size_t size;
      la_int64_t off;
      int r = archive_read_data_block(in, &buf, &size, &off);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        return skiff_error(err, 0, "entry `%s`: read: %s", clean, archive_error_string(in));
      if (off != end && lseek(fd, (off_t)off, SEEK_SET) < 0)
        return skiff_error(err, errno, "entry `%s`: seek", clean);
      if (skiff_write_all(fd, buf, size) < 0)
        return skiff_error(err, errno, "entry `%s`: write", clean);
      end = off + (la_int64_t)size;
    }
  if (end != archive_entry_size(e) && ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
    return skiff_error(err, errno, "entry `%s`: truncate", clean);
  return 0;
}

int image_entry_file(int pfd, const char *clean, struct archive *in, struct archive_entry *e,
                     bool layer, struct skiff_err **err)
{
  const char *base = base_name(clean);
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = openat(pfd, base, flags, 0600);
  if (fd < 0 && errno == EEXIST && image_entry_remove(pfd, base) == 0)
    fd = openat(pfd, base, flags, 0600);
  if (fd < 0)
    return skiff_error(err, errno, "entry `%s`: create", clean);
  if (write_data(fd, clean, in, e, err) < 0)
    {
      close(fd);
      return -1;
    }
  /* the owner first: chown clears setuid and setgid, the mode then sets them */
  if (layer)
    (void)fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e));
  (void)fchmod(fd, archive_entry_perm(e) & (layer ? 07777 : 0777));
  struct timespec ts[2];
  entry_times(e, ts);
  (void)futimens(fd, ts);
  if (layer && archive_entry_size(e) >= IMAGE_WRITEBACK_MIN)
    (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  if (close(fd) < 0)
    return skiff_error(err, errno, "entry `%s`: close", clean);
  return 0;
}
