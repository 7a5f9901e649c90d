/* cgroup_state.c - what a running container's cgroup says and the state it can be put
 * in, for both backends: pause and resume (v1 freezer.state, v2 cgroup.freeze), whether
 * it is frozen, and its accounting (cpu, memory, pids) for `skiff stats` and
 * `skiff events --stats`.  The ops tables of cgroup_v1.c and cgroup_v2.c point here. */
#define _GNU_SOURCE
#include "cgroup_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* How long a freeze may take before pause gives up and thaws again. */
#define PAUSE_WAIT_US 2000000

/* The v1 hierarchy whose controller list names ctrl ("cpuacct"), or NULL. */
static struct cgroup_hier *hier_named(struct skiff_cgroup *cg, const char *ctrl)
{
  size_t n = strlen(ctrl);
  for (size_t i = 0; i < cg->n_hier; i++)
    for (const char *p = cg->hier[i].controllers; (p = strstr(p, ctrl)) != NULL; p += n)
      if ((p == cg->hier[i].controllers || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
        return &cg->hier[i];
  return NULL;
}

/* Read one unsigned number from dir/name; "max" and a missing file are 0. */
static uint64_t read_u64(const char *dir, const char *name)
{
  cleanup_free char *v = NULL;
  if (dir == NULL || cgroup_read(dir, name, &v, NULL) < 0)
    return 0;
  return strncmp(v, "max", 3) == 0 ? 0 : strtoull(v, NULL, 10);
}

/* The value of "key N" in a flat keyed file (memory.stat, cpu.stat, cgroup.events). */
uint64_t cgroup_keyed_value(const char *text, const char *key)
{
  size_t n = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, key, n) == 0 && p[n] == ' ')
      return strtoull(p + n + 1, NULL, 10);
  return 0;
}

static uint64_t read_keyed(const char *dir, const char *name, const char *key)
{
  cleanup_free char *v = NULL;
  if (dir == NULL || cgroup_read(dir, name, &v, NULL) < 0)
    return 0;
  return cgroup_keyed_value(v, key);
}

/* Write the freeze request, then wait (bounded) until the kernel reports it done. */
static int set_frozen(const char *dir, const char *file, const char *value, const char *state_file,
                      const char *done, struct skiff_err **err)
{
  if (cgroup_write(dir, file, value, err) < 0)
    return -1;
  long long start = cgroup_now_us();
  for (;;)
    {
      cleanup_free char *state = NULL;
      if (cgroup_read(dir, state_file, &state, err) < 0)
        return -1;
      if (strstr(state, done))
        return 0;
      if (cgroup_now_us() - start > PAUSE_WAIT_US)
        return skiff_error(err, ETIMEDOUT, "`%s/%s` never reported `%s`", dir, state_file, done);
      cgroup_poll_wait(start);
    }
}

int cgroup_v1_freeze(struct skiff_cgroup *cg, bool frozen, struct skiff_err **err)
{
  struct cgroup_hier *fh = cgroup_find_hier(cg, CGROUP_CTRL_FREEZER);
  if (fh == NULL)
    return skiff_error(err, ENOTSUP, "no freezer cgroup hierarchy: cannot %s",
                       frozen ? "pause" : "resume");
  if (!frozen)
    return set_frozen(fh->dir, "freezer.state", "THAWED", "freezer.state", "THAWED", err);
  if (set_frozen(fh->dir, "freezer.state", "FROZEN", "freezer.state", "FROZEN", err) == 0)
    return 0;
  cgroup_write(fh->dir, "freezer.state", "THAWED", NULL); /* half frozen: undo */
  return -1;
}

int cgroup_v2_freeze(struct skiff_cgroup *cg, bool frozen, struct skiff_err **err)
{
  if (!frozen)
    return set_frozen(cg->unified_dir, "cgroup.freeze", "0", "cgroup.events", "frozen 0", err);
  if (set_frozen(cg->unified_dir, "cgroup.freeze", "1", "cgroup.events", "frozen 1", err) == 0)
    return 0;
  cgroup_write(cg->unified_dir, "cgroup.freeze", "0", NULL);
  return -1;
}

int cgroup_v1_frozen(struct skiff_cgroup *cg)
{
  struct cgroup_hier *fh = cgroup_find_hier(cg, CGROUP_CTRL_FREEZER);
  cleanup_free char *state = NULL;
  if (fh == NULL || cgroup_read(fh->dir, "freezer.state", &state, NULL) < 0)
    return 0;
  return strncmp(state, "FROZEN", 6) == 0;
}

int cgroup_v2_frozen(struct skiff_cgroup *cg)
{
  return read_keyed(cg->unified_dir, "cgroup.events", "frozen") == 1;
}

int cgroup_v1_stats(struct skiff_cgroup *cg, struct cgroup_stats *s, struct skiff_err **err)
{
  (void)err;
  memset(s, 0, sizeof(*s));
  struct cgroup_hier *acct = hier_named(cg, "cpuacct"), *cpu = hier_named(cg, "cpu");
  struct cgroup_hier *mem = cgroup_find_hier(cg, CGROUP_CTRL_MEMORY);
  struct cgroup_hier *pids = cgroup_find_hier(cg, CGROUP_CTRL_PIDS);
  if (acct)
    {
      s->cpu_usage_ns = read_u64(acct->dir, "cpuacct.usage");
      /* cpuacct.stat counts USER_HZ ticks */
      s->cpu_user_ns = read_keyed(acct->dir, "cpuacct.stat", "user") * 10000000ULL;
      s->cpu_system_ns = read_keyed(acct->dir, "cpuacct.stat", "system") * 10000000ULL;
    }
  if (cpu)
    {
      s->cpu_periods = read_keyed(cpu->dir, "cpu.stat", "nr_periods");
      s->cpu_throttled_periods = read_keyed(cpu->dir, "cpu.stat", "nr_throttled");
      s->cpu_throttled_ns = read_keyed(cpu->dir, "cpu.stat", "throttled_time");
    }
  if (mem)
    {
      s->memory_usage = read_u64(mem->dir, "memory.usage_in_bytes");
      s->memory_max_usage = read_u64(mem->dir, "memory.max_usage_in_bytes");
      s->memory_limit = read_u64(mem->dir, "memory.limit_in_bytes");
      if (s->memory_limit >= (1ULL << 62))
        s->memory_limit = 0; /* v1 writes "no limit" as a page-rounded LLONG_MAX */
      s->memory_failcnt = read_u64(mem->dir, "memory.failcnt");
      s->memory_cache = read_keyed(mem->dir, "memory.stat", "total_cache");
      s->memory_rss = read_keyed(mem->dir, "memory.stat", "total_rss");
      s->oom_kills = read_keyed(mem->dir, "memory.oom_control", "oom_kill");
    }
  if (pids)
    {
      s->pids_current = read_u64(pids->dir, "pids.current");
      s->pids_limit = read_u64(pids->dir, "pids.max");
    }
  return 0;
}

int cgroup_v2_stats(struct skiff_cgroup *cg, struct cgroup_stats *s, struct skiff_err **err)
{
  (void)err;
  memset(s, 0, sizeof(*s));
  const char *d = cg->unified_dir;
  cleanup_free char *cpu = NULL;
  if (cgroup_read(d, "cpu.stat", &cpu, NULL) == 0)
    {
      s->cpu_usage_ns = cgroup_keyed_value(cpu, "usage_usec") * 1000;
      s->cpu_user_ns = cgroup_keyed_value(cpu, "user_usec") * 1000;
      s->cpu_system_ns = cgroup_keyed_value(cpu, "system_usec") * 1000;
      s->cpu_periods = cgroup_keyed_value(cpu, "nr_periods");
      s->cpu_throttled_periods = cgroup_keyed_value(cpu, "nr_throttled");
      s->cpu_throttled_ns = cgroup_keyed_value(cpu, "throttled_usec") * 1000;
    }
  s->memory_usage = read_u64(d, "memory.current");
  s->memory_max_usage = read_u64(d, "memory.peak");
  s->memory_limit = read_u64(d, "memory.max");
  s->memory_failcnt = read_keyed(d, "memory.events", "max");
  s->memory_cache = read_keyed(d, "memory.stat", "file");
  s->memory_rss = read_keyed(d, "memory.stat", "anon");
  s->oom_kills = read_keyed(d, "memory.events", "oom_kill");
  s->pids_current = read_u64(d, "pids.current");
  s->pids_limit = read_u64(d, "pids.max");
  return 0;
}
