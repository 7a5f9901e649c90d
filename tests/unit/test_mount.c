/* test_mount.c - mount.c's rootfs set-up, run for real in forked children with their own
 * mount (and pid, and user) namespaces on a small rootfs built in a temp dir: pivot_root, spec
 * mounts and their flags, /dev, masked and readonly paths, read-only root, the console, and the
 * symlink attacks of issue 6.  Children report through "#" lines and their exit code; the host's
 * /proc/self/mounts must not change. */
#include "check.h"
#include "mount.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

/* ---- namespace scenarios ----------------------------------------------------------- */

struct fixture
{
  char tmp[64];     /* /tmp/skiff-mount-XXXXXX */
  char rootfs[128]; /* tmp/rootfs */
  char *first_v1;   /* dir name of the host's first cgroup v1 hierarchy, or NULL */
  bool unified;
  int pid;                 /* the test process's pid (getppid() is 0 inside a pid ns) */
  const char *masked_file; /* a /proc file of the default masked list that this host has */
  const char *propagation; /* linux.rootfsPropagation for scenario_propagation */
  const char *expect;      /* what mountinfo's optional fields of / must hold ("" = none) */
};

static int child_failures;
#define CCHECK(cond)                                                                               \
  do                                                                                               \
    {                                                                                              \
      int _e = errno;                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          printf("#   %s:%d: (in namespace) CHECK(%s) failed; errno: %s\n", __FILE__, __LINE__,    \
                 #cond, strerror(_e));                                                             \
          child_failures++;                                                                        \
        }                                                                                          \
    }                                                                                              \
  while (0)

static void child_report_err(const char *what, struct skiff_err *err)
{
  printf("#   %s: %s\n", what, err ? err->msg : "(no message)");
}

enum
{
  NS_MOUNT = 0,
  NS_PID = 1,  /* fn runs as pid 1 of a new pid namespace */
  NS_USER = 2, /* ... inside a new user namespace mapping only root (0 0 1) */
};

/* Map uid and gid 0 of the parent namespace to 0 in ours (the one mapping a process
 * may write for itself). */
static int map_root(void)
{
  cleanup_err struct skiff_err *err = NULL;
  if (skiff_write_string_at(AT_FDCWD, "/proc/self/uid_map", "0 0 1", &err) < 0
      || skiff_write_string_at(AT_FDCWD, "/proc/self/setgroups", "deny", &err) < 0
      || skiff_write_string_at(AT_FDCWD, "/proc/self/gid_map", "0 0 1", &err) < 0)
    {
      printf("#   %s\n", err->msg);
      return -1;
    }
  return 0;
}

/* Run fn in a child with its own mount namespace (plus pid and user namespaces as
 * asked).  Returns the child's exit status (0 = every check passed). */
static int run_in_namespace(int (*fn)(struct fixture *), struct fixture *f, int ns)
{
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      int flags
          = CLONE_NEWNS | ((ns & NS_PID) ? CLONE_NEWPID : 0) | ((ns & NS_USER) ? CLONE_NEWUSER : 0);
      if (unshare(flags) < 0)
        {
          printf("#   unshare: %s\n", strerror(errno));
          _exit(100);
        }
      if ((ns & NS_USER) && map_root() < 0)
        _exit(100);
      if (ns & NS_PID)
        {
          pid_t inner = fork();
          if (inner == 0)
            {
              int r = fn(f);
              /* exit, not _exit: under ASan the leak check runs here too */
              exit(r ? 1 : child_failures ? 2 : 0);
            }
          int st = 0;
          if (inner < 0 || waitpid(inner, &st, 0) < 0)
            _exit(101);
          _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 102);
        }
      int r = fn(f);
      exit(r ? 1 : child_failures ? 2 : 0);
    }
  int st = 0;
  if (waitpid(pid, &st, 0) < 0)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void put_file(const char *dir, const char *name, const char *content)
{
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  cleanup_err struct skiff_err *err = NULL;
  CHECK(skiff_write_file(p, content, strlen(content), 0644, &err) == 0);
}

static void put_dir(const char *dir, const char *name)
{
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  cleanup_err struct skiff_err *err = NULL;
  CHECK(skiff_mkdir_p(p, 0755, &err) == 0);
}

static void put_link(const char *dir, const char *name, const char *target)
{
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  CHECK(symlink(target, p) == 0);
}

static bool fixture_init(struct fixture *f, bool busybox)
{
  memset(f, 0, sizeof *f);
  strcpy(f->tmp, "/tmp/skiff-mount-XXXXXX");
  if (mkdtemp(f->tmp) == NULL)
    return false;
  snprintf(f->rootfs, sizeof f->rootfs, "%s/rootfs", f->tmp);
  f->pid = (int)getpid();
  const char *candidates[] = {"/proc/kcore", "/proc/timer_list", "/proc/keys", "/proc/kallsyms"};
  for (size_t i = 0; i < 4 && f->masked_file == NULL; i++)
    if (access(candidates[i], F_OK) == 0)
      f->masked_file = candidates[i];
  const char *dirs[]
      = {"rootfs/bin", "rootfs/proc",  "rootfs/sys",       "rootfs/dev", "rootfs/etc",
         "rootfs/tmp", "rootfs/rodir", "rootfs/secretdir", "bindsrc",    NULL};
  for (size_t i = 0; dirs[i]; i++)
    put_dir(f->tmp, dirs[i]);
  put_file(f->rootfs, "skiff-marker", "marker\n");
  put_file(f->rootfs, "secretdir/secret", "secret\n");
  put_file(f->tmp, "bindsrc/hello", "hello\n");
  put_file(f->tmp, "bindfile", "a file\n");
  cleanup_free char *info = NULL;
  cleanup_err struct skiff_err *err = NULL;
  struct statfs sfs;
  f->unified = statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
  if (skiff_read_file("/proc/self/mountinfo", &info, NULL, &err) == 0)
    {
      char **h = mount_cgroup_v1_hierarchies(info);
      if (h[0])
        f->first_v1 = mount_cgroup_dir_name(h[0]);
      mount_strv_free(h);
    }
  if (busybox)
    {
      cleanup_free char *bb = NULL;
      size_t len = 0;
      cleanup_free char *dst = xasprintf("%s/bin/busybox", f->rootfs);
      CHECK(skiff_read_file("/bin/busybox", &bb, &len, &err) == 0);
      CHECK(bb && skiff_write_file(dst, bb, len, 0755, &err) == 0);
    }
  return true;
}

static void fixture_fini(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  CHECK(skiff_rm_rf(f->tmp, &err) == 0);
  CHECK(access(f->tmp, F_OK) < 0 && errno == ENOENT);
  free(f->first_v1);
}

static struct skiff_mount fs_mount(const char *dest, const char *type, unsigned long flags,
                                   const char *data)
{
  return (struct skiff_mount){.destination = (char *)dest,
                              .type = (char *)type,
                              .source = (char *)type,
                              .flags = flags,
                              .data = (char *)data};
}

static struct skiff_mount bind_mount(const char *dest, char *source, unsigned long flags)
{
  return (struct skiff_mount){.destination = (char *)dest,
                              .type = (char *)"bind",
                              .source = source,
                              .flags = MS_BIND | flags,
                              .is_bind = true};
}

static bool has_flags(const char *path, unsigned long want, unsigned long not_want)
{
  struct statvfs sv;
  if (statvfs(path, &sv) < 0)
    return false;
  return (sv.f_flag & want) == want && (sv.f_flag & not_want) == 0;
}

static bool fs_is(const char *path, long magic)
{
  struct statfs sfs;
  return statfs(path, &sfs) == 0 && sfs.f_type == magic;
}

static bool is_chardev(const char *path, unsigned maj, unsigned min)
{
  struct stat st;
  return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(maj, min);
}

static bool link_is(const char *path, const char *target)
{
  char buf[256];
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n < 0)
    return false;
  buf[n] = '\0';
  return strcmp(buf, target) == 0;
}

static bool write_fails_with(const char *path, int want_errno)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0)
    {
      close(fd);
      return false;
    }
  return errno == want_errno;
}

static size_t count_entries(const char *dir, bool numeric_only)
{
  DIR *d = opendir(dir);
  size_t n = 0;
  if (d == NULL)
    return (size_t)-1;
  for (struct dirent *de; (de = readdir(d)) != NULL;)
    {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      if (numeric_only && strspn(de->d_name, "0123456789") != strlen(de->d_name))
        continue;
      n++;
    }
  closedir(d);
  return n;
}

static bool file_is(const char *path, const char *content)
{
  cleanup_free char *s = NULL;
  cleanup_err struct skiff_err *err = NULL;
  return skiff_read_file(path, &s, NULL, &err) == 0 && strcmp(s, content) == 0;
}

/* The full scenario: a spec like the default one plus binds, escapes and masks. */
static int scenario_full(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *bindsrc = xasprintf("%s/bindsrc", f->tmp);
  cleanup_free char *bindfile = xasprintf("%s/bindfile", f->tmp);
  cleanup_free char *esc1 = xasprintf("/a/skiff-esc1-%d", f->pid);
  cleanup_free char *esc2 = xasprintf("/c/skiff-esc2-%d", f->pid);
  struct skiff_mount mounts[] = {
      fs_mount("/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL),
      fs_mount("/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"),
      fs_mount("/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"),
      fs_mount("/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k"),
      fs_mount("/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL),
      fs_mount("/sys/fs/cgroup", "cgroup", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL),
      fs_mount("/data", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m"),
      bind_mount("/hostbind", bindsrc, MS_REC | MS_RDONLY | MS_NOSUID),
      bind_mount("/etc/hostfile", bindfile, MS_RDONLY),
      fs_mount(esc1, "tmpfs", 0, NULL),          /* rootfs/a -> / */
      fs_mount(esc2, "tmpfs", 0, NULL),          /* rootfs/c -> ../../.. */
      fs_mount("/e/f", "tmpfs", 0, NULL),        /* rootfs/e -> /skiff-dangling-<pid>/x */
      bind_mount("/rwbind", bindsrc, MS_NOEXEC), /* flags without ro */
  };
  mounts[12].propagation = MS_SLAVE;
  struct skiff_device devices[] = {
      {.path = (char *)"/dev/input/mynull",
       .type = 'c',
       .major = 1,
       .minor = 3,
       .has_mode = true,
       .file_mode = 0620,
       .has_uid = true,
       .uid = 1234,
       .has_gid = true,
       .gid = 5678},
  };
  char *masked[] = {(char *)f->masked_file, (char *)"/secretdir", (char *)"/no/such/path", NULL};
  char *readonly[] = {(char *)"/proc/sys", (char *)"/rodir", (char *)"/missing", NULL};
  struct skiff_spec spec = {
      .mounts = mounts,
      .n_mounts = sizeof mounts / sizeof mounts[0],
      .root_readonly = true,
      .linux
      = {.devices = devices, .n_devices = 1, .masked_paths = masked, .readonly_paths = readonly},
  };
  size_t fds_before = count_entries("/proc/self/fd", false);
  if (mount_prepare_rootfs(&spec, f->rootfs, &err) < 0)
    return child_report_err("mount_prepare_rootfs", err), 1;

  /* The console, as init.c does it: a pty from the container's devpts. */
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  CCHECK(master >= 0);
  char name[64] = "";
  CCHECK(master >= 0 && unlockpt(master) == 0 && ptsname_r(master, name, sizeof name) == 0);
  if (mount_setup_console(name, &err) < 0)
    child_report_err("mount_setup_console", err), child_failures++;
  struct stat pts, con;
  CCHECK(stat(name, &pts) == 0 && stat("/dev/console", &con) == 0 && pts.st_rdev == con.st_rdev
         && S_ISCHR(con.st_mode));
  skiff_err_free(&err);
  /* CVE-2025-52565: a "slave" that is a symlink to a procfs file is refused. */
  CCHECK(symlink("/proc/sys/kernel/core_pattern", "/dev/evil-pts") == 0);
  CCHECK(mount_setup_console("/dev/evil-pts", &err) < 0);
  CCHECK(err && strstr(err->msg, "not a pty slave"));
  skiff_err_free(&err);

  if (master >= 0)
    close(master);
  if (mount_finalize_rootfs(&spec, &err) < 0)
    return child_report_err("mount_finalize_rootfs", err), 1;
  /* no fd of the set-up is left open (CVE-2024-21626: none may reach the container) */
  CCHECK(count_entries("/proc/self/fd", false) == fds_before);

  /* / is the new root. */
  CCHECK(access("/skiff-marker", F_OK) == 0);
  CCHECK(access(f->tmp, F_OK) < 0 && errno == ENOENT);
  CCHECK(access("/work", F_OK) < 0);
  /* /proc is ours: we are pid 1 and alone. */
  CCHECK(link_is("/proc/self", "1"));
  CCHECK(count_entries("/proc", true) == 1);
  CCHECK(has_flags("/proc", ST_NOSUID | ST_NOEXEC | ST_NODEV, 0));
  /* /dev */
  CCHECK(fs_is("/dev", TMPFS_MAGIC));
  CCHECK(is_chardev("/dev/null", 1, 3));
  CCHECK(is_chardev("/dev/zero", 1, 5));
  CCHECK(is_chardev("/dev/full", 1, 7));
  CCHECK(is_chardev("/dev/random", 1, 8));
  CCHECK(is_chardev("/dev/urandom", 1, 9));
  CCHECK(is_chardev("/dev/tty", 5, 0));
  struct stat st;
  CCHECK(stat("/dev/null", &st) == 0 && (st.st_mode & 0777) == 0666);
  CCHECK(link_is("/dev/fd", "/proc/self/fd"));
  CCHECK(link_is("/dev/stdin", "/proc/self/fd/0"));
  CCHECK(link_is("/dev/stdout", "/proc/self/fd/1"));
  CCHECK(link_is("/dev/stderr", "/proc/self/fd/2"));
  CCHECK(link_is("/dev/core", "/proc/kcore"));
  CCHECK(link_is("/dev/ptmx", "pts/ptmx"));
  CCHECK(fs_is("/dev/pts", DEVPTS_SUPER_MAGIC));
  CCHECK(fs_is("/dev/shm", TMPFS_MAGIC));
  CCHECK(is_chardev("/dev/input/mynull", 1, 3));
  CCHECK(lstat("/dev/input/mynull", &st) == 0 && (st.st_mode & 07777) == 0620 && st.st_uid == 1234
         && st.st_gid == 5678);
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  CCHECK(fd >= 0 && write(fd, "x", 1) == 1);
  if (fd >= 0)
    close(fd);
  /* /sys and cgroups */
  CCHECK(fs_is("/sys", SYSFS_MAGIC) && has_flags("/sys", ST_RDONLY | ST_NOSUID, 0));
  if (f->unified)
    CCHECK(fs_is("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC));
  else if (f->first_v1)
    {
      cleanup_free char *h = xasprintf("/sys/fs/cgroup/%s", f->first_v1);
      CCHECK(fs_is("/sys/fs/cgroup", TMPFS_MAGIC));
      CCHECK(fs_is(h, CGROUP_SUPER_MAGIC));
      CCHECK(has_flags(h, ST_RDONLY | ST_NOSUID | ST_NOEXEC | ST_NODEV, 0));
      CCHECK(has_flags("/sys/fs/cgroup", ST_RDONLY, 0));
      cleanup_free char *procs = xasprintf("%s/cgroup.procs", h);
      CCHECK(access(procs, F_OK) == 0 && write_fails_with(procs, EROFS));
    }
  /* spec tmpfs and binds with their flags */
  CCHECK(fs_is("/data", TMPFS_MAGIC));
  CCHECK(has_flags("/data", ST_NOSUID | ST_NODEV | ST_NOEXEC, ST_RDONLY));
  CCHECK(!write_fails_with("/data/new", EROFS));
  CCHECK(has_flags("/hostbind", ST_RDONLY | ST_NOSUID, ST_NOEXEC));
  CCHECK(file_is("/hostbind/hello", "hello\n"));
  CCHECK(write_fails_with("/hostbind/new", EROFS));
  CCHECK(file_is("/etc/hostfile", "a file\n"));
  CCHECK(write_fails_with("/etc/hostfile", EROFS));
  CCHECK(has_flags("/rwbind", ST_NOEXEC, ST_RDONLY));
  CCHECK(!write_fails_with("/rwbind/written", EROFS));
  /* escapes stayed inside: the mounts are at the new root's top */
  CCHECK(fs_is(esc1 + 2, TMPFS_MAGIC));
  CCHECK(fs_is(esc2 + 2, TMPFS_MAGIC));
  cleanup_free char *dangling = xasprintf("/skiff-dangling-%d/x/f", f->pid);
  CCHECK(fs_is(dangling, TMPFS_MAGIC));
  /* masked */
  CCHECK(is_chardev(f->masked_file, 1, 3));
  CCHECK(file_is(f->masked_file, ""));
  CCHECK(count_entries("/secretdir", false) == 0);
  CCHECK(access("/secretdir/secret", F_OK) < 0 && errno == ENOENT);
  CCHECK(has_flags("/secretdir", ST_RDONLY, 0));
  /* readonly paths and root */
  CCHECK(write_fails_with("/proc/sys/kernel/hostname", EROFS));
  CCHECK(has_flags("/proc/sys", ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC, 0));
  CCHECK(write_fails_with("/rodir/new", EROFS));
  CCHECK(write_fails_with("/new-in-root", EROFS));
  CCHECK(has_flags("/", ST_RDONLY, 0));

  /* the rootfs is usable: busybox runs in it and sees the same mounts */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    {
      execl("/bin/busybox", "busybox", "sh", "-c",
            "test -c /dev/null && test -L /dev/fd && grep -q '^proc /proc proc' /proc/mounts "
            "&& ! test -e \"$0\"",
            f->tmp, (char *)NULL);
      _exit(127);
    }
  int wst = 0;
  CCHECK(pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
  return 0;
}

/* No /dev in the spec: a tmpfs with the devices hides the image's /dev; rslave root. */
static int scenario_own_dev(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  struct skiff_mount mounts[] = {
      fs_mount("/proc", "proc", 0, NULL),
  };
  struct skiff_spec spec = {.mounts = mounts, .n_mounts = 1};
  spec.linux.rootfs_propagation = (char *)"rslave";
  if (mount_prepare_rootfs(&spec, f->rootfs, &err) < 0)
    return child_report_err("mount_prepare_rootfs", err), 1;
  if (mount_finalize_rootfs(&spec, &err) < 0)
    return child_report_err("mount_finalize_rootfs", err), 1;
  struct stat st;
  CCHECK(fs_is("/dev", TMPFS_MAGIC));
  CCHECK(has_flags("/dev", ST_NOSUID, ST_RDONLY));
  CCHECK(stat("/dev", &st) == 0 && (st.st_mode & 07777) == 0755);
  CCHECK(access("/dev/image-file", F_OK) < 0);
  CCHECK(is_chardev("/dev/null", 1, 3));
  CCHECK(is_chardev("/dev/urandom", 1, 9));
  CCHECK(link_is("/dev/fd", "/proc/self/fd"));
  CCHECK(stat("/dev/pts", &st) == 0 && S_ISDIR(st.st_mode));
  CCHECK(stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 01777);
  CCHECK(access("/skiff-marker", F_OK) == 0);
  CCHECK(!write_fails_with("/tmp/writable", EROFS)); /* root not read-only */
  return 0;
}

/* rootfs/proc is a symlink to a host path: refused, nothing made on the host. */
static int scenario_proc_symlink(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  struct skiff_mount mounts[] = {
      fs_mount("/proc", "proc", 0, NULL),
  };
  struct skiff_spec spec = {.mounts = mounts, .n_mounts = 1};
  CCHECK(mount_prepare_rootfs(&spec, f->rootfs, &err) < 0);
  CCHECK(err && strstr(err->msg, "`/proc` is a symlink"));
  if (err)
    printf("#   expected error: %s\n", err->msg);
  return 0;
}

/* rootfs/dev is a symlink to a host path and the spec has no /dev: refused. */
static int scenario_dev_symlink(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  struct skiff_spec spec = {0};
  CCHECK(mount_prepare_rootfs(&spec, f->rootfs, &err) < 0);
  CCHECK(err && strstr(err->msg, "`/dev` is a symlink"));
  return 0;
}

/* CVE-2025-31133: /dev/null is a symlink to core_pattern; masking must not bind it. */
static int scenario_null_symlink(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *evildev = xasprintf("%s/evildev", f->tmp);
  struct skiff_mount mounts[] = {
      fs_mount("/proc", "proc", 0, NULL),
      bind_mount("/dev", evildev, MS_REC),
  };
  char *masked[] = {(char *)f->masked_file, NULL};
  struct skiff_spec spec = {.mounts = mounts, .n_mounts = 2};
  spec.linux.masked_paths = masked;
  if (mount_prepare_rootfs(&spec, f->rootfs, &err) < 0)
    return child_report_err("mount_prepare_rootfs", err), 1;
  CCHECK(mount_finalize_rootfs(&spec, &err) < 0);
  CCHECK(err && strstr(err->msg, "not the null device"));
  /* the masked file is still itself, not core_pattern, and cannot be written */
  struct stat mf, cp;
  CCHECK(stat(f->masked_file, &mf) == 0 && stat("/proc/sys/kernel/core_pattern", &cp) == 0
         && (mf.st_dev != cp.st_dev || mf.st_ino != cp.st_ino));
  int fd = open(f->masked_file, O_WRONLY | O_CLOEXEC);
  CCHECK(fd < 0 || write(fd, "|/evil", 6) < 0);
  if (fd >= 0)
    close(fd);
  return 0;
}

/* The default config.json of `skiff spec` (spec.c) works on this host. */
static int scenario_default_spec(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *json = spec_default_json();
  cleanup_spec struct skiff_spec *spec = NULL;
  if (json == NULL || spec_parse(json, strlen(json), &spec, &err) < 0)
    return child_report_err("spec_parse (default)", err), 1;
  if (mount_prepare_rootfs(spec, f->rootfs, &err) < 0)
    return child_report_err("mount_prepare_rootfs", err), 1;
  if (mount_finalize_rootfs(spec, &err) < 0)
    return child_report_err("mount_finalize_rootfs", err), 1;
  CCHECK(is_chardev("/dev/null", 1, 3));
  CCHECK(fs_is("/dev/mqueue", MQUEUE_MAGIC));
  const char *masked[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", NULL};
  for (size_t i = 0; masked[i]; i++)
    if (access(masked[i], F_OK) == 0)
      CCHECK(is_chardev(masked[i], 1, 3) && file_is(masked[i], ""));
  CCHECK(write_fails_with("/proc/sys/kernel/hostname", EROFS));
  CCHECK(has_flags("/proc/irq", ST_RDONLY, 0));
  CCHECK(link_is("/proc/self", "1"));
  return 0;
}

/* The mount points of this namespace, one per line. */
static char *mount_points(void)
{
  cleanup_free char *info = NULL;
  cleanup_err struct skiff_err *err = NULL;
  if (skiff_read_file("/proc/self/mountinfo", &info, NULL, &err) < 0)
    return xstrdup("(unreadable)");
  char *out = xzalloc(strlen(info) + 1);
  char *save = NULL;
  for (char *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      char mp[512];
      if (sscanf(line, "%*s %*s %*s %*s %511s", mp) == 1)
        strcat(strcat(out, mp), "\n");
    }
  return out;
}

/* The optional fields ("shared:2 master:1") of the mount at / in this namespace. */
static char *root_optional_fields(void)
{
  cleanup_free char *info = NULL;
  cleanup_err struct skiff_err *err = NULL;
  if (skiff_read_file("/proc/self/mountinfo", &info, NULL, &err) < 0)
    return NULL;
  char *found = NULL, *save = NULL;
  for (char *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    {
      char mp[512];
      int skip = 0;
      if (sscanf(line, "%*s %*s %*s %*s %511s %*s %n", mp, &skip) != 1 || strcmp(mp, "/") != 0)
        continue;
      char *dash = strstr(line + skip, "- ");
      free(found);
      found = strndup(line + skip, dash ? (size_t)(dash - (line + skip)) : 0);
    }
  return found;
}

static int propagation_container(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  struct skiff_mount mounts[] = {
      fs_mount("/proc", "proc", 0, NULL),
      fs_mount("/data", "tmpfs", 0, NULL),
  };
  struct skiff_spec spec = {.mounts = mounts, .n_mounts = 2};
  spec.linux.rootfs_propagation = (char *)f->propagation;
  if (mount_prepare_rootfs(&spec, f->rootfs, &err) < 0)
    return child_report_err("mount_prepare_rootfs", err), 1;
  if (mount_finalize_rootfs(&spec, &err) < 0)
    return child_report_err("mount_finalize_rootfs", err), 1;
  cleanup_free char *opt = root_optional_fields();
  CCHECK(opt != NULL);
  if (opt && f->expect[0])
    CCHECK(strstr(opt, f->expect) != NULL);
  else if (opt)
    CCHECK(strstr(opt, "shared:") == NULL && strstr(opt, "master:") == NULL
           && strstr(opt, "unbindable") == NULL);
  if (child_failures)
    printf("#   %s: optional fields of / are `%s`\n", f->propagation ? f->propagation : "(unset)",
           opt ? opt : "?");
  CCHECK(access("/skiff-marker", F_OK) == 0);
  return 0;
}

/* linux.rootfsPropagation, seen in mountinfo's optional fields for the new /.  This
 * namespace plays a systemd host (/ rshared); the container's namespace is made below
 * it, so its mounts start as peers of ours, and nothing may come back here. */
static int scenario_propagation(struct fixture *f)
{
  CCHECK(mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) == 0);
  cleanup_free char *before = mount_points();
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    {
      if (unshare(CLONE_NEWNS) < 0)
        exit(100);
      int r = propagation_container(f);
      exit(r ? 1 : child_failures ? 2 : 0);
    }
  int st = 0;
  CCHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  cleanup_free char *after = mount_points();
  CCHECK(strcmp(before, after) == 0);
  return 0;
}

/* In a user namespace: devices are the host's nodes bound onto empty files. */
static int scenario_userns(struct fixture *f)
{
  cleanup_err struct skiff_err *err = NULL;
  struct skiff_mount mounts[] = {
      fs_mount("/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL),
      fs_mount("/dev", "tmpfs", MS_NOSUID, "mode=755"),
      fs_mount("/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666"),
  };
  char *masked[] = {(char *)f->masked_file, (char *)"/secretdir", NULL};
  char *readonly[] = {(char *)"/proc/sys", NULL};
  struct skiff_spec spec = {.mounts = mounts, .n_mounts = 3, .root_readonly = true};
  spec.linux.masked_paths = masked;
  spec.linux.readonly_paths = readonly;
  CCHECK(!mount_uid_map_is_initial("0 0 1"));
  if (mount_prepare_rootfs(&spec, f->rootfs, &err) < 0)
    return child_report_err("mount_prepare_rootfs", err), 1;
  if (mount_finalize_rootfs(&spec, &err) < 0)
    return child_report_err("mount_finalize_rootfs", err), 1;
  struct stat null_st, dev_st;
  CCHECK(is_chardev("/dev/null", 1, 3) && is_chardev("/dev/urandom", 1, 9));
  CCHECK(stat("/dev/null", &null_st) == 0 && stat("/dev", &dev_st) == 0
         && null_st.st_dev != dev_st.st_dev); /* a bind of the host's node */
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  CCHECK(fd >= 0 && write(fd, "x", 1) == 1);
  if (fd >= 0)
    close(fd);
  CCHECK(link_is("/dev/fd", "/proc/self/fd"));
  CCHECK(is_chardev(f->masked_file, 1, 3) && file_is(f->masked_file, ""));
  CCHECK(count_entries("/secretdir", false) == 0);
  CCHECK(write_fails_with("/proc/sys/kernel/hostname", EROFS));
  CCHECK(write_fails_with("/new-in-root", EROFS));
  CCHECK(link_is("/proc/self", "1"));
  return 0;
}

static void test_rootfs_propagation(void)
{
  struct fixture f;
  if (!fixture_init(&f, false))
    return;
  const struct
  {
    const char *prop, *expect;
  } cases[] = {
      {NULL, ""},
      {"rprivate", ""},
      {"private", ""},
      {"rslave", "master:"},
      {"slave", "master:"},
      {"rshared", "shared:"},
      {"runbindable", "unbindable"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      f.propagation = cases[i].prop;
      f.expect = cases[i].expect;
      int r = run_in_namespace(scenario_propagation, &f, NS_PID);
      if (r != 0)
        printf("#   rootfsPropagation %s failed\n", cases[i].prop ? cases[i].prop : "(unset)");
      CHECK(r == 0);
    }
  fixture_fini(&f);
}

static void test_user_namespace(void)
{
  struct fixture f;
  if (!fixture_init(&f, false))
    return;
  CHECK(f.masked_file != NULL);
  if (f.masked_file)
    CHECK(run_in_namespace(scenario_userns, &f, NS_PID | NS_USER) == 0);
  fixture_fini(&f);
}

static char *host_mounts(void)
{
  char *s = NULL;
  cleanup_err struct skiff_err *err = NULL;
  if (skiff_read_file("/proc/self/mounts", &s, NULL, &err) < 0)
    return xstrdup("(unreadable)");
  return s;
}

static bool can_run_namespaces(void)
{
  if (geteuid() != 0)
    return false;
  return true;
}

static void test_full_rootfs(void)
{
  struct fixture f;
  CHECK(can_run_namespaces());
  if (!can_run_namespaces() || !fixture_init(&f, true))
    return;
  int pid = (int)getpid();
  cleanup_free char *bindsrc = xasprintf("%s/bindsrc", f.tmp);
  cleanup_free char *dangling = xasprintf("/skiff-dangling-%d/x", pid);
  put_link(f.rootfs, "a", "/");
  put_link(f.rootfs, "c", "../../..");
  put_link(f.rootfs, "e", dangling);
  CHECK(run_in_namespace(scenario_full, &f, NS_PID) == 0);
  /* nothing escaped to the host, everything landed inside the rootfs */
  cleanup_free char *h1 = xasprintf("/skiff-esc1-%d", pid);
  cleanup_free char *h2 = xasprintf("/skiff-esc2-%d", pid);
  cleanup_free char *h3 = xasprintf("/skiff-dangling-%d", pid);
  cleanup_free char *r1 = xasprintf("%s/skiff-esc1-%d", f.rootfs, pid);
  cleanup_free char *r3 = xasprintf("%s/skiff-dangling-%d/x/f", f.rootfs, pid);
  CHECK(access(h1, F_OK) < 0 && access(h2, F_OK) < 0 && access(h3, F_OK) < 0);
  CHECK(access(r1, F_OK) == 0 && access(r3, F_OK) == 0);
  cleanup_free char *rw = xasprintf("%s/written", bindsrc);
  CHECK(access(rw, F_OK) == 0); /* the rw bind wrote through to its source */
  fixture_fini(&f);
}

static void test_own_dev(void)
{
  struct fixture f;
  if (!can_run_namespaces() || !fixture_init(&f, false))
    return;
  put_file(f.rootfs, "dev/image-file", "x");
  CHECK(run_in_namespace(scenario_own_dev, &f, NS_PID) == 0);
  fixture_fini(&f);
}

static void test_proc_symlink_attack(void)
{
  struct fixture f;
  if (!can_run_namespaces() || !fixture_init(&f, false))
    return;
  cleanup_free char *evil = xasprintf("/tmp/evil-%d", (int)getpid());
  cleanup_free char *proc = xasprintf("%s/proc", f.rootfs);
  CHECK(rmdir(proc) == 0 && symlink(evil, proc) == 0);
  CHECK(run_in_namespace(scenario_proc_symlink, &f, NS_PID) == 0);
  CHECK(access(evil, F_OK) < 0 && errno == ENOENT);
  /* the same through a relative chain of ".." */
  cleanup_free char *rel = xasprintf("../../../../../../tmp/evil-%d", (int)getpid());
  CHECK(unlink(proc) == 0 && symlink(rel, proc) == 0);
  CHECK(run_in_namespace(scenario_proc_symlink, &f, NS_PID) == 0);
  CHECK(access(evil, F_OK) < 0 && errno == ENOENT);
  fixture_fini(&f);
}

static void test_dev_symlink_attack(void)
{
  struct fixture f;
  if (!can_run_namespaces() || !fixture_init(&f, false))
    return;
  cleanup_free char *evil = xasprintf("/tmp/evil-dev-%d", (int)getpid());
  cleanup_free char *dev = xasprintf("%s/dev", f.rootfs);
  CHECK(rmdir(dev) == 0 && symlink(evil, dev) == 0);
  CHECK(run_in_namespace(scenario_dev_symlink, &f, NS_MOUNT) == 0);
  CHECK(access(evil, F_OK) < 0 && errno == ENOENT);
  fixture_fini(&f);
}

static void test_dev_null_symlink_attack(void)
{
  struct fixture f;
  if (!can_run_namespaces() || !fixture_init(&f, false))
    return;
  cleanup_free char *before = NULL, *after = NULL;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(skiff_read_file("/proc/sys/kernel/core_pattern", &before, NULL, &err) == 0);
  put_dir(f.tmp, "evildev");
  cleanup_free char *evildev = xasprintf("%s/evildev", f.tmp);
  put_link(evildev, "null", "/proc/sys/kernel/core_pattern");
  CHECK(run_in_namespace(scenario_null_symlink, &f, NS_PID) == 0);
  CHECK(skiff_read_file("/proc/sys/kernel/core_pattern", &after, NULL, &err) == 0);
  CHECK_STR_EQ(before, after);
  fixture_fini(&f);
}

static void test_default_spec(void)
{
  struct fixture f;
  if (!can_run_namespaces() || !fixture_init(&f, false))
    return;
  CHECK(run_in_namespace(scenario_default_spec, &f, NS_PID) == 0);
  fixture_fini(&f);
}

static char *mounts_before;

static void test_host_mounts_unchanged(void)
{
  cleanup_free char *mounts_after = host_mounts();
  CHECK_STR_EQ(mounts_before, mounts_after);
}

int main(void)
{
  mounts_before = host_mounts();
  RUN_TEST(test_full_rootfs);
  RUN_TEST(test_own_dev);
  RUN_TEST(test_proc_symlink_attack);
  RUN_TEST(test_dev_symlink_attack);
  RUN_TEST(test_dev_null_symlink_attack);
  RUN_TEST(test_default_spec);
  RUN_TEST(test_rootfs_propagation);
  RUN_TEST(test_user_namespace);
  RUN_TEST(test_host_mounts_unchanged);
  free(mounts_before);
  return CHECK_DONE();
}
