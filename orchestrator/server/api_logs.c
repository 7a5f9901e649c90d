/* api_logs.c - GET /v1/replicas/NAME/logs[?follow=1][&tail=N]: a replica's log, fetched from
 * the agent of its node (GET http://ADDRESS:AGENTPORT/v1/logs/NAME, authenticated with the
 * token the node's record keeps for server calls, which its agent got at its join) and
 * streamed through, as kube-apiserver proxies
 * `kubectl logs` to the kubelet.
 *
 * The server's loop must never wait on an agent, so each stream has a thread that reads
 * from the agent into a bounded buffer; the request's connection is suspended whenever it
 * has nothing to send and resumed by that thread (MHD_resume_connection may be called from
 * any thread).  At most API_LOGS_MAX streams at once (503 beyond), each buffering at most
 * API_LOGS_BUF bytes (the thread waits for the client to drain it).
 * Threads: a stream's fields below `lock` are shared by its thread and the server loop. */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <microhttpd.h>
#include "api_internal.h"
#include "client.h"
#include "model.h"
#include "view.h"

#define API_LOGS_MAX 64
#define API_LOGS_BUF (256 * 1024)

struct log_proxy
{
  struct MHD_Connection *conn;
  int client_fd; /* the client's socket (MHD's): polled to notice a client that left */
  char *agent, *path, *node;
  char *token;
  pthread_mutex_t lock;
  pthread_cond_t drained;
  long status;     /* the agent's answer (0 until its headers are in) */
  char *error;     /* why it failed, once done with status != 200 */
  long error_code; /* what to answer then */
  char *buf;       /* bytes from the agent not yet sent */
  size_t len, off;
  bool done;      /* the agent's stream ended (or failed) */
  bool suspended; /* the connection waits for this thread */
  bool gone;      /* the client left or the server stops: the thread ends */
  int refs;       /* the thread and the request */
  struct log_proxy *next;
};

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_proxy *all; /* every live stream, for api_logs_shutdown */
static int nall;

static void proxy_unref(struct log_proxy *p)
{
  pthread_mutex_lock(&all_lock);
  pthread_mutex_lock(&p->lock);
  bool last = --p->refs == 0;
  pthread_mutex_unlock(&p->lock);
  if (last)
    {
      for (struct log_proxy **q = &all; *q; q = &(*q)->next)
        if (*q == p)
          {
            *q = p->next;
            break;
          }
      nall--;
    }
  pthread_mutex_unlock(&all_lock);
  if (!last)
    return;
  free(p->agent);
  free(p->path);
  free(p->node);
  free(p->token);
  free(p->error);
  free(p->buf);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->drained);
  free(p);
}

/* With p->lock held: let the server loop look at the connection again. */
static void wake_locked(struct log_proxy *p)
{
  if (p->suspended)
    {
      p->suspended = false;
      MHD_resume_connection(p->conn);
    }
}

static int on_status(long code, void *arg)
{
  struct log_proxy *p = arg;
  pthread_mutex_lock(&p->lock);
  p->status = code;
  if (code == 200)
    wake_locked(p); /* the answer can start; errors wait for their body */
  pthread_mutex_unlock(&p->lock);
  return 0;
}

static int on_data(const char *buf, size_t len, void *arg)
{
  struct log_proxy *p = arg;
  pthread_mutex_lock(&p->lock);
  while (!p->gone && p->len - p->off + len > API_LOGS_BUF && p->len > p->off)
    pthread_cond_wait(&p->drained, &p->lock);
  if (p->gone)
    {
      pthread_mutex_unlock(&p->lock);
      return 1;
    }
  if (p->off > 0)
    {
      memmove(p->buf, p->buf + p->off, p->len - p->off);
      p->len -= p->off;
      p->off = 0;
    }
  p->buf = xrealloc(p->buf, p->len + len);
  memcpy(p->buf + p->len, buf, len);
  p->len += len;
  wake_locked(p);
  pthread_mutex_unlock(&p->lock);
  return 0;
}

/* About once a second, also while the agent sends nothing.  A suspended connection is not
 * watched by libmicrohttpd, so a client that left is noticed here, on its socket. */
static int keep_going(void *arg)
{
  struct log_proxy *p = arg;
  struct pollfd pfd = {.fd = p->client_fd, .events = POLLRDHUP};
  bool left = p->client_fd >= 0 && poll(&pfd, 1, 0) > 0
              && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
  pthread_mutex_lock(&p->lock);
  if (left)
    p->gone = true;
  bool gone = p->gone;
  pthread_mutex_unlock(&p->lock);
  return !gone;
}

static void *proxy_thread(void *arg)
{
  struct log_proxy *p = arg;
  struct client *c = client_new(p->agent, p->token, 5000);
  struct client_raw_cbs cbs = {on_status, on_data, keep_going, p};
  struct skiff_err *err = NULL;
  long status = 0;
  int r = client_stream_raw(c, p->path, &cbs, &status, &err);
  client_free(c);
  pthread_mutex_lock(&p->lock);
  if (r < 0 && p->status != 200)
    {
      /* the agent said no (its message), or could not be reached */
      const char *msg = err ? err->msg : "failed";
      const char *tail = strstr(msg, p->agent);
      if (status == 0 && tail)
        tail = strstr(tail, ": ") ? strstr(tail, ": ") + 2 : msg;
      p->error_code = status ? status : 502;
      p->error = status ? xasprintf("node %s: %s", p->node, msg)
                        : xasprintf("cannot reach the agent of node %s at %s: %s", p->node,
                                    p->agent, tail ? tail : msg);
    }
  p->done = true;
  wake_locked(p);
  pthread_mutex_unlock(&p->lock);
  skiff_err_free(&err);
  proxy_unref(p);
  return NULL;
}

static ssize_t proxy_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct log_proxy *p = cls;
  (void)pos;
  pthread_mutex_lock(&p->lock);
  if (p->off == p->len)
    {
      if (p->done || p->gone)
        {
          pthread_mutex_unlock(&p->lock);
          return MHD_CONTENT_READER_END_OF_STREAM;
        }
      p->suspended = true;
      MHD_suspend_connection(p->conn);
      pthread_mutex_unlock(&p->lock);
      return 0;
    }
  size_t n = p->len - p->off < max ? p->len - p->off : max;
  memcpy(buf, p->buf + p->off, n);
  p->off += n;
  pthread_cond_signal(&p->drained);
  pthread_mutex_unlock(&p->lock);
  return (ssize_t)n;
}

static void proxy_release(void *cls)
{
  struct log_proxy *p = cls;
  pthread_mutex_lock(&p->lock);
  p->gone = true;
  pthread_cond_signal(&p->drained);
  pthread_mutex_unlock(&p->lock);
  proxy_unref(p);
}

/* Second and later calls for the request, after the thread resumed it. */
static enum MHD_Result proxy_answer(struct api *api, struct MHD_Connection *c, struct log_proxy *p)
{
  pthread_mutex_lock(&p->lock);
  if (p->status != 200 && !p->done)
    {
      /* woken before there is anything to say */
      p->suspended = true;
      MHD_suspend_connection(c);
      pthread_mutex_unlock(&p->lock);
      return MHD_YES;
    }
  if (p->status != 200)
    {
      long code = p->error_code ? p->error_code : 502;
      cleanup_free char *msg = xstrdup(p->error ? p->error : "no answer from the agent");
      pthread_mutex_unlock(&p->lock);
      return api_send_error(api, c, (unsigned)code, "%s", msg);
    }
  pthread_mutex_unlock(&p->lock);
  struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024,
                                                             proxy_read, p, proxy_release);
  MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  pthread_mutex_lock(&p->lock);
  p->refs++; /* the response's */
  pthread_mutex_unlock(&p->lock);
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  api_count_status(api, 200);
  return ret;
}

enum MHD_Result api_route_logs(struct api *api, struct MHD_Connection *c, struct request *rq,
                               const char *name, const char *nodename)
{
  if (rq->logs)
    return proxy_answer(api, c, rq->logs);
  const char *follow = api_query(c, "follow"), *tail = api_query(c, "tail");
  long long ntail = -1;
  if (tail && *tail)
    {
      char *end = NULL;
      ntail = strtoll(tail, &end, 10);
      if (*end || ntail < 0)
        return api_send_error(api, c, 400, "tail: expected a non-negative number of lines");
    }
  bool f = follow && (strcmp(follow, "1") == 0 || strcmp(follow, "true") == 0);
  if (follow && !f && strcmp(follow, "0") != 0 && strcmp(follow, "false") != 0)
    return api_send_error(api, c, 400, "follow: expected true or false");
  if (*nodename == '\0')
    return api_send_error(api, c, 409, "replica `%s` is not bound to a node yet", name);
  struct view_node *vn = view_node(api->view, nodename);
  json_t *node = vn ? vn->obj : NULL;
  int64_t port = model_int(node, "agentPort", 0);
  if (node == NULL || port <= 0)
    return api_send_error(api, c, 409,
                          "node %s has no agent endpoint (agentPort 0: a fake runtime?); logs "
                          "need a real agent",
                          nodename);
  /* the agent serves only the cluster's servers: they present what it got at its join */
  const char *server_token = auth_server_token(api->cfg.auth, nodename);
  if (server_token == NULL || *server_token == '\0')
    return api_send_error(api, c, 409,
                          "node %s has no credential from a join, so its agent cannot tell this "
                          "server from a stranger: join it with a join token for logs",
                          nodename);
  pthread_mutex_lock(&all_lock);
  bool full = nall >= API_LOGS_MAX;
  pthread_mutex_unlock(&all_lock);
  if (full)
    return api_send_error(api, c, 503, "%d log streams open already: try again later",
                          API_LOGS_MAX);
  struct log_proxy *p = xzalloc(sizeof(*p));
  const union MHD_ConnectionInfo *ci
      = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  p->conn = c;
  p->client_fd = ci ? ci->connect_fd : -1;
  p->agent = xasprintf("%s://%s:%lld", model_str(node, "agentScheme", "http"),
                       model_str(node, "address", "127.0.0.1"), (long long)port);
  p->path = ntail >= 0 ? xasprintf("/v1/logs/%s?follow=%d&tail=%lld", name, f, ntail)
                       : xasprintf("/v1/logs/%s?follow=%d", name, f);
  p->node = xstrdup(nodename);
  p->token = xstrdup(server_token);
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->drained, NULL);
  p->refs = 2; /* the thread's, the request's (dropped in api_logs_request_done) */
  pthread_mutex_lock(&all_lock);
  p->next = all;
  all = p;
  nall++;
  pthread_mutex_unlock(&all_lock);
  rq->logs = p;
  pthread_mutex_lock(&p->lock);
  p->suspended = true;
  MHD_suspend_connection(c);
  pthread_mutex_unlock(&p->lock);
  pthread_t t;
  if (pthread_create(&t, NULL, proxy_thread, p) != 0)
    {
      pthread_mutex_lock(&p->lock);
      p->done = true;
      p->error_code = 500;
      p->error = xstrdup("cannot start a thread for the log stream");
      wake_locked(p);
      pthread_mutex_unlock(&p->lock);
      proxy_unref(p);
      return MHD_YES;
    }
  pthread_detach(t);
  return MHD_YES;
}

void api_logs_request_done(struct request *rq)
{
  struct log_proxy *p = rq->logs;
  if (p == NULL)
    return;
  rq->logs = NULL;
  pthread_mutex_lock(&p->lock);
  p->gone = true;
  pthread_cond_signal(&p->drained);
  pthread_mutex_unlock(&p->lock);
  proxy_unref(p);
}

void api_logs_shutdown(void)
{
  pthread_mutex_lock(&all_lock);
  for (struct log_proxy *p = all; p; p = p->next)
    {
      pthread_mutex_lock(&p->lock);
      p->gone = true;
      p->done = true;
      pthread_cond_signal(&p->drained);
      wake_locked(p);
      pthread_mutex_unlock(&p->lock);
    }
  pthread_mutex_unlock(&all_lock);
}
