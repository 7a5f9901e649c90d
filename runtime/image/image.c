/* image.c - the image store's public face: list, remove and resolve (what `skiff run IMAGE`
 * needs).  References are parsed in image_ref.c; build is in image_build.c, import in
 * image_import.c, export in image_export.c, pull and push in registry_*.c.  Storage,
 * transactions and layer archives live in image_store.c, image_txn.c, image_layer*.c. */
#define _GNU_SOURCE
#include "image_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

const char *image_store_root(const char *flag)
{
  if (flag && *flag)
    return flag;
  const char *env = getenv("SKIFF_IMAGE_ROOT");
  return env && *env ? env : SKIFF_DEFAULT_IMAGE_ROOT;
}

/* The images.json key for a name or a sha256 prefix of a manifest digest. */
static int find_key(json_t *names, const char *ref, const char **key, struct skiff_err **err)
{
  if (strncmp(ref, "sha256:", 7) == 0)
    {
      size_t n = strlen(ref);
      const char *k, *found = NULL;
      json_t *v;
      if (n < 7 + 4)
        return skiff_error(err, 0, "digest prefix `%s`: give at least 4 hex digits", ref);
      const char *found_digest = NULL;
      json_object_foreach(names, k, v)
      {
        const char *d = json_string_value(json_object_get(v, "digest"));
        if (d == NULL || strncmp(d, ref, n) != 0)
          continue;
        /* several names of one image are fine: the first name in order stands for it */
        if (found_digest && strcmp(found_digest, d) != 0)
          return skiff_error(err, 0, "digest prefix `%s` matches several images", ref);
        if (found == NULL || strcmp(k, found) < 0)
          found = k;
        found_digest = d;
      }
      if (found == NULL)
        return skiff_error(err, 0, "no such image `%s`", ref);
      *key = found;
      return 0;
    }
  void *iter = NULL;
  if (strchr(ref, '@') == NULL)
    {
      cleanup_free char *name = NULL, *tag = NULL;
      if (image_parse_ref(ref, &name, &tag, err) < 0)
        return -1;
      cleanup_free char *k = xasprintf("%s:%s", name, tag);
      iter = json_object_iter_at(names, k);
    }
  if (iter == NULL)
    {
      /* a registry reference: docker.io/library/x is filed as x, name@digest as pulled */
      struct image_ref r;
      if (image_ref_parse(ref, &r, err) < 0)
        return -1;
      iter = json_object_iter_at(names, r.key);
      for (void *i = json_object_iter(names); iter == NULL && r.digest && i;
           i = json_object_iter_next(names, i))
        {
          /* pinned by the digest of a manifest filed under a tag of the same name */
          const char *k = json_object_iter_key(i);
          const char *d = json_string_value(json_object_get(json_object_iter_value(i), "digest"));
          size_t n = strlen(r.name);
          if (d && strcmp(d, r.digest) == 0 && strncmp(k, r.name, n) == 0
              && (k[n] == ':' || k[n] == '@'))
            iter = i;
        }
      image_ref_clear(&r);
    }
  if (iter == NULL)
    return skiff_error(err, 0, "no such image `%s`", ref);
  *key = json_object_iter_key(iter);
  return 0;
}

/* "name:tag" -> name, tag; "name@sha256:..." (pulled by digest) -> name, "<none>" */
static void split_key(const char *key, char **name, char **tag)
{
  const char *at = strchr(key, '@');
  const char *c = at ? at : strrchr(key, ':');
  *name = strndup(key, c ? (size_t)(c - key) : strlen(key));
  *tag = xstrdup(at ? "<none>" : c ? c + 1 : "latest");
  if (*name == NULL)
    abort();
}

/* ---------------------------------------------------------------- build */

bool image_json_is_string_array(json_t *v)
{
  size_t i;
  json_t *s;
  if (!json_is_array(v))
    return false;
  json_array_foreach(v, i, s) if (!json_is_string(s)) return false;
  return true;
}

static int read_image(const char *store, const char *manifest_digest, struct image_manifest *m,
                      json_t **config, struct skiff_err **err)
{
  cleanup_free char *mtext = NULL, *ctext = NULL;
  size_t mlen = 0, clen = 0;
  if (!digest_valid(manifest_digest))
    return skiff_error(err, 0, "images.json: invalid manifest digest");
  if (image_blob_read(store, manifest_digest, &mtext, &mlen, err) < 0
      || image_manifest_parse(mtext, mlen, m, err) < 0)
    return -1;
  json_error_t je;
  if (image_blob_read(store, m->config_digest, &ctext, &clen, err) < 0
      || (*config = json_loadb(ctext, clen, 0, &je)) == NULL)
    {
      image_manifest_clear(m);
      return skiff_error(err, 0, "image config %s: invalid JSON", m->config_digest);
    }
  return 0;
}

static int cmp_summary(const void *a, const void *b)
{
  const struct image_summary *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->tag, y->tag);
}

int image_list(const char *store, struct image_summary **out, size_t *n, struct skiff_err **err)
{
  *out = NULL;
  *n = 0;
  if (image_store_init(store, err) < 0)
    return -1;
  cleanup_close int lock = image_store_lock(store, false, err);
  json_t *names = NULL;
  if (lock < 0 || image_names_load(store, &names, err) < 0)
    return -1;
  struct image_summary *s = xzalloc((json_object_size(names) + 1) * sizeof(*s));
  size_t i = 0;
  const char *k;
  json_t *v;
  json_object_foreach(names, k, v)
  {
    const char *d = json_string_value(json_object_get(v, "digest"));
    struct image_manifest m;
    json_t *cfg = NULL;
    split_key(k, &s[i].name, &s[i].tag);
    s[i].manifest_digest = xstrdup(d ? d : "");
    s[i].size = -1; /* unreadable image: listed so that it can be removed */
    if (read_image(store, d, &m, &cfg, NULL) == 0)
      {
        s[i].size = m.config_size;
        for (size_t j = 0; j < m.n_layers; j++)
          s[i].size += m.layer_sizes[j];
        const char *c = json_string_value(json_object_get(cfg, "created"));
        s[i].created = c ? xstrdup(c) : NULL;
        image_manifest_clear(&m);
        json_decref(cfg);
      }
    i++;
  }
  json_decref(names);
  qsort(s, i, sizeof(*s), cmp_summary);
  *out = s;
  *n = i;
  return 0;
}

void image_summaries_free(struct image_summary *s, size_t n)
{
  for (size_t i = 0; s && i < n; i++)
    {
      free(s[i].name);
      free(s[i].tag);
      free(s[i].manifest_digest);
      free(s[i].created);
    }
  free(s);
}

int image_remove(const char *store, const char *name_tag, struct skiff_err **err)
{
  if (image_store_init(store, err) < 0)
    return -1;
  cleanup_close int lock = image_store_lock(store, true, err);
  json_t *names = NULL;
  if (lock < 0 || image_names_load(store, &names, err) < 0)
    return -1;
  const char *key = NULL;
  int ret = -1;
  if (find_key(names, name_tag, &key, err) == 0)
    {
      cleanup_free char *k = xstrdup(key);
      json_object_del(names, k);
      if (image_names_save(store, names, err) == 0 && image_store_gc(store, names, err) == 0)
        ret = 0;
    }
  json_decref(names);
  return ret;
}

/* ---------------------------------------------------------------- resolve */

static char **strings_dup(json_t *arr)
{
  if (!image_json_is_string_array(arr))
    return NULL;
  size_t n = json_array_size(arr);
  char **res = xzalloc((n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++)
    res[i] = xstrdup(json_string_value(json_array_get(arr, i)));
  return res;
}

static void strings_free(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

static char *string_dup_nonempty(json_t *v)
{
  const char *s = json_string_value(v);
  return s && *s ? xstrdup(s) : NULL;
}

/* ExposedPorts {"8080/tcp":{}, "53/udp":{}, "80":{}} */
static int parse_ports(json_t *ports, struct image_info *info, struct skiff_err **err)
{
  if (ports == NULL)
    return 0;
  info->ports = xzalloc((json_object_size(ports) + 1) * sizeof(*info->ports));
  const char *k;
  json_t *v;
  json_object_foreach(ports, k, v)
  {
    char *end = NULL;
    long p = strtol(k, &end, 10);
    const char *proto = *end == '/' ? end + 1 : "tcp";
    if (end == k || p < 1 || p > 65535 || (*end && *end != '/')
        || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0))
      return skiff_error(err, 0, "image config: ExposedPorts: invalid port `%s`", k);
    info->ports[info->n_ports].port = (int)p;
    snprintf(info->ports[info->n_ports].proto, sizeof(info->ports[0].proto), "%s", proto);
    info->n_ports++;
  }
  return 0;
}

int image_resolve(const char *store, const char *name_tag, struct image_info **out,
                  struct skiff_err **err)
{
  *out = NULL;
  cleanup_free char *real = realpath(store, NULL);
  if (real == NULL)
    return errno == ENOENT
               ? skiff_error(err, 0, "no such image `%s` (no image store at `%s`)", name_tag, store)
               : skiff_error(err, errno, "image store `%s`", store);
  cleanup_close int lock = image_store_lock(real, false, err);
  json_t *names = NULL;
  if (lock < 0 || image_names_load(real, &names, err) < 0)
    return -1;
  const char *key = NULL;
  struct image_manifest m = {0};
  json_t *cfg = NULL;
  char **ids = NULL;
  struct image_info *info = xzalloc(sizeof(*info));
  cleanup_free char *ctext = NULL;
  int ret = -1;
  if (find_key(names, name_tag, &key, err) < 0)
    goto out;
  const char *md = json_string_value(json_object_get(json_object_get(names, key), "digest"));
  info->manifest_digest = xstrdup(md ? md : "");
  split_key(key, &info->name, &info->tag);
  if (read_image(real, info->manifest_digest, &m, &cfg, err) < 0)
    goto out;
  info->config_digest = xstrdup(m.config_digest);
  ctext = json_dumps(cfg, JSON_COMPACT);
  if (image_config_diff_ids(ctext, strlen(ctext), &ids, err) < 0)
    goto out;
  size_t n = 0;
  while (ids[n])
    n++;
  if (n != m.n_layers)
    {
      skiff_error(err, 0, "image config: %zu diff_ids for %zu layers", n, m.n_layers);
      goto out;
    }
  info->layer_dirs = xzalloc((n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++)
    {
      info->layer_dirs[i] = image_layer_path(real, ids[i]);
      struct stat st;
      if (stat(info->layer_dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
        {
          skiff_error(err, errno, "layer `%s` missing from the store", info->layer_dirs[i]);
          goto out;
        }
    }
  json_t *c = json_object_get(cfg, "config");
  info->entrypoint = strings_dup(json_object_get(c, "Entrypoint"));
  info->cmd = strings_dup(json_object_get(c, "Cmd"));
  info->env = strings_dup(json_object_get(c, "Env"));
  info->workdir = string_dup_nonempty(json_object_get(c, "WorkingDir"));
  info->user = string_dup_nonempty(json_object_get(c, "User"));
  if (parse_ports(json_object_get(c, "ExposedPorts"), info, err) < 0)
    goto out;
  ret = 0;
out:
  if (ret < 0)
    skiff_err_prefix(err, "image `%s`", name_tag);
  strings_free(ids);
  image_manifest_clear(&m);
  json_decref(cfg);
  json_decref(names);
  if (ret < 0)
    image_info_free(info);
  else
    *out = info;
  return ret;
}

void image_info_free(struct image_info *info)
{
  if (info == NULL)
    return;
  free(info->name);
  free(info->tag);
  free(info->manifest_digest);
  free(info->config_digest);
  strings_free(info->layer_dirs);
  strings_free(info->entrypoint);
  strings_free(info->cmd);
  strings_free(info->env);
  free(info->workdir);
  free(info->user);
  free(info->ports);
  free(info);
}
