/* registry_http.c - one session with one registry over libcurl: the /v2/ ping that picks
 * the scheme, Basic credentials or Bearer tokens (fetched from the challenge's realm for
 * the session's scopes, fetched again when a 401 names another scope), requests with their
 * replies captured, and every failure turned into one line.
 *
 * Scheme: HTTPS with the certificate verified.  A loopback registry (127.0.0.0/8, ::1,
 * localhost, as docker treats them) or one allowed with --insecure is asked over plain
 * HTTP first and over HTTPS without verification when that port speaks TLS; the session's
 * first request finds out (no /v2/ ping: it was one more round trip, ~2 ms of a warm pull,
 * measured, and the first request's 401 names the auth as well as the ping's did).  Credentials
 * are sent only to the registry and its token realm; a realm on plain HTTP is refused
 * unless the registry itself may be.  Not thread-safe: a session belongs to one thread. */
#define _GNU_SOURCE
#include "registry.h"
#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#define REGISTRY_USER_AGENT "skiff/0.1"
#define TOKEN_MAX (256 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  SKIFF_TRACE("registry: curl_global_init");
}

void registry_curl_init(void)
{
  pthread_once(&curl_once, curl_init_once);
}

void registry_response_clear(struct registry_response *r)
{
  free(r->body);
  free(r->content_type);
  free(r->docker_digest);
  free(r->location);
  free(r->www_authenticate);
  memset(r, 0, sizeof(*r));
  r->content_length = -1;
}

struct capture
{
  struct registry_response *r;
  size_t max, cap;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  struct capture *c = ud;
  size_t len = size * n;
  if (c->r->len + len > c->max)
    {
      c->r->too_large = true;
      return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
  if (c->r->len + len + 1 > c->cap)
    {
      c->cap = (c->r->len + len + 1) * 2;
      if (c->cap > c->max + 1)
        c->cap = c->max + 1;
      c->r->body = xrealloc(c->r->body, c->cap);
    }
  memcpy(c->r->body + c->r->len, p, len);
  c->r->len += len;
  c->r->body[c->r->len] = '\0';
  return len;
}

static void set_field(char **slot, const char *v, size_t n, bool keep_first)
{
  if (keep_first && *slot)
    return;
  free(*slot);
  *slot = strndup(v, n);
  if (*slot == NULL)
    abort();
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
  struct capture *c = ud;
  struct registry_response *r = c->r;
  size_t len = size * n;
  if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
    {
      /* a new response (after a redirect or a 100): its headers replace the last ones */
      free(r->content_type);
      free(r->docker_digest);
      free(r->location);
      free(r->www_authenticate);
      r->content_type = r->docker_digest = r->location = r->www_authenticate = NULL;
      r->content_length = -1;
      return len;
    }
  const char *colon = memchr(p, ':', len);
  if (colon == NULL)
    return len;
  size_t nlen = (size_t)(colon - p);
  const char *v = colon + 1, *end = p + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  size_t vlen = (size_t)(end - v);
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(p, h, nlen) == 0)
  if (IS("Content-Type"))
    set_field(&r->content_type, v, vlen, false);
  else if (IS("Docker-Content-Digest"))
    set_field(&r->docker_digest, v, vlen, false);
  else if (IS("Location"))
    set_field(&r->location, v, vlen, false);
  else if (IS("WWW-Authenticate"))
    set_field(&r->www_authenticate, v, vlen, true);
  else if (IS("Content-Length"))
    r->content_length = strtoll(v, NULL, 10);
#undef IS
  return len;
}

void registry_easy_setup(struct registry_client *c, CURL *h, const char *url)
{
  const char *protos = c->allow_http ? "http,https" : "https";
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, REGISTRY_USER_AGENT);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protos);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protos);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L); /* blobs may live behind a redirect */
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  /* a stalled transfer fails instead of hanging: under 1 byte/s for 60 s */
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  if (c->allow_http)
    {
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

struct curl_slist *registry_auth_headers(struct registry_client *c, struct curl_slist *list)
{
  if (c->authz)
    list = curl_slist_append(list, c->authz);
  return list;
}

char *registry_url(struct registry_client *c, const char *fmt, ...)
{
  va_list ap;
  char *path = NULL;
  va_start(ap, fmt);
  if (vasprintf(&path, fmt, ap) < 0)
    abort();
  va_end(ap);
  char *url = xasprintf("%s%s", c->base, path);
  free(path);
  return url;
}

/* "https://h/v2/x/blobs/uploads/uuid?_state=..." -> up to the query (for messages) */
static int url_shown_len(const char *url)
{
  return (int)strcspn(url, "?");
}

int registry_curl_error(struct registry_client *c, CURLcode rc, const char *errbuf,
                        const char *method, const char *url, struct skiff_err **err)
{
  const char *why = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
  int ul = url_shown_len(url);
  switch (rc)
    {
      case CURLE_COULDNT_RESOLVE_HOST:
        return skiff_error(err, 0, "unknown host `%s`", c->api_host);
      case CURLE_COULDNT_CONNECT:
        return skiff_error(err, 0, "cannot connect to %.*s: %s", ul, url, why);
      case CURLE_OPERATION_TIMEDOUT:
        return skiff_error(err, 0, "%s %.*s: timed out (%s)", method, ul, url, why);
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
        return skiff_error(err, 0, "%.*s: TLS: %s%s", ul, url, why,
                           c->allow_http ? ""
                                         : " (a registry without TLS or without a trusted "
                                           "certificate needs --insecure)");
      case CURLE_PARTIAL_FILE:
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_GOT_NOTHING:
        return skiff_error(err, 0, "%s %.*s: transfer interrupted: %s", method, ul, url, why);
      default:
        return skiff_error(err, 0, "%s %.*s: %s", method, ul, url, why);
    }
}

/* errors[0].message (or .code, lower case) of a registry's error body; NULL if none */
static char *registry_message(const struct registry_response *r)
{
  if (r->body == NULL || r->len == 0)
    return NULL;
  json_t *o = json_loadb(r->body, r->len, 0, NULL);
  json_t *e = json_array_get(json_object_get(o, "errors"), 0);
  const char *m = json_string_value(json_object_get(e, "message"));
  const char *code = json_string_value(json_object_get(e, "code"));
  char *res = NULL;
  if (m && *m)
    res = xstrdup(m);
  else if (code && *code)
    {
      res = xstrdup(code);
      for (char *p = res; *p; p++)
        *p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
    }
  json_decref(o);
  /* one line, printable, short: it is the registry's text */
  for (char *p = res; p && *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  if (res && strlen(res) > 200)
    res[200] = '\0';
  return res;
}

int registry_status_error(struct registry_client *c, const struct registry_response *r,
                          const char *what, struct skiff_err **err)
{
  cleanup_free char *m = registry_message(r);
  switch (r->status)
    {
      case 401:
        if (c->user == NULL)
          return skiff_error(err, 0,
                             "unauthorized (no credentials for %s: give --creds USER:PASS or "
                             "--authfile FILE)",
                             c->domain);
        return skiff_error(err, 0, "unauthorized");
      case 403:
        return skiff_error(err, 0, "denied%s%s", m ? ": " : "", m ? m : "");
      case 404:
        return skiff_error(err, 0, "%s", m ? m : "not found");
      case 429:
        return skiff_error(err, 0, "too many requests%s%s", m ? ": " : "", m ? m : "");
      default:
        return skiff_error(err, 0, "%s: HTTP %ld%s%s", what, r->status, m ? ": " : "", m ? m : "");
    }
}

static size_t on_upload(char *buf, size_t size, size_t n, void *ud)
{
  int fd = *(int *)ud;
  ssize_t got;
  do
    got = read(fd, buf, size * n);
  while (got < 0 && errno == EINTR);
  return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
  int fd = *(int *)ud;
  return lseek(fd, (off_t)off, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

/* One request, no retry. */
static int perform(struct registry_client *c, const char *method, const char *url,
                   struct curl_slist *headers, bool with_auth, const void *body, size_t body_len,
                   int *upload_fd, long long upload_len, size_t max, struct registry_response *r,
                   struct skiff_err **err)
{
  registry_response_clear(r);
  CURL *h = c->curl;
  curl_easy_reset(h);
  registry_easy_setup(c, h, url);
  struct capture cap = {.r = r, .max = max};
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *hl = NULL;
  for (struct curl_slist *s = headers; s; s = s->next)
    hl = curl_slist_append(hl, s->data);
  if (with_auth)
    hl = registry_auth_headers(c, hl);
  hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &cap);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &cap);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  else if (upload_fd && *upload_fd >= 0)
    {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
      curl_easy_setopt(h, CURLOPT_READDATA, upload_fd);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, upload_fd);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)upload_len);
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
  else if (strcmp(method, "GET") != 0)
    {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hl);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r->too_large))
    return registry_curl_error(c, rc, errbuf, method, url, err);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
  if (r->body == NULL)
    r->body = xstrdup("");
  return 0;
}

static bool has_scope(const char *scopes, const char *s)
{
  size_t n = strlen(s);
  for (const char *p = scopes; p && (p = strstr(p, s)) != NULL; p += n)
    if ((p == scopes || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
      return true;
  return false;
}

/* GET realm?service=..&scope=..: a Bearer token for the session's scopes (and extra). */
static int fetch_token(struct registry_client *c, const struct registry_challenge *ch,
                       const char *extra_scope, struct skiff_err **err)
{
  if (strncmp(ch->realm, "http://", 7) == 0 && !c->allow_http)
    return skiff_error(err, 0, "token realm `%s` is plain HTTP (allowed only with --insecure)",
                       ch->realm);
  char *url = xasprintf("%s%c", ch->realm, strchr(ch->realm, '?') ? '&' : '?');
  char *esc;
  if (ch->service)
    {
      esc = curl_easy_escape(c->curl, ch->service, 0);
      char *n = xasprintf("%sservice=%s&", url, esc);
      curl_free(esc);
      free(url);
      url = n;
    }
  cleanup_free char *scopes = xstrdup(c->scopes ? c->scopes : "");
  if (extra_scope && !has_scope(scopes, extra_scope))
    {
      char *n = xasprintf("%s%s%s", scopes, *scopes ? " " : "", extra_scope);
      free(scopes);
      scopes = n;
    }
  for (char *save = NULL, *s = strtok_r(scopes, " ", &save); s; s = strtok_r(NULL, " ", &save))
    {
      esc = curl_easy_escape(c->curl, s, 0);
      char *n = xasprintf("%sscope=%s&", url, esc);
      curl_free(esc);
      free(url);
      url = n;
    }
  url[strlen(url) - 1] = '\0'; /* the last '&' or '?' */
  struct curl_slist *hl = NULL;
  cleanup_free char *basic = NULL;
  if (c->user)
    {
      cleanup_free char *up = xasprintf("%s:%s", c->user, c->pass ? c->pass : "");
      cleanup_free char *b = registry_base64_encode(up, strlen(up));
      basic = xasprintf("Authorization: Basic %s", b);
      explicit_bzero(up, strlen(up));
      hl = curl_slist_append(hl, basic);
    }
  struct registry_response r = {0};
  int ret = perform(c, "GET", url, hl, false, NULL, 0, NULL, 0, TOKEN_MAX, &r, err);
  curl_slist_free_all(hl);
  if (basic)
    explicit_bzero(basic, strlen(basic));
  char *token = NULL;
  if (ret == 0 && r.status != 200)
    ret = r.status == 401 || r.status == 403
              ? skiff_error(err, 0, c->user ? "unauthorized" : "unauthorized (no credentials)")
              : registry_status_error(c, &r, "token server", err);
  if (ret == 0)
    ret = registry_token_parse(r.body, r.len, &token, err);
  if (ret == 0)
    {
      free(c->authz);
      c->authz = xasprintf("Authorization: Bearer %s", token);
      explicit_bzero(token, strlen(token));
      free(token);
    }
  registry_response_clear(&r);
  free(url);
  return ret;
}

static void set_basic(struct registry_client *c)
{
  cleanup_free char *up = xasprintf("%s:%s", c->user, c->pass ? c->pass : "");
  cleanup_free char *b = registry_base64_encode(up, strlen(up));
  free(c->authz);
  c->authz = xasprintf("Authorization: Basic %s", b);
  explicit_bzero(up, strlen(up));
}

int registry_reauth(struct registry_client *c, const char *www_authenticate, struct skiff_err **err)
{
  struct registry_challenge ch;
  if (www_authenticate == NULL || registry_challenge_parse(www_authenticate, &ch, err) < 0)
    return -1;
  int ret = -1;
  if (ch.scheme == REGISTRY_AUTH_BASIC)
    {
      /* credentials already sent and refused, or none to send: the 401 stands */
      if (c->user && (c->authz == NULL || strncmp(c->authz, "Authorization: Basic ", 21) != 0))
        {
          set_basic(c);
          ret = 0;
        }
    }
  else
    ret = fetch_token(c, &ch, ch.scope, err);
  registry_challenge_clear(&ch);
  return ret;
}

/* Hand an error over to the caller's err (which may be NULL); returns -1. */
static int pass_error(struct skiff_err **err, struct skiff_err **mine)
{
  if (err && *err == NULL)
    *err = steal_pointer(mine);
  skiff_err_free(mine);
  return -1;
}

static void set_base(struct registry_client *c, const char *scheme)
{
  free(c->base);
  c->base = xasprintf("%s://%s", scheme, c->api_host);
}

/* The session's first request when plain HTTP is allowed: over HTTP; over HTTPS (TLS
 * unverified) when HTTP fails other than on the name or gets 400, the answer of a port
 * that speaks TLS.  *url is rewritten to the scheme that answered (owned by *owned). */
static int probe_scheme(struct registry_client *c, const char *method, const char **url,
                        char **owned, struct curl_slist *headers, const void *body, size_t body_len,
                        int upload_fd, long long upload_len, size_t max,
                        struct registry_response *r, struct skiff_err **err)
{
  struct skiff_err *herr = NULL;
  int ret = perform(c, method, *url, headers, true, body, body_len, &upload_fd, upload_len, max, r,
                    &herr);
  if (ret < 0 && strncmp(herr->msg, "unknown host", 12) == 0)
    return pass_error(err, &herr);
  if (ret == 0 && r->status != 400)
    {
      c->scheme_known = true;
      return 0;
    }
  /* "http://host/path" -> "https://host/path" */
  size_t blen = strlen(c->base);
  if (strncmp(*url, c->base, blen) != 0)
    {
      skiff_err_free(&herr);
      return skiff_error(err, 0, "%s %s: not a URL of the registry", method, *url);
    }
  char *https = xasprintf("https://%s%s", c->api_host, *url + blen);
  if (upload_fd >= 0 && lseek(upload_fd, 0, SEEK_SET) < 0)
    {
      free(https);
      skiff_err_free(&herr);
      return skiff_error(err, errno, "lseek");
    }
  struct registry_response hr = *r; /* HTTP's answer (400), kept in case HTTPS has none */
  memset(r, 0, sizeof(*r));
  int sret = perform(c, method, https, headers, true, body, body_len, &upload_fd, upload_len, max,
                     r, NULL);
  if (sret == 0)
    {
      registry_response_clear(&hr);
      skiff_err_free(&herr);
      set_base(c, "https");
      c->scheme_known = true;
      free(*owned);
      *owned = https;
      *url = https;
      return 0;
    }
  free(https);
  registry_response_clear(r);
  if (herr)
    return pass_error(err, &herr); /* neither spoke: plain HTTP's failure is the one to report */
  /* the port speaks plain HTTP and that 400 was the registry's answer to the request */
  *r = hr;
  c->scheme_known = true;
  return 0;
}

int registry_request(struct registry_client *c, const char *method, const char *url,
                     struct curl_slist *headers, const void *body, size_t body_len, int upload_fd,
                     long long upload_len, size_t max, struct registry_response *r,
                     struct skiff_err **err)
{
  cleanup_free char *owned = NULL;
  for (int attempt = 0;; attempt++)
    {
      if (upload_fd >= 0 && lseek(upload_fd, 0, SEEK_SET) < 0)
        return skiff_error(err, errno, "lseek");
      int ret = c->scheme_known ? perform(c, method, url, headers, true, body, body_len, &upload_fd,
                                          upload_len, max, r, err)
                                : probe_scheme(c, method, &url, &owned, headers, body, body_len,
                                               upload_fd, upload_len, max, r, err);
      if (ret < 0)
        return -1;
      if (r->status != 401 || attempt > 0 || r->www_authenticate == NULL)
        return 0;
      struct skiff_err *aerr = NULL;
      if (registry_reauth(c, r->www_authenticate, &aerr) < 0)
        {
          /* the token server's own refusal says more than the registry's 401 */
          if (aerr && strncmp(aerr->msg, "unauthorized", 12) != 0)
            return pass_error(err, &aerr);
          skiff_err_free(&aerr);
          return 0;
        }
    }
}

int registry_client_open(struct registry_client *c, const struct image_ref *ref, bool insecure,
                         const char *creds, const char *authfile, const char *scopes,
                         struct skiff_err **err)
{
  memset(c, 0, sizeof(*c));
  registry_curl_init();
  c->domain = xstrdup(ref->domain);
  c->api_host = xstrdup(image_ref_api_host(ref));
  c->allow_http = insecure || image_ref_domain_is_loopback(ref->domain);
  c->scopes = xstrdup(scopes ? scopes : "");
  c->curl = curl_easy_init();
  if (c->curl == NULL)
    return skiff_error(err, ENOMEM, "curl_easy_init");
  if (registry_creds_resolve(creds, authfile, ref->domain, &c->user, &c->pass, err) < 0)
    return -1;
  /* HTTPS is all there is to try without allow_http; else the first request finds out */
  set_base(c, c->allow_http ? "http" : "https");
  c->scheme_known = !c->allow_http;
  return 0;
}

void registry_client_close(struct registry_client *c)
{
  if (c->curl)
    curl_easy_cleanup(c->curl);
  free(c->domain);
  free(c->api_host);
  free(c->base);
  if (c->pass)
    explicit_bzero(c->pass, strlen(c->pass));
  if (c->authz)
    explicit_bzero(c->authz, strlen(c->authz));
  free(c->user);
  free(c->pass);
  free(c->authz);
  free(c->scopes);
  memset(c, 0, sizeof(*c));
}
