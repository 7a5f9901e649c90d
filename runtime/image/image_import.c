/* image_import.c - `skiff image import`: an OCI image layout (directory or tar) or a
 * `docker save` tar into the store.  The archive is extracted into the import's temp
 * dir; every file of the layout is opened with openat2 RESOLVE_IN_ROOT, so a symlink in
 * a hostile layout cannot make us read a host file.  Every blob is verified against
 * its digest (and docker layers against the config's diff_ids) before anything is
 * committed. */
#define _GNU_SOURCE
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int layout_open(int rootfd, const char *rel, struct skiff_err **err)
{
  struct open_how how
      = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", rel);
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
    {
      close(fd);
      return skiff_error(err, 0, "`%s`: not a regular file", rel);
    }
  return fd;
}

static bool layout_has(int rootfd, const char *rel)
{
  int fd = layout_open(rootfd, rel, NULL);
  if (fd < 0)
    return false;
  close(fd);
  return true;
}

static int layout_read(int rootfd, const char *rel, char **out, size_t *len, struct skiff_err **err)
{
  cleanup_close int fd = layout_open(rootfd, rel, err);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) < 0)
    return skiff_error(err, errno, "stat `%s`", rel);
  if (st.st_size > IMAGE_JSON_MAX)
    return skiff_error(err, EFBIG, "`%s`: larger than %d bytes", rel, IMAGE_JSON_MAX);
  char *buf = xmalloc((size_t)st.st_size + 1);
  ssize_t n = skiff_read_all(fd, buf, (size_t)st.st_size);
  if (n != st.st_size)
    {
      free(buf);
      return skiff_error(err, n < 0 ? errno : EIO, "read `%s`", rel);
    }
  buf[n] = '\0';
  *out = buf;
  *len = (size_t)n;
  return 0;
}

/* A JSON blob of the layout, verified against its digest. */
static int layout_blob_json(int rootfd, const char *digest, json_t **out, struct skiff_err **err)
{
  cleanup_free char *rel = xasprintf("blobs/sha256/%s", digest_hex(digest));
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (layout_read(rootfd, rel, &text, &len, err) < 0)
    return skiff_err_prefix(err, "blob %s", digest);
  char got[DIGEST_STR_LEN];
  digest_buffer(text, len, got);
  if (strcmp(got, digest) != 0)
    return skiff_error(err, 0, "blob %s: digest mismatch", digest);
  json_error_t je;
  *out = json_loadb(text, len, 0, &je);
  if (*out == NULL)
    return skiff_error(err, 0, "blob %s: invalid JSON: %s", digest, je.text);
  return 0;
}

static bool is_index(const char *mt)
{
  return mt && (strcmp(mt, IMAGE_MT_INDEX) == 0 || strcmp(mt, IMAGE_MT_DOCKER_LIST) == 0);
}

/* The descriptor of an index to import: the only one, else linux/amd64 (this host). */
static json_t *pick_descriptor(json_t *manifests)
{
  size_t i;
  json_t *d, *first = NULL;
  json_array_foreach(manifests, i, d)
  {
    const char *mt = json_string_value(json_object_get(d, "mediaType"));
    if (mt && !is_index(mt) && strcmp(mt, IMAGE_MT_MANIFEST) != 0
        && strcmp(mt, IMAGE_MT_DOCKER_MANIFEST) != 0)
      continue; /* attestations, artifacts */
    json_t *plat = json_object_get(d, "platform");
    const char *os = json_string_value(json_object_get(plat, "os"));
    const char *arch = json_string_value(json_object_get(plat, "architecture"));
    if (plat == NULL || (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, "amd64") == 0))
      return d;
    if (first == NULL)
      first = d;
  }
  return first;
}

/* Follow index.json (and nested indexes) to one manifest digest; *ref gets the image
 * name from the top-level annotations when there is one. */
static int oci_find_manifest(int rootfd, char **manifest, char **ref, struct skiff_err **err)
{
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (layout_read(rootfd, "index.json", &text, &len, err) < 0)
    return -1;
  json_error_t je;
  json_t *index = json_loadb(text, len, 0, &je);
  if (index == NULL)
    return skiff_error(err, 0, "index.json: invalid JSON: %s (line %d)", je.text, je.line);
  int ret = -1;
  for (int depth = 0;; depth++)
    {
      json_t *manifests = json_object_get(index, "manifests");
      if (!json_is_array(manifests) || json_array_size(manifests) == 0)
        {
          skiff_error(err, 0, "%s: manifests: expected a non-empty array",
                      depth ? "nested index" : "index.json");
          break;
        }
      json_t *d = pick_descriptor(manifests);
      const char *digest = json_string_value(json_object_get(d, "digest"));
      const char *mt = json_string_value(json_object_get(d, "mediaType"));
      if (d == NULL || !digest_valid(digest))
        {
          skiff_error(err, 0, "%s: no manifest descriptor with a valid sha256 digest",
                      depth ? "nested index" : "index.json");
          break;
        }
      if (depth == 0)
        {
          json_t *ann = json_object_get(d, "annotations");
          const char *full = json_string_value(json_object_get(ann, IMAGE_ANNOT_FULLNAME));
          const char *name = json_string_value(json_object_get(ann, IMAGE_ANNOT_REF));
          if (full || (name && strchr(name, ':')))
            *ref = xstrdup(full ? full : name);
        }
      if (!is_index(mt))
        {
          *manifest = xstrdup(digest);
          ret = 0;
          break;
        }
      if (depth >= 4)
        {
          skiff_error(err, 0, "index.json: indexes nested too deep");
          break;
        }
      json_t *next = NULL;
      if (layout_blob_json(rootfd, digest, &next, err) < 0)
        break;
      json_decref(index);
      index = next;
    }
  json_decref(index);
  return ret;
}

/* Stage a blob of the layout: copied, digest and size verified. */
static int stage_layout_blob(struct image_txn *t, int rootfd, const char *digest, long long size,
                             struct skiff_err **err)
{
  cleanup_free char *rel = xasprintf("blobs/sha256/%s", digest_hex(digest));
  cleanup_free char *in_store = image_txn_blob_path(t, digest);
  if (in_store)
    return 0;
  cleanup_close int fd = layout_open(rootfd, rel, err);
  if (fd < 0)
    return skiff_err_prefix(err, "blob %s", digest);
  return image_txn_add_fd(t, fd, digest, size, NULL, err);
}

static int import_oci(struct image_txn *t, int rootfd, char **manifest, char **ref,
                      struct skiff_err **err)
{
  if (oci_find_manifest(rootfd, manifest, ref, err) < 0)
    return -1;
  cleanup_free char *mrel = xasprintf("blobs/sha256/%s", digest_hex(*manifest));
  cleanup_free char *mtext = NULL, *ctext = NULL;
  size_t mlen = 0, clen = 0;
  char got[DIGEST_STR_LEN];
  if (layout_read(rootfd, mrel, &mtext, &mlen, err) < 0)
    return skiff_err_prefix(err, "manifest %s", *manifest);
  if (image_txn_add_buffer(t, mtext, mlen, got, err) < 0)
    return -1;
  if (strcmp(got, *manifest) != 0)
    return skiff_error(err, 0, "blob %s: digest mismatch", *manifest);
  struct image_manifest m;
  if (image_manifest_parse(mtext, mlen, &m, err) < 0)
    return skiff_err_prefix(err, "%s", *manifest);
  cleanup_free char *crel = xasprintf("blobs/sha256/%s", digest_hex(m.config_digest));
  char **ids = NULL;
  int ret = -1;
  size_t n_ids = 0;
  if (layout_read(rootfd, crel, &ctext, &clen, err) < 0)
    skiff_err_prefix(err, "config %s", m.config_digest);
  else if (image_txn_add_buffer(t, ctext, clen, got, err) < 0)
    ;
  else if (strcmp(got, m.config_digest) != 0)
    skiff_error(err, 0, "blob %s: digest mismatch", m.config_digest);
  else if (image_config_diff_ids(ctext, clen, &ids, err) < 0)
    ;
  else
    ret = 0;
  while (ids && ids[n_ids])
    n_ids++;
  if (ret == 0 && n_ids != m.n_layers)
    ret = skiff_error(err, 0, "image config: %zu diff_ids for %zu layers", n_ids, m.n_layers);
  for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
    ret = stage_layout_blob(t, rootfd, m.layer_digests[i], m.layer_sizes[i], err);
  for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
    ret = image_txn_add_layer(t, m.layer_digests[i], ids[i], err);
  for (size_t i = 0; i < n_ids; i++)
    free(ids[i]);
  free(ids);
  image_manifest_clear(&m);
  return ret;
}

/* "<hex>.json" or "blobs/sha256/<hex>": the digest a docker archive file name claims. */
static char *digest_from_name(const char *rel)
{
  const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
  cleanup_free char *d = xasprintf("sha256:%.64s", base);
  if (!digest_valid(d) || (base[64] != '\0' && strcmp(base + 64, ".json") != 0))
    return NULL;
  return steal_pointer(&d);
}

static const char *sniff_layer_type(int fd)
{
  unsigned char m[4] = {0};
  if (pread(fd, m, sizeof(m), 0) < 2)
    return IMAGE_MT_LAYER;
  if (m[0] == 0x1f && m[1] == 0x8b)
    return IMAGE_MT_LAYER_GZIP;
  if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
    return IMAGE_MT_LAYER_ZSTD;
  return IMAGE_MT_LAYER;
}

/* `docker save`: manifest.json [{Config, RepoTags, Layers}] -> an OCI manifest. */
static int import_docker(struct image_txn *t, int rootfd, char **manifest, char **ref,
                         struct skiff_err **err)
{
  cleanup_free char *text = NULL, *ctext = NULL;
  size_t len = 0, clen = 0;
  if (layout_read(rootfd, "manifest.json", &text, &len, err) < 0)
    return -1;
  json_error_t je;
  json_t *arr = json_loadb(text, len, 0, &je);
  json_t *img = json_array_get(arr, 0);
  const char *cpath = json_string_value(json_object_get(img, "Config"));
  json_t *layers = json_object_get(img, "Layers");
  json_t *out_layers = json_array();
  char **ids = NULL;
  size_t n_ids = 0;
  int ret = -1;
  char cdigest[DIGEST_STR_LEN];
  if (arr == NULL)
    skiff_error(err, 0, "manifest.json: invalid JSON: %s (line %d)", je.text, je.line);
  else if (cpath == NULL || !json_is_array(layers) || json_array_size(layers) == 0)
    skiff_error(err, 0, "manifest.json: expected [{\"Config\", \"Layers\"}]");
  else if (layout_read(rootfd, cpath, &ctext, &clen, err) < 0)
    ;
  else if (image_txn_add_buffer(t, ctext, clen, cdigest, err) < 0)
    ;
  else if (image_config_diff_ids(ctext, clen, &ids, err) < 0)
    ;
  else
    ret = 0;
  cleanup_free char *claimed = cpath ? digest_from_name(cpath) : NULL;
  if (ret == 0 && claimed && strcmp(claimed, cdigest) != 0)
    ret = skiff_error(err, 0, "blob %s: digest mismatch", claimed);
  while (ids && ids[n_ids])
    n_ids++;
  if (ret == 0 && n_ids != json_array_size(layers))
    ret = skiff_error(err, 0, "image config: %zu diff_ids for %zu layers", n_ids,
                      json_array_size(layers));
  for (size_t i = 0; ret == 0 && i < n_ids; i++)
    {
      const char *lpath = json_string_value(json_array_get(layers, i));
      cleanup_free char *want = lpath ? digest_from_name(lpath) : NULL;
      cleanup_close int fd = lpath ? layout_open(rootfd, lpath, err) : -1;
      char d[DIGEST_STR_LEN];
      struct stat st;
      if (fd < 0)
        ret = lpath ? -1 : skiff_error(err, 0, "manifest.json: Layers[%zu]: not a string", i);
      else if (fstat(fd, &st) < 0)
        ret = skiff_error(err, errno, "stat `%s`", lpath);
      else
        {
          const char *mt = sniff_layer_type(fd);
          ret = image_txn_add_fd(t, fd, want, st.st_size, d, err);
          if (ret == 0)
            ret = image_txn_add_layer(t, d, ids[i], err);
          json_array_append_new(out_layers, json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest",
                                                      d, "size", (json_int_t)st.st_size));
        }
    }
  if (ret == 0)
    {
      const char *tag = json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0));
      if (tag)
        *ref = xstrdup(tag);
      json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
                            IMAGE_MT_MANIFEST, "config", "mediaType", IMAGE_MT_CONFIG, "digest",
                            cdigest, "size", (json_int_t)clen, "layers", out_layers);
      cleanup_free char *mtext = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
      json_decref(m);
      char md[DIGEST_STR_LEN];
      ret = image_txn_add_buffer(t, mtext, strlen(mtext), md, err);
      if (ret == 0)
        *manifest = xstrdup(md);
    }
  for (size_t i = 0; i < n_ids; i++)
    free(ids[i]);
  free(ids);
  json_decref(out_layers);
  json_decref(arr);
  return ret;
}

/* A name found in the archive, normalised: docker.io/library/x:t -> x:t. */
static int ref_from_hint(const char *hint, char **out, struct skiff_err **err)
{
  if (strncmp(hint, "docker.io/library/", 18) == 0)
    hint += 18;
  cleanup_free char *name = NULL, *tag = NULL;
  if (image_parse_ref(hint, &name, &tag, err) < 0)
    return -1;
  *out = xasprintf("%s:%s", name, tag);
  return 0;
}

int image_import(const char *store, const char *path, const char *name_tag, char **out_ref,
                 struct skiff_err **err)
{
  cleanup_free char *ref = NULL, *hint = NULL, *manifest = NULL;
  if (name_tag && ref_from_hint(name_tag, &ref, err) < 0)
    return -1;
  struct stat st;
  if (stat(path, &st) < 0)
    return skiff_error(err, errno, "import `%s`", path);
  struct image_txn t;
  if (image_txn_begin(&t, store, err) < 0)
    return -1;
  int ret = -1;
  cleanup_close int rootfd = -1;
  cleanup_free char *layout = NULL;
  if (S_ISDIR(st.st_mode))
    layout = xstrdup(path);
  else
    {
      layout = image_txn_tmp_path(&t, "layout");
      if (mkdir(layout, 0700) < 0)
        {
          skiff_error(err, errno, "mkdir `%s`", layout);
          goto out;
        }
      if (image_archive_extract(path, layout, err) < 0)
        goto out;
    }
  rootfd = open(layout, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    {
      skiff_error(err, errno, "open `%s`", layout);
      goto out;
    }
  if (layout_has(rootfd, "index.json"))
    ret = import_oci(&t, rootfd, &manifest, &hint, err);
  else if (layout_has(rootfd, "manifest.json"))
    ret = import_docker(&t, rootfd, &manifest, &hint, err);
  else
    ret = skiff_error(err, 0,
                      "neither an OCI image layout (index.json) nor a docker save "
                      "archive (manifest.json)");
  if (ret == 0 && ref == NULL)
    {
      if (hint == NULL)
        ret = skiff_error(err, 0, "the archive names no image: give --name NAME[:TAG]");
      else
        ret = ref_from_hint(hint, &ref, err);
    }
  if (ret == 0)
    ret = image_txn_commit(&t, ref, manifest, err);
out:
  image_txn_end(&t);
  if (ret < 0)
    return skiff_err_prefix(err, "import `%s`", path);
  if (out_ref)
    *out_ref = steal_pointer(&ref);
  return 0;
}
