/* image.h - the image store: OCI image layouts, content-addressed, layers unpacked
 * once and shared by every container of the image.
 *
 * Store layout under the store root (default /var/lib/skiff, `--root`/SKIFF_IMAGE_ROOT):
 *   blobs/sha256/<hex>          manifests, configs, gzip'd tar layers (digest verified on read)
 *   layers/<diffid-hex>/        a layer unpacked (whiteouts applied at unpack time as the
 *                               OCI image spec says: .wh.x removes x from lower layers by
 *                               an overlay whiteout (char 0:0), .wh..wh..opq makes the dir
 *                               opaque (trusted.overlay.opaque=y))
 *   images.json                 name:tag -> manifest digest (atomic rewrite, flock)
 * The unpacked layers are overlayfs lower dirs: a container's rootfs is
 * overlay(lower = layers of its image, upper = its private dir). */
#ifndef SKIFF_IMAGE_H
#define SKIFF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

#define SKIFF_DEFAULT_IMAGE_ROOT "/var/lib/skiff"

/* The store root: flag (e.g. --store) if given, else $SKIFF_IMAGE_ROOT, else
 * SKIFF_DEFAULT_IMAGE_ROOT. */
const char *image_store_root(const char *flag);

struct image_summary
{
  char *name, *tag;      /* "busybox", "latest" */
  char *manifest_digest; /* "sha256:..." */
  long long size;        /* bytes of the compressed layers + config */
  char *created;         /* from the config, may be NULL */
};

struct image_port
{
  int port;
  char proto[8]; /* "tcp" or "udp" */
};

/* What a container needs from an image. */
struct image_info
{
  char *name, *tag, *manifest_digest, *config_digest;
  char **layer_dirs; /* absolute, lowest layer first, NULL-terminated */
  /* from the image config ("config" object of the OCI image config) */
  char **entrypoint, **cmd, **env; /* NULL-terminated, may be NULL */
  char *workdir, *user;            /* may be NULL */
  struct image_port *ports;
  size_t n_ports;
};

/* "busybox" -> busybox:latest; "web:v2"; rejects empty, upper case, bad chars, with a
 * message naming the value.  Pure. */
int image_parse_ref(const char *ref, char **name, char **tag, struct skiff_err **err);

/* Import an OCI layout (directory or tar) or a `docker save` tar.  name_tag overrides or
 * supplies the name (an OCI layout's org.opencontainers.image.ref.name annotation or a
 * docker RepoTags entry is used otherwise).  Digests verified, layers unpacked.
 * *out_ref (may be NULL) gets "name:tag".  All or nothing: a failed import leaves no
 * blob, layer dir or name behind. */
int image_import(const char *store, const char *path, const char *name_tag, char **out_ref,
                 struct skiff_err **err);

/* Turn a directory into a one-layer image.  config_json (may be NULL) is a JSON text with
 * any of: Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts ({"8080/tcp":{}}) — the
 * OCI image config "config" keys. */
int image_build(const char *store, const char *rootfs_dir, const char *name_tag,
                const char *config_json, struct skiff_err **err);

int image_list(const char *store, struct image_summary **out, size_t *n, struct skiff_err **err);
void image_summaries_free(struct image_summary *s, size_t n);

/* Remove the name; blobs and layers no other name uses are removed too. */
int image_remove(const char *store, const char *name_tag, struct skiff_err **err);

/* Write an OCI image layout tar (oci-layout, index.json with ref.name annotation,
 * blobs/) that skopeo and umoci read. */
int image_export(const char *store, const char *name_tag, const char *out_path,
                 struct skiff_err **err);

/* Look up an image by name[:tag] (or by digest prefix "sha256:abc..."): "no such image
 * `x`" when absent. */
int image_resolve(const char *store, const char *name_tag, struct image_info **out,
                  struct skiff_err **err);
void image_info_free(struct image_info *info);

#endif
