/* readahead.h - read-ahead under the API's TLS connections: GnuTLS reads a record's 5-byte
 * header and then its body, two recv() calls per request; with this buffer under it, one
 * recv() brings a small request whole (a heartbeat: 234 bytes).  The buffer logic is pure
 * (readahead_pull takes the reader as a function) so unit tests drive it. */
#ifndef SKIFF_READAHEAD_H
#define SKIFF_READAHEAD_H

#include <stddef.h>
#include <sys/types.h>

/* Bytes read ahead at most: a heartbeat, a small GET or POST fits; larger records are read
 * into the caller's buffer directly once this one is empty. */
#define READAHEAD_SIZE 1024

struct readahead
{
  int fd;
  size_t off, len; /* buf[off..len) is read from the socket and not yet handed out */
  unsigned char buf[READAHEAD_SIZE];
};

/* The socket's recv(): returns bytes read, 0 at end of stream, -1 with errno. */
typedef ssize_t (*readahead_read_fn)(void *arg, void *buf, size_t n);

/* Hand out up to n bytes: what the buffer holds first (never more than it holds, so a
 * caller that stops early leaves the rest for its next call), else one read of the socket,
 * into the buffer when n is smaller than it, into dst otherwise.  Returns what `read`
 * returns when the buffer is empty (0, or -1 with errno untouched: EAGAIN is "nothing
 * now", as from recv). */
ssize_t readahead_pull(struct readahead *ra, void *dst, size_t n, readahead_read_fn read,
                       void *arg);

/* Bytes held in the buffer. */
size_t readahead_pending(const struct readahead *ra);

/* Put read-ahead under a GnuTLS session (gnutls_session_t, passed as void * so this header
 * needs no GnuTLS) whose socket is fd; ra lives as long as the session. */
void readahead_attach(struct readahead *ra, void *session, int fd);

#endif
