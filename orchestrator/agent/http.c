/* http.c - the node's HTTP endpoint (the kubelet's port 10250, in small): the server fetches a
 * replica's log here for `skiffctl logs`.  Routes:
 *   GET /healthz                                  200 ok (no auth)
 *   GET /v1/logs/REPLICA[?follow=1][&tail=N]      text/plain: the log, then what comes
 * Every other request needs what the cluster's servers present to this node, given at its
 * join (agent_http_authorized).
 *
 * Logs are files under <root>/logs: REPLICA.log and, after a rotation, REPLICA.log.1 (the
 * container's monitor writes them and rotates at --log-max, so a replica holds at most two
 * files).  A follow reads on as the file grows, across rotations and restarts of the
 * replica, and ends when the replica is gone from the node or the client leaves.
 *
 * Threads: libmicrohttpd runs a thread per connection (at most HTTP_MAX_CONNS), each reads
 * only files; the set of live replicas is shared with the sync loop under `lock`. */
#include "agent_internal.h"
#include "decide.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HTTP_MAX_CONNS 16
#define HTTP_TAIL_WINDOW (4 * 1024 * 1024) /* --tail looks at most this far back */

struct agent_http
{
  struct agent_node *node;
  struct MHD_Daemon *d;
  pthread_mutex_t lock;
  json_t *live; /* replica name -> true */
};

bool agent_http_authorized(const struct agent_node *node, const char *authorization)
{
  /* what the join gave for server calls (API.md): constant-time compare */
  return agent_credentials_server_call(&node->creds, node->name, authorization);
}

void agent_http_set_live(struct agent_http *h, const char *replica, bool live)
{
  if (h == NULL)
    return;
  pthread_mutex_lock(&h->lock);
  if (live)
    json_object_set_new(h->live, replica, json_true());
  else
    json_object_del(h->live, replica);
  pthread_mutex_unlock(&h->lock);
}

static bool is_live(struct agent_http *h, const char *replica)
{
  pthread_mutex_lock(&h->lock);
  bool live = json_object_get(h->live, replica) != NULL;
  pthread_mutex_unlock(&h->lock);
  return live;
}

/* ---- one log stream ---------------------------------------------------------------------- */

struct log_stream
{
  struct agent_http *h;
  struct MHD_Connection *conn;
  char *name, *path;
  int fd;
  bool follow;
  off_t pos, end; /* without follow: what the file held when asked, and no more */
  char *head;     /* bytes to send first (the tail of REPLICA.log.1) */
  size_t head_len, head_off;
};

/* Where the last n lines of the file's first `size` bytes start; *lines = how many lines that
 * part holds. */
static off_t tail_start(int fd, off_t size, long n, long *lines)
{
  *lines = 0;
  if (fd < 0 || size <= 0)
    return 0;
  off_t from = size > HTTP_TAIL_WINDOW ? size - HTTP_TAIL_WINDOW : 0;
  size_t len = (size_t)(size - from);
  char *buf = xmalloc(len);
  ssize_t got = pread(fd, buf, len, from);
  if (got <= 0)
    {
      free(buf);
      return 0;
    }
  size_t off = agent_tail_offset(buf, (size_t)got, n);
  *lines = agent_count_lines(buf + off, (size_t)got - off);
  if (from > 0 && off == 0)
    *lines = n; /* the window holds fewer lines than asked for: no older file is needed */
  free(buf);
  return from + (off_t)off;
}

static ssize_t log_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct log_stream *s = cls;
  (void)pos;
  if (s->head_off < s->head_len)
    {
      size_t n = s->head_len - s->head_off < max ? s->head_len - s->head_off : max;
      memcpy(buf, s->head + s->head_off, n);
      s->head_off += n;
      return (ssize_t)n;
    }
  for (;;)
    {
      if (!s->follow && s->end - s->pos < (off_t)max)
        max = s->end > s->pos ? (size_t)(s->end - s->pos) : 0;
      ssize_t n = s->fd >= 0 && max > 0 ? read(s->fd, buf, max) : 0;
      if (n > 0)
        {
          s->pos += n;
          return n;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (!s->follow)
        return MHD_CONTENT_READER_END_OF_STREAM;
      /* rotated (or created) under us: go on with the new file */
      struct stat a, b;
      if (stat(s->path, &b) == 0 && (s->fd < 0 || (fstat(s->fd, &a) == 0 && a.st_ino != b.st_ino)))
        {
          if (s->fd >= 0)
            close(s->fd);
          s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
          continue;
        }
      if (!is_live(s->h, s->name))
        return MHD_CONTENT_READER_END_OF_STREAM;
      /* wait for more, but notice a client that left */
      const union MHD_ConnectionInfo *ci
          = MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
      struct pollfd p = {.fd = ci ? ci->connect_fd : -1, .events = POLLRDHUP};
      if (poll(&p, 1, 200) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return MHD_CONTENT_READER_END_WITH_ERROR;
      if (agent_stopping)
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
}

static void log_free(void *cls)
{
  struct log_stream *s = cls;
  if (s->fd >= 0)
    close(s->fd);
  free(s->name);
  free(s->path);
  free(s->head);
  free(s);
}

/* ---- routing ----------------------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *ctype,
                                 char *text)
{
  struct MHD_Response *r
      = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", ctype);
  if (code == 401)
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *msg)
{
  json_t *b = json_pack("{s:s,s:i}", "error", msg, "code", (int)code);
  char *s = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  char *t = xasprintf("%s\n", s);
  free(s);
  return send_text(c, code, "application/json", t);
}

static bool valid_name(const char *s)
{
  if (*s == '\0' || strlen(s) > 200)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
      return false;
  return true;
}

static enum MHD_Result route_logs(struct agent_http *h, struct MHD_Connection *c, const char *name)
{
  struct agent_node *n = h->node;
  const char *f = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow");
  const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "tail");
  long tail = -1;
  if (!valid_name(name))
    return send_error(c, 400, "replica: expected a replica name");
  if (t && *t)
    {
      char *end = NULL;
      errno = 0;
      tail = strtol(t, &end, 10);
      if (errno || *end || tail < 0)
        return send_error(c, 400, "tail: expected a non-negative number of lines");
    }
  struct log_stream *s = xzalloc(sizeof(*s));
  s->h = h;
  s->conn = c;
  s->name = xstrdup(name);
  s->path = xasprintf("%s/%s.log", n->log_dir, name);
  s->follow = f && (strcmp(f, "1") == 0 || strcmp(f, "true") == 0);
  s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
  cleanup_free char *old = xasprintf("%s.1", s->path);
  cleanup_close int ofd = open(old, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0 && ofd < 0 && !is_live(h, name))
    {
      log_free(s);
      cleanup_free char *msg = xasprintf("no logs of replica `%s` on node %s", name, n->name);
      return send_error(c, 404, msg);
    }
  /* what comes from REPLICA.log.1: all of it, or the part --tail still wants */
  /* the sizes now: a tail counts in them, and without follow nothing later is sent */
  long have = 0;
  off_t start = 0;
  struct stat cur, old_st;
  s->end = s->fd >= 0 && fstat(s->fd, &cur) == 0 ? cur.st_size : 0;
  off_t old_size = ofd >= 0 && fstat(ofd, &old_st) == 0 ? old_st.st_size : 0;
  if (tail >= 0)
    start = tail_start(s->fd, s->end, tail, &have);
  if (ofd >= 0 && (tail < 0 || have < tail))
    {
      long more = 0;
      off_t ostart = tail < 0 ? 0 : tail_start(ofd, old_size, tail - have, &more);
      if (old_size > ostart)
        {
          s->head_len = (size_t)(old_size - ostart);
          s->head = xmalloc(s->head_len);
          ssize_t got = pread(ofd, s->head, s->head_len, ostart);
          s->head_len = got > 0 ? (size_t)got : 0;
        }
    }
  s->pos = start;
  if (s->fd >= 0)
    lseek(s->fd, start, SEEK_SET);
  struct MHD_Response *r
      = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, log_read, s, log_free);
  MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  enum MHD_Result ret = MHD_queue_response(c, 200, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
  struct agent_http *h = cls;
  (void)version;
  (void)upload;
  if (*con_cls == NULL)
    {
      *con_cls = h; /* first call: headers only */
      return MHD_YES;
    }
  if (*upload_size > 0)
    {
      *upload_size = 0; /* no route takes a body: drop it */
      return MHD_YES;
    }
  if (strcmp(url, "/healthz") == 0)
    return send_text(c, 200, "text/plain", xstrdup("ok\n"));
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (!agent_http_authorized(h->node, auth))
    return send_error(c, 401, "missing or wrong bearer token");
  if (strncmp(url, "/v1/logs/", 9) == 0)
    {
      if (strcmp(method, "GET") != 0)
        return send_error(c, 405, "method not allowed");
      return route_logs(h, c, url + 9);
    }
  cleanup_free char *msg = xasprintf("no route for %s", url);
  return send_error(c, 404, msg);
}

struct agent_http *agent_http_start(struct agent_node *node, int port, struct skiff_err **err)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, node->address, &sa.sin_addr) != 1)
    {
      skiff_error(err, 0, "--address `%s`: expected an IPv4 address", node->address);
      return NULL;
    }
  struct agent_http *h = xzalloc(sizeof(*h));
  h->node = node;
  h->live = json_object();
  pthread_mutex_init(&h->lock, NULL);
  /* HTTPS with the certificate the server signed at the join (the servers check it against
   * the cluster CA); plain HTTP only for a node that did not join */
  const char *cert = node->creds.serving_cert, *key = node->creds.serving_key;
  unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  if (cert && key)
    h->d = MHD_start_daemon(
        flags | MHD_USE_TLS, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
  else
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned int)HTTP_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned int)30, MHD_OPTION_END);
  if (h->d == NULL)
    {
      skiff_error(err, errno ? errno : EADDRINUSE, "agent endpoint: listen on %s:%d", node->address,
                  port);
      json_decref(h->live);
      free(h);
      return NULL;
    }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  node->agent_port = di ? (int)di->port : port;
  return h;
}

void agent_http_stop(struct agent_http *h)
{
  if (h == NULL)
    return;
  MHD_stop_daemon(h->d);
  json_decref(h->live);
  free(h);
}
