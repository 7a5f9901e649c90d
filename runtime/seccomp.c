/* seccomp.c - the OCI "linux.seccomp" section compiled and loaded with libseccomp, and
 * the loader for filters compiled earlier (a cache of BPF programs).  Owns the name
 * tables for actions, operators, architectures and flags.  Docker's default profile is
 * data in seccomp_profile.c. */
#define _GNU_SOURCE
#include "seccomp.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <libseccomp.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void cleanup_seccompp(scmp_filter_ctx *ctx)
{
  if (*ctx)
    seccomp_release(*ctx);
}
#define cleanup_seccomp __attribute__((cleanup(cleanup_seccompp)))

/* ---- name tables (util-linux style) ---- */

static const struct
{
  const char *name;
  enum skiff_seccomp_action action;
} action_table[] = {
    {"SCMP_ACT_KILL", SKIFF_SECCOMP_KILL},
    {"SCMP_ACT_KILL_THREAD", SKIFF_SECCOMP_KILL},
    {"SCMP_ACT_KILL_PROCESS", SKIFF_SECCOMP_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SKIFF_SECCOMP_TRAP},
    {"SCMP_ACT_ERRNO", SKIFF_SECCOMP_ERRNO},
    {"SCMP_ACT_TRACE", SKIFF_SECCOMP_TRACE},
    {"SCMP_ACT_ALLOW", SKIFF_SECCOMP_ALLOW},
    {"SCMP_ACT_LOG", SKIFF_SECCOMP_LOG},
    {"SCMP_ACT_NOTIFY", SKIFF_SECCOMP_NOTIFY},
};

static const struct
{
  const char *name;
  enum skiff_seccomp_op op;
  enum scmp_compare scmp;
} op_table[] = {
    {"SCMP_CMP_NE", SKIFF_OP_NE, SCMP_CMP_NE},
    {"SCMP_CMP_LT", SKIFF_OP_LT, SCMP_CMP_LT},
    {"SCMP_CMP_LE", SKIFF_OP_LE, SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SKIFF_OP_EQ, SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SKIFF_OP_GE, SCMP_CMP_GE},
    {"SCMP_CMP_GT", SKIFF_OP_GT, SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SKIFF_OP_MASKED_EQ, SCMP_CMP_MASKED_EQ},
};

static const struct
{
  const char *name;
  uint32_t token;
} arch_table[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
};

/* OCI flag name -> libseccomp attribute and the kernel's seccomp(2) flag (for loading a
 * cached program without libseccomp). */
static const struct
{
  const char *name;
  enum scmp_filter_attr attr;
  unsigned kernel_flag;
} flag_table[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC, SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG, SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB, SECCOMP_FILTER_FLAG_SPEC_ALLOW},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

int seccomp_action_from_name(const char *name)
{
  for (size_t i = 0; name && i < N_ELEMS(action_table); i++)
    if (strcmp(action_table[i].name, name) == 0)
      return (int)action_table[i].action;
  return -1;
}

const char *seccomp_action_name(enum skiff_seccomp_action action)
{
  /* SCMP_ACT_KILL and SCMP_ACT_KILL_THREAD share a value: the first entry wins */
  for (size_t i = 0; i < N_ELEMS(action_table); i++)
    if (action_table[i].action == action)
      return action_table[i].name;
  return NULL;
}

int seccomp_op_from_name(const char *name)
{
  for (size_t i = 0; name && i < N_ELEMS(op_table); i++)
    if (strcmp(op_table[i].name, name) == 0)
      return (int)op_table[i].op;
  return -1;
}

const char *seccomp_op_name(enum skiff_seccomp_op op)
{
  for (size_t i = 0; i < N_ELEMS(op_table); i++)
    if (op_table[i].op == op)
      return op_table[i].name;
  return NULL;
}

bool seccomp_arch_known(const char *name)
{
  for (size_t i = 0; name && i < N_ELEMS(arch_table); i++)
    if (strcmp(arch_table[i].name, name) == 0)
      return true;
  return false;
}

bool seccomp_flag_known(const char *name)
{
  for (size_t i = 0; name && i < N_ELEMS(flag_table); i++)
    if (strcmp(flag_table[i].name, name) == 0)
      return true;
  return false;
}

/* ---- compiling ---- */

/* The libseccomp action for one of ours; errno_ret is used by ERRNO and TRACE. */
static int scmp_action(enum skiff_seccomp_action action, bool has_errno, unsigned errno_ret,
                       uint32_t *out)
{
  unsigned ret = has_errno ? errno_ret : EPERM;
  switch (action)
    {
      case SKIFF_SECCOMP_KILL:
        *out = SCMP_ACT_KILL_THREAD;
        return 0;
      case SKIFF_SECCOMP_KILL_PROCESS:
        *out = SCMP_ACT_KILL_PROCESS;
        return 0;
      case SKIFF_SECCOMP_TRAP:
        *out = SCMP_ACT_TRAP;
        return 0;
      case SKIFF_SECCOMP_ERRNO:
        if (ret > 0xffff)
          return -1;
        *out = SCMP_ACT_ERRNO(ret);
        return 0;
      case SKIFF_SECCOMP_TRACE:
        if (ret > 0xffff)
          return -1;
        *out = SCMP_ACT_TRACE(ret);
        return 0;
      case SKIFF_SECCOMP_ALLOW:
        *out = SCMP_ACT_ALLOW;
        return 0;
      case SKIFF_SECCOMP_LOG:
        *out = SCMP_ACT_LOG;
        return 0;
      case SKIFF_SECCOMP_NOTIFY:
        /* a listener needs linux.seccomp.listenerPath and an fd handed to an agent; skiff
         * has neither, and a NOTIFY filter without a listener would block the caller */
        return -1;
    }
  return -1;
}

static int scmp_op(enum skiff_seccomp_op op, enum scmp_compare *out)
{
  for (size_t i = 0; i < N_ELEMS(op_table); i++)
    if (op_table[i].op == op)
      {
        *out = op_table[i].scmp;
        return 0;
      }
  return -1;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const struct scmp_arg_cmp *cmps,
                    unsigned n, const char *name, size_t idx, struct skiff_err **err)
{
  int ret = seccomp_rule_add_array(ctx, action, nr, n, cmps);
  if (ret == 0)
    return 0;
  /* A pseudo syscall number (< 0) names a call that exists only on other architectures
   * (chown32 on x86_64): when none of the filter's architectures has it, there is
   * nothing to filter, as when the name is unknown. */
  if (nr < 0 && (ret == -EDOM || ret == -EINVAL || ret == -EFAULT))
    return 0;
  return skiff_error(err, -ret, "syscalls[%zu] `%s`: seccomp_rule_add", idx, name);
}

/* One rule of the profile: every name with its conditions.  Conditions on the same
 * argument index are OR'ed by adding one rule per condition (libseccomp ANDs the
 * conditions of one rule and refuses two on the same argument), as runc does. */
static int add_syscall_rule(scmp_filter_ctx ctx, const struct skiff_seccomp_rule *rule, size_t idx,
                            uint32_t default_action, struct skiff_err **err)
{
  uint32_t action;
  struct scmp_arg_cmp cmps[6];
  unsigned per_index[6] = {0};
  bool split = false;

  if (scmp_action(rule->action, rule->has_errno, rule->errno_ret, &action) < 0)
    {
      const char *an = seccomp_action_name(rule->action);
      if (an == NULL)
        return skiff_error(err, 0, "seccomp: syscalls[%zu]: unknown action %d", idx,
                           (int)rule->action);
      return skiff_error(err, 0, "seccomp: syscalls[%zu]: action %s%s not supported", idx, an,
                         rule->action == SKIFF_SECCOMP_NOTIFY ? "" : " with this errnoRet");
    }
  if (rule->n_args > 6)
    return skiff_error(err, 0, "seccomp: syscalls[%zu]: %zu args (at most 6)", idx, rule->n_args);
  for (size_t a = 0; a < rule->n_args; a++)
    {
      const struct skiff_seccomp_arg *arg = &rule->args[a];
      enum scmp_compare op;
      if (arg->index > 5)
        return skiff_error(err, 0, "seccomp: syscalls[%zu].args[%zu]: index %u out of range", idx,
                           a, arg->index);
      if (scmp_op(arg->op, &op) < 0)
        return skiff_error(err, 0, "seccomp: syscalls[%zu].args[%zu]: unknown operator %d", idx, a,
                           (int)arg->op);
      cmps[a] = (struct scmp_arg_cmp){
          .arg = arg->index, .op = op, .datum_a = arg->value, .datum_b = arg->value_two};
      if (++per_index[arg->index] > 1)
        split = true;
    }
  /* libseccomp refuses a rule whose action is the default one; such a rule changes
   * nothing, so it is skipped (as runc does) */
  if (action == default_action)
    return 0;

  for (char **n = rule->names; n && *n; n++)
    {
      int nr = seccomp_syscall_resolve_name(*n);
      if (nr == __NR_SCMP_ERROR)
        continue; /* unknown to this libseccomp: skipped, like runc */
      if (!split)
        {
          if (add_rule(ctx, action, nr, cmps, rule->n_args, *n, idx, err) < 0)
            return -1;
          continue;
        }
      for (size_t a = 0; a < rule->n_args; a++)
        if (add_rule(ctx, action, nr, &cmps[a], 1, *n, idx, err) < 0)
          return -1;
    }
  return 0;
}

/* Build a libseccomp context for the profile. */
static int seccomp_compile(const struct skiff_seccomp *p, scmp_filter_ctx *out,
                           struct skiff_err **err)
{
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  uint32_t def;
  int ret;

  if (scmp_action(p->default_action, p->has_default_errno, p->default_errno_ret, &def) < 0)
    return skiff_error(err, 0, "seccomp: defaultAction %d not supported", (int)p->default_action);
  ctx = seccomp_init(def);
  if (ctx == NULL)
    return skiff_error(err, ENOMEM, "seccomp_init");
  /* no_new_privs is the spec's decision (process.noNewPrivileges), not libseccomp's */
  ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (ret < 0)
    return skiff_error(err, -ret, "seccomp_attr_set NNP");
  /* report the kernel's errno from seccomp_load, not libseccomp's ECANCELED */
  seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);

  for (size_t i = 0; p->architectures && p->architectures[i]; i++)
    {
      uint32_t token = 0;
      for (size_t t = 0; t < N_ELEMS(arch_table); t++)
        if (strcmp(arch_table[t].name, p->architectures[i]) == 0)
          token = arch_table[t].token;
      if (token == 0)
        return skiff_error(err, 0, "seccomp: architectures[%zu]: unknown architecture `%s`", i,
                           p->architectures[i]);
      ret = seccomp_arch_add(ctx, token);
      if (ret < 0 && ret != -EEXIST)
        return skiff_error(err, -ret, "seccomp_arch_add `%s`", p->architectures[i]);
    }

  for (size_t i = 0; p->flags && p->flags[i]; i++)
    {
      size_t t;
      for (t = 0; t < N_ELEMS(flag_table); t++)
        if (strcmp(flag_table[t].name, p->flags[i]) == 0)
          break;
      if (t == N_ELEMS(flag_table))
        return skiff_error(err, 0, "seccomp: flags[%zu]: unknown flag `%s`", i, p->flags[i]);
      ret = seccomp_attr_set(ctx, flag_table[t].attr, 1);
      if (ret < 0)
        return skiff_error(err, -ret, "seccomp: flags[%zu]: seccomp_attr_set `%s`", i, p->flags[i]);
    }

  for (size_t i = 0; i < p->n_syscalls; i++)
    if (add_syscall_rule(ctx, &p->syscalls[i], i, def, err) < 0)
      return -1;

  *out = steal_pointer(&ctx);
  return 0;
}

int seccomp_validate(const struct skiff_seccomp *profile, struct skiff_err **err)
{
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  return seccomp_compile(profile, &ctx, err);
}

int seccomp_apply(const struct skiff_seccomp *profile, struct skiff_err **err)
{
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  int ret;

  if (seccomp_compile(profile, &ctx, err) < 0)
    return -1;
  ret = seccomp_load(ctx);
  if (ret < 0)
    return skiff_error(err, -ret, "seccomp_load%s",
                       ret == -EACCES ? " (needs no_new_privs or CAP_SYS_ADMIN)" : "");
  return 0;
}

int seccomp_profile_export_bpf(const struct skiff_seccomp *profile, int fd, struct skiff_err **err)
{
  cleanup_seccomp scmp_filter_ctx ctx = NULL;
  int ret;

  if (seccomp_compile(profile, &ctx, err) < 0)
    return -1;
  ret = seccomp_export_bpf(ctx, fd);
  if (ret < 0)
    return skiff_error(err, -ret, "seccomp_export_bpf");
  return 0;
}

int seccomp_kernel_flags(const struct skiff_seccomp *profile, unsigned *flags,
                         struct skiff_err **err)
{
  *flags = 0;
  for (size_t i = 0; profile->flags && profile->flags[i]; i++)
    {
      size_t t;
      for (t = 0; t < N_ELEMS(flag_table); t++)
        if (strcmp(flag_table[t].name, profile->flags[i]) == 0)
          break;
      if (t == N_ELEMS(flag_table))
        return skiff_error(err, 0, "seccomp: flags[%zu]: unknown flag `%s`", i, profile->flags[i]);
      *flags |= flag_table[t].kernel_flag;
    }
  return 0;
}

int seccomp_load_bpf_flags(const void *bpf, size_t len, unsigned flags, struct skiff_err **err)
{
  struct sock_fprog prog;

  if (len == 0 || len % sizeof(struct sock_filter) != 0
      || len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    return skiff_error(err, 0, "seccomp: compiled filter of %zu bytes is not a program", len);
  prog.len = (unsigned short)(len / sizeof(struct sock_filter));
  prog.filter = (struct sock_filter *)bpf;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) == 0)
    return 0;
  if (errno == ENOSYS && flags == 0)
    {
      /* kernels before 3.17 have only the prctl interface */
      if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0)
        return 0;
      return skiff_error(err, errno, "prctl PR_SET_SECCOMP");
    }
  return skiff_error(err, errno, "seccomp SECCOMP_SET_MODE_FILTER%s",
                     errno == EACCES ? " (needs no_new_privs or CAP_SYS_ADMIN)" : "");
}

int seccomp_load_bpf(const void *bpf, size_t len, struct skiff_err **err)
{
  return seccomp_load_bpf_flags(bpf, len, 0, err);
}
