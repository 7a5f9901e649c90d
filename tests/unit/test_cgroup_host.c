/* test_cgroup_host.c - the cgroup module on the real kernel, as root: the host's
 * backend (v1 on the hybrid development machines, v2 elsewhere) with limits read back,
 * processes entered, listed and killed and every directory removed; device rules
 * enforced by the kernel (v1 files and the v2 BPF program); and the v2 backend driven
 * on the host's cgroup2 mount.  Everything is cleaned up even when a check fails. */
#include "check.h"
#include "cgroup.h"
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/sched.h>
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

  /* a sibling under the now existing parent takes the one-mkdir path; its cpuset is
   * filled from the parent so a task can join it */
  struct skiff_cgroup *sib = NULL;
  char *sibpath = xasprintf("/skiff-test-%d/y", (int)getpid());
  CHECK(cgroup_new(sibpath, &sib, &err) == 0);
  free(sibpath);
  if (sib)
    {
      CHECK(cgroup_create(sib, &err) == 0);
      skiff_err_free(&err);
      char **sd = cgroup_host_dirs(sib);
      for (size_t i = 0; sd[i]; i++)
        {
          CHECK(dir_exists(sd[i]));
          if (strstr(sd[i], "/cpuset/"))
            {
              char *parent = xstrdup(sd[i]);
              *strrchr(parent, '/') = '\0';
              char *want = get(parent, "cpuset.cpus"), *got = get(sd[i], "cpuset.cpus");
              CHECK(strlen(got) > 1);
              CHECK_STR_EQ(got, want);
              free(want);
              free(got);
              free(parent);
            }
          free(sd[i]);
        }
      free(sd);
      CHECK(cgroup_destroy(sib, &err) == 0);
      skiff_err_free(&err);
      cgroup_free(sib);
    }

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
    {
      CHECK(!dir_exists(dirs[i]));
      /* nor the parent it made (/skiff-test-<pid>): delete leaves nothing in cgroupfs */
      char *parent = xstrdup(dirs[i]);
      *strrchr(parent, '/') = '\0';
      CHECK(!dir_exists(parent));
      free(parent);
    }
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

/* Child for the v2 test: waits for a byte on go, reports the device checks (a bit per
 * unexpected result) on report, forks a grandchild, and both wait to be killed. */
static void family_main(int go, int report, bool check_devices)
{
  char c = 0;
  if (read(go, &c, 1) != 1)
    _exit(100);
  c = 0;
  if (check_devices)
    {
      int fd;
      if ((fd = open("/dev/null", O_WRONLY)) < 0)
        c |= 1;
      close(fd);
      if ((fd = open("/dev/kmsg", O_RDONLY)) < 0)
        c |= 2;
      close(fd);
      if ((fd = open("/dev/kmsg", O_WRONLY)) >= 0 || errno != EPERM)
        c |= 4;
      close(fd);
    }
  if (fork() < 0)
    c |= 8;
  if (write(report, &c, 1) != 1)
    _exit(101);
  for (;;)
    pause();
}

/* Release a family, check its report, and wait until the cgroup lists both processes.
 * Returns the grandchild's pid (or -1). */
static pid_t family_go(struct skiff_cgroup *cg, pid_t child, int go, int report)
{
  struct skiff_err *err = NULL;
  char c = 1;
  CHECK(write(go, "g", 1) == 1);
  CHECK(read(report, &c, 1) == 1);
  CHECK(c == 0);
  if (c)
    printf("# family report %#x\n", (unsigned)c);
  pid_t grandchild = -1;
  for (int i = 0; i < 400 && grandchild < 0; i++)
    {
      pid_t *pids = NULL;
      size_t n = 0;
      CHECK(cgroup_pids(cg, &pids, &n, &err) == 0);
      skiff_err_free(&err);
      for (size_t j = 0; j < n; j++)
        if (pids[j] != child && n == 2)
          grandchild = pids[j];
      free(pids);
      if (grandchild < 0)
        usleep(2000);
    }
  CHECK(grandchild > 0);
  return grandchild;
}

static void reap_expect_signal(pid_t pid, int sig)
{
  int status = 0;
  if (pid <= 0)
    return;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == sig);
}

/* The v2 backend on the real kernel.  On a hybrid host the cgroup2 mount (which has no
 * memory/cpu/pids controller) is driven as if it were the unified root: create, the
 * CLONE_INTO_CGROUP fd, device rules as a BPF program, the unified map, pids, kill by
 * freezing (SIGTERM) and by cgroup.kill (SIGKILL), destroy. */
static void test_v2_backend_for_real(void)
{
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  char *text = NULL, *line = NULL;
  CHECK(skiff_read_file("/proc/self/mountinfo", &text, NULL, &err) == 0);
  skiff_err_free(&err);
  for (char *l = text ? strtok(text, "\n") : NULL; l && !line; l = strtok(NULL, "\n"))
    if (strstr(l, " - cgroup2 "))
      line = xasprintf("%s\n", l);
  free(text);
  CHECK(line != NULL);
  if (line == NULL)
    return;
  cgroup_set_mountinfo_for_tests(line);
  free(line);
  CHECK(cgroup_detect_mode() == CGROUP_MODE_V2);
  char *path = xasprintf("/skiff-test-%d/v2", (int)getpid());
  CHECK(cgroup_new(path, &cg, &err) == 0);
  free(path);
  if (cg == NULL)
    {
      skiff_err_free(&err);
      cgroup_set_mountinfo_for_tests(NULL);
      return;
    }
  char **dirs = cgroup_host_dirs(cg);
  CHECK(dirs[0] && !dirs[1]);
  CHECK(cgroup_create(cg, &err) == 0);
  skiff_err_free(&err);
  CHECK(dir_exists(dirs[0]));

  struct skiff_device_cgroup rules[]
      = {{false, 'a', -1, -1, (char *)"rwm"}, {true, 'c', 1, 11, (char *)"r"}};
  char *unified[] = {"cgroup.max.descendants", "7", NULL};
  struct skiff_resources r = {.devices = rules, .n_devices = 2, .unified = unified};
  CHECK(cgroup_apply(cg, &r, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  CHECK_FILE(dirs[0], "cgroup.max.descendants", "7\n");
  CHECK(device_programs_attached(dirs[0]) == 1);

  /* family 1: born in the cgroup with clone3(CLONE_INTO_CGROUP), killed with SIGTERM
   * through the freezer */
  int go[2], report[2];
  CHECK(pipe2(go, O_CLOEXEC) == 0 && pipe2(report, O_CLOEXEC) == 0);
  int cgfd = cgroup_open_dir_fd(cg, &err);
  CHECK(cgfd >= 0);
  skiff_err_free(&err);
  struct clone_args ca = {.flags = CLONE_INTO_CGROUP,
                          .exit_signal = SIGCHLD,
                          .cgroup = (uint64_t)(cgfd >= 0 ? cgfd : 0)};
  pid_t child = cgfd >= 0 ? (pid_t)syscall(SYS_clone3, &ca, sizeof(ca)) : -1;
  if (child == 0)
    family_main(go[0], report[1], true);
  if (cgfd >= 0)
    close(cgfd);
  CHECK(child > 0);
  pid_t grandchild = child > 0 ? family_go(cg, child, go[1], report[0]) : -1;
  CHECK(cgroup_kill(cg, SIGTERM, &err) == 0);
  skiff_err_free(&err);
  reap_expect_signal(child, SIGTERM);
  reap_expect_signal(grandchild, SIGTERM);
  CHECK_FILE(dirs[0], "cgroup.freeze", "0\n"); /* thawed again */

  /* family 2: moved in with enter(), killed through cgroup.kill */
  child = fork();
  if (child == 0)
    family_main(go[0], report[1], false);
  CHECK(child > 0);
  CHECK(cgroup_enter(cg, child, &err) == 0);
  skiff_err_free(&err);
  grandchild = child > 0 ? family_go(cg, child, go[1], report[0]) : -1;
  CHECK(cgroup_kill(cg, SIGKILL, &err) == 0);
  skiff_err_free(&err);
  reap_expect_signal(child, SIGKILL);
  reap_expect_signal(grandchild, SIGKILL);
  for (int i = 0; i < 4; i++)
    close(i < 2 ? go[i] : report[i - 2]);

  CHECK(cgroup_destroy(cg, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  CHECK(!dir_exists(dirs[0]));
  remove_parents(dirs);
  cgroup_free(cg);
  cgroup_set_mountinfo_for_tests(NULL);
}

/* The fast path for the runtime's child: born in the cgroup2 dir with
 * clone3(CLONE_INTO_CGROUP) where there is one, then joining every v1 hierarchy itself
 * through `tasks`.  /proc/<pid>/cgroup must show the container's path on every line. */
static void test_enter_self_for_real(void)
{
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  cgroup_set_mountinfo_for_tests(NULL);
  char *path = xasprintf("/skiff-test-%d/self", (int)getpid());
  CHECK(cgroup_new(path, &cg, &err) == 0);
  if (cg == NULL)
    {
      skiff_err_free(&err);
      free(path);
      return;
    }
  char **dirs = cgroup_host_dirs(cg);
  CHECK(cgroup_create(cg, &err) == 0);
  skiff_err_free(&err);
  int cgfd = cgroup_open_clone_fd(cg, &err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  int rep[2];
  CHECK(pipe2(rep, O_CLOEXEC) == 0);
  struct clone_args ca = {.flags = cgfd >= 0 ? CLONE_INTO_CGROUP : 0,
                          .exit_signal = SIGCHLD,
                          .cgroup = (uint64_t)(cgfd >= 0 ? cgfd : 0)};
  pid_t child = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
  if (child == 0)
    {
      struct skiff_err *e = NULL;
      struct timespec t0;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      double ms = cgroup_enter_self(cg, cgfd >= 0, &e) == 0 ? ms_since(&t0) : -1;
      if (write(rep[1], &ms, sizeof(ms)) != sizeof(ms))
        _exit(1);
      for (;;)
        pause();
    }
  CHECK(child > 0);
  if (cgfd >= 0)
    close(cgfd);
  double ms = -1;
  CHECK(read(rep[0], &ms, sizeof(ms)) == sizeof(ms));
  CHECK(ms >= 0);
  printf("# enter_self %.2f ms (%s)\n", ms, cgfd >= 0 ? "born in the cgroup2 dir" : "no cgroup2");
  if (child > 0)
    {
      char *procfile = xasprintf("/proc/%d/cgroup", (int)child), *text = NULL;
      CHECK(skiff_read_file(procfile, &text, NULL, &err) == 0);
      skiff_err_free(&err);
      size_t lines = 0;
      for (char *l = text ? strtok(text, "\n") : NULL; l; l = strtok(NULL, "\n"), lines++)
        {
          char *rel = strchr(l, ':');
          rel = rel ? strchr(rel + 1, ':') : NULL;
          CHECK(rel && strcmp(rel + 1, path) == 0);
          if (!rel || strcmp(rel + 1, path) != 0)
            printf("# not in the cgroup: %s\n", l);
        }
      size_t n_dirs = 0;
      while (dirs[n_dirs])
        n_dirs++;
      CHECK(lines == n_dirs);
      free(text);
      free(procfile);
      kill(child, SIGKILL);
      int status = 0;
      CHECK(waitpid(child, &status, 0) == child);
    }
  close(rep[0]);
  close(rep[1]);
  CHECK(cgroup_destroy(cg, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  remove_parents(dirs);
  cgroup_free(cg);
  free(path);
}

/* The delete of the last container under the default parent, /skiff, removes it too: a host
 * keeps no cgroup of containers that are gone.  (Another container under it keeps it.) */
static void test_default_parent_pruned(void)
{
  struct skiff_err *err = NULL;
  struct skiff_cgroup *cg = NULL;
  cgroup_set_mountinfo_for_tests(NULL);
  char *path = xasprintf(CGROUP_DEFAULT_PARENT "/unit-%d", (int)getpid());
  CHECK(cgroup_new(path, &cg, &err) == 0 && cgroup_create(cg, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  char **dirs = cg ? cgroup_host_dirs(cg) : NULL;
  CHECK(cg == NULL || cgroup_destroy(cg, &err) == 0);
  skiff_err_free(&err);
  for (size_t i = 0; dirs && dirs[i]; i++)
    {
      CHECK(!dir_exists(dirs[i]));
      char *parent = xstrdup(dirs[i]);
      *strrchr(parent, '/') = '\0';
      CHECK(strcmp(strrchr(parent, '/'), CGROUP_DEFAULT_PARENT) == 0);
      CHECK(!dir_exists(parent) || rmdir(parent) < 0); /* gone, or busy with another */
      free(parent);
      free(dirs[i]);
    }
  free(dirs);
  cgroup_free(cg);
  free(path);
}

int main(void)
{
  RUN_TEST(test_host_backend_for_real);
  RUN_TEST(test_enter_self_for_real);
  RUN_TEST(test_devices_for_real);
  RUN_TEST(test_v2_backend_for_real);
  RUN_TEST(test_default_parent_pruned);
  return CHECK_DONE();
}
