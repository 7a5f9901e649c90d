/* image_layer.c - layer archives: unpacking a layer into its lower dir (gzip inflated by
 * image_gunzip.c, the tar read by tar_reader.c, the entries written by
 * image_layer_entry.c and image_unpack.c, which also turn OCI whiteouts into overlayfs
 * objects), extracting an image archive, and writing a directory as a gzip'd tar layer.
 *
 * libarchive (loaded on first use, image_libarchive.c) reads what skiff's tar reader does
 * not: a layer with sparse files or ACLs (unpacked again from its blob), layers compressed
 * otherwise than with gzip, and image archives; it then writes what image_layer_entry.c
 * does not (hard links, devices, ACLs), by path beneath a checked parent, with
 * ARCHIVE_EXTRACT_SECURE_NODOTDOT.  Extraction is hardened against hostile archives either
 * way: names cleaned and rejected when absolute or holding "..", parents checked
 * (image_unpack.c), hard-link targets checked likewise. */
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
};

/* The next decompressed bytes into *buf, handed to the hash: >0, 0 at the end, -1 with
 * *why (errno set). */
static ssize_t chain_fill(void *arg, const void **out, const char **why)
{
  struct chain *c = arg;
  ssize_t n;
  void *buf = digest_pipe_buffer(c->hash);
  if (c->gz)
    n = image_gunzip_read(c->gz, buf, DIGEST_PIPE_BUF, why);
  else if ((n = archive_read_data(c->raw, buf, DIGEST_PIPE_BUF)) < 0)
    {
      *why = archive_error_string(c->raw);
      errno = archive_errno(c->raw);
    }
  if (n > 0)
    digest_pipe_commit(c->hash, (size_t)n);
  *out = buf;
  return n;
}

static la_ssize_t chain_read(struct archive *a, void *cd, const void **buf)
{
  const char *why = "read";
  ssize_t n = chain_fill(cd, buf, &why);
  if (n < 0)
    archive_set_error(a, errno, "%s", why);
  return n;
}

/* ---- skiff's own tar reader */

static ssize_t tar_data(void *arg, const void **buf, long long *off, struct skiff_err **err)
{
  return tar_reader_data(arg, buf, off, err);
}

/* Every entry of the tar r reads written beneath u's root: 0, -1, TAR_UNSUPPORTED. */
static int extract_tar(struct tar_reader *r, struct image_unpack *u, struct skiff_err **err)
{
  for (;;)
    {
      struct tar_entry *e;
      int k = tar_reader_next(r, &e, err);
      if (k <= 0)
        return k;
      cleanup_free char *clean = NULL;
      int pfd;
      int b = image_unpack_begin(u, e->path, e->type == S_IFDIR && !e->hardlink, &clean, &pfd, err);
      if (b < 0)
        return -1;
      if (b > 0)
        continue;
      if (pfd < 0 && image_unpack_parent(u, clean, &pfd, err) < 0)
        return -1;
      if (e->hardlink)
        b = image_entry_hardlink(u, pfd, clean, e, err);
      else if (e->type == S_IFREG)
        b = image_entry_file(pfd, clean, e, tar_data, r, true, err);
      else if (e->type == S_IFDIR)
        b = image_entry_dir(u, pfd, clean, e, err);
      else if (e->type == S_IFLNK)
        b = image_entry_symlink(pfd, clean, e, true, err);
      else
        b = image_entry_node(pfd, clean, e, err);
      if (b < 0)
        return -1;
    }
}

/* ---- libarchive's */

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

static ssize_t archive_data(void *arg, const void **buf, long long *off, struct skiff_err **err)
{
  size_t size;
  la_int64_t o;
  int r = archive_read_data_block(arg, buf, &size, &o);
  if (r == ARCHIVE_EOF)
    return 0;
  if (r < ARCHIVE_WARN)
    return skiff_error(err, 0, "%s", archive_error_string(arg));
  *off = o;
  return (ssize_t)size;
}

/* What image_layer_entry.c needs of a libarchive entry without xattrs */
static struct tar_entry entry_of(struct archive_entry *e)
{
  struct tar_entry t = {
      .link = (char *)archive_entry_symlink(e),
      .type = archive_entry_filetype(e),
      .mode = archive_entry_perm(e),
      .uid = (unsigned long long)archive_entry_uid(e),
      .gid = (unsigned long long)archive_entry_gid(e),
      .mtime = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
      .atime = {0, UTIME_NOW},
      .size = archive_entry_size(e),
  };
  if (archive_entry_atime_is_set(e))
    t.atime = (struct timespec){archive_entry_atime(e), archive_entry_atime_nsec(e)};
  return t;
}

static void start_writeback(int rootfd, const char *clean)
{
  int fd = image_open_beneath(rootfd, clean, O_RDONLY | O_NOFOLLOW);
  if (fd < 0)
    return;
  (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  close(fd);
}

/* Extract every entry of `in` beneath dest (u's root). */
static int extract_entries(struct archive *in, const char *dest, struct image_unpack *u,
                           struct skiff_err **err)
{
  /* no ARCHIVE_EXTRACT_SECURE_SYMLINKS: image_unpack_begin does its work for a fraction of
   * the syscalls (entries are made relative to the root, cleaned, and never contain `..`) */
  int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME;
  bool layer = u->layer;
  if (layer)
    flags |= ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL;
  struct archive *out = archive_write_disk_new();
  archive_write_disk_set_options(out, flags);
  int ret = -1;
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
      mode_t type = archive_entry_filetype(e);
      const char *link = archive_entry_hardlink(e);
      if (!layer && link == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
        {
          skiff_error(err, 0, "entry `%s`: unexpected file type in an image archive",
                      archive_entry_pathname(e));
          goto out;
        }
      cleanup_free char *clean = NULL;
      int pfd;
      int b = image_unpack_begin(u, archive_entry_pathname(e), type == AE_IFDIR && link == NULL,
                                 &clean, &pfd, err);
      if (b < 0)
        goto out;
      if (b > 0)
        continue;
      /* symlinks and files are made in their checked parent (image_layer_entry.c); one
       * with xattrs or ACLs, or whose parent is not there yet, goes through libarchive */
      bool direct = link == NULL && pfd >= 0 && !(layer && archive_entry_xattr_count(e) > 0)
                    && archive_entry_acl_types(e) == 0;
      if (direct && (type == AE_IFLNK || type == AE_IFREG))
        {
          struct tar_entry t = entry_of(e);
          if ((type == AE_IFLNK ? image_entry_symlink(pfd, clean, &t, layer, err)
                                : image_entry_file(pfd, clean, &t, archive_data, in, layer, err))
              < 0)
            goto out;
          continue;
        }
      cleanup_free char *full = xasprintf("%s/%s", dest, clean);
      cleanup_free char *link_full = NULL;
      if (link)
        {
          cleanup_free char *lclean = NULL;
          struct stat st;
          int fd = image_unpack_link_target(u, clean, link, &lclean, &st, err);
          if (fd < 0)
            goto out;
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
        start_writeback(u->rootfd, clean);
    }
  if (archive_write_close(out) < ARCHIVE_WARN)
    {
      skiff_error(err, 0, "finish: %s", archive_error_string(out));
      goto out;
    }
  ret = 0;
out:
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
 * the umask at 0.  One at a time through libarchive. */
static pthread_mutex_t unpack_lock = PTHREAD_MUTEX_INITIALIZER;

/* The tar that c delivers, extracted beneath dest with skiff's reader, or libarchive's
 * (with_libarchive); got = its digest.  TAR_UNSUPPORTED: start over with libarchive. */
static int unpack_chain(struct chain *c, bool with_libarchive, const char *label, const char *dest,
                        char got[DIGEST_STR_LEN], struct skiff_err **err)
{
  cleanup_free char *root = NULL;
  cleanup_close int rootfd = open_root(dest, &root, err);
  if (rootfd < 0)
    return -1;
  struct image_unpack u;
  image_unpack_init(&u, rootfd, true);
  int ret = -1;
  if (with_libarchive)
    {
      struct archive *tar = archive_read_new();
      archive_read_support_format_tar(tar);
      pthread_mutex_lock(&unpack_lock);
      if (archive_read_open(tar, c, NULL, chain_read, NULL) != ARCHIVE_OK)
        skiff_error(err, 0, "read `%s`: %s", label, archive_error_string(tar));
      else
        ret = extract_entries(tar, root, &u, err);
      pthread_mutex_unlock(&unpack_lock);
      archive_read_free(tar);
    }
  else
    {
      struct tar_reader *r = tar_reader_new(chain_fill, c);
      ret = extract_tar(r, &u, err);
      tar_reader_free(r);
      if (ret < 0)
        skiff_err_prefix(err, "%s", label);
    }
  if (ret < 0)
    goto out;
  ret = -1;
  /* hash what the tar reader left unread (end-of-archive blocks, padding) */
  for (;;)
    {
      const void *buf;
      const char *why = "read";
      ssize_t n = chain_fill(c, &buf, &why);
      if (n < 0)
        {
          skiff_error(err, errno, "read `%s`: %s", label, why);
          goto out;
        }
      if (n == 0)
        break;
    }
  digest_pipe_final(c->hash, got);
  if (image_unpack_finish(&u, err) < 0)
    goto out;
  ret = 0;
out:
  image_unpack_free(&u);
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

/* The layer blob at blob_path unpacked into dest (empty) by skiff's tar reader or
 * libarchive's; got = the digest of the tar stream. */
static int unpack_blob(const char *blob_path, const char *dest, bool with_libarchive,
                       char got[DIGEST_STR_LEN], struct skiff_err **err)
{
  struct chain *c = xzalloc(sizeof(*c));
  c->hash = digest_pipe_new();
  c->fd = open(blob_path, O_RDONLY | O_CLOEXEC);
  int ret = -1;
  struct archive_entry *re;
  if (c->fd < 0)
    {
      skiff_error(err, errno, "open `%s`", blob_path);
      goto out;
    }
  if (image_gunzip_is_gzip(c->fd))
    c->gz = image_gunzip_open(c->fd);
  else
    {
      if (image_libarchive_load(err) < 0)
        goto out;
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
  ret = unpack_chain(c, with_libarchive, blob_path, dest, got, err);
out:
  chain_free(c);
  return ret;
}

int image_layer_unpack(const char *blob_path, const char *dest, const char *want_diffid,
                       struct skiff_err **err)
{
  char got[DIGEST_STR_LEN];
  struct skiff_err *why = NULL;
  int ret = unpack_blob(blob_path, dest, false, got, &why);
  if (ret == TAR_UNSUPPORTED)
    {
      /* what skiff's reader left, removed; libarchive reads it all again */
      skiff_err_free(&why);
      if (skiff_rm_rf(dest, &why) < 0 || mkdir(dest, 0755) < 0 || chmod(dest, 0755) < 0)
        ret = why ? -1 : skiff_error(&why, errno, "mkdir `%s`", dest);
      else if ((ret = image_libarchive_load(&why)) == 0)
        ret = unpack_blob(blob_path, dest, true, got, &why);
    }
  if (ret < 0)
    {
      if (err && *err == NULL)
        *err = why;
      else
        skiff_err_free(&why);
      return -1;
    }
  if (want_diffid && strcmp(got, want_diffid) != 0)
    return skiff_error(err, 0, "layer %s: diff_id mismatch (content is %s)", want_diffid, got);
  return 0;
}

int image_layer_unpack_gz_reader(image_read_fn rd, void *arg, const char *dest,
                                 char got[DIGEST_STR_LEN], struct skiff_err **err)
{
  struct chain *c = xzalloc(sizeof(*c));
  c->hash = digest_pipe_new();
  c->fd = -1;
  c->gz = image_gunzip_open_reader(rd, arg);
  /* a layer skiff's reader cannot read stops here: the pull unpacks it from its blob */
  int ret = unpack_chain(c, false, "layer stream", dest, got, err);
  chain_free(c);
  return ret < 0 ? -1 : 0;
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
  archive_read_support_filter_all(in);
  archive_read_support_format_tar(in);
  struct image_unpack u;
  image_unpack_init(&u, rootfd, false);
  int ret = -1;
  if (archive_read_open_filename(in, archive_path, 65536) != ARCHIVE_OK)
    skiff_error(err, 0, "read `%s`: %s", archive_path, archive_error_string(in));
  else if (extract_entries(in, root, &u, err) == 0 && image_unpack_finish(&u, err) == 0)
    ret = 0;
  image_unpack_free(&u);
  archive_read_free(in);
  return ret;
}
