/* proxy.c - published ports as a userspace TCP proxy in the monitor (see proxy.h).
 *
 * Each accepted client gets a non-blocking connect to the container address and two
 * half-duplex pipes; bytes move with splice() (socket -> pipe -> socket) and never enter
 * user memory.  A side that reaches EOF is shut down for writing on the other side once
 * its pipe is drained; the connection is freed when both directions are done. */
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
#include <sys/socket.h>

#define PROXY_MAX_CONNS 1024

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
};

struct skiff_proxy
{
  int epfd;
  struct endpoint *listeners;
  int n_conns;
};

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

struct skiff_proxy *proxy_new(void)
{
  struct skiff_proxy *p = xzalloc(sizeof(*p));
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
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
  epoll_ctl(p->epfd, EPOLL_CTL_ADD, l->fd, &ev);
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

static void accept_one(struct skiff_proxy *p, struct endpoint *l)
{
  int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (cfd < 0)
    return;
  if (p->n_conns >= PROXY_MAX_CONNS)
    {
      close(cfd); /* bounded memory under a connection flood */
      return;
    }
  struct conn *c = xzalloc(sizeof(*c));
  p->n_conns++;
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
      epoll_ctl(p->epfd, EPOLL_CTL_ADD, c->ep[i].fd, &e);
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
          accept_one(p, e);
          continue;
        }
      struct conn *c = e->conn;
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

void proxy_free(struct skiff_proxy *p)
{
  if (p == NULL)
    return;
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
