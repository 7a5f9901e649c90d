/* cgroup_v2.c - the cgroup v2 (unified) backend.
 *
 * One directory under the cgroup2 mount.  create() enables the controllers the
 * container needs in every ancestor's cgroup.subtree_control (reading first, writing
 * only what is missing); apply() maps OCI resources to memory.max, memory.swap.max,
 * memory.low, cpu.weight, cpu.max, cpuset.*, pids.max and writes the "unified" map
 * verbatim; kill() uses cgroup.kill when the kernel has it (5.14+), else freezes the
 * cgroup and signals every process.
 *
 * Device rules (linux.resources.devices) become a BPF_PROG_TYPE_CGROUP_DEVICE
 * program attached to the cgroup (cgroup_bpf.c), the v2 replacement of
 * devices.allow/deny. */
#define _GNU_SOURCE
#include "cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>

#define FREEZE_WAIT_US 1000000

/* Controllers enabled for the container, in the order the kernel lists them. */
static const char *const wanted_controllers[] = {"cpuset", "cpu", "memory", "pids"};
#define N_WANTED (sizeof(wanted_controllers) / sizeof(wanted_controllers[0]))

/* Bit i set when wanted_controllers[i] appears in a space separated list. */
static unsigned controller_mask(const char *list)
{
  unsigned mask = 0;
  const char *p = list;
  while (*p)
    {
      p += strspn(p, " \t\n");
      size_t len = strcspn(p, " \t\n");
      for (size_t i = 0; i < N_WANTED; i++)
        if (strlen(wanted_controllers[i]) == len && strncmp(p, wanted_controllers[i], len) == 0)
          mask |= 1u << i;
      p += len;
    }
  return mask;
}

/* Make sure every wanted controller available in dir is enabled for its children.
 * *avail is what dir offers (its cgroup.controllers) and becomes what the child
 * offers. */
static int enable_controllers(const char *dir, unsigned *avail, struct skiff_err **err)
{
  cleanup_free char *enabled_text = NULL;
  if (cgroup_read(dir, "cgroup.subtree_control", &enabled_text, err) < 0)
    return -1;
  unsigned enabled = controller_mask(enabled_text);
  unsigned missing = *avail & ~enabled;
  if (missing)
    {
      char buf[64] = "";
      for (size_t i = 0; i < N_WANTED; i++)
        if (missing & (1u << i))
          {
            strcat(buf, buf[0] ? " +" : "+");
            strcat(buf, wanted_controllers[i]);
          }
      if (cgroup_write(dir, "cgroup.subtree_control", buf, err) < 0)
        return -1;
      enabled |= missing;
    }
  *avail = enabled;
  return 0;
}

static int v2_create(struct skiff_cgroup *cg, struct skiff_err **err)
{
  cleanup_free char *root_ctrl = NULL;
  if (cgroup_read(cg->unified_mount, "cgroup.controllers", &root_ctrl, err) < 0)
    return -1;
  unsigned avail = controller_mask(root_ctrl);
  size_t mlen = strlen(cg->unified_mount), plen = strlen(cg->path);
  cleanup_free char *dir = xmalloc(mlen + plen + 1);
  memcpy(dir, cg->unified_mount, mlen + 1);
  cleanup_free char *first_created = NULL;
  bool fresh = false;
  const char *p = cg->path;
  while (*p)
    {
      if (avail && enable_controllers(dir, &avail, err) < 0)
        goto fail;
      const char *start = ++p;
      while (*p && *p != '/')
        p++;
      size_t len = strlen(dir);
      memcpy(dir + len, start - 1, (size_t)(p - start) + 1);
      dir[len + (p - start) + 1] = '\0';
      if (cgroup_mkdir(dir, &fresh, err) < 0)
        goto fail;
      if (fresh && first_created == NULL)
        first_created = xstrdup(dir);
    }
  if (!fresh && cgroup_check_empty(dir, err) < 0)
    goto fail;
  return 0;
fail:
  if (first_created)
    {
      cleanup_err struct skiff_err *rerr = NULL;
      cgroup_remove_tree(first_created, &rerr);
    }
  return -1;
}

static int v2_enter(struct skiff_cgroup *cg, pid_t pid, struct skiff_err **err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%d", (int)pid);
  return cgroup_write(cg->unified_dir, "cgroup.procs", buf, err);
}

/* -1 (unlimited) is "max" in v2 files. */
static int write_limit(const char *dir, const char *name, int64_t v, struct skiff_err **err)
{
  char buf[32];
  if (v < 0)
    snprintf(buf, sizeof(buf), "max");
  else
    snprintf(buf, sizeof(buf), "%" PRId64, v);
  return cgroup_write(dir, name, buf, err);
}

static int apply_memory(const char *dir, const struct skiff_resources *r, struct skiff_err **err)
{
  if (r->has_memory_limit && write_limit(dir, "memory.max", r->memory_limit, err) < 0)
    return -1;
  if (r->has_memory_swap && r->memory_swap != 0) /* 0: not set */
    {
      int64_t limit = r->has_memory_limit ? r->memory_limit : -1;
      int64_t swap = cgroup_swap_v2(limit, r->memory_swap);
      if (swap < -1)
        return skiff_error(err, EINVAL,
                           "linux.resources.memory.swap (%" PRId64
                           ") must be -1 or >= memory.limit (%" PRId64
                           "), which must be set: it counts memory + swap",
                           r->memory_swap, limit);
      char buf[32];
      if (swap < 0)
        snprintf(buf, sizeof(buf), "max");
      else
        snprintf(buf, sizeof(buf), "%" PRId64, swap);
      if (cgroup_write_raw(dir, "memory.swap.max", buf) < 0)
        {
          /* no swap accounting: only "no swap" and "unlimited" can be honoured */
          if (errno != ENOENT)
            return skiff_error(err, errno, "write `%s` to `%s/memory.swap.max`", buf, dir);
          if (swap > 0)
            return skiff_error(err, ENOENT,
                               "linux.resources.memory.swap: `%s/memory.swap.max` does not "
                               "exist (no swap accounting)",
                               dir);
        }
    }
  if (r->has_memory_reservation && write_limit(dir, "memory.low", r->memory_reservation, err) < 0)
    return -1;
  return 0;
}

static int apply_cpu(const char *dir, const struct skiff_resources *r, struct skiff_err **err)
{
  if (r->has_cpu_shares && r->cpu_shares != 0)
    {
      char buf[32];
      snprintf(buf, sizeof(buf), "%" PRIu64, cgroup_shares_to_weight(r->cpu_shares));
      if (cgroup_write(dir, "cpu.weight", buf, err) < 0)
        return -1;
    }
  bool quota = r->has_cpu_quota && r->cpu_quota != 0;
  bool period = r->has_cpu_period && r->cpu_period != 0;
  if (quota || period)
    {
      cleanup_free char *v
          = cgroup_cpu_max_string(quota ? r->cpu_quota : -1, period ? r->cpu_period : 0);
      if (cgroup_write(dir, "cpu.max", v, err) < 0)
        return -1;
    }
  if (r->cpuset_cpus && *r->cpuset_cpus
      && cgroup_write(dir, "cpuset.cpus", r->cpuset_cpus, err) < 0)
    return -1;
  if (r->cpuset_mems && *r->cpuset_mems
      && cgroup_write(dir, "cpuset.mems", r->cpuset_mems, err) < 0)
    return -1;
  return 0;
}

static int v2_apply(struct skiff_cgroup *cg, const struct skiff_resources *r,
                    struct skiff_err **err)
{
  const char *dir = cg->unified_dir;
  if (apply_memory(dir, r, err) < 0 || apply_cpu(dir, r, err) < 0)
    return -1;
  if (r->has_pids_limit
      && write_limit(dir, "pids.max", r->pids_limit > 0 ? r->pids_limit : -1, err) < 0)
    return -1;
  if (r->n_devices > 0)
    {
      size_t n_def = 0;
      const struct skiff_device_cgroup *def = cgroup_default_devices(&n_def);
      cleanup_free struct skiff_device_cgroup *all = xmalloc((r->n_devices + n_def) * sizeof(*all));
      memcpy(all, r->devices, r->n_devices * sizeof(*all));
      memcpy(all + r->n_devices, def, n_def * sizeof(*all));
      if (cgroup_bpf_devices_apply(dir, all, r->n_devices + n_def, err) < 0)
        return skiff_err_prefix(err, "linux.resources.devices");
    }
  for (size_t i = 0; r->unified && r->unified[i] && r->unified[i + 1]; i += 2)
    if (cgroup_check_unified_key(r->unified[i], err) < 0
        || cgroup_write(dir, r->unified[i], r->unified[i + 1], err) < 0)
      return skiff_err_prefix(err, "linux.resources.unified");
  return 0;
}

static int v2_pids(struct skiff_cgroup *cg, pid_t **pids, size_t *n, struct skiff_err **err)
{
  *pids = NULL;
  *n = 0;
  if (cgroup_read_pids_tree(cg->unified_dir, pids, n, err) < 0)
    {
      free(*pids);
      *pids = NULL;
      *n = 0;
      return -1;
    }
  return 0;
}

/* Freeze through cgroup.freeze and wait (bounded) for "frozen 1" in cgroup.events.
 * Returns 1 frozen, 0 not (no cgroup.freeze, or not in time), -1 error. */
static int freeze(const char *dir, struct skiff_err **err)
{
  if (cgroup_write_raw(dir, "cgroup.freeze", "1") < 0)
    {
      if (errno == ENOENT)
        return 0;
      return skiff_error(err, errno, "write `1` to `%s/cgroup.freeze`", dir);
    }
  long long start = cgroup_now_us();
  while (cgroup_now_us() - start < FREEZE_WAIT_US)
    {
      cleanup_free char *events = NULL;
      if (cgroup_read(dir, "cgroup.events", &events, err) < 0)
        return -1;
      if (strstr(events, "frozen 1"))
        return 1;
      cgroup_poll_wait(start);
    }
  return 0;
}

static int v2_kill(struct skiff_cgroup *cg, int sig, struct skiff_err **err)
{
  const char *dir = cg->unified_dir;
  if (access(dir, F_OK) < 0)
    return errno == ENOENT ? 0 : skiff_error(err, errno, "access `%s`", dir);
  /* cgroup.kill (5.14+) kills the whole subtree atomically, late forks included. */
  if (sig == SIGKILL)
    {
      if (cgroup_write_raw(dir, "cgroup.kill", "1") == 0)
        return 0;
      if (errno != ENOENT)
        return skiff_error(err, errno, "write `1` to `%s/cgroup.kill`", dir);
    }
  int frozen = freeze(dir, err);
  if (frozen < 0)
    return -1;
  int ret = cgroup_signal_tree(dir, sig, !frozen && sig == SIGKILL, err);
  if (frozen)
    {
      cleanup_err struct skiff_err *terr = NULL;
      if (cgroup_write(dir, "cgroup.freeze", "0", ret < 0 ? &terr : err) < 0 && ret == 0)
        return -1;
    }
  return ret;
}

static int v2_destroy(struct skiff_cgroup *cg, struct skiff_err **err)
{
  return cgroup_remove_tree(cg->unified_dir, err);
}

const struct cgroup_ops cgroup_v2_ops = {
    .name = "v2",
    .create = v2_create,
    .enter = v2_enter,
    .apply = v2_apply,
    .pids = v2_pids,
    .kill = v2_kill,
    .destroy = v2_destroy,
    .freeze = cgroup_v2_freeze,
    .frozen = cgroup_v2_frozen,
    .stats = cgroup_v2_stats,
};
