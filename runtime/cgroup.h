/* cgroup.h - one interface over cgroup v1 (hybrid hosts) and v2 (unified).
 *
 * cgroup.c detects the layout at run time from /proc/self/mountinfo and picks a
 * struct cgroup_ops filled by cgroup_v1.c or cgroup_v2.c (crun's
 * libcrun_cgroup_manager idea).  A hybrid host (v1 controllers + a cgroup2 mount at
 * /sys/fs/cgroup/unified, possibly holding a controller) is treated as v1.
 *
 * Paths: the container's cgroup path is relative to the hierarchy roots, e.g.
 * "/skiff/<id>" (default) or linux.cgroupsPath from the spec.  The mount points are
 * taken from mountinfo (read once per process), so tests can point the module at a
 * fake tree (cgroup_set_mountinfo_for_tests).
 *
 * Resources: memory (limit, swap, reservation), cpu (shares/weight, quota/period,
 * cpuset cpus/mems), pids, devices (v1 devices.allow/deny; v2 a BPF device program,
 * cgroup_bpf.c) and, where a cgroup2 hierarchy exists, the "unified" map. */
#ifndef SKIFF_CGROUP_H
#define SKIFF_CGROUP_H

#include <sys/types.h>
#include "spec.h"

enum cgroup_mode
{
  CGROUP_MODE_V1 = 1,
  CGROUP_MODE_V2 = 2,
};

struct skiff_cgroup; /* opaque */

/* What the accounting files say (cgroup_state.c); 0 where a file or limit is missing. */
struct cgroup_stats
{
  uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
  uint64_t cpu_periods, cpu_throttled_periods, cpu_throttled_ns;
  uint64_t memory_usage, memory_max_usage, memory_limit, memory_failcnt;
  uint64_t memory_cache, memory_rss, oom_kills;
  uint64_t pids_current, pids_limit;
};

struct cgroup_ops
{
  const char *name; /* "v1" or "v2" */
  /* create the directories (and on v2 enable the controllers needed in the parents'
   * cgroup.subtree_control); fails if it already exists and holds processes */
  int (*create)(struct skiff_cgroup *cg, struct skiff_err **err);
  int (*enter)(struct skiff_cgroup *cg, pid_t pid, struct skiff_err **err);
  int (*apply)(struct skiff_cgroup *cg, const struct skiff_resources *r, struct skiff_err **err);
  /* every pid in the cgroup (recursively), malloc'd array */
  int (*pids)(struct skiff_cgroup *cg, pid_t **pids, size_t *n, struct skiff_err **err);
  /* kill every process (v2: cgroup.kill when present, else loop); freeze on v1 first
   * so nothing forks while being killed */
  int (*kill)(struct skiff_cgroup *cg, int sig, struct skiff_err **err);
  /* rmdir everywhere, retrying while processes exit; missing is success */
  int (*destroy)(struct skiff_cgroup *cg, struct skiff_err **err);
  /* pause (frozen) or resume every process, waiting until the kernel says done */
  int (*freeze)(struct skiff_cgroup *cg, bool frozen, struct skiff_err **err);
  /* 1 when frozen by a pause, 0 otherwise (no freezer, no cgroup) */
  int (*frozen)(struct skiff_cgroup *cg);
  int (*stats)(struct skiff_cgroup *cg, struct cgroup_stats *s, struct skiff_err **err);
};

/* Detect the host layout (cached). */
enum cgroup_mode cgroup_detect_mode(void);
/* The mount options of each v1 hierarchy of the host ("cpu,cpuacct", "name=systemd"),
 * from the layout read once per process (a clone of the runtime, the container init,
 * inherits it: no second walk of /proc/self/mountinfo); NULL-terminated, malloc'd; an
 * empty list on a v2-only host, NULL when the layout could not be read. */
char **cgroup_v1_mount_options(void);

/* Handle for path (relative, starting with '/'; ".." components rejected).  Does not
 * touch the filesystem. */
int cgroup_new(const char *path, struct skiff_cgroup **out, struct skiff_err **err);
void cgroup_free(struct skiff_cgroup *cg);
const struct cgroup_ops *cgroup_get_ops(const struct skiff_cgroup *cg);

/* Convenience wrappers calling the ops table. */
int cgroup_create(struct skiff_cgroup *cg, struct skiff_err **err);
/* The parent of the cgroup of a container without linux.cgroupsPath ("/skiff/<id>"). */
#define CGROUP_DEFAULT_PARENT "/skiff"

int cgroup_enter(struct skiff_cgroup *cg, pid_t pid, struct skiff_err **err);
int cgroup_apply(struct skiff_cgroup *cg, const struct skiff_resources *r, struct skiff_err **err);
int cgroup_pids(struct skiff_cgroup *cg, pid_t **pids, size_t *n, struct skiff_err **err);
int cgroup_kill(struct skiff_cgroup *cg, int sig, struct skiff_err **err);
/* ops->destroy, then the parents it leaves empty up to the mount root (CGROUP_DEFAULT_PARENT
 * included); cgroup_create retries when a parent vanishes under it. */
int cgroup_destroy(struct skiff_cgroup *cg, struct skiff_err **err);

int cgroup_freeze(struct skiff_cgroup *cg, bool frozen, struct skiff_err **err);
bool cgroup_is_frozen(struct skiff_cgroup *cg);
int cgroup_stats(struct skiff_cgroup *cg, struct cgroup_stats *s, struct skiff_err **err);

/* v2 only: an O_PATH|O_DIRECTORY fd of the cgroup dir for clone3(CLONE_INTO_CGROUP);
 * -1 with no error on v1. */
int cgroup_open_dir_fd(struct skiff_cgroup *cg, struct skiff_err **err);

/* Fast start on v1 (hybrid) hosts.  A parent writing the child's pid to v1
 * cgroup.procs takes the kernel's global cgroup_threadgroup_rwsem for writing, whose
 * first taker waits an RCU grace period: 5-30 ms per container start measured on the
 * development machines.  A single-threaded process moving itself by writing "0" to
 * each v1 `tasks` file skips that lock (0.4-2 ms measured).  So:
 *   fd = cgroup_open_clone_fd(cg): the cgroup2 dir (v2, or the cgroup2 mount of a
 *        hybrid host), -1 with no error when there is none; clone3 with
 *        CLONE_INTO_CGROUP into it puts the child in the cgroup2 dir at birth.
 *   in the child, still single-threaded, before it unshares the cgroup namespace and
 *   before exec: cgroup_enter_self(cg, born_in_cgroup2, err) joins every v1 hierarchy
 *   (and the cgroup2 dir too, through cgroup.procs, unless born_in_cgroup2).
 * It allocates nothing on success (safe after fork in a multi-threaded parent).  On v2
 * with CLONE_INTO_CGROUP it does nothing.  cgroup_enter() from the parent remains the
 * fallback. */
int cgroup_open_clone_fd(struct skiff_cgroup *cg, struct skiff_err **err);
int cgroup_enter_self(struct skiff_cgroup *cg, bool born_in_cgroup2, struct skiff_err **err);

/* Every directory (absolute) that makes up this cgroup on the host: one per v1
 * controller hierarchy, one on v2.  NULL-terminated, malloc'd (free each + array).
 * Used by tests and by delete's "nothing left behind" check. */
char **cgroup_host_dirs(struct skiff_cgroup *cg);

/* How many processes the kernel's OOM killer killed in this cgroup: the `oom_kill` line of
 * memory.events (v2) or memory.oom_control (v1).  Read after the container exited and
 * before delete, it tells an OOM kill from any other SIGKILL. */
int cgroup_oom_kills(struct skiff_cgroup *cg, unsigned long long *count, struct skiff_err **err);

/* Pure helpers (unit tested). */
/* The value of the "oom_kill N" line of memory.events / memory.oom_control; 0 when absent. */
unsigned long long cgroup_parse_oom_kill(const char *text);
/* Join root and relative path after validating the relative path (no "..", absolute). */
int cgroup_join_path(const char *root, const char *rel, char **out, struct skiff_err **err);
/* cpu shares (v1, 2..262144) -> cpu.weight (v2, 1..10000), the formula runc/crun use. */
uint64_t cgroup_shares_to_weight(uint64_t shares);
/* memory swap in OCI (memory+swap total) -> v2 memory.swap.max (swap only); -1 = max,
 * -2 = invalid (swap below the limit, or a swap limit without a memory limit). */
int64_t cgroup_swap_v2(int64_t memory_limit, int64_t memory_plus_swap);
/* v2 "cpu.max" value: "max 100000" or "50000 100000". */
char *cgroup_cpu_max_string(int64_t quota, uint64_t period);
/* A key of linux.resources.unified must name one control file of the container's own
 * cgroup ("memory.high"): no '/', no "..", and none of the files that move or kill
 * processes or change the tree (cgroup.procs, cgroup.threads, cgroup.kill,
 * cgroup.subtree_control, cgroup.type). */
int cgroup_check_unified_key(const char *key, struct skiff_err **err);

/* The value of "key N" in a flat keyed file's text (memory.stat, cpu.stat, cgroup.events);
 * 0 when absent. */
uint64_t cgroup_keyed_value(const char *text, const char *key);

/* Test hook: make detection use this mountinfo text (NULL: back to
 * /proc/self/mountinfo, read again on next use). */
void cgroup_set_mountinfo_for_tests(const char *mountinfo_text);

#endif
