/* test_fds.c - the fd hygiene helpers of runtime/util: skiff_close_fds_from on a kernel
 * without close_range (a seccomp filter in a forked child makes it ENOSYS) and with neither
 * close_range nor /proc, and skiff_write_file_atomic against a planted symlink. */
#include "check.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <libseccomp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

static bool fd_open(int fd)
{
  return fcntl(fd, F_GETFD) >= 0;
}

/* In a child: optionally make close_range fail with ENOSYS and hide /proc; open fds; close
 * from the first one keeping one.  Exit code: 0 all as expected, 1 wrong fds, 2 setup, 3
 * the helper failed, 4 it succeeded though it could not work. */
static int child_close(bool no_close_range, bool no_proc)
{
  pid_t pid = fork();
  if (pid == 0)
    {
      if (no_proc
          && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
              || mount("tmpfs", "/proc", "tmpfs", 0, NULL) < 0))
        _exit(2);
      if (no_close_range)
        {
          scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
          if (ctx == NULL
              || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
                                  seccomp_syscall_resolve_name("close_range"), 0)
                     < 0
              || seccomp_load(ctx) < 0)
            _exit(2);
        }
      int fds[4];
      for (int i = 0; i < 4; i++)
        if ((fds[i] = open("/dev/null", O_RDONLY)) < 0) /* no CLOEXEC: inherited-like */
          _exit(2);
      struct skiff_err *err = NULL;
      int r = skiff_close_fds_from(fds[0], &fds[2], 1, &err);
      if (no_proc && no_close_range)
        _exit(r < 0 && err && strstr(err->msg, "close inherited fds") ? 0 : 4);
      if (r < 0)
        _exit(3);
      _exit(!fd_open(fds[0]) && !fd_open(fds[1]) && fd_open(fds[2]) && !fd_open(fds[3])
                    && fd_open(0) && fd_open(2)
                ? 0
                : 1);
    }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static void test_close_fds_close_range(void)
{
  CHECK(child_close(false, false) == 0);
}

/* A kernel before 5.9: the /proc/self/fd walk does the job. */
static void test_close_fds_without_close_range(void)
{
  CHECK(child_close(true, false) == 0);
}

/* Neither way works: an error, never a silent success. */
static void test_close_fds_neither_works(void)
{
  CHECK(child_close(true, true) == 0);
}

/* The old writer used "<path>.tmp.<pid>": a symlink planted there made root truncate and
 * write the file it points to. */
static void test_atomic_write_ignores_planted_symlink(void)
{
  char dir[] = "/tmp/skiff-fds-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  cleanup_free char *victim = xasprintf("%s/victim", dir);
  cleanup_free char *target = xasprintf("%s/pid", dir);
  cleanup_free char *planted = xasprintf("%s.tmp.%d", target, (int)getpid());
  struct skiff_err *err = NULL;
  CHECK(skiff_write_file(victim, "precious", 8, 0600, &err) == 0);
  CHECK(symlink(victim, planted) == 0);
  CHECK(skiff_write_file_atomic(target, "1234", 4, 0644, &err) == 0);
  cleanup_free char *v = NULL, *t = NULL;
  CHECK(skiff_read_file(victim, &v, NULL, &err) == 0);
  CHECK_STR_EQ(v, "precious");
  CHECK(skiff_read_file(target, &t, NULL, &err) == 0);
  CHECK_STR_EQ(t, "1234");
  struct stat st;
  CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644);
  /* a symlink at the target itself is replaced, not followed */
  CHECK(unlink(target) == 0 && symlink(victim, target) == 0);
  CHECK(skiff_write_file_atomic(target, "5678", 4, 0644, &err) == 0);
  free(v);
  v = NULL;
  CHECK(skiff_read_file(victim, &v, NULL, &err) == 0);
  CHECK_STR_EQ(v, "precious");
  CHECK(err == NULL);
  skiff_err_free(&err);
  CHECK(skiff_rm_rf(dir, NULL) == 0);
}

int main(void)
{
  RUN_TEST(test_close_fds_close_range);
  RUN_TEST(test_close_fds_without_close_range);
  RUN_TEST(test_close_fds_neither_works);
  RUN_TEST(test_atomic_write_ignores_planted_symlink);
  return CHECK_DONE();
}
