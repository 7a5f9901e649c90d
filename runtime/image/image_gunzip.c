/* image_gunzip.c - the decompressed stream of a gzip'd layer blob, with Intel's ISA-L
 * (isal_inflate, SIMD; about twice zlib's speed here: a pull or import spends most of its CPU
 * inflating layers).  Multi-member gzip files are read member after member; each member's
 * CRC-32 and size are checked by isal_inflate.  Bytes after the last member that do not
 * start another member end the stream (as gzip -d does), and the layer's diff_id check
 * decides whether what came out is the layer.  image_layer.c uses it for gzip blobs and
 * libarchive's filters for everything else. */
#define _GNU_SOURCE
#include "image_internal.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <string.h>

#define GUNZIP_IN 65536

struct image_gunzip
{
  int fd;
  image_read_fn rd; /* instead of read(fd) when set */
  void *rd_arg;
  bool eof_in, done;
  struct inflate_state st;
  unsigned char in[GUNZIP_IN];
};

bool image_gunzip_is_gzip(int fd)
{
  unsigned char m[2];
  return pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

struct image_gunzip *image_gunzip_open(int fd)
{
  struct image_gunzip *g = xzalloc(sizeof(*g));
  g->fd = fd;
  isal_inflate_init(&g->st);
  g->st.crc_flag = ISAL_GZIP;
  return g;
}

struct image_gunzip *image_gunzip_open_reader(image_read_fn rd, void *arg)
{
  struct image_gunzip *g = image_gunzip_open(-1);
  g->rd = rd;
  g->rd_arg = arg;
  return g;
}

void image_gunzip_close(struct image_gunzip *g)
{
  free(g);
}

/* More input; false at end of file. */
static bool refill(struct image_gunzip *g, int *err)
{
  if (g->st.avail_in > 0)
    return true;
  if (g->eof_in)
    return false;
  ssize_t n;
  do
    n = g->rd ? g->rd(g->rd_arg, g->in, sizeof(g->in)) : read(g->fd, g->in, sizeof(g->in));
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      *err = errno;
      return false;
    }
  if (n == 0)
    {
      g->eof_in = true;
      return false;
    }
  g->st.next_in = g->in;
  g->st.avail_in = (uint32_t)n;
  return true;
}

ssize_t image_gunzip_read(struct image_gunzip *g, void *buf, size_t len, const char **why)
{
  int e = 0;
  while (!g->done)
    {
      if (g->st.block_state == ISAL_BLOCK_FINISH)
        {
          /* a member ended: another one follows, or the stream does */
          if (!refill(g, &e))
            break;
          if (g->st.next_in[0] != 0x1f || (g->st.avail_in > 1 && g->st.next_in[1] != 0x8b))
            {
              g->done = true;
              break;
            }
          uint8_t *next = g->st.next_in;
          uint32_t avail = g->st.avail_in;
          isal_inflate_reset(&g->st);
          g->st.crc_flag = ISAL_GZIP;
          g->st.next_in = next;
          g->st.avail_in = avail;
        }
      bool more = refill(g, &e);
      if (e)
        break;
      g->st.next_out = buf;
      g->st.avail_out = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
      int rc = isal_inflate(&g->st);
      size_t got = len - g->st.avail_out;
      if (rc < 0)
        {
          *why = rc == ISAL_INCORRECT_CHECKSUM ? "gzip: checksum mismatch" : "gzip: invalid data";
          return -1;
        }
      if (got > 0)
        return (ssize_t)got;
      if (!more && g->st.block_state != ISAL_BLOCK_FINISH)
        {
          *why = "gzip: unexpected end of file";
          return -1;
        }
    }
  if (e)
    {
      errno = e;
      *why = "read";
      return -1;
    }
  g->done = true;
  return 0;
}
