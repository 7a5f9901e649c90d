/* image_layer_entry.c - a layer's entries made in their checked parent directory
 * (image_layer_entry.h): 3 system calls for a symlink where libarchive's path-based write
 * and the parent check made 10, 6 plus the writes for a file where they made 11 plus the
 * writes. */
#define _GNU_SOURCE
#include "image_internal.h"
#include "image_layer_entry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
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

/* e's xattrs on fd, or (fd < 0) on base in pfd without following it */
static void set_xattrs(int fd, int pfd, const char *base, const struct tar_entry *e)
{
  char path[64];
  if (fd < 0 && e->n_xattrs > 0)
    {
      if (snprintf(path, sizeof(path), "/proc/self/fd/%d/", pfd) >= (int)sizeof(path))
        return;
    }
  cleanup_free char *full = fd < 0 && e->n_xattrs > 0 ? xasprintf("%s%s", path, base) : NULL;
  for (size_t i = 0; i < e->n_xattrs; i++)
    {
      const struct tar_xattr *x = &e->xattrs[i];
      if (strncmp(x->name, "trusted.overlay.", 16) == 0)
        continue;
      if (fd >= 0)
        (void)fsetxattr(fd, x->name, x->value, x->size, 0);
      else
        (void)lsetxattr(full, x->name, x->value, x->size, 0);
    }
}

/* owner (when owner), xattrs, times of base in pfd, not following a symlink */
static void set_attrs(int pfd, const char *base, const struct tar_entry *e, bool owner)
{
  if (owner)
    (void)fchownat(pfd, base, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW);
  set_xattrs(-1, pfd, base, e);
  struct timespec ts[2] = {e->atime, e->mtime};
  (void)utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
}

int image_entry_symlink(int pfd, const char *clean, const struct tar_entry *e, bool owner,
                        struct skiff_err **err)
{
  const char *base = base_name(clean);
  if (e->link == NULL || *e->link == '\0')
    return skiff_error(err, 0, "entry `%s`: symlink without a target", clean);
  if (symlinkat(e->link, pfd, base) < 0
      && (errno != EEXIST || image_entry_remove(pfd, base) < 0
          || symlinkat(e->link, pfd, base) < 0))
    return skiff_error(err, errno, "entry `%s`: symlink", clean);
  set_attrs(pfd, base, e, owner);
  return 0;
}

/* e's data into fd at the offsets given (a sparse entry's holes stay holes), the file
 * then sized to the entry. */
static int write_data(int fd, const char *clean, const struct tar_entry *e, image_data_fn data,
                      void *arg, struct skiff_err **err)
{
  long long end = 0; /* the file offset */
  for (;;)
    {
      const void *buf;
      long long off;
      ssize_t n = data(arg, &buf, &off, err);
      if (n == 0)
        break;
      if (n < 0)
        return skiff_err_prefix(err, "entry `%s`: read", clean);
      if (off != end && lseek(fd, (off_t)off, SEEK_SET) < 0)
        return skiff_error(err, errno, "entry `%s`: seek", clean);
      if (skiff_write_all(fd, buf, (size_t)n) < 0)
        return skiff_error(err, errno, "entry `%s`: write", clean);
      end = off + n;
    }
  if (end != e->size && ftruncate(fd, (off_t)e->size) < 0)
    return skiff_error(err, errno, "entry `%s`: truncate", clean);
  return 0;
}

int image_entry_file(int pfd, const char *clean, const struct tar_entry *e, image_data_fn data,
                     void *arg, bool layer, struct skiff_err **err)
{
  const char *base = base_name(clean);
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = openat(pfd, base, flags, 0600);
  if (fd < 0 && errno == EEXIST && image_entry_remove(pfd, base) == 0)
    fd = openat(pfd, base, flags, 0600);
  if (fd < 0)
    return skiff_error(err, errno, "entry `%s`: create", clean);
  if (write_data(fd, clean, e, data, arg, err) < 0)
    {
      close(fd);
      return -1;
    }
  /* the owner first: chown clears setuid, setgid and file capabilities, set after it */
  if (layer)
    (void)fchown(fd, (uid_t)e->uid, (gid_t)e->gid);
  (void)fchmod(fd, e->mode & (layer ? 07777 : 0777));
  set_xattrs(fd, -1, NULL, e);
  struct timespec ts[2] = {e->atime, e->mtime};
  (void)futimens(fd, ts);
  if (layer && e->size >= IMAGE_WRITEBACK_MIN)
    (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  if (close(fd) < 0)
    return skiff_error(err, errno, "entry `%s`: close", clean);
  return 0;
}

int image_entry_dir(struct image_unpack *u, int pfd, const char *clean, const struct tar_entry *e,
                    struct skiff_err **err)
{
  const char *base = base_name(clean);
  struct stat st;
  if (mkdirat(pfd, base, 0700) < 0)
    {
      if (errno != EEXIST || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return skiff_error(err, errno, "entry `%s`: mkdir", clean);
      if (!S_ISDIR(st.st_mode)
          && (image_entry_remove(pfd, base) < 0 || mkdirat(pfd, base, 0700) < 0))
        return skiff_error(err, errno, "entry `%s`: mkdir in place of a file", clean);
    }
  if (u->layer)
    (void)fchownat(pfd, base, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW);
  set_xattrs(-1, pfd, base, e);
  u->fix = xrealloc(u->fix, (u->n_fix + 1) * sizeof(*u->fix));
  u->fix[u->n_fix++] = (struct image_dir_fixup){
      xstrdup(clean), e->mode & (u->layer ? 07777 : 0777), {e->atime, e->mtime}};
  return 0;
}

int image_entry_hardlink(struct image_unpack *u, int pfd, const char *clean,
                         const struct tar_entry *e, struct skiff_err **err)
{
  const char *base = base_name(clean);
  cleanup_free char *target = NULL;
  struct stat st, here;
  cleanup_close int fd = image_unpack_link_target(u, clean, e->link, &target, &st, err);
  if (fd < 0)
    return -1;
  if (fstatat(pfd, base, &here, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (here.st_ino == st.st_ino && here.st_dev == st.st_dev)
        return 0; /* a link to itself */
      if (image_entry_remove(pfd, base) < 0)
        return skiff_error(err, errno, "entry `%s`: remove what is in its place", clean);
    }
  /* by the checked fd: AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH, /proc serves without */
  if (linkat(fd, "", pfd, base, AT_EMPTY_PATH) == 0)
    return 0;
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, pfd, base, AT_SYMLINK_FOLLOW) < 0)
    return skiff_error(err, errno, "entry `%s`: link to `%s`", clean, target);
  return 0;
}

int image_entry_node(int pfd, const char *clean, const struct tar_entry *e, struct skiff_err **err)
{
  const char *base = base_name(clean);
  dev_t dev = e->type == S_IFIFO ? 0 : makedev(e->dev_major, e->dev_minor);
  if (mknodat(pfd, base, e->type | 0600, dev) < 0
      && (errno != EEXIST || image_entry_remove(pfd, base) < 0
          || mknodat(pfd, base, e->type | 0600, dev) < 0))
    return skiff_error(err, errno, "entry `%s`: mknod", clean);
  (void)fchownat(pfd, base, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW);
  (void)fchmodat(pfd, base, e->mode & 07777, 0);
  set_xattrs(-1, pfd, base, e);
  struct timespec ts[2] = {e->atime, e->mtime};
  (void)utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
  return 0;
}
