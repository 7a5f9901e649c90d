/* test_cgroup.c - cgroup module without the kernel: pure helpers and path logic, the
 * device BPF program (run by a small interpreter), layout detection from mountinfo
 * text, and the v2 backend against a fake cgroup tree in a temp dir.
 * test_cgroup_host.c drives the real kernel. */
#include "check.h"
#include "cgroup.h"
#include "cgroup_internal.h"

#include <errno.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void test_parse_oom_kill(void)
{
  CHECK(cgroup_parse_oom_kill("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n") == 1);
  CHECK(cgroup_parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3);
  CHECK(cgroup_parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n") == 0); /* old kernels */
  CHECK(cgroup_parse_oom_kill("") == 0);
  CHECK(cgroup_parse_oom_kill("oom 2\noom_group_kill 0\n") == 0);
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
      "42 31 0:32 / /fake/again/memory rw,relatime - cgroup cgroup rw,memory\n"
      "43 31 0:38 /sub /fake/bind/unified rw,relatime - cgroup2 cgroup2 rw\n";

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
  /* a bind mount of a subtree listed first: the mount of the whole hierarchy wins */
  cgroup_set_mountinfo_for_tests("29 1 0:26 /sub /fake/bound rw - cgroup2 cgroup2 rw\n"
                                 "30 1 0:26 / /fake/v2 rw,nosuid - cgroup2 cgroup2 rw\n"
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

/* ---- the v1 backend against a fake tree: what the real host cannot show ---- */

static void mkdir_with_files(const char *dir, const char *const *files, size_t n)
{
  mkdir(dir, 0755);
  for (size_t i = 0; i < n; i++)
    put(dir, files[i], "");
}

static void test_v1_fake_tree(void)
{
  char tmpl[] = "/tmp/skiff-cgtest-XXXXXX";
  char *root = mkdtemp(tmpl);
  CHECK(root != NULL);
  if (root == NULL)
    return;
  /* cpuset, memory without swap accounting, cpu,cpuacct co-mounted, pids; no devices,
   * no freezer, no cgroup2 */
  char *mi = xasprintf("30 1 0:30 / %s/cpuset rw - cgroup cgroup rw,cpuset\n"
                       "31 1 0:31 / %s/memory rw - cgroup cgroup rw,memory\n"
                       "32 1 0:32 / %s/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                       "33 1 0:33 / %s/pids rw - cgroup cgroup rw,pids\n",
                       root, root, root, root);
  cgroup_set_mountinfo_for_tests(mi);
  free(mi);
  static const char *const cpuset_files[] = {"cpuset.cpus", "cpuset.mems", "cgroup.procs"};
  static const char *const mem_files[]
      = {"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "cgroup.procs"};
  static const char *const cpu_files[]
      = {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cgroup.procs"};
  static const char *const pids_files[] = {"pids.max", "cgroup.procs"};
  const char *const hier[] = {"cpuset", "memory", "cpu,cpuacct", "pids"};
  const char *const *files[] = {cpuset_files, mem_files, cpu_files, pids_files};
  size_t nfiles[] = {3, 3, 4, 2};
  char *leaf[4];
  for (size_t i = 0; i < 4; i++)
    {
      char *top = xasprintf("%s/%s", root, hier[i]), *mid = xasprintf("%s/s", top);
      leaf[i] = xasprintf("%s/c", mid);
      mkdir_with_files(top, files[i], nfiles[i]);
      mkdir_with_files(mid, files[i], nfiles[i]);
      mkdir_with_files(leaf[i], files[i], nfiles[i]);
      free(top);
      free(mid);
    }
  char *cpuset_root = xasprintf("%s/cpuset", root);
  put(cpuset_root, "cpuset.cpus", "0-1\n");
  put(cpuset_root, "cpuset.mems", "0\n");
  free(cpuset_root);

  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  CHECK(cgroup_detect_mode() == CGROUP_MODE_V1);
  CHECK(cgroup_new("/s/c", &cg, &err) == 0);
  if (cg == NULL)
    return;
  CHECK(cgroup_create(cg, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  /* empty cpusets are filled from the parent, down the chain */
  CHECK_FILE(leaf[0], "cpuset.cpus", "0-1\n");
  CHECK_FILE(leaf[0], "cpuset.mems", "0\n");

  const int64_t M = 1024 * 1024;
  struct skiff_resources r = {.has_memory_limit = true,
                              .memory_limit = 64 * M,
                              .has_memory_swap = true,
                              .memory_swap = 64 * M, /* no swap: fine without memsw */
                              .has_memory_reservation = true,
                              .memory_reservation = 32 * M,
                              .has_cpu_shares = true,
                              .cpu_shares = 512,
                              .has_cpu_quota = true,
                              .cpu_quota = -1,
                              .has_cpu_period = true,
                              .cpu_period = 50000,
                              .has_pids_limit = true,
                              .pids_limit = 0};
  CHECK(cgroup_apply(cg, &r, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  CHECK_FILE(leaf[1], "memory.limit_in_bytes", "67108864");
  CHECK_FILE(leaf[1], "memory.soft_limit_in_bytes", "33554432");
  CHECK_FILE(leaf[2], "cpu.shares", "512");
  CHECK_FILE(leaf[2], "cpu.cfs_period_us", "50000");
  CHECK_FILE(leaf[2], "cpu.cfs_quota_us", "-1");
  CHECK_FILE(leaf[2], "cgroup.procs", "");
  CHECK_FILE(leaf[3], "pids.max", "max");

  /* a real swap limit without swap accounting names the missing file */
  struct skiff_resources swap = {.has_memory_limit = true,
                                 .memory_limit = 64 * M,
                                 .has_memory_swap = true,
                                 .memory_swap = 128 * M};
  CHECK(cgroup_apply(cg, &swap, &err) < 0);
  CHECK(err && strstr(err->msg, "/s/c/memory.memsw.limit_in_bytes` does not exist"));
  skiff_err_free(&err);
  /* swap below the limit, or without a limit, is refused before any write */
  swap.memory_swap = 32 * M;
  CHECK(cgroup_apply(cg, &swap, &err) < 0);
  CHECK(err && strstr(err->msg, "must be >= memory.limit"));
  skiff_err_free(&err);
  /* missing controllers and a v2-only map are named */
  struct skiff_device_cgroup dev = {false, 'a', -1, -1, NULL};
  struct skiff_resources devs = {.devices = &dev, .n_devices = 1};
  CHECK(cgroup_apply(cg, &devs, &err) < 0);
  CHECK(err && strstr(err->msg, "cgroup v1 `devices` controller is not mounted"));
  skiff_err_free(&err);
  char *unified[] = {"memory.high", "1", NULL};
  struct skiff_resources uni = {.unified = unified};
  CHECK(cgroup_apply(cg, &uni, &err) < 0);
  CHECK(err && strstr(err->msg, "no cgroup v2 hierarchy"));
  skiff_err_free(&err);

  /* the host dirs: one per hierarchy */
  char **dirs = cgroup_host_dirs(cg);
  size_t n = 0;
  for (; dirs[n]; n++)
    {
      if (n < 4)
        CHECK_STR_EQ(dirs[n], leaf[n]);
      free(dirs[n]);
    }
  CHECK(n == 4);
  free(dirs);

  cgroup_free(cg);
  for (size_t i = 0; i < 4; i++)
    free(leaf[i]);
  CHECK(skiff_rm_rf(root, &err) == 0);
  skiff_err_free(&err);
  cgroup_set_mountinfo_for_tests(NULL);
}

int main(void)
{
  RUN_TEST(test_join_path);
  RUN_TEST(test_parse_oom_kill);
  RUN_TEST(test_shares_to_weight);
  RUN_TEST(test_swap_v2);
  RUN_TEST(test_cpu_max_string);
  RUN_TEST(test_unified_key);
  RUN_TEST(test_device_program);
  RUN_TEST(test_detect_hybrid);
  RUN_TEST(test_detect_v2_and_errors);
  RUN_TEST(test_v2_fake_tree);
  RUN_TEST(test_v1_fake_tree);
  return CHECK_DONE();
}
