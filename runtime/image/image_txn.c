/* image_txn.c - staged store updates.  An import or build writes its blobs and unpacks
 * its layers into tmp/<pid>-XXXXXX (outside the lock: that is the slow part), then
 * image_txn_commit takes the store lock, moves them in with rename(2) and points the
 * name at the manifest.  A failure before the name is written removes whatever was
 * moved, so a failed import leaves no blob, layer dir or name behind.  A process killed
 * mid-way leaves its temp dir (removed by the next transaction: its pid is gone) or, killed
 * inside the commit, blobs no name references (collected by the next commit or remove). */
#define _GNU_SOURCE
#include "image_internal.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

/* Mark <store>/tmp as the top of a directory hierarchy for ext4's Orlov allocator
 * (FS_TOPDIR_FL, `chattr +T`): each staging dir made in it is placed in a block group with
 * free inodes and blocks to spare, and the inodes of the layer unpacked there follow it,
 * instead of all going to the group of the store's parent dir.  On an ext4 without a
 * journal, inode allocation skips every inode of the group deleted in the last minutes
 * (recently_deleted) and rescans them for each new inode: in a group other programs churn
 * (/tmp, /var/lib) unpacking a layer of ~300 entries took 180-250 ms instead of ~110 ms on
 * this machine (tar -xzf of the web-app layer, measured).  Best effort: other file systems
 * refuse the flag or ignore it. */
static void mark_topdir(const char *store)
{
  cleanup_free char *dir = xasprintf("%s/tmp", store);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return;
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL))
    {
      flags |= FS_TOPDIR_FL;
      (void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
  close(fd);
}

int image_txn_begin(struct image_txn *t, const char *store, struct skiff_err **err)
{
  memset(t, 0, sizeof(*t));
  if (image_store_init(store, err) < 0)
    return -1;
  image_store_sweep_tmp(store, NULL); /* best effort: leftovers of killed imports */
  mark_topdir(store);
  t->store = xstrdup(store);
  t->tmpdir = xasprintf("%s/tmp/%d-XXXXXX", store, (int)getpid());
  if (mkdtemp(t->tmpdir) == NULL)
    {
      int e = errno;
      free(t->tmpdir);
      t->tmpdir = NULL;
      return skiff_error(err, e, "mkdtemp in `%s/tmp`", store);
    }
  return 0;
}

void image_txn_end(struct image_txn *t)
{
  if (t->tmpdir)
    skiff_rm_rf(t->tmpdir, NULL);
  for (size_t i = 0; i < t->n_blobs; i++)
    {
      free(t->blob_digests[i]);
      free(t->blob_paths[i]);
    }
  for (size_t i = 0; i < t->n_layers; i++)
    {
      free(t->layer_diffids[i]);
      free(t->layer_paths[i]);
    }
  free(t->blob_digests);
  free(t->blob_paths);
  free(t->layer_diffids);
  free(t->layer_paths);
  free(t->tmpdir);
  free(t->store);
  memset(t, 0, sizeof(*t));
}

char *image_txn_tmp_path(struct image_txn *t, const char *what)
{
  return xasprintf("%s/%s-%zu", t->tmpdir, what, t->seq++);
}

static const char *staged_blob(struct image_txn *t, const char *digest)
{
  for (size_t i = 0; i < t->n_blobs; i++)
    if (strcmp(t->blob_digests[i], digest) == 0)
      return t->blob_paths[i];
  return NULL;
}

static bool blob_in_store(struct image_txn *t, const char *digest)
{
  cleanup_free char *p = image_blob_path(t->store, digest);
  return access(p, F_OK) == 0;
}

char *image_txn_blob_path(struct image_txn *t, const char *digest)
{
  const char *s = staged_blob(t, digest);
  if (s)
    return xstrdup(s);
  return blob_in_store(t, digest) ? image_blob_path(t->store, digest) : NULL;
}

void image_txn_adopt_blob(struct image_txn *t, const char *digest, const char *path)
{
  if (staged_blob(t, digest) || blob_in_store(t, digest))
    {
      unlink(path);
      return;
    }
  t->blob_digests = xrealloc(t->blob_digests, (t->n_blobs + 1) * sizeof(char *));
  t->blob_paths = xrealloc(t->blob_paths, (t->n_blobs + 1) * sizeof(char *));
  t->blob_digests[t->n_blobs] = xstrdup(digest);
  t->blob_paths[t->n_blobs] = xstrdup(path);
  t->n_blobs++;
}

int image_txn_add_buffer(struct image_txn *t, const void *data, size_t len,
                         char out[DIGEST_STR_LEN], struct skiff_err **err)
{
  char d[DIGEST_STR_LEN];
  digest_buffer(data, len, d);
  if (out)
    memcpy(out, d, DIGEST_STR_LEN);
  if (staged_blob(t, d) || blob_in_store(t, d))
    return 0;
  cleanup_free char *p = image_txn_tmp_path(t, "blob");
  if (skiff_write_file(p, data, len, 0644, err) < 0)
    return -1;
  image_txn_adopt_blob(t, d, p);
  return 0;
}

int image_txn_add_fd(struct image_txn *t, int fd, const char *want_digest, long long want_size,
                     char out[DIGEST_STR_LEN], struct skiff_err **err)
{
  if (want_digest && (staged_blob(t, want_digest) || blob_in_store(t, want_digest)))
    {
      if (out)
        memcpy(out, want_digest, DIGEST_STR_LEN);
      return 0;
    }
  cleanup_free char *p = image_txn_tmp_path(t, "blob");
  cleanup_close int ofd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (ofd < 0)
    return skiff_error(err, errno, "open `%s`", p);
  struct digest_ctx *ctx = digest_new();
  char buf[65536];
  long long total = 0;
  int ret = 0;
  for (;;)
    {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          ret = skiff_error(err, errno, "blob %s: read", want_digest ? want_digest : "");
          break;
        }
      if (n == 0)
        break;
      digest_update(ctx, buf, (size_t)n);
      total += n;
      if (skiff_write_all(ofd, buf, (size_t)n) < 0)
        {
          ret = skiff_error(err, errno, "write `%s`", p);
          break;
        }
    }
  char got[DIGEST_STR_LEN];
  digest_final(ctx, got);
  digest_free(ctx);
  if (ret == 0 && want_digest && strcmp(got, want_digest) != 0)
    ret = skiff_error(err, 0, "blob %s: digest mismatch", want_digest);
  else if (ret == 0 && want_size >= 0 && total != want_size)
    ret = skiff_error(err, 0, "blob %s: size %lld, descriptor says %lld", got, total, want_size);
  if (ret < 0)
    {
      unlink(p);
      return -1;
    }
  if (out)
    memcpy(out, got, DIGEST_STR_LEN);
  image_txn_adopt_blob(t, got, p);
  return 0;
}

int image_txn_add_layer(struct image_txn *t, const char *blob_digest, const char *diffid,
                        struct skiff_err **err)
{
  for (size_t i = 0; i < t->n_layers; i++)
    if (strcmp(t->layer_diffids[i], diffid) == 0)
      return 0;
  cleanup_free char *have = image_layer_path(t->store, diffid);
  if (access(have, F_OK) == 0)
    return 0;
  cleanup_free char *blob = image_txn_blob_path(t, blob_digest);
  if (blob == NULL)
    return skiff_error(err, ENOENT, "layer %s: blob %s", diffid, blob_digest);
  char *dir = image_txn_tmp_path(t, "layer");
  if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
    {
      int e = errno;
      skiff_error(err, e, "mkdir `%s`", dir);
      free(dir);
      return -1;
    }
  if (image_layer_unpack(blob, dir, diffid, err) < 0)
    {
      free(dir);
      return skiff_err_prefix(err, "layer %s", blob_digest);
    }
  t->layer_diffids = xrealloc(t->layer_diffids, (t->n_layers + 1) * sizeof(char *));
  t->layer_paths = xrealloc(t->layer_paths, (t->n_layers + 1) * sizeof(char *));
  t->layer_diffids[t->n_layers] = xstrdup(diffid);
  t->layer_paths[t->n_layers] = dir;
  t->n_layers++;
  return 0;
}

void image_txn_adopt_layer(struct image_txn *t, const char *diffid, const char *dir)
{
  for (size_t i = 0; i < t->n_layers; i++)
    if (strcmp(t->layer_diffids[i], diffid) == 0)
      return; /* staged already: dir goes with the temp dir */
  t->layer_diffids = xrealloc(t->layer_diffids, (t->n_layers + 1) * sizeof(char *));
  t->layer_paths = xrealloc(t->layer_paths, (t->n_layers + 1) * sizeof(char *));
  t->layer_diffids[t->n_layers] = xstrdup(diffid);
  t->layer_paths[t->n_layers] = xstrdup(dir);
  t->n_layers++;
}

/* Everything the manifest needs is in the store (a concurrent remove may have
 * collected a blob this import found present and did not stage). */
static int check_complete(const char *store, const char *manifest, struct skiff_err **err)
{
  cleanup_free char *mtext = NULL, *ctext = NULL;
  size_t mlen = 0, clen = 0;
  struct image_manifest m;
  if (image_blob_read(store, manifest, &mtext, &mlen, err) < 0
      || image_manifest_parse(mtext, mlen, &m, err) < 0)
    return -1;
  char **ids = NULL;
  int ret = 0;
  if (image_blob_read(store, m.config_digest, &ctext, &clen, err) < 0
      || image_config_diff_ids(ctext, clen, &ids, err) < 0)
    ret = -1;
  size_t n_ids = 0;
  while (ids && ids[n_ids])
    n_ids++;
  if (ret == 0 && n_ids != m.n_layers)
    ret = skiff_error(err, 0, "image config: %zu diff_ids for %zu layers", n_ids, m.n_layers);
  for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
    {
      cleanup_free char *b = image_blob_path(store, m.layer_digests[i]);
      cleanup_free char *l = image_layer_path(store, ids[i]);
      if (access(b, F_OK) < 0 || access(l, F_OK) < 0)
        ret = skiff_error(err, ENOENT, "layer %s missing from the store (removed meanwhile?)",
                          m.layer_digests[i]);
    }
  if (ids)
    for (size_t i = 0; ids[i]; i++)
      free(ids[i]);
  free(ids);
  image_manifest_clear(&m);
  return ret;
}

int image_txn_commit(struct image_txn *t, const char *ref, const char *manifest_digest,
                     struct skiff_err **err)
{
  /* durable before visible: one syncfs covers every staged file */
  cleanup_close int tfd = open(t->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tfd < 0 || syncfs(tfd) < 0)
    return skiff_error(err, errno, "syncfs `%s`", t->tmpdir);
  SKIFF_TRACE("txn: synced");
  cleanup_close int lock = image_store_lock(t->store, true, err);
  if (lock < 0)
    return -1;
  json_t *names = NULL;
  if (image_names_load(t->store, &names, err) < 0)
    return -1;
  /* collect what a killed commit may have moved in without naming it (best effort) */
  image_store_gc(t->store, names, NULL);
  size_t n_moved = 0;
  char **moved = xzalloc((t->n_blobs + t->n_layers + 1) * sizeof(char *));
  int ret = -1;
  for (size_t i = 0; i < t->n_blobs + t->n_layers; i++)
    {
      bool blob = i < t->n_blobs;
      const char *src = blob ? t->blob_paths[i] : t->layer_paths[i - t->n_blobs];
      char *dst = blob ? image_blob_path(t->store, t->blob_digests[i])
                       : image_layer_path(t->store, t->layer_diffids[i - t->n_blobs]);
      if (access(dst, F_OK) == 0)
        {
          free(dst);
          continue;
        }
      if (rename(src, dst) < 0)
        {
          skiff_error(err, errno, "rename `%s` to `%s`", src, dst);
          free(dst);
          goto out;
        }
      moved[n_moved++] = dst;
    }
  if (check_complete(t->store, manifest_digest, err) < 0)
    goto out;
  const char *old = json_string_value(json_object_get(json_object_get(names, ref), "digest"));
  bool replaced = old && strcmp(old, manifest_digest) != 0;
  json_object_set_new(names, ref, json_pack("{s:s}", "digest", manifest_digest));
  if (image_names_save(t->store, names, err) < 0)
    goto out;
  n_moved = 0; /* committed: keep them */
  if (replaced)
    image_store_gc(t->store, names, NULL); /* best effort: the import itself succeeded */
  ret = 0;
out:
  for (size_t i = 0; i < n_moved; i++)
    skiff_rm_rf(moved[i], NULL);
  for (size_t i = 0; moved[i]; i++)
    free(moved[i]);
  free(moved);
  json_decref(names);
  return ret;
}
