/* registry_push.c - image_push (image.h): a store image's config and layers, then its
 * manifest byte for byte, to a registry.  For each blob: HEAD (the registry has it: skip),
 * else a cross-repository mount from a repository of the same registry that a local image
 * came from (POST ...?mount=&from=: 201 = done without sending a byte), else an upload
 * session (POST) finished by one PUT of the whole blob with its digest, which the registry
 * verifies. */
#define _GNU_SOURCE
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

struct push
{
  const struct image_push_opts *o;
  struct image_ref ref;
  struct registry_client c;
  json_t *sources; /* blob digest -> repository of the same registry holding it */
  size_t n_layers;
};

/* Every repository of the destination registry a local image was pulled from, and the
 * blobs it holds (what a mount may take from). */
static void find_sources(struct push *p)
{
  p->sources = json_object();
  json_t *names = NULL;
  int lock = image_store_lock(p->o->store, false, NULL);
  if (lock < 0)
    return;
  if (image_names_load(p->o->store, &names, NULL) < 0)
    {
      close(lock);
      return;
    }
  const char *key;
  json_t *v;
  json_object_foreach(names, key, v)
  {
    struct image_ref r;
    if (!image_ref_has_registry(key) || image_ref_parse(key, &r, NULL) < 0)
      continue;
    const char *d = json_string_value(json_object_get(v, "digest"));
    cleanup_free char *mtext = NULL;
    size_t mlen = 0;
    struct image_manifest m;
    if (strcmp(r.domain, p->ref.domain) == 0 && strcmp(r.repo, p->ref.repo) != 0 && d
        && image_blob_read(p->o->store, d, &mtext, &mlen, NULL) == 0
        && image_manifest_parse(mtext, mlen, &m, NULL) == 0)
      {
        for (size_t i = 0; i < m.n_layers; i++)
          json_object_set_new(p->sources, m.layer_digests[i], json_string(r.repo));
        json_object_set_new(p->sources, m.config_digest, json_string(r.repo));
        image_manifest_clear(&m);
      }
    image_ref_clear(&r);
  }
  json_decref(names);
  close(lock);
}

/* "repository:R:pull,push" and "repository:S:pull" for each mount source */
static char *scopes(struct push *p)
{
  char *s = xasprintf("repository:%s:pull,push", p->ref.repo);
  const char *k;
  json_t *v;
  json_t *seen = json_object();
  json_object_foreach(p->sources, k, v)
  {
    const char *repo = json_string_value(v);
    if (json_object_get(seen, repo))
      continue;
    json_object_set_new(seen, repo, json_true());
    char *n = xasprintf("%s repository:%s:pull", s, repo);
    free(s);
    s = n;
  }
  json_decref(seen);
  return s;
}

static int report(struct push *p, const char *digest, size_t index, long long size,
                  enum image_progress_state st, long long done, long long t0,
                  struct skiff_err **err)
{
  const struct image_registry_opts *ro = &p->o->registry;
  if (ro->progress == NULL || index == (size_t)-1)
    return 0;
  struct image_progress ev = {.digest = digest,
                              .index = index,
                              .count = p->n_layers,
                              .state = st,
                              .done = done,
                              .total = size,
                              .seconds = (double)(skiff_now_ms() - t0) / 1000.0};
  if (ro->progress(&ev, ro->progress_arg) != 0)
    return skiff_error(err, 0, "cancelled");
  return 0;
}

/* Location of an upload session: absolute, or relative to the registry. */
static char *upload_url(struct push *p, const char *location, const char *digest)
{
  cleanup_free char *base
      = strncmp(location, "http://", 7) == 0 || strncmp(location, "https://", 8) == 0
            ? xstrdup(location)
            : registry_url(&p->c, "%s", location);
  char *esc = curl_easy_escape(p->c.curl, digest, 0);
  char *url = xasprintf("%s%cdigest=%s", base, strchr(base, '?') ? '&' : '?', esc);
  curl_free(esc);
  return url;
}

static int push_blob(struct push *p, const char *digest, long long size, size_t index,
                     struct skiff_err **err)
{
  struct registry_response r = {0};
  long long t0 = skiff_now_ms();
  cleanup_free char *head = registry_url(&p->c, "/v2/%s/blobs/%s", p->ref.repo, digest);
  int ret = registry_request(&p->c, "HEAD", head, NULL, NULL, 0, -1, 0, 0, &r, err);
  if (ret == 0 && r.status == 200)
    {
      registry_response_clear(&r);
      return report(p, digest, index, size, IMAGE_PROGRESS_EXISTS, size, t0, err);
    }
  if (ret == 0 && (r.status == 401 || r.status == 403))
    {
      /* the credentials, not this blob: the error names the push only */
      registry_status_error(&p->c, &r, "HEAD blob", err);
      registry_response_clear(&r);
      return -1;
    }
  const char *from = json_string_value(json_object_get(p->sources, digest));
  cleanup_free char *post = NULL;
  if (from)
    {
      char *d = curl_easy_escape(p->c.curl, digest, 0);
      char *f = curl_easy_escape(p->c.curl, from, 0);
      post = registry_url(&p->c, "/v2/%s/blobs/uploads/?mount=%s&from=%s", p->ref.repo, d, f);
      curl_free(d);
      curl_free(f);
    }
  else
    post = registry_url(&p->c, "/v2/%s/blobs/uploads/", p->ref.repo);
  if (ret == 0)
    ret = registry_request(&p->c, "POST", post, NULL, NULL, 0, -1, 0, 64 * 1024, &r, err);
  if (ret == 0 && r.status == 201 && from)
    {
      registry_response_clear(&r);
      return report(p, digest, index, size, IMAGE_PROGRESS_MOUNTED, size, t0, err);
    }
  if (ret == 0 && (r.status != 202 || r.location == NULL))
    ret = r.status == 202 ? skiff_error(err, 0, "upload session without a Location")
                          : registry_status_error(&p->c, &r, "POST blob upload", err);
  cleanup_free char *put = ret == 0 ? upload_url(p, r.location, digest) : NULL;
  cleanup_close int fd = ret == 0 ? image_blob_open(p->o->store, digest, err) : -1;
  if (ret == 0 && fd < 0)
    ret = -1;
  if (ret == 0)
    ret = report(p, digest, index, size, IMAGE_PROGRESS_UPLOADING, 0, t0, err);
  struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/octet-stream");
  if (ret == 0)
    ret = registry_request(&p->c, "PUT", put, hl, NULL, 0, fd, size, 64 * 1024, &r, err);
  curl_slist_free_all(hl);
  if (ret == 0 && r.status != 201)
    ret = registry_status_error(&p->c, &r, "PUT blob", err);
  registry_response_clear(&r);
  if (ret < 0)
    return skiff_err_prefix(err, "blob %s", digest);
  return report(p, digest, index, size, IMAGE_PROGRESS_DONE, size, t0, err);
}

static int push(struct push *p, char **digest_out, struct skiff_err **err)
{
  const struct image_push_opts *o = p->o;
  struct image_info *info = NULL;
  if (image_resolve(o->store, o->name, &info, err) < 0)
    return -1;
  cleanup_free char *mdigest = xstrdup(info->manifest_digest);
  image_info_free(info);
  cleanup_free char *mtext = NULL;
  size_t mlen = 0;
  struct image_manifest m;
  if (image_blob_read(o->store, mdigest, &mtext, &mlen, err) < 0
      || image_manifest_parse(mtext, mlen, &m, err) < 0)
    return -1;
  p->n_layers = m.n_layers;
  find_sources(p);
  cleanup_free char *sc = scopes(p);
  int ret = registry_client_open(&p->c, &p->ref, registry_is_insecure(&o->registry, p->ref.domain),
                                 o->registry.creds, o->registry.authfile, sc, err);
  for (size_t i = 0; ret == 0 && i < m.n_layers; i++)
    ret = push_blob(p, m.layer_digests[i], m.layer_sizes[i], i, err);
  if (ret == 0)
    ret = push_blob(p, m.config_digest, m.config_size, (size_t)-1, err);
  json_t *mj = ret == 0 ? json_loadb(mtext, mlen, 0, NULL) : NULL;
  const char *mt = json_string_value(json_object_get(mj, "mediaType"));
  cleanup_free char *ctype = xasprintf("Content-Type: %s", mt ? mt : IMAGE_MT_MANIFEST);
  json_decref(mj);
  struct registry_response r = {0};
  if (ret == 0)
    {
      const char *reference = p->ref.digest ? p->ref.digest : p->ref.tag;
      if (p->ref.digest && strcmp(p->ref.digest, mdigest) != 0)
        ret = skiff_error(err, 0, "the image's manifest is %s, not %s", mdigest, p->ref.digest);
      cleanup_free char *url = registry_url(&p->c, "/v2/%s/manifests/%s", p->ref.repo, reference);
      struct curl_slist *hl = curl_slist_append(NULL, ctype);
      if (ret == 0)
        ret = registry_request(&p->c, "PUT", url, hl, mtext, mlen, -1, 0, 64 * 1024, &r, err);
      curl_slist_free_all(hl);
    }
  if (ret == 0 && r.status != 201)
    ret = registry_status_error(&p->c, &r, "PUT manifest", err);
  if (ret == 0 && r.docker_digest && strcmp(r.docker_digest, mdigest) != 0)
    ret = skiff_error(err, 0, "the registry filed the manifest as %s, not %s", r.docker_digest,
                      mdigest);
  registry_response_clear(&r);
  image_manifest_clear(&m);
  if (ret == 0 && digest_out)
    *digest_out = steal_pointer(&mdigest);
  return ret;
}

int image_push(const struct image_push_opts *o, char **digest, struct skiff_err **err)
{
  if (digest)
    *digest = NULL;
  struct push p = {.o = o};
  if (image_ref_parse(o->ref, &p.ref, err) < 0)
    return -1;
  int ret = push(&p, digest, err);
  if (ret < 0)
    skiff_err_prefix(err, "push %s", o->ref);
  registry_client_close(&p.c);
  json_decref(p.sources);
  image_ref_clear(&p.ref);
  return ret;
}
