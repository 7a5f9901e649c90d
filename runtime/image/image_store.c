/* image_store.c - the content-addressed store under the image root: blobs by digest
 * (verified on every read), unpacked layers by diffid, names in images.json under an
 * flock, garbage collection, and transactions that stage an import in tmp/ and move it
 * in all at once. */
#define _GNU_SOURCE
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

int image_store_init(const char *store, struct skiff_err **err)
{
  static const char *const dirs[] = {"blobs/sha256", "layers", "tmp"};
  for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
    {
      cleanup_free char *p = xasprintf("%s/%s", store, dirs[i]);
      if (skiff_mkdir_p(p, 0700, err) < 0)
        return skiff_err_prefix(err, "image store `%s`", store);
    }
  /* overlayfs lower dirs are traversed by the container's users too */
  cleanup_free char *layers = xasprintf("%s/layers", store);
  if (chmod(store, 0711) < 0 || chmod(layers, 0711) < 0)
    return skiff_error(err, errno, "chmod `%s`", store);
  return 0;
}

char *image_blob_path(const char *store, const char *digest)
{
  return xasprintf("%s/blobs/sha256/%s", store, digest_hex(digest));
}

char *image_layer_path(const char *store, const char *diffid)
{
  return xasprintf("%s/layers/%s", store, digest_hex(diffid));
}

int image_store_lock(const char *store, bool exclusive, struct skiff_err **err)
{
  cleanup_free char *p = xasprintf("%s/images.lock", store);
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", p);
  while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
    if (errno != EINTR)
      {
        int e = errno;
        close(fd);
        return skiff_error(err, e, "flock `%s`", p);
      }
  return fd;
}

int image_blob_open(const char *store, const char *digest, struct skiff_err **err)
{
  if (!digest_valid(digest))
    return skiff_error(err, 0, "invalid digest `%s`", digest);
  cleanup_free char *p = image_blob_path(store, digest);
  int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "blob %s: open `%s`", digest, p);
  return fd;
}

int image_blob_read(const char *store, const char *digest, char **out, size_t *len,
                    struct skiff_err **err)
{
  cleanup_close int fd = image_blob_open(store, digest, err);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) < 0)
    return skiff_error(err, errno, "blob %s: stat", digest);
  if (st.st_size > IMAGE_JSON_MAX)
    return skiff_error(err, EFBIG, "blob %s: larger than %d bytes", digest, IMAGE_JSON_MAX);
  char *buf = xmalloc((size_t)st.st_size + 1);
  ssize_t n = skiff_read_all(fd, buf, (size_t)st.st_size);
  if (n != st.st_size)
    {
      free(buf);
      return skiff_error(err, n < 0 ? errno : EIO, "blob %s: read", digest);
    }
  buf[n] = '\0';
  char got[DIGEST_STR_LEN];
  digest_buffer(buf, (size_t)n, got);
  if (strcmp(got, digest) != 0)
    {
      free(buf);
      return skiff_error(err, 0, "blob %s: digest mismatch", digest);
    }
  *out = buf;
  if (len)
    *len = (size_t)n;
  return 0;
}

int image_names_load(const char *store, json_t **out, struct skiff_err **err)
{
  cleanup_free char *p = xasprintf("%s/images.json", store);
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (skiff_read_file(p, &text, &len, NULL) < 0)
    {
      if (access(p, F_OK) == 0 || errno != ENOENT)
        return skiff_error(err, errno, "read `%s`", p);
      *out = json_object();
      return 0;
    }
  json_error_t je;
  json_t *names = json_loadb(text, len, 0, &je);
  if (names == NULL || !json_is_object(names))
    {
      json_decref(names);
      return skiff_error(err, 0, "`%s`: not a JSON object (%s)", p, je.text);
    }
  *out = names;
  return 0;
}

int image_names_save(const char *store, json_t *names, struct skiff_err **err)
{
  cleanup_free char *p = xasprintf("%s/images.json", store);
  cleanup_free char *text = json_dumps(names, JSON_INDENT(2) | JSON_SORT_KEYS);
  if (text == NULL)
    return skiff_error(err, ENOMEM, "encode `%s`", p);
  return skiff_write_file_atomic(p, text, strlen(text), 0600, err);
}

/* ---------------------------------------------------------------- manifest and config */

static const char *const layer_types[] = {
    IMAGE_MT_LAYER,
    IMAGE_MT_LAYER_GZIP,
    IMAGE_MT_LAYER_ZSTD,
    IMAGE_MT_DOCKER_LAYER,
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

bool image_layer_media_type_ok(const char *mt)
{
  for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++)
    if (strcmp(mt, layer_types[i]) == 0)
      return true;
  return false;
}

void image_manifest_clear(struct image_manifest *m)
{
  free(m->config_digest);
  for (size_t i = 0; i < m->n_layers; i++)
    {
      free(m->layer_digests[i]);
      free(m->layer_media_types[i]);
    }
  free(m->layer_digests);
  free(m->layer_media_types);
  free(m->layer_sizes);
  memset(m, 0, sizeof(*m));
}

int image_manifest_parse(const char *text, size_t len, struct image_manifest *m,
                         struct skiff_err **err)
{
  memset(m, 0, sizeof(*m));
  json_error_t je;
  json_t *root = json_loadb(text, len, 0, &je);
  if (root == NULL)
    return skiff_error(err, 0, "manifest: invalid JSON: %s (line %d)", je.text, je.line);
  int ret = -1;
  const char *mt = json_string_value(json_object_get(root, "mediaType"));
  json_t *cfg = json_object_get(root, "config");
  json_t *layers = json_object_get(root, "layers");
  const char *cd = json_string_value(json_object_get(cfg, "digest"));
  json_t *csize = json_object_get(cfg, "size");
  if (mt && strcmp(mt, IMAGE_MT_MANIFEST) != 0 && strcmp(mt, IMAGE_MT_DOCKER_MANIFEST) != 0)
    skiff_error(err, 0, "manifest: unsupported mediaType `%s`", mt);
  else if (!digest_valid(cd) || !json_is_integer(csize) || json_integer_value(csize) < 0)
    skiff_error(err, 0, "manifest: config: missing or invalid digest or size");
  else if (!json_is_array(layers) || json_array_size(layers) == 0)
    skiff_error(err, 0, "manifest: layers: expected a non-empty array");
  else
    ret = 0;
  if (ret < 0)
    {
      json_decref(root);
      return -1;
    }
  m->config_digest = xstrdup(cd);
  m->config_size = json_integer_value(csize);
  m->n_layers = json_array_size(layers);
  m->layer_digests = xzalloc(m->n_layers * sizeof(char *));
  m->layer_media_types = xzalloc(m->n_layers * sizeof(char *));
  m->layer_sizes = xzalloc(m->n_layers * sizeof(long long));
  for (size_t i = 0; i < m->n_layers; i++)
    {
      json_t *l = json_array_get(layers, i);
      const char *d = json_string_value(json_object_get(l, "digest"));
      const char *lmt = json_string_value(json_object_get(l, "mediaType"));
      json_t *sz = json_object_get(l, "size");
      if (!digest_valid(d) || !json_is_integer(sz) || json_integer_value(sz) < 0)
        ret = skiff_error(err, 0, "manifest: layers[%zu]: missing or invalid digest or size", i);
      else if (lmt == NULL || !image_layer_media_type_ok(lmt))
        ret = skiff_error(err, 0, "manifest: layers[%zu]: unsupported mediaType `%s`", i,
                          lmt ? lmt : "");
      if (ret < 0)
        break;
      m->layer_digests[i] = xstrdup(d);
      m->layer_media_types[i] = xstrdup(lmt);
      m->layer_sizes[i] = json_integer_value(sz);
    }
  json_decref(root);
  if (ret < 0)
    image_manifest_clear(m);
  return ret;
}

int image_config_diff_ids(const char *text, size_t len, char ***out, struct skiff_err **err)
{
  json_error_t je;
  json_t *root = json_loadb(text, len, 0, &je);
  if (root == NULL)
    return skiff_error(err, 0, "image config: invalid JSON: %s (line %d)", je.text, je.line);
  json_t *ids = json_object_get(json_object_get(root, "rootfs"), "diff_ids");
  if (!json_is_array(ids))
    {
      json_decref(root);
      return skiff_error(err, 0, "image config: rootfs.diff_ids: expected an array");
    }
  size_t n = json_array_size(ids);
  char **res = xzalloc((n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++)
    {
      const char *d = json_string_value(json_array_get(ids, i));
      if (!digest_valid(d))
        {
          for (size_t j = 0; j < i; j++)
            free(res[j]);
          free(res);
          json_decref(root);
          return skiff_error(err, 0, "image config: rootfs.diff_ids[%zu]: invalid digest", i);
        }
      res[i] = xstrdup(d);
    }
  json_decref(root);
  *out = res;
  return 0;
}

/* ---------------------------------------------------------------- garbage collection */

static void add_ref(json_t *set, const char *digest)
{
  if (digest && digest_valid(digest))
    json_object_set_new(set, digest_hex(digest), json_true());
}

/* The blobs (manifest, config, layers) and diffids one image references; -1 when the
 * image does not read (then nothing is collected: better keep garbage than lose data). */
static int collect_refs(const char *store, const char *manifest, json_t *blobs, json_t *diffs)
{
  if (manifest == NULL || !digest_valid(manifest))
    return -1;
  add_ref(blobs, manifest);
  cleanup_free char *mtext = NULL, *ctext = NULL;
  size_t mlen = 0, clen = 0;
  struct image_manifest m;
  if (image_blob_read(store, manifest, &mtext, &mlen, NULL) < 0
      || image_manifest_parse(mtext, mlen, &m, NULL) < 0)
    return -1;
  add_ref(blobs, m.config_digest);
  for (size_t i = 0; i < m.n_layers; i++)
    add_ref(blobs, m.layer_digests[i]);
  char **ids = NULL;
  int ret = -1;
  if (image_blob_read(store, m.config_digest, &ctext, &clen, NULL) == 0
      && image_config_diff_ids(ctext, clen, &ids, NULL) == 0)
    {
      for (size_t i = 0; ids[i]; i++)
        {
          add_ref(diffs, ids[i]);
          free(ids[i]);
        }
      free(ids);
      ret = 0;
    }
  image_manifest_clear(&m);
  return ret;
}

/* A layer dir named in a mount's options (an overlay lowerdir of a live container) is
 * kept even when no name references it any more. */
static bool layer_mounted(const char *mountinfo, const char *path)
{
  size_t n = strlen(path);
  for (const char *p = mountinfo; p && (p = strstr(p, path)) != NULL; p += n)
    if (p[n] == ':' || p[n] == ',' || p[n] == ' ' || p[n] == '\n' || p[n] == '\0' || p[n] == '/')
      return true;
  return false;
}

static int sweep(const char *dir, json_t *keep, bool tmp, const char *mountinfo,
                 struct skiff_err **err)
{
  cleanup_dir DIR *d = opendir(dir);
  if (d == NULL)
    return errno == ENOENT ? 0 : skiff_error(err, errno, "opendir `%s`", dir);
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    {
      if (de->d_name[0] == '.')
        continue;
      if (tmp)
        {
          /* tmp/<pid>-XXXXXX: collect only when that process is gone */
          int pid = atoi(de->d_name);
          if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
            continue;
        }
      else if (json_object_get(keep, de->d_name))
        continue;
      cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
      if (mountinfo && layer_mounted(mountinfo, p))
        continue;
      if (skiff_rm_rf(p, err) < 0)
        return -1;
    }
  return 0;
}

/* downloads/<hex>: parts of interrupted pulls, kept for a day for the next pull to resume;
 * older ones that no pull holds (flock) are removed */
static void sweep_downloads(const char *store)
{
  cleanup_free char *dir = xasprintf("%s/downloads", store);
  cleanup_dir DIR *d = opendir(dir);
  struct dirent *de;
  time_t now = time(NULL);
  while (d && (de = readdir(d)) != NULL)
    {
      struct stat st;
      if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0
          || now - st.st_mtime < IMAGE_DOWNLOAD_KEEP_SECONDS)
        continue;
      int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        unlinkat(dirfd(d), de->d_name, 0);
      if (fd >= 0)
        close(fd);
    }
}

int image_store_sweep_tmp(const char *store, struct skiff_err **err)
{
  sweep_downloads(store);
  cleanup_free char *tdir = xasprintf("%s/tmp", store);
  return sweep(tdir, NULL, true, NULL, err);
}

/* images.json.tmp.XXXXXX beside images.json: a writer killed between writing and renaming
 * it (image_names_save).  Every writer holds the exclusive lock, as gc's caller does, so
 * any such file now is a dead writer's. */
static void sweep_names_tmp(const char *store)
{
  cleanup_dir DIR *d = opendir(store);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    if (strncmp(de->d_name, "images.json.tmp.", 16) == 0)
      unlinkat(dirfd(d), de->d_name, 0);
}

int image_store_gc(const char *store, json_t *names, struct skiff_err **err)
{
  sweep_names_tmp(store);
  json_t *blobs = json_object(), *diffs = json_object();
  const char *key;
  json_t *val;
  bool complete = true;
  json_object_foreach(names, key, val)
  {
    if (collect_refs(store, json_string_value(json_object_get(val, "digest")), blobs, diffs) < 0)
      complete = false;
  }
  cleanup_free char *bdir = xasprintf("%s/blobs/sha256", store);
  cleanup_free char *ldir = xasprintf("%s/layers", store);
  cleanup_free char *tdir = xasprintf("%s/tmp", store);
  cleanup_free char *mountinfo = NULL;
  if (skiff_read_file("/proc/self/mountinfo", &mountinfo, NULL, NULL) < 0)
    complete = false;
  int ret = 0;
  if (complete
      && (sweep(bdir, blobs, false, NULL, err) < 0
          || sweep(ldir, diffs, false, mountinfo, err) < 0))
    ret = -1;
  if (ret == 0 && sweep(tdir, NULL, true, NULL, err) < 0)
    ret = -1;
  json_decref(blobs);
  json_decref(diffs);
  return ret;
}
