/* readahead.c - read-ahead under the API's TLS connections (see readahead.h).  Why it is
 * safe under libmicrohttpd's edge-triggered epoll: for a TLS connection it forgets that a
 * socket is readable only when a read ends in EAGAIN, and readahead_pull returns EAGAIN only
 * once its buffer is empty, so bytes held here are always read before it waits for the next
 * edge, as bytes left in the socket would be. */
#include "readahead.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <gnutls/gnutls.h>

size_t readahead_pending(const struct readahead *ra)
{
  return ra->len - ra->off;
}

ssize_t readahead_pull(struct readahead *ra, void *dst, size_t n, readahead_read_fn read, void *arg)
{
  if (n == 0)
    return 0;
  if (ra->off == ra->len)
    {
      ra->off = ra->len = 0;
      if (n >= sizeof(ra->buf))
        return read(arg, dst, n);
      ssize_t r = read(arg, ra->buf, sizeof(ra->buf));
      if (r <= 0)
        return r;
      ra->len = (size_t)r;
    }
  size_t k = readahead_pending(ra) < n ? readahead_pending(ra) : n;
  memcpy(dst, ra->buf + ra->off, k);
  ra->off += k;
  return (ssize_t)k;
}

static ssize_t socket_read(void *arg, void *buf, size_t n)
{
  return recv(*(int *)arg, buf, n, 0);
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *dst, size_t n)
{
  struct readahead *ra = p;
  return readahead_pull(ra, dst, n, socket_read, &ra->fd);
}

/* GnuTLS asks this (with a timeout) only when it waits on its own; bytes held count. */
static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
  struct readahead *ra = p;
  if (readahead_pending(ra) > 0)
    return 1;
  struct pollfd pfd = {.fd = ra->fd, .events = POLLIN};
  return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

void readahead_attach(struct readahead *ra, void *session, int fd)
{
  gnutls_session_t s = session;
  ra->fd = fd;
  ra->off = ra->len = 0;
  /* GnuTLS reads through ra, and still writes to the socket itself */
  gnutls_transport_set_ptr2(s, ra, (gnutls_transport_ptr_t)(intptr_t)fd);
  gnutls_transport_set_pull_function(s, tls_pull);
  gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
}
