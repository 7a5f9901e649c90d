/* image_layer_write.c - a directory written as a gzip'd tar layer, deterministically:
 * entries in byte order of their names, numeric owners only, no atime/ctime, mtimes to
 * the second, a gzip header without a timestamp.  One pass computes both the diffid
 * (sha256 of the tar) and the blob digest (sha256 of the gzip'd bytes). */
#define _GNU_SOURCE
#include "image_internal.h"
#include "image_libarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

struct layer_writer
{
  struct archive *tar, *gz, *disk;
  struct archive_entry_linkresolver *links;
  struct digest_ctx *diff, *blob;
  int out_fd;
  long long size;
};

/* tar bytes -> diffid hash + gzip writer */
static la_ssize_t tar_out(struct archive *a, void *cd, const void *buf, size_t n)
{
  struct layer_writer *w = cd;
  digest_update(w->diff, buf, n);
  if (archive_write_data(w->gz, buf, n) < 0)
    {
      archive_set_error(a, archive_errno(w->gz), "gzip: %s", archive_error_string(w->gz));
      return -1;
    }
  return (la_ssize_t)n;
}

/* gzip'd bytes -> blob hash + the output file */
static la_ssize_t gz_out(struct archive *a, void *cd, const void *buf, size_t n)
{
  struct layer_writer *w = cd;
  if (skiff_write_all(w->out_fd, buf, n) < 0)
    {
      archive_set_error(a, errno, "write layer blob");
      return -1;
    }
  digest_update(w->blob, buf, n);
  w->size += (long long)n;
  return (la_ssize_t)n;
}

static int cmp_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int write_entry(struct layer_writer *w, const char *host, const char *rel,
                       struct skiff_err **err);

/* Entries of a directory, sorted by name bytes (not locale). */
static int write_dir(struct layer_writer *w, const char *host, const char *rel,
                     struct skiff_err **err)
{
  DIR *d = opendir(host);
  if (d == NULL)
    return skiff_error(err, errno, "opendir `%s`", host);
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      names = xrealloc(names, (n + 1) * sizeof(char *));
      names[n++] = xstrdup(de->d_name);
    }
  closedir(d);
  if (n > 0)
    qsort(names, n, sizeof(char *), cmp_names);
  int ret = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (ret == 0)
        {
          cleanup_free char *h = xasprintf("%s/%s", host, names[i]);
          cleanup_free char *r = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
          ret = write_entry(w, h, r, err);
        }
      free(names[i]);
    }
  free(names);
  return ret;
}

static int write_file_data(struct layer_writer *w, const char *host, la_int64_t size,
                           struct skiff_err **err)
{
  cleanup_close int fd = open(host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", host);
  char buf[65536];
  la_int64_t left = size;
  while (left > 0)
    {
      ssize_t n = read(fd, buf, left < (la_int64_t)sizeof(buf) ? (size_t)left : sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return skiff_error(err, errno, "read `%s`", host);
      if (n == 0)
        return skiff_error(err, 0, "read `%s`: file shrank while being archived", host);
      if (archive_write_data(w->tar, buf, (size_t)n) < 0)
        return skiff_error(err, 0, "archive `%s`: %s", host, archive_error_string(w->tar));
      left -= n;
    }
  return 0;
}

static int write_entry(struct layer_writer *w, const char *host, const char *rel,
                       struct skiff_err **err)
{
  struct stat st;
  if (lstat(host, &st) < 0)
    return skiff_error(err, errno, "stat `%s`", host);
  if (S_ISSOCK(st.st_mode))
    return 0; /* tar cannot hold sockets */
  struct archive_entry *e = archive_entry_new();
  archive_entry_copy_sourcepath(e, host);
  archive_entry_copy_pathname(e, rel);
  if (archive_read_disk_entry_from_file(w->disk, e, -1, &st) < ARCHIVE_WARN)
    {
      archive_entry_free(e);
      return skiff_error(err, 0, "read metadata of `%s`: %s", host, archive_error_string(w->disk));
    }
  archive_entry_copy_pathname(e, rel);
  archive_entry_unset_atime(e);
  archive_entry_unset_ctime(e);
  archive_entry_unset_birthtime(e);
  archive_entry_set_mtime(e, st.st_mtime, 0);
  archive_entry_set_uname(e, NULL);
  archive_entry_set_gname(e, NULL);
  struct archive_entry *sparse = NULL;
  archive_entry_linkify(w->links, &e, &sparse);
  int ret = 0;
  if (e != NULL)
    {
      if (archive_write_header(w->tar, e) < ARCHIVE_WARN)
        ret = skiff_error(err, 0, "archive `%s`: %s", host, archive_error_string(w->tar));
      else if (S_ISREG(st.st_mode) && archive_entry_size(e) > 0)
        ret = write_file_data(w, host, archive_entry_size(e), err);
      archive_entry_free(e);
    }
  if (ret == 0 && S_ISDIR(st.st_mode))
    ret = write_dir(w, host, rel, err);
  return ret;
}

int image_layer_create(const char *rootfs, int out_fd, char diffid[DIGEST_STR_LEN],
                       char digest[DIGEST_STR_LEN], long long *size, struct skiff_err **err)
{
  if (image_libarchive_load(err) < 0)
    return -1;
  struct stat st;
  if (stat(rootfs, &st) < 0)
    return skiff_error(err, errno, "stat `%s`", rootfs);
  if (!S_ISDIR(st.st_mode))
    return skiff_error(err, ENOTDIR, "rootfs `%s`", rootfs);
  struct layer_writer w = {.out_fd = out_fd};
  w.diff = digest_new();
  w.blob = digest_new();
  w.disk = archive_read_disk_new();
  w.links = archive_entry_linkresolver_new();
  archive_entry_linkresolver_set_strategy(w.links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  w.gz = archive_write_new();
  w.tar = archive_write_new();
  int ret = -1;
  struct archive_entry *raw = archive_entry_new();
  archive_entry_set_filetype(raw, AE_IFREG);
  archive_entry_set_pathname(raw, "layer.tar");
  archive_write_add_filter_gzip(w.gz);
  archive_write_set_format_raw(w.gz);
  archive_write_set_bytes_in_last_block(w.gz, 1);
  archive_write_set_format_pax_restricted(w.tar);
  if (archive_write_set_options(w.gz, "gzip:!timestamp") < ARCHIVE_WARN
      || archive_write_open(w.gz, &w, NULL, gz_out, NULL) != ARCHIVE_OK
      || archive_write_header(w.gz, raw) != ARCHIVE_OK)
    {
      skiff_error(err, 0, "gzip writer: %s", archive_error_string(w.gz));
      goto out;
    }
  if (archive_write_open(w.tar, &w, NULL, tar_out, NULL) != ARCHIVE_OK)
    {
      skiff_error(err, 0, "tar writer: %s", archive_error_string(w.tar));
      goto out;
    }
  if (write_dir(&w, rootfs, "", err) < 0)
    goto out;
  if (archive_write_close(w.tar) != ARCHIVE_OK)
    {
      skiff_error(err, 0, "tar writer: %s", archive_error_string(w.tar));
      goto out;
    }
  if (archive_write_close(w.gz) != ARCHIVE_OK)
    {
      skiff_error(err, 0, "gzip writer: %s", archive_error_string(w.gz));
      goto out;
    }
  digest_final(w.diff, diffid);
  digest_final(w.blob, digest);
  *size = w.size;
  ret = 0;
out:
  archive_entry_free(raw);
  archive_write_free(w.tar);
  archive_write_free(w.gz);
  archive_read_free(w.disk);
  archive_entry_linkresolver_free(w.links);
  digest_free(w.diff);
  digest_free(w.blob);
  return ret;
}
