/* probe.c - HTTP and TCP probes and the worker threads that run them (see probe.h).
 * Threads: the workers share only the job and result queues, under one mutex. */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "util.h"

#define PROBE_MAX_WORKERS 16

struct job_node
{
  struct job_node *next;
  struct probe_job *job;
};

struct probe_pool
{
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct job_node *head, *tail;
  struct probe_result *results;
  size_t nresults, cap;
  bool stopping;
  int wake_fd;
  pthread_t threads[PROBE_MAX_WORKERS];
  int nthreads;
};

/* ---- one probe ------------------------------------------------------------------------- */

static int remaining_ms(long long deadline)
{
  long long left = deadline - skiff_now_ms();
  return left < 0 ? 0 : (int)left;
}

/* A connected socket to ip:port within the deadline, or -1 with msg set. */
static int connect_by(const char *ip, int port, long long deadline, char *msg, size_t msglen)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
    {
      snprintf(msg, msglen, "no address to probe");
      return -1;
    }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      snprintf(msg, msglen, "socket: %s", strerror(errno));
      return -1;
    }
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
    return fd;
  if (errno != EINPROGRESS)
    {
      snprintf(msg, msglen, "connect %s:%d: %s", ip, port, strerror(errno));
      close(fd);
      return -1;
    }
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  int r = poll(&p, 1, remaining_ms(deadline));
  int soerr = 0;
  socklen_t sl = sizeof(soerr);
  if (r <= 0)
    {
      snprintf(msg, msglen, "connect %s:%d: timed out", ip, port);
      close(fd);
      return -1;
    }
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
  if (soerr != 0)
    {
      snprintf(msg, msglen, "connect %s:%d: %s", ip, port, strerror(soerr));
      close(fd);
      return -1;
    }
  return fd;
}

bool probe_run_tcp(const char *ip, int port, double timeout, char *msg, size_t msglen)
{
  int fd = connect_by(ip, port, skiff_now_ms() + (long long)(timeout * 1000), msg, msglen);
  if (fd < 0)
    return false;
  close(fd);
  msg[0] = '\0';
  return true;
}

bool probe_run_http(const char *ip, int port, const char *path, double timeout, char *msg,
                    size_t msglen)
{
  long long deadline = skiff_now_ms() + (long long)(timeout * 1000);
  cleanup_close int fd = connect_by(ip, port, deadline, msg, msglen);
  if (fd < 0)
    return false;
  cleanup_free char *req
      = xasprintf("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: skiff-probe/1.0\r\n"
                  "Connection: close\r\n\r\n",
                  path, ip, port);
  size_t off = 0, len = strlen(req);
  char buf[512];
  size_t got = 0;
  while (off < len)
    {
      ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
      if (n > 0)
        {
          off += (size_t)n;
          continue;
        }
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || poll(&p, 1, remaining_ms(deadline)) <= 0)
        {
          snprintf(msg, msglen, "HTTP GET %s: send failed", path);
          return false;
        }
    }
  /* the status line is all we need: "HTTP/1.1 200 OK\r\n" */
  while (got < sizeof(buf) - 1 && memchr(buf, '\n', got) == NULL)
    {
      struct pollfd p = {.fd = fd, .events = POLLIN};
      if (poll(&p, 1, remaining_ms(deadline)) <= 0)
        {
          snprintf(msg, msglen, "HTTP GET %s: no answer within %gs", path, timeout);
          return false;
        }
      ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
      if (n == 0)
        break;
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        break;
      if (n > 0)
        got += (size_t)n;
    }
  buf[got] = '\0';
  int code = 0;
  if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1)
    {
      snprintf(msg, msglen, "HTTP GET %s: no HTTP answer", path);
      return false;
    }
  if (code < 200 || code > 399)
    {
      snprintf(msg, msglen, "HTTP GET %s: %d", path, code);
      return false;
    }
  msg[0] = '\0';
  return true;
}

/* ---- the pool ---------------------------------------------------------------------------- */

static void job_free(struct probe_job *j)
{
  free(j->replica);
  free(j->ip);
  free(j->path);
  free(j);
}

static void *worker(void *arg)
{
  struct probe_pool *p = arg;
  for (;;)
    {
      pthread_mutex_lock(&p->lock);
      while (p->head == NULL && !p->stopping)
        pthread_cond_wait(&p->cond, &p->lock);
      if (p->stopping)
        {
          pthread_mutex_unlock(&p->lock);
          return NULL;
        }
      struct job_node *node = p->head;
      p->head = node->next;
      if (p->head == NULL)
        p->tail = NULL;
      pthread_mutex_unlock(&p->lock);

      struct probe_job *j = node->job;
      free(node);
      struct probe_result r = {.instance = j->instance, .readiness = j->readiness};
      if (j->kind == AGENT_PROBE_HTTP)
        r.ok = probe_run_http(j->ip, j->port, j->path ? j->path : "/", j->timeout, r.msg,
                              sizeof(r.msg));
      else
        r.ok = probe_run_tcp(j->ip, j->port, j->timeout, r.msg, sizeof(r.msg));
      r.replica = j->replica;
      j->replica = NULL;
      job_free(j);

      pthread_mutex_lock(&p->lock);
      if (p->nresults == p->cap)
        p->results = xrealloc(p->results, (p->cap = p->cap ? p->cap * 2 : 16) * sizeof(r));
      p->results[p->nresults++] = r;
      pthread_mutex_unlock(&p->lock);
      uint64_t one = 1;
      if (write(p->wake_fd, &one, sizeof(one)) < 0)
        {
          /* an eventfd write fails only when its counter would overflow: already awake */
        }
    }
}

struct probe_pool *probe_pool_start(int nthreads, int wake_fd)
{
  struct probe_pool *p = xzalloc(sizeof(*p));
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->cond, NULL);
  p->wake_fd = wake_fd;
  if (nthreads > PROBE_MAX_WORKERS)
    nthreads = PROBE_MAX_WORKERS;
  for (int i = 0; i < nthreads; i++)
    if (pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
      p->nthreads++;
  return p;
}

void probe_pool_submit(struct probe_pool *p, struct probe_job *job)
{
  struct job_node *n = xzalloc(sizeof(*n));
  n->job = job;
  pthread_mutex_lock(&p->lock);
  if (p->tail)
    p->tail->next = n;
  else
    p->head = n;
  p->tail = n;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

struct probe_result *probe_pool_take(struct probe_pool *p, size_t *n)
{
  pthread_mutex_lock(&p->lock);
  struct probe_result *r = p->results;
  *n = p->nresults;
  p->results = NULL;
  p->nresults = p->cap = 0;
  pthread_mutex_unlock(&p->lock);
  return r;
}

void probe_results_free(struct probe_result *r, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(r[i].replica);
  free(r);
}

void probe_pool_stop(struct probe_pool *p)
{
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->lock);
  p->stopping = true;
  pthread_cond_broadcast(&p->cond);
  pthread_mutex_unlock(&p->lock);
  for (int i = 0; i < p->nthreads; i++)
    pthread_join(p->threads[i], NULL);
  while (p->head)
    {
      struct job_node *n = p->head;
      p->head = n->next;
      job_free(n->job);
      free(n);
    }
  probe_results_free(p->results, p->nresults);
  free(p);
}
