/* mount_internal.h - helpers shared by mount.c, mount_dev.c and mount_cgroup.c: path
 * resolution inside the container root (openat2 RESOLVE_IN_ROOT) and fd-based mounts.
 * Not part of libskiff's interface. */
#ifndef SKIFF_MOUNT_INTERNAL_H
#define SKIFF_MOUNT_INTERNAL_H

#include <stdbool.h>

#include "spec.h"
#include "util.h"

/* O_PATH fd of `path` resolved inside root_fd (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
 * absolute symlinks and ".." never leave the root.  oflags adds O_NOFOLLOW/O_DIRECTORY.
 * Returns the fd, or -1 with errno set (no *err, so callers can test ENOENT). */
int mnt_resolve(int root_fd, const char *path, int oflags);

/* Like mnt_resolve, creating missing components inside the root first: directories,
 * and a regular file for the last one when last_is_file.  Returns the fd or -1. */
int mnt_ensure(int root_fd, const char *path, bool last_is_file, struct skiff_err **err);

/* O_PATH fd of the directory that holds `path`'s last component (created if missing),
 * and that component in *base (malloc'd).  Returns the fd or -1. */
int mnt_ensure_parent(int root_fd, const char *path, char **base, struct skiff_err **err);

/* Bind the object behind src_fd onto the object behind dst_fd (new mount API:
 * open_tree(OPEN_TREE_CLONE) + mount_setattr + move_mount).  flags/clear_flags are
 * MS_RDONLY/MS_NOSUID/MS_NODEV/MS_NOEXEC/atime flags, applied to the detached copy
 * before it is attached, so the mount is never visible without them.  `what` names the
 * destination in errors. */
int mnt_bind_fd(int src_fd, int dst_fd, bool recursive, unsigned long flags,
                unsigned long clear_flags, const char *what, struct skiff_err **err);

/* mount(2) of a filesystem onto the object behind dst_fd, through /proc/self/fd/N so the
 * kernel mounts exactly on that inode (needs /proc: used before pivot_root). */
int mnt_fs_at_fd(int dst_fd, const char *source, const char *type, unsigned long flags,
                 const char *data, const char *what, struct skiff_err **err);

/* Apply MS_RDONLY... to an attached mount whose root is fd (mount_setattr). */
int mnt_setattr_fd(int fd, unsigned long flags, bool recursive, const char *what,
                   struct skiff_err **err);

/* /dev population (mount_dev.c): default devices, linux.devices, symlinks, pts/shm dirs.
 * Runs before pivot_root with /dev already mounted inside root_fd. */
int mnt_populate_dev(int root_fd, const struct skiff_spec *spec, struct skiff_err **err);

/* O_PATH fd of the container's /dev/null, verified to be the char device 1:3 and not a
 * symlink (CVE-2025-31133).  Returns the fd or -1. */
int mnt_open_dev_null(int root_fd, struct skiff_err **err);

/* A "cgroup" spec mount on dst_fd (mount_cgroup.c): cgroup2 on a unified host, else a
 * tmpfs with one cgroup v1 mount per host hierarchy. */
int mnt_mount_cgroup(int root_fd, const struct skiff_mount *m, int dst_fd, struct skiff_err **err);

#endif
