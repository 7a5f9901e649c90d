/* ns.c - namespaces (see ns.h).  util-linux style: one static table of the kinds. */
#define _GNU_SOURCE
#include "ns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>

static const struct
{
  enum skiff_ns_type type;
  int flag;
  const char *proc_name; /* /proc/<pid>/ns/<name> */
} ns_table[] = {
    /* order matters when joining: user first, so the others are joined with its caps;
       mount last but one, cgroup last (it is only meaningful after the cgroup join) */
    {SKIFF_NS_USER, CLONE_NEWUSER, "user"}, {SKIFF_NS_IPC, CLONE_NEWIPC, "ipc"},
    {SKIFF_NS_UTS, CLONE_NEWUTS, "uts"},    {SKIFF_NS_NETWORK, CLONE_NEWNET, "net"},
    {SKIFF_NS_PID, CLONE_NEWPID, "pid"},    {SKIFF_NS_TIME, CLONE_NEWTIME, "time"},
    {SKIFF_NS_MOUNT, CLONE_NEWNS, "mnt"},   {SKIFF_NS_CGROUP, CLONE_NEWCGROUP, "cgroup"},
};
#define NS_COUNT (sizeof(ns_table) / sizeof(ns_table[0]))

int ns_clone_flags(const struct skiff_spec *spec)
{
  int flags = 0;
  for (size_t i = 0; i < spec->linux.n_namespaces; i++)
    {
      const struct skiff_namespace *ns = &spec->linux.namespaces[i];
      if (ns->path == NULL && ns->type != SKIFF_NS_CGROUP)
        flags |= spec_ns_clone_flag(ns->type);
    }
  return flags;
}

int ns_join_spec_paths(const struct skiff_spec *spec, int skip_mask, struct skiff_err **err)
{
  for (size_t t = 0; t < NS_COUNT; t++)
    {
      if (ns_table[t].flag & skip_mask)
        continue;
      const struct skiff_namespace *ns = spec_find_namespace(spec, ns_table[t].type);
      if (ns == NULL || ns->path == NULL)
        continue;
      cleanup_close int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return skiff_error(err, errno, "open namespace `%s`", ns->path);
      if (setns(fd, ns_table[t].flag) < 0)
        return skiff_error(err, errno, "setns %s namespace `%s`", ns_table[t].proc_name, ns->path);
    }
  return 0;
}

int ns_join_pid(pid_t pid, int flags, struct skiff_err **err)
{
  int fds[NS_COUNT];
  size_t nfd = 0;
  int ret = 0;
  /* Open every namespace first: once we joined the mount namespace /proc/<pid> of the
     host is no longer what we see. */
  for (size_t t = 0; t < NS_COUNT; t++)
    {
      fds[t] = -1;
      if (!(ns_table[t].flag & flags))
        continue;
      char path[64], self[64];
      struct stat a, b;
      snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_table[t].proc_name);
      snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_table[t].proc_name);
      if (stat(path, &a) < 0)
        {
          ret = skiff_error(err, errno, "stat `%s`", path);
          goto out;
        }
      if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        continue; /* same namespace as ours: setns would fail for user ns */
      fds[t] = open(path, O_RDONLY | O_CLOEXEC);
      if (fds[t] < 0)
        {
          ret = skiff_error(err, errno, "open `%s`", path);
          goto out;
        }
      nfd++;
    }
  for (size_t t = 0; t < NS_COUNT; t++)
    if (fds[t] >= 0 && setns(fds[t], ns_table[t].flag) < 0)
      {
        ret = skiff_error(err, errno, "setns %s namespace of pid %d", ns_table[t].proc_name,
                          (int)pid);
        goto out;
      }
out:
  for (size_t t = 0; t < NS_COUNT; t++)
    if (fds[t] >= 0)
      close(fds[t]);
  (void)nfd;
  return ret;
}

char *ns_format_id_map(const struct skiff_idmap *maps, size_t n)
{
  size_t cap = 64 * (n + 1), used = 0;
  char *buf = xzalloc(cap);
  for (size_t i = 0; i < n; i++)
    used += snprintf(buf + used, cap - used, "%u %u %u\n", maps[i].container_id, maps[i].host_id,
                     maps[i].size);
  return buf;
}

static int write_map(pid_t pid, const char *file, const struct skiff_idmap *maps, size_t n,
                     struct skiff_err **err)
{
  if (n == 0)
    return 0;
  cleanup_free char *text = ns_format_id_map(maps, n);
  cleanup_free char *path = xasprintf("/proc/%d/%s", (int)pid, file);
  cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", path);
  /* the kernel takes a map in a single write */
  if (write(fd, text, strlen(text)) < 0)
    return skiff_error(err, errno, "write `%s`", path);
  return 0;
}

int ns_write_id_maps(pid_t pid, const struct skiff_spec *spec, struct skiff_err **err)
{
  if (write_map(pid, "uid_map", spec->linux.uid_mappings, spec->linux.n_uid_mappings, err) < 0)
    return -1;
  return write_map(pid, "gid_map", spec->linux.gid_mappings, spec->linux.n_gid_mappings, err);
}
