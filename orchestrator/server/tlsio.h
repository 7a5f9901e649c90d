/* tlsio.h - the socket I/O under the API's TLS connections (GnuTLS's transport functions),
 * cutting the system calls of a small request from five to three:
 *   read-ahead      GnuTLS reads a record's 5-byte header and then its body, two recv()
 *                   calls; one recv() into a small buffer brings a small request whole (a
 *                   heartbeat: 234 bytes);
 *   write-combining libmicrohttpd sends a response's headers and body as two records, two
 *                   sendmsg() calls; small records wait in a small buffer until the end of
 *                   the event-loop pass (api_run), then go in one send().
 * The buffer logic is pure (the socket's recv/send are passed in) so unit tests drive it. */
#ifndef SKIFF_TLSIO_H
#define SKIFF_TLSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Bytes read ahead at most: a heartbeat, a small GET or POST fits; larger records are read
 * into the caller's buffer directly once this one is empty. */
#define TLSIO_READ_SIZE 1024
/* Bytes held back for one send at most: a small response (headers + body), or a handshake
 * flight; a record that does not fit goes out at once, after what is held. */
#define TLSIO_WRITE_SIZE 2048

struct tlsio
{
  int fd;
  size_t roff, rlen;         /* rbuf[roff..rlen) is read from the socket and not yet handed out */
  size_t wlen;               /* wbuf[0..wlen) is accepted from GnuTLS and not yet sent */
  bool uncorked;             /* the socket's TCP_CORK is off for good (tlsio.c, held_send) */
  struct tlsio_set *set;     /* where it goes while it holds bytes to send */
  struct tlsio *prev, *next; /* in set while listed */
  bool listed;
  unsigned char rbuf[TLSIO_READ_SIZE];
  unsigned char wbuf[TLSIO_WRITE_SIZE];
};

/* Connections holding bytes to send (tlsio_flush_all sends them). */
struct tlsio_set
{
  struct tlsio *head;
};

/* The socket's recv() / send(): bytes moved, 0 at end of stream (recv), -1 with errno. */
typedef ssize_t (*tlsio_read_fn)(void *arg, void *buf, size_t n);
typedef ssize_t (*tlsio_write_fn)(void *arg, const struct iovec *iov, int iovcnt);

/* Hand out up to n bytes: what the buffer holds first (never more than it holds, so a
 * caller that stops early leaves the rest for its next call), else one read of the socket,
 * into the buffer when n is smaller than it, into dst otherwise.  Returns what `read`
 * returns when the buffer is empty (0, or -1 with errno untouched: EAGAIN is "nothing
 * now", as from recv). */
ssize_t tlsio_pull(struct tlsio *io, void *dst, size_t n, tlsio_read_fn read, void *arg);

/* Bytes held in the read buffer. */
size_t tlsio_pending_read(const struct tlsio *io);

/* Take iov for sending: held in the write buffer when it fits (sending what is held first
 * when it can), else, once nothing is held, written at once.  Returns the bytes taken, or
 * -1 with errno (EAGAIN: the socket is full and the buffer too; the caller waits for the
 * socket to drain, as after a short send). */
ssize_t tlsio_push(struct tlsio *io, const struct iovec *iov, int iovcnt, tlsio_write_fn write,
                   void *arg);

/* Send what is held: 0 when all is sent, -1 with errno (EAGAIN: the rest waits). */
int tlsio_send_held(struct tlsio *io, tlsio_write_fn write, void *arg);

/* ---- on a real GnuTLS session (tlsio.c) ---- */

/* Put io under a GnuTLS session (gnutls_session_t, passed as void * so this header needs
 * no GnuTLS) whose socket is fd; io lives as long as the session; set is where io goes
 * while it holds bytes to send. */
void tlsio_attach(struct tlsio *io, struct tlsio_set *set, void *session, int fd);

/* Send what every connection of set holds (the end of an event-loop pass); what the socket
 * does not take now stays in the set. */
void tlsio_flush_all(struct tlsio_set *set);

/* The connection is closing (its session is gone, its socket still open): send what it
 * holds if the socket takes it now, and take it out of its set. */
void tlsio_detach(struct tlsio *io);

#endif
