/* image_layer_entry.h - the entries of a layer written beneath its root (image_layer.c
 * reads them; image_unpack.c checks names and makes whiteouts, image_layer_entry.c writes
 * the entries): every entry's name checked and its parent opened without following a
 * symlink, OCI whiteouts turned into overlayfs objects, and files, directories, symlinks,
 * hard links, devices and fifos made in their checked parent by *at system calls, with
 * owner, mode, xattrs and times.  Directories get their mode and times once every entry
 * is in (their children change them).  Include after util.h. */
#ifndef SKIFF_IMAGE_LAYER_ENTRY_H
#define SKIFF_IMAGE_LAYER_ENTRY_H

#include <stdbool.h>
#include <sys/stat.h>
#include "tar_reader.h"

/* Files of a layer from this size on have their writeback started as soon as they are
 * written, so the commit's syncfs finds less to write (best effort, like the blob's). */
#define IMAGE_WRITEBACK_MIN (64 * 1024)

/* The directory the last entries went into, kept open: a layer lists a directory's entries
 * together, so its parent is opened (and checked) once per directory, not once per entry.
 * An entry that may replace that directory or one above it (its own name, a whiteout's
 * target) drops it first, so the fd is always the directory the name now leads to:
 * libarchive writes some entries by path (image_layer.c), and a stale fd would let a
 * checked `p/x` follow a symlink a later entry put at `p`. */
struct image_parent_cache
{
  char *path; /* relative to the layer root, cleaned; NULL when empty */
  int fd;     /* O_PATH directory fd, -1 when empty */
};

struct image_dir_fixup
{
  char *path;
  mode_t mode;
  struct timespec ts[2];
};

/* One unpack into a root directory. */
struct image_unpack
{
  int rootfd;
  bool layer; /* an image layer: whiteouts, owners, devices, setuid; else an image archive */
  struct image_parent_cache pc;
  char **opaque; /* directories marked opaque at the end */
  size_t n_opaque;
  struct image_dir_fixup *fix; /* directories whose mode and times are set at the end */
  size_t n_fix;
};

/* openat2 of rel beneath rootfd, never through a symlink (image_unpack.c). */
int image_open_beneath(int rootfd, const char *rel, int flags);

void image_unpack_init(struct image_unpack *u, int rootfd, bool layer);
/* The front of every entry: its name cleaned into *clean, the parent cache dropped when
 * the entry may replace it, its parent checked (*pfd: the cache's fd, or -1 when the
 * parent does not exist yet), a symlink at a directory entry's name removed, whiteouts
 * made.  0: write the entry into *pfd; 1: done (a whiteout); -1: error. */
int image_unpack_begin(struct image_unpack *u, const char *name, bool is_dir, char **clean,
                       int *pfd, struct skiff_err **err);
/* The missing parent directories of clean created (0755) and opened into the cache. */
int image_unpack_parent(struct image_unpack *u, const char *clean, int *pfd,
                        struct skiff_err **err);
/* The target of hard link entry clean: link cleaned into *target, opened (O_PATH, returned)
 * beneath the root, *st its stat; -1 (err set) unless it is a non-directory in the layer. */
int image_unpack_link_target(struct image_unpack *u, const char *clean, const char *link,
                             char **target, struct stat *st, struct skiff_err **err);
/* Directories' modes and times set, opaque directories marked. */
int image_unpack_finish(struct image_unpack *u, struct skiff_err **err);
void image_unpack_free(struct image_unpack *u);

void image_parent_cache_drop(struct image_parent_cache *pc);
/* Something is about to be made, replaced or removed at `clean`. */
void image_parent_cache_touch(struct image_parent_cache *pc, const char *clean);

/* Remove what is at base in dfd (an empty directory too); 0 when nothing was there. */
int image_entry_remove(int dfd, const char *base);

/* The entry's data, in place: >0 bytes at *buf for file offset *off, 0 at its end, -1. */
typedef ssize_t (*image_data_fn)(void *arg, const void **buf, long long *off,
                                 struct skiff_err **err);

/* Each makes entry e (named clean) in its parent pfd, replacing what is at the name (an
 * empty directory too), as libarchive does; owner (in a layer) and times are set without
 * following a symlink, xattrs (trusted.overlay.* dropped: a layer must not steer overlayfs)
 * after the owner, whose change clears security.capability.  Failures to set owner, times
 * or xattrs are not errors, as they are only warnings from libarchive (a rootless store
 * cannot chown). */
int image_entry_symlink(int pfd, const char *clean, const struct tar_entry *e, bool owner,
                        struct skiff_err **err);
/* A regular file: created exclusively, written from data (a sparse entry's holes stay
 * holes), owner, mode (setuid and the like only in a layer, after the chown that clears
 * them), xattrs and times set on its fd; its writeback started when it is large.  A write
 * error (ENOSPC) is one. */
int image_entry_file(int pfd, const char *clean, const struct tar_entry *e, image_data_fn data,
                     void *arg, bool layer, struct skiff_err **err);
/* A directory: made (or kept, when one is there), owner and xattrs now; mode and times at
 * image_unpack_finish. */
int image_entry_dir(struct image_unpack *u, int pfd, const char *clean, const struct tar_entry *e,
                    struct skiff_err **err);
/* A hard link to e->link, which must name a non-directory inside the layer. */
int image_entry_hardlink(struct image_unpack *u, int pfd, const char *clean,
                         const struct tar_entry *e, struct skiff_err **err);
/* A character or block device or a fifo. */
int image_entry_node(int pfd, const char *clean, const struct tar_entry *e, struct skiff_err **err);

#endif
