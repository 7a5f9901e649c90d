/* test_cloned_binary.c - the sealed memfd re-exec of CVE-2019-5736 (runtime/cloned_binary.c).
 *
 * The test binary re-executes itself through cloned_binary_ensure() in a child, with
 * the argument `--report`: the re-executed copy reports what it runs from (sealed or
 * not, and whether /proc/self/exe can be opened for writing) in its exit code. */
#define _GNU_SOURCE
#include "check.h"
#include "cloned_binary.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit codes of the re-executed copy. */
#define SEALED_RO 10  /* sealed, write refused: the defence works */
#define NOT_SEALED 11 /* the re-exec did not happen */
#define WRITABLE 12   /* sealed but a write went through */

static int report(void)
{
  int sealed = cloned_binary_is_sealed(NULL);
  if (sealed != 1)
    return NOT_SEALED;
  /* F_SEAL_WRITE: the file cannot be written, whatever the open mode allows */
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
  if (cloned_binary_ensure(1, argv, NULL) != 0)
    return NOT_SEALED;
  return SEALED_RO;
}

static void test_plain_binary_is_not_sealed(void)
{
  struct skiff_err *err = NULL;
  CHECK(cloned_binary_is_sealed(&err) == 0);
  CHECK(err == NULL);
  skiff_err_free(&err);
}

static void test_ensure_reexecs_from_sealed_copy(void)
{
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  CHECK(n > 0);
  if (n <= 0)
    return;
  self[n] = '\0';
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    {
      char *argv[] = {self, (char *)"--report", NULL};
      struct skiff_err *err = NULL;
      cloned_binary_ensure(2, argv, &err);
      /* only reached on failure */
      _exit(NOT_SEALED + 50);
    }
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  if (WIFEXITED(st) && WEXITSTATUS(st) != SEALED_RO)
    printf("#   re-executed copy exited %d (want %d)\n", WEXITSTATUS(st), SEALED_RO);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == SEALED_RO);
}

int main(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "--report") == 0)
    return report();
  RUN_TEST(test_plain_binary_is_not_sealed);
  RUN_TEST(test_ensure_reexecs_from_sealed_copy);
  return CHECK_DONE();
}
