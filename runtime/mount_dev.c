/* mount_dev.c - populating the container's /dev: the default devices, linux.devices,
 * the fd/stdio/core/ptmx symlinks and the pts and shm directories; and the verified
 * /dev/null that masked paths bind.
 *
 * Outside a user namespace devices are made with mknod.  In a user namespace mknod of a
 * device is not allowed, so an empty file is created and the host's device node bound
 * onto it.  Nothing is ever bound or chmod'ed through a symlink (CVE-2025-31133). */
#include "mount.h"
#include "mount_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const struct skiff_device default_devices[] = {
    {.path = (char *)"/dev/null", .type = 'c', .major = 1, .minor = 3},
    {.path = (char *)"/dev/zero", .type = 'c', .major = 1, .minor = 5},
    {.path = (char *)"/dev/full", .type = 'c', .major = 1, .minor = 7},
    {.path = (char *)"/dev/random", .type = 'c', .major = 1, .minor = 8},
    {.path = (char *)"/dev/urandom", .type = 'c', .major = 1, .minor = 9},
    {.path = (char *)"/dev/tty", .type = 'c', .major = 5, .minor = 0},
};

static const struct
{
  const char *target, *name;
} dev_symlinks[] = {
    {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},      {"pts/ptmx", "ptmx"},
};

static mode_t device_type_bits(char type)
{
  switch (type)
    {
      case 'c':
      case 'u':
        return S_IFCHR;
      case 'b':
        return S_IFBLK;
      case 'p':
        return S_IFIFO;
      default:
        return 0;
    }
}

/* Is st the device d describes (type, and major:minor for c/b)? */
static bool is_device(const struct stat *st, const struct skiff_device *d)
{
  mode_t t = device_type_bits(d->type);
  if ((st->st_mode & S_IFMT) != t)
    return false;
  return t == S_IFIFO || st->st_rdev == makedev(d->major, d->minor);
}

static bool in_user_namespace(void)
{
  cleanup_free char *map = NULL;
  cleanup_err struct skiff_err *e = NULL;
  if (skiff_read_file("/proc/self/uid_map", &map, NULL, &e) < 0)
    return false;
  return !mount_uid_map_is_initial(map);
}

/* Bind the host's node for d onto the empty file base in parent (user namespace). */
static int bind_host_device(int parent, const char *base, const struct skiff_device *d,
                            struct skiff_err **err)
{
  cleanup_close int src = open(d->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (src < 0)
    return skiff_error(err, errno, "open host device `%s`", d->path);
  if (fstat(src, &st) < 0)
    return skiff_error(err, errno, "fstat host device `%s`", d->path);
  if (!is_device(&st, d))
    return skiff_error(err, EINVAL, "host `%s` is not device %c %lld:%lld", d->path, d->type,
                       (long long)d->major, (long long)d->minor);
  if (mknodat(parent, base, S_IFREG | 0644, 0) < 0)
    return skiff_error(err, errno, "create `%s`", d->path);
  cleanup_close int dst = openat(parent, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (dst < 0)
    return skiff_error(err, errno, "open `%s`", d->path);
  if (fstat(dst, &st) < 0)
    return skiff_error(err, errno, "fstat `%s`", d->path);
  if (!S_ISREG(st.st_mode))
    return skiff_error(err, EINVAL, "`%s` changed under us", d->path);
  return mnt_bind_fd(src, dst, false, 0, 0, d->path, err);
}

/* d's parent directory and base name: dev_fd (the container's /dev, resolved once) for a
 * plain "/dev/NAME", else resolved (and created) inside the root.  *owned is the fd to
 * close. */
static int device_parent(int root_fd, int dev_fd, const char *path, char **base, int *owned,
                         struct skiff_err **err)
{
  *owned = -1;
  if (strncmp(path, "/dev/", 5) == 0 && path[5] && strchr(path + 5, '/') == NULL
      && strcmp(path + 5, ".") && strcmp(path + 5, ".."))
    {
      *base = xstrdup(path + 5);
      return dev_fd;
    }
  *owned = mnt_ensure_parent(root_fd, path, base, err);
  return *owned;
}

static int create_device(int root_fd, int dev_fd, const struct skiff_device *d, bool userns,
                         struct skiff_err **err)
{
  mode_t type = device_type_bits(d->type);
  if (type == 0)
    return skiff_error(err, EINVAL, "device `%s`: unknown type `%c`", d->path, d->type);
  cleanup_free char *base = NULL;
  cleanup_close int owned = -1;
  int parent = device_parent(root_fd, dev_fd, d->path, &base, &owned, err);
  if (parent < 0)
    return skiff_err_prefix(err, "device `%s`", d->path);
  struct stat st;
  if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      /* Already there (a spec mount put it there): accept only the real thing. */
      if (!is_device(&st, d))
        return skiff_error(err, EEXIST, "`%s` exists and is not device %c %lld:%lld", d->path,
                           d->type, (long long)d->major, (long long)d->minor);
      return 0;
    }
  if (errno != ENOENT)
    return skiff_error(err, errno, "stat `%s`", d->path);

  if (userns && type != S_IFIFO)
    return bind_host_device(parent, base, d, err);

  /* the umask is 0 while /dev is populated (mnt_populate_dev) */
  mode_t perm = d->has_mode ? (d->file_mode & 07777) : 0666;
  int r = mknodat(parent, base, type | perm, makedev(d->major, d->minor));
  if (r < 0)
    return skiff_error(err, errno, "mknod `%s`", d->path);
  if ((d->has_uid || d->has_gid)
      && fchownat(parent, base, d->has_uid ? d->uid : (uid_t)-1, d->has_gid ? d->gid : (gid_t)-1,
                  AT_SYMLINK_NOFOLLOW)
             < 0)
    return skiff_error(err, errno, "chown `%s`", d->path);
  return 0;
}

static bool listed_in_spec(const struct skiff_spec *spec, const char *path)
{
  for (size_t i = 0; i < spec->linux.n_devices; i++)
    if (spec->linux.devices[i].path && strcmp(spec->linux.devices[i].path, path) == 0)
      return true;
  return false;
}

static int populate(int root_fd, int dev, const struct skiff_spec *spec, struct skiff_err **err)
{
  bool userns = in_user_namespace();
  for (size_t i = 0; i < sizeof default_devices / sizeof default_devices[0]; i++)
    if (!listed_in_spec(spec, default_devices[i].path)
        && create_device(root_fd, dev, &default_devices[i], userns, err) < 0)
      return -1;
  for (size_t i = 0; i < spec->linux.n_devices; i++)
    {
      if (spec->linux.devices[i].path == NULL)
        return skiff_error(err, EINVAL, "linux.devices[%zu]: no path", i);
      if (create_device(root_fd, dev, &spec->linux.devices[i], userns, err) < 0)
        return skiff_err_prefix(err, "linux.devices[%zu]", i);
    }
  if (mkdirat(dev, "pts", 0755) < 0 && errno != EEXIST)
    return skiff_error(err, errno, "mkdir `/dev/pts`");
  if (mkdirat(dev, "shm", 01777) < 0 && errno != EEXIST)
    return skiff_error(err, errno, "mkdir `/dev/shm`");
  for (size_t i = 0; i < sizeof dev_symlinks / sizeof dev_symlinks[0]; i++)
    if (symlinkat(dev_symlinks[i].target, dev, dev_symlinks[i].name) < 0 && errno != EEXIST)
      return skiff_error(err, errno, "symlink `/dev/%s`", dev_symlinks[i].name);
  return 0;
}

int mnt_populate_dev(int root_fd, const struct skiff_spec *spec, struct skiff_err **err)
{
  /* /dev once, not per device; modes exactly as asked (umask 0) for the whole walk */
  cleanup_close int dev = mnt_resolve(root_fd, "/dev", O_DIRECTORY);
  if (dev < 0)
    return skiff_error(err, errno, "resolve `/dev` inside the rootfs");
  mode_t old = umask(0);
  int r = populate(root_fd, dev, spec, err);
  umask(old);
  return r;
}

int mnt_open_dev_null(int root_fd, struct skiff_err **err)
{
  cleanup_close int fd = mnt_resolve(root_fd, "/dev/null", O_NOFOLLOW);
  struct stat st;
  if (fd < 0)
    return skiff_error(err, errno, "open `/dev/null`");
  if (fstat(fd, &st) < 0)
    return skiff_error(err, errno, "fstat `/dev/null`");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
    return skiff_error(err, EINVAL, "`/dev/null` is not the null device (char 1:3)");
  return steal_fd(&fd);
}
