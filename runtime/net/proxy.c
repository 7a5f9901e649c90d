/* proxy.c - published ports as a userspace TCP proxy in the monitor (see proxy.h).
 *
 * Each accepted client gets a non-blocking connect to the container address and two
 * half-duplex pipes; bytes move with splice() (socket -> pipe -> socket) and never enter
 * user memory.  A side that reaches EOF is shut down for writing on the other side once
 * its pipe is drained; the connection is freed when both directions are done.
 *
 * Nobody can lock a port out (a fixed table once let 1,024 idle clients do it): the
 * connections sit in a list ordered by their last activity, so a connection idle for
 * idle_ms, or an upstream connect pending for connect_ms, is closed, and when the table
 * is full the least recently active connection makes room for the newcomer.  One client
 * address holds at most max_per_client connections. */
#define _GNU_SOURCE
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

enum ep_kind
{
  EP_LISTENER,
  EP_SIDE
};

struct conn;

struct endpoint
{
  enum ep_kind kind;
  int fd;
  struct conn *conn;         /* EP_SIDE */
  int side;                  /* 0 client, 1 upstream */
  struct sockaddr_in target; /* EP_LISTENER */
  struct endpoint *next;     /* listeners list */
};

struct half
{
  int pipe[2];
  size_t buffered;
  bool eof, shut;
};

struct conn
{
  struct endpoint ep[2];
  struct half dir[2]; /* dir[0]: client -> upstream, dir[1]: upstream -> client */
  bool connected;
  uint32_t client;            /* client IPv4 address, network order */
  long long since;            /* last activity (or the accept), CLOCK_MONOTONIC ms */
  struct conn *older, *newer; /* activity list: p->oldest .. p->newest */
};

struct skiff_proxy
{
  int epfd;
  struct endpoint *listeners;
  int n_conns;
  struct proxy_limits lim;
  struct conn *oldest, *newest;
  long long next_expire; /* proxy_expire scans at most every 250 ms */
};

static void lru_unlink(struct skiff_proxy *p, struct conn *c)
{
  if (c->older)
    c->older->newer = c->newer;
  else
    p->oldest = c->newer;
  if (c->newer)
    c->newer->older = c->older;
  else
    p->newest = c->older;
  c->older = c->newer = NULL;
}

static void lru_append(struct skiff_proxy *p, struct conn *c)
{
  c->older = p->newest;
  c->newer = NULL;
  if (p->newest)
    p->newest->newer = c;
  else
    p->oldest = c;
  p->newest = c;
}

/* c did something now: it becomes the newest. */
static void lru_touch(struct skiff_proxy *p, struct conn *c)
{
  if (p->newest != c)
    {
      lru_unlink(p, c);
      lru_append(p, c);
    }
  c->since = skiff_now_ms();
}

int proxy_parse_publish(const char *spec, char **host_ip, int *host_port, int *container_port,
                        struct skiff_err **err)
{
  cleanup_free char *s = xstrdup(spec);
  char *proto = strchr(s, '/');
  if (proto)
    {
      *proto++ = '\0';
      if (strcmp(proto, "tcp") != 0)
        return skiff_error(err, 0, "-p `%s`: only tcp is supported", spec);
    }
  char *parts[3] = {NULL, NULL, NULL};
  int n = 0;
  char *save = NULL;
  /* split on ':' keeping empty fields out */
  (void)save;
  for (char *t = s, *next; t; t = next)
    {
      if (n == 3)
        return skiff_error(err, 0, "-p `%s`: expected [IP:]HOSTPORT:CONTAINERPORT[/tcp]", spec);
      next = strchr(t, ':');
      if (next)
        *next++ = '\0';
      if (*t == '\0') /* "8080::80": an empty field is a mistake, not a separator */
        return skiff_error(err, 0, "-p `%s`: expected [IP:]HOSTPORT:CONTAINERPORT[/tcp]", spec);
      parts[n++] = t;
    }
  if (n < 2)
    return skiff_error(err, 0, "-p `%s`: expected [IP:]HOSTPORT:CONTAINERPORT[/tcp]", spec);
  const char *hp = parts[n - 2], *cp = parts[n - 1];
  int v[2];
  const char *txt[2] = {hp, cp};
  for (int i = 0; i < 2; i++)
    {
      char *end = NULL;
      long x = strtol(txt[i], &end, 10);
      if (end == txt[i] || *end || x < 1 || x > 65535)
        return skiff_error(err, 0, "-p `%s`: `%s` is not a port (1-65535)", spec, txt[i]);
      v[i] = (int)x;
    }
  if (n == 3)
    {
      struct in_addr a;
      if (inet_pton(AF_INET, parts[0], &a) != 1)
        return skiff_error(err, 0, "-p `%s`: `%s` is not an IPv4 address", spec, parts[0]);
    }
  *host_ip = n == 3 ? xstrdup(parts[0]) : NULL;
  *host_port = v[0];
  *container_port = v[1];
  return 0;
}

struct skiff_proxy *proxy_new(const struct proxy_limits *lim, struct skiff_err **err)
{
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0)
    {
      skiff_error(err, errno, "publish: epoll_create1");
      return NULL;
    }
  struct skiff_proxy *p = xzalloc(sizeof(*p));
  p->epfd = epfd;
  p->lim = lim ? *lim : (struct proxy_limits)PROXY_DEFAULT_LIMITS;
  /* a connection costs 6 fds (2 sockets, 2 pipes): the table fits the fd limit */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
      && (rlim_t)p->lim.max_conns * 6 + 64 > rl.rlim_cur)
    p->lim.max_conns = rl.rlim_cur > 64 + 6 ? (int)((rl.rlim_cur - 64) / 6) : 1;
  return p;
}

int proxy_fd(struct skiff_proxy *p)
{
  return p->epfd;
}

int proxy_add(struct skiff_proxy *p, const char *host_ip, int host_port, const char *target_ip,
              int target_port, struct skiff_err **err)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)host_port)};
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (host_ip && inet_pton(AF_INET, host_ip, &a.sin_addr) != 1)
    return skiff_error(err, 0, "publish: `%s` is not an IPv4 address", host_ip);
  struct endpoint *l = xzalloc(sizeof(*l));
  l->kind = EP_LISTENER;
  l->target.sin_family = AF_INET;
  l->target.sin_port = htons((uint16_t)target_port);
  if (inet_pton(AF_INET, target_ip, &l->target.sin_addr) != 1)
    {
      free(l);
      return skiff_error(err, 0, "publish: `%s` is not an IPv4 address", target_ip);
    }
  l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
      || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l->fd, 128) < 0)
    {
      int saved = errno;
      if (l->fd >= 0)
        close(l->fd);
      free(l);
      if (saved == EADDRINUSE)
        return skiff_error(err, 0, "publish %s:%d: port is already in use",
                           host_ip ? host_ip : "0.0.0.0", host_port);
      return skiff_error(err, saved, "listen on %s:%d", host_ip ? host_ip : "0.0.0.0", host_port);
    }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
  if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
    {
      int saved = errno;
      close(l->fd);
      free(l);
      return skiff_error(err, saved, "publish %s:%d: epoll_ctl", host_ip ? host_ip : "0.0.0.0",
                         host_port);
    }
  l->next = p->listeners;
  p->listeners = l;
  return 0;
}

static void conn_free(struct skiff_proxy *p, struct conn *c)
{
  for (int i = 0; i < 2; i++)
    {
      if (c->ep[i].fd >= 0)
        {
          epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->ep[i].fd, NULL);
          close(c->ep[i].fd);
        }
      for (int j = 0; j < 2; j++)
        if (c->dir[i].pipe[j] >= 0)
          close(c->dir[i].pipe[j]);
    }
  lru_unlink(p, c);
  p->n_conns--;
  free(c);
}

static void update_events(struct skiff_proxy *p, struct conn *c)
{
  for (int s = 0; s < 2; s++)
    {
      /* side s reads into dir[s] and writes out of dir[1-s] */
      uint32_t ev = 0;
      if (c->connected || s == 0)
        {
          if (!c->dir[s].eof && c->dir[s].buffered == 0)
            ev |= EPOLLIN;
          if (c->dir[1 - s].buffered > 0)
            ev |= EPOLLOUT;
        }
      if (s == 1 && !c->connected)
        ev = EPOLLOUT; /* the non-blocking connect completes */
      if (s == 0 && !c->connected)
        ev = 0;
      struct epoll_event e = {.events = ev, .data.ptr = &c->ep[s]};
      epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->ep[s].fd, &e);
    }
}

/* Move what can move; returns false when the connection is finished or broken. */
static bool pump(struct conn *c)
{
  for (int d = 0; d < 2; d++)
    {
      struct half *h = &c->dir[d];
      int src = c->ep[d].fd, dst = c->ep[1 - d].fd;
      if (!h->eof && h->buffered == 0)
        {
          ssize_t n
              = splice(src, NULL, h->pipe[1], NULL, 1 << 16, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
          if (n == 0)
            h->eof = true;
          else if (n > 0)
            h->buffered += (size_t)n;
          else if (errno != EAGAIN)
            return false;
        }
      while (h->buffered > 0)
        {
          ssize_t n
              = splice(h->pipe[0], NULL, dst, NULL, h->buffered, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
          if (n > 0)
            h->buffered -= (size_t)n;
          else if (n < 0 && errno == EAGAIN)
            break;
          else
            return false;
        }
      if (h->eof && h->buffered == 0 && !h->shut)
        {
          shutdown(dst, SHUT_WR);
          h->shut = true;
        }
    }
  return !(c->dir[0].shut && c->dir[1].shut);
}

static int client_count(struct skiff_proxy *p, uint32_t client)
{
  int n = 0;
  for (struct conn *c = p->oldest; c; c = c->newer)
    n += c->client == client;
  return n;
}

static void conn_free_batch(struct skiff_proxy *p, struct conn *c, struct epoll_event *evs,
                            int from, int n);

/* evs[from..n) is the rest of the dispatch batch: an evicted connection is forgotten there */
static void accept_one(struct skiff_proxy *p, struct endpoint *l, struct epoll_event *evs, int from,
                       int n)
{
  struct sockaddr_in peer = {0};
  socklen_t plen = sizeof(peer);
  int cfd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (cfd < 0)
    {
      /* out of fds: the client stays queued and the listener readable; free the least
         recently active connection so the next round can take it (no busy loop) */
      if ((errno == EMFILE || errno == ENFILE) && p->oldest)
        conn_free_batch(p, p->oldest, evs, from, n);
      return;
    }
  /* one address cannot take the port for itself */
  if (client_count(p, peer.sin_addr.s_addr) >= p->lim.max_per_client)
    {
      close(cfd);
      return;
    }
  /* bounded memory, and still room for a newcomer: the least recently active goes */
  if (p->n_conns >= p->lim.max_conns && p->oldest)
    conn_free_batch(p, p->oldest, evs, from, n);
  struct conn *c = xzalloc(sizeof(*c));
  p->n_conns++;
  c->client = peer.sin_addr.s_addr;
  c->since = skiff_now_ms();
  lru_append(p, c);
  for (int i = 0; i < 2; i++)
    {
      c->ep[i].kind = EP_SIDE;
      c->ep[i].conn = c;
      c->ep[i].side = i;
      c->dir[i].pipe[0] = c->dir[i].pipe[1] = -1;
    }
  c->ep[0].fd = cfd;
  c->ep[1].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->ep[1].fd < 0 || pipe2(c->dir[0].pipe, O_NONBLOCK | O_CLOEXEC) < 0
      || pipe2(c->dir[1].pipe, O_NONBLOCK | O_CLOEXEC) < 0)
    {
      if (c->ep[1].fd < 0)
        c->ep[1].fd = -1;
      conn_free(p, c);
      return;
    }
  int r = connect(c->ep[1].fd, (struct sockaddr *)&l->target, sizeof(l->target));
  if (r < 0 && errno != EINPROGRESS)
    {
      conn_free(p, c);
      return;
    }
  c->connected = r == 0;
  for (int i = 0; i < 2; i++)
    {
      struct epoll_event e = {.events = 0, .data.ptr = &c->ep[i]};
      if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, c->ep[i].fd, &e) < 0)
        {
          conn_free(p, c); /* it would never be served */
          return;
        }
    }
  update_events(p, c);
}

/* Free c, and forget the events of this batch that still point into it (both of its
 * sides can be ready at once: the second would be a use after free). */
static void conn_free_batch(struct skiff_proxy *p, struct conn *c, struct epoll_event *evs,
                            int from, int n)
{
  for (int j = from; j < n; j++)
    if (evs[j].data.ptr == &c->ep[0] || evs[j].data.ptr == &c->ep[1])
      evs[j].data.ptr = NULL;
  conn_free(p, c);
}

void proxy_dispatch(struct skiff_proxy *p)
{
  struct epoll_event evs[64];
  int n = epoll_wait(p->epfd, evs, 64, 0);
  for (int i = 0; i < n; i++)
    {
      struct endpoint *e = evs[i].data.ptr;
      if (e == NULL)
        continue; /* its connection was freed earlier in this batch */
      if (e->kind == EP_LISTENER)
        {
          accept_one(p, e, evs, i + 1, n);
          continue;
        }
      struct conn *c = e->conn;
      lru_touch(p, c); /* an event is progress: an idle or stalled peer makes none */
      if (!c->connected && e->side == 1)
        {
          int soerr = 0;
          socklen_t len = sizeof(soerr);
          getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
          if (soerr != 0)
            {
              conn_free_batch(p, c, evs, i + 1, n);
              continue;
            }
          c->connected = true;
        }
      if (!c->connected)
        continue;
      if (!pump(c))
        {
          conn_free_batch(p, c, evs, i + 1, n);
          continue;
        }
      update_events(p, c);
    }
}

int proxy_timeout_ms(struct skiff_proxy *p)
{
  if (p->oldest == NULL)
    return -1;
  long long now = skiff_now_ms();
  long long due = p->oldest->since + p->lim.idle_ms - now;
  if (due > 1000)
    due = 1000; /* pending connects are checked every second */
  if (due < p->next_expire - now)
    due = p->next_expire - now; /* expire would not scan sooner: no busy wait */
  return due < 0 ? 0 : (int)due;
}

void proxy_expire(struct skiff_proxy *p)
{
  long long now = skiff_now_ms();
  if (now < p->next_expire)
    return;
  p->next_expire = now + 250;
  struct conn *c = p->oldest, *next;
  for (; c; c = next)
    {
      next = c->newer;
      long long quiet = now - c->since;
      if (quiet >= p->lim.idle_ms || (!c->connected && quiet >= p->lim.connect_ms))
        conn_free(p, c);
      else if (quiet < p->lim.connect_ms)
        break; /* the rest are newer still: nothing to expire there */
    }
}

int proxy_conn_count(const struct skiff_proxy *p)
{
  return p->n_conns;
}

void proxy_free(struct skiff_proxy *p)
{
  if (p == NULL)
    return;
  while (p->oldest)
    conn_free(p, p->oldest);
  struct endpoint *l = p->listeners;
  while (l)
    {
      struct endpoint *next = l->next;
      close(l->fd);
      free(l);
      l = next;
    }
  close(p->epfd);
  free(p);
}
