/* mount.h - the container's filesystem view: rootfs, spec mounts, /dev, pivot_root,
 * masked and readonly paths.  All functions run inside the container init, in its new
 * mount namespace (and user namespace if any), before exec. */
#ifndef SKIFF_MOUNT_H
#define SKIFF_MOUNT_H

#include "spec.h"

/* Everything up to and including pivot_root:
 *  - make / of the new mount ns private/slave/shared as linux.rootfsPropagation says
 *    (default rprivate) so nothing leaks back to the host;
 *  - bind the rootfs onto itself (pivot_root needs a mount point);
 *  - every spec mount in order (bind/rbind, tmpfs, proc, sysfs, devpts, mqueue, cgroup,
 *    with flags, data and propagation), destinations resolved inside the rootfs
 *    (openat2 RESOLVE_IN_ROOT: a symlink component can never lead outside), missing
 *    destinations created (dir, or file for file binds);
 *  - /dev: when the spec does not mount /dev itself, a tmpfs (mode=755,nosuid) first;
 *    then, when /dev is that tmpfs or a spec tmpfs (not a bind of a host /dev), the default
 *    devices (null zero full random urandom tty: mknod, or in a user ns the host's node
 *    bound onto an empty file) and linux.devices, the /dev/pts and /dev/shm directories
 *    when missing, /dev/ptmx -> pts/ptmx, and symlinks fd, stdin, stdout, stderr and
 *    core -> /proc/kcore;
 *  - /proc, /sys and /dev (and any proc/sysfs mount) must not be symlinks in the rootfs:
 *    refused with an error;
 *  - pivot_root(".", ".") then umount2(".", MNT_DETACH) of the old root; chdir "/".
 * rootfs is an absolute host path. */
int mount_prepare_rootfs(const struct skiff_spec *spec, const char *rootfs, struct skiff_err **err);

/* After pivot_root: masked paths (a directory gets an empty read-only tmpfs, a file gets
 * /dev/null bound over it), readonly paths (bind + remount ro,nosuid,nodev,noexec),
 * then the read-only root (root.readonly) remount.  Missing paths are skipped. */
int mount_finalize_rootfs(const struct skiff_spec *spec, struct skiff_err **err);

/* Bind the pty slave at slave_path (in the container's /dev/pts) onto /dev/console. */
int mount_setup_console(const char *slave_path, struct skiff_err **err);

/* Pure helpers (no I/O), exposed for unit tests and for other modules. */

/* "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable",
 * "runbindable" -> MS_* (| MS_REC for the r- forms).  -1 with *err when unknown. */
int mount_parse_propagation(const char *name, unsigned long *flags, struct skiff_err **err);

/* Is this /proc/self/uid_map text the initial user namespace's ("0 0 4294967295")?
 * false means we run in a user namespace and cannot mknod devices. */
bool mount_uid_map_is_initial(const char *uid_map);

/* From /proc/self/mountinfo text: the cgroup v1 hierarchies, each as the option string
 * that mounts it again ("cpu,cpuacct", "memory", "name=systemd"), NULL-terminated,
 * malloc'd (free with mount_strv_free).  Options that are not controllers (rw, xattr,
 * release_agent=...) are dropped. */
char **mount_cgroup_v1_hierarchies(const char *mountinfo);
/* The directory name for a hierarchy's options: "cpu,cpuacct" -> "cpu,cpuacct",
 * "name=systemd" -> "systemd" (malloc'd). */
char *mount_cgroup_dir_name(const char *options);

/* From /proc/self/mountinfo text: the mount point that contains `path` (absolute,
 * canonical), i.e. the longest mount point that is a path prefix of it (malloc'd). */
char *mount_find_mountpoint(const char *mountinfo, const char *path);

void mount_strv_free(char **v);

#endif
