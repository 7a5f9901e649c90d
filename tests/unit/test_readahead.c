/* test_readahead.c - the read-ahead under the API's TLS connections
 * (orchestrator/server/readahead.c), driven with a scripted socket: a small record comes in
 * one read, bytes held are handed out before any new read and never past what the caller
 * asked, EAGAIN and end of stream pass through only once the buffer is empty, and a large
 * read goes straight into the caller's buffer. */
#include <errno.h>
#include <string.h>
#include "check.h"
#include "readahead.h"

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
  struct readahead ra = {0};
  struct script s = {.chunks = {"HDR01a request body"}};
  char out[64] = {0};
  CHECK(readahead_pull(&ra, out, 5, script_read, &s) == 5); /* GnuTLS: the record header */
  CHECK(memcmp(out, "HDR01", 5) == 0);
  CHECK(s.reads == 1 && s.last_ask == READAHEAD_SIZE);
  CHECK(readahead_pull(&ra, out, 14, script_read, &s) == 14); /* then its body */
  CHECK(memcmp(out, "a request body", 14) == 0);
  CHECK(s.reads == 1); /* no second recv() */
  CHECK(readahead_pending(&ra) == 0);
  errno = 0;
  CHECK(readahead_pull(&ra, out, 5, script_read, &s) == -1);
  CHECK(errno == EAGAIN);
  CHECK(s.reads == 2);
}

static void test_held_bytes_come_first_and_never_more_than_asked(void)
{
  struct readahead ra = {0};
  /* two records arrived together; a third comes later */
  struct script s = {.chunks = {"AAAAAbbbBBBBBcc", "CCCCCd"}};
  char out[64] = {0};
  CHECK(readahead_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(readahead_pull(&ra, out, 3, script_read, &s) == 3);
  CHECK(memcmp(out, "bbb", 3) == 0);
  CHECK(readahead_pending(&ra) == 7); /* the second record waits here, not in the socket */
  CHECK(readahead_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(memcmp(out, "BBBBB", 5) == 0);
  /* asking more than is held returns what is held, without reading */
  CHECK(readahead_pull(&ra, out, 10, script_read, &s) == 2);
  CHECK(memcmp(out, "cc", 2) == 0);
  CHECK(s.reads == 1);
  CHECK(readahead_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(memcmp(out, "CCCCC", 5) == 0);
  CHECK(s.reads == 2);
  CHECK(readahead_pull(&ra, out, 1, script_read, &s) == 1);
  CHECK(out[0] == 'd');
  CHECK(readahead_pull(&ra, out, 0, script_read, &s) == 0); /* nothing asked, nothing read */
  CHECK(s.reads == 2);
}

static void test_end_of_stream_passes_through_once_empty(void)
{
  struct readahead ra = {0};
  struct script s = {.chunks = {"xyz"}, .eof = 1};
  char out[8];
  CHECK(readahead_pull(&ra, out, 2, script_read, &s) == 2);
  CHECK(readahead_pull(&ra, out, 2, script_read, &s) == 1);
  CHECK(readahead_pull(&ra, out, 2, script_read, &s) == 0);
}

static void test_large_reads_bypass_the_buffer(void)
{
  static char big[READAHEAD_SIZE * 3];
  static char out[READAHEAD_SIZE * 3];
  memset(big, 'L', sizeof(big) - 1);
  struct readahead ra = {0};
  struct script s = {.chunks = {"HDR02", big}};
  CHECK(readahead_pull(&ra, out, 5, script_read, &s) == 5);
  CHECK(readahead_pending(&ra) == 0); /* the first chunk was all there was */
  ssize_t n = readahead_pull(&ra, out, sizeof(out), script_read, &s);
  CHECK(n == (ssize_t)sizeof(big) - 1);
  CHECK(s.last_ask == sizeof(out)); /* straight into the caller's buffer */
  CHECK(readahead_pending(&ra) == 0);
  CHECK(out[0] == 'L' && out[n - 1] == 'L');
}

int main(void)
{
  RUN_TEST(test_small_record_in_one_read);
  RUN_TEST(test_held_bytes_come_first_and_never_more_than_asked);
  RUN_TEST(test_end_of_stream_passes_through_once_empty);
  RUN_TEST(test_large_reads_bypass_the_buffer);
  return CHECK_DONE();
}
