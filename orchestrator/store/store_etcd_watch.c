/* store_etcd_watch.c - the etcd backend's watch: one thread holding one streaming POST to
 * /v3/watch (one HTTP connection per watch, as the gateway needs), from a start revision over
 * the whole prefix, with prev_kv so deletes carry the last value.  The stream is one JSON
 * message per line (split on newlines, not on chunks); each message's events are queued by
 * revision and an eventfd wakes the owner's loop.
 *
 * Why a thread: the gateway never ends a watch and curl's easy interface blocks, while the
 * server's loop must keep serving; the thread owns only its curl handles and its line buffer,
 * and touches nothing but the queue under the mutex.  It reconnects on its own (next member,
 * back-off 0.1 s doubling to 2 s) from the revision after the last one it queued.  A start
 * revision that was compacted ends the stream: the owner relists and restarts it. */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <curl/curl.h>
#include "store_etcd.h"

struct wq_item
{
  struct store_event ev;
  struct wq_item *next;
};

struct etcd_watch
{
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int efd;
  CURLM *multi; /* curl_multi_wakeup interrupts the thread's wait */
  char **urls;
  size_t nurls, cur;
  char *prefix;

  /* Under mu. */
  struct wq_item *head, *tail;
  int64_t next_rev;    /* the stream delivers revisions >= next_rev */
  int64_t compact_rev; /* > 0: cancelled by compaction, waiting for a restart */
  bool stop, reconnect, restarted;

  /* Thread only. */
  char *line;
  size_t len, cap;
  bool transfer_done;
};

static void signal_owner(struct etcd_watch *w)
{
  uint64_t one = 1;
  ssize_t r = write(w->efd, &one, sizeof(one));
  (void)r;
  pthread_cond_broadcast(&w->cond);
}

/* One complete line from the stream.  Returns false to end this connection. */
static bool handle_line(struct etcd_watch *w, const char *line, size_t len)
{
  struct etcd_watch_msg m;
  if (etcd_watch_parse(line, len, w->prefix, &m, NULL) < 0)
    return false;
  pthread_mutex_lock(&w->mu);
  bool keep = !w->stop && !w->reconnect && !w->restarted;
  if (keep && m.canceled)
    {
      if (m.compact_rev > 0)
        w->compact_rev = m.compact_rev;
      keep = false;
      signal_owner(w);
    }
  else if (keep && m.last_rev >= w->next_rev)
    {
      for (size_t i = 0; i < m.n; i++)
        {
          if (m.ev[i].rev < w->next_rev)
            continue;
          struct wq_item *it = xzalloc(sizeof(*it));
          it->ev = m.ev[i];
          memset(&m.ev[i], 0, sizeof(m.ev[i]));
          if (w->tail)
            w->tail->next = it;
          else
            w->head = it;
          w->tail = it;
        }
      w->next_rev = m.last_rev + 1;
      signal_owner(w);
    }
  pthread_mutex_unlock(&w->mu);
  etcd_watch_msg_clear(&m);
  return keep;
}

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct etcd_watch *w = userdata;
  size_t n = size * nmemb;
  if (w->len + n + 1 > w->cap)
    {
      w->cap = (w->len + n + 1) * 2;
      w->line = xrealloc(w->line, w->cap);
    }
  memcpy(w->line + w->len, ptr, n);
  w->len += n;
  size_t start = 0;
  for (size_t i = 0; i < w->len; i++)
    if (w->line[i] == '\n')
      {
        if (i > start && !handle_line(w, w->line + start, i - start))
          return 0; /* abort the transfer */
        start = i + 1;
      }
  memmove(w->line, w->line + start, w->len - start);
  w->len -= start;
  return n;
}

/* Run one watch connection until it ends, fails, or the owner asks to stop/reconnect. */
static void run_stream(struct etcd_watch *w, CURL *curl, const char *url, int64_t from)
{
  cleanup_free char *key = etcd_key_b64(w->prefix, "/");
  cleanup_free char *end = etcd_range_end_b64(w->prefix, "/");
  json_t *req = json_pack("{s:{s:s,s:s,s:b}}", "create_request", "key", key, "range_end", end,
                          "prev_kv", 1);
  char revbuf[32];
  snprintf(revbuf, sizeof(revbuf), "%lld", (long long)from);
  json_object_set_new(json_object_get(req, "create_request"), "start_revision",
                      json_string(revbuf));
  cleanup_free char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  cleanup_free char *full = xasprintf("%s/v3/watch", url);
  struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, full);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ETCD_REQUEST_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, stream_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, w);
  w->len = 0;
  curl_multi_add_handle(w->multi, curl);
  for (;;)
    {
      int running = 0;
      curl_multi_perform(w->multi, &running);
      if (running == 0)
        break;
      pthread_mutex_lock(&w->mu);
      bool quit = w->stop || w->reconnect || w->restarted;
      pthread_mutex_unlock(&w->mu);
      if (quit)
        break;
      curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
    }
  curl_multi_remove_handle(w->multi, curl);
  curl_slist_free_all(hdr);
}

static void *watch_main(void *arg)
{
  struct etcd_watch *w = arg;
  CURL *curl = curl_easy_init();
  if (curl == NULL)
    abort();
  double backoff = 0.1;
  pthread_mutex_lock(&w->mu);
  while (!w->stop)
    {
      if (w->compact_rev > 0 && !w->restarted)
        {
          pthread_cond_wait(&w->cond, &w->mu); /* the owner relists, then restarts us */
          continue;
        }
      w->reconnect = w->restarted = false;
      int64_t from = w->next_rev;
      const char *url = w->urls[w->cur % w->nurls];
      pthread_mutex_unlock(&w->mu);
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      run_stream(w, curl, url, from);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      pthread_mutex_lock(&w->mu);
      if (w->stop || w->restarted || w->compact_rev > 0)
        continue;
      /* The connection ended (member gone, or the owner saw it lag): next member, and a
       * back-off unless the stream had lived a while. */
      w->cur++;
      double lived = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
      if (lived > 5)
        backoff = 0.1;
      if (w->reconnect)
        continue;
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      long ns = until.tv_nsec + (long)(backoff * 1e9);
      until.tv_sec += ns / 1000000000L;
      until.tv_nsec = ns % 1000000000L;
      pthread_cond_timedwait(&w->cond, &w->mu, &until);
      backoff = backoff * 2 > 2.0 ? 2.0 : backoff * 2;
    }
  pthread_mutex_unlock(&w->mu);
  curl_easy_cleanup(curl);
  return NULL;
}

struct etcd_watch *etcd_watch_start(const struct etcd_http *h, const char *prefix, int64_t from)
{
  struct etcd_watch *w = xzalloc(sizeof(*w));
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cond, NULL);
  w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->efd < 0)
    abort();
  w->multi = curl_multi_init();
  if (w->multi == NULL)
    abort();
  w->nurls = etcd_http_count(h);
  w->urls = xzalloc(w->nurls * sizeof(char *));
  for (size_t i = 0; i < w->nurls; i++)
    w->urls[i] = xstrdup(etcd_http_url(h, i));
  w->cur = etcd_http_current(h);
  w->prefix = xstrdup(prefix);
  w->next_rev = from;
  if (pthread_create(&w->thread, NULL, watch_main, w) != 0)
    abort();
  return w;
}

static void queue_free(struct wq_item *it)
{
  while (it)
    {
      struct wq_item *next = it->next;
      store_kv_clear(&it->ev.kv);
      free(it);
      it = next;
    }
}

void etcd_watch_stop(struct etcd_watch *w)
{
  if (w == NULL)
    return;
  pthread_mutex_lock(&w->mu);
  w->stop = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mu);
  curl_multi_wakeup(w->multi);
  pthread_join(w->thread, NULL);
  curl_multi_cleanup(w->multi);
  queue_free(w->head);
  for (size_t i = 0; i < w->nurls; i++)
    free(w->urls[i]);
  free(w->urls);
  free(w->prefix);
  free(w->line);
  close(w->efd);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

int etcd_watch_fd(struct etcd_watch *w)
{
  return w->efd;
}

int64_t etcd_watch_take(struct etcd_watch *w, int64_t upto, struct store_event **ev, size_t *n,
                        int64_t *next_rev)
{
  uint64_t cnt;
  ssize_t r = read(w->efd, &cnt, sizeof(cnt)); /* clear; re-armed below if items remain */
  (void)r;
  pthread_mutex_lock(&w->mu);
  size_t k = 0, cap = 0;
  struct store_event *out = NULL;
  while (w->head && w->head->ev.rev <= upto)
    {
      struct wq_item *it = w->head;
      w->head = it->next;
      if (w->head == NULL)
        w->tail = NULL;
      if (k == cap)
        out = xrealloc(out, (cap = cap ? cap * 2 : 64) * sizeof(*out));
      out[k++] = it->ev;
      free(it);
    }
  if (w->head)
    signal_owner(w);
  int64_t compact = w->compact_rev;
  if (next_rev)
    *next_rev = w->next_rev;
  pthread_mutex_unlock(&w->mu);
  *ev = out;
  *n = k;
  return compact;
}

bool etcd_watch_wait(struct etcd_watch *w, int64_t rev, long timeout_ms)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  long ns = until.tv_nsec + (timeout_ms % 1000) * 1000000L;
  until.tv_sec += timeout_ms / 1000 + ns / 1000000000L;
  until.tv_nsec = ns % 1000000000L;
  pthread_mutex_lock(&w->mu);
  while (w->next_rev <= rev && w->compact_rev == 0)
    if (pthread_cond_timedwait(&w->cond, &w->mu, &until) != 0)
      break;
  bool ok = w->next_rev > rev;
  pthread_mutex_unlock(&w->mu);
  return ok;
}

void etcd_watch_reconnect(struct etcd_watch *w)
{
  pthread_mutex_lock(&w->mu);
  w->reconnect = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mu);
  curl_multi_wakeup(w->multi);
}

void etcd_watch_restart(struct etcd_watch *w, int64_t rev)
{
  pthread_mutex_lock(&w->mu);
  queue_free(w->head);
  w->head = w->tail = NULL;
  w->next_rev = rev + 1;
  w->compact_rev = 0;
  w->restarted = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mu);
  curl_multi_wakeup(w->multi);
}
