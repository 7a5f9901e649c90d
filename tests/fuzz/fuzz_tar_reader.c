/* fuzz_tar_reader.c - libFuzzer harness for skiff's tar reader (runtime/image/tar_reader.c):
 * arbitrary bytes read as a tar stream, handed out in chunks whose sizes the input's first
 * byte picks, every entry's data read to its end.  The reader must end with an entry count,
 * the end, an error with a message or TAR_UNSUPPORTED with one, never read outside its
 * chunks (ASan), never allocate more than TAR_META_MAX for a header, and the fields it
 * returns must be sane (a path, a link for links, data only for regular files, offsets
 * that follow each other).
 *
 *   make build/fuzz/fuzz_tar_reader && build/fuzz/fuzz_tar_reader tests/fuzz/corpus/tar_reader */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tar_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src
{
  const uint8_t *data;
  size_t size, off, chunk;
};

static ssize_t fill(void *arg, const void **buf, const char **why)
{
  (void)why;
  struct src *s = arg;
  size_t n = s->size - s->off < s->chunk ? s->size - s->off : s->chunk;
  *buf = s->data + s->off;
  s->off += n;
  return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const size_t chunks[] = {1, 3, 511, 512, 513, 4096, 65536, 1 << 20};
  if (size == 0)
    return 0;
  struct src s = {data + 1, size - 1, 0, chunks[data[0] % 8]};
  struct tar_reader *r = tar_reader_new(fill, &s);
  struct skiff_err *err = NULL;
  struct tar_entry *e;
  int k;
  while ((k = tar_reader_next(r, &e, &err)) == 1)
    {
      if (e->path == NULL || ((e->type == S_IFLNK || e->hardlink) && e->link == NULL))
        abort();
      if (e->size < 0 || (e->size > 0 && (e->type != S_IFREG || e->hardlink)))
        abort();
      const void *buf;
      long long off, want = 0;
      ssize_t n;
      while ((n = tar_reader_data(r, &buf, &off, &err)) > 0)
        {
          if (off != want || want + n > e->size)
            abort();
          want += n;
        }
      if (n < 0)
        break;
      if (want != e->size)
        abort();
    }
  if ((k < 0 || (err != NULL)) && (err == NULL || err->msg == NULL || err->msg[0] == '\0'))
    abort();
  skiff_err_free(&err);
  tar_reader_free(r);
  return 0;
}
