/* tar_reader.h - a reader of tar streams (POSIX ustar and pax, GNU long names, v7): the
 * layers of OCI and Docker images, which Go's archive/tar, GNU tar, libarchive and
 * skiff itself write.  A layer's tar is read as it is inflated, entry by entry, the data
 * handed out in place (no copy); the caller writes the files (image_layer_entry.c).
 *
 * What an image layer seldom holds is refused as unsupported (TAR_UNSUPPORTED), not read
 * half-right: sparse files, ACLs, pax global headers other than a comment, multi-volume
 * and other vendor entry types.  The unpack then starts over from the verified blob with
 * libarchive (image_layer.c).  Every size is checked against the stream: a hostile header
 * cannot make the reader allocate more than TAR_META_MAX for one entry's metadata. */
#ifndef SKIFF_TAR_READER_H
#define SKIFF_TAR_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "util.h"

#define TAR_BLOCK 512
/* the largest pax header or GNU long name accepted */
#define TAR_META_MAX (8 * 1024 * 1024)
/* tar_reader_next's return for an archive this reader does not handle (err says why) */
#define TAR_UNSUPPORTED (-2)

struct tar_xattr
{
  char *name;
  void *value;
  size_t size;
};

struct tar_entry
{
  char *path;    /* as in the archive (not cleaned) */
  char *link;    /* symlink target or hardlink target; NULL for other types */
  mode_t type;   /* S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK or S_IFIFO */
  bool hardlink; /* a hard link to `link` (type S_IFREG) */
  mode_t mode;   /* permission bits, setuid/setgid/sticky included */
  unsigned long long uid, gid;
  struct timespec mtime;
  struct timespec atime; /* tv_nsec UTIME_NOW when the archive has none */
  long long size;        /* the data that follows (regular files only) */
  unsigned int dev_major, dev_minor;
  struct tar_xattr *xattrs; /* pax SCHILY.xattr.* records */
  size_t n_xattrs;
};

/* The next bytes of the stream: *buf points at them (valid until the next call), returns
 * their count, 0 at the end of the stream, -1 with *why set (errno kept). */
typedef ssize_t (*tar_fill_fn)(void *arg, const void **buf, const char **why);

struct tar_reader;
struct tar_reader *tar_reader_new(tar_fill_fn fill, void *arg);
/* The next entry into *e (the reader's until the next call): 1, 0 at the end of the
 * archive (its end blocks or the end of the stream), -1 on a malformed or truncated
 * archive or a read error, TAR_UNSUPPORTED; err names the cause and the entry. */
int tar_reader_next(struct tar_reader *r, struct tar_entry **e, struct skiff_err **err);
/* The entry's next data in place: *buf, *off (the offset in the file); >0 bytes, 0 when
 * all is read, -1 when the stream ends early or fails. */
ssize_t tar_reader_data(struct tar_reader *r, const void **buf, long long *off,
                        struct skiff_err **err);
void tar_reader_free(struct tar_reader *r);

/* Parsing of the fields, pure (tar_reader.c; exposed for the unit tests). */
/* An octal numeric field (space or NUL padded) or GNU base-256; false when malformed. */
bool tar_parse_number(const unsigned char *f, size_t len, long long *out);
/* A pax time "[-]SECONDS[.FRACTION]"; false when malformed. */
bool tar_parse_pax_time(const char *v, size_t len, struct timespec *ts);

#endif
