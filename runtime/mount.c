/* mount.c - the container's filesystem view: root propagation, spec mounts resolved
 * inside the rootfs, pivot_root, masked and readonly paths, the read-only root and the
 * console.  /dev population lives in mount_dev.c, "cgroup" mounts in mount_cgroup.c.
 *
 * Every mount destination is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) and the mount is made on that fd (move_mount, or
 * /proc/self/fd/N for filesystems), so a symlink in the image can never send a mount to
 * the host (CVE-2021-30465 and the symlinked /proc and /dev attacks). */
#include "mount.h"
#include "mount_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MS_PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)

/* ---- pure helpers ---------------------------------------------------------------- */

static const struct
{
  const char *name;
  unsigned long flags;
} propagation_table[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_REC | MS_PRIVATE},
    {"slave", MS_SLAVE},           {"rslave", MS_REC | MS_SLAVE},
    {"shared", MS_SHARED},         {"rshared", MS_REC | MS_SHARED},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_REC | MS_UNBINDABLE},
};

int mount_parse_propagation(const char *name, unsigned long *flags, struct skiff_err **err)
{
  for (size_t i = 0; i < sizeof propagation_table / sizeof propagation_table[0]; i++)
    if (name && strcmp(name, propagation_table[i].name) == 0)
      {
        *flags = propagation_table[i].flags;
        return 0;
      }
  return skiff_error(err, 0, "linux.rootfsPropagation: unknown propagation `%s`",
                     name ? name : "(null)");
}

bool mount_uid_map_is_initial(const char *uid_map)
{
  unsigned long a, b, c;
  int n = 0;
  if (uid_map == NULL || sscanf(uid_map, " %lu %lu %lu %n", &a, &b, &c, &n) != 3)
    return false;
  return a == 0 && b == 0 && c == 4294967295UL && uid_map[n] == '\0';
}

void mount_strv_free(char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_mountinfo(char *s)
{
  char *w = s;
  for (char *r = s; *r; r++)
    {
      if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0'
          && r[3] <= '7')
        {
          *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
          r += 3;
        }
      else
        *w++ = *r;
    }
  *w = '\0';
}

/* Split one mountinfo line into its mount point, fs type and super options (pointers
 * into line, which is modified).  Returns false on a malformed line. */
static bool parse_mountinfo_line(char *line, char **mountpoint, char **fstype, char **superopts)
{
  char *fields[64];
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r(line, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
    fields[n++] = t;
  if (n < 9)
    return false;
  for (size_t i = 6; i + 2 < n; i++)
    if (strcmp(fields[i], "-") == 0)
      {
        *mountpoint = fields[4];
        *fstype = fields[i + 1];
        *superopts = i + 3 < n ? fields[i + 3] : (char *)"";
        unescape_mountinfo(*mountpoint);
        return true;
      }
  return false;
}

static const char *const cgroup_v1_controllers[] = {
    "cpu",   "cpuacct",    "cpuset",  "memory", "devices", "freezer", "net_cls", "net_prio",
    "blkio", "perf_event", "hugetlb", "pids",   "rdma",    "misc",    "debug",   NULL,
};

static bool is_v1_controller(const char *opt)
{
  if (strncmp(opt, "name=", 5) == 0)
    return opt[5] != '\0';
  for (size_t i = 0; cgroup_v1_controllers[i]; i++)
    if (strcmp(opt, cgroup_v1_controllers[i]) == 0)
      return true;
  return false;
}

char **mount_cgroup_v1_hierarchies(const char *mountinfo)
{
  size_t n = 0;
  char **out = xzalloc(sizeof(char *));
  cleanup_free char *text = xstrdup(mountinfo ? mountinfo : "");
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      char *mp, *fstype, *opts;
      if (!parse_mountinfo_line(line, &mp, &fstype, &opts) || strcmp(fstype, "cgroup") != 0)
        continue;
      size_t len = 0;
      char *joined = xzalloc(strlen(opts) + 1);
      char *osave = NULL;
      for (char *o = strtok_r(opts, ",", &osave); o; o = strtok_r(NULL, ",", &osave))
        {
          if (!is_v1_controller(o))
            continue;
          if (len)
            joined[len++] = ',';
          strcpy(joined + len, o);
          len += strlen(o);
        }
      bool dup = len == 0;
      for (size_t i = 0; i < n && !dup; i++)
        dup = strcmp(out[i], joined) == 0;
      if (dup)
        {
          free(joined);
          continue;
        }
      out = xrealloc(out, (n + 2) * sizeof(char *));
      out[n++] = joined;
      out[n] = NULL;
    }
  return out;
}

char *mount_cgroup_dir_name(const char *options)
{
  char *out = xzalloc(strlen(options) + 1);
  size_t len = 0;
  for (const char *p = options; *p;)
    {
      const char *end = strchrnul(p, ',');
      if (strncmp(p, "name=", 5) == 0 && end - p > 5)
        p += 5;
      if (len)
        out[len++] = ',';
      memcpy(out + len, p, end - p);
      len += end - p;
      p = *end ? end + 1 : end;
    }
  out[len] = '\0';
  return out;
}

char *mount_find_mountpoint(const char *mountinfo, const char *path)
{
  char *best = NULL;
  size_t best_len = 0;
  cleanup_free char *text = xstrdup(mountinfo ? mountinfo : "");
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      char *mp, *fstype, *opts;
      if (!parse_mountinfo_line(line, &mp, &fstype, &opts))
        continue;
      size_t len = strlen(mp);
      bool under = strcmp(mp, "/") == 0
                   || (strncmp(path, mp, len) == 0 && (path[len] == '/' || path[len] == '\0'));
      /* ">=": a later line with the same mount point is mounted on top. */
      if (under && (best == NULL || len >= best_len))
        {
          free(best);
          best = xstrdup(mp);
          best_len = strcmp(mp, "/") == 0 ? 0 : len;
        }
    }
  return best;
}

/* "/dev//" and "/dev" are the same destination. */
static bool path_equal(const char *a, const char *b)
{
  for (;;)
    {
      while (a[0] == '/' && a[1] == '/')
        a++;
      while (b[0] == '/' && b[1] == '/')
        b++;
      if ((*a == '\0' || (a[0] == '/' && a[1] == '\0'))
          && (*b == '\0' || (b[0] == '/' && b[1] == '\0')))
        return true;
      if (*a != *b)
        return false;
      a++;
      b++;
    }
}

/* ---- resolution inside the root ---------------------------------------------------- */

int mnt_resolve(int root_fd, const char *path, int oflags)
{
  struct open_how how = {
      .flags = (uint64_t)(O_PATH | O_CLOEXEC | oflags),
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  /* openat2 returns EAGAIN when a rename raced with ".." resolution: retry a few times. */
  for (int i = 0; i < 32; i++)
    {
      long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
      if (fd >= 0)
        return (int)fd;
      if (errno != EAGAIN)
        return -1;
    }
  return -1;
}

/* Create what is missing of `path` inside the root.  Existing components are followed
 * as the kernel would (inside the root); a dangling symlink is replaced by its target
 * path (still resolved inside the root) and the walk starts again. */
static int create_in_root(int root_fd, const char *path, bool last_is_file, int depth,
                          struct skiff_err **err)
{
  if (depth > 40)
    return skiff_error(err, ELOOP, "create `%s` inside the rootfs", path);
  cleanup_free char *p = xstrdup(path);
  char *s = p;
  for (;;)
    {
      while (*s == '/')
        s++;
      if (*s == '\0')
        return 0;
      char *end = strchrnul(s, '/');
      char *rest = end;
      while (*rest == '/')
        rest++;
      bool last = *rest == '\0';
      char saved = *end;
      *end = '\0';
      int fd = mnt_resolve(root_fd, p, 0);
      if (fd >= 0)
        {
          close(fd);
          *end = saved;
          s = end;
          continue;
        }
      if (errno != ENOENT)
        return skiff_error(err, errno, "resolve `%s` inside the rootfs", p);
      /* p = "<parent>/<s>": resolve the parent, create s in it. */
      cleanup_free char *parent = s > p + 1 ? strndup(p, s - p - 1) : xstrdup("/");
      if (parent == NULL)
        abort();
      cleanup_close int pfd = mnt_resolve(root_fd, parent, O_DIRECTORY);
      if (pfd < 0)
        return skiff_error(err, errno, "resolve `%s` inside the rootfs", parent);
      int r = last && last_is_file ? mknodat(pfd, s, S_IFREG | 0644, 0) : mkdirat(pfd, s, 0755);
      if (r == 0 || errno != EEXIST)
        {
          if (r < 0)
            return skiff_error(err, errno, "create `%s` inside the rootfs", p);
          *end = saved;
          s = end;
          continue;
        }
      /* EEXIST although the lookup said ENOENT: a dangling symlink. */
      char target[4096];
      ssize_t tl = readlinkat(pfd, s, target, sizeof target - 1);
      if (tl < 0)
        {
          if (errno == EINVAL) /* not a symlink: created concurrently; go on */
            {
              *end = saved;
              s = end;
              continue;
            }
          return skiff_error(err, errno, "readlink `%s` inside the rootfs", p);
        }
      target[tl] = '\0';
      *end = saved;
      cleanup_free char *next = target[0] == '/' ? xasprintf("%s/%s", target, rest)
                                                 : xasprintf("%s/%s/%s", parent, target, rest);
      return create_in_root(root_fd, next, last_is_file, depth + 1, err);
    }
}

int mnt_ensure(int root_fd, const char *path, bool last_is_file, struct skiff_err **err)
{
  int fd = mnt_resolve(root_fd, path, 0);
  if (fd >= 0)
    return fd;
  if (errno != ENOENT)
    return skiff_error(err, errno, "resolve `%s` inside the rootfs", path);
  if (create_in_root(root_fd, path, last_is_file, 0, err) < 0)
    return -1;
  fd = mnt_resolve(root_fd, path, 0);
  if (fd < 0)
    return skiff_error(err, errno, "resolve `%s` inside the rootfs", path);
  return fd;
}

int mnt_ensure_parent(int root_fd, const char *path, char **base, struct skiff_err **err)
{
  cleanup_free char *p = xstrdup(path);
  size_t len = strlen(p);
  while (len > 1 && p[len - 1] == '/')
    p[--len] = '\0';
  char *slash = strrchr(p, '/');
  if (slash == NULL || slash[1] == '\0')
    return skiff_error(err, EINVAL, "`%s`: not an absolute file path", path);
  *slash = '\0';
  int fd = mnt_ensure(root_fd, p[0] ? p : "/", false, err);
  if (fd < 0)
    return -1;
  *base = xstrdup(slash + 1);
  return fd;
}

/* ---- fd-based mounts ------------------------------------------------------------- */

static void flags_to_attr(unsigned long flags, unsigned long clear_flags, struct mount_attr *attr)
{
  static const struct
  {
    unsigned long ms;
    uint64_t attr;
  } table[] = {
      {MS_RDONLY, MOUNT_ATTR_RDONLY},         {MS_NOSUID, MOUNT_ATTR_NOSUID},
      {MS_NODEV, MOUNT_ATTR_NODEV},           {MS_NOEXEC, MOUNT_ATTR_NOEXEC},
      {MS_NODIRATIME, MOUNT_ATTR_NODIRATIME}, {MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW},
  };
  memset(attr, 0, sizeof *attr);
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    {
      if (flags & table[i].ms)
        attr->attr_set |= table[i].attr;
      else if (clear_flags & table[i].ms)
        attr->attr_clr |= table[i].attr;
    }
  /* The atime modes are one field: clear it, then set the one asked for. */
  if (flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME))
    {
      attr->attr_clr |= MOUNT_ATTR__ATIME;
      attr->attr_set |= (flags & MS_NOATIME)    ? MOUNT_ATTR_NOATIME
                        : (flags & MS_RELATIME) ? MOUNT_ATTR_RELATIME
                                                : MOUNT_ATTR_STRICTATIME;
    }
}

int mnt_bind_fd(int src_fd, int dst_fd, bool recursive, unsigned long flags,
                unsigned long clear_flags, const char *what, struct skiff_err **err)
{
  unsigned rec = recursive ? AT_RECURSIVE : 0;
  cleanup_close int tree
      = open_tree(src_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | rec);
  if (tree < 0)
    return skiff_error(err, errno, "open_tree (bind source of `%s`)", what);
  struct mount_attr attr;
  flags_to_attr(flags, clear_flags, &attr);
  if ((attr.attr_set || attr.attr_clr)
      && mount_setattr(tree, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0)
    return skiff_error(err, errno, "mount_setattr `%s`", what);
  if (move_mount(tree, "", dst_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return skiff_error(err, errno, "move_mount onto `%s`", what);
  return 0;
}

int mnt_fs_at_fd(int dst_fd, const char *source, const char *type, unsigned long flags,
                 const char *data, const char *what, struct skiff_err **err)
{
  char target[64];
  snprintf(target, sizeof target, "/proc/self/fd/%d", dst_fd);
  if (mount(source, target, type, flags, data) < 0)
    return skiff_error(err, errno, "mount %s on `%s`", type, what);
  return 0;
}

int mnt_setattr_fd(int fd, unsigned long flags, bool recursive, const char *what,
                   struct skiff_err **err)
{
  struct mount_attr attr;
  flags_to_attr(flags, 0, &attr);
  if (mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
    return skiff_error(err, errno, "mount_setattr `%s`", what);
  return 0;
}

static int set_propagation(int root_fd, const char *dest, unsigned long propagation,
                           struct skiff_err **err)
{
  /* Open the destination again: the fd taken before mounting is the covered inode. */
  cleanup_close int fd = mnt_resolve(root_fd, dest, 0);
  if (fd < 0)
    return skiff_error(err, errno, "resolve `%s` inside the rootfs", dest);
  struct mount_attr attr = {.propagation = propagation & MS_PROPAGATION};
  if (mount_setattr(fd, "", AT_EMPTY_PATH | ((propagation & MS_REC) ? AT_RECURSIVE : 0), &attr,
                    sizeof attr)
      < 0)
    return skiff_error(err, errno, "set propagation of `%s`", dest);
  return 0;
}

/* ---- spec mounts ----------------------------------------------------------------- */

/* /proc, /sys and /dev (and any proc or sysfs mount) must sit on a real directory of
 * the rootfs: a symlink there is an image trying to move them.  The host path it names
 * is never touched anyway, since resolution stays inside the root, but masked and
 * readonly paths would then miss their target. */
static int refuse_symlink(int root_fd, const char *dest, struct skiff_err **err)
{
  cleanup_close int fd = mnt_resolve(root_fd, dest, O_NOFOLLOW);
  struct stat st;
  if (fd < 0)
    return errno == ENOENT ? 0 : skiff_error(err, errno, "resolve `%s` inside the rootfs", dest);
  if (fstat(fd, &st) < 0)
    return skiff_error(err, errno, "fstat `%s`", dest);
  if (S_ISLNK(st.st_mode))
    return skiff_error(err, ELOOP, "mount destination `%s` is a symlink in the rootfs", dest);
  return 0;
}

static int mount_bind(int root_fd, const struct skiff_mount *m, struct skiff_err **err)
{
  if (m->source == NULL)
    return skiff_error(err, EINVAL, "bind mount on `%s` without a source", m->destination);
  cleanup_close int src = open(m->source, O_PATH | O_CLOEXEC);
  if (src < 0)
    return skiff_error(err, errno, "open bind source `%s`", m->source);
  struct stat st;
  if (fstat(src, &st) < 0)
    return skiff_error(err, errno, "fstat `%s`", m->source);
  cleanup_close int dst = mnt_ensure(root_fd, m->destination, !S_ISDIR(st.st_mode), err);
  if (dst < 0)
    return -1;
  return mnt_bind_fd(src, dst, (m->flags & MS_REC) != 0, m->flags, m->clear_flags, m->destination,
                     err);
}

static int mount_fs(int root_fd, const struct skiff_mount *m, struct skiff_err **err)
{
  if (m->type == NULL)
    return skiff_error(err, EINVAL, "mount on `%s` without a type", m->destination);
  cleanup_close int dst = mnt_ensure(root_fd, m->destination, false, err);
  if (dst < 0)
    return -1;
  if (strcmp(m->type, "cgroup") == 0)
    return mnt_mount_cgroup(root_fd, m, dst, err);
  unsigned long flags = m->flags & ~(MS_BIND | MS_REC | MS_PROPAGATION | MS_REMOUNT);
  return mnt_fs_at_fd(dst, m->source ? m->source : m->type, m->type, flags, m->data, m->destination,
                      err);
}

static int mount_spec_mount(int root_fd, const struct skiff_mount *m, struct skiff_err **err)
{
  if (m->destination == NULL)
    return skiff_error(err, EINVAL, "mount without a destination");
  bool strict = path_equal(m->destination, "/proc") || path_equal(m->destination, "/sys")
                || path_equal(m->destination, "/dev")
                || (m->type && (strcmp(m->type, "proc") == 0 || strcmp(m->type, "sysfs") == 0));
  if (strict && refuse_symlink(root_fd, m->destination, err) < 0)
    return -1;
  int r = m->is_bind ? mount_bind(root_fd, m, err) : mount_fs(root_fd, m, err);
  if (r < 0)
    return -1;
  if (m->propagation & MS_PROPAGATION)
    return set_propagation(root_fd, m->destination, m->propagation, err);
  return 0;
}

static bool spec_mounts_dev(const struct skiff_spec *spec, const struct skiff_mount **dev)
{
  *dev = NULL;
  for (size_t i = 0; i < spec->n_mounts; i++)
    if (spec->mounts[i].destination && path_equal(spec->mounts[i].destination, "/dev"))
      *dev = &spec->mounts[i];
  return *dev != NULL;
}

/* ---- root propagation and pivot_root ---------------------------------------------- */

/* pivot_root refuses a shared new root or a shared parent of it: make the mount that
 * holds the rootfs private (only in our namespace). */
static int make_parent_private(const char *rootfs, struct skiff_err **err)
{
  cleanup_free char *real = realpath(rootfs, NULL);
  cleanup_free char *info = NULL;
  if (real == NULL)
    return skiff_error(err, errno, "realpath `%s`", rootfs);
  if (skiff_read_file("/proc/self/mountinfo", &info, NULL, err) < 0)
    return -1;
  cleanup_free char *mp = mount_find_mountpoint(info, real);
  if (mp && mount(NULL, mp, NULL, MS_PRIVATE, NULL) < 0)
    return skiff_error(err, errno, "make `%s` private", mp);
  return 0;
}

static int do_pivot_root(int root_fd, struct skiff_err **err)
{
  cleanup_close int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (old < 0)
    return skiff_error(err, errno, "open `/`");
  if (fchdir(root_fd) < 0)
    return skiff_error(err, errno, "chdir to the rootfs");
  /* pivot_root(".", "."): the old root ends up stacked on the new one, no put_old dir. */
  if (syscall(SYS_pivot_root, ".", ".") < 0)
    return skiff_error(err, errno, "pivot_root");
  if (fchdir(old) < 0)
    return skiff_error(err, errno, "chdir to the old root");
  /* rslave first so that detaching the old root cannot propagate to the host. */
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return skiff_error(err, errno, "make the old root rslave");
  if (umount2(".", MNT_DETACH) < 0)
    return skiff_error(err, errno, "umount2 the old root");
  if (chdir("/") < 0)
    return skiff_error(err, errno, "chdir `/`");
  return 0;
}

int mount_prepare_rootfs(const struct skiff_spec *spec, const char *rootfs, struct skiff_err **err)
{
  unsigned long prop = MS_REC | MS_PRIVATE;
  if (spec->linux.rootfs_propagation
      && mount_parse_propagation(spec->linux.rootfs_propagation, &prop, err) < 0)
    return -1;
  /* Default rprivate: nothing mounted below leaks back to the host.  slave and shared
   * keep the link to the host's peer groups, so they are applied to the host's / as it
   * is; the rest starts from rprivate.  shared and unbindable cannot stay on the mounts
   * pivot_root and the rootfs bind work on: they are applied again to the new / after
   * pivot_root. */
  bool keep_host_link = (prop & (MS_SLAVE | MS_SHARED)) != 0;
  /* A non-recursive "slave" would leave the host's other mounts shared in our namespace,
   * and a mount below one of them would appear on the host: always rslave. */
  if (prop & MS_SLAVE)
    prop |= MS_REC;
  if (mount(NULL, "/", NULL, keep_host_link ? prop : (MS_REC | MS_PRIVATE), NULL) < 0)
    return skiff_error(err, errno, "set propagation of `/` to %s",
                       spec->linux.rootfs_propagation ? spec->linux.rootfs_propagation
                                                      : "rprivate");
  if ((prop & MS_SHARED) && make_parent_private(rootfs, err) < 0)
    return -1;

  /* pivot_root needs the new root to be a mount point. */
  if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return skiff_error(err, errno, "bind `%s` onto itself", rootfs);
  cleanup_close int root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return skiff_error(err, errno, "open `%s`", rootfs);

  const struct skiff_mount *dev = NULL;
  bool has_dev = spec_mounts_dev(spec, &dev);
  if (!has_dev)
    {
      struct skiff_mount devtmpfs = {
          .destination = (char *)"/dev",
          .type = (char *)"tmpfs",
          .source = (char *)"tmpfs",
          .flags = MS_NOSUID | MS_STRICTATIME,
          .data = (char *)"mode=755,size=65536k",
      };
      if (mount_spec_mount(root_fd, &devtmpfs, err) < 0)
        return skiff_err_prefix(err, "rootfs `%s`", rootfs);
    }
  for (size_t i = 0; i < spec->n_mounts; i++)
    if (mount_spec_mount(root_fd, &spec->mounts[i], err) < 0)
      return skiff_err_prefix(err, "mounts[%zu]", i);
  if ((!has_dev || (dev->type && strcmp(dev->type, "tmpfs") == 0))
      && mnt_populate_dev(root_fd, spec, err) < 0)
    return -1;

  if (do_pivot_root(root_fd, err) < 0)
    return -1;
  if ((prop & (MS_SHARED | MS_UNBINDABLE)) && mount(NULL, "/", NULL, prop, NULL) < 0)
    return skiff_error(err, errno, "set propagation of `/` to %s", spec->linux.rootfs_propagation);
  return 0;
}

/* ---- after pivot_root -------------------------------------------------------------- */

/* An empty, read-only tmpfs over a directory (fsopen/fsmount: no /proc needed). */
static int mask_dir(int dst_fd, const char *path, struct skiff_err **err)
{
  cleanup_close int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0)
    return skiff_error(err, errno, "fsopen tmpfs for `%s`", path);
  if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "4k", 0) < 0
      || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
    return skiff_error(err, errno, "create tmpfs for `%s`", path);
  cleanup_close int mnt
      = fsmount(fs, FSMOUNT_CLOEXEC,
                MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (mnt < 0)
    return skiff_error(err, errno, "fsmount tmpfs for `%s`", path);
  if (move_mount(mnt, "", dst_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return skiff_error(err, errno, "move_mount tmpfs onto `%s`", path);
  return 0;
}

static int mask_paths(int root_fd, char **paths, struct skiff_err **err)
{
  cleanup_close int null_fd = -1;
  for (char **p = paths; p && *p; p++)
    {
      cleanup_close int fd = mnt_resolve(root_fd, *p, 0);
      if (fd < 0)
        {
          if (errno == ENOENT || errno == ENOTDIR)
            continue;
          return skiff_error(err, errno, "maskedPaths: resolve `%s`", *p);
        }
      struct stat st;
      if (fstat(fd, &st) < 0)
        return skiff_error(err, errno, "maskedPaths: fstat `%s`", *p);
      if (S_ISDIR(st.st_mode))
        {
          if (mask_dir(fd, *p, err) < 0)
            return skiff_err_prefix(err, "maskedPaths");
          continue;
        }
      /* CVE-2025-31133: bind only the verified /dev/null, through the fd we checked. */
      if (null_fd < 0 && (null_fd = mnt_open_dev_null(root_fd, err)) < 0)
        return skiff_err_prefix(err, "maskedPaths `%s`", *p);
      if (mnt_bind_fd(null_fd, fd, false, 0, 0, *p, err) < 0)
        return skiff_err_prefix(err, "maskedPaths");
    }
  return 0;
}

static int readonly_paths(int root_fd, char **paths, struct skiff_err **err)
{
  for (char **p = paths; p && *p; p++)
    {
      cleanup_close int fd = mnt_resolve(root_fd, *p, 0);
      if (fd < 0)
        {
          if (errno == ENOENT || errno == ENOTDIR)
            continue;
          return skiff_error(err, errno, "readonlyPaths: resolve `%s`", *p);
        }
      if (mnt_bind_fd(fd, fd, true, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, *p, err) < 0)
        return skiff_err_prefix(err, "readonlyPaths");
    }
  return 0;
}

int mount_finalize_rootfs(const struct skiff_spec *spec, struct skiff_err **err)
{
  cleanup_close int root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return skiff_error(err, errno, "open `/`");
  if (mask_paths(root_fd, spec->linux.masked_paths, err) < 0)
    return -1;
  if (readonly_paths(root_fd, spec->linux.readonly_paths, err) < 0)
    return -1;
  if (spec->root_readonly)
    {
      struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
      if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
        return skiff_error(err, errno, "remount `/` read-only");
    }
  return 0;
}

/* Unix98 pty slaves have majors 136..143. */
#define PTY_SLAVE_MAJOR_FIRST 136
#define PTY_SLAVE_MAJOR_LAST 143

int mount_setup_console(const char *slave_path, struct skiff_err **err)
{
  cleanup_close int root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return skiff_error(err, errno, "open `/`");
  /* CVE-2025-52565: the slave must be a real pty, not a symlink to a procfs file. */
  cleanup_close int src = mnt_resolve(root_fd, slave_path, O_NOFOLLOW);
  struct stat st;
  if (src < 0)
    return skiff_error(err, errno, "open console `%s`", slave_path);
  if (fstat(src, &st) < 0)
    return skiff_error(err, errno, "fstat `%s`", slave_path);
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) < PTY_SLAVE_MAJOR_FIRST
      || major(st.st_rdev) > PTY_SLAVE_MAJOR_LAST)
    return skiff_error(err, EINVAL, "console `%s` is not a pty slave", slave_path);

  cleanup_free char *base = NULL;
  cleanup_close int dev = mnt_ensure_parent(root_fd, "/dev/console", &base, err);
  if (dev < 0)
    return -1;
  if (mknodat(dev, base, S_IFREG | 0600, 0) < 0 && errno != EEXIST)
    return skiff_error(err, errno, "create `/dev/console`");
  cleanup_close int dst = openat(dev, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (dst < 0)
    return skiff_error(err, errno, "open `/dev/console`");
  if (fstat(dst, &st) < 0)
    return skiff_error(err, errno, "fstat `/dev/console`");
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
    return skiff_error(err, EINVAL, "`/dev/console` is neither a file nor a device");
  return mnt_bind_fd(src, dst, false, 0, 0, "/dev/console", err);
}
