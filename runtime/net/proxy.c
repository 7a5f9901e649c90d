/* proxy.c - the userspace TCP proxy (see proxy.h).
 *
 * Each accepted client gets a non-blocking connect to its upstream.  Both sockets of a
 * connection are registered once, edge-triggered, for input and output: an event on a side
 * pumps only the directions it concerns (its input, or output held back for it), so no
 * epoll_ctl is paid per event.  A direction reads into the loop's 64 KiB buffer and writes
 * straight on; a read shorter than the buffer proves the socket empty (its next bytes are a
 * new edge), so a request costs one recv and one send per direction.  splice() through a pipe
 * per direction (no copy through user memory) was measured slower for request-sized messages
 * (28 against 22-24 us of proxy CPU per request in tests/bench/nodeport): a pipe fills by
 * slots, not bytes, so a short splice proves nothing and every pass needs a third call to see
 * EAGAIN.  Only the bytes a slow destination cannot take yet are kept per connection.  A side
 * that reaches EOF is shut down for writing on the other side once its bytes are out; the
 * connection is freed when both directions are done.  Listening sockets are level-triggered
 * with EPOLLEXCLUSIVE, so one socket can feed several loops (threads).
 *
 * With limits set (proxy_set_limits; the published ports' monitor does), nobody can lock a
 * port out - a fixed table with no timeout once let 1,024 idle clients do it: connections
 * also sit in a list ordered by their last activity, so a connection idle for idle_ms, or
 * whose upstream connect is pending for connect_ms, is closed (proxy_expire); when the table
 * is full, the least recently active connection makes room for the newcomer; one client
 * address holds at most max_per_client. */
#define _GNU_SOURCE
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define PROXY_DEFAULT_MAX_CONNS 1024
#define PROXY_ACCEPT_BATCH 32
#define PROXY_EVENTS 64
#define PROXY_BUF (64 * 1024)

enum ep_kind
{
  EP_LISTENER,
  EP_SIDE,
  EP_HOOK,
};

struct conn;

struct endpoint
{
  enum ep_kind kind;
  int fd;
  struct conn *conn;         /* EP_SIDE */
  int side;                  /* EP_SIDE: 0 client, 1 upstream */
  struct sockaddr_in target; /* EP_LISTENER without pick */
  proxy_pick_fn pick;        /* EP_LISTENER: upstream chosen per client */
  void *arg;                 /* pick's or hook's argument */
  void (*hook)(void *);      /* EP_HOOK */
  bool due;                  /* EP_HOOK: readable in this batch */
  struct endpoint *next;     /* listeners and hooks */
};

struct half
{
  char *spill; /* bytes read but not yet taken by the destination (NULL: none) */
  size_t spill_len, spill_off;
  bool eof, shut;
};

struct conn
{
  struct endpoint ep[2];
  struct half dir[2]; /* dir[0]: client -> upstream, dir[1]: upstream -> client */
  bool connected;
  uint64_t tag;
  struct conn *prev, *next;
  uint32_t client;            /* client IPv4 address, network order */
  long long since;            /* last activity (or the accept), CLOCK_MONOTONIC ms */
  struct conn *older, *newer; /* activity list: p->oldest .. p->newest */
};

struct skiff_proxy
{
  int epfd;
  struct endpoint *listeners; /* and hooks */
  struct conn *conns;
  int n_conns, max_conns;
  char *buf;                    /* PROXY_BUF bytes: every read of the loop goes through it */
  struct proxy_limits lim;      /* max_per_client, idle_ms, connect_ms 0: off */
  struct conn *oldest, *newest; /* by last activity */
  long long next_expire;        /* proxy_expire scans at most every 250 ms */
};

static void lru_unlink(struct skiff_proxy *p, struct conn *c)
{
  if (c->older)
    c->older->newer = c->newer;
  else if (p->oldest == c)
    p->oldest = c->newer;
  if (c->newer)
    c->newer->older = c->older;
  else if (p->newest == c)
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

struct skiff_proxy *proxy_new(void)
{
  struct skiff_proxy *p = xzalloc(sizeof(*p));
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->max_conns = PROXY_DEFAULT_MAX_CONNS;
  p->buf = xmalloc(PROXY_BUF);
  return p;
}

int proxy_fd(struct skiff_proxy *p)
{
  return p->epfd;
}

void proxy_set_max_conns(struct skiff_proxy *p, int max)
{
  p->max_conns = max;
}

void proxy_set_limits(struct skiff_proxy *p, const struct proxy_limits *lim)
{
  p->lim = *lim;
  p->max_conns = lim->max_conns;
  /* a connection costs 2 fds: the table fits the fd limit */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
      && (rlim_t)p->max_conns * 2 + 64 > rl.rlim_cur)
    p->max_conns = rl.rlim_cur > 64 + 2 ? (int)((rl.rlim_cur - 64) / 2) : 1;
}

int proxy_conn_count(const struct skiff_proxy *p)
{
  return p->n_conns;
}

static int add_listener(struct skiff_proxy *p, int fd, const struct sockaddr_in *target,
                        proxy_pick_fn pick, void *arg, struct skiff_err **err)
{
  struct endpoint *l = xzalloc(sizeof(*l));
  l->kind = EP_LISTENER;
  l->fd = fd;
  if (target)
    l->target = *target;
  l->pick = pick;
  l->arg = arg;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = l};
  if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      int saved = errno;
      free(l);
      return skiff_error(err, saved, "epoll_ctl add listener");
    }
  l->next = p->listeners;
  p->listeners = l;
  return 0;
}

int proxy_add_listener(struct skiff_proxy *p, int fd, proxy_pick_fn pick, void *arg,
                       struct skiff_err **err)
{
  if (add_listener(p, fd, NULL, pick, arg, err) < 0)
    {
      close(fd);
      return -1;
    }
  return 0;
}

int proxy_add_hook(struct skiff_proxy *p, int fd, void (*fn)(void *), void *arg)
{
  struct endpoint *h = xzalloc(sizeof(*h));
  h->kind = EP_HOOK;
  h->fd = fd;
  h->hook = fn;
  h->arg = arg;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
  if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      free(h);
      return -1;
    }
  h->next = p->listeners;
  p->listeners = h;
  return 0;
}

void proxy_remove_listener(struct skiff_proxy *p, int fd)
{
  for (struct endpoint **l = &p->listeners; *l; l = &(*l)->next)
    if ((*l)->kind == EP_LISTENER && (*l)->fd == fd)
      {
        struct endpoint *dead = *l;
        *l = dead->next;
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
        free(dead);
        return;
      }
}

int proxy_add(struct skiff_proxy *p, const char *host_ip, int host_port, const char *target_ip,
              int target_port, struct skiff_err **err)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)host_port)};
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port)};
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (host_ip && inet_pton(AF_INET, host_ip, &a.sin_addr) != 1)
    return skiff_error(err, 0, "publish: `%s` is not an IPv4 address", host_ip);
  if (inet_pton(AF_INET, target_ip, &target.sin_addr) != 1)
    return skiff_error(err, 0, "publish: `%s` is not an IPv4 address", target_ip);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
      || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0)
    {
      int saved = errno;
      if (fd >= 0)
        close(fd);
      if (saved == EADDRINUSE)
        return skiff_error(err, 0, "publish %s:%d: port is already in use",
                           host_ip ? host_ip : "0.0.0.0", host_port);
      return skiff_error(err, saved, "listen on %s:%d", host_ip ? host_ip : "0.0.0.0", host_port);
    }
  if (add_listener(p, fd, &target, NULL, NULL, err) < 0)
    {
      close(fd);
      return -1;
    }
  return 0;
}

static void conn_free(struct skiff_proxy *p, struct conn *c)
{
  for (int i = 0; i < 2; i++)
    {
      if (c->ep[i].fd >= 0)
        close(c->ep[i].fd); /* closing drops it from the epoll set */
      free(c->dir[i].spill);
    }
  if (c->prev)
    c->prev->next = c->next;
  else if (p->conns == c)
    p->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  lru_unlink(p, c);
  p->n_conns--;
  free(c);
}

/* Abort the client's connection: RST, so a reader learns at once that no answer comes. */
static void reset_fd(int fd)
{
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
}

/* Write what direction h holds back to dst: true when nothing is left. */
static bool flush_spill(struct half *h, int dst, bool *broken)
{
  while (h->spill_off < h->spill_len)
    {
      ssize_t n = send(dst, h->spill + h->spill_off, h->spill_len - h->spill_off,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0)
        {
          *broken = errno != EAGAIN && errno != EINTR;
          return false;
        }
      h->spill_off += (size_t)n;
    }
  free(h->spill);
  h->spill = NULL;
  h->spill_len = h->spill_off = 0;
  return true;
}

/* Move what can move in the directions of dirs (bit d: direction d); returns false when the
 * connection is finished or broken.  A direction reads into the loop's buffer and writes
 * straight on; what the destination cannot take is kept (spill) until its EPOLLOUT.  A read
 * shorter than the buffer emptied the socket, so the next bytes are a new EPOLLIN edge and
 * reading on would only meet EAGAIN - unless an edge was spent without reading (the FIN may
 * sit behind the bytes, or the direction was blocked): the directions in drain read until
 * EAGAIN or EOF. */
static bool pump(struct skiff_proxy *p, struct conn *c, int dirs, int drain)
{
  for (int d = 0; d < 2; d++)
    {
      struct half *h = &c->dir[d];
      int src = c->ep[d].fd, dst = c->ep[1 - d].fd;
      bool broken = false;
      if (!(dirs & (1 << d)))
        continue;
      if (h->spill && !flush_spill(h, dst, &broken))
        {
          if (broken)
            return false;
          continue; /* dst is full: its EPOLLOUT edge brings us back */
        }
      while (!h->eof)
        {
          ssize_t n = recv(src, p->buf, PROXY_BUF, MSG_DONTWAIT);
          if (n == 0)
            h->eof = true;
          if (n <= 0)
            {
              if (n < 0 && errno != EAGAIN && errno != EINTR)
                return false;
              break; /* EOF, or src is empty: its next data is a new EPOLLIN edge */
            }
          ssize_t w = send(dst, p->buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
          if (w < 0 && errno != EAGAIN && errno != EINTR)
            return false;
          if (w < 0)
            w = 0;
          if (w < n)
            {
              h->spill_len = (size_t)(n - w);
              h->spill = xmalloc(h->spill_len);
              memcpy(h->spill, p->buf + w, h->spill_len);
              break;
            }
          if (n < PROXY_BUF && !(drain & (1 << d)))
            break;
        }
      if (h->eof && h->spill == NULL && !h->shut)
        {
          shutdown(dst, SHUT_WR);
          h->shut = true;
        }
    }
  return !(c->dir[0].shut && c->dir[1].shut);
}

static void conn_start(struct skiff_proxy *p, int cfd, const struct sockaddr_in *target,
                       uint64_t tag, uint32_t client)
{
  struct conn *c = xzalloc(sizeof(*c));
  int one = 1;
  p->n_conns++;
  c->tag = tag;
  c->client = client;
  c->since = skiff_now_ms();
  lru_append(p, c);
  c->next = p->conns;
  if (p->conns)
    p->conns->prev = c;
  p->conns = c;
  for (int i = 0; i < 2; i++)
    {
      c->ep[i].kind = EP_SIDE;
      c->ep[i].conn = c;
      c->ep[i].side = i;
    }
  c->ep[0].fd = cfd;
  c->ep[1].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->ep[1].fd < 0)
    {
      conn_free(p, c);
      return;
    }
  /* Forward small writes at once: a proxy that waits for an ACK (Nagle) turns a response
   * written in two parts into a 40 ms delayed-ACK stall. */
  setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(c->ep[1].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int r = connect(c->ep[1].fd, (const struct sockaddr *)target, sizeof(*target));
  if (r < 0 && errno != EINPROGRESS)
    {
      conn_free(p, c);
      return;
    }
  c->connected = r == 0;
  for (int i = 0; i < 2; i++)
    {
      struct epoll_event e
          = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->ep[i]};
      epoll_ctl(p->epfd, EPOLL_CTL_ADD, c->ep[i].fd, &e);
    }
}

static void conn_free_batch(struct skiff_proxy *p, struct conn *c, struct epoll_event *evs,
                            int from, int n);

static int client_count(struct skiff_proxy *p, uint32_t client)
{
  int n = 0;
  for (struct conn *c = p->oldest; c; c = c->newer)
    n += c->client == client;
  return n;
}

/* evs[from..n) is the rest of the batch: a connection freed to make room is forgotten there */
static void accept_some(struct skiff_proxy *p, struct endpoint *l, struct epoll_event *evs,
                        int from, int n)
{
  for (int k = 0; k < PROXY_ACCEPT_BATCH; k++)
    {
      struct sockaddr_in target = l->target, peer = {0};
      socklen_t plen = sizeof(peer);
      uint64_t tag = 0;
      int cfd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (cfd < 0)
        {
          /* out of fds: the client stays queued and the listener readable; with limits, free
             the least recently active connection so the next round can take it */
          if ((errno == EMFILE || errno == ENFILE) && p->lim.max_conns && p->oldest)
            conn_free_batch(p, p->oldest, evs, from, n);
          return; /* EAGAIN: another loop took it, or the queue is empty */
        }
      /* one address cannot take the port for itself */
      if (p->lim.max_per_client > 0
          && client_count(p, peer.sin_addr.s_addr) >= p->lim.max_per_client)
        {
          reset_fd(cfd);
          continue;
        }
      /* a full table: with limits, the least recently active goes and the newcomer is served */
      if (p->n_conns >= p->max_conns && p->lim.max_conns && p->oldest)
        conn_free_batch(p, p->oldest, evs, from, n);
      if (p->n_conns >= p->max_conns || (l->pick && l->pick(l->arg, &target, &tag) < 0))
        {
          reset_fd(cfd); /* bounded memory under a flood; no endpoint to send it to */
          continue;
        }
      conn_start(p, cfd, &target, tag, peer.sin_addr.s_addr);
    }
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

static void side_event(struct skiff_proxy *p, struct endpoint *e, uint32_t events,
                       struct epoll_event *evs, int i, int n)
{
  struct conn *c = e->conn;
  int dirs = 0, drain = 0;
  lru_touch(p, c); /* an event is progress: an idle or stalled peer makes none */
  if (!c->connected)
    {
      if (e->side == 0)
        return; /* the client's bytes wait in its socket until the connect completes */
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0)
        {
          conn_free_batch(p, c, evs, i + 1, n);
          return;
        }
      c->connected = true;
      dirs = drain = 3; /* edges seen before the connect are not repeated: pump everything */
    }
  else
    {
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        dirs |= 1 << e->side; /* input of side s feeds direction s */
      if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        drain |= 1 << e->side;
      /* side s drains direction 1-s, which waits only when it holds bytes: EPOLLOUT is in
       * almost every event and would cost a read that finds nothing */
      if ((events & (EPOLLHUP | EPOLLERR)) || ((events & EPOLLOUT) && c->dir[1 - e->side].spill))
        {
          dirs |= 1 << (1 - e->side);
          drain |= 1 << (1 - e->side); /* its input edges went unread while it was blocked */
        }
    }
  if (!pump(p, c, dirs, drain))
    conn_free_batch(p, c, evs, i + 1, n);
}

void proxy_run(struct skiff_proxy *p, int timeout_ms)
{
  struct epoll_event evs[PROXY_EVENTS];
  bool hooks = false;
  int n = epoll_wait(p->epfd, evs, PROXY_EVENTS, timeout_ms);
  for (int i = 0; i < n; i++)
    {
      struct endpoint *e = evs[i].data.ptr;
      if (e == NULL)
        continue; /* its connection was freed earlier in this batch */
      if (e->kind == EP_LISTENER)
        accept_some(p, e, evs, i + 1, n);
      else if (e->kind == EP_HOOK)
        hooks = e->due = true;
      else
        side_event(p, e, evs[i].events, evs, i, n);
    }
  /* Hooks last: no event of the batch points into a connection they may free.  Collected
   * first, since a hook may change the listener list. */
  struct endpoint *due[PROXY_EVENTS];
  int ndue = 0;
  for (struct endpoint *h = hooks ? p->listeners : NULL; h && ndue < PROXY_EVENTS; h = h->next)
    if (h->kind == EP_HOOK && h->due)
      {
        h->due = false;
        due[ndue++] = h;
      }
  for (int i = 0; i < ndue; i++)
    due[i]->hook(due[i]->arg);
}

void proxy_dispatch(struct skiff_proxy *p)
{
  proxy_run(p, 0);
}

int proxy_timeout_ms(struct skiff_proxy *p)
{
  if (p->oldest == NULL || (p->lim.idle_ms <= 0 && p->lim.connect_ms <= 0))
    return -1;
  long long now = skiff_now_ms();
  long long due = p->lim.idle_ms > 0 ? p->oldest->since + p->lim.idle_ms - now : 1000;
  if (due > 1000)
    due = 1000; /* pending connects are checked every second */
  if (due < p->next_expire - now)
    due = p->next_expire - now; /* expire would not scan sooner: no busy wait */
  return due < 0 ? 0 : (int)due;
}

void proxy_expire(struct skiff_proxy *p)
{
  long long now = skiff_now_ms();
  if (now < p->next_expire || (p->lim.idle_ms <= 0 && p->lim.connect_ms <= 0))
    return;
  p->next_expire = now + 250;
  long long idle = p->lim.idle_ms > 0 ? p->lim.idle_ms : -1;
  long long connect = p->lim.connect_ms > 0 ? p->lim.connect_ms : -1;
  for (struct conn *c = p->oldest, *next; c; c = next)
    {
      next = c->newer;
      long long quiet = now - c->since;
      if ((idle >= 0 && quiet >= idle) || (connect >= 0 && !c->connected && quiet >= connect))
        conn_free(p, c);
      else if (connect < 0 || quiet < connect)
        break; /* the rest are newer still: nothing to expire there */
    }
}

size_t proxy_reset_if(struct skiff_proxy *p, bool (*keep)(void *arg, uint64_t tag), void *arg)
{
  size_t n = 0;
  for (struct conn *c = p->conns, *next; c; c = next)
    {
      next = c->next;
      if (keep(arg, c->tag))
        continue;
      reset_fd(c->ep[0].fd);
      c->ep[0].fd = -1;
      conn_free(p, c);
      n++;
    }
  return n;
}

void proxy_free(struct skiff_proxy *p)
{
  if (p == NULL)
    return;
  while (p->conns)
    conn_free(p, p->conns);
  struct endpoint *l = p->listeners;
  while (l)
    {
      struct endpoint *next = l->next;
      if (l->kind == EP_LISTENER)
        close(l->fd); /* hooks' fds belong to whoever added them */
      free(l);
      l = next;
    }
  close(p->epfd);
  free(p->buf);
  free(p);
}
