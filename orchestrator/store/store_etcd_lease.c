/* store_etcd_lease.c - the etcd backend's lease keeper: one thread that renews one lease
 * every third of its TTL (`/v3/lease/keepalive` is one POST per renewal), as clientv3's
 * KeepAlive does in a goroutine.
 *
 * Why a thread: the server's one loop can be busy for seconds (a controller pass writing
 * 10,000 replicas to etcd); renewals that waited for it let the lease expire under a healthy
 * leader.  The thread owns its own HTTP connection and touches nothing but the fields under
 * its mutex: the send time of the last successful renewal, and whether etcd said the lease is
 * gone.  The owner reads them (etcd_keeper_status) to decide when to stop acting. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "store_etcd.h"

struct etcd_keeper
{
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  struct etcd_http *http;
  int64_t id;
  double ttl;
  /* Under mu. */
  double renewed_sent; /* CLOCK_MONOTONIC; 0 until the first renewal succeeded */
  bool expired, stop;
};

static double mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *keeper_main(void *arg)
{
  struct etcd_keeper *k = arg;
  char id[32];
  snprintf(id, sizeof(id), "%lld", (long long)k->id);
  json_t *req = json_pack("{s:s}", "ID", id);
  pthread_mutex_lock(&k->mu);
  while (!k->stop && !k->expired)
    {
      pthread_mutex_unlock(&k->mu);
      double sent = mono();
      json_t *reply = NULL;
      int code = 0;
      int r = etcd_http_call(k->http, "/v3/lease/keepalive", req, true, &reply, &code, NULL, NULL);
      /* An expired lease's answer has no TTL (zero values are left out). */
      int64_t ttl = r == 0 ? etcd_int(json_object_get(reply, "result"), "TTL") : -1;
      json_decref(reply);
      pthread_mutex_lock(&k->mu);
      if (ttl > 0)
        k->renewed_sent = sent;
      else if (ttl == 0 || (r == 1 && code == 5)) /* 5: lease not found */
        k->expired = true;
      /* Next renewal a third of the TTL after this one, or soon after a failure. */
      double wait = ttl > 0 ? k->ttl / 3 : 0.2;
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      long ns = until.tv_nsec + (long)((wait - (double)(long)wait) * 1e9);
      until.tv_sec += (time_t)wait + ns / 1000000000L;
      until.tv_nsec = ns % 1000000000L;
      while (!k->stop && !k->expired)
        if (pthread_cond_timedwait(&k->cond, &k->mu, &until) != 0)
          break;
    }
  pthread_mutex_unlock(&k->mu);
  json_decref(req);
  return NULL;
}

struct etcd_keeper *etcd_keeper_start(const char *endpoints, int64_t id, double ttl)
{
  struct etcd_keeper *k = xzalloc(sizeof(*k));
  if (etcd_http_new(endpoints, &k->http, NULL) < 0)
    {
      free(k);
      return NULL;
    }
  pthread_mutex_init(&k->mu, NULL);
  pthread_cond_init(&k->cond, NULL);
  k->id = id;
  k->ttl = ttl;
  if (pthread_create(&k->thread, NULL, keeper_main, k) != 0)
    abort();
  return k;
}

void etcd_keeper_stop(struct etcd_keeper *k)
{
  if (k == NULL)
    return;
  pthread_mutex_lock(&k->mu);
  k->stop = true;
  pthread_cond_broadcast(&k->cond);
  pthread_mutex_unlock(&k->mu);
  pthread_join(k->thread, NULL); /* at most one renewal in flight: 1 s per member */
  etcd_http_free(k->http);
  pthread_cond_destroy(&k->cond);
  pthread_mutex_destroy(&k->mu);
  free(k);
}

int64_t etcd_keeper_id(const struct etcd_keeper *k)
{
  return k->id;
}

int etcd_keeper_status(struct etcd_keeper *k, double *renewed_sent)
{
  pthread_mutex_lock(&k->mu);
  bool expired = k->expired;
  *renewed_sent = k->renewed_sent;
  pthread_mutex_unlock(&k->mu);
  return expired ? STORE_EXPIRED : 0;
}
