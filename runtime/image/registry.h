/* registry.h - the OCI distribution client behind image_pull and image_push, shared by
 * registry_*.c and their unit test only: authentication (registry_auth.c, pure), the HTTP
 * session over libcurl (registry_http.c), manifest and platform choice (registry_manifest.c,
 * pure), blob downloads (registry_blob.c).  Only the files that talk HTTP use libcurl; the
 * `skiff` runtime binary links none of them. */
#ifndef SKIFF_REGISTRY_H
#define SKIFF_REGISTRY_H

#include <stdbool.h>
#include <curl/curl.h>
#include "image_internal.h"

/* ---- registry_auth.c (pure, but for reading the auth file) */

enum registry_auth_scheme
{
  REGISTRY_AUTH_NONE,
  REGISTRY_AUTH_BASIC,
  REGISTRY_AUTH_BEARER,
};
/* One WWW-Authenticate challenge. */
struct registry_challenge
{
  enum registry_auth_scheme scheme;
  char *realm, *service, *scope; /* NULL when absent */
};
/* `Bearer realm="https://a/token",service="reg",scope="repository:x:pull"`, `Basic
 * realm="r"`.  A Bearer challenge needs an http(s) realm. */
int registry_challenge_parse(const char *header, struct registry_challenge *c,
                             struct skiff_err **err);
void registry_challenge_clear(struct registry_challenge *c);
/* The token endpoint's JSON: `token` (or `access_token`), a header-safe string. */
int registry_token_parse(const char *text, size_t len, char **token, struct skiff_err **err);
char *registry_base64_encode(const void *data, size_t len);
/* -1 on anything but base64; *out NUL-terminated. */
int registry_base64_decode(const char *s, char **out, size_t *len);
/* "USER:PASS" (PASS may hold ':'; USER not empty). */
int registry_creds_split(const char *creds, char **user, char **pass, struct skiff_err **err);
/* docker config.json text: the credentials `auths` holds for domain (keys may be URLs;
 * docker.io, index.docker.io and registry-1.docker.io are one).  1 found, 0 none, -1 bad. */
int registry_auth_lookup(const char *text, size_t len, const char *domain, char **user, char **pass,
                         struct skiff_err **err);
/* $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json. */
char *registry_auth_default_path(const char *registry_auth_file, const char *docker_config,
                                 const char *home);
/* creds ("USER:PASS") if given, else the auth file (authfile, or the default path, which may
 * be missing): *user and *pass NULL when neither has any for domain. */
int registry_creds_resolve(const char *creds, const char *authfile, const char *domain, char **user,
                           char **pass, struct skiff_err **err);

/* ---- registry_manifest.c (pure) */

#define REGISTRY_ACCEPT_MANIFESTS                                                                  \
  "Accept: " IMAGE_MT_MANIFEST ", " IMAGE_MT_INDEX ", " IMAGE_MT_DOCKER_MANIFEST                   \
  ", " IMAGE_MT_DOCKER_LIST

struct registry_platform
{
  char os[32], arch[32], variant[16]; /* variant "" when none */
};
/* "linux/arm64/v8"; NULL or "": this machine's (uname: x86_64 -> linux/amd64, aarch64 ->
 * linux/arm64, armv7l -> linux/arm/v7 ...). */
int registry_platform_parse(const char *s, struct registry_platform *p, struct skiff_err **err);
/* Is this document an index (OCI index or docker manifest list)?  From the Content-Type
 * when the registry sent one, else from the body's mediaType / manifests keys. */
bool registry_is_index(const char *content_type, const char *body, size_t len);
/* The manifest of an index for platform p: os and architecture equal, the variant equal
 * when p has one (arm64's implicit v8 matches an empty one).  *digest gets a copy. */
int registry_index_pick(const char *body, size_t len, const struct registry_platform *p,
                        char **digest, struct skiff_err **err);

/* ---- registry_http.c: a session with one registry */

struct registry_client
{
  char *domain;      /* as the reference names it (errors, auth file lookup) */
  char *api_host;    /* where the API is served */
  char *base;        /* "https://host:port", or "http://..." while or once plain HTTP works */
  bool allow_http;   /* loopback or --insecure: plain HTTP, or TLS without verification */
  bool scheme_known; /* false until the first request has found what the port speaks */
  char *user, *pass;
  char *authz;  /* "Authorization: ..." or NULL */
  char *scopes; /* the token scopes this session asks for, space separated */
  CURL *curl;   /* requests in sequence reuse its connection */
};

struct registry_response
{
  long status;
  char *body; /* NUL-terminated */
  size_t len;
  char *content_type, *docker_digest, *location, *www_authenticate;
  long long content_length; /* -1 when not sent */
  bool too_large;
};
void registry_response_clear(struct registry_response *r);

/* Open a session: credentials (creds or the auth file) and the scheme, HTTPS, or when
 * allow_http plain HTTP first and HTTPS unverified if that port speaks TLS (decided by the
 * session's first request).  No request is made here: there is no /v2/ ping; the first
 * request's 401 names the auth (Basic with the credentials, or a Bearer token for scopes,
 * space separated, and the scope the challenge names), as containerd's resolver does. */
int registry_client_open(struct registry_client *c, const struct image_ref *ref, bool insecure,
                         const char *creds, const char *authfile, const char *scopes,
                         struct skiff_err **err);
void registry_client_close(struct registry_client *c);
/* base + path */
char *registry_url(struct registry_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One request; on a 401 the credentials or a new token are tried once.  url absolute;
 * headers (may be NULL) added; upload_fd >= 0 sends that file (upload_len bytes) as the
 * body, else body/body_len (may be NULL/0).  Replies longer than max are cut
 * (r->too_large).  Only transport failures are errors: HTTP statuses are in r->status. */
int registry_request(struct registry_client *c, const char *method, const char *url,
                     struct curl_slist *headers, const void *body, size_t body_len, int upload_fd,
                     long long upload_len, size_t max, struct registry_response *r,
                     struct skiff_err **err);
/* An easy handle for a transfer driven elsewhere (blob downloads in a multi handle): TLS,
 * timeouts, redirects, user agent; the caller adds the auth header it gets from
 * registry_auth_headers (to free with curl_slist_free_all). */
void registry_easy_setup(struct registry_client *c, CURL *h, const char *url);
struct curl_slist *registry_auth_headers(struct registry_client *c, struct curl_slist *list);
/* After a 401 on a transfer driven elsewhere: a new token (or the basic credentials) for the
 * challenge; -1 when that cannot help (then the 401 stands). */
int registry_reauth(struct registry_client *c, const char *www_authenticate,
                    struct skiff_err **err);
/* One-line error for an HTTP status: "unauthorized", "manifest unknown", "denied: ..."
 * from the registry's error JSON (errors[0].message) when it has one. */
int registry_status_error(struct registry_client *c, const struct registry_response *r,
                          const char *what, struct skiff_err **err);
/* One-line error for a libcurl failure: "unknown host `h`", "connect to URL: ...". */
int registry_curl_error(struct registry_client *c, CURLcode rc, const char *errbuf,
                        const char *method, const char *url, struct skiff_err **err);
/* curl_global_init once per process (thread-safe). */
void registry_curl_init(void);

/* ---- registry_pull.c */

/* ro->insecure, or domain in ro->insecure_registries */
bool registry_is_insecure(const struct image_registry_opts *ro, const char *domain);
/* GET a manifest or index by tag or digest (all four media types accepted), verified: by
 * digest against it, by tag against Docker-Content-Digest when sent.  digest gets the
 * bytes' digest. */
int registry_get_manifest(struct registry_client *c, const char *repo, const char *reference,
                          struct registry_response *r, char digest[DIGEST_STR_LEN],
                          struct skiff_err **err);

/* ---- registry_blob.c: parallel, resumable, verified blob downloads */

struct registry_blob
{
  const char *digest;
  long long size;                     /* from the descriptor */
  size_t index, count;                /* for progress: layer index and number of layers */
  bool is_layer;                      /* progress is reported for layers only */
  bool stream;                        /* unpack it while it downloads (registry_stream.c) */
  struct registry_stream *stream_out; /* that unpack, for registry_stream_join */
};
/* Fetch blobs of repo into the transaction (staged, verified), ro->max_parallel at once,
 * reporting through ro->progress. */
int registry_fetch_blobs(struct registry_client *c, const char *repo, struct image_txn *t,
                         struct registry_blob *blobs, size_t n,
                         const struct image_registry_opts *ro, struct skiff_err **err);

/* registry_stream.c: a layer unpacked (on a thread) from the file its download writes, into
 * a new dir of t.  NULL when it cannot start: the layer is unpacked after its download. */
struct registry_stream *registry_stream_start(struct image_txn *t, const char *path,
                                              long long avail);
/* The file now holds avail bytes. */
void registry_stream_feed(struct registry_stream *s, long long avail);
/* The download is over: verified (size bytes) or not (failed, or started over): the stream
 * is cut. */
void registry_stream_end(struct registry_stream *s, bool verified, long long size);
/* Wait for the unpack and free s: 0 with *dir (staged in t) and got (the tar's digest, to
 * check against the diff_id); -1 when it was cut or failed (its dir removed): unpack the
 * verified blob instead. */
int registry_stream_join(struct registry_stream *s, char **dir, char got[DIGEST_STR_LEN]);

#endif
