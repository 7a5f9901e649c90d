/* image_layer_entry.h - the entries of a layer that image_layer.c writes itself, in their
 * checked parent directory, instead of through libarchive's path-based writer (which spends
 * two umask calls, an lstat and an open/fstat/close on every entry): symlinks and regular
 * files, the bulk of any layer.  Directories (whose times libarchive sets once their
 * children are in), hardlinks, devices, fifos and entries with xattrs still go through
 * libarchive.  Include after image_libarchive.h's dependencies (util.h). */
#ifndef SKIFF_IMAGE_LAYER_ENTRY_H
#define SKIFF_IMAGE_LAYER_ENTRY_H

#include <stdbool.h>
#include "image_libarchive.h"

/* Files of a layer from this size on have their writeback started as soon as they are
 * written, so the commit's syncfs finds less to write (best effort, like the blob's). */
#define IMAGE_WRITEBACK_MIN (64 * 1024)

/* The directory the last entries went into, kept open: a layer lists a directory's entries
 * together, so its parent is opened (and checked) once per directory, not once per entry.
 * An entry that may replace that directory or one above it (its own name, a whiteout's
 * target) drops it first, so the fd is always the directory the name now leads to:
 * libarchive writes the other entries by path, and a stale fd would let a checked `p/x`
 * follow a symlink a later entry put at `p`. */
struct image_parent_cache
{
  char *path; /* relative to the layer root, cleaned; NULL when empty */
  int fd;     /* O_PATH directory fd, -1 when empty */
};

void image_parent_cache_drop(struct image_parent_cache *pc);
/* Something is about to be made, replaced or removed at `clean`. */
void image_parent_cache_touch(struct image_parent_cache *pc, const char *clean);

/* Remove what is at base in dfd (an empty directory too); 0 when nothing was there. */
int image_entry_remove(int dfd, const char *base);

/* The symlink entry e (named clean) made in its parent pfd: symlinkat, then owner (when
 * owner) and times without following it.  What is at the name is replaced, as libarchive
 * does (an empty directory too).  Owner and time failures are not errors, as they are only
 * warnings from libarchive (a rootless store cannot chown). */
int image_entry_symlink(int pfd, const char *clean, struct archive_entry *e, bool owner,
                        struct skiff_err **err);

/* The regular-file entry e made in pfd with its data read from `in`: created exclusively
 * (what was at the name removed first), written, then owner (layer), mode (with setuid and
 * the like only in a layer, set after the chown that clears them) and times set on the fd,
 * and its writeback started when it is large.  A write error (ENOSPC) is one. */
int image_entry_file(int pfd, const char *clean, struct archive *in, struct archive_entry *e,
                     bool layer, struct skiff_err **err);

#endif
