/* cgroup_internal.h - what cgroup.c shares with its backends cgroup_v1.c and cgroup_v2.c.
 *
 * Not a public header: only the cgroup files include it.  It defines the handle
 * (struct skiff_cgroup) and the small file helpers every backend uses, so each error
 * names the full path of the cgroup file that failed. */
#ifndef SKIFF_CGROUP_INTERNAL_H
#define SKIFF_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>
#include "cgroup.h"

/* v1 controllers the backends act on; a hierarchy can hold several (cpu,cpuacct). */
enum
{
  CGROUP_CTRL_CPU = 1 << 0,
  CGROUP_CTRL_CPUSET = 1 << 1,
  CGROUP_CTRL_MEMORY = 1 << 2,
  CGROUP_CTRL_DEVICES = 1 << 3,
  CGROUP_CTRL_FREEZER = 1 << 4,
  CGROUP_CTRL_PIDS = 1 << 5,
};

/* One v1 hierarchy: its controllers and the container's directory in it. */
struct cgroup_hier
{
  char *controllers; /* as mounted: "cpu,cpuacct", "memory", "name=systemd" */
  unsigned mask;     /* CGROUP_CTRL_* */
  char *mount;       /* mount point */
  char *dir;         /* mount + path */
};

struct skiff_cgroup
{
  enum cgroup_mode mode;
  const struct cgroup_ops *ops;
  char *path; /* normalised, "/skiff/id" */
  /* v1: every mounted hierarchy (with a controller or a name=) */
  struct cgroup_hier *hier;
  size_t n_hier;
  /* v2: the cgroup2 mount; on a hybrid host the cgroup2 mount as well (or NULL) */
  char *unified_mount;
  char *unified_dir;
};

/* cgroup_state.c: pause/resume, frozen?, accounting, for each backend's table */
int cgroup_v1_freeze(struct skiff_cgroup *cg, bool frozen, struct skiff_err **err);
int cgroup_v2_freeze(struct skiff_cgroup *cg, bool frozen, struct skiff_err **err);
int cgroup_v1_frozen(struct skiff_cgroup *cg);
int cgroup_v2_frozen(struct skiff_cgroup *cg);
int cgroup_v1_stats(struct skiff_cgroup *cg, struct cgroup_stats *s, struct skiff_err **err);
int cgroup_v2_stats(struct skiff_cgroup *cg, struct cgroup_stats *s, struct skiff_err **err);

extern const struct cgroup_ops cgroup_v1_ops;
extern const struct cgroup_ops cgroup_v2_ops;

/* The v1 hierarchy holding a controller, or NULL. */
struct cgroup_hier *cgroup_find_hier(struct skiff_cgroup *cg, unsigned ctrl);

/* Write value to dir/name (existing file, no O_CREAT).  Errors name the full path. */
int cgroup_write(const char *dir, const char *name, const char *value, struct skiff_err **err);
/* Same, but on failure returns -1 with errno set and no message (for callers that
 * retry or fall back on a specific errno). */
int cgroup_write_raw(const char *dir, const char *name, const char *value);
/* Read dir/name into a malloc'd string. */
int cgroup_read(const char *dir, const char *name, char **out, struct skiff_err **err);

/* mkdir one directory; *created tells whether it was new.  EEXIST is success. */
int cgroup_mkdir(const char *dir, bool *created, struct skiff_err **err);
/* Fail with EEXIST when an existing dir already holds processes (create's contract). */
int cgroup_check_empty(const char *dir, struct skiff_err **err);
/* Every pid in dir/cgroup.procs and in its subdirectories, appended to *pids.  A missing
 * dir is an empty cgroup. */
int cgroup_read_pids_tree(const char *dir, pid_t **pids, size_t *n, struct skiff_err **err);
/* Send sig to every process under dir; with `repeat` keep going until the tree is empty
 * or a bounded time passed (SIGKILL without a freezer, so late forks die too). */
int cgroup_signal_tree(const char *dir, int sig, bool repeat, struct skiff_err **err);
/* rmdir dir and its subdirectories, deepest first, retrying on EBUSY while processes
 * exit for a bounded time.  Missing is success. */
int cgroup_remove_tree(const char *dir, struct skiff_err **err);

/* Devices every container may use on top of the spec's rules, appended after them when
 * the spec has device rules (runc's AllowedDevices): mknod of any node, /dev/null,
 * zero, full, random, urandom, tty, ptmx and the pty slaves. */
const struct skiff_device_cgroup *cgroup_default_devices(size_t *n);
/* The v1 devices.allow/deny line for a rule: "a" or "c 1:3 rwm" ('*' for -1). */
void cgroup_v1_device_rule(const struct skiff_device_cgroup *d, char *buf, size_t len);

struct bpf_insn;
/* cgroup_bpf.c: the BPF_PROG_TYPE_CGROUP_DEVICE program for these rules (malloc'd,
 * returns the instruction count), and loading + attaching it to a cgroup2 directory
 * (replacing what was attached there before). */
size_t cgroup_bpf_device_program(const struct skiff_device_cgroup *rules, size_t n,
                                 struct bpf_insn **out);
int cgroup_bpf_devices_apply(const char *dir, const struct skiff_device_cgroup *rules, size_t n,
                             struct skiff_err **err);

/* Monotonic clock in microseconds, and one wait of a bounded poll loop that started at
 * start_us: yields at first (short waits), then sleeps with a growing interval. */
long long cgroup_now_us(void);
void cgroup_poll_wait(long long start_us);

#endif
