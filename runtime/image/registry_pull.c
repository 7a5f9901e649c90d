/* registry_pull.c - image_pull (image.h): reference -> manifest (through an index to the
 * platform's manifest) -> the config and layers the store lacks, fetched at once by
 * registry_blob.c, layers unpacked and checked against the config's diff_ids -> one
 * transaction commit under the reference's name.  A pull whose name already points at the
 * registry's manifest, with everything in the store, touches nothing (the warm path). */
#define _GNU_SOURCE
#include "registry.h"
#include "trace.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static bool listed(const char *list, const char *domain)
{
  size_t n = strlen(domain);
  for (const char *p = list; p && *p;)
    {
      size_t l = strcspn(p, ", ");
      if (l == n && strncmp(p, domain, n) == 0)
        return true;
      p += l;
      p += strspn(p, ", ");
    }
  return false;
}

bool registry_is_insecure(const struct image_registry_opts *ro, const char *domain)
{
  return ro->insecure || listed(ro->insecure_registries, domain);
}

int registry_get_manifest(struct registry_client *c, const char *repo, const char *reference,
                          struct registry_response *r, char digest[DIGEST_STR_LEN],
                          struct skiff_err **err)
{
  cleanup_free char *url = registry_url(c, "/v2/%s/manifests/%s", repo, reference);
  struct curl_slist *hl = curl_slist_append(NULL, REGISTRY_ACCEPT_MANIFESTS);
  int ret = registry_request(c, "GET", url, hl, NULL, 0, -1, 0, IMAGE_JSON_MAX, r, err);
  curl_slist_free_all(hl);
  if (ret < 0)
    return -1;
  if (r->status != 200)
    return registry_status_error(c, r, "GET manifest", err);
  if (r->too_large)
    return skiff_error(err, EFBIG, "manifest %s: larger than %d bytes", reference, IMAGE_JSON_MAX);
  digest_buffer(r->body, r->len, digest);
  /* by digest the bytes must hash to it; by tag to what the registry says they hash to */
  const char *want = digest_valid(reference) ? reference : r->docker_digest;
  if (want && digest_valid(want) && strcmp(want, digest) != 0)
    return skiff_error(err, 0, "manifest %s: digest mismatch (got %s)", want, digest);
  return 0;
}

struct pull
{
  const struct image_pull_opts *o;
  struct image_ref ref;
  struct registry_client c;
  struct image_txn t;
  char manifest_digest[DIGEST_STR_LEN];
  char *mtext;
  size_t mlen;
  struct image_manifest m;
  struct image_info *current; /* the image the name already points at, when up to date */
};

/* The manifest the reference leads to (through an index), bytes verified. */
static int resolve_manifest(struct pull *p, struct skiff_err **err)
{
  struct registry_response r = {0};
  const char *reference = p->ref.digest ? p->ref.digest : p->ref.tag;
  char top[DIGEST_STR_LEN];
  int ret = registry_get_manifest(&p->c, p->ref.repo, reference, &r, top, err);
  if (ret == 0 && !registry_is_index(r.content_type, r.body, r.len))
    {
      memcpy(p->manifest_digest, top, DIGEST_STR_LEN);
      p->mtext = steal_pointer(&r.body);
      p->mlen = r.len;
    }
  else if (ret == 0)
    {
      struct registry_platform plat;
      cleanup_free char *d = NULL;
      if (registry_platform_parse(p->o->platform, &plat, err) < 0
          || registry_index_pick(r.body, r.len, &plat, &d, err) < 0)
        ret = -1;
      else if (image_blob_read(p->o->store, d, &p->mtext, &p->mlen, NULL) == 0)
        memcpy(p->manifest_digest, d, DIGEST_STR_LEN); /* have it: no request */
      else
        {
          registry_response_clear(&r);
          ret = registry_get_manifest(&p->c, p->ref.repo, d, &r, p->manifest_digest, err);
          if (ret == 0)
            {
              p->mtext = steal_pointer(&r.body);
              p->mlen = r.len;
            }
        }
    }
  registry_response_clear(&r);
  if (ret == 0 && image_manifest_parse(p->mtext, p->mlen, &p->m, err) < 0)
    return skiff_err_prefix(err, "%s", p->manifest_digest);
  return ret;
}

/* The name itself (not another name of the image) already points at this manifest and
 * the image is whole: nothing to do (the image kept in p->current). */
static bool up_to_date(struct pull *p)
{
  struct image_info *info = NULL;
  if (image_resolve(p->o->store, p->ref.key, &info, NULL) < 0)
    return false;
  const char *tag = p->ref.digest ? "<none>" : p->ref.tag;
  bool same = strcmp(info->manifest_digest, p->manifest_digest) == 0
              && strcmp(info->name, p->ref.name) == 0 && strcmp(info->tag, tag) == 0;
  if (same)
    p->current = info;
  else
    image_info_free(info);
  return same;
}

static int progress(struct pull *p, size_t i, enum image_progress_state st, long long done)
{
  const struct image_registry_opts *ro = &p->o->registry;
  if (ro->progress == NULL)
    return 0;
  struct image_progress ev = {.digest = p->m.layer_digests[i],
                              .index = i,
                              .count = p->m.n_layers,
                              .state = st,
                              .done = done,
                              .total = p->m.layer_sizes[i]};
  return ro->progress(&ev, ro->progress_arg);
}

static bool in_store(struct pull *p, const char *digest)
{
  cleanup_free char *path = image_blob_path(p->o->store, digest);
  return access(path, F_OK) == 0;
}

/* A layer unpacked while it downloaded (registry_stream.c). */
struct streamed
{
  const char *digest;
  char *dir;
  char got[DIGEST_STR_LEN];
};

static int unpack_layers(struct pull *p, char **ids, struct streamed *sl, size_t ns,
                         struct skiff_err **err)
{
  for (size_t i = 0; i < p->m.n_layers; i++)
    {
      cleanup_free char *have = image_layer_path(p->o->store, ids[i]);
      if (access(have, F_OK) == 0)
        continue;
      if (progress(p, i, IMAGE_PROGRESS_EXTRACTING, p->m.layer_sizes[i]) != 0)
        return skiff_error(err, 0, "cancelled");
      struct streamed *s = NULL;
      for (size_t j = 0; j < ns && s == NULL; j++)
        if (sl[j].dir && strcmp(sl[j].digest, p->m.layer_digests[i]) == 0)
          s = &sl[j];
      int ret = 0;
      if (s && strcmp(s->got, ids[i]) != 0)
        ret = skiff_error(err, 0, "layer %s: layer %s: diff_id mismatch (content is %s)",
                          p->m.layer_digests[i], ids[i], s->got);
      else if (s)
        image_txn_adopt_layer(&p->t, ids[i], s->dir);
      else
        ret = image_txn_add_layer(&p->t, p->m.layer_digests[i], ids[i], err);
      if (ret < 0)
        return -1;
      if (progress(p, i, IMAGE_PROGRESS_DONE, p->m.layer_sizes[i]) != 0)
        return skiff_error(err, 0, "cancelled");
    }
  return 0;
}

/* The config as staged or stored, verified either way; then every layer the store lacks,
 * a streamed one checked against its diff_id. */
static int pull_unpack(struct pull *p, struct streamed *sl, size_t ns, struct skiff_err **err)
{
  size_t n = p->m.n_layers;
  int ret = 0;
  cleanup_free char *cpath = image_txn_blob_path(&p->t, p->m.config_digest);
  cleanup_free char *ctext = NULL;
  size_t clen = 0;
  char got[DIGEST_STR_LEN];
  if (cpath == NULL || skiff_read_file(cpath, &ctext, &clen, err) < 0)
    return skiff_error(err, ENOENT, "config %s: not staged", p->m.config_digest);
  digest_buffer(ctext, clen, got);
  if (strcmp(got, p->m.config_digest) != 0)
    return skiff_error(err, 0, "blob %s: digest mismatch", p->m.config_digest);
  char **ids = NULL;
  if (image_config_diff_ids(ctext, clen, &ids, err) < 0)
    return -1;
  size_t n_ids = 0;
  while (ids[n_ids])
    n_ids++;
  if (n_ids != n)
    ret = skiff_error(err, 0, "image config: %zu diff_ids for %zu layers", n_ids, n);
  else
    ret = unpack_layers(p, ids, sl, ns, err);
  for (size_t i = 0; i < n_ids; i++)
    free(ids[i]);
  free(ids);
  return ret;
}

static int pull_config_and_layers(struct pull *p, struct skiff_err **err)
{
  if (p->m.config_size > IMAGE_JSON_MAX)
    return skiff_error(err, EFBIG, "config %s: larger than %d bytes", p->m.config_digest,
                       IMAGE_JSON_MAX);
  size_t n = p->m.n_layers;
  struct registry_blob *want = xzalloc((n + 1) * sizeof(*want));
  size_t nw = 0;
  int ret = 0;
  if (!in_store(p, p->m.config_digest))
    want[nw++] = (struct registry_blob){.digest = p->m.config_digest, .size = p->m.config_size};
  for (size_t i = 0; i < n && ret == 0; i++)
    {
      bool dup = false;
      for (size_t j = 0; j < nw; j++)
        dup |= strcmp(want[j].digest, p->m.layer_digests[i]) == 0;
      if (in_store(p, p->m.layer_digests[i]) || dup)
        {
          if (progress(p, i, IMAGE_PROGRESS_EXISTS, p->m.layer_sizes[i]) != 0)
            ret = skiff_error(err, 0, "cancelled");
          continue;
        }
      want[nw++] = (struct registry_blob){.digest = p->m.layer_digests[i],
                                          .size = p->m.layer_sizes[i],
                                          .index = i,
                                          .count = n,
                                          .is_layer = true,
                                          .stream = true};
    }
  if (ret == 0)
    ret = registry_fetch_blobs(&p->c, p->ref.repo, &p->t, want, nw, &p->o->registry, err);
  SKIFF_TRACE("pull: blobs fetched and verified");
  /* the layers that unpacked while they downloaded (each dir staged in the transaction) */
  struct streamed *sl = xzalloc((nw + 1) * sizeof(*sl));
  size_t ns = 0;
  for (size_t j = 0; j < nw; j++)
    if (want[j].stream_out)
      {
        sl[ns].digest = want[j].digest;
        registry_stream_join(want[j].stream_out, &sl[ns].dir, sl[ns].got);
        ns++;
      }
  free(want);
  SKIFF_TRACE("pull: streamed layers joined");
  if (ret == 0)
    ret = pull_unpack(p, sl, ns, err);
  for (size_t j = 0; j < ns; j++)
    free(sl[j].dir);
  free(sl);
  return ret;
}

static int pull(struct pull *p, struct skiff_err **err)
{
  const struct image_pull_opts *o = p->o;
  cleanup_free char *scope = xasprintf("repository:%s:pull", p->ref.repo);
  if (registry_client_open(&p->c, &p->ref, registry_is_insecure(&o->registry, p->ref.domain),
                           o->registry.creds, o->registry.authfile, scope, err)
      < 0)
    return -1;
  SKIFF_TRACE("pull: session opened (credentials, no request)");
  if (resolve_manifest(p, err) < 0)
    return -1;
  SKIFF_TRACE("pull: manifest fetched and verified");
  if (up_to_date(p))
    {
      SKIFF_TRACE("pull: up to date");
      for (size_t i = 0; i < p->m.n_layers; i++)
        if (progress(p, i, IMAGE_PROGRESS_EXISTS, p->m.layer_sizes[i]) != 0)
          return skiff_error(err, 0, "cancelled");
      return 0;
    }
  if (image_txn_begin(&p->t, o->store, err) < 0)
    return -1;
  char got[DIGEST_STR_LEN];
  if (image_txn_add_buffer(&p->t, p->mtext, p->mlen, got, err) < 0
      || pull_config_and_layers(p, err) < 0)
    return -1;
  SKIFF_TRACE("pull: layers unpacked");
  int ret = image_txn_commit(&p->t, p->ref.key, p->manifest_digest, err);
  SKIFF_TRACE("pull: committed");
  return ret;
}

int image_pull(const struct image_pull_opts *o, struct image_info **out, struct skiff_err **err)
{
  if (out)
    *out = NULL;
  struct pull p = {.o = o};
  if (image_ref_parse(o->ref, &p.ref, err) < 0)
    return -1;
  int ret = -1;
  struct image_info *info = NULL;
  if (o->policy != IMAGE_PULL_ALWAYS && image_resolve(o->store, p.ref.key, &info, NULL) == 0)
    ret = 0;
  else if (o->policy == IMAGE_PULL_NEVER)
    skiff_error(err, 0, "no such image `%s` (and --pull never)", o->ref);
  else if (pull(&p, err) < 0)
    skiff_err_prefix(err, "pull %s", o->ref);
  else if (p.current)
    {
      info = steal_pointer(&p.current); /* up to date: resolved already */
      ret = 0;
    }
  else
    ret = image_resolve(o->store, p.ref.key, &info, err);
  SKIFF_TRACE("pull: image resolved");
  if (ret == 0 && out)
    *out = steal_pointer(&info);
  image_info_free(info);
  image_info_free(p.current);
  if (p.t.store)
    image_txn_end(&p.t);
  registry_client_close(&p.c);
  image_manifest_clear(&p.m);
  free(p.mtext);
  image_ref_clear(&p.ref);
  return ret;
}
