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

/* "busybox" -> busybox:latest; "web:v2"; "127.0.0.1:5000/web:1" (a registry host first);
 * rejects empty, upper case, bad chars, digests, with a message naming the value.  Pure. */
int image_parse_ref(const char *ref, char **name, char **tag, struct skiff_err **err);

/* Does ref name a registry host (`127.0.0.1:5000/web`, `registry.example/app:1`)?  A bare
 * name (`webapp`, `team/app`) means an image of the local store.  Pure. */
bool image_ref_has_registry(const char *ref);

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

/* ---- registries: pull and push over the OCI distribution API (registry_*.c, libcurl) */

enum image_progress_state
{
  IMAGE_PROGRESS_WAITING,     /* queued behind other transfers */
  IMAGE_PROGRESS_EXISTS,      /* pull: already in the store; push: already in the registry */
  IMAGE_PROGRESS_DOWNLOADING, /* done/total bytes (done counts a resumed part) */
  IMAGE_PROGRESS_EXTRACTING,  /* verified; the layer is being unpacked */
  IMAGE_PROGRESS_UPLOADING,   /* push: done/total bytes */
  IMAGE_PROGRESS_MOUNTED,     /* push: mounted from another repository of the registry */
  IMAGE_PROGRESS_DONE,        /* verified (and unpacked) / pushed */
};

/* One blob's progress.  Pointers are valid during the callback only. */
struct image_progress
{
  const char *digest;  /* the blob ("sha256:...") */
  size_t index, count; /* layer index (0 = lowest) and number of layers */
  enum image_progress_state state;
  long long done, total; /* bytes */
  long long resumed;     /* bytes found on disk from an interrupted pull */
  double seconds;        /* since this blob started moving */
};
/* Called on the calling thread of image_pull/image_push, at each state change and at most
 * every 100 ms per moving blob.  Return non-zero to cancel (the call then fails with
 * "cancelled" and leaves the store as it was). */
typedef int (*image_progress_fn)(const struct image_progress *p, void *arg);

enum image_pull_policy
{
  IMAGE_PULL_ALWAYS,  /* ask the registry (the tag may have moved); fetch what is missing */
  IMAGE_PULL_MISSING, /* use the store's copy when it has one, else pull */
  IMAGE_PULL_NEVER,   /* the store's copy or "no such image" */
};

/* Where a registry is and how to talk to it (pull and push). */
struct image_registry_opts
{
  const char *creds;    /* "USER:PASS", or NULL: the auth file */
  const char *authfile; /* docker config.json `auths`; NULL: $REGISTRY_AUTH_FILE, else
                           $DOCKER_CONFIG/config.json, else ~/.docker/config.json (a default
                           file that does not exist means anonymous) */
  bool insecure;        /* plain HTTP or unverified TLS to any registry (loopback ones are
                           always allowed that, as docker does for 127.0.0.0/8) */
  const char *insecure_registries; /* "host:port,host2": insecure for these only (may be NULL) */
  image_progress_fn progress;      /* may be NULL */
  void *progress_arg;
  int max_parallel; /* blobs moving at once; 0 = 4 */
};

struct image_pull_opts
{
  const char *store; /* image store root (image_store_root()) */
  const char *ref;   /* [HOST[:PORT]/]REPO[:TAG|@sha256:DIGEST]; no host means docker.io */
  enum image_pull_policy policy;
  const char *platform; /* "linux/arm64[/v8]" from an index; NULL: this machine's */
  struct image_registry_opts registry;
};

/* Pull ref into the store and resolve it (*out as image_resolve gives it; out may be NULL).
 * The image is filed under its reference: `127.0.0.1:5000/webapp:1` (docker.io's as docker
 * names them: `busybox:latest`), `NAME@sha256:...` when pulled by digest.
 *
 * Protocol: the /v2/ ping, Basic or Bearer auth, the manifest by tag or digest (OCI manifest
 * or index, docker schema 2 manifest or list; from an index the platform's manifest), then
 * the config and the layers the store lacks, several at once.  Every blob is verified
 * against its digest and size, every layer against its diff_id, before anything enters the
 * store; the image is committed at once with image_txn_commit.
 *
 * Where bytes go: a blob being fetched is written to <store>/downloads/<hex> (flock'd while
 * in use, so two pulls of one blob do not share the file), moved into the pull's staging dir
 * <store>/tmp/<pid>-* once verified, and into blobs/ and layers/ at commit.  A pull that is
 * killed or loses its connection leaves downloads/<hex>: the next pull of that blob resumes
 * it with a Range request (and verifies the whole), or starts over when the registry does not
 * serve ranges.  Failure (digest mismatch, HTTP error, disk full, cancel): the store is as it
 * was; a blob that failed verification is deleted, not kept for resume.
 *
 * Thread-safety: safe to call from several threads at once, on one store or several (each
 * call has its own connections and staging dir; commits are serialised by the store's flock).
 * Layer unpacking is serialised across the process (libarchive changes the process umask for
 * a moment per file).  The progress callback runs on the calling thread.  Prints nothing. */
int image_pull(const struct image_pull_opts *o, struct image_info **out, struct skiff_err **err);

struct image_push_opts
{
  const char *store;
  const char *name; /* local image: name[:tag] or a digest prefix, as image_resolve takes */
  const char *ref;  /* destination: HOST[:PORT]/REPO[:TAG|@sha256:DIGEST] */
  struct image_registry_opts registry;
};

/* Push the image's config and layers (skipping those the registry has; mounting from another
 * repository of the same registry that a local image was pulled from, when the registry
 * allows it), then its manifest, byte for byte: the manifest digest in the registry is the
 * local one.  *digest (may be NULL) gets it.  Thread-safety and printing as image_pull. */
int image_push(const struct image_push_opts *o, char **digest, struct skiff_err **err);

#endif
