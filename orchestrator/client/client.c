/* client.c - HTTP/JSON client over libcurl used by skiffctl and the agent, and the rules that
 * find the server, its token and its CA (flag > environment > server data dir > default).
 * https servers are verified against the cluster CA (host name included).  The server may be
 * a list ("URL,URL": several servers of one cluster on etcd, all under the same CA): a
 * request that gets no answer, or a 503, is tried on the next one, and the client stays on
 * the one that answered.
 * Owns one CURL easy handle per struct client (keep-alive across calls); not thread-safe:
 * each thread uses its own struct client. */
#include "client.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#define CLIENT_MAX_BODY (64L * 1024 * 1024)
/* How a server whose certificate does not verify is named (one server: "server URL is not
 * the cluster's: ..."; several: "URL: is not the cluster's: ..." among the reasons). */
#define NOT_OURS "is not the cluster's"

struct client
{
  char **servers; /* several servers of one cluster: a failing one is left for the next */
  size_t nservers, cur;
  char *auth_header; /* "Authorization: Bearer T" or NULL */
  long timeout_ms;
  CURL *curl;
  char *ca_pem;               /* CA to verify https servers against; NULL: the default */
  int verify;                 /* 0: no verification (a join's first contact) */
  const volatile int *cancel; /* client_set_cancel */
};

/* Set once at start (client_set_default_ca), read by every client made afterwards. */
static char *default_ca;

/* ---- target ----------------------------------------------------------------------------- */

static const char *first_set(const char *a, const char *b, const char *c)
{
  if (a && *a)
    return a;
  if (b && *b)
    return b;
  if (c && *c)
    return c;
  return NULL;
}

/* One URL of the list: a scheme added when missing, trailing slashes cut. */
static char *normalize_url(const char *url, size_t len, struct skiff_err **err)
{
  cleanup_free char *one = strndup(url, len);
  char *server;
  size_t n, host;
  if (one == NULL)
    abort();
  if (strstr(one, "://") == NULL)
    server = xasprintf("https://%s", one);
  else if (strncasecmp(one, "http://", 7) == 0 || strncasecmp(one, "https://", 8) == 0)
    server = xstrdup(one);
  else
    {
      skiff_error(err, 0, "server URL `%s`: only http:// and https:// are supported", one);
      return NULL;
    }
  n = strlen(server);
  host = strstr(server, "://") + 3 - server;
  while (n > host && server[n - 1] == '/')
    server[--n] = '\0';
  if (n == host)
    {
      free(server);
      skiff_error(err, 0, "server URL `%s`: no host", one);
      return NULL;
    }
  return server;
}

int client_resolve_target(const char *flag_server, const char *flag_token, const char *env_server,
                          const char *env_token, const char *data_token, struct client_target *out,
                          struct skiff_err **err)
{
  const char *url = first_set(flag_server, env_server, NULL);
  const char *tok = first_set(flag_token, env_token, data_token);
  char *list = NULL;

  out->server = NULL;
  out->token = NULL;
  if (url == NULL)
    url = CLIENT_DEFAULT_SERVER;
  /* "URL,URL,...": several servers of one cluster, tried in order. */
  for (const char *p = url;;)
    {
      size_t len = strcspn(p, ",");
      char *one = normalize_url(p, len, err);
      if (one == NULL)
        {
          free(list);
          return -1;
        }
      char *joined = list ? xasprintf("%s,%s", list, one) : xstrdup(one);
      free(one);
      free(list);
      list = joined;
      if (p[len] == '\0')
        break;
      p += len + 1;
    }
  out->server = list;
  if (tok)
    {
      const char *s = tok, *e = tok + strlen(tok);
      while (*s && isspace((unsigned char)*s))
        s++;
      while (e > s && isspace((unsigned char)e[-1]))
        e--;
      if (e > s)
        out->token = strndup(s, e - s);
      if (e > s && out->token == NULL)
        abort();
    }
  return 0;
}

int client_read_token_file(const char *path, char **out, struct skiff_err **err)
{
  cleanup_free char *raw = NULL;
  const char *s, *e;

  if (skiff_read_file(path, &raw, NULL, err) < 0)
    return -1;
  s = raw;
  e = raw + strlen(raw);
  while (*s && isspace((unsigned char)*s))
    s++;
  while (e > s && isspace((unsigned char)e[-1]))
    e--;
  if (e == s)
    return skiff_error(err, 0, "token file `%s` is empty", path);
  *out = strndup(s, e - s);
  if (*out == NULL)
    abort();
  return 0;
}

int client_load_target(const char *flag_server, const char *flag_token, const char *data_dir,
                       struct client_target *out, struct skiff_err **err)
{
  const char *env_server = getenv("SKIFF_SERVER");
  const char *env_token = getenv("SKIFF_TOKEN");
  cleanup_free char *data_token = NULL;
  cleanup_free char *path = NULL;
  int need_file = first_set(flag_token, env_token, NULL) == NULL;

  if (need_file)
    {
      path = xasprintf("%s/token", data_dir ? data_dir : CLIENT_DEFAULT_DATA_DIR);
      if (data_dir != NULL)
        {
          if (client_read_token_file(path, &data_token, err) < 0)
            return -1;
        }
      else if (access(path, R_OK) == 0)
        {
          cleanup_err struct skiff_err *ignored = NULL;
          /* The default location is a convenience: a bad file there just means no token. */
          client_read_token_file(path, &data_token, &ignored);
        }
    }
  return client_resolve_target(flag_server, flag_token, env_server, env_token, data_token, out,
                               err);
}

int client_load_ca(const char *flag_file, const char *data_dir, char **pem, struct skiff_err **err)
{
  const char *env = getenv("SKIFF_CA_FILE");
  const char *named = first_set(flag_file, env, NULL);
  *pem = NULL;
  if (named)
    return skiff_read_file(named, pem, NULL, err) < 0 ? skiff_err_prefix(err, "CA file") : 0;
  cleanup_free char *path = xasprintf("%s/ca.crt", data_dir ? data_dir : CLIENT_DEFAULT_DATA_DIR);
  if (skiff_read_file(path, pem, NULL, NULL) < 0)
    *pem = NULL; /* none there: an https server must then have a certificate the system trusts */
  return 0;
}

void client_set_default_ca(const char *pem)
{
  free(default_ca);
  default_ca = pem ? xstrdup(pem) : NULL;
}

void client_target_clear(struct client_target *t)
{
  free(t->server);
  free(t->token);
  t->server = NULL;
  t->token = NULL;
}

/* ---- HTTP ------------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct client *client_new(const char *server, const char *token, long timeout_ms)
{
  struct client *c = xzalloc(sizeof(*c));

  pthread_once(&curl_once, curl_init_once);
  cleanup_free char *copy = xstrdup(server);
  char *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    {
      c->servers = xrealloc(c->servers, (c->nservers + 1) * sizeof(char *));
      c->servers[c->nservers++] = xstrdup(t);
    }
  if (c->nservers == 0)
    {
      c->servers = xmalloc(sizeof(char *));
      c->servers[c->nservers++] = xstrdup(server);
    }
  c->auth_header = token ? xasprintf("Authorization: Bearer %s", token) : NULL;
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
  c->curl = curl_easy_init();
  if (c->curl == NULL)
    abort();
  c->ca_pem = default_ca ? xstrdup(default_ca) : NULL;
  c->verify = 1;
  return c;
}

void client_set_token(struct client *c, const char *token)
{
  free(c->auth_header);
  c->auth_header = token ? xasprintf("Authorization: Bearer %s", token) : NULL;
}

void client_set_ca(struct client *c, const char *pem, int verify)
{
  free(c->ca_pem);
  c->ca_pem = pem ? xstrdup(pem) : NULL;
  c->verify = verify;
}

/* TLS for one transfer (curl_easy_reset dropped it): the cluster CA, hostname checked. */
static void set_tls(struct client *c)
{
  if (!c->verify)
    {
      curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
      return;
    }
  if (c->ca_pem)
    {
      struct curl_blob blob = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
      curl_easy_setopt(c->curl, CURLOPT_CAINFO_BLOB, &blob);
    }
  curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
}

void client_free(struct client *c)
{
  if (c == NULL)
    return;
  if (c->curl)
    curl_easy_cleanup(c->curl);
  for (size_t i = 0; i < c->nservers; i++)
    free(c->servers[i]);
  free(c->servers);
  free(c->auth_header);
  free(c->ca_pem);
  free(c);
}

const char *client_server(const struct client *c)
{
  return c->servers[c->cur];
}

void client_set_cancel(struct client *c, const volatile int *flag)
{
  c->cancel = flag;
}

/* libcurl calls this about once a second even on a silent connection. */
static int cancel_check(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                        curl_off_t ulnow)
{
  const struct client *c = arg;
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return *c->cancel ? 1 : 0;
}

static void set_cancel(struct client *c)
{
  if (c->cancel == NULL)
    return;
  curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, cancel_check);
  curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
}

struct membuf
{
  char *data;
  size_t len;
  int too_big;
};

static size_t membuf_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct membuf *b = userdata;
  size_t n = size * nmemb;
  if (b->len + n > (size_t)CLIENT_MAX_BODY)
    {
      b->too_big = 1;
      return 0;
    }
  b->data = xrealloc(b->data, b->len + n + 1);
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* One line on transport failure: the OS reason when there is one (Connection refused),
 * else curl's own text. */
static char *transport_reason(struct client *c, CURLcode rc, const char *errbuf)
{
  long os_errno = 0;
  curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return xasprintf("no answer within %ld ms", c->timeout_ms);
  if (rc == CURLE_PEER_FAILED_VERIFICATION)
    return xasprintf(NOT_OURS ": its certificate does not verify against the CA "
                              "(--ca-file, $SKIFF_CA_FILE or DATA/ca.crt): %s",
                     errbuf[0] ? errbuf : curl_easy_strerror(rc));
  if (os_errno != 0
      && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR))
    return xstrdup(strerror((int)os_errno));
  return xstrdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* Several servers: the next one gets the next try.  reasons gathers "URL: why" per server. */
static void fail_over(struct client *c, char **reasons, const char *why)
{
  char *r = *reasons ? xasprintf("%s; %s: %s", *reasons, c->servers[c->cur], why)
                     : xasprintf("%s: %s", c->servers[c->cur], why);
  free(*reasons);
  *reasons = r;
  c->cur = (c->cur + 1) % c->nservers;
}

static int unreachable(struct client *c, const char *reasons, const char *last_why,
                       struct skiff_err **err)
{
  if (c->nservers == 1 && strncmp(last_why, NOT_OURS, strlen(NOT_OURS)) == 0)
    return skiff_error(err, 0, "server %s %s", c->servers[0], last_why);
  if (c->nservers == 1)
    return skiff_error(err, 0, "cannot reach server %s: %s", c->servers[0], last_why);
  return skiff_error(err, 0, "cannot reach any server (%s)", reasons);
}

static struct curl_slist *base_headers(struct client *c, int has_body)
{
  struct curl_slist *h = NULL;
  h = curl_slist_append(h, "Accept: application/json");
  if (has_body)
    h = curl_slist_append(h, "Content-Type: application/json");
  if (c->auth_header)
    h = curl_slist_append(h, c->auth_header);
  /* no "Expect: 100-continue" round trip for bodies */
  h = curl_slist_append(h, "Expect:");
  return h;
}

/* One attempt on the current server.  0: an HTTP answer; -1: none (*why says why). */
static int request_once(struct client *c, const char *method, const char *path, const char *payload,
                        long *code, struct membuf *buf, char **why)
{
  cleanup_free char *url = xasprintf("%s%s", c->servers[c->cur], path);
  struct curl_slist *headers = base_headers(c, payload != NULL);
  char errbuf[CURL_ERROR_SIZE] = "";
  CURLcode rc;

  curl_easy_reset(c->curl);
  set_tls(c);
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, membuf_write);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, buf);
  set_cancel(c);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
  if (payload)
    {
      curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, payload);
      curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
  rc = curl_easy_perform(c->curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK)
    {
      *why = transport_reason(c, rc, errbuf);
      return -1;
    }
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, code);
  return 0;
}

int client_request(struct client *c, const char *method, const char *path, json_t *body,
                   long *status, json_t **resp, struct skiff_err **err)
{
  cleanup_free char *payload = NULL;
  cleanup_free char *reasons = NULL;
  struct membuf buf = {NULL, 0, 0};
  long code = 0;

  if (resp)
    *resp = NULL;
  if (body)
    payload = json_dumps(body, JSON_COMPACT);
  if (body && payload == NULL)
    return skiff_error(err, 0, "%s %s: cannot encode the JSON body", method, path);
  /* Each server once, from the one that answered last: one that does not answer, or answers
   * 503 (its store is out of reach), is left for the next. */
  for (size_t tries = 1;; tries++)
    {
      cleanup_free char *why = NULL;
      free(buf.data);
      buf = (struct membuf){NULL, 0, 0};
      code = 0;
      if (request_once(c, method, path, payload, &code, &buf, &why) < 0)
        {
          if (buf.too_big)
            {
              free(buf.data);
              return skiff_error(err, 0, "%s %s: answer larger than %ld bytes", method, path,
                                 CLIENT_MAX_BODY);
            }
          if (tries >= c->nservers)
            {
              free(buf.data);
              fail_over(c, &reasons, why);
              return unreachable(c, reasons, why, err);
            }
          fail_over(c, &reasons, why);
          continue;
        }
      if (code == 503 && tries < c->nservers)
        {
          fail_over(c, &reasons, "HTTP 503");
          continue;
        }
      break;
    }
  if (status)
    *status = code;
  if (resp && buf.len > 0)
    *resp = json_loadb(buf.data, buf.len, 0, NULL);
  free(buf.data);
  return 0;
}

char *client_error_message(long status, json_t *body)
{
  const char *msg = NULL;
  json_t *e = body ? json_object_get(body, "error") : NULL;

  if (json_is_string(e))
    msg = json_string_value(e);
  else if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
    msg = json_string_value(json_object_get(e, "message"));
  else if (body && json_is_string(json_object_get(body, "message")))
    msg = json_string_value(json_object_get(body, "message"));
  if (msg == NULL)
    {
      switch (status)
        {
          case 400:
            msg = "bad request";
            break;
          case 401:
            msg = "unauthorized (give a credential: --token-file, $SKIFF_TOKEN or --data DIR)";
            break;
          case 404:
            msg = "not found";
            break;
          case 405:
            msg = "method not allowed";
            break;
          case 409:
            msg = "conflict";
            break;
          default:
            msg = "unexpected answer";
            break;
        }
    }
  return xasprintf("HTTP %ld: %s", status, msg);
}

int client_call(struct client *c, const char *method, const char *path, json_t *body, long *status,
                json_t **resp, struct skiff_err **err)
{
  json_t *r = NULL;
  long code = 0;

  if (resp)
    *resp = NULL;
  if (client_request(c, method, path, body, &code, &r, err) < 0)
    return -1;
  if (status)
    *status = code;
  if (code < 200 || code > 299)
    {
      cleanup_free char *msg = client_error_message(code, r);
      json_decref(r);
      return skiff_error(err, 0, "%s", msg);
    }
  if (resp)
    *resp = r;
  else
    json_decref(r);
  return 0;
}

/* ---- NDJSON stream ---------------------------------------------------------------------- */

int client_lines_feed(struct client_lines *l, const char *data, size_t len, client_line_cb cb,
                      void *cbdata)
{
  size_t start = 0, i;

  if (l->stopped)
    return 1;
  if (l->len + len + 1 > l->cap)
    {
      l->cap = (l->len + len + 1) * 2;
      l->buf = xrealloc(l->buf, l->cap);
    }
  memcpy(l->buf + l->len, data, len);
  l->len += len;
  for (i = 0; i < l->len; i++)
    {
      if (l->buf[i] != '\n')
        continue;
      if (i > start && !(l->skip && l->skip(l->buf + start, i - start, cbdata)))
        {
          json_t *obj = json_loadb(l->buf + start, i - start, 0, NULL);
          if (obj)
            {
              int stop = cb(obj, cbdata);
              json_decref(obj);
              if (stop)
                {
                  l->stopped = 1;
                  l->len = 0;
                  return 1;
                }
            }
        }
      start = i + 1;
    }
  memmove(l->buf, l->buf + start, l->len - start);
  l->len -= start;
  return 0;
}

void client_lines_clear(struct client_lines *l)
{
  free(l->buf);
  l->buf = NULL;
  l->len = l->cap = 0;
  l->stopped = 0;
}

struct stream_ctx
{
  struct client_lines lines;
  client_line_cb cb;
  void *data;
  long code;
  struct client *c;
  struct membuf errbody; /* body of a non-2xx answer */
};

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct stream_ctx *s = userdata;
  size_t n = size * nmemb;

  if (s->code == 0)
    curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &s->code);
  if (s->code < 200 || s->code > 299)
    return membuf_write(ptr, size, nmemb, &s->errbody);
  if (client_lines_feed(&s->lines, ptr, n, s->cb, s->data))
    return 0; /* abort the transfer: the callback asked to stop */
  return n;
}

/* Several servers: a streaming GET that got no answer, or a 503, before the last server was
 * tried goes on with the next one (returns 1; errbody freed, *reasons gets why). */
static int stream_next_server(struct client *c, size_t tries, CURLcode rc, long code, int stopped,
                              struct membuf *errbody, const char *errbuf, char **reasons)
{
  if (stopped || tries >= c->nservers)
    return 0;
  if (rc != CURLE_OK && code == 0)
    {
      cleanup_free char *why = transport_reason(c, rc, errbuf);
      fail_over(c, reasons, why);
    }
  else if (code == 503)
    fail_over(c, reasons, "HTTP 503");
  else
    return 0;
  free(errbody->data);
  *errbody = (struct membuf){NULL, 0, 0};
  return 1;
}

/* How a streaming GET ended: 0 (the callback stopped it, or the server ended it), or -1
 * with the transport's error, the server's message (prefixed "GET path: " when name_path),
 * or a broken stream.  Frees errbody. */
static int stream_result(struct client *c, const char *path, CURLcode rc, long code, int stopped,
                         struct membuf *errbody, const char *errbuf, bool name_path, char *reasons,
                         struct skiff_err **err)
{
  int ret = 0;
  if (stopped)
    ret = 0;
  else if (rc != CURLE_OK && code == 0)
    {
      cleanup_free char *why = transport_reason(c, rc, errbuf);
      cleanup_free char *all = reasons ? xstrdup(reasons) : NULL;
      fail_over(c, &all, why);
      ret = unreachable(c, all, why, err);
    }
  else if (code < 200 || code > 299)
    {
      json_t *body = errbody->data ? json_loads(errbody->data, 0, NULL) : NULL;
      cleanup_free char *msg = client_error_message(code, body);
      json_decref(body);
      ret = name_path ? skiff_error(err, 0, "GET %s: %s", path, msg)
                      : skiff_error(err, 0, "%s", msg);
    }
  else if (rc != CURLE_OK)
    ret = skiff_error(err, 0, "GET %s: stream broken: %s", path,
                      errbuf[0] ? errbuf : curl_easy_strerror(rc));
  free(errbody->data);
  errbody->data = NULL;
  return ret;
}

/* What both streaming GETs set: the URL, headers, no signals, connect timeout, errors. */
static void stream_setup(struct client *c, const char *url, struct curl_slist *headers,
                         char *errbuf)
{
  curl_easy_reset(c->curl);
  set_tls(c);
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
  curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
}

int client_stream(struct client *c, const char *path, client_line_cb cb, void *data,
                  struct skiff_err **err)
{
  return client_stream_skip(c, path, NULL, cb, data, err);
}

int client_stream_skip(struct client *c, const char *path, client_skip_fn skip, client_line_cb cb,
                       void *data, struct skiff_err **err)
{
  struct curl_slist *headers = base_headers(c, 0);
  struct stream_ctx s;
  cleanup_free char *reasons = NULL;
  CURLcode rc;
  int ret = 0;

  for (size_t tries = 1;; tries++)
    {
      cleanup_free char *url = xasprintf("%s%s", c->servers[c->cur], path);
      char errbuf[CURL_ERROR_SIZE] = "";
      s = (struct stream_ctx){{NULL, 0, 0, 0, skip}, cb, data, 0, c, {NULL, 0, 0}};
      stream_setup(c, url, headers, errbuf);
      curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, stream_write);
      curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
      /* The server sends a BOOKMARK line every 5 s of silence (API.md): 30 s without a byte
       * means a dead (e.g. stopped) server, so give up and let the caller list again. */
      curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 30L);
      set_cancel(c);
      rc = curl_easy_perform(c->curl);
      if (s.code == 0)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &s.code);
      if (stream_next_server(c, tries, rc, s.code, s.lines.stopped, &s.errbody, errbuf, &reasons))
        {
          client_lines_clear(&s.lines);
          continue;
        }
      ret = stream_result(c, path, rc, s.code, s.lines.stopped, &s.errbody, errbuf, true, reasons,
                          err);
      break;
    }
  curl_slist_free_all(headers);
  client_lines_clear(&s.lines);
  return ret;
}

/* ---- raw stream ----------------------------------------------------------------------------- */

struct raw_ctx
{
  const struct client_raw_cbs *cbs;
  struct client *c;
  long code;
  int stopped, status_told;
  int quiet_503; /* a 503 will be retried on the next server: not told to cbs->status */
  struct membuf errbody;
};

static size_t raw_header(char *buf, size_t size, size_t nmemb, void *userdata)
{
  struct raw_ctx *r = userdata;
  size_t n = size * nmemb;
  /* the blank line that ends a header block; 1xx blocks come before the real one */
  if (n <= 2 && (buf[0] == '\r' || buf[0] == '\n'))
    {
      long code = 0;
      curl_easy_getinfo(r->c->curl, CURLINFO_RESPONSE_CODE, &code);
      if (code >= 200 && !r->status_told)
        {
          r->code = code;
          if (code == 503 && r->quiet_503)
            return n;
          r->status_told = 1;
          if (r->cbs->status && r->cbs->status(code, r->cbs->arg))
            {
              r->stopped = 1;
              return 0;
            }
        }
    }
  return n;
}

static size_t raw_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct raw_ctx *r = userdata;
  size_t n = size * nmemb;
  if (r->code < 200 || r->code > 299)
    return membuf_write(ptr, size, nmemb, &r->errbody);
  if (r->cbs->data && r->cbs->data(ptr, n, r->cbs->arg))
    {
      r->stopped = 1;
      return 0;
    }
  return n;
}

static int raw_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
  struct raw_ctx *r = userdata;
  (void)dt;
  (void)dn;
  (void)ut;
  (void)un;
  if (r->cbs->keep_going && !r->cbs->keep_going(r->cbs->arg))
    {
      r->stopped = 1;
      return 1;
    }
  return 0;
}

int client_stream_raw(struct client *c, const char *path, const struct client_raw_cbs *cbs,
                      long *status, struct skiff_err **err)
{
  struct curl_slist *headers = base_headers(c, 0);
  cleanup_free char *reasons = NULL;
  struct raw_ctx r;
  int ret = 0;

  if (status)
    *status = 0;
  for (size_t tries = 1;; tries++)
    {
      cleanup_free char *url = xasprintf("%s%s", c->servers[c->cur], path);
      char errbuf[CURL_ERROR_SIZE] = "";
      r = (struct raw_ctx){.cbs = cbs, .c = c, .quiet_503 = tries < c->nservers};
      stream_setup(c, url, headers, errbuf);
      curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, raw_header);
      curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &r);
      curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, raw_write);
      curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r);
      curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, raw_progress);
      curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &r);
      curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
      CURLcode rc = curl_easy_perform(c->curl);
      if (r.code == 0)
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r.code);
      int stopped = r.stopped && r.code >= 200 && r.code <= 299;
      if (stream_next_server(c, tries, rc, r.code, stopped, &r.errbody, errbuf, &reasons))
        continue;
      if (status)
        *status = r.code;
      ret = stream_result(c, path, rc, r.code, stopped, &r.errbody, errbuf, false, reasons, err);
      break;
    }
  curl_slist_free_all(headers);
  return ret;
}
