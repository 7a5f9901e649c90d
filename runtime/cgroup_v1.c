/* cgroup_v1.c - the cgroup v1 backend (also used on hybrid hosts).
 *
 * One directory per mounted hierarchy (cpu, cpuacct, cpuset, memory, devices, freezer,
 * blkio, pids, name=systemd ...), plus one in the cgroup2 hierarchy on a hybrid host so
 * the container has a v2 path too.  Owns the v1 quirks: cpuset.cpus/mems must be
 * copied from the parent before a task can join; memory.memsw.limit_in_bytes exists
 * only with swap accounting and must stay >= memory.limit_in_bytes; the freezer stops
 * forks while kill() walks the processes. */
#define _GNU_SOURCE
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long kill() waits for freezer.state to reach FROZEN before signalling anyway. */
#define FREEZE_WAIT_US 1000000

struct created_list
{
  char **dirs;
  size_t n;
};

static void created_rollback(struct created_list *c)
{
  for (size_t i = c->n; i > 0; i--)
    {
      rmdir(c->dirs[i - 1]);
      free(c->dirs[i - 1]);
    }
  free(c->dirs);
  c->dirs = NULL;
  c->n = 0;
}

static void created_forget(struct created_list *c)
{
  for (size_t i = 0; i < c->n; i++)
    free(c->dirs[i]);
  free(c->dirs);
  c->dirs = NULL;
  c->n = 0;
}

static bool blank(const char *s)
{
  return s[strspn(s, " \t\n")] == '\0';
}

/* A new cpuset cgroup starts with empty cpus and mems and no task can join it until
 * they are set: copy the parent's (only the ones that are empty). */
static int init_cpuset(const char *parent, const char *dir, bool fresh, struct skiff_err **err)
{
  static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
  for (size_t i = 0; i < 2; i++)
    {
      if (!fresh)
        {
          cleanup_free char *cur = NULL;
          if (cgroup_read(dir, files[i], &cur, err) < 0)
            return -1;
          if (!blank(cur))
            continue;
        }
      cleanup_free char *val = NULL;
      if (cgroup_read(parent, files[i], &val, err) < 0)
        return -1;
      if (blank(val))
        continue;
      if (cgroup_write(dir, files[i], val, err) < 0)
        return -1;
    }
  return 0;
}

/* mkdir -p mount+path, component by component, recording what was created. */
static int mkdir_chain(const char *mount, const char *path, bool cpuset,
                       struct created_list *created, bool *leaf_existed, struct skiff_err **err)
{
  size_t mlen = strlen(mount), plen = strlen(path);
  cleanup_free char *dir = xmalloc(mlen + plen + 1);
  memcpy(dir, mount, mlen + 1);
  const char *p = path;
  while (*p)
    {
      const char *start = ++p; /* path is normalised: "/a/b" */
      while (*p && *p != '/')
        p++;
      size_t parent_len = strlen(dir);
      memcpy(dir + parent_len, start - 1, (size_t)(p - start) + 1);
      dir[parent_len + (p - start) + 1] = '\0';
      bool fresh = false;
      if (cgroup_mkdir(dir, &fresh, err) < 0)
        return -1;
      if (fresh)
        {
          created->dirs = xrealloc(created->dirs, (created->n + 1) * sizeof(char *));
          created->dirs[created->n++] = xstrdup(dir);
        }
      *leaf_existed = !fresh;
      if (cpuset)
        {
          cleanup_free char *parent = xasprintf("%.*s", (int)parent_len, dir);
          if (init_cpuset(parent, dir, fresh, err) < 0)
            return -1;
        }
    }
  return 0;
}

/* The common case costs one mkdir: the parent exists (every container after the first
 * under /skiff).  A missing parent, an existing leaf or an uninitialised parent cpuset
 * fall back to the component walk. */
static int make_leaf(const char *mount, const char *path, const char *leaf, bool cpuset,
                     struct created_list *created, bool *leaf_existed, struct skiff_err **err)
{
  if (mkdir(leaf, 0755) == 0)
    {
      created->dirs = xrealloc(created->dirs, (created->n + 1) * sizeof(char *));
      created->dirs[created->n++] = xstrdup(leaf);
      *leaf_existed = false;
      if (!cpuset)
        return 0;
      cleanup_free char *parent = xstrdup(leaf);
      *strrchr(parent, '/') = '\0';
      cleanup_free char *cpus = NULL, *mems = NULL;
      if (cgroup_read(parent, "cpuset.cpus", &cpus, err) < 0
          || cgroup_read(parent, "cpuset.mems", &mems, err) < 0)
        return -1;
      if (!blank(cpus) && !blank(mems))
        return cgroup_write(leaf, "cpuset.cpus", cpus, err) < 0
                       || cgroup_write(leaf, "cpuset.mems", mems, err) < 0
                   ? -1
                   : 0;
    }
  else if (errno != ENOENT && errno != EEXIST)
    return skiff_error(err, errno, "mkdir `%s`", leaf);
  return mkdir_chain(mount, path, cpuset, created, leaf_existed, err);
}

static int v1_create(struct skiff_cgroup *cg, struct skiff_err **err)
{
  struct created_list created = {NULL, 0};
  for (size_t i = 0; i < cg->n_hier; i++)
    {
      struct cgroup_hier *h = &cg->hier[i];
      bool existed = false;
      if (make_leaf(h->mount, cg->path, h->dir, h->mask & CGROUP_CTRL_CPUSET, &created, &existed,
                    err)
              < 0
          || (existed && cgroup_check_empty(h->dir, err) < 0))
        {
          created_rollback(&created);
          return -1;
        }
    }
  if (cg->unified_dir)
    {
      /* Optional on a hybrid host: a read-only or foreign cgroup2 mount only costs the
       * container its v2 path. */
      cleanup_err struct skiff_err *uerr = NULL;
      bool existed = false;
      if (make_leaf(cg->unified_mount, cg->path, cg->unified_dir, false, &created, &existed, &uerr)
          < 0)
        {
          int e = uerr->status;
          if (e != EACCES && e != EPERM && e != EROFS)
            {
              created_rollback(&created);
              *err = steal_pointer(&uerr);
              return -1;
            }
          free(cg->unified_dir);
          cg->unified_dir = NULL;
        }
    }
  created_forget(&created);
  return 0;
}

static int v1_enter(struct skiff_cgroup *cg, pid_t pid, struct skiff_err **err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%d", (int)pid);
  for (size_t i = 0; i < cg->n_hier; i++)
    if (cgroup_write(cg->hier[i].dir, "cgroup.procs", buf, err) < 0)
      return -1;
  if (cg->unified_dir && cgroup_write(cg->unified_dir, "cgroup.procs", buf, err) < 0)
    return -1;
  return 0;
}

static int need_hier(struct skiff_cgroup *cg, unsigned ctrl, const char *name, const char *field,
                     struct cgroup_hier **out, struct skiff_err **err)
{
  *out = cgroup_find_hier(cg, ctrl);
  if (*out == NULL)
    return skiff_error(err, ENOENT, "%s: the cgroup v1 `%s` controller is not mounted", field,
                       name);
  return 0;
}

static int write_i64(const char *dir, const char *name, int64_t v, struct skiff_err **err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, v);
  return cgroup_write(dir, name, buf, err);
}

/* memsw missing means no swap accounting: only "no swap beyond the limit" (swap ==
 * limit) and "unlimited" can be accepted, anything else would be silently ignored. */
static int write_memsw(const char *dir, const struct skiff_resources *r, struct skiff_err **err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, r->memory_swap);
  if (cgroup_write_raw(dir, "memory.memsw.limit_in_bytes", buf) == 0)
    return 0;
  if (errno == ENOENT)
    {
      if (r->memory_swap == -1 || (r->has_memory_limit && r->memory_swap == r->memory_limit))
        return 0;
      return skiff_error(err, ENOENT,
                         "linux.resources.memory.swap: `%s/memory.memsw.limit_in_bytes` does "
                         "not exist (no swap accounting; boot with swapaccount=1)",
                         dir);
    }
  return skiff_error(err, errno, "write `%s` to `%s/memory.memsw.limit_in_bytes`", buf, dir);
}

static int apply_memory(struct skiff_cgroup *cg, const struct skiff_resources *r,
                        struct skiff_err **err)
{
  bool want_swap = r->has_memory_swap && r->memory_swap != 0; /* 0: not set */
  if (!r->has_memory_limit && !want_swap && !r->has_memory_reservation)
    return 0;
  struct cgroup_hier *h;
  if (need_hier(cg, CGROUP_CTRL_MEMORY, "memory", "linux.resources.memory", &h, err) < 0)
    return -1;
  if (want_swap && r->memory_swap != -1)
    {
      if (!r->has_memory_limit || r->memory_limit <= 0)
        return skiff_error(err, EINVAL,
                           "linux.resources.memory.swap (%" PRId64 ") needs a memory limit",
                           r->memory_swap);
      if (r->memory_swap < r->memory_limit)
        return skiff_error(err, EINVAL,
                           "linux.resources.memory.swap (%" PRId64
                           ") must be >= memory.limit (%" PRId64 "): it counts memory + swap",
                           r->memory_swap, r->memory_limit);
    }
  bool swap_done = false;
  if (r->has_memory_limit)
    {
      char buf[32];
      snprintf(buf, sizeof(buf), "%" PRId64, r->memory_limit);
      if (cgroup_write_raw(h->dir, "memory.limit_in_bytes", buf) < 0)
        {
          /* raising the limit above the current memsw limit: memsw first */
          if (errno != EINVAL || !want_swap)
            return skiff_error(err, errno, "write `%s` to `%s/memory.limit_in_bytes`", buf, h->dir);
          if (write_memsw(h->dir, r, err) < 0
              || cgroup_write(h->dir, "memory.limit_in_bytes", buf, err) < 0)
            return -1;
          swap_done = true;
        }
    }
  if (want_swap && !swap_done && write_memsw(h->dir, r, err) < 0)
    return -1;
  if (r->has_memory_reservation
      && write_i64(h->dir, "memory.soft_limit_in_bytes", r->memory_reservation, err) < 0)
    return -1;
  return 0;
}

static int apply_cpu(struct skiff_cgroup *cg, const struct skiff_resources *r,
                     struct skiff_err **err)
{
  bool shares = r->has_cpu_shares && r->cpu_shares != 0;
  bool period = r->has_cpu_period && r->cpu_period != 0;
  bool quota = r->has_cpu_quota && r->cpu_quota != 0;
  if (shares || period || quota)
    {
      struct cgroup_hier *h;
      if (need_hier(cg, CGROUP_CTRL_CPU, "cpu", "linux.resources.cpu", &h, err) < 0)
        return -1;
      if (shares && write_i64(h->dir, "cpu.shares", (int64_t)r->cpu_shares, err) < 0)
        return -1;
      /* period before quota: the quota is checked against the period in force */
      if (period && write_i64(h->dir, "cpu.cfs_period_us", (int64_t)r->cpu_period, err) < 0)
        return -1;
      if (quota
          && write_i64(h->dir, "cpu.cfs_quota_us", r->cpu_quota > 0 ? r->cpu_quota : -1, err) < 0)
        return -1;
    }
  bool cpus = r->cpuset_cpus && *r->cpuset_cpus, mems = r->cpuset_mems && *r->cpuset_mems;
  if (cpus || mems)
    {
      struct cgroup_hier *h;
      if (need_hier(cg, CGROUP_CTRL_CPUSET, "cpuset", "linux.resources.cpu", &h, err) < 0)
        return -1;
      if (cpus && cgroup_write(h->dir, "cpuset.cpus", r->cpuset_cpus, err) < 0)
        return -1;
      if (mems && cgroup_write(h->dir, "cpuset.mems", r->cpuset_mems, err) < 0)
        return -1;
    }
  return 0;
}

/* One rule per write(2), each applied at once, in order; the two files stay open across
 * the rules (a runc config's 11 rules: 11 writes, not 33 syscalls). */
struct device_files
{
  const char *dir;
  int fd[2]; /* devices.deny, devices.allow */
};

static int write_device_rule(struct device_files *f, const struct skiff_device_cgroup *d,
                             struct skiff_err **err)
{
  const char *name = d->allow ? "devices.allow" : "devices.deny";
  int *fd = &f->fd[d->allow ? 1 : 0];
  char rule[96];
  cgroup_v1_device_rule(d, rule, sizeof(rule));
  if (*fd < 0)
    {
      cleanup_free char *path = xasprintf("%s/%s", f->dir, name);
      *fd = open(path, O_WRONLY | O_CLOEXEC);
      if (*fd < 0)
        return skiff_error(err, errno, "open `%s`", path);
    }
  ssize_t n;
  do
    n = write(*fd, rule, strlen(rule));
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error(err, errno, "write `%s` to `%s/%s`", rule, f->dir, name);
  return 0;
}

static int apply_devices(struct skiff_cgroup *cg, const struct skiff_resources *r,
                         struct skiff_err **err)
{
  if (r->n_devices == 0)
    return 0;
  struct cgroup_hier *h;
  if (need_hier(cg, CGROUP_CTRL_DEVICES, "devices", "linux.resources.devices", &h, err) < 0)
    return -1;
  struct device_files f = {.dir = h->dir, .fd = {-1, -1}};
  int ret = 0;
  for (size_t i = 0; ret == 0 && i < r->n_devices; i++)
    if (write_device_rule(&f, &r->devices[i], err) < 0)
      ret = skiff_err_prefix(err, "linux.resources.devices[%zu]", i);
  size_t n_def = 0;
  const struct skiff_device_cgroup *def = cgroup_default_devices(&n_def);
  for (size_t i = 0; ret == 0 && i < n_def; i++)
    ret = write_device_rule(&f, &def[i], err);
  for (int i = 0; i < 2; i++)
    if (f.fd[i] >= 0)
      close(f.fd[i]);
  return ret;
}

/* "unified" is a v2 map; on a hybrid host it goes to the container's cgroup2 dir. */
static int apply_unified(struct skiff_cgroup *cg, const struct skiff_resources *r,
                         struct skiff_err **err)
{
  if (r->unified == NULL || r->unified[0] == NULL)
    return 0;
  if (cg->unified_dir == NULL)
    return skiff_error(err, EINVAL,
                       "linux.resources.unified: this host has no cgroup v2 hierarchy (v1 only)");
  for (size_t i = 0; r->unified[i] && r->unified[i + 1]; i += 2)
    {
      if (cgroup_check_unified_key(r->unified[i], err) < 0
          || cgroup_write(cg->unified_dir, r->unified[i], r->unified[i + 1], err) < 0)
        return skiff_err_prefix(err, "linux.resources.unified");
    }
  return 0;
}

static int v1_apply(struct skiff_cgroup *cg, const struct skiff_resources *r,
                    struct skiff_err **err)
{
  if (apply_memory(cg, r, err) < 0 || apply_cpu(cg, r, err) < 0)
    return -1;
  if (r->has_pids_limit)
    {
      struct cgroup_hier *h;
      char buf[32];
      if (need_hier(cg, CGROUP_CTRL_PIDS, "pids", "linux.resources.pids", &h, err) < 0)
        return -1;
      if (r->pids_limit > 0)
        snprintf(buf, sizeof(buf), "%" PRId64, r->pids_limit);
      else
        snprintf(buf, sizeof(buf), "max");
      if (cgroup_write(h->dir, "pids.max", buf, err) < 0)
        return -1;
    }
  if (apply_devices(cg, r, err) < 0)
    return -1;
  return apply_unified(cg, r, err);
}

/* The hierarchy whose membership lists the container's processes. */
static const char *procs_dir(struct skiff_cgroup *cg)
{
  static const unsigned prefer[] = {CGROUP_CTRL_PIDS, CGROUP_CTRL_FREEZER, CGROUP_CTRL_MEMORY};
  for (size_t i = 0; i < sizeof(prefer) / sizeof(prefer[0]); i++)
    {
      struct cgroup_hier *h = cgroup_find_hier(cg, prefer[i]);
      if (h)
        return h->dir;
    }
  if (cg->n_hier > 0)
    return cg->hier[0].dir;
  return cg->unified_dir;
}

static int v1_pids(struct skiff_cgroup *cg, pid_t **pids, size_t *n, struct skiff_err **err)
{
  *pids = NULL;
  *n = 0;
  const char *dir = procs_dir(cg);
  if (dir == NULL)
    return 0;
  if (cgroup_read_pids_tree(dir, pids, n, err) < 0)
    {
      free(*pids);
      *pids = NULL;
      *n = 0;
      return -1;
    }
  return 0;
}

/* Freeze, wait (bounded) for FROZEN.  Returns 1 when frozen, 0 when the freeze did not
 * complete in time (a task stuck in the kernel), -1 on error; ENOENT (no cgroup) is
 * reported through *gone. */
static int freeze(const char *dir, bool *gone, struct skiff_err **err)
{
  *gone = false;
  if (cgroup_write_raw(dir, "freezer.state", "FROZEN") < 0)
    {
      if (errno == ENOENT)
        {
          *gone = true;
          return 0;
        }
      return skiff_error(err, errno, "write `FROZEN` to `%s/freezer.state`", dir);
    }
  long long start = cgroup_now_us();
  while (cgroup_now_us() - start < FREEZE_WAIT_US)
    {
      cleanup_free char *state = NULL;
      if (cgroup_read(dir, "freezer.state", &state, err) < 0)
        return -1;
      if (strncmp(state, "FROZEN", 6) == 0)
        return 1;
      cgroup_poll_wait(start);
    }
  return 0;
}

static int v1_kill(struct skiff_cgroup *cg, int sig, struct skiff_err **err)
{
  struct cgroup_hier *fh = cgroup_find_hier(cg, CGROUP_CTRL_FREEZER);
  const char *dir = procs_dir(cg);
  if (dir == NULL)
    return 0;
  if (fh == NULL)
    return cgroup_signal_tree(dir, sig, sig == SIGKILL, err);
  bool gone = false;
  int frozen = freeze(fh->dir, &gone, err);
  if (frozen < 0)
    return -1;
  if (gone)
    return 0;
  /* Frozen tasks cannot fork, so one pass reaches every process; the signals are
   * delivered when the cgroup thaws. */
  int ret = cgroup_signal_tree(fh->dir, sig, false, err);
  cleanup_err struct skiff_err *terr = NULL;
  if (cgroup_write(fh->dir, "freezer.state", "THAWED", ret < 0 ? &terr : err) < 0 && ret == 0)
    return -1;
  if (ret == 0 && !frozen && sig == SIGKILL)
    ret = cgroup_signal_tree(dir, sig, true, err);
  return ret;
}

static int v1_destroy(struct skiff_cgroup *cg, struct skiff_err **err)
{
  int ret = 0;
  /* best effort: every hierarchy is tried, the first error is reported */
  for (size_t i = 0; i < cg->n_hier; i++)
    if (cgroup_remove_tree(cg->hier[i].dir, err) < 0)
      ret = -1;
  if (cg->unified_dir && cgroup_remove_tree(cg->unified_dir, err) < 0)
    ret = -1;
  return ret;
}

const struct cgroup_ops cgroup_v1_ops = {
    .name = "v1",
    .create = v1_create,
    .enter = v1_enter,
    .apply = v1_apply,
    .pids = v1_pids,
    .kill = v1_kill,
    .destroy = v1_destroy,
    .freeze = cgroup_v1_freeze,
    .frozen = cgroup_v1_frozen,
    .stats = cgroup_v1_stats,
};
