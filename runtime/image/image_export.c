/* image_export.c - `skiff image export`: one image as an OCI image layout tar
 * (oci-layout, index.json, blobs/sha256/...) that skopeo (oci-archive:) and umoci read.
 * Blobs are streamed from the store and verified on the way; the tar is written next
 * to its destination and renamed into place only when complete. */
#define _GNU_SOURCE
#include "image_internal.h"
#include "image_libarchive.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

static int add_entry(struct archive *a, const char *path, mode_t type, const void *data, size_t len,
                     struct skiff_err **err)
{
  if (image_libarchive_load(err) < 0)
    return -1;
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, path);
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_size(e, type == AE_IFDIR ? 0 : (la_int64_t)len);
  archive_entry_set_mtime(e, 0, 0);
  int r = archive_write_header(a, e);
  archive_entry_free(e);
  if (r < ARCHIVE_WARN || (len > 0 && archive_write_data(a, data, len) != (la_ssize_t)len))
    return skiff_error(err, 0, "write `%s`: %s", path, archive_error_string(a));
  return 0;
}

static int add_blob(struct archive *a, const char *store, const char *digest,
                    struct skiff_err **err)
{
  cleanup_close int fd = image_blob_open(store, digest, err);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) < 0)
    return skiff_error(err, errno, "blob %s: stat", digest);
  cleanup_free char *path = xasprintf("blobs/sha256/%s", digest_hex(digest));
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, path);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, st.st_size);
  archive_entry_set_mtime(e, 0, 0);
  int r = archive_write_header(a, e);
  archive_entry_free(e);
  if (r < ARCHIVE_WARN)
    return skiff_error(err, 0, "write `%s`: %s", path, archive_error_string(a));
  struct digest_ctx *ctx = digest_new();
  char buf[65536];
  long long left = st.st_size;
  int ret = 0;
  while (left > 0 && ret == 0)
    {
      ssize_t n = read(fd, buf, left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        ret = skiff_error(err, n < 0 ? errno : EIO, "blob %s: read", digest);
      else if (archive_write_data(a, buf, (size_t)n) != n)
        ret = skiff_error(err, 0, "write `%s`: %s", path, archive_error_string(a));
      else
        {
          digest_update(ctx, buf, (size_t)n);
          left -= n;
        }
    }
  char got[DIGEST_STR_LEN];
  digest_final(ctx, got);
  digest_free(ctx);
  if (ret == 0 && strcmp(got, digest) != 0)
    ret = skiff_error(err, 0, "blob %s: digest mismatch", digest);
  return ret;
}

/* The manifest digest and size behind name_tag, under the caller's lock. */
static int lookup(const char *store, const char *name_tag, char **key, char **digest,
                  struct skiff_err **err)
{
  json_t *names = NULL;
  if (image_names_load(store, &names, err) < 0)
    return -1;
  cleanup_free char *name = NULL, *tag = NULL;
  int ret = -1;
  if (image_parse_ref(name_tag, &name, &tag, err) == 0)
    {
      *key = xasprintf("%s:%s", name, tag);
      const char *d = json_string_value(json_object_get(json_object_get(names, *key), "digest"));
      if (d == NULL || !digest_valid(d))
        skiff_error(err, 0, "no such image `%s`", name_tag);
      else
        {
          *digest = xstrdup(d);
          ret = 0;
        }
    }
  json_decref(names);
  return ret;
}

static int write_layout(struct archive *a, const char *store, const char *key, const char *manifest,
                        struct skiff_err **err)
{
  cleanup_free char *mtext = NULL;
  size_t mlen = 0;
  struct image_manifest m;
  if (image_blob_read(store, manifest, &mtext, &mlen, err) < 0
      || image_manifest_parse(mtext, mlen, &m, err) < 0)
    return -1;
  const char *tag = strrchr(key, ':') + 1;
  json_t *index = json_pack("{s:i, s:s, s:[{s:s, s:s, s:I, s:{s:s, s:s}}]}", "schemaVersion", 2,
                            "mediaType", IMAGE_MT_INDEX, "manifests", "mediaType",
                            IMAGE_MT_MANIFEST, "digest", manifest, "size", (json_int_t)mlen,
                            "annotations", IMAGE_ANNOT_REF, tag, IMAGE_ANNOT_FULLNAME, key);
  cleanup_free char *itext = json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(index);
  static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
  int ret = -1;
  if (add_entry(a, "oci-layout", AE_IFREG, layout, strlen(layout), err) == 0
      && add_entry(a, "index.json", AE_IFREG, itext, strlen(itext), err) == 0
      && add_entry(a, "blobs", AE_IFDIR, NULL, 0, err) == 0
      && add_entry(a, "blobs/sha256", AE_IFDIR, NULL, 0, err) == 0
      && add_blob(a, store, manifest, err) == 0 && add_blob(a, store, m.config_digest, err) == 0)
    {
      ret = 0;
      for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
        {
          bool dup = false;
          for (size_t j = 0; j < i; j++)
            dup = dup || strcmp(m.layer_digests[i], m.layer_digests[j]) == 0;
          if (!dup && strcmp(m.layer_digests[i], m.config_digest) != 0)
            ret = add_blob(a, store, m.layer_digests[i], err);
        }
    }
  image_manifest_clear(&m);
  return ret;
}

int image_export(const char *store, const char *name_tag, const char *out_path,
                 struct skiff_err **err)
{
  if (image_store_init(store, err) < 0)
    return -1;
  /* shared lock: no garbage collection while blobs are read */
  cleanup_close int lock = image_store_lock(store, false, err);
  if (lock < 0)
    return -1;
  cleanup_free char *key = NULL, *manifest = NULL;
  if (lookup(store, name_tag, &key, &manifest, err) < 0)
    return -1;
  cleanup_free char *tmp = xasprintf("%s.tmp-%d", out_path, (int)getpid());
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  int ret = -1;
  if (archive_write_open_filename(a, tmp) != ARCHIVE_OK)
    skiff_error(err, archive_errno(a), "open `%s`", tmp);
  else if (write_layout(a, store, key, manifest, err) < 0)
    ;
  else if (archive_write_close(a) != ARCHIVE_OK)
    skiff_error(err, archive_errno(a), "write `%s`: %s", tmp, archive_error_string(a));
  else if (rename(tmp, out_path) < 0)
    skiff_error(err, errno, "rename `%s` to `%s`", tmp, out_path);
  else
    ret = 0;
  archive_write_free(a);
  if (ret < 0)
    {
      unlink(tmp);
      return skiff_err_prefix(err, "export `%s` to `%s`", name_tag, out_path);
    }
  return 0;
}
