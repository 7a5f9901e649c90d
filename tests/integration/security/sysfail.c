/* sysfail.c - run a command on a "kernel" where some system calls fail: a seccomp filter
 * makes each named call return the given errno (close_range:ENOSYS is a kernel before
 * 5.9), inherited by everything the command starts.  The tests use it to prove a defence
 * holds when a call it relies on is missing, or that a failure is reported, not ignored.
 *
 *   sysfail SYSCALL:ERRNO[,SYSCALL:ERRNO...] CMD [ARG...]
 *
 * ERRNO is a name (ENOSYS, EMFILE, ENOMEM, EPERM, EAGAIN) or a number. */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int errno_of(const char *s)
{
  static const struct
  {
    const char *name;
    int value;
  } names[] = {{"ENOSYS", ENOSYS}, {"EMFILE", EMFILE}, {"ENOMEM", ENOMEM},
               {"EPERM", EPERM},   {"EAGAIN", EAGAIN}, {"EINVAL", EINVAL}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(s, names[i].name) == 0)
      return names[i].value;
  char *end = NULL;
  long v = strtol(s, &end, 10);
  return end != s && *end == '\0' && v > 0 && v < 4096 ? (int)v : -1;
}

int main(int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf(stderr, "usage: sysfail SYSCALL:ERRNO[,...] CMD [ARG...]\n");
      return 2;
    }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  char *list = strdup(argv[1]), *save = NULL;
  for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save))
    {
      char *colon = strchr(item, ':');
      if (colon == NULL)
        {
          fprintf(stderr, "sysfail: `%s`: expected SYSCALL:ERRNO\n", item);
          return 2;
        }
      *colon = '\0';
      int nr = seccomp_syscall_resolve_name(item), e = errno_of(colon + 1);
      if (nr == __NR_SCMP_ERROR || e < 0)
        {
          fprintf(stderr, "sysfail: unknown syscall `%s` or errno `%s`\n", item, colon + 1);
          return 2;
        }
      if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(e), nr, 0) < 0)
        {
          fprintf(stderr, "sysfail: seccomp_rule_add %s failed\n", item);
          return 2;
        }
    }
  /* root: no no_new_privs needed, so the command keeps every privilege it had */
  if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 || seccomp_load(ctx) < 0)
    {
      fprintf(stderr, "sysfail: seccomp_load failed (run as root)\n");
      return 2;
    }
  execvp(argv[2], argv + 2);
  fprintf(stderr, "sysfail: exec `%s`: %s\n", argv[2], strerror(errno));
  return 127;
}
