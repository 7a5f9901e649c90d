/* image_layer.c - layer archives with libarchive: unpacking a layer into its lower dir
 * (gzip inflated by image_gunzip.c)
 * (OCI whiteouts turned into overlayfs objects), extracting an image archive, and
 * writing a directory as a gzip'd tar layer.
 *
 * Extraction is hardened against hostile archives: every entry name is cleaned and
 * rejected when absolute or holding "..", the parent of every entry is checked to lie
 * beneath the root without a symlink component (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), a directory entry replaces a symlink at its name, hardlink targets
 * are checked likewise, and libarchive's ARCHIVE_EXTRACT_SECURE_NODOTDOT runs too, so a
 * symlink `x -> /` followed by `x/evil` can never write outside the layer
 * (CVE-2019-14271-style tar escapes).  The checked parent stays open while entries follow
 * in it and is dropped before any entry that may replace it or a directory above it
 * (struct image_parent_cache); symlinks and regular files are made in it directly
 * (image_layer_entry.c), not by libarchive's path-based writer. */
#define _GNU_SOURCE
#include "image_internal.h"
#include "image_layer_entry.h"
#include "image_libarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

int image_layer_clean_path(const char *name, char **out, struct skiff_err **err)
{
  if (name == NULL || *name == '\0')
    return skiff_error(err, 0, "entry with an empty name");
  if (name[0] == '/')
    return skiff_error(err, 0, "entry `%s`: absolute path escapes the layer root", name);
  size_t len = strlen(name);
  char *res = xmalloc(len + 2);
  size_t o = 0;
  const char *p = name;
  while (*p)
    {
      const char *e = strchrnul(p, '/');
      size_t n = (size_t)(e - p);
      if (n == 2 && p[0] == '.' && p[1] == '.')
        {
          free(res);
          return skiff_error(err, 0, "entry `%s`: `..` escapes the layer root", name);
        }
      if (n > 0 && !(n == 1 && p[0] == '.'))
        {
          if (o > 0)
            res[o++] = '/';
          memcpy(res + o, p, n);
          o += n;
        }
      p = *e ? e + 1 : e;
    }
  if (o == 0)
    res[o++] = '.';
  res[o] = '\0';
  *out = res;
  return 0;
}

enum image_whiteout image_whiteout_kind(const char *clean, char **target)
{
  const char *slash = strrchr(clean, '/');
  const char *base = slash ? slash + 1 : clean;
  size_t dirlen = slash ? (size_t)(slash - clean) : 0;
  if (strncmp(base, ".wh.", 4) != 0)
    return IMAGE_WH_NONE;
  if (strcmp(base, ".wh..wh..opq") == 0)
    {
      *target = dirlen ? strndup(clean, dirlen) : xstrdup(".");
      if (*target == NULL)
        abort();
      return IMAGE_WH_OPAQUE;
    }
  if (strncmp(base, ".wh..wh.", 8) == 0 || base[4] == '\0')
    return IMAGE_WH_META;
  *target = dirlen ? xasprintf("%.*s/%s", (int)dirlen, clean, base + 4) : xstrdup(base + 4);
  return IMAGE_WH_FILE;
}

/* openat2 beneath root, never through a symlink. */
static int open_beneath(int rootfd, const char *rel, int flags)
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

/* Entry parent (when it exists) must lie beneath root without a symlink: every existing
 * component is a real directory, and libarchive creates the missing ones.  A directory entry
 * whose name holds a symlink (put there by an earlier entry) replaces the symlink:
 * libarchive would otherwise take the symlink's target for the directory and set its
 * owner, mode and times.  Other entries replace what is at their name (libarchive unlinks
 * it), so the final component never leads out either.  This is what libarchive's
 * ARCHIVE_EXTRACT_SECURE_SYMLINKS ensures too, with ~20 syscalls per entry (an lstat and
 * an open of every component of the absolute path), here 0-2.  *parent: the parent's fd
 * (rootfd, or the cache's: not the caller's to close), -1 when it does not exist yet. */
static int check_entry(int rootfd, const char *clean, bool is_dir, struct image_parent_cache *pc,
                       int *parent, struct skiff_err **err)
{
  const char *slash = strrchr(clean, '/');
  size_t plen = slash ? (size_t)(slash - clean) : 0;
  int fd = rootfd;
  *parent = -1;
  if (slash && pc->path && strlen(pc->path) == plen && memcmp(pc->path, clean, plen) == 0)
    fd = pc->fd;
  else if (slash)
    {
      cleanup_free char *path = strndup(clean, plen);
      if (path == NULL)
        abort();
      fd = open_beneath(rootfd, path, O_PATH | O_DIRECTORY);
      if (fd < 0 && errno == ENOENT)
        return 0; /* created by libarchive as directories: nothing can be in the way */
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

/* Drop trusted.overlay.* xattrs from an entry: a layer must not steer overlayfs
 * (redirect, metacopy, opaque) except through the whiteout files of the spec. */
static void strip_overlay_xattrs(struct archive_entry *e)
{
  if (archive_entry_xattr_reset(e) == 0)
    return;
  size_t n = 0, cap = 8;
  struct
  {
    char *name;
    void *val;
    size_t size;
  } *keep = xmalloc(cap * sizeof(*keep));
  const char *name;
  const void *val;
  size_t size;
  bool dropped = false;
  while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK)
    {
      if (strncmp(name, "trusted.overlay.", 16) == 0)
        {
          dropped = true;
          continue;
        }
      if (n == cap)
        keep = xrealloc(keep, (cap *= 2) * sizeof(*keep));
      keep[n].name = xstrdup(name);
      keep[n].val = xmalloc(size ? size : 1);
      memcpy(keep[n].val, val, size);
      keep[n].size = size;
      n++;
    }
  if (dropped)
    {
      archive_entry_xattr_clear(e);
      for (size_t i = 0; i < n; i++)
        archive_entry_xattr_add_entry(e, keep[i].name, keep[i].val, keep[i].size);
    }
  for (size_t i = 0; i < n; i++)
    {
      free(keep[i].name);
      free(keep[i].val);
    }
  free(keep);
}

/* Reads the decompressed stream of a blob and hashes it: gzip with ISA-L
 * (image_gunzip.c), anything else out of a raw-format libarchive reader with its filters.
 * The tar reader pulls from here, so the diffid is computed in the same pass, by a thread
 * beside this one (digest_pipe.c) while this one writes the files. */
struct chain
{
  struct archive *raw;     /* NULL when gz */
  struct image_gunzip *gz; /* reads fd */
  int fd;
  struct digest_pipe *hash;
  const void *cur; /* the block the tar reader was last given */
};

/* The next decompressed bytes into c->cur, handed to the hash; errors set on a. */
static la_ssize_t chain_fill(struct chain *c, struct archive *a)
{
  la_ssize_t n;
  void *buf = digest_pipe_buffer(c->hash);
  if (c->gz)
    {
      const char *why = "";
      n = image_gunzip_read(c->gz, buf, DIGEST_PIPE_BUF, &why);
      if (n < 0)
        {
          archive_set_error(a, errno, "%s", why);
          return -1;
        }
    }
  else if ((n = archive_read_data(c->raw, buf, DIGEST_PIPE_BUF)) < 0)
    {
      archive_set_error(a, archive_errno(c->raw), "%s", archive_error_string(c->raw));
      return -1;
    }
  if (n > 0)
    digest_pipe_commit(c->hash, (size_t)n);
  c->cur = buf;
  return n;
}

static la_ssize_t chain_read(struct archive *a, void *cd, const void **buf)
{
  struct chain *c = cd;
  la_ssize_t n = chain_fill(c, a);
  *buf = c->cur;
  return n;
}

static int copy_data(struct archive *in, struct archive *out, const char *entry,
                     struct skiff_err **err)
{
  const void *buf;
  size_t size;
  la_int64_t off;
  for (;;)
    {
      int r = archive_read_data_block(in, &buf, &size, &off);
      if (r == ARCHIVE_EOF)
        return 0;
      if (r < ARCHIVE_WARN)
        return skiff_error(err, 0, "entry `%s`: read: %s", entry, archive_error_string(in));
      if (archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN)
        return skiff_error(err, 0, "entry `%s`: write: %s", entry, archive_error_string(out));
    }
}

struct opaque_list
{
  char **dirs;
  size_t n;
};

static void start_writeback(int rootfd, const char *clean)
{
  int fd = open_beneath(rootfd, clean, O_RDONLY | O_NOFOLLOW);
  if (fd < 0)
    return;
  (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  close(fd);
}

/* Extract every entry of `in` beneath dest.  layer: whiteouts, devices, ownership. */
static int extract_entries(struct archive *in, const char *dest, int rootfd, bool layer,
                           struct opaque_list *opq, struct skiff_err **err)
{
  /* no ARCHIVE_EXTRACT_SECURE_SYMLINKS: check_entry does its work for a fraction of the
   * syscalls (entries are made relative to the root, cleaned, and never contain `..`) */
  int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME;
  if (layer)
    flags |= ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL;
  struct archive *out = archive_write_disk_new();
  archive_write_disk_set_options(out, flags);
  int ret = -1;
  struct image_parent_cache pc = {NULL, -1};
  struct archive_entry *e;
  for (;;)
    {
      int r = archive_read_next_header(in, &e);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        {
          skiff_error(err, 0, "read: %s", archive_error_string(in));
          goto out;
        }
      cleanup_free char *clean = NULL;
      if (image_layer_clean_path(archive_entry_pathname(e), &clean, err) < 0)
        goto out;
      mode_t type = archive_entry_filetype(e);
      const char *link = archive_entry_hardlink(e);
      if (!layer && link == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        {
          skiff_error(err, 0, "entry `%s`: unexpected file type in an image archive", clean);
          goto out;
        }
      image_parent_cache_touch(&pc, clean);
      int pfd;
      if (check_entry(rootfd, clean, type == AE_IFDIR && link == NULL, &pc, &pfd, err) < 0)
        goto out;
      cleanup_free char *target = NULL;
      enum image_whiteout wh = layer ? image_whiteout_kind(clean, &target) : IMAGE_WH_NONE;
      if (wh == IMAGE_WH_META)
        continue;
      if (wh != IMAGE_WH_NONE)
        image_parent_cache_touch(&pc, target);
      /* symlinks and files are made in their checked parent (image_layer_entry.c); one
       * with xattrs or ACLs, or whose parent is not there yet, goes through libarchive */
      bool direct = wh == IMAGE_WH_NONE && link == NULL && pfd >= 0
                    && !(layer && archive_entry_xattr_count(e) > 0)
                    && archive_entry_acl_types(e) == 0;
      if (direct && type == AE_IFLNK)
        {
          if (image_entry_symlink(pfd, clean, e, layer, err) < 0)
            goto out;
          continue;
        }
      if (direct && type == AE_IFREG)
        {
          if (image_entry_file(pfd, clean, in, e, layer, err) < 0)
            goto out;
          continue;
        }
      if (wh == IMAGE_WH_FILE)
        {
          if (make_whiteout(rootfd, target, clean, err) < 0)
            goto out;
          continue;
        }
      if (wh == IMAGE_WH_OPAQUE)
        {
          int fd = open_dir_create(rootfd, target, clean, err);
          if (fd < 0)
            goto out;
          close(fd);
          opq->dirs = xrealloc(opq->dirs, (opq->n + 1) * sizeof(char *));
          opq->dirs[opq->n++] = steal_pointer(&target);
          continue;
        }
      cleanup_free char *full = xasprintf("%s/%s", dest, clean);
      cleanup_free char *link_full = NULL;
      if (link)
        {
          cleanup_free char *lclean = NULL;
          if (image_layer_clean_path(link, &lclean, err) < 0)
            {
              skiff_err_prefix(err, "hardlink `%s`", clean);
              goto out;
            }
          int fd = open_beneath(rootfd, lclean, O_PATH | O_NOFOLLOW);
          struct stat st;
          if (fd < 0 || fstat(fd, &st) < 0 || S_ISDIR(st.st_mode))
            {
              if (fd >= 0)
                close(fd);
              skiff_error(err, 0, "entry `%s`: hardlink target `%s` is not a file inside the layer",
                          clean, lclean);
              goto out;
            }
          close(fd);
          link_full = xasprintf("%s/%s", dest, lclean);
          archive_entry_set_hardlink(e, link_full);
        }
      archive_entry_set_pathname(e, full);
      if (layer)
        strip_overlay_xattrs(e);
      r = archive_write_header(out, e);
      if (r < ARCHIVE_WARN)
        {
          skiff_error(err, 0, "entry `%s`: %s", clean, archive_error_string(out));
          goto out;
        }
      if (archive_entry_size(e) > 0 && copy_data(in, out, clean, err) < 0)
        goto out;
      if (archive_write_finish_entry(out) < ARCHIVE_WARN)
        {
          skiff_error(err, 0, "entry `%s`: %s", clean, archive_error_string(out));
          goto out;
        }
      if (layer && type == AE_IFREG && link == NULL && archive_entry_size(e) >= IMAGE_WRITEBACK_MIN)
        start_writeback(rootfd, clean);
    }
  if (archive_write_close(out) < ARCHIVE_WARN)
    {
      skiff_error(err, 0, "finish: %s", archive_error_string(out));
      goto out;
    }
  ret = 0;
out:
  image_parent_cache_drop(&pc);
  archive_write_free(out);
  return ret;
}

static int open_root(const char *dest, char **real, struct skiff_err **err)
{
  /* libarchive's symlink check walks the whole path: give it one without symlinks */
  *real = realpath(dest, NULL);
  if (*real == NULL)
    return skiff_error(err, errno, "realpath `%s`", dest);
  int fd = open(*real, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", *real);
  return fd;
}

/* libarchive sets and restores the process umask around every file it writes: two
 * unpacks in one process at once (the agent's pulls, a pull's streamed layers) could leave
 * the umask at 0.  One at a time. */
static pthread_mutex_t unpack_lock = PTHREAD_MUTEX_INITIALIZER;

/* The tar that c delivers, extracted beneath dest; got = its digest. */
static int unpack_chain(struct chain *c, const char *label, const char *dest,
                        char got[DIGEST_STR_LEN], struct skiff_err **err)
{
  cleanup_free char *root = NULL;
  cleanup_close int rootfd = open_root(dest, &root, err);
  if (rootfd < 0)
    return -1;
  struct archive *tar = archive_read_new();
  struct opaque_list opq = {NULL, 0};
  int ret = -1;
  archive_read_support_format_tar(tar);
  if (archive_read_open(tar, c, NULL, chain_read, NULL) != ARCHIVE_OK)
    {
      skiff_error(err, 0, "read `%s`: %s", label, archive_error_string(tar));
      goto out;
    }
  if (extract_entries(tar, root, rootfd, true, &opq, err) < 0)
    goto out;
  /* hash what the tar reader left unread (end-of-archive blocks, padding) */
  for (;;)
    {
      la_ssize_t n = chain_fill(c, tar);
      if (n < 0)
        {
          skiff_error(err, 0, "read `%s`: %s", label, archive_error_string(tar));
          goto out;
        }
      if (n == 0)
        break;
    }
  digest_pipe_final(c->hash, got);
  for (size_t i = 0; i < opq.n; i++)
    {
      int fd = open_beneath(rootfd, opq.dirs[i], O_RDONLY | O_DIRECTORY);
      if (fd < 0 || fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
        {
          int e = errno;
          if (fd >= 0)
            close(fd);
          skiff_error(err, e, "opaque dir `%s`: setxattr trusted.overlay.opaque", opq.dirs[i]);
          goto out;
        }
      close(fd);
    }
  ret = 0;
out:
  for (size_t i = 0; i < opq.n; i++)
    free(opq.dirs[i]);
  free(opq.dirs);
  archive_read_free(tar);
  return ret;
}

static void chain_free(struct chain *c)
{
  if (c->raw)
    archive_read_free(c->raw);
  if (c->gz)
    image_gunzip_close(c->gz);
  if (c->fd >= 0)
    close(c->fd);
  digest_pipe_free(c->hash);
  free(c);
}

int image_layer_unpack(const char *blob_path, const char *dest, const char *want_diffid,
                       struct skiff_err **err)
{
  if (image_libarchive_load(err) < 0)
    return -1;
  struct chain *c = xzalloc(sizeof(*c));
  c->hash = digest_pipe_new();
  c->fd = open(blob_path, O_RDONLY | O_CLOEXEC);
  int ret = -1;
  struct archive_entry *re;
  char got[DIGEST_STR_LEN];
  if (c->fd < 0)
    {
      skiff_error(err, errno, "open `%s`", blob_path);
      goto out;
    }
  if (image_gunzip_is_gzip(c->fd))
    c->gz = image_gunzip_open(c->fd);
  else
    {
      c->raw = archive_read_new();
      archive_read_support_filter_all(c->raw);
      archive_read_support_format_raw(c->raw);
      if (archive_read_open_fd(c->raw, c->fd, 65536) != ARCHIVE_OK
          || archive_read_next_header(c->raw, &re) != ARCHIVE_OK)
        {
          skiff_error(err, 0, "read `%s`: %s", blob_path, archive_error_string(c->raw));
          goto out;
        }
    }
  pthread_mutex_lock(&unpack_lock);
  ret = unpack_chain(c, blob_path, dest, got, err);
  pthread_mutex_unlock(&unpack_lock);
  if (ret == 0 && want_diffid && strcmp(got, want_diffid) != 0)
    ret = skiff_error(err, 0, "layer %s: diff_id mismatch (content is %s)", want_diffid, got);
out:
  chain_free(c);
  return ret;
}

int image_layer_unpack_gz_reader(image_read_fn rd, void *arg, const char *dest,
                                 char got[DIGEST_STR_LEN], struct skiff_err **err)
{
  if (image_libarchive_load(err) < 0)
    return -1;
  struct chain *c = xzalloc(sizeof(*c));
  c->hash = digest_pipe_new();
  c->fd = -1;
  c->gz = image_gunzip_open_reader(rd, arg);
  pthread_mutex_lock(&unpack_lock);
  int ret = unpack_chain(c, "layer stream", dest, got, err);
  pthread_mutex_unlock(&unpack_lock);
  chain_free(c);
  return ret;
}

int image_archive_extract(const char *archive_path, const char *dest, struct skiff_err **err)
{
  if (image_libarchive_load(err) < 0)
    return -1;
  cleanup_free char *root = NULL;
  cleanup_close int rootfd = open_root(dest, &root, err);
  if (rootfd < 0)
    return -1;
  struct archive *in = archive_read_new();
  struct opaque_list opq = {NULL, 0};
  archive_read_support_filter_all(in);
  archive_read_support_format_tar(in);
  int ret = -1;
  if (archive_read_open_filename(in, archive_path, 65536) != ARCHIVE_OK)
    skiff_error(err, 0, "read `%s`: %s", archive_path, archive_error_string(in));
  else if (extract_entries(in, root, rootfd, false, &opq, err) < 0)
    ;
  else
    ret = 0;
  archive_read_free(in);
  return ret;
}
