/* tar_reader.c - tar streams read entry by entry (tar_reader.h).  The formats are POSIX's
 * (pax, ustar: IEEE 1003.1-2017, pax "ustar Interchange Format"), GNU's long name and
 * link entries ('L', 'K') and base-256 numbers, and v7's.  A header is 512 bytes; every
 * entry's data follows its header, padded to 512; the archive ends with zero blocks. */
#define _GNU_SOURCE
#include "tar_reader.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct pax
{
  char *path, *link;
  bool has_size, has_uid, has_gid, has_mtime, has_atime;
  long long size, uid, gid;
  struct timespec mtime, atime;
  bool libarchive_xattr; /* LIBARCHIVE.xattr.* seen (its names are encoded: not read) */
  struct tar_xattr *xattrs;
  size_t n_xattrs;
};

struct tar_reader
{
  tar_fill_fn fill;
  void *arg;
  const unsigned char *cur; /* unread bytes of the last chunk */
  size_t avail;
  bool eof;
  long long left, pad, size; /* the current entry's data unread, its padding, its size */
  long long nhdr;            /* headers read, for messages */
  unsigned char hdr[TAR_BLOCK];
  struct tar_entry e;
  struct pax pax;
  char *longname, *longlink;
};

struct tar_reader *tar_reader_new(tar_fill_fn fill, void *arg)
{
  struct tar_reader *r = xzalloc(sizeof(*r));
  r->fill = fill;
  r->arg = arg;
  return r;
}

static void free_xattrs(struct tar_xattr *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free(x[i].name);
      free(x[i].value);
    }
  free(x);
}

static void pax_clear(struct pax *p)
{
  free(p->path);
  free(p->link);
  free_xattrs(p->xattrs, p->n_xattrs);
  *p = (struct pax){0};
}

static void entry_clear(struct tar_reader *r)
{
  free(r->e.path);
  free(r->e.link);
  free_xattrs(r->e.xattrs, r->e.n_xattrs);
  r->e = (struct tar_entry){0};
  pax_clear(&r->pax);
  free(r->longname);
  free(r->longlink);
  r->longname = r->longlink = NULL;
}

void tar_reader_free(struct tar_reader *r)
{
  if (r == NULL)
    return;
  entry_clear(r);
  free(r);
}

/* ---- the stream */

/* Another chunk when the last is used up: 0 (r->eof at the end), -1 on a read error. */
static int more(struct tar_reader *r, struct skiff_err **err)
{
  if (r->avail > 0 || r->eof)
    return 0;
  const void *buf = NULL;
  const char *why = "read";
  ssize_t n = r->fill(r->arg, &buf, &why);
  if (n < 0)
    return skiff_error(err, errno, "%s", why);
  if (n == 0)
    r->eof = true;
  r->cur = buf;
  r->avail = (size_t)n;
  return 0;
}

/* n bytes into dst: 1, 0 when the stream ended before the first, -1 (a read error, or the
 * stream ended inside them: `what` is truncated). */
static int take(struct tar_reader *r, void *dst, size_t n, const char *what, struct skiff_err **err)
{
  size_t got = 0;
  while (got < n)
    {
      if (more(r, err) < 0)
        return -1;
      if (r->eof)
        {
          if (got == 0)
            return 0;
          return skiff_error(err, 0, "truncated archive: the stream ends inside %s", what);
        }
      size_t k = n - got < r->avail ? n - got : r->avail;
      memcpy((char *)dst + got, r->cur, k);
      r->cur += k;
      r->avail -= k;
      got += k;
    }
  return 1;
}

static int skip(struct tar_reader *r, long long n, struct skiff_err **err)
{
  while (n > 0)
    {
      if (more(r, err) < 0)
        return -1;
      if (r->eof)
        return skiff_error(err, 0, "truncated archive: the stream ends inside an entry's data");
      size_t k = (unsigned long long)n < r->avail ? (size_t)n : r->avail;
      r->cur += k;
      r->avail -= k;
      n -= (long long)k;
    }
  return 0;
}

ssize_t tar_reader_data(struct tar_reader *r, const void **buf, long long *off,
                        struct skiff_err **err)
{
  *off = r->size - r->left;
  if (r->left == 0)
    return 0;
  if (more(r, err) < 0)
    return -1;
  if (r->eof)
    return skiff_error(err, 0, "truncated archive: the stream ends inside an entry's data");
  size_t n = (unsigned long long)r->left < r->avail ? (size_t)r->left : r->avail;
  *buf = r->cur;
  r->cur += n;
  r->avail -= n;
  r->left -= (long long)n;
  return (ssize_t)n;
}

/* ---- fields */

bool tar_parse_number(const unsigned char *f, size_t len, long long *out)
{
  if (len == 0)
    return false;
  if (f[0] & 0x80)
    {
      if (f[0] != 0x80)
        return false; /* negative, or more than 63 bits */
      unsigned long long v = 0;
      for (size_t i = 1; i < len; i++)
        {
          if (v >> 55)
            return false;
          v = v << 8 | f[i];
        }
      *out = (long long)v;
      return true;
    }
  size_t i = 0;
  while (i < len && (f[i] == ' ' || f[i] == '\0'))
    i++;
  long long v = 0;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++)
    {
      if (v > (LLONG_MAX >> 3))
        return false;
      v = v * 8 + (f[i] - '0');
    }
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != '\0')
      return false;
  *out = v;
  return true;
}

static bool parse_decimal(const char *v, size_t len, long long *out)
{
  if (len == 0)
    return false;
  long long n = 0;
  for (size_t i = 0; i < len; i++)
    {
      if (v[i] < '0' || v[i] > '9' || n > (LLONG_MAX - 9) / 10)
        return false;
      n = n * 10 + (v[i] - '0');
    }
  *out = n;
  return true;
}

bool tar_parse_pax_time(const char *v, size_t len, struct timespec *ts)
{
  bool neg = len > 0 && v[0] == '-';
  size_t i = neg ? 1 : 0;
  const char *dot = memchr(v + i, '.', len - i);
  size_t ilen = dot ? (size_t)(dot - (v + i)) : len - i;
  long long sec;
  if (!parse_decimal(v + i, ilen, &sec))
    return false;
  long nsec = 0;
  if (dot)
    {
      size_t flen = len - i - ilen - 1;
      if (flen == 0)
        return false;
      long scale = 100000000;
      for (size_t k = 0; k < flen; k++, scale /= 10)
        {
          char c = dot[1 + k];
          if (c < '0' || c > '9')
            return false;
          nsec += scale * (c - '0'); /* digits past the nanosecond add 0 */
        }
    }
  if (neg && nsec > 0) /* -1.25 s is -2 s + 0.75 s */
    {
      sec += 1;
      nsec = 1000000000 - nsec;
    }
  ts->tv_sec = (time_t)(neg ? -sec : sec);
  ts->tv_nsec = nsec;
  return true;
}

static bool starts(const char *k, size_t klen, const char *prefix)
{
  size_t n = strlen(prefix);
  return klen >= n && memcmp(k, prefix, n) == 0;
}

static bool is(const char *k, size_t klen, const char *word)
{
  return klen == strlen(word) && memcmp(k, word, klen) == 0;
}

/* One pax record key=value into p; global: a 'g' header, of which only a comment is taken.
 * 0, PAX_BAD (malformed) or PAX_UNSUPPORTED, err set. */
enum
{
  PAX_BAD = 1,
  PAX_UNSUPPORTED = 2,
};
static int pax_record(struct pax *p, const char *k, size_t klen, const char *v, size_t vlen,
                      bool global, struct skiff_err **err)
{
  if (is(k, klen, "comment"))
    return 0;
  const char *unsupported = global                           ? "a pax global header"
                            : starts(k, klen, "GNU.sparse.") ? "a sparse file"
                            : starts(k, klen, "SCHILY.acl.") ? "an ACL"
                                                             : NULL;
  if (unsupported)
    return skiff_error(err, 0, "%s (pax record `%.*s`)", unsupported, (int)klen, k),
           PAX_UNSUPPORTED;
  if (starts(k, klen, "LIBARCHIVE.xattr."))
    {
      p->libarchive_xattr = true;
      return 0;
    }
  if (starts(k, klen, "SCHILY.xattr."))
    {
      size_t plen = strlen("SCHILY.xattr.");
      if (klen == plen || memchr(k, '\0', klen))
        return skiff_error(err, 0, "pax record `%.*s`: a bad xattr name", (int)klen, k), PAX_BAD;
      p->xattrs = xrealloc(p->xattrs, (p->n_xattrs + 1) * sizeof(*p->xattrs));
      struct tar_xattr *x = &p->xattrs[p->n_xattrs++];
      x->name = xasprintf("%.*s", (int)(klen - plen), k + plen);
      x->value = xmalloc(vlen ? vlen : 1);
      memcpy(x->value, v, vlen);
      x->size = vlen;
      return 0;
    }
  if (vlen == 0) /* an empty value: the header's field stands */
    return 0;
  bool ok = true;
  if (is(k, klen, "path") || is(k, klen, "linkpath"))
    {
      char **dst = k[0] == 'p' ? &p->path : &p->link;
      free(*dst);
      *dst = xasprintf("%.*s", (int)vlen, v);
    }
  else if (is(k, klen, "size"))
    ok = p->has_size = parse_decimal(v, vlen, &p->size);
  else if (is(k, klen, "uid"))
    ok = p->has_uid = parse_decimal(v, vlen, &p->uid);
  else if (is(k, klen, "gid"))
    ok = p->has_gid = parse_decimal(v, vlen, &p->gid);
  else if (is(k, klen, "mtime"))
    ok = p->has_mtime = tar_parse_pax_time(v, vlen, &p->mtime);
  else if (is(k, klen, "atime"))
    ok = p->has_atime = tar_parse_pax_time(v, vlen, &p->atime);
  /* others (ctime, uname, gname, charset, SCHILY.dev/ino/nlink/fflags, selinux labels)
   * are ignored, as pax lets a reader do */
  if (!ok)
    return skiff_error(err, 0, "pax record `%.*s`: a bad value", (int)klen, k), PAX_BAD;
  return 0;
}

/* The records of a pax header's data: 0, PAX_BAD or PAX_UNSUPPORTED (err set). */
static int pax_parse(struct pax *p, const char *buf, size_t len, bool global,
                     struct skiff_err **err)
{
  size_t off = 0;
  while (off < len && buf[off] != '\0')
    {
      size_t i = off, n = 0;
      while (i < len && buf[i] >= '0' && buf[i] <= '9' && n <= len)
        n = n * 10 + (size_t)(buf[i++] - '0');
      if (i == off || i >= len || buf[i] != ' ' || n <= i - off + 1 || n > len - off
          || buf[off + n - 1] != '\n')
        return skiff_error(err, 0, "malformed pax record at byte %zu", off), PAX_BAD;
      const char *kv = buf + i + 1;
      size_t kvlen = off + n - 1 - (i + 1);
      const char *eq = memchr(kv, '=', kvlen);
      if (eq == NULL || eq == kv)
        return skiff_error(err, 0, "malformed pax record at byte %zu", off), PAX_BAD;
      int r = pax_record(p, kv, (size_t)(eq - kv), eq + 1, kvlen - (size_t)(eq - kv) - 1, global,
                         err);
      if (r != 0)
        return r;
      off += n;
    }
  return 0;
}

/* ---- headers */

static bool zero_block(const unsigned char *h)
{
  for (size_t i = 0; i < TAR_BLOCK; i++)
    if (h[i])
      return false;
  return true;
}

static bool checksum_ok(const unsigned char *h)
{
  long long want;
  if (!tar_parse_number(h + 148, 8, &want))
    return false;
  long long u = 0, s = 0; /* old writers summed signed chars */
  for (size_t i = 0; i < TAR_BLOCK; i++)
    {
      unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
      u += c;
      s += (signed char)c;
    }
  return want == u || want == s;
}

static char *field_string(const unsigned char *f, size_t len)
{
  return xasprintf("%.*s", (int)strnlen((const char *)f, len), f);
}

/* The data of a meta entry (pax header, long name) of size n: a NUL-terminated copy. */
static char *read_meta(struct tar_reader *r, long long n, const char *what, struct skiff_err **err)
{
  if (n < 0 || n > TAR_META_MAX)
    {
      skiff_error(err, 0, "%s of %lld bytes (more than %d)", what, n, TAR_META_MAX);
      return NULL;
    }
  char *buf = xmalloc((size_t)n + 1);
  if (n > 0 && take(r, buf, (size_t)n, what, err) <= 0)
    {
      if (err && *err == NULL)
        skiff_error(err, 0, "truncated archive: the stream ends inside %s", what);
      free(buf);
      return NULL;
    }
  buf[n] = '\0';
  if (skip(r, (TAR_BLOCK - n % TAR_BLOCK) % TAR_BLOCK, err) < 0)
    {
      free(buf);
      return NULL;
    }
  return buf;
}

static void replace(char **dst, char *v)
{
  free(*dst);
  *dst = v;
}

/* The entry of the ustar header r->hdr, with what pax and long names said before it. */
static int make_entry(struct tar_reader *r, long long hsize, struct skiff_err **err)
{
  const unsigned char *h = r->hdr;
  struct tar_entry *e = &r->e;
  struct pax *p = &r->pax;
  bool posix = memcmp(h + 257, "ustar\0", 6) == 0;
  if (p->path)
    e->path = steal_pointer(&p->path);
  else if (r->longname)
    e->path = steal_pointer(&r->longname);
  else if (posix && h[345])
    {
      cleanup_free char *prefix = field_string(h + 345, 155);
      cleanup_free char *name = field_string(h, 100);
      e->path = xasprintf("%s/%s", prefix, name);
    }
  else
    e->path = field_string(h, 100);
  long long mode, uid, gid, mtime;
  if (!tar_parse_number(h + 100, 8, &mode) || !tar_parse_number(h + 108, 8, &uid)
      || !tar_parse_number(h + 116, 8, &gid) || !tar_parse_number(h + 136, 12, &mtime))
    return skiff_error(err, 0, "entry `%s`: a malformed numeric field", e->path);
  e->mode = (mode_t)(mode & 07777);
  e->uid = (unsigned long long)(p->has_uid ? p->uid : uid);
  e->gid = (unsigned long long)(p->has_gid ? p->gid : gid);
  e->mtime = p->has_mtime ? p->mtime : (struct timespec){(time_t)mtime, 0};
  e->atime = p->has_atime ? p->atime : (struct timespec){0, UTIME_NOW};
  long long size = p->has_size ? p->size : hsize;
  char type = (char)h[156];
  switch (type)
    {
      case '0':
      case '\0':
      case '7':
        e->type = S_IFREG;
        /* v7 and old GNU tars mark a directory with a trailing slash only */
        if (size == 0 && e->path[0] && e->path[strlen(e->path) - 1] == '/')
          e->type = S_IFDIR;
        break;
      case '1':
        e->type = S_IFREG;
        e->hardlink = true;
        break;
      case '2':
        e->type = S_IFLNK;
        break;
      case '3':
        e->type = S_IFCHR;
        break;
      case '4':
        e->type = S_IFBLK;
        break;
      case '5':
        e->type = S_IFDIR;
        break;
      case '6':
        e->type = S_IFIFO;
        break;
      default:
        return skiff_error(err, 0, "entry `%s`: tar entry type `%c`%s", e->path,
                           type >= 32 && type < 127 ? type : '?',
                           type == 'S' ? " (GNU sparse file)" : ""),
               TAR_UNSUPPORTED;
    }
  if (p->libarchive_xattr && p->n_xattrs == 0)
    return skiff_error(err, 0, "entry `%s`: xattrs in LIBARCHIVE.xattr records only", e->path),
           TAR_UNSUPPORTED;
  if (e->hardlink || e->type == S_IFLNK)
    {
      if (p->link)
        e->link = steal_pointer(&p->link);
      else if (r->longlink)
        e->link = steal_pointer(&r->longlink);
      else
        e->link = field_string(h + 157, 100);
    }
  if (e->type == S_IFCHR || e->type == S_IFBLK)
    {
      long long maj = 0, min = 0;
      if (!tar_parse_number(h + 329, 8, &maj) || !tar_parse_number(h + 337, 8, &min)
          || maj > UINT_MAX || min > UINT_MAX)
        return skiff_error(err, 0, "entry `%s`: a malformed device number", e->path);
      e->dev_major = (unsigned int)maj;
      e->dev_minor = (unsigned int)min;
    }
  e->xattrs = steal_pointer(&p->xattrs);
  e->n_xattrs = p->n_xattrs;
  p->n_xattrs = 0;
  /* a hard link with data (pax allows one) is left to libarchive */
  if (e->hardlink && size > 0)
    return skiff_error(err, 0, "entry `%s`: a hard link with data", e->path), TAR_UNSUPPORTED;
  /* data follows a regular file only: the other types are header-only, whatever their size
   * field says (as Go's archive/tar, which writes most image layers, reads them) */
  e->size = e->type == S_IFREG && !e->hardlink ? size : 0;
  r->left = r->size = e->size;
  r->pad = (TAR_BLOCK - e->size % TAR_BLOCK) % TAR_BLOCK;
  return 1;
}

int tar_reader_next(struct tar_reader *r, struct tar_entry **out, struct skiff_err **err)
{
  if (skip(r, r->left + r->pad, err) < 0)
    return -1;
  r->left = r->pad = r->size = 0;
  entry_clear(r);
  for (;;)
    {
      int k = take(r, r->hdr, TAR_BLOCK, "a header", err);
      if (k < 0)
        return -1;
      bool pending = r->pax.path || r->pax.link || r->pax.has_size || r->longname || r->longlink;
      if (k == 0 || zero_block(r->hdr))
        {
          if (pending)
            return skiff_error(err, 0, "truncated archive: no entry after its pax or long name");
          return 0; /* the end: what follows (the second zero block) the caller drains */
        }
      r->nhdr++;
      if (!checksum_ok(r->hdr))
        return skiff_error(err, 0, "header %lld: checksum mismatch (not a tar archive?)", r->nhdr);
      long long hsize;
      if (!tar_parse_number(r->hdr + 124, 12, &hsize))
        return skiff_error(err, 0, "header %lld: a malformed size", r->nhdr);
      char type = (char)r->hdr[156];
      if (type == 'x' || type == 'g')
        {
          cleanup_free char *buf = read_meta(r, hsize, "a pax header", err);
          if (buf == NULL)
            return -1;
          int pr = pax_parse(&r->pax, buf, (size_t)hsize, type == 'g', err);
          if (pr != 0)
            {
              skiff_err_prefix(err, "header %lld", r->nhdr);
              return pr == PAX_UNSUPPORTED ? TAR_UNSUPPORTED : -1;
            }
          continue;
        }
      if (type == 'L' || type == 'K')
        {
          char *v = read_meta(r, hsize, "a GNU long name", err);
          if (v == NULL)
            return -1;
          replace(type == 'L' ? &r->longname : &r->longlink, v);
          continue;
        }
      int m = make_entry(r, hsize, err);
      if (m != 1)
        return m;
      *out = &r->e;
      return 1;
    }
}
