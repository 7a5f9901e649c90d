/* tlsio.c - the socket I/O under the API's TLS connections (see tlsio.h).
 *
 * Why read-ahead is safe under libmicrohttpd's edge-triggered epoll: for a TLS connection
 * it forgets that a socket is readable only when a read ends in EAGAIN, and tlsio_pull
 * returns EAGAIN only once its buffer is empty, so bytes held here are always read before
 * it waits for the next edge, as bytes left in the socket would be.
 *
 * Why write-combining is: what is held is sent at the end of the same event-loop pass
 * (api_run calls tlsio_flush_all after every MHD_run), before the connection is closed
 * (tlsio_detach, from libmicrohttpd's close notice, while the socket is still open), and
 * what the socket does not take then is tried again every pass: the socket stays in
 * libmicrohttpd's epoll set for EPOLLOUT (edge-triggered), so its draining wakes the loop,
 * and the loop passes at least every 100 ms anyway.  libmicrohttpd is told EAGAIN only when
 * the socket itself refused bytes, so the edge it then waits for does come.  At most
 * TLSIO_WRITE_SIZE bytes are held per connection. */
#include "tlsio.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>

/* ---- the buffers (pure) ---- */

size_t tlsio_pending_read(const struct tlsio *io)
{
  return io->rlen - io->roff;
}

ssize_t tlsio_pull(struct tlsio *io, void *dst, size_t n, tlsio_read_fn read, void *arg)
{
  if (n == 0)
    return 0;
  if (io->roff == io->rlen)
    {
      io->roff = io->rlen = 0;
      if (n >= sizeof(io->rbuf))
        return read(arg, dst, n);
      ssize_t r = read(arg, io->rbuf, sizeof(io->rbuf));
      if (r <= 0)
        return r;
      io->rlen = (size_t)r;
    }
  size_t k = tlsio_pending_read(io) < n ? tlsio_pending_read(io) : n;
  memcpy(dst, io->rbuf + io->roff, k);
  io->roff += k;
  return (ssize_t)k;
}

int tlsio_send_held(struct tlsio *io, tlsio_write_fn write, void *arg)
{
  while (io->wlen > 0)
    {
      struct iovec v = {.iov_base = io->wbuf, .iov_len = io->wlen};
      ssize_t r = write(arg, &v, 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      if (r == 0)
        {
          errno = EAGAIN;
          return -1;
        }
      memmove(io->wbuf, io->wbuf + r, io->wlen - (size_t)r);
      io->wlen -= (size_t)r;
    }
  return 0;
}

ssize_t tlsio_push(struct tlsio *io, const struct iovec *iov, int iovcnt, tlsio_write_fn write,
                   void *arg)
{
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++)
    total += iov[i].iov_len;
  if (total == 0)
    return 0;
  /* a large record goes out at once: send what is held first (order), then it */
  if (total > sizeof(io->wbuf) - io->wlen && io->wlen > 0 && tlsio_send_held(io, write, arg) < 0
      && errno != EAGAIN)
    return -1;
  if (total <= sizeof(io->wbuf) - io->wlen)
    {
      for (int i = 0; i < iovcnt; i++)
        {
          memcpy(io->wbuf + io->wlen, iov[i].iov_base, iov[i].iov_len);
          io->wlen += iov[i].iov_len;
        }
      return (ssize_t)total;
    }
  if (io->wlen > 0)
    {
      errno = EAGAIN; /* the socket refused what is held: wait for it to drain */
      return -1;
    }
  return write(arg, iov, iovcnt);
}

/* ---- on the socket ---- */

static ssize_t socket_read(void *arg, void *buf, size_t n)
{
  return recv(((struct tlsio *)arg)->fd, buf, n, 0);
}

static ssize_t socket_write(void *arg, const struct iovec *iov, int iovcnt)
{
  struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
  return sendmsg(((struct tlsio *)arg)->fd, &m, MSG_NOSIGNAL);
}

/* libmicrohttpd corks the socket (TCP_CORK) before the first response's headers and then
 * keeps it corked, pushing each response out by setting TCP_NODELAY after its last send;
 * a send of ours after that push would wait in the cork.  It never corks again once it
 * has (it remembers the socket as corked), so the cork is taken off once, the first time
 * it is found on; after that every send leaves at once (TCP_NODELAY is on). */
static ssize_t held_send(void *arg, const struct iovec *iov, int iovcnt)
{
  struct tlsio *io = arg;
  if (!io->uncorked)
    {
      int on = 0;
      socklen_t len = sizeof(on);
      if (getsockopt(io->fd, IPPROTO_TCP, TCP_CORK, &on, &len) == 0 && on)
        {
          int off = 0;
          if (setsockopt(io->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off)) == 0)
            io->uncorked = true;
        }
    }
  return socket_write(io, iov, iovcnt);
}

static void list_add(struct tlsio *io)
{
  if (io->listed || io->set == NULL)
    return;
  io->prev = NULL;
  io->next = io->set->head;
  if (io->next)
    io->next->prev = io;
  io->set->head = io;
  io->listed = true;
}

static void list_del(struct tlsio *io)
{
  if (!io->listed)
    return;
  if (io->prev)
    io->prev->next = io->next;
  else
    io->set->head = io->next;
  if (io->next)
    io->next->prev = io->prev;
  io->prev = io->next = NULL;
  io->listed = false;
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *dst, size_t n)
{
  return tlsio_pull(p, dst, n, socket_read, p);
}

/* GnuTLS asks this (with a timeout) only when it waits on its own; bytes held count. */
static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
  struct tlsio *io = p;
  if (tlsio_pending_read(io) > 0)
    return 1;
  struct pollfd pfd = {.fd = io->fd, .events = POLLIN};
  return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
  struct tlsio *io = p;
  /* giovec_t is struct iovec's layout (GnuTLS defines it so for writev) */
  ssize_t r = tlsio_push(io, (const struct iovec *)iov, iovcnt, held_send, io);
  int saved = errno;
  if (io->wlen > 0)
    list_add(io);
  else
    list_del(io);
  errno = saved;
  return r;
}

void tlsio_attach(struct tlsio *io, struct tlsio_set *set, void *session, int fd)
{
  gnutls_session_t s = session;
  memset(io, 0, offsetof(struct tlsio, rbuf));
  io->fd = fd;
  io->set = set;
  gnutls_transport_set_ptr(s, io);
  gnutls_transport_set_pull_function(s, tls_pull);
  gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
  gnutls_transport_set_vec_push_function(s, tls_push);
}

void tlsio_flush_all(struct tlsio_set *set)
{
  struct tlsio *io = set->head, *next;
  for (; io; io = next)
    {
      next = io->next;
      if (tlsio_send_held(io, held_send, io) == 0 || errno != EAGAIN)
        {
          io->wlen = 0; /* sent, or the socket is broken: libmicrohttpd sees it next */
          list_del(io);
        }
    }
}

void tlsio_detach(struct tlsio *io)
{
  tlsio_send_held(io, held_send, io);
  list_del(io);
}
