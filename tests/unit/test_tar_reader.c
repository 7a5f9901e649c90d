/* test_tar_reader.c - skiff's tar reader against archives others write: libarchive's
 * ustar, pax, GNU and v7 writers (long names, long link targets, big ids, nanosecond
 * times, xattrs, devices), read in chunks of every awkward size; and hostile or
 * unsupported input built header by header: a bad checksum, truncation in a header, in
 * a pax header and in data, pax records that lie about their length, a pax header larger
 * than the reader accepts, sparse files, ACLs, global headers. */
#include "check.h"
#include "tar_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* ---- an archive in memory, handed out in chunks of `chunk` bytes */

struct mem
{
  unsigned char *buf;
  size_t len, off, chunk;
};

static ssize_t mem_fill(void *arg, const void **buf, const char **why)
{
  (void)why;
  struct mem *m = arg;
  size_t n = m->len - m->off < m->chunk ? m->len - m->off : m->chunk;
  *buf = m->buf + m->off;
  m->off += n;
  return (ssize_t)n;
}

static la_ssize_t mem_write(struct archive *a, void *arg, const void *buf, size_t len)
{
  (void)a;
  struct mem *m = arg;
  m->buf = realloc(m->buf, m->len + len);
  memcpy(m->buf + m->len, buf, len);
  m->len += len;
  return (la_ssize_t)len;
}

static const char long_name[]
    = "usr/share/a-directory-name-long-enough/that-with-the-next-one/the-path-passes-one-hundred/"
      "and-then-two-hundred-and-fifty-six-bytes-so-that-ustar-cannot-hold-it-even-with-its-"
      "prefix-field-of-one-hundred-and-fifty-five-bytes/file.txt";
static const char mid_name[] = "usr/lib/python3/dist-packages/some-package-with-a-long-name/"
                               "submodule/another-level/file-name.py";
static const char content[] = "hello, layer\n";

/* The test archive in one of libarchive's formats: ustar cannot hold long_name, ids past
 * 2097151 or nanoseconds, v7 not even mid_name. */
static struct mem write_archive(int format, bool ustar, bool v7)
{
  struct mem m = {0};
  struct archive *a = archive_write_new();
  archive_write_set_format(a, format);
  archive_write_open(a, &m, NULL, mem_write, NULL);
  struct archive_entry *e = archive_entry_new();
#define ENTRY(name, type, perm)                                                                    \
  archive_entry_clear(e);                                                                          \
  archive_entry_set_pathname(e, name);                                                             \
  archive_entry_set_filetype(e, type);                                                             \
  archive_entry_set_perm(e, perm);                                                                 \
  archive_entry_set_mtime(e, 1700000000, ustar ? 0 : 123456789);                                   \
  archive_entry_set_uid(e, ustar ? 1000 : 3000000);                                                \
  archive_entry_set_gid(e, 50)
  ENTRY("etc", AE_IFDIR, 0755);
  archive_write_header(a, e);
  ENTRY("etc/hosts", AE_IFREG, 04755);
  archive_entry_set_size(e, sizeof(content) - 1);
  if (!ustar)
    archive_entry_xattr_add_entry(e, "security.capability", "\x01\x02\x00\x03", 4);
  archive_write_header(a, e);
  archive_write_data(a, content, sizeof(content) - 1);
  ENTRY("etc/link", AE_IFLNK, 0777);
  archive_entry_set_symlink(e, v7 ? "hosts" : mid_name);
  archive_write_header(a, e);
  ENTRY("etc/hard", AE_IFREG, 0644);
  archive_entry_set_hardlink(e, "etc/hosts");
  archive_write_header(a, e);
  if (!v7)
    {
      ENTRY("dev/null", AE_IFCHR, 0666);
      archive_entry_set_rdevmajor(e, 1);
      archive_entry_set_rdevminor(e, 3);
      archive_write_header(a, e);
      ENTRY("run/fifo", AE_IFIFO, 0600);
      archive_write_header(a, e);
      ENTRY(mid_name, AE_IFREG, 0644);
      archive_entry_set_size(e, 0);
      archive_write_header(a, e);
    }
  if (!ustar && !v7)
    {
      ENTRY(long_name, AE_IFREG, 0600);
      archive_entry_set_size(e, 70000);
      archive_write_header(a, e);
      char *big = malloc(70000);
      for (size_t i = 0; i < 70000; i++)
        big[i] = (char)(i * 7);
      archive_write_data(a, big, 70000);
      free(big);
    }
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return m;
}

/* every entry of m, checked against what write_archive wrote */
static void read_back(struct mem *m, bool ustar, bool v7)
{
  struct skiff_err *err = NULL;
  struct tar_reader *r = tar_reader_new(mem_fill, m);
  struct tar_entry *e;
  int n = 0;
  while (tar_reader_next(r, &e, &err) == 1)
    {
      n++;
      CHECK(e->mtime.tv_sec == 1700000000);
      CHECK(e->mtime.tv_nsec == (ustar || v7 ? 0 : 123456789));
      CHECK(e->uid == (ustar || v7 ? 1000u : 3000000u));
      CHECK(e->gid == 50);
      if (strcmp(e->path, "etc/hosts") == 0)
        {
          CHECK(e->type == S_IFREG && !e->hardlink && e->mode == 04755);
          CHECK(e->size == (long long)sizeof(content) - 1);
          char got[64] = "";
          size_t have = 0;
          const void *buf;
          long long off;
          ssize_t k;
          while ((k = tar_reader_data(r, &buf, &off, &err)) > 0)
            {
              CHECK(off == (long long)have && have + (size_t)k < sizeof(got));
              memcpy(got + have, buf, (size_t)k);
              have += (size_t)k;
            }
          CHECK(k == 0);
          CHECK_STR_EQ(got, content);
          CHECK(e->n_xattrs == (ustar || v7 ? 0u : 1u));
          if (e->n_xattrs == 1)
            {
              CHECK_STR_EQ(e->xattrs[0].name, "security.capability");
              CHECK(e->xattrs[0].size == 4
                    && memcmp(e->xattrs[0].value, "\x01\x02\x00\x03", 4) == 0);
            }
        }
      else if (strcmp(e->path, "etc") == 0 || strcmp(e->path, "etc/") == 0)
        CHECK(e->type == S_IFDIR && e->mode == 0755);
      else if (strcmp(e->path, "etc/link") == 0)
        {
          CHECK(e->type == S_IFLNK);
          CHECK_STR_EQ(e->link, v7 ? "hosts" : mid_name);
        }
      else if (strcmp(e->path, "etc/hard") == 0)
        {
          CHECK(e->type == S_IFREG && e->hardlink && e->size == 0);
          CHECK_STR_EQ(e->link, "etc/hosts");
        }
      else if (strcmp(e->path, "dev/null") == 0)
        CHECK(e->type == S_IFCHR && e->dev_major == 1 && e->dev_minor == 3 && e->mode == 0666);
      else if (strcmp(e->path, "run/fifo") == 0)
        CHECK(e->type == S_IFIFO);
      else if (strcmp(e->path, mid_name) == 0)
        CHECK(e->type == S_IFREG && e->size == 0);
      else if (strcmp(e->path, long_name) == 0)
        {
          CHECK(e->size == 70000);
          size_t have = 0;
          bool same = true;
          const void *buf;
          long long off;
          ssize_t k;
          while ((k = tar_reader_data(r, &buf, &off, &err)) > 0)
            {
              for (ssize_t i = 0; i < k; i++)
                same = same && ((const char *)buf)[i] == (char)((have + (size_t)i) * 7);
              have += (size_t)k;
            }
          CHECK(same && have == 70000);
        }
      else
        {
          printf("#   unexpected entry `%s`\n", e->path);
          CHECK(0);
        }
    }
  if (err)
    printf("#   error: %s\n", err->msg);
  CHECK(err == NULL);
  CHECK(n == (v7 ? 4 : ustar ? 7 : 8));
  skiff_err_free(&err);
  tar_reader_free(r);
}

static void test_formats_libarchive_writes(void)
{
  static const struct
  {
    int format;
    bool ustar, v7;
    const char *name;
  } formats[] = {
      {ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, false, false, "pax restricted"},
      {ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, false, false, "pax"},
      {ARCHIVE_FORMAT_TAR_GNUTAR, true, false, "gnu"},
      {ARCHIVE_FORMAT_TAR_USTAR, true, false, "ustar"},
      {ARCHIVE_FORMAT_TAR, true, true, "v7"},
  };
  static const size_t chunks[] = {1, 7, 511, 512, 513, 65536};
  for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++)
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
      {
        bool ustar = formats[f].ustar, v7 = formats[f].v7;
        if (formats[f].format == ARCHIVE_FORMAT_TAR_GNUTAR)
          ustar = false; /* GNU: long names, base-256 ids, but no nanoseconds or xattrs */
        struct mem m = write_archive(formats[f].format, ustar, v7);
        m.chunk = chunks[c];
        int failed = check_current_failed;
        check_current_failed = 0;
        if (formats[f].format == ARCHIVE_FORMAT_TAR_GNUTAR)
          {
            /* check what GNU keeps: names, link, ids, data */
            struct skiff_err *err = NULL;
            struct tar_reader *r = tar_reader_new(mem_fill, &m);
            struct tar_entry *e;
            bool saw_long = false, saw_link = false;
            while (tar_reader_next(r, &e, &err) == 1)
              {
                saw_long |= strcmp(e->path, long_name) == 0 && e->size == 70000;
                saw_link |= e->link && strcmp(e->link, mid_name) == 0 && e->type == S_IFLNK;
                CHECK(e->uid == 3000000);
              }
            CHECK(err == NULL && saw_long && saw_link);
            skiff_err_free(&err);
            tar_reader_free(r);
          }
        else
          read_back(&m, ustar, v7);
        if (check_current_failed)
          printf("#   format %s, chunks of %zu\n", formats[f].name, chunks[c]);
        check_current_failed |= failed;
        free(m.buf);
      }
}

/* ---- archives built header by header */

static void header(unsigned char *h, const char *name, char type, long long size)
{
  memset(h, 0, TAR_BLOCK);
  snprintf((char *)h, 100, "%s", name);
  memcpy(h + 100, "0000644", 8);
  memcpy(h + 108, "0000000", 8);
  memcpy(h + 116, "0000000", 8);
  char num[32];
  snprintf(num, sizeof(num), "%011llo", size & 077777777777LL);
  memcpy(h + 124, num, 12);
  memcpy(h + 136, "14500000000", 12);
  h[156] = (unsigned char)type;
  memcpy(h + 257, "ustar", 6);
  memcpy(h + 263, "00", 2);
  memset(h + 148, ' ', 8);
  unsigned int sum = 0;
  for (int i = 0; i < TAR_BLOCK; i++)
    sum += h[i];
  snprintf((char *)h + 148, 8, "%06o", sum);
}

/* pax records "key=value" (NULL-terminated list) with their lengths, in a static buffer */
static const char *recs(const char *kv, ...)
{
  static char out[4096];
  size_t o = 0;
  va_list ap;
  va_start(ap, kv);
  for (const char *r = kv; r; r = va_arg(ap, const char *))
    {
      size_t n = strlen(r) + 3; /* "N " + "\n", N of one digit */
      while (snprintf(NULL, 0, "%zu %s\n", n, r) != (int)n)
        n++;
      o += (size_t)snprintf(out + o, sizeof(out) - o, "%zu %s\n", n, r);
    }
  va_end(ap);
  return out;
}

/* an archive of one meta or plain entry with `data`, then a file `f`, then the end */
static struct mem build(char type, const char *data, long long claimed, bool end)
{
  struct mem m = {0};
  size_t dlen = data ? strlen(data) : 0;
  size_t padded = (dlen + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
  m.buf = calloc(1, 4 * TAR_BLOCK + padded);
  header(m.buf, "meta", type, claimed >= 0 ? claimed : (long long)dlen);
  if (data)
    memcpy(m.buf + TAR_BLOCK, data, dlen);
  header(m.buf + TAR_BLOCK + padded, "f", '0', 0);
  m.len = 2 * TAR_BLOCK + padded + (end ? 2 * TAR_BLOCK : 0);
  m.chunk = 100;
  return m;
}

/* the first error reading all of m: its code into *code, the message returned */
static char *read_all(struct mem *m, int *code)
{
  struct skiff_err *err = NULL;
  struct tar_reader *r = tar_reader_new(mem_fill, m);
  struct tar_entry *e;
  int k;
  while ((k = tar_reader_next(r, &e, &err)) == 1)
    {
      const void *buf;
      long long off;
      while (tar_reader_data(r, &buf, &off, &err) > 0)
        ;
    }
  *code = k;
  char *msg = err ? strdup(err->msg) : NULL;
  skiff_err_free(&err);
  tar_reader_free(r);
  return msg ? msg : strdup("");
}

static void expect(struct mem m, int code, const char *msg)
{
  int got;
  char *why = read_all(&m, &got);
  if (got != code)
    printf("#   code %d, want %d (%s)\n", got, code, why);
  CHECK(got == code);
  CHECK_CONTAINS(why, msg);
  free(why);
  free(m.buf);
}

static void test_hostile_archives(void)
{
  expect(build('x', recs("path=renamed/f", NULL), -1, true), 0, "");
  expect(build('x', "99 path=renamed/f\n", -1, true), -1, "malformed pax record");
  expect(build('x', "5 path=x\n", -1, true), -1, "malformed pax record");
  expect(build('x', "19 pathrenamed/fxx\n", -1, true), -1, "malformed pax record");
  expect(build('x', recs("size=-1", NULL), -1, true), -1, "pax record `size`: a bad value");
  expect(build('x', recs("mtime=12.x45", NULL), -1, true), -1, "pax record `mtime`: a bad value");
  /* a pax header claiming 1 GiB: refused before anything is allocated */
  expect(build('x', NULL, 1LL << 30, true), -1, "a pax header of 1073741824 bytes");
  expect(build('x', recs("GNU.sparse.map=0,10,20,10", NULL), -1, true), TAR_UNSUPPORTED,
         "a sparse file");
  expect(build('x', recs("SCHILY.acl.access=user::rwx,other::r", NULL), -1, true), TAR_UNSUPPORTED,
         "an ACL");
  expect(build('g', recs("comment=made by x", NULL), -1, true), 0, "");
  expect(build('g', recs("path=everywhere", NULL), -1, true), TAR_UNSUPPORTED,
         "a pax global header");
  expect(build('S', "", -1, true), TAR_UNSUPPORTED, "GNU sparse file");
  expect(build('L', "long/name/of/meta", -1, true), 0, "");
  expect(build('L', NULL, 100000000, true), -1, "a GNU long name of 100000000 bytes");
  /* pax and long names that no entry follows */
  struct mem m = build('x', recs("path=renamed/f", NULL), -1, false);
  m.len -= TAR_BLOCK;
  expect(m, -1, "no entry after its pax or long name");
  /* truncated: inside a header, inside a pax header, inside data */
  m = build('0', "some data", -1, true);
  m.len = TAR_BLOCK + 100;
  expect(m, -1, "inside an entry's data");
  m = build('x', recs("path=renamed/f", NULL), -1, true);
  m.len = TAR_BLOCK + 10;
  expect(m, -1, "inside a pax header");
  m = build('0', NULL, -1, true);
  m.len = TAR_BLOCK + 300;
  expect(m, -1, "inside a header");
  /* a flipped byte */
  m = build('0', NULL, -1, true);
  m.buf[3] ^= 1;
  expect(m, -1, "header 1: checksum mismatch");
  /* no end blocks: the end of the stream ends the archive */
  expect(build('0', "data", -1, false), 0, "");
}

static void test_pax_path_and_size(void)
{
  /* pax path, linkpath and size override the ustar fields */
  struct mem m = build('x', recs("path=renamed/f", "linkpath=tgt", NULL), -1, true);
  struct skiff_err *err = NULL;
  struct tar_reader *r = tar_reader_new(mem_fill, &m);
  struct tar_entry *e;
  CHECK(tar_reader_next(r, &e, &err) == 1);
  CHECK_STR_EQ(e->path, "renamed/f");
  CHECK(e->link == NULL); /* a file has no link */
  CHECK(tar_reader_next(r, &e, &err) == 0);
  CHECK(err == NULL);
  skiff_err_free(&err);
  tar_reader_free(r);
  free(m.buf);
}

static void test_fields(void)
{
  long long v;
  CHECK(tar_parse_number((const unsigned char *)"0000644\0", 8, &v) && v == 0644);
  CHECK(tar_parse_number((const unsigned char *)"  644 \0\0", 8, &v) && v == 0644);
  CHECK(tar_parse_number((const unsigned char *)"\0\0\0\0\0\0\0\0", 8, &v) && v == 0);
  CHECK(!tar_parse_number((const unsigned char *)"00006x4\0", 8, &v));
  CHECK(!tar_parse_number((const unsigned char *)"0000 644", 8, &v));
  const unsigned char b256[8] = {0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0}; /* 3000000 */
  CHECK(tar_parse_number(b256, 8, &v) && v == 3000000);
  const unsigned char neg[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(!tar_parse_number(neg, 8, &v));
  const unsigned char huge[12] = {0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(!tar_parse_number(huge, 12, &v));
  struct timespec ts;
  CHECK(tar_parse_pax_time("1700000000.123456789", 20, &ts) && ts.tv_sec == 1700000000
        && ts.tv_nsec == 123456789);
  CHECK(tar_parse_pax_time("12.5", 4, &ts) && ts.tv_sec == 12 && ts.tv_nsec == 500000000);
  CHECK(tar_parse_pax_time("1.1234567891", 12, &ts) && ts.tv_sec == 1 && ts.tv_nsec == 123456789);
  CHECK(tar_parse_pax_time("-1.25", 5, &ts) && ts.tv_sec == -2 && ts.tv_nsec == 750000000);
  CHECK(tar_parse_pax_time("7", 1, &ts) && ts.tv_sec == 7 && ts.tv_nsec == 0);
  CHECK(!tar_parse_pax_time("7.", 2, &ts));
  CHECK(!tar_parse_pax_time("", 0, &ts));
  CHECK(!tar_parse_pax_time("1e9", 3, &ts));
}

int main(void)
{
  RUN_TEST(test_formats_libarchive_writes);
  RUN_TEST(test_hostile_archives);
  RUN_TEST(test_pax_path_and_size);
  RUN_TEST(test_fields);
  return CHECK_DONE();
}
