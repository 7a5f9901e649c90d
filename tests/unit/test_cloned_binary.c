/* test_cloned_binary.c - the CVE-2019-5736 re-exec (runtime/cloned_binary.c): through a
 * read-only overlay of the binary's directory, else through a sealed memfd copy.
 *
 * The test binary re-executes itself through cloned_binary_ensure() in a child, with
 * the argument `--report`: the re-executed copy reports what it runs from (overlay,
 * memfd or the plain file, and whether /proc/self/exe can be opened for writing) in
 * its exit code. */
#define _GNU_SOURCE
#include "check.h"
#include "cloned_binary.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
  if (cloned_binary_ensure(argv, "/nonexistent", NULL) != 0)
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
      cloned_binary_ensure(argv, lower_dir, &err);
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

int main(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "--report") == 0)
    return report();
  RUN_TEST(test_plain_binary_is_not_protected);
  RUN_TEST(test_ensure_reexecs_through_readonly_overlay);
  RUN_TEST(test_ensure_without_lower_dir_uses_sealed_memfd);
  RUN_TEST(test_overlay_failure_falls_back_to_memfd);
  return CHECK_DONE();
}
