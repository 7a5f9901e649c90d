/* image_internal.h - what the image store's files share: media types, store paths,
 * the blob and name store (image_store.c), staged transactions that commit blobs,
 * layers and a name together or not at all, and layer archives (image_layer.c).
 * Not for use outside runtime/image*.c and their unit test. */
#ifndef SKIFF_IMAGE_INTERNAL_H
#define SKIFF_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <jansson.h>
#include "image.h"
#include <sys/types.h>
#include "digest.h"

/* A byte source read(2)-like: >0 bytes, 0 at the end, -1 with errno; may block. */
typedef ssize_t (*image_read_fn)(void *arg, void *buf, size_t len);

#define IMAGE_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define IMAGE_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMAGE_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMAGE_MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define IMAGE_MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define IMAGE_MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define IMAGE_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMAGE_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMAGE_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define IMAGE_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define IMAGE_ANNOT_REF "org.opencontainers.image.ref.name"
#define IMAGE_ANNOT_FULLNAME "io.containerd.image.name"

/* Largest manifest, index or config we read into memory. */
#define IMAGE_JSON_MAX (8 << 20)

/* ---- image_ref.c: registry references (pure) */

/* `[HOST[:PORT]/]REPO[:TAG|@sha256:DIGEST]` taken apart. */
struct image_ref
{
  char *domain; /* "127.0.0.1:5000"; "docker.io" when the reference names no host */
  char *repo;   /* path on the registry: "webapp", "library/busybox" */
  char *tag;    /* NULL when only a digest was given; "latest" when neither */
  char *digest; /* "sha256:..." or NULL */
  char *name;   /* the store's name: "127.0.0.1:5000/webapp"; docker.io's "busybox", "org/x" */
  char *key;    /* the store's key (images.json): name:tag, or name@digest when pinned */
};
int image_ref_parse(const char *ref, struct image_ref *r, struct skiff_err **err);
void image_ref_clear(struct image_ref *r);
/* Host the API is served from: registry-1.docker.io for docker.io, else the domain. */
const char *image_ref_api_host(const struct image_ref *r);
/* localhost, 127.0.0.0/8 or [::1], with or without a port. */
bool image_ref_domain_is_loopback(const char *domain);

/* ---- image_store.c: store directories, blobs, names, garbage collection */

/* mkdir -p blobs/sha256, layers, tmp under the store. */
int image_store_init(const char *store, struct skiff_err **err);
char *image_blob_path(const char *store, const char *digest);
char *image_layer_path(const char *store, const char *diffid);
/* flock on <store>/images.lock; returns the fd (close to unlock). */
int image_store_lock(const char *store, bool exclusive, struct skiff_err **err);
/* Read a blob of the store whole, its digest verified ("blob sha256:...: digest
 * mismatch" otherwise). */
int image_blob_read(const char *store, const char *digest, char **out, size_t *len,
                    struct skiff_err **err);
/* Open a blob for streaming; the caller verifies while reading. */
int image_blob_open(const char *store, const char *digest, struct skiff_err **err);
/* images.json: a JSON object "name:tag" -> {"digest": "sha256:..."}.  Load returns an
 * empty object when the file does not exist.  Call with the lock held. */
int image_names_load(const char *store, json_t **out, struct skiff_err **err);
int image_names_save(const char *store, json_t *names, struct skiff_err **err);
/* Remove blobs and layer dirs no name in `names` references, temp dirs of dead
 * processes and images.json temp files of killed writers.  Call with the exclusive lock
 * held. */
int image_store_gc(const char *store, json_t *names, struct skiff_err **err);
/* How long a part of an interrupted pull (downloads/<hex>) is kept to be resumed. */
#define IMAGE_DOWNLOAD_KEEP_SECONDS (24 * 3600)
/* Remove temp dirs left by killed imports (tmp/<pid>-* whose pid is gone) and parts of
 * interrupted pulls older than IMAGE_DOWNLOAD_KEEP_SECONDS that no pull holds; no lock
 * needed: a live process's dir or part is never touched. */
int image_store_sweep_tmp(const char *store, struct skiff_err **err);

/* A manifest read and checked: its config digest and its layers (digest, media type,
 * size), lowest first. */
struct image_manifest
{
  char *config_digest;
  long long config_size;
  size_t n_layers;
  char **layer_digests, **layer_media_types;
  long long *layer_sizes;
};
int image_manifest_parse(const char *text, size_t len, struct image_manifest *m,
                         struct skiff_err **err);
void image_manifest_clear(struct image_manifest *m);
/* rootfs.diff_ids of an image config, NULL-terminated. */
int image_config_diff_ids(const char *text, size_t len, char ***out, struct skiff_err **err);
bool image_layer_media_type_ok(const char *mt);

/* A transaction: blobs and layers are staged in a temp dir of the store, then
 * image_txn_commit moves them in and sets the name under the lock.  Anything that fails
 * before leaves the store as it was. */
struct image_txn
{
  char *store, *tmpdir;
  size_t n_blobs, n_layers, seq;
  char **blob_digests, **blob_paths;
  char **layer_diffids, **layer_paths;
};
int image_txn_begin(struct image_txn *t, const char *store, struct skiff_err **err);
/* Stage bytes as a blob; out (may be NULL) gets the digest. */
int image_txn_add_buffer(struct image_txn *t, const void *data, size_t len,
                         char out[DIGEST_STR_LEN], struct skiff_err **err);
/* Stage what fd holds as a blob, copied and hashed; with want_digest the digest must
 * match ("blob sha256:...: digest mismatch"), with want_size >= 0 the size too.  out
 * (may be NULL) gets the digest. */
int image_txn_add_fd(struct image_txn *t, int fd, const char *want_digest, long long want_size,
                     char out[DIGEST_STR_LEN], struct skiff_err **err);
/* Stage a file the caller wrote in t->tmpdir as the blob with this digest. */
void image_txn_adopt_blob(struct image_txn *t, const char *digest, const char *path);
/* A fresh path inside the transaction's temp dir. */
char *image_txn_tmp_path(struct image_txn *t, const char *what);
/* Path of a blob staged or already in the store (NULL when neither). */
char *image_txn_blob_path(struct image_txn *t, const char *digest);
/* Unpack the layer blob into a staged layer dir unless layers/<diffid> exists,
 * verifying that the uncompressed stream hashes to diffid. */
int image_txn_add_layer(struct image_txn *t, const char *blob_digest, const char *diffid,
                        struct skiff_err **err);
/* Stage a layer dir the caller unpacked in t->tmpdir and verified against diffid. */
void image_txn_adopt_layer(struct image_txn *t, const char *diffid, const char *dir);
/* Move everything in and point name:tag at manifest_digest (replacing an older one,
 * whose unreferenced blobs are collected). */
int image_txn_commit(struct image_txn *t, const char *ref, const char *manifest_digest,
                     struct skiff_err **err);
/* Remove the temp dir and free; call after commit or failure. */
void image_txn_end(struct image_txn *t);

/* ---- image_layer.c: layer archives */

/* Normalise a tar entry name relative to the layer root: "./a//b/" -> "a/b", "./" -> ".".
 * Rejects absolute names and any ".." component.  Pure. */
int image_layer_clean_path(const char *name, char **out, struct skiff_err **err);

enum image_whiteout
{
  IMAGE_WH_NONE,
  IMAGE_WH_FILE,   /* dir/.wh.NAME: *target = "dir/NAME" */
  IMAGE_WH_OPAQUE, /* dir/.wh..wh..opq: *target = "dir" (or ".") */
  IMAGE_WH_META,   /* other .wh..wh.* (aufs metadata): skipped */
};
/* Classify a cleaned path.  Pure. */
enum image_whiteout image_whiteout_kind(const char *clean, char **target);

/* Unpack a layer blob (tar, gzip'd or not) into the existing empty dir dest, applying
 * whiteouts as overlayfs lower-dir objects; want_diffid (may be NULL) checked against
 * the uncompressed stream. */
int image_layer_unpack(const char *blob_path, const char *dest, const char *want_diffid,
                       struct skiff_err **err);
/* The same for a gzip'd layer tar that rd delivers as it arrives; got = the digest of the
 * tar stream, which the caller checks against the diff_id (unknown while it downloads). */
int image_layer_unpack_gz_reader(image_read_fn rd, void *arg, const char *dest,
                                 char got[DIGEST_STR_LEN], struct skiff_err **err);
/* Extract an image archive (an OCI layout or `docker save` tar, maybe compressed) into
 * dest: regular files, directories and symlinks only, nothing outside dest. */
int image_archive_extract(const char *archive_path, const char *dest, struct skiff_err **err);
/* Write rootfs as a gzip'd tar (sorted, numeric ids, no atime/ctime) to out_fd;
 * diffid gets the digest of the tar, digest and size those of the gzip'd blob. */
int image_layer_create(const char *rootfs, int out_fd, char diffid[DIGEST_STR_LEN],
                       char digest[DIGEST_STR_LEN], long long *size, struct skiff_err **err);

/* ---- image_gunzip.c: gzip streams with ISA-L */

struct image_gunzip;
/* Does the file start with the gzip magic (read with pread: the offset stays)? */
bool image_gunzip_is_gzip(int fd);
/* Decompress what fd holds from its offset (fd stays the caller's). */
struct image_gunzip *image_gunzip_open(int fd);
/* Decompress what rd delivers (a layer being downloaded, registry_stream.c). */
struct image_gunzip *image_gunzip_open_reader(image_read_fn rd, void *arg);
/* Up to len decompressed bytes: >0, 0 at the end, -1 with *why (errno set for "read"). */
ssize_t image_gunzip_read(struct image_gunzip *g, void *buf, size_t len, const char **why);
void image_gunzip_close(struct image_gunzip *g);

/* A JSON array holding only strings (config Entrypoint, Cmd, Env). */
bool image_json_is_string_array(json_t *v);

#endif
