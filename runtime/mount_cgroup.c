/* mount_cgroup.c - the "cgroup" spec mount (usually /sys/fs/cgroup).
 *
 * On a unified host it is a cgroup2 mount.  On a v1 or hybrid host it is a tmpfs holding
 * one `cgroup` mount per host v1 hierarchy (read from /proc/self/mountinfo), with
 * symlinks for co-mounted controllers ("cpu" -> "cpu,cpuacct"), as Docker lays it out.
 * In a cgroup namespace each mount shows the container's own cgroup as its root. */
#include "mount.h"
#include "mount_internal.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static bool host_is_unified(void)
{
  struct statfs sfs;
  return statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* The mount flags without read-only: cgroup superblocks are shared with the host, so
 * read-only is applied per mount afterwards (mount_setattr), never to the superblock. */
static unsigned long fs_flags(const struct skiff_mount *m)
{
  return m->flags
         & ~(MS_RDONLY | MS_BIND | MS_REC | MS_REMOUNT | MS_SHARED | MS_SLAVE | MS_PRIVATE
             | MS_UNBINDABLE);
}

static int mount_readonly_at(int root_fd, const char *path, struct skiff_err **err)
{
  cleanup_close int fd = mnt_resolve(root_fd, path, 0);
  if (fd < 0)
    return skiff_error(err, errno, "resolve `%s` inside the rootfs", path);
  return mnt_setattr_fd(fd, MS_RDONLY, false, path, err);
}

static int mount_v1_hierarchy(int root_fd, const struct skiff_mount *m, int tmpfs_fd,
                              const char *options, struct skiff_err **err)
{
  cleanup_free char *name = mount_cgroup_dir_name(options);
  cleanup_free char *path = xasprintf("%s/%s", m->destination, name);
  if (mkdirat(tmpfs_fd, name, 0755) < 0 && errno != EEXIST)
    return skiff_error(err, errno, "mkdir `%s`", path);
  cleanup_close int sub = openat(tmpfs_fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
  if (sub < 0)
    return skiff_error(err, errno, "open `%s`", path);
  if (mnt_fs_at_fd(sub, "cgroup", "cgroup", fs_flags(m), options, path, err) < 0)
    return -1;
  if ((m->flags & MS_RDONLY) && mount_readonly_at(root_fd, path, err) < 0)
    return -1;
  /* Co-mounted controllers: "cpu" and "cpuacct" both lead to "cpu,cpuacct". */
  if (strchr(name, ',') == NULL)
    return 0;
  cleanup_free char *copy = xstrdup(options);
  char *save = NULL;
  for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save))
    if (strncmp(c, "name=", 5) != 0 && symlinkat(name, tmpfs_fd, c) < 0 && errno != EEXIST)
      return skiff_error(err, errno, "symlink `%s/%s`", m->destination, c);
  return 0;
}

int mnt_mount_cgroup(int root_fd, const struct skiff_mount *m, int dst_fd, struct skiff_err **err)
{
  if (host_is_unified())
    {
      if (mnt_fs_at_fd(dst_fd, "cgroup2", "cgroup2", fs_flags(m), NULL, m->destination, err) < 0)
        return -1;
      return (m->flags & MS_RDONLY) ? mount_readonly_at(root_fd, m->destination, err) : 0;
    }

  if (mnt_fs_at_fd(dst_fd, "tmpfs", "tmpfs", fs_flags(m), "mode=755", m->destination, err) < 0)
    return -1;
  /* dst_fd is the covered directory; the tmpfs is what the path leads to now. */
  cleanup_close int tmpfs_fd = mnt_resolve(root_fd, m->destination, O_DIRECTORY);
  if (tmpfs_fd < 0)
    return skiff_error(err, errno, "resolve `%s` inside the rootfs", m->destination);
  /* the runtime's view of the host's hierarchies, parsed before the clone; a walk of
     this namespace's mountinfo (all the host's mounts) only when it has none */
  char **hier = cgroup_v1_mount_options();
  if (hier == NULL)
    {
      cleanup_free char *info = NULL;
      if (skiff_read_file("/proc/self/mountinfo", &info, NULL, err) < 0)
        return -1;
      hier = mount_cgroup_v1_hierarchies(info);
    }
  int ret = 0;
  for (char **h = hier; *h && ret == 0; h++)
    ret = mount_v1_hierarchy(root_fd, m, tmpfs_fd, *h, err);
  mount_strv_free(hier);
  if (ret < 0)
    return -1;
  return (m->flags & MS_RDONLY) ? mnt_setattr_fd(tmpfs_fd, MS_RDONLY, false, m->destination, err)
                                : 0;
}
