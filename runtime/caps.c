/* caps.c - identity and privileges of the container process: the capability name table,
 * Docker's default set, and the switch to the spec's user with its capability sets
 * (libcap) and no_new_privs, in runc's order (see caps.h). */
#define _GNU_SOURCE
#include "caps.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Capability names by number (util-linux style); the index is the capability. */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
#define N_CAP_NAMES ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

const char *const caps_docker_default[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

int caps_from_name(const char *name)
{
  if (name == NULL)
    return -1;
  for (int i = 0; i < N_CAP_NAMES; i++)
    if (strcasecmp(cap_names[i], name) == 0)
      return i;
  return -1;
}

const char *caps_name(int cap)
{
  return cap >= 0 && cap < N_CAP_NAMES ? cap_names[cap] : NULL;
}

/* The sets in the order and with the names config.json uses. */
static const struct
{
  const char *name;
  size_t offset;
} cap_sets[] = {
    {"bounding", offsetof(struct skiff_caps, bounding)},
    {"effective", offsetof(struct skiff_caps, effective)},
    {"permitted", offsetof(struct skiff_caps, permitted)},
    {"inheritable", offsetof(struct skiff_caps, inheritable)},
    {"ambient", offsetof(struct skiff_caps, ambient)},
};
#define N_CAP_SETS (sizeof(cap_sets) / sizeof(cap_sets[0]))

static char **cap_set_names(const struct skiff_caps *caps, size_t set)
{
  return *(char **const *)((const char *)caps + cap_sets[set].offset);
}

int caps_validate(const struct skiff_caps *caps, struct skiff_err **err)
{
  for (size_t s = 0; s < N_CAP_SETS; s++)
    {
      char **names = cap_set_names(caps, s);
      for (size_t i = 0; names && names[i]; i++)
        if (caps_from_name(names[i]) < 0)
          return skiff_error(err, 0, "process.capabilities.%s[%zu]: unknown capability `%s`",
                             cap_sets[s].name, i, names[i]);
    }
  return 0;
}

int caps_mask(char *const *names, uint64_t *mask, struct skiff_err **err)
{
  *mask = 0;
  for (size_t i = 0; names && names[i]; i++)
    {
      int c = caps_from_name(names[i]);
      if (c < 0)
        return skiff_error(err, 0, "unknown capability `%s`", names[i]);
      *mask |= 1ULL << c;
    }
  return 0;
}

/* Highest capability + 1 the running kernel knows (cap_last_cap + 1).  Capabilities
 * the kernel does not know are skipped (as runc does): they cannot be held anyway. */
static int kernel_cap_count(void)
{
  int n = (int)cap_max_bits();
  if (n <= 0 || n > 64)
    n = CAP_LAST_CAP + 1;
  return n;
}

/* Step 1: drop from the bounding set every capability not listed (needs CAP_SETPCAP). */
static int drop_bounding(uint64_t keep, int ncaps, struct skiff_err **err)
{
  for (int c = 0; c < ncaps; c++)
    {
      if (keep & (1ULL << c))
        continue;
      /* one prctl per capability: dropping one already gone is a no-op, one this kernel
         does not know is EINVAL */
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        return skiff_error(err, errno, "prctl PR_CAPBSET_DROP %s",
                           caps_name(c) ? caps_name(c) : "?");
    }
  return 0;
}

/* Step 2: the user and groups.  setgroups is skipped only when the user namespace
 * forbids it and no group was asked for (an unprivileged user namespace). */
static int switch_user(const struct skiff_user *u, struct skiff_err **err)
{
  char *setgroups_state = NULL;
  bool denied = false;

  if (skiff_read_file("/proc/self/setgroups", &setgroups_state, NULL, NULL) == 0)
    {
      denied = strncmp(setgroups_state, "deny", 4) == 0;
      free(setgroups_state);
    }
  if (!denied || u->n_additional_gids > 0)
    {
      if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
        return skiff_error(err, errno, "setgroups (%zu groups)", u->n_additional_gids);
    }
  if (setresgid(u->gid, u->gid, u->gid) < 0)
    return skiff_error(err, errno, "setresgid %u", (unsigned)u->gid);
  if (setresuid(u->uid, u->uid, u->uid) < 0)
    return skiff_error(err, errno, "setresuid %u", (unsigned)u->uid);
  return 0;
}

static int set_flags(cap_t c, cap_flag_t flag, uint64_t mask, int ncaps)
{
  for (int i = 0; i < ncaps; i++)
    {
      cap_value_t v = (cap_value_t)i;
      if (cap_set_flag(c, flag, 1, &v, (mask & (1ULL << i)) ? CAP_SET : CAP_CLEAR) < 0)
        return -1;
    }
  return 0;
}

/* Step 3: effective, permitted and inheritable in one capset, then ambient. */
static int set_process_caps(uint64_t eff, uint64_t perm, uint64_t inh, uint64_t amb, int ncaps,
                            struct skiff_err **err)
{
  cap_t c = cap_get_proc();
  if (c == NULL)
    return skiff_error(err, errno, "cap_get_proc");

  /* After setresuid to a non-root user the effective set is empty even with keepcaps:
   * raise it to the permitted set first so CAP_SETPCAP (if still permitted) lets the
   * inheritable set be written in the next step. */
  if (cap_fill(c, CAP_EFFECTIVE, CAP_PERMITTED) < 0 || cap_set_proc(c) < 0)
    {
      int e = errno;
      cap_free(c);
      return skiff_error(err, e, "capset (raise effective to permitted)");
    }
  /* CVE-2022-29162: the inheritable set is exactly what the spec lists (usually
   * nothing), never what the runtime happened to inherit. */
  if (set_flags(c, CAP_EFFECTIVE, eff, ncaps) < 0 || set_flags(c, CAP_PERMITTED, perm, ncaps) < 0
      || set_flags(c, CAP_INHERITABLE, inh, ncaps) < 0)
    {
      int e = errno;
      cap_free(c);
      return skiff_error(err, e, "cap_set_flag");
    }
  if (cap_set_proc(c) < 0)
    {
      int e = errno;
      cap_free(c);
      return skiff_error(err, e, "capset (effective, permitted, inheritable)");
    }
  cap_free(c);

  /* one prctl (libcap's cap_reset_ambient asks about every capability first) */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return skiff_error(err, errno, "prctl PR_CAP_AMBIENT_CLEAR_ALL");
  for (int i = 0; i < ncaps; i++)
    if (amb & (1ULL << i))
      {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
          return skiff_error(err, errno,
                             "prctl PR_CAP_AMBIENT_RAISE %s (must be permitted and inheritable)",
                             caps_name(i));
      }
  return 0;
}

static bool in_list(char *const *names, const char *name)
{
  for (size_t i = 0; names && names[i]; i++)
    if (strcasecmp(names[i], name) == 0)
      return true;
  return false;
}

char *caps_unraisable_ambient(const struct skiff_caps *caps)
{
  char *out = NULL;
  for (size_t i = 0; caps->ambient && caps->ambient[i]; i++)
    {
      const char *a = caps->ambient[i];
      if (in_list(caps->permitted, a) && in_list(caps->inheritable, a))
        continue;
      char *next = out ? xasprintf("%s, %s", out, a) : xstrdup(a);
      free(out);
      out = next;
    }
  return out;
}

int caps_apply_process(const struct skiff_process *proc, struct skiff_err **err)
{
  const struct skiff_caps *caps = &proc->caps;
  uint64_t bnd = 0, eff = 0, perm = 0, inh = 0, amb = 0;
  int ncaps = kernel_cap_count();

  if (proc->has_caps)
    {
      if (caps_validate(caps, err) < 0 || caps_mask(caps->bounding, &bnd, err) < 0
          || caps_mask(caps->effective, &eff, err) < 0 || caps_mask(caps->permitted, &perm, err) < 0
          || caps_mask(caps->inheritable, &inh, err) < 0 || caps_mask(caps->ambient, &amb, err) < 0)
        return -1;
      amb &= perm & inh; /* the rest cannot be raised: create warned (caps_unraisable_ambient) */
      if (drop_bounding(bnd, ncaps, err) < 0)
        return -1;
      /* keep the permitted set across setresuid to a non-root user */
      if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return skiff_error(err, errno, "prctl PR_SET_KEEPCAPS");
    }

  if (switch_user(&proc->user, err) < 0)
    return -1;

  if (proc->has_caps)
    {
      if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return skiff_error(err, errno, "prctl PR_SET_KEEPCAPS 0");
      if (set_process_caps(eff, perm, inh, amb, ncaps, err) < 0)
        return -1;
    }

  if (proc->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return skiff_error(err, errno, "prctl PR_SET_NO_NEW_PRIVS");
  return 0;
}
