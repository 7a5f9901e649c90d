/* image_build.c - `skiff image build`: a directory becomes a one-layer image.  Kept
 * apart from image.c so that what `skiff run IMAGE` links (resolve, list) does not pull
 * libarchive into the runtime binary: its loader cost is paid by every container start. */
#define _GNU_SOURCE
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

static const char *const config_keys[] = {"User",    "ExposedPorts", "Env",    "Entrypoint", "Cmd",
                                          "Volumes", "WorkingDir",   "Labels", "StopSignal"};

/* The "config" object of an image config from --config, validated. */
static int build_config_object(const char *text, json_t **out, struct skiff_err **err)
{
  if (text == NULL || *text == '\0')
    {
      *out = json_object();
      return 0;
    }
  json_error_t je;
  json_t *c = json_loads(text, 0, &je);
  if (!json_is_object(c))
    {
      json_decref(c);
      return skiff_error(err, 0, "--config: expected a JSON object (%s)", c ? "" : je.text);
    }
  const char *k;
  json_t *v;
  json_object_foreach(c, k, v)
  {
    size_t i = 0, n = sizeof(config_keys) / sizeof(config_keys[0]);
    while (i < n && strcmp(k, config_keys[i]) != 0)
      i++;
    bool ok = i < n;
    if (ok && (!strcmp(k, "Env") || !strcmp(k, "Entrypoint") || !strcmp(k, "Cmd")))
      ok = image_json_is_string_array(v);
    else if (ok && (!strcmp(k, "User") || !strcmp(k, "WorkingDir") || !strcmp(k, "StopSignal")))
      ok = json_is_string(v);
    else if (ok)
      ok = json_is_object(v);
    if (!ok)
      {
        if (i < n)
          skiff_error(err, 0, "--config: `%s` has the wrong type", k);
        else
          skiff_error(err, 0, "--config: unknown key `%s`", k);
        json_decref(c);
        return -1;
      }
  }
  *out = c;
  return 0;
}

static const char *host_arch(void)
{
  struct utsname u;
  if (uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0)
    return "arm64";
  return "amd64";
}

/* RFC 3339 UTC; SOURCE_DATE_EPOCH makes builds reproducible. */
static char *created_now(void)
{
  const char *sde = getenv("SOURCE_DATE_EPOCH");
  time_t now = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
  struct tm tm;
  char buf[64];
  gmtime_r(&now, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return xstrdup(buf);
}

int image_build(const char *store, const char *rootfs_dir, const char *name_tag,
                const char *config_json, struct skiff_err **err)
{
  cleanup_free char *name = NULL, *tag = NULL;
  if (image_parse_ref(name_tag, &name, &tag, err) < 0)
    return -1;
  json_t *cfg = NULL;
  if (build_config_object(config_json, &cfg, err) < 0)
    return -1;
  struct image_txn t;
  if (image_txn_begin(&t, store, err) < 0)
    {
      json_decref(cfg);
      return -1;
    }
  int ret = -1;
  char diffid[DIGEST_STR_LEN], ldigest[DIGEST_STR_LEN], cdigest[DIGEST_STR_LEN],
      mdigest[DIGEST_STR_LEN];
  long long lsize = 0;
  cleanup_free char *blob = image_txn_tmp_path(&t, "blob");
  cleanup_free char *created = created_now();
  cleanup_free char *ref = xasprintf("%s:%s", name, tag);
  cleanup_free char *ctext = NULL, *mtext = NULL;
  int fd = open(blob, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      skiff_error(err, errno, "open `%s`", blob);
      goto out;
    }
  int r = image_layer_create(rootfs_dir, fd, diffid, ldigest, &lsize, err);
  close(fd);
  if (r < 0)
    goto out;
  image_txn_adopt_blob(&t, ldigest, blob);
  json_t *c = json_pack("{s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "created", created,
                        "architecture", host_arch(), "os", "linux", "config", cfg, "rootfs", "type",
                        "layers", "diff_ids", diffid, "history", "created", created, "created_by",
                        "skiff image build");
  ctext = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(c);
  if (image_txn_add_buffer(&t, ctext, strlen(ctext), cdigest, err) < 0)
    goto out;
  json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2,
                        "mediaType", IMAGE_MT_MANIFEST, "config", "mediaType", IMAGE_MT_CONFIG,
                        "digest", cdigest, "size", (json_int_t)strlen(ctext), "layers", "mediaType",
                        IMAGE_MT_LAYER_GZIP, "digest", ldigest, "size", (json_int_t)lsize);
  mtext = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(m);
  if (image_txn_add_buffer(&t, mtext, strlen(mtext), mdigest, err) < 0
      || image_txn_add_layer(&t, ldigest, diffid, err) < 0
      || image_txn_commit(&t, ref, mdigest, err) < 0)
    goto out;
  ret = 0;
out:
  image_txn_end(&t);
  json_decref(cfg);
  return ret < 0 ? skiff_err_prefix(err, "build `%s` from `%s`", name_tag, rootfs_dir) : 0;
}

/* ---------------------------------------------------------------- list and remove */

/* Manifest and config of an image, both verified. */
