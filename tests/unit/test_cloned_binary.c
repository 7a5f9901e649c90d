/* test_cloned_binary.c - the CVE-2019-5736 re-exec (runtime/cloned_binary.c): through a
 * read-only overlay of the binary's directory, else through a sealed memfd copy; none
 * for an immutable binary unless the container may hold CAP_LINUX_IMMUTABLE.
 *
 * The test binary re-executes itself through cloned_binary_ensure() in a child, with
 * the argument `--report`: the re-executed copy reports what it runs from (overlay,
 * memfd or the plain file, and whether /proc/self/exe can be opened for writing) in
 * its exit code. */
#define _GNU_SOURCE
#include "check.h"
#include "cloned_binary.h"
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit codes of the re-executed copy: 10 + its kind when the defence holds. */
#define REPORT_OK 10
#define NOT_PROTECTED 20 /* the re-exec did not happen */
#define WRITABLE 21      /* protected but a write went through */
#define LOOPS 22         /* a second ensure did not return 0 */

static int report(void)
{
  int kind = cloned_binary_kind(NULL);
  if (kind <= CLONED_BINARY_NONE)
    return NOT_PROTECTED;
  /* neither a read-only overlay nor F_SEAL_WRITE lets a write through */
  int fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      ssize_t n = write(fd, "X", 1);
      close(fd);
      if (n == 1)
        return WRITABLE;
    }
  /* and a second ensure is a no-op (returns 0, no loop of re-execs) */
  char *argv[] = {(char *)"x", NULL};
  if (cloned_binary_ensure(argv, "/nonexistent", kind == CLONED_BINARY_IMMUTABLE, NULL) != 0)
    return LOOPS;
  return REPORT_OK + kind;
}

static void test_plain_binary_is_not_protected(void)
{
  struct skiff_err *err = NULL;
  CHECK(cloned_binary_kind(&err) == CLONED_BINARY_NONE);
  CHECK(err == NULL);
  skiff_err_free(&err);
}

/* Re-execute ourselves with lower_dir; the exit code of the copy. */
static int reexec_with(const char *lower_dir)
{
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  CHECK(n > 0);
  if (n <= 0)
    return -1;
  self[n] = '\0';
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    {
      char *argv[] = {self, (char *)"--report", NULL};
      struct skiff_err *err = NULL;
      cloned_binary_ensure(argv, lower_dir, false, &err);
      /* only reached on failure */
      _exit(NOT_PROTECTED + 50);
    }
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_ensure_reexecs_through_readonly_overlay(void)
{
  char dir[] = "/tmp/skiff-test-lower.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  int code = reexec_with(dir);
  if (code != REPORT_OK + CLONED_BINARY_OVERLAY)
    printf("#   re-executed copy exited %d (want %d)\n", code, REPORT_OK + CLONED_BINARY_OVERLAY);
  CHECK(code == REPORT_OK + CLONED_BINARY_OVERLAY);
  rmdir(dir);
}

static void test_ensure_without_lower_dir_uses_sealed_memfd(void)
{
  int code = reexec_with(NULL);
  if (code != REPORT_OK + CLONED_BINARY_MEMFD)
    printf("#   re-executed copy exited %d (want %d)\n", code, REPORT_OK + CLONED_BINARY_MEMFD);
  CHECK(code == REPORT_OK + CLONED_BINARY_MEMFD);
}

/* An overlay that cannot be made (here: the dummy layer is the binary's own directory,
 * which overlayfs refuses as overlapping) falls back to the copy, never to nothing. */
static void test_overlay_failure_falls_back_to_memfd(void)
{
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  CHECK(n > 0);
  if (n <= 0)
    return;
  self[n] = '\0';
  *strrchr(self, '/') = '\0';
  int code = reexec_with(self);
  CHECK(code == REPORT_OK + CLONED_BINARY_MEMFD);
  code = reexec_with("/nonexistent-skiff-lower");
  CHECK(code == REPORT_OK + CLONED_BINARY_MEMFD);
}

static char *cap_none[] = {NULL};
static char *cap_basic[] = {(char *)"CAP_KILL", (char *)"CAP_CHOWN", NULL};
static char *cap_immutable[] = {(char *)"CAP_KILL", (char *)"CAP_LINUX_IMMUTABLE", NULL};

static void test_may_unlock_by_capability(void)
{
  struct skiff_process p = {.has_caps = true};
  p.caps = (struct skiff_caps){cap_basic, cap_basic, cap_basic, cap_none, cap_none};
  CHECK(!cloned_binary_may_unlock(&p));
  p.caps.bounding = cap_immutable; /* a setcap'd binary could raise it */
  CHECK(cloned_binary_may_unlock(&p));
  p.caps.bounding = cap_basic;
  p.caps.ambient = cap_immutable;
  CHECK(cloned_binary_may_unlock(&p));
  p.caps = (struct skiff_caps){NULL, NULL, NULL, NULL, NULL};
  CHECK(!cloned_binary_may_unlock(&p));
  p.has_caps = false; /* no capabilities in the config: root keeps all of its own */
  CHECK(cloned_binary_may_unlock(&p));
}

/* The child modes of the immutable tests, run in a copy marked immutable. */
static int immutable_child(const char *mode, char *self)
{
  if (cloned_binary_kind(NULL) != CLONED_BINARY_IMMUTABLE)
    return NOT_PROTECTED;
  char *again[] = {self, (char *)"--report", NULL};
  if (strcmp(mode, "--enough") == 0) /* run, create: accepted as it is */
    return cloned_binary_ensure(again, NULL, true, NULL) == 0 ? report() : LOOPS;
  if (strcmp(mode, "--strict") == 0) /* exec: re-executed all the same */
    cloned_binary_ensure(again, NULL, false, NULL);
  else
    {
      /* deferred, then a process with or without CAP_LINUX_IMMUTABLE */
      cloned_binary_defer(again, NULL);
      struct skiff_process p = {.has_caps = true};
      p.caps = (struct skiff_caps){strcmp(mode, "--defer-cap") == 0 ? cap_immutable : cap_basic,
                                   cap_basic, cap_basic, cap_none, cap_none};
      if (cloned_binary_check_process(&p, NULL) == 0)
        return report();
    }
  return NOT_PROTECTED + 50;
}

/* Copy the test binary into DIR, mark it immutable; 0, or -1 where the filesystem has no
 * such flag (nothing to test there). */
static int immutable_copy(const char *dir, char *path, size_t size)
{
  snprintf(path, size, "%s/copy", dir);
  int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  CHECK(in >= 0 && out >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof(buf))) > 0)
    CHECK(write(out, buf, (size_t)n) == n);
  close(in);
  close(out);
  int fd = open(path, O_RDONLY | O_CLOEXEC), flags = 0, rc = -1;
  if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0)
    {
      flags |= FS_IMMUTABLE_FL;
      rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
  if (fd >= 0)
    close(fd);
  return rc;
}

static void remove_copy(const char *dir, const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC), flags = 0;
  if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0)
    {
      flags &= ~FS_IMMUTABLE_FL;
      ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
  if (fd >= 0)
    close(fd);
  CHECK(unlink(path) == 0);
  CHECK(rmdir(dir) == 0);
}

static int run_copy(const char *path, const char *mode)
{
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    {
      char *argv[] = {(char *)path, (char *)"--immutable", (char *)mode, NULL};
      execv(path, argv);
      _exit(99);
    }
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_immutable_binary(void)
{
  char dir[] = "/var/tmp/skiff-test-immutable.XXXXXX", path[4096];
  CHECK(mkdtemp(dir) != NULL);
  if (immutable_copy(dir, path, sizeof(path)) < 0)
    {
      printf("#   %s: no immutable flag on this filesystem (%s); not tested\n", dir,
             strerror(errno));
      remove_copy(dir, path);
      return;
    }
  /* accepted as it is: no write reaches it (EPERM), no re-exec */
  CHECK(run_copy(path, "--enough") == REPORT_OK + CLONED_BINARY_IMMUTABLE);
  /* where it is not enough (exec), the copy is made all the same */
  CHECK(run_copy(path, "--strict") == REPORT_OK + CLONED_BINARY_MEMFD);
  /* deferred: a config without CAP_LINUX_IMMUTABLE keeps it, one with it re-executes */
  CHECK(run_copy(path, "--defer") == REPORT_OK + CLONED_BINARY_IMMUTABLE);
  CHECK(run_copy(path, "--defer-cap") == REPORT_OK + CLONED_BINARY_MEMFD);
  remove_copy(dir, path);
}

int main(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "--report") == 0)
    return report();
  if (argc > 2 && strcmp(argv[1], "--immutable") == 0)
    return immutable_child(argv[2], argv[0]);
  RUN_TEST(test_plain_binary_is_not_protected);
  RUN_TEST(test_ensure_reexecs_through_readonly_overlay);
  RUN_TEST(test_ensure_without_lower_dir_uses_sealed_memfd);
  RUN_TEST(test_overlay_failure_falls_back_to_memfd);
  RUN_TEST(test_may_unlock_by_capability);
  RUN_TEST(test_immutable_binary);
  return CHECK_DONE();
}
