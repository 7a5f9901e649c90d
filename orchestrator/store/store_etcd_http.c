/* store_etcd_http.c - the etcd backend's transport: JSON POSTs to the v3 gateway of one
 * member at a time over one keep-alive libcurl handle.  Each attempt has a 1 s timeout; a
 * member that refuses, times out or answers 5xx (no leader, leader changed) is left for the
 * next one, round after round with a short back-off, until ETCD_CALL_BUDGET_MS is spent.
 * Then etcd is "down" for a back-off window (0.25 s doubling to 2 s) in which fast-fail
 * calls give up at once, and the first call after the window is a probe of one round, so a
 * server whose etcd is gone answers 503 quickly instead of stalling every request for the
 * whole budget. */
#include <string.h>
#include <strings.h>
#include <time.h>
#include <pthread.h>
#include <curl/curl.h>
#include "store_etcd.h"

#define ETCD_MAX_REPLY (256L * 1024 * 1024)

struct etcd_http
{
  char **urls;
  size_t n, cur;
  char *endpoints;
  CURL *curl;
  double down_until; /* monotonic seconds: calls fail fast until then */
  double backoff;
  char *last_error;
};

static double mono_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

int etcd_http_new(const char *endpoints, struct etcd_http **out, struct skiff_err **err)
{
  struct etcd_http *h = xzalloc(sizeof(*h));
  cleanup_free char *copy = xstrdup(endpoints ? endpoints : "");
  char *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    {
      while (*t == ' ')
        t++;
      size_t len = strlen(t);
      while (len > 0 && (t[len - 1] == '/' || t[len - 1] == ' '))
        t[--len] = '\0';
      if (len == 0)
        continue;
      if (strncasecmp(t, "http://", 7) != 0 && strncasecmp(t, "https://", 8) != 0)
        {
          etcd_http_free(h);
          return skiff_error(err, 0, "etcd endpoint `%s`: expected http://HOST:PORT", t);
        }
      if (strchr(t + 8, '/'))
        {
          etcd_http_free(h);
          return skiff_error(err, 0, "etcd endpoint `%s`: expected no path", t);
        }
      h->urls = xrealloc(h->urls, (h->n + 1) * sizeof(char *));
      h->urls[h->n++] = xstrdup(t);
    }
  if (h->n == 0)
    {
      etcd_http_free(h);
      return skiff_error(err, 0, "etcd: no endpoint in `%s`", endpoints ? endpoints : "");
    }
  size_t total = 1;
  for (size_t i = 0; i < h->n; i++)
    total += strlen(h->urls[i]) + 1;
  h->endpoints = xzalloc(total);
  for (size_t i = 0; i < h->n; i++)
    {
      if (i)
        strcat(h->endpoints, ",");
      strcat(h->endpoints, h->urls[i]);
    }
  pthread_once(&curl_once, curl_init_once);
  h->curl = curl_easy_init();
  if (h->curl == NULL)
    abort();
  h->backoff = 0.25;
  *out = h;
  return 0;
}

void etcd_http_free(struct etcd_http *h)
{
  if (h == NULL)
    return;
  for (size_t i = 0; i < h->n; i++)
    free(h->urls[i]);
  free(h->urls);
  free(h->endpoints);
  free(h->last_error);
  if (h->curl)
    curl_easy_cleanup(h->curl);
  free(h);
}

size_t etcd_http_count(const struct etcd_http *h)
{
  return h->n;
}

const char *etcd_http_url(const struct etcd_http *h, size_t i)
{
  return h->urls[i % h->n];
}

size_t etcd_http_current(const struct etcd_http *h)
{
  return h->cur;
}

const char *etcd_http_endpoints(const struct etcd_http *h)
{
  return h->endpoints;
}

struct reply_buf
{
  char *data;
  size_t len;
  bool too_big;
};

static size_t reply_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct reply_buf *b = userdata;
  size_t n = size * nmemb;
  if (b->len + n > (size_t)ETCD_MAX_REPLY)
    {
      b->too_big = true;
      return 0;
    }
  b->data = xrealloc(b->data, b->len + n + 1);
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* One attempt on one member.  0: an HTTP answer (status, body); -1: no answer (why). */
static int attempt(struct etcd_http *h, const char *url, const char *body, long *status,
                   struct reply_buf *rb, char **why)
{
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  hdr = curl_slist_append(hdr, "Expect:");
  curl_easy_reset(h->curl);
  curl_easy_setopt(h->curl, CURLOPT_URL, url);
  curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
  curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, ETCD_REQUEST_TIMEOUT_MS);
  curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, ETCD_REQUEST_TIMEOUT_MS);
  curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, reply_write);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, rb);
  CURLcode rc = curl_easy_perform(h->curl);
  curl_slist_free_all(hdr);
  if (rc != CURLE_OK)
    {
      if (rb->too_big)
        *why = xasprintf("answer over %ld bytes", ETCD_MAX_REPLY);
      else if (rc == CURLE_OPERATION_TIMEDOUT)
        *why = xasprintf("no answer within %ld ms", ETCD_REQUEST_TIMEOUT_MS);
      else
        *why = xstrdup(errbuf[0] ? errbuf : curl_easy_strerror(rc));
      return -1;
    }
  curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

static const char *reply_message(json_t *reply)
{
  const char *m = json_string_value(json_object_get(reply, "message"));
  if (m == NULL)
    m = json_string_value(json_object_get(reply, "error"));
  return m ? m : "error";
}

int etcd_http_call(struct etcd_http *h, const char *path, json_t *req, bool fast_fail,
                   json_t **reply, int *code, bool *retried, struct skiff_err **err)
{
  *reply = NULL;
  if (code)
    *code = 0;
  if (retried)
    *retried = false;
  double start = mono_now();
  if (fast_fail && start < h->down_until)
    return store_unavailable(err, "etcd %s unreachable (next try in %.1f s): %s", h->endpoints,
                             h->down_until - start, h->last_error ? h->last_error : "down");
  /* etcd was down at the last call: this one is a probe, one round over the members, so a
   * server whose etcd is gone does not stall its loop for the whole budget every time. */
  bool probe = h->down_until > 0;
  cleanup_free char *body = json_dumps(req, JSON_COMPACT);
  cleanup_free char *why = NULL;
  unsigned round = 0;
  size_t tries = 0;
  for (;;)
    {
      const char *base = h->urls[h->cur];
      cleanup_free char *url = xasprintf("%s%s", base, path);
      struct reply_buf rb = {NULL, 0, false};
      long status = 0;
      free(why);
      why = NULL;
      tries++;
      if (attempt(h, url, body, &status, &rb, &why) == 0)
        {
          json_t *doc = rb.len ? json_loadb(rb.data, rb.len, 0, NULL) : NULL;
          free(rb.data);
          if (status == 200 && doc)
            {
              h->down_until = 0;
              h->backoff = 0.25;
              *reply = doc;
              return 0;
            }
          int c = (int)etcd_int(doc, "code");
          /* 5xx: this member cannot serve now (no leader, leader changed, timeout inside
           * etcd, shutting down): the request may or may not have been applied. */
          if (status >= 500 || doc == NULL)
            why = xasprintf("HTTP %ld: %s", status, doc ? reply_message(doc) : "not JSON");
          else
            {
              h->down_until = 0;
              h->backoff = 0.25;
              if (code)
                *code = c;
              *reply = doc;
              return 1;
            }
          json_decref(doc);
          if (retried)
            *retried = true;
        }
      else
        {
          free(rb.data);
          /* A timeout may have delivered the request; a refused connection did not. */
          if (retried && strstr(why, "no answer"))
            *retried = true;
        }
      free(h->last_error);
      h->last_error = xasprintf("%s: %s", base, why);
      h->cur = (h->cur + 1) % h->n;
      if (tries % h->n == 0)
        {
          round++;
          double elapsed = mono_now() - start;
          if (probe || elapsed * 1000 >= ETCD_CALL_BUDGET_MS)
            break;
          /* Every member failed this round: a leader election takes 1-2 s. */
          struct timespec ts = {0, (long)(round < 4 ? 50L << round : 500) * 1000000L};
          nanosleep(&ts, NULL);
        }
    }
  h->down_until = mono_now() + h->backoff;
  h->backoff = h->backoff * 2 > 2.0 ? 2.0 : h->backoff * 2;
  return store_unavailable(err, "etcd %s unreachable: %s", h->endpoints, h->last_error);
}
