/* cgroup_bpf.c - device rules on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program.
 *
 * cgroup v2 has no devices.allow/deny files; the kernel asks a BPF program attached to
 * the cgroup for each open/mknod of a device node.  This file turns the OCI rules into
 * that program (pure, unit tested with a small interpreter) and loads and attaches it
 * with the bpf(2) syscall, replacing any program attached to the cgroup before.
 *
 * Semantics match the v1 devices controller: rules apply in order and the last one
 * that matches wins, so the program tests them from last to first; a type `a` rule
 * matches every device and access (v1 treats it as a reset); a rule matches a request
 * when the requested access is a subset of the rule's; nothing matched = allowed. */
#define _GNU_SOURCE
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>

#define INSN(c, d, s, o, i)                                                                        \
  (struct bpf_insn)                                                                                \
  {                                                                                                \
    .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)                            \
  }

static unsigned access_bits(const char *access)
{
  unsigned bits = 0;
  for (const char *p = access && *access ? access : "rwm"; *p; p++)
    switch (*p)
      {
        case 'r':
          bits |= BPF_DEVCG_ACC_READ;
          break;
        case 'w':
          bits |= BPF_DEVCG_ACC_WRITE;
          break;
        case 'm':
          bits |= BPF_DEVCG_ACC_MKNOD;
          break;
      }
  return bits;
}

/* "if reg != imm (or reg != src_reg) skip to end": the jump offset counts from the next
 * instruction. */
static void emit_jne(struct bpf_insn *p, size_t *k, size_t end, int src_mode, int dst, int src,
                     int imm)
{
  p[*k] = INSN(BPF_JMP | BPF_JNE | src_mode, dst, src, (short)(end - *k - 1), imm);
  (*k)++;
}

size_t cgroup_bpf_device_program(const struct skiff_device_cgroup *rules, size_t n,
                                 struct bpf_insn **out)
{
  const unsigned all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  struct bpf_insn *p = xmalloc((8 + n * 8) * sizeof(*p));
  size_t k = 0;
  /* r2 = type, r3 = access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx) */
  p[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
  p[k++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
  p[k++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
  p[k++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
  p[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
  p[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
  for (size_t i = n; i > 0; i--)
    {
      const struct skiff_device_cgroup *r = &rules[i - 1];
      bool any = r->type == 'a' || r->type == '\0';
      unsigned acc = access_bits(r->access);
      bool check_acc = !any && acc != all;
      bool check_maj = !any && r->major >= 0, check_min = !any && r->minor >= 0;
      /* the block's tests, each jumping past the block's final "return verdict" */
      size_t len = (any ? 0 : 1) + (check_acc ? 3 : 0) + check_maj + check_min + 2;
      size_t end = k + len;
      if (!any)
        emit_jne(p, &k, end, BPF_K, BPF_REG_2, 0,
                 r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
      if (check_acc)
        {
          /* requested access must be a subset of the rule's */
          p[k++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
          p[k++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int)acc);
          emit_jne(p, &k, end, BPF_X, BPF_REG_1, BPF_REG_3, 0);
        }
      if (check_maj)
        emit_jne(p, &k, end, BPF_K, BPF_REG_4, 0, (int)r->major);
      if (check_min)
        emit_jne(p, &k, end, BPF_K, BPF_REG_5, 0, (int)r->minor);
      p[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
      p[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
      if (any) /* matches everything: earlier rules are dead code, which the verifier
                  rejects ("unreachable insn") */
        {
          *out = p;
          return k;
        }
    }
  p[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
  p[k++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  *out = p;
  return k;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
  return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int load_program(const struct bpf_insn *insns, size_t n, const char *dir,
                        struct skiff_err **err)
{
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uintptr_t)insns;
  attr.insn_cnt = (unsigned)n;
  attr.license = (uintptr_t) "GPL";
  int fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  int saved = errno;
  /* load again with the verifier log, to say why */
  char log[1024] = "";
  attr.log_level = 1;
  attr.log_buf = (uintptr_t)log;
  attr.log_size = sizeof(log);
  fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  char *nl = strchr(log, '\n');
  if (nl)
    *nl = '\0';
  return skiff_error(err, saved, "bpf(BPF_PROG_LOAD) device filter for `%s`%s%s", dir,
                     log[0] ? ": " : "", log);
}

int cgroup_bpf_devices_apply(const char *dir, const struct skiff_device_cgroup *rules, size_t n,
                             struct skiff_err **err)
{
  cleanup_free struct bpf_insn *insns = NULL;
  size_t n_insns = cgroup_bpf_device_program(rules, n, &insns);
  cleanup_close int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgfd < 0)
    return skiff_error(err, errno, "open `%s`", dir);

  /* the programs attached before (a second apply): replaced once the new one is in */
  uint32_t old_ids[64];
  union bpf_attr q;
  memset(&q, 0, sizeof(q));
  q.query.target_fd = (unsigned)cgfd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = (uintptr_t)old_ids;
  q.query.prog_cnt = sizeof(old_ids) / sizeof(old_ids[0]);
  if (sys_bpf(BPF_PROG_QUERY, &q) < 0)
    return skiff_error(err, errno, "bpf(BPF_PROG_QUERY) on `%s`", dir);
  uint32_t n_old = q.query.prog_cnt;

  cleanup_close int prog = load_program(insns, n_insns, dir, err);
  if (prog < 0)
    return -1;
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.target_fd = (unsigned)cgfd;
  a.attach_bpf_fd = (unsigned)prog;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
    return skiff_error(err, errno, "bpf(BPF_PROG_ATTACH) device filter to `%s`", dir);

  for (uint32_t i = 0; i < n_old; i++)
    {
      union bpf_attr g;
      memset(&g, 0, sizeof(g));
      g.prog_id = old_ids[i];
      cleanup_close int old = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
      if (old < 0)
        continue; /* already gone */
      union bpf_attr d;
      memset(&d, 0, sizeof(d));
      d.target_fd = (unsigned)cgfd;
      d.attach_bpf_fd = (unsigned)old;
      d.attach_type = BPF_CGROUP_DEVICE;
      if (sys_bpf(BPF_PROG_DETACH, &d) < 0 && errno != ENOENT)
        return skiff_error(err, errno, "bpf(BPF_PROG_DETACH) old device filter from `%s`", dir);
    }
  return 0;
}
