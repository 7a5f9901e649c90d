/* test_tlsio.c - the buffers under the API's TLS connections (orchestrator/server/tlsio.c),
 * driven with a scripted socket.  Read-ahead: a small record comes in one read, bytes held
 * are handed out before any new read and never past what the caller asked, EAGAIN and end
 * of stream pass through only once the buffer is empty, a large read goes straight into the
 * caller's buffer.  Write-combining: a response's two records leave in one send, in order;
 * a large record goes after what is held; a full socket holds what fits and refuses the rest
 * with EAGAIN only when it refused bytes itself. */
#include <errno.h>
#include <string.h>
#include "check.h"
#include "tlsio.h"

/* A socket that delivers its chunks one per read (what arrived by then), then EAGAIN or
 * end of stream. */
struct script
{
  const char *chunks[4];
  int next, reads, eof;
  size_t last_ask;
};

static ssize_t script_read(void *arg, void *buf, size_t n)
{
  struct script *s = arg;
  s->reads++;
  s->last_ask = n;
  const char *c = s->chunks[s->next];
  if (c == NULL)
    {
      if (s->eof)
        return 0;
      errno = EAGAIN;
      return -1;
    }
  size_t len = strlen(c);
  if (len > n)
    len = n; /* the rest stays in the socket */
  memcpy(buf, c, len);
  if (len == strlen(c))
    s->next++;
  else
    s->chunks[s->next] = c + len;
  return (ssize_t)len;
}

static void test_small_record_in_one_read(void)
{
  struct tlsio ra = {0};
  struct script s = {.chunks = {"HDR01a request body"}};
  char out[64] = {0};
  CHECK(tlsio_pull(&ra, out, 5, script_read, &s) == 5); /* GnuTLS: the record header */
  CHECK(memcmp(out, "HDR01", 5) == 0);
  CHECK(s.reads == 1 && s.last_ask == TLSIO_READ_SIZE);
  CHECK(tlsio_pull(&ra, out, 14, script_read, &s) == 14); /* then its body */
  CHECK(memcmp(out, "a request body", 14) == 0);
  CHECK(s.reads == 1); /* no second recv() */
  CHECK(tlsio_pending_read(&ra) == 0);
  errno = 0;
  CHECK(tlsio_pull(&ra, out, 5, script_read, &s) == -1);
  CHECK(errno == EAGAIN);
  CHECK(s.reads == 2);
}

static void test_held_bytes_come_first_and_never_more_than_asked(void)
{
  struct tlsio ra = {0};
  /* two records arrived together; a third comes later */
  struct script s = {.chunks = {"AAAAAbbbBBBBBcc", "CCCCCd"}};
  char out[64] = {0};
  CHECK(tlsio_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(tlsio_pull(&ra, out, 3, script_read, &s) == 3);
  CHECK(memcmp(out, "bbb", 3) == 0);
  CHECK(tlsio_pending_read(&ra) == 7); /* the second record waits here, not in the socket */
  CHECK(tlsio_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(memcmp(out, "BBBBB", 5) == 0);
  /* asking more than is held returns what is held, without reading */
  CHECK(tlsio_pull(&ra, out, 10, script_read, &s) == 2);
  CHECK(memcmp(out, "cc", 2) == 0);
  CHECK(s.reads == 1);
  CHECK(tlsio_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(memcmp(out, "CCCCC", 5) == 0);
  CHECK(s.reads == 2);
  CHECK(tlsio_pull(&ra, out, 1, script_read, &s) == 1);
  CHECK(out[0] == 'd');
  CHECK(tlsio_pull(&ra, out, 0, script_read, &s) == 0); /* nothing asked, nothing read */
  CHECK(s.reads == 2);
}

static void test_end_of_stream_passes_through_once_empty(void)
{
  struct tlsio ra = {0};
  struct script s = {.chunks = {"xyz"}, .eof = 1};
  char out[8];
  CHECK(tlsio_pull(&ra, out, 2, script_read, &s) == 2);
  CHECK(tlsio_pull(&ra, out, 2, script_read, &s) == 1);
  CHECK(tlsio_pull(&ra, out, 2, script_read, &s) == 0);
}

static void test_large_reads_bypass_the_buffer(void)
{
  static char big[TLSIO_READ_SIZE * 3];
  static char out[TLSIO_READ_SIZE * 3];
  memset(big, 'L', sizeof(big) - 1);
  struct tlsio ra = {0};
  struct script s = {.chunks = {"HDR02", big}};
  CHECK(tlsio_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(tlsio_pending_read(&ra) == 0); /* the first chunk was all there was */
  ssize_t n = tlsio_pull(&ra, out, sizeof(out), script_read, &s);
  CHECK(n == (ssize_t)sizeof(big) - 1);
  CHECK(s.last_ask == sizeof(out)); /* straight into the caller's buffer */
  CHECK(tlsio_pending_read(&ra) == 0);
  CHECK(out[0] == 'L' && out[n - 1] == 'L');
}

/* A socket that takes up to `room` bytes (then EAGAIN) and records the sends. */
struct sink
{
  char got[8192];
  size_t len, room;
  int sends;
};

static ssize_t sink_write(void *arg, const struct iovec *iov, int iovcnt)
{
  struct sink *k = arg;
  size_t n = 0;
  if (k->room == 0)
    {
      errno = EAGAIN;
      return -1;
    }
  k->sends++;
  for (int i = 0; i < iovcnt && k->room > 0; i++)
    {
      size_t m = iov[i].iov_len < k->room ? iov[i].iov_len : k->room;
      memcpy(k->got + k->len, iov[i].iov_base, m);
      k->len += m;
      k->room -= m;
      n += m;
    }
  return (ssize_t)n;
}

static ssize_t push_str(struct tlsio *io, const char *s, struct sink *k)
{
  struct iovec v = {.iov_base = (void *)s, .iov_len = strlen(s)};
  return tlsio_push(io, &v, 1, sink_write, k);
}

static void test_two_records_leave_in_one_send(void)
{
  static struct tlsio io;
  memset(&io, 0, sizeof(io));
  struct sink k = {.room = sizeof(k.got)};
  CHECK(push_str(&io, "HEADERS|", &k) == 8);
  CHECK(push_str(&io, "BODY|", &k) == 5);
  CHECK(k.sends == 0); /* held until the end of the pass */
  CHECK(tlsio_send_held(&io, sink_write, &k) == 0);
  CHECK(k.sends == 1);
  CHECK(k.len == 13 && memcmp(k.got, "HEADERS|BODY|", 13) == 0);
  CHECK(io.wlen == 0);
  CHECK(tlsio_send_held(&io, sink_write, &k) == 0); /* nothing held: no send */
  CHECK(k.sends == 1);
}

static void test_large_record_goes_after_what_is_held(void)
{
  static struct tlsio io;
  static char big[TLSIO_WRITE_SIZE + 100];
  memset(&io, 0, sizeof(io));
  memset(big, 'B', sizeof(big) - 1);
  struct sink k = {.room = sizeof(k.got)};
  CHECK(push_str(&io, "small|", &k) == 6);
  CHECK(push_str(&io, big, &k) == (ssize_t)sizeof(big) - 1);
  CHECK(k.sends == 2);
  CHECK(memcmp(k.got, "small|B", 7) == 0); /* in order */
  CHECK(k.len == 6 + sizeof(big) - 1);
  CHECK(io.wlen == 0);
}

static void test_full_socket_holds_what_fits_then_refuses(void)
{
  static struct tlsio io;
  static char big[TLSIO_WRITE_SIZE];
  memset(&io, 0, sizeof(io));
  memset(big, 'x', sizeof(big) - 1);
  struct sink k = {.room = 0}; /* the peer reads nothing */
  CHECK(push_str(&io, "first|", &k) == 6);
  errno = 0;
  CHECK(tlsio_send_held(&io, sink_write, &k) == -1 && errno == EAGAIN);
  CHECK(io.wlen == 6); /* kept for the next try */
  /* what does not fit beside it is refused, so GnuTLS keeps it and waits for the socket */
  errno = 0;
  CHECK(push_str(&io, big, &k) == -1 && errno == EAGAIN);
  CHECK(io.wlen == 6);
  /* the socket drains part: the rest stays held, in order */
  k.room = 4;
  CHECK(tlsio_send_held(&io, sink_write, &k) == -1 && errno == EAGAIN);
  CHECK(io.wlen == 2);
  k.room = 100;
  CHECK(tlsio_send_held(&io, sink_write, &k) == 0);
  CHECK(k.len == 6 && memcmp(k.got, "first|", 6) == 0);
  CHECK(io.wlen == 0);
}

int main(void)
{
  RUN_TEST(test_small_record_in_one_read);
  RUN_TEST(test_held_bytes_come_first_and_never_more_than_asked);
  RUN_TEST(test_end_of_stream_passes_through_once_empty);
  RUN_TEST(test_large_reads_bypass_the_buffer);
  RUN_TEST(test_two_records_leave_in_one_send);
  RUN_TEST(test_large_record_goes_after_what_is_held);
  RUN_TEST(test_full_socket_holds_what_fits_then_refuses);
  return CHECK_DONE();
}
