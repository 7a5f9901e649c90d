/* cgroup_fs.c - cgroupfs file and directory helpers shared by the v1 and v2 backends.
 *
 * Owns no state: writing and reading control files (errors name the full path),
 * making directories, listing every pid of a cgroup subtree, signalling them and
 * removing a subtree while its last processes exit.  Waits are bounded. */
#define _GNU_SOURCE
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <time.h>

/* How long destroy waits for processes to leave and kill keeps re-signalling. */
#define CGROUP_WAIT_US 3000000LL

long long cgroup_now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void cgroup_poll_wait(long long start_us)
{
  /* A freeze or an exit usually completes within ~100 us, but a sleep that lets the
   * CPU go idle costs 2-4 ms of wake-up latency on the development VMs: yield for the
   * first 2 ms (the tasks we wait for get the CPU), then sleep a quarter of the time
   * waited so far (at most 20 ms). */
  long long waited = cgroup_now_us() - start_us;
  if (waited < 2000)
    {
      sched_yield();
      return;
    }
  long long us = waited / 4 < 20000 ? waited / 4 : 20000;
  struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

int cgroup_write_raw(const char *dir, const char *name, const char *value)
{
  char path[4096];
  if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
    {
      errno = ENAMETOOLONG;
      return -1;
    }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t len = strlen(value);
  ssize_t n;
  do
    n = write(fd, value, len);
  while (n < 0 && errno == EINTR);
  int saved = errno;
  close(fd);
  if (n < 0)
    {
      errno = saved;
      return -1;
    }
  return 0;
}

int cgroup_write(const char *dir, const char *name, const char *value, struct skiff_err **err)
{
  if (cgroup_write_raw(dir, name, value) < 0)
    return skiff_error(err, errno, "write `%s` to `%s/%s`", value, dir, name);
  return 0;
}

int cgroup_read(const char *dir, const char *name, char **out, struct skiff_err **err)
{
  cleanup_free char *path = xasprintf("%s/%s", dir, name);
  return skiff_read_file(path, out, NULL, err);
}

int cgroup_mkdir(const char *dir, bool *created, struct skiff_err **err)
{
  *created = false;
  if (mkdir(dir, 0755) == 0)
    {
      *created = true;
      return 0;
    }
  if (errno == EEXIST)
    {
      struct stat st;
      if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
      return skiff_error(err, ENOTDIR, "mkdir `%s`", dir);
    }
  return skiff_error(err, errno, "mkdir `%s`", dir);
}

static int append_pids(int dirfd, const char *dir, pid_t **pids, size_t *n, struct skiff_err **err)
{
  cleanup_free char *text = NULL;
  if (skiff_read_file_at(dirfd, "cgroup.procs", &text, NULL, err) < 0)
    return skiff_err_prefix(err, "list processes of `%s`", dir);
  char *p = text;
  while (*p)
    {
      char *end = NULL;
      long v = strtol(p, &end, 10);
      if (end == p)
        break;
      if (v > 0)
        {
          *pids = xrealloc(*pids, (*n + 1) * sizeof(**pids));
          (*pids)[(*n)++] = (pid_t)v;
        }
      p = end;
    }
  return 0;
}

static int read_pids_at(int parentfd, const char *name, const char *path, pid_t **pids, size_t *n,
                        struct skiff_err **err)
{
  int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT) /* removed meanwhile, or never created: empty */
        return 0;
      return skiff_error(err, errno, "open `%s`", path);
    }
  if (append_pids(fd, path, pids, n, err) < 0)
    {
      close(fd);
      return -1;
    }
  cleanup_dir DIR *d = fdopendir(fd);
  if (d == NULL)
    {
      int saved = errno;
      close(fd);
      return skiff_error(err, saved, "fdopendir `%s`", path);
    }
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    {
      if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      cleanup_free char *sub = xasprintf("%s/%s", path, de->d_name);
      if (read_pids_at(dirfd(d), de->d_name, sub, pids, n, err) < 0)
        return -1;
    }
  return 0;
}

int cgroup_read_pids_tree(const char *dir, pid_t **pids, size_t *n, struct skiff_err **err)
{
  return read_pids_at(AT_FDCWD, dir, dir, pids, n, err);
}

int cgroup_check_empty(const char *dir, struct skiff_err **err)
{
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (cgroup_read_pids_tree(dir, &pids, &n, err) < 0)
    return -1;
  if (n > 0)
    return skiff_error(err, EEXIST, "cgroup `%s` already exists and holds %zu process%s", dir, n,
                       n == 1 ? "" : "es");
  return 0;
}

int cgroup_signal_tree(const char *dir, int sig, bool repeat, struct skiff_err **err)
{
  long long start = cgroup_now_us();
  for (;;)
    {
      cleanup_free pid_t *pids = NULL;
      size_t n = 0;
      if (cgroup_read_pids_tree(dir, &pids, &n, err) < 0)
        return -1;
      if (n == 0)
        return 0;
      for (size_t i = 0; i < n; i++)
        if (kill(pids[i], sig) < 0 && errno != ESRCH)
          return skiff_error(err, errno, "kill %d (in `%s`) with signal %d", (int)pids[i], dir,
                             sig);
      if (!repeat)
        return 0;
      if (cgroup_now_us() - start > CGROUP_WAIT_US)
        return skiff_error(err, EBUSY, "kill processes in `%s`: %zu still alive after %d ms", dir,
                           n, (int)(CGROUP_WAIT_US / 1000));
      cgroup_poll_wait(start);
    }
}

/* rmdir, retrying on EBUSY for a bounded time from start (microseconds). */
static int rmdir_retry(int parentfd, const char *name, const char *path, long long start,
                       struct skiff_err **err)
{
  for (;;)
    {
      if (unlinkat(parentfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
      if (errno != EBUSY || cgroup_now_us() - start > CGROUP_WAIT_US)
        return skiff_error(err, errno, "rmdir `%s`", path);
      cgroup_poll_wait(start);
    }
}

static int remove_tree_at(int parentfd, const char *name, const char *path, long long start,
                          struct skiff_err **err)
{
  /* the common case, an empty leaf: one rmdir; child cgroups or live tasks (EBUSY) take
     the walk below, which removes the children and waits for the tasks */
  if (unlinkat(parentfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
    return 0;
  int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : skiff_error(err, errno, "open `%s`", path);
  cleanup_dir DIR *d = fdopendir(fd);
  if (d == NULL)
    {
      int saved = errno;
      close(fd);
      return skiff_error(err, saved, "fdopendir `%s`", path);
    }
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    {
      if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      cleanup_free char *sub = xasprintf("%s/%s", path, de->d_name);
      if (remove_tree_at(dirfd(d), de->d_name, sub, start, err) < 0)
        return -1;
    }
  return rmdir_retry(parentfd, name, path, start, err);
}

int cgroup_remove_tree(const char *dir, struct skiff_err **err)
{
  return remove_tree_at(AT_FDCWD, dir, dir, cgroup_now_us(), err);
}
