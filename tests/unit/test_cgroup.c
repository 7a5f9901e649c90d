/* test_cgroup.c - cgroup module: pure helpers and path logic, layout detection from
 * mountinfo text, the v2 backend against a fake cgroup tree in a temp dir, and the
 * host's backend (v1 on the development machines) for real: root, real kernel, cleaned
 * up even when a check fails. */
#include "check.h"
#include "cgroup.h"
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *join(const char *root, const char *rel, char **msg)
{
  struct skiff_err *err = NULL;
  char *out = NULL;
  if (cgroup_join_path(root, rel, &out, &err) < 0)
    {
      *msg = xstrdup(err->msg);
      skiff_err_free(&err);
      return NULL;
    }
  return out;
}

static void test_join_path(void)
{
  char *msg = NULL, *p;
  p = join("/sys/fs/cgroup/memory", "/skiff/c1", &msg);
  CHECK_STR_EQ(p, "/sys/fs/cgroup/memory/skiff/c1");
  free(p);
  p = join("/sys/fs/cgroup/", "//skiff//c1/", &msg);
  CHECK_STR_EQ(p, "/sys/fs/cgroup/skiff/c1");
  free(p);
  p = join("/sys/fs/cgroup", "/", &msg);
  CHECK_STR_EQ(p, "/sys/fs/cgroup");
  free(p);
  p = join("/", "/a/b", &msg);
  CHECK_STR_EQ(p, "/a/b");
  free(p);
  p = join("/sys/fs/cgroup", "/a/..b/c..", &msg); /* names that merely contain dots */
  CHECK_STR_EQ(p, "/sys/fs/cgroup/a/..b/c..");
  free(p);

  const char *bad_dots[] = {"/skiff/../../etc", "/..", "/a/./b", "/a/b/.."};
  for (size_t i = 0; i < sizeof(bad_dots) / sizeof(bad_dots[0]); i++)
    {
      msg = NULL;
      p = join("/sys/fs/cgroup", bad_dots[i], &msg);
      CHECK(p == NULL);
      CHECK_CONTAINS(msg, bad_dots[i]);
      CHECK_CONTAINS(msg, "..` components are not allowed");
      free(p);
      free(msg);
    }
  const char *bad_rel[] = {"skiff/c1", "system.slice:skiff:c1", "./a"};
  for (size_t i = 0; i < sizeof(bad_rel) / sizeof(bad_rel[0]); i++)
    {
      msg = NULL;
      p = join("/sys/fs/cgroup", bad_rel[i], &msg);
      CHECK(p == NULL);
      CHECK_CONTAINS(msg, "must be absolute");
      free(p);
      free(msg);
    }
  msg = NULL;
  p = join("/sys/fs/cgroup", "", &msg);
  CHECK(p == NULL);
  CHECK_CONTAINS(msg, "empty");
  free(msg);
}

static void test_shares_to_weight(void)
{
  CHECK(cgroup_shares_to_weight(0) == 0); /* unset */
  CHECK(cgroup_shares_to_weight(2) == 1);
  CHECK(cgroup_shares_to_weight(1) == 1);           /* clamped to the v1 minimum */
  CHECK(cgroup_shares_to_weight(1024) == 39);       /* runc's documented value */
  CHECK(cgroup_shares_to_weight(262144) == 10000);  /* v1 maximum -> v2 maximum */
  CHECK(cgroup_shares_to_weight(1000000) == 10000); /* clamped */
  CHECK(cgroup_shares_to_weight(131073) == 5000);   /* the middle */
}

static void test_swap_v2(void)
{
  const int64_t M = 1024 * 1024;
  CHECK(cgroup_swap_v2(64 * M, -1) == -1);
  CHECK(cgroup_swap_v2(-1, -1) == -1);
  CHECK(cgroup_swap_v2(64 * M, 192 * M) == 128 * M);
  CHECK(cgroup_swap_v2(64 * M, 64 * M) == 0);
  CHECK(cgroup_swap_v2(64 * M, 32 * M) == -2); /* below the limit */
  CHECK(cgroup_swap_v2(-1, 64 * M) == -2);     /* swap limit without memory limit */
  CHECK(cgroup_swap_v2(0, 64 * M) == -2);
  CHECK(cgroup_swap_v2(64 * M, -5) == -2);
}

static void test_cpu_max_string(void)
{
  char *s;
  CHECK_STR_EQ(s = cgroup_cpu_max_string(50000, 100000), "50000 100000");
  free(s);
  CHECK_STR_EQ(s = cgroup_cpu_max_string(-1, 100000), "max 100000");
  free(s);
  CHECK_STR_EQ(s = cgroup_cpu_max_string(0, 250000), "max 250000");
  free(s);
  CHECK_STR_EQ(s = cgroup_cpu_max_string(20000, 0), "20000");
  free(s);
  CHECK_STR_EQ(s = cgroup_cpu_max_string(-1, 0), "max");
  free(s);
}

static void test_unified_key(void)
{
  struct skiff_err *err = NULL;
  CHECK(cgroup_check_unified_key("memory.high", &err) == 0);
  CHECK(cgroup_check_unified_key("io.weight", &err) == 0);
  CHECK(err == NULL);
  const char *bad[]
      = {"cgroup.procs", "cgroup.kill", "cgroup.threads", "../memory.max", "a/memory.max", "",
         "memory",       ".memory.max"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(cgroup_check_unified_key(bad[i], &err) < 0);
      CHECK(err != NULL);
      if (err && *bad[i])
        CHECK_CONTAINS(err->msg, bad[i]);
      skiff_err_free(&err);
    }
}

/* A tiny interpreter for the instructions the device program uses, so its rule
 * semantics are tested without a kernel.  Returns the verdict, or -1 on an unknown
 * instruction, -2 when the program falls off its end. */
static int run_device_program(const struct bpf_insn *p, size_t n, char type, unsigned access,
                              unsigned major, unsigned minor)
{
  uint64_t r[11] = {0};
  uint32_t ctx[3]
      = {(access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR), major, minor};
  for (size_t pc = 0; pc < n; pc++)
    {
      const struct bpf_insn *i = &p[pc];
      switch (i->code)
        {
          case BPF_LDX | BPF_W | BPF_MEM:
            if (i->src_reg != BPF_REG_1 || i->off % 4 || i->off > 8)
              return -1;
            r[i->dst_reg] = ctx[i->off / 4];
            break;
          case BPF_ALU | BPF_MOV | BPF_X:
            r[i->dst_reg] = (uint32_t)r[i->src_reg];
            break;
          case BPF_ALU | BPF_RSH | BPF_K:
            r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
            break;
          case BPF_ALU | BPF_AND | BPF_K:
            r[i->dst_reg] = (uint32_t)r[i->dst_reg] & (uint32_t)i->imm;
            break;
          case BPF_ALU64 | BPF_MOV | BPF_K:
            r[i->dst_reg] = (uint64_t)(int64_t)i->imm;
            break;
          case BPF_JMP | BPF_JNE | BPF_K:
            if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm)
              pc += i->off;
            break;
          case BPF_JMP | BPF_JNE | BPF_X:
            if (r[i->dst_reg] != r[i->src_reg])
              pc += i->off;
            break;
          case BPF_JMP | BPF_EXIT:
            return (int)r[0];
          default:
            return -1;
        }
    }
  return -2;
}

static void test_device_program(void)
{
  const unsigned R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;
  struct skiff_device_cgroup rules[] = {
      {false, 'a', -1, -1, (char *)"rwm"}, /* deny everything, then: */
      {true, 'c', 1, 3, (char *)"rwm"},    /* /dev/null */
      {true, 'c', 136, -1, NULL},          /* every pty slave (NULL access = rwm) */
      {true, 'b', 8, -1, (char *)"r"},     /* sd* read-only */
      {false, 'c', 1, 3, (char *)"w"},     /* later rule wins: no writes to null */
      {true, 'c', -1, -1, (char *)"m"},    /* mknod of any char device */
  };
  struct bpf_insn *p = NULL;
  size_t n = cgroup_bpf_device_program(rules, sizeof(rules) / sizeof(rules[0]), &p);
  CHECK(run_device_program(p, n, 'c', R, 1, 3) == 1);
  CHECK(run_device_program(p, n, 'c', W, 1, 3) == 0);
  CHECK(run_device_program(p, n, 'c', R | W, 136, 7) == 1);
  CHECK(run_device_program(p, n, 'c', R, 5, 1) == 0); /* only the deny-all matches */
  CHECK(run_device_program(p, n, 'b', R, 8, 0) == 1);
  CHECK(run_device_program(p, n, 'b', W, 8, 0) == 0); /* access not a subset of "r" */
  CHECK(run_device_program(p, n, 'c', R, 8, 0) == 0); /* type differs */
  CHECK(run_device_program(p, n, 'c', M, 10, 200) == 1);
  CHECK(run_device_program(p, n, 'b', M, 10, 200) == 0);
  free(p);

  /* allow-all base with one exception; no rules at all allows everything */
  struct skiff_device_cgroup deny_zero[]
      = {{true, 'a', -1, -1, NULL}, {false, 'c', 1, 5, (char *)"rwm"}};
  n = cgroup_bpf_device_program(deny_zero, 2, &p);
  CHECK(run_device_program(p, n, 'c', R, 1, 5) == 0);
  CHECK(run_device_program(p, n, 'c', R | W, 1, 3) == 1);
  CHECK(run_device_program(p, n, 'b', R, 8, 0) == 1);
  free(p);
  n = cgroup_bpf_device_program(NULL, 0, &p);
  CHECK(run_device_program(p, n, 'c', R | W | M, 1, 1) == 1);
  free(p);

  /* the v1 lines for the same rules */
  char buf[96];
  cgroup_v1_device_rule(&rules[0], buf, sizeof(buf));
  CHECK_STR_EQ(buf, "a");
  cgroup_v1_device_rule(&rules[2], buf, sizeof(buf));
  CHECK_STR_EQ(buf, "c 136:* rwm");
  cgroup_v1_device_rule(&rules[5], buf, sizeof(buf));
  CHECK_STR_EQ(buf, "c *:* m");
  cgroup_v1_device_rule(&rules[3], buf, sizeof(buf));
  CHECK_STR_EQ(buf, "b 8:* r");
}

/* This machine's layout (hybrid), moved under /fake so nothing real is touched. */
static const char hybrid_mountinfo[]
    = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "31 23 0:28 / /fake/cg rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /fake/cg/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /fake/cg/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
      "34 31 0:31 / /fake/cg/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
      "35 31 0:32 / /fake/cg/memory rw,relatime - cgroup cgroup rw,memory\n"
      "36 31 0:33 / /fake/cg/devices rw,relatime - cgroup cgroup rw,devices\n"
      "37 31 0:34 / /fake/cg/freezer rw,relatime - cgroup cgroup rw,freezer\n"
      "38 31 0:35 / /fake/cg/blk\\040io rw,relatime - cgroup cgroup rw,blkio\n"
      "39 31 0:36 / /fake/cg/pids rw,relatime shared:5 - cgroup cgroup rw,pids\n"
      "40 31 0:37 / /fake/cg/systemd rw,relatime - cgroup cgroup "
      "rw,xattr,release_agent=/x,name=systemd\n"
      "41 31 0:38 / /fake/cg/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
      "42 31 0:32 / /fake/again/memory rw,relatime - cgroup cgroup rw,memory\n";

static void test_detect_hybrid(void)
{
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  cgroup_set_mountinfo_for_tests(hybrid_mountinfo);
  CHECK(cgroup_detect_mode() == CGROUP_MODE_V1);
  CHECK(cgroup_new("/skiff//c1/", &cg, &err) == 0);
  if (cg == NULL)
    return;
  CHECK_STR_EQ(cgroup_get_ops(cg)->name, "v1");
  CHECK(cgroup_open_dir_fd(cg, &err) == -1);
  CHECK(err == NULL);
  const char *expect[]
      = {"/fake/cg/cpu/skiff/c1",    "/fake/cg/cpuacct/skiff/c1", "/fake/cg/cpuset/skiff/c1",
         "/fake/cg/memory/skiff/c1", "/fake/cg/devices/skiff/c1", "/fake/cg/freezer/skiff/c1",
         "/fake/cg/blk io/skiff/c1", "/fake/cg/pids/skiff/c1",    "/fake/cg/systemd/skiff/c1",
         "/fake/cg/unified/skiff/c1"};
  char **dirs = cgroup_host_dirs(cg);
  size_t n = 0;
  while (dirs[n])
    n++;
  CHECK(n == sizeof(expect) / sizeof(expect[0]));
  for (size_t i = 0; i < n && i < sizeof(expect) / sizeof(expect[0]); i++)
    CHECK_STR_EQ(dirs[i], expect[i]);
  for (size_t i = 0; i < n; i++)
    free(dirs[i]);
  free(dirs);
  cgroup_free(cg);
}

static void test_detect_v2_and_errors(void)
{
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  /* a lone name=systemd v1 hierarchy next to cgroup2 does not make a v1 host */
  cgroup_set_mountinfo_for_tests("30 1 0:26 / /fake/v2 rw,nosuid - cgroup2 cgroup2 rw\n"
                                 "31 1 0:27 / /fake/sd rw - cgroup cgroup rw,xattr,name=systemd\n");
  CHECK(cgroup_detect_mode() == CGROUP_MODE_V2);
  CHECK(cgroup_new("/a/b", &cg, &err) == 0);
  if (cg)
    {
      CHECK_STR_EQ(cgroup_get_ops(cg)->name, "v2");
      char **dirs = cgroup_host_dirs(cg);
      CHECK_STR_EQ(dirs[0], "/fake/v2/a/b");
      CHECK(dirs[1] == NULL);
      for (size_t i = 0; dirs[i]; i++)
        free(dirs[i]);
      free(dirs);
      cgroup_free(cg);
      cg = NULL;
    }
  CHECK(cgroup_new("/", &cg, &err) < 0);
  CHECK(err && strstr(err->msg, "root cgroup"));
  skiff_err_free(&err);
  CHECK(cgroup_new("/x/../..", &cg, &err) < 0);
  CHECK(err && strstr(err->msg, "`/x/../..`"));
  skiff_err_free(&err);

  cgroup_set_mountinfo_for_tests("22 1 0:21 / /proc rw,nosuid - proc proc rw\n");
  CHECK(cgroup_new("/a", &cg, &err) < 0);
  CHECK(err && strstr(err->msg, "no cgroup filesystem"));
  skiff_err_free(&err);
  cgroup_set_mountinfo_for_tests(NULL);
}

/* ---- the v2 backend against a fake tree ---- */

static void put(const char *dir, const char *name, const char *content)
{
  char *p = xasprintf("%s/%s", dir, name);
  struct skiff_err *err = NULL;
  if (skiff_write_file(p, content, strlen(content), 0644, &err) < 0)
    {
      printf("# %s\n", err->msg);
      skiff_err_free(&err);
      check_current_failed = 1;
    }
  free(p);
}

static char *get(const char *dir, const char *name)
{
  char *p = xasprintf("%s/%s", dir, name), *out = NULL;
  struct skiff_err *err = NULL;
  if (skiff_read_file(p, &out, NULL, &err) < 0)
    {
      skiff_err_free(&err);
      out = xstrdup("<missing>");
    }
  free(p);
  return out;
}

#define CHECK_FILE(dir, name, want)                                                                \
  do                                                                                               \
    {                                                                                              \
      char *_got = get(dir, name);                                                                 \
      CHECK_STR_EQ(_got, want);                                                                    \
      free(_got);                                                                                  \
    }                                                                                              \
  while (0)

static const char *const v2_leaf_files[]
    = {"cgroup.procs", "cgroup.kill", "memory.max",  "memory.swap.max", "memory.low", "cpu.weight",
       "cpu.max",      "pids.max",    "cpuset.cpus", "cpuset.mems",     "memory.high"};

static void test_v2_fake_tree(void)
{
  char tmpl[] = "/tmp/skiff-cgtest-XXXXXX";
  char *root = mkdtemp(tmpl);
  CHECK(root != NULL);
  if (root == NULL)
    return;
  char *mi = xasprintf("40 1 0:40 / %s rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", root);
  cgroup_set_mountinfo_for_tests(mi);
  free(mi);
  char *skiff = xasprintf("%s/skiff", root), *leaf = xasprintf("%s/skiff/c1", root);
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;

  /* what the kernel shows: the root offers controllers, nothing enabled yet */
  put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  put(root, "cgroup.subtree_control", "");
  mkdir(skiff, 0755);
  put(skiff, "cgroup.subtree_control", "");

  CHECK(cgroup_detect_mode() == CGROUP_MODE_V2);
  CHECK(cgroup_new("/skiff/c1", &cg, &err) == 0);
  CHECK(cgroup_create(cg, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  CHECK_FILE(root, "cgroup.subtree_control", "+cpuset +cpu +memory +pids");
  CHECK_FILE(skiff, "cgroup.subtree_control", "+cpuset +cpu +memory +pids");
  struct stat st;
  CHECK(stat(leaf, &st) == 0 && S_ISDIR(st.st_mode));
  int fd = cgroup_open_dir_fd(cg, &err);
  CHECK(fd >= 0);
  if (fd >= 0)
    close(fd);

  /* the kernel fills a new cgroup with its control files */
  for (size_t i = 0; i < sizeof(v2_leaf_files) / sizeof(v2_leaf_files[0]); i++)
    put(leaf, v2_leaf_files[i], "");

  /* already enabled (kernel format, no '+'): create again must not rewrite them */
  put(root, "cgroup.subtree_control", "cpuset cpu memory pids\n");
  put(skiff, "cgroup.subtree_control", "cpuset cpu memory pids\n");
  CHECK(cgroup_create(cg, &err) == 0);
  skiff_err_free(&err);
  CHECK_FILE(root, "cgroup.subtree_control", "cpuset cpu memory pids\n");
  CHECK_FILE(skiff, "cgroup.subtree_control", "cpuset cpu memory pids\n");

  const int64_t M = 1024 * 1024;
  char *unified[] = {"memory.high", "50331648", NULL};
  struct skiff_resources r = {
      .has_memory_limit = true,
      .memory_limit = 64 * M,
      .has_memory_swap = true,
      .memory_swap = 192 * M,
      .has_memory_reservation = true,
      .memory_reservation = 32 * M,
      .has_cpu_shares = true,
      .cpu_shares = 1024,
      .has_cpu_quota = true,
      .cpu_quota = 50000,
      .has_cpu_period = true,
      .cpu_period = 100000,
      .cpuset_cpus = "0",
      .has_pids_limit = true,
      .pids_limit = 100,
      .unified = unified,
  };
  CHECK(cgroup_apply(cg, &r, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  CHECK_FILE(leaf, "memory.max", "67108864");
  CHECK_FILE(leaf, "memory.swap.max", "134217728");
  CHECK_FILE(leaf, "memory.low", "33554432");
  CHECK_FILE(leaf, "cpu.weight", "39");
  CHECK_FILE(leaf, "cpu.max", "50000 100000");
  CHECK_FILE(leaf, "pids.max", "100");
  CHECK_FILE(leaf, "cpuset.cpus", "0");
  CHECK_FILE(leaf, "cpuset.mems", ""); /* not asked: not written */
  CHECK_FILE(leaf, "memory.high", "50331648");

  /* unlimited values become "max" */
  struct skiff_resources unl = {.has_memory_limit = true,
                                .memory_limit = -1,
                                .has_memory_swap = true,
                                .memory_swap = -1,
                                .has_cpu_quota = true,
                                .cpu_quota = -1,
                                .has_pids_limit = true,
                                .pids_limit = 0};
  /* regular files are not truncated by a write the way cgroupfs files are */
  for (size_t i = 0; i < sizeof(v2_leaf_files) / sizeof(v2_leaf_files[0]); i++)
    put(leaf, v2_leaf_files[i], "");
  CHECK(cgroup_apply(cg, &unl, &err) == 0);
  skiff_err_free(&err);
  CHECK_FILE(leaf, "memory.max", "max");
  CHECK_FILE(leaf, "memory.swap.max", "max");
  CHECK_FILE(leaf, "cpu.max", "max");
  CHECK_FILE(leaf, "pids.max", "max");

  /* swap below the limit, and a process-moving unified key, are refused */
  struct skiff_resources bad = {.has_memory_limit = true,
                                .memory_limit = 64 * M,
                                .has_memory_swap = true,
                                .memory_swap = 32 * M};
  CHECK(cgroup_apply(cg, &bad, &err) < 0);
  CHECK(err && strstr(err->msg, "linux.resources.memory.swap"));
  skiff_err_free(&err);
  char *evil[] = {"cgroup.procs", "1", NULL};
  struct skiff_resources bad2 = {.unified = evil};
  CHECK(cgroup_apply(cg, &bad2, &err) < 0);
  CHECK(err && strstr(err->msg, "linux.resources.unified: key `cgroup.procs`"));
  skiff_err_free(&err);
  CHECK_FILE(leaf, "cgroup.procs", "");

  /* no swap accounting (no memory.swap.max): only swap == limit is accepted */
  char *swapfile = xasprintf("%s/memory.swap.max", leaf);
  unlink(swapfile);
  free(swapfile);
  struct skiff_resources noswap = {.has_memory_limit = true,
                                   .memory_limit = 64 * M,
                                   .has_memory_swap = true,
                                   .memory_swap = 64 * M};
  CHECK(cgroup_apply(cg, &noswap, &err) == 0);
  skiff_err_free(&err);
  noswap.memory_swap = 128 * M;
  CHECK(cgroup_apply(cg, &noswap, &err) < 0);
  CHECK(err && strstr(err->msg, "/skiff/c1/memory.swap.max` does not exist"));
  skiff_err_free(&err);

  /* pids: the leaf and its subcgroups */
  put(leaf, "cgroup.procs", "123\n456\n");
  char *sub = xasprintf("%s/inner", leaf);
  mkdir(sub, 0755);
  put(sub, "cgroup.procs", "789\n");
  pid_t *pids = NULL;
  size_t n = 0;
  CHECK(cgroup_pids(cg, &pids, &n, &err) == 0);
  CHECK(n == 3);
  long sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += pids[i];
  CHECK(sum == 123 + 456 + 789);
  free(pids);
  free(sub);

  /* an existing cgroup holding processes is refused */
  CHECK(cgroup_create(cg, &err) < 0);
  CHECK(err && err->status == EEXIST && strstr(err->msg, leaf));
  skiff_err_free(&err);

  /* SIGKILL goes through cgroup.kill */
  CHECK(cgroup_kill(cg, SIGKILL, &err) == 0);
  skiff_err_free(&err);
  CHECK_FILE(leaf, "cgroup.kill", "1");

  cgroup_free(cg);
  CHECK(skiff_rm_rf(root, &err) == 0);
  skiff_err_free(&err);
  free(skiff);
  free(leaf);
  cgroup_set_mountinfo_for_tests(NULL);
}

/* ---- the host's backend, for real ---- */

static double ms_since(const struct timespec *t0)
{
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int dir_exists(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Remove the test's parent cgroup (dirname of each host dir) and free the list. */
static void remove_parents(char **dirs)
{
  for (size_t i = 0; dirs[i]; i++)
    {
      char *slash = strrchr(dirs[i], '/');
      *slash = '\0';
      if (rmdir(dirs[i]) < 0 && errno != ENOENT)
        CHECK(!"rmdir of the test's parent cgroup failed");
      free(dirs[i]);
    }
  free(dirs);
}

/* The child waits for a byte, forks a grandchild, and both sleep until killed. */
static pid_t spawn_family(int *go_fd)
{
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0)
    {
      char c;
      close(p[1]);
      if (read(p[0], &c, 1) == 1 && fork() < 0)
        _exit(3);
      for (;;)
        pause();
    }
  close(p[0]);
  *go_fd = p[1];
  return pid;
}

static void test_host_backend_for_real(void)
{
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  cgroup_set_mountinfo_for_tests(NULL); /* the real /proc/self/mountinfo */
  enum cgroup_mode mode = cgroup_detect_mode();
  char *path = xasprintf("/skiff-test-%d/x", (int)getpid());
  CHECK(geteuid() == 0);
  CHECK(cgroup_new(path, &cg, &err) == 0);
  if (cg == NULL)
    {
      printf("# %s\n", err ? err->msg : "?");
      skiff_err_free(&err);
      free(path);
      return;
    }
  printf("# host cgroup mode: %s\n", cgroup_get_ops(cg)->name);
  prctl(PR_SET_CHILD_SUBREAPER, 1); /* the grandchild is ours to reap */
  char **dirs = cgroup_host_dirs(cg);
  pid_t child = -1, grandchild = -1;
  int go = -1;
  struct timespec t0;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(cgroup_create(cg, &err) == 0);
  double t_create = ms_since(&t0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  for (size_t i = 0; dirs[i]; i++)
    CHECK(dir_exists(dirs[i]));

  const int64_t M = 1024 * 1024;
  struct skiff_resources r = {.has_memory_limit = true,
                              .memory_limit = 64 * M,
                              .has_cpu_shares = true,
                              .cpu_shares = 512,
                              .has_cpu_quota = true,
                              .cpu_quota = 20000,
                              .has_cpu_period = true,
                              .cpu_period = 100000,
                              .has_pids_limit = true,
                              .pids_limit = 32};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(cgroup_apply(cg, &r, &err) == 0);
  double t_apply = ms_since(&t0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);

  char *mem_dir = NULL, *cpu_dir = NULL, *pids_dir = NULL;
  for (size_t i = 0; dirs[i]; i++)
    {
      const char *d = dirs[i];
      if (mode == CGROUP_MODE_V2 || strstr(d, "/memory/"))
        mem_dir = mem_dir ? mem_dir : xstrdup(d);
      if (mode == CGROUP_MODE_V2 || strstr(d, "/cpu/") || strstr(d, "/cpu,cpuacct/"))
        cpu_dir = cpu_dir ? cpu_dir : xstrdup(d);
      if (mode == CGROUP_MODE_V2 || strstr(d, "/pids/"))
        pids_dir = pids_dir ? pids_dir : xstrdup(d);
    }
  CHECK(mem_dir && cpu_dir && pids_dir);
  if (mem_dir && cpu_dir && pids_dir)
    {
      if (mode == CGROUP_MODE_V1)
        {
          CHECK_FILE(mem_dir, "memory.limit_in_bytes", "67108864\n");
          CHECK_FILE(cpu_dir, "cpu.cfs_quota_us", "20000\n");
          CHECK_FILE(cpu_dir, "cpu.shares", "512\n");
        }
      else
        {
          CHECK_FILE(mem_dir, "memory.max", "67108864\n");
          CHECK_FILE(cpu_dir, "cpu.max", "20000 100000\n");
        }
      CHECK_FILE(pids_dir, "pids.max", "32\n");

      /* swap: enforced where the kernel accounts it, an error naming the file if not */
      char *memsw
          = xasprintf("%s/%s", mem_dir,
                      mode == CGROUP_MODE_V1 ? "memory.memsw.limit_in_bytes" : "memory.swap.max");
      struct skiff_resources sw = {.has_memory_limit = true,
                                   .memory_limit = 64 * M,
                                   .has_memory_swap = true,
                                   .memory_swap = 96 * M};
      int rc = cgroup_apply(cg, &sw, &err);
      if (access(memsw, F_OK) == 0)
        {
          CHECK(rc == 0);
          if (mode == CGROUP_MODE_V1)
            CHECK_FILE(mem_dir, "memory.memsw.limit_in_bytes", "100663296\n");
          else
            CHECK_FILE(mem_dir, "memory.swap.max", "33554432\n");
        }
      else
        {
          CHECK(rc < 0);
          CHECK(err && strstr(err->msg, memsw));
        }
      skiff_err_free(&err);
      free(memsw);
    }

  child = spawn_family(&go);
  CHECK(child > 0);
  if (child > 0)
    {
      clock_gettime(CLOCK_MONOTONIC, &t0);
      CHECK(cgroup_enter(cg, child, &err) == 0);
      double t_enter = ms_since(&t0);
      if (err)
        printf("# %s\n", err->msg);
      skiff_err_free(&err);
      /* the grandchild is forked inside the cgroup */
      CHECK(write(go, "g", 1) == 1);
      pid_t *pids = NULL;
      size_t n = 0;
      for (int i = 0; i < 200 && n < 2; i++)
        {
          free(pids);
          pids = NULL;
          CHECK(cgroup_pids(cg, &pids, &n, &err) == 0);
          skiff_err_free(&err);
          if (n < 2)
            usleep(5000);
        }
      CHECK(n == 2);
      int has_child = 0;
      for (size_t i = 0; i < n; i++)
        if (pids[i] == child)
          has_child = 1;
        else
          grandchild = pids[i];
      CHECK(has_child);
      free(pids);

      /* a cgroup that holds processes cannot be created again */
      struct skiff_cgroup *again = NULL;
      CHECK(cgroup_new(path, &again, &err) == 0);
      if (again)
        {
          CHECK(cgroup_create(again, &err) < 0);
          CHECK(err && err->status == EEXIST);
          cgroup_free(again);
        }
      skiff_err_free(&err);

      clock_gettime(CLOCK_MONOTONIC, &t0);
      CHECK(cgroup_kill(cg, SIGKILL, &err) == 0);
      double t_kill = ms_since(&t0);
      if (err)
        printf("# %s\n", err->msg);
      skiff_err_free(&err);
      int status = 0;
      CHECK(waitpid(child, &status, 0) == child);
      CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
      child = -1;
      if (grandchild > 0)
        {
          CHECK(waitpid(grandchild, &status, 0) == grandchild);
          CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
          grandchild = -1;
        }
      printf("# create %.2f ms, apply %.2f ms, enter %.2f ms, kill %.2f ms\n", t_create, t_apply,
             t_enter, t_kill);
    }

  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(cgroup_destroy(cg, &err) == 0);
  printf("# destroy %.2f ms\n", ms_since(&t0));
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  for (size_t i = 0; dirs[i]; i++)
    CHECK(!dir_exists(dirs[i]));
  /* destroy of a missing cgroup succeeds */
  CHECK(cgroup_destroy(cg, &err) == 0);
  skiff_err_free(&err);

  /* cleanup, also after failed checks: no process, no directory left */
  if (go >= 0)
    close(go);
  if (child > 0)
    {
      kill(child, SIGKILL);
      waitpid(child, NULL, 0);
    }
  if (grandchild > 0)
    {
      kill(grandchild, SIGKILL);
      waitpid(grandchild, NULL, 0);
    }
  cgroup_kill(cg, SIGKILL, &err);
  skiff_err_free(&err);
  cgroup_destroy(cg, &err);
  skiff_err_free(&err);
  remove_parents(dirs);
  free(mem_dir);
  free(cpu_dir);
  free(pids_dir);
  free(path);
  cgroup_free(cg);
}

static uint32_t device_programs_attached(const char *dir)
{
  uint32_t ids[8];
  union bpf_attr q;
  memset(&q, 0, sizeof(q));
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  q.query.target_fd = (unsigned)fd;
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = (uintptr_t)ids;
  q.query.prog_cnt = 8;
  long rc = syscall(SYS_bpf, BPF_PROG_QUERY, &q, sizeof(q));
  close(fd);
  return rc < 0 ? 999 : q.query.prog_cnt;
}

/* Device rules enforced by the kernel: v1 devices.allow/deny, and the v2 BPF program
 * (on a hybrid host the program is attached to the container's cgroup2 directory,
 * where the kernel consults it before the v1 controller). */
static void test_devices_for_real(void)
{
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  cgroup_set_mountinfo_for_tests(NULL);
  enum cgroup_mode mode = cgroup_detect_mode();
  char *path = xasprintf("/skiff-test-%d/dev", (int)getpid());
  CHECK(cgroup_new(path, &cg, &err) == 0);
  free(path);
  if (cg == NULL)
    {
      skiff_err_free(&err);
      return;
    }
  char **dirs = cgroup_host_dirs(cg);
  CHECK(cgroup_create(cg, &err) == 0);
  skiff_err_free(&err);

  /* deny everything but reading /dev/kmsg (plus the defaults: /dev/null ...) */
  struct skiff_device_cgroup rules[]
      = {{false, 'a', -1, -1, (char *)"rwm"}, {true, 'c', 1, 11, (char *)"r"}};
  struct skiff_resources r = {.devices = rules, .n_devices = 2};
  CHECK(cgroup_apply(cg, &r, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);

  const char *unified = NULL, *devices = NULL;
  for (size_t i = 0; dirs[i]; i++)
    {
      struct statfs sf;
      if (statfs(dirs[i], &sf) == 0 && sf.f_type == 0x63677270 /* CGROUP2_SUPER_MAGIC */)
        unified = dirs[i];
      if (strstr(dirs[i], "/devices/"))
        devices = dirs[i];
    }
  bool bpf_extra = false;
  if (mode == CGROUP_MODE_V1 && devices)
    {
      char *list = get(devices, "devices.list");
      CHECK_CONTAINS(list, "c 1:11 r\n");
      CHECK_CONTAINS(list, "c 1:3 rwm\n");
      CHECK_CONTAINS(list, "c 136:* rwm\n");
      CHECK(strstr(list, "a *:*") == NULL);
      free(list);
    }
  if (mode == CGROUP_MODE_V1 && unified)
    {
      /* the v1 rules allow /dev/full (a default): a program that denies it proves the
       * BPF path; attached twice to show that the second replaces the first */
      struct skiff_device_cgroup no_full[]
          = {{true, 'a', -1, -1, NULL}, {false, 'c', 1, 7, (char *)"rwm"}};
      CHECK(cgroup_bpf_devices_apply(unified, no_full, 2, &err) == 0);
      CHECK(cgroup_bpf_devices_apply(unified, no_full, 2, &err) == 0);
      if (err)
        printf("# %s\n", err->msg);
      skiff_err_free(&err);
      CHECK(device_programs_attached(unified) == 1);
      bpf_extra = true;
    }
  else if (unified)
    CHECK(device_programs_attached(unified) == 1);

  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  pid_t child = fork();
  if (child == 0)
    {
      char c;
      close(p[1]);
      if (read(p[0], &c, 1) != 1)
        _exit(100);
      int bad = 0, fd;
      if ((fd = open("/dev/null", O_WRONLY)) < 0)
        bad |= 1;
      close(fd);
      if ((fd = open("/dev/kmsg", O_RDONLY)) < 0)
        bad |= 2;
      close(fd);
      if ((fd = open("/dev/kmsg", O_WRONLY)) >= 0 || errno != EPERM)
        bad |= 4;
      close(fd);
      if (bpf_extra && ((fd = open("/dev/full", O_RDONLY)) >= 0 || errno != EPERM))
        bad |= 8;
      _exit(bad);
    }
  close(p[0]);
  CHECK(child > 0);
  if (child > 0)
    {
      CHECK(cgroup_enter(cg, child, &err) == 0);
      skiff_err_free(&err);
      CHECK(write(p[1], "g", 1) == 1);
      int status = 0;
      CHECK(waitpid(child, &status, 0) == child);
      CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status))
        printf("# child status %#x\n", status);
    }
  close(p[1]);
  CHECK(cgroup_destroy(cg, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  remove_parents(dirs);
  cgroup_free(cg);
}

int main(void)
{
  RUN_TEST(test_join_path);
  RUN_TEST(test_shares_to_weight);
  RUN_TEST(test_swap_v2);
  RUN_TEST(test_cpu_max_string);
  RUN_TEST(test_unified_key);
  RUN_TEST(test_device_program);
  RUN_TEST(test_detect_hybrid);
  RUN_TEST(test_detect_v2_and_errors);
  RUN_TEST(test_v2_fake_tree);
  RUN_TEST(test_host_backend_for_real);
  RUN_TEST(test_devices_for_real);
  return CHECK_DONE();
}
