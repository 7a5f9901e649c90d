/* image_unpack.c - one unpack beneath a root directory (image_layer_entry.h): every
 * entry's name cleaned and its parent checked to lie beneath the root without a symlink,
 * OCI whiteouts made as overlayfs lower-dir objects, and at the end directories' modes and
 * times set and opaque directories marked.
 *
 * The check is what libarchive's ARCHIVE_EXTRACT_SECURE_SYMLINKS ensures, with ~20
 * syscalls per entry there (an lstat and an open of every component of the absolute path)
 * and 0-2 here: the parent is opened with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * and kept (struct image_parent_cache); entries are made in it by *at calls, so their
 * final component never leads out either, and a symlink `x -> /` followed by `x/evil` can
 * never write outside the layer (CVE-2019-14271-style tar escapes). */
#define _GNU_SOURCE
#include "image_internal.h"
#include "image_layer_entry.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

int image_open_beneath(int rootfd, const char *rel, int flags)
{
  struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

/* The directory rel beneath root, created (0755) when missing; fails on a symlink or
 * non-directory component. */
static int open_dir_create(int rootfd, const char *rel, const char *entry, struct skiff_err **err)
{
  int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return skiff_error(err, errno, "dup");
  if (strcmp(rel, ".") == 0)
    return fd;
  cleanup_free char *copy = xstrdup(rel);
  char *save = NULL;
  for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
    {
      if (mkdirat(fd, c, 0755) < 0 && errno != EEXIST)
        {
          int e = errno;
          close(fd);
          return skiff_error(err, e, "entry `%s`: mkdir `%s`", entry, c);
        }
      int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int e = errno;
      close(fd);
      if (next < 0)
        return skiff_error(err, e == ELOOP ? 0 : e, "entry `%s`: `%s` is not a directory%s", entry,
                           rel, e == ELOOP ? " (a symlink escapes the layer root)" : "");
      fd = next;
    }
  return fd;
}

void image_unpack_init(struct image_unpack *u, int rootfd, bool layer)
{
  *u = (struct image_unpack){.rootfd = rootfd, .layer = layer, .pc = {NULL, -1}};
}

/* The entry's parent (when it exists) must lie beneath root without a symlink: every
 * existing component is a real directory.  A directory entry whose name holds a symlink
 * (put there by an earlier entry) replaces the symlink: the directory would otherwise be
 * the symlink's target and get its owner, mode and times. */
static int check_entry(struct image_unpack *u, const char *clean, bool is_dir, int *parent,
                       struct skiff_err **err)
{
  struct image_parent_cache *pc = &u->pc;
  const char *slash = strrchr(clean, '/');
  size_t plen = slash ? (size_t)(slash - clean) : 0;
  int fd = u->rootfd;
  *parent = -1;
  if (slash && pc->path && strlen(pc->path) == plen && memcmp(pc->path, clean, plen) == 0)
    fd = pc->fd;
  else if (slash)
    {
      cleanup_free char *path = strndup(clean, plen);
      if (path == NULL)
        abort();
      fd = image_open_beneath(u->rootfd, path, O_PATH | O_DIRECTORY);
      if (fd < 0 && errno == ENOENT)
        return 0; /* made as directories: nothing can be in the way */
      if (fd < 0 && (errno == ELOOP || errno == EXDEV))
        return skiff_error(
            err, 0, "entry `%s`: path goes through a symlink (escapes the layer root)", clean);
      if (fd < 0)
        return skiff_error(err, errno, "entry `%s`: parent `%s`", clean, path);
      image_parent_cache_drop(pc);
      pc->path = steal_pointer(&path);
      pc->fd = fd;
    }
  const char *base = slash ? slash + 1 : clean;
  struct stat st;
  if (is_dir && fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)
      && unlinkat(fd, base, 0) < 0)
    return skiff_error(err, errno, "entry `%s`: remove the symlink in its place", clean);
  *parent = fd;
  return 0;
}

int image_unpack_parent(struct image_unpack *u, const char *clean, int *pfd, struct skiff_err **err)
{
  const char *slash = strrchr(clean, '/');
  cleanup_free char *dir = slash ? strndup(clean, (size_t)(slash - clean)) : xstrdup(".");
  if (dir == NULL)
    abort();
  int fd = open_dir_create(u->rootfd, dir, clean, err);
  if (fd < 0)
    return -1;
  image_parent_cache_drop(&u->pc);
  u->pc.path = steal_pointer(&dir);
  u->pc.fd = fd;
  *pfd = fd;
  return 0;
}

/* Overlay lower-dir whiteout: char device 0:0 named like the removed file. */
static int make_whiteout(int rootfd, const char *target, const char *entry, struct skiff_err **err)
{
  const char *slash = strrchr(target, '/');
  cleanup_free char *dir = slash ? strndup(target, (size_t)(slash - target)) : xstrdup(".");
  const char *base = slash ? slash + 1 : target;
  cleanup_close int dfd = open_dir_create(rootfd, dir, entry, err);
  if (dfd < 0)
    return -1;
  if (image_entry_remove(dfd, base) < 0)
    return skiff_error(err, errno, "entry `%s`: remove `%s`", entry, target);
  if (mknodat(dfd, base, S_IFCHR | 0, makedev(0, 0)) < 0)
    return skiff_error(err, errno, "entry `%s`: mknod whiteout `%s`", entry, target);
  return 0;
}

int image_unpack_begin(struct image_unpack *u, const char *name, bool is_dir, char **clean,
                       int *pfd, struct skiff_err **err)
{
  *clean = NULL;
  if (image_layer_clean_path(name, clean, err) < 0)
    return -1;
  image_parent_cache_touch(&u->pc, *clean);
  if (check_entry(u, *clean, is_dir, pfd, err) < 0)
    return -1;
  cleanup_free char *target = NULL;
  enum image_whiteout wh = u->layer ? image_whiteout_kind(*clean, &target) : IMAGE_WH_NONE;
  if (wh == IMAGE_WH_META)
    return 1;
  if (wh == IMAGE_WH_NONE)
    return 0;
  image_parent_cache_touch(&u->pc, target);
  if (wh == IMAGE_WH_FILE)
    return make_whiteout(u->rootfd, target, *clean, err) < 0 ? -1 : 1;
  int fd = open_dir_create(u->rootfd, target, *clean, err);
  if (fd < 0)
    return -1;
  close(fd);
  u->opaque = xrealloc(u->opaque, (u->n_opaque + 1) * sizeof(char *));
  u->opaque[u->n_opaque++] = steal_pointer(&target);
  return 1;
}

int image_unpack_link_target(struct image_unpack *u, const char *clean, const char *link,
                             char **target, struct stat *st, struct skiff_err **err)
{
  *target = NULL;
  if (image_layer_clean_path(link, target, err) < 0)
    return skiff_err_prefix(err, "hardlink `%s`", clean);
  int fd = image_open_beneath(u->rootfd, *target, O_PATH | O_NOFOLLOW);
  if (fd < 0 || fstat(fd, st) < 0 || S_ISDIR(st->st_mode))
    {
      if (fd >= 0)
        close(fd);
      return skiff_error(err, 0, "entry `%s`: hardlink target `%s` is not a file inside the layer",
                         clean, *target);
    }
  return fd;
}

int image_unpack_finish(struct image_unpack *u, struct skiff_err **err)
{
  image_parent_cache_drop(&u->pc);
  /* in the order listed: a directory listed twice gets what its last entry says */
  for (size_t i = 0; i < u->n_fix; i++)
    {
      int fd = image_open_beneath(u->rootfd, u->fix[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (fd < 0)
        continue; /* replaced by a later entry */
      (void)fchmod(fd, u->fix[i].mode);
      (void)futimens(fd, u->fix[i].ts);
      close(fd);
    }
  for (size_t i = 0; i < u->n_opaque; i++)
    {
      int fd = image_open_beneath(u->rootfd, u->opaque[i], O_RDONLY | O_DIRECTORY);
      if (fd < 0 || fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
        {
          int e = errno;
          if (fd >= 0)
            close(fd);
          return skiff_error(err, e, "opaque dir `%s`: setxattr trusted.overlay.opaque",
                             u->opaque[i]);
        }
      close(fd);
    }
  return 0;
}

void image_unpack_free(struct image_unpack *u)
{
  image_parent_cache_drop(&u->pc);
  for (size_t i = 0; i < u->n_opaque; i++)
    free(u->opaque[i]);
  free(u->opaque);
  for (size_t i = 0; i < u->n_fix; i++)
    free(u->fix[i].path);
  free(u->fix);
  u->opaque = NULL;
  u->fix = NULL;
  u->n_opaque = u->n_fix = 0;
}
