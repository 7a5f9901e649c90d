/* test_seccomp.c - seccomp.c and seccomp_profile.c against the real kernel: every filter
 * is loaded in a forked child (which leaves with _exit, so ASan's exit-time work never
 * runs under the filter) and reports what its system calls returned through a pipe. */
#define _GNU_SOURCE
#include "check.h"
#include "seccomp.h"
#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* ---- running a probe in a child ---- */

#define MAX_RESULTS 32

struct child_out
{
  int status; /* exit code, or 128 + signal */
  int n;
  long results[MAX_RESULTS];
  char msg[512];
};

/* fn fills results[] (each a syscall outcome: 0 ok, else errno) and may write a message;
 * it returns the child's exit code. */
typedef int (*child_fn)(void *arg, long *results, int *n, char *msg, size_t msglen);

static void run_child(child_fn fn, void *arg, struct child_out *out)
{
  int p[2];
  memset(out, 0, sizeof(*out));
  out->status = -1;
  if (pipe2(p, O_CLOEXEC) < 0)
    return;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    return;
  if (pid == 0)
    {
      struct child_out o;
      memset(&o, 0, sizeof(o));
      close(p[0]);
      int code = fn(arg, o.results, &o.n, o.msg, sizeof(o.msg));
      if (write(p[1], &o, sizeof(o)) != (ssize_t)sizeof(o))
        _exit(120);
      _exit(code);
    }
  close(p[1]);
  ssize_t r = skiff_read_all(p[0], out, sizeof(*out));
  close(p[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (r != (ssize_t)sizeof(*out))
    memset(out, 0, sizeof(*out));
  out->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (out->msg[0])
    printf("#   child: %s\n", out->msg);
}

static long outcome(long ret)
{
  return ret < 0 ? errno : 0;
}

/* ---- profiles built in the test ---- */

static char *getcwd_names[] = {"no_such_syscall_xyz", "getcwd", NULL};
static char *keyctl_names[] = {"keyctl", NULL};
static char *dup_names[] = {"dup", NULL};
static char *fcntl_names[] = {"fcntl", NULL};
static char *umask_names[] = {"umask", NULL};

static struct skiff_seccomp_arg dup_args[] = {
    {.index = 0, .value = 100, .op = SKIFF_OP_EQ},
    {.index = 0, .value = 101, .op = SKIFF_OP_EQ},
};
static struct skiff_seccomp_arg fcntl_args[] = {
    {.index = 0, .value = 0, .op = SKIFF_OP_EQ},
    {.index = 1, .value = F_GETFL, .op = SKIFF_OP_EQ},
};
static struct skiff_seccomp_arg umask_args[] = {
    {.index = 0, .value = 0700, .value_two = 0700, .op = SKIFF_OP_MASKED_EQ},
};

static struct skiff_seccomp_rule small_rules[] = {
    {.names = getcwd_names, .action = SKIFF_SECCOMP_ERRNO},
    {.names = keyctl_names, .action = SKIFF_SECCOMP_ERRNO, .has_errno = true, .errno_ret = EACCES},
    {.names = dup_names, .action = SKIFF_SECCOMP_ERRNO, .args = dup_args, .n_args = 2},
    {.names = fcntl_names, .action = SKIFF_SECCOMP_ERRNO, .args = fcntl_args, .n_args = 2},
    {.names = umask_names, .action = SKIFF_SECCOMP_ERRNO, .args = umask_args, .n_args = 1},
    /* same action as the default: a no-op that must not be an error */
    {.names = dup_names, .action = SKIFF_SECCOMP_ALLOW},
};

static char *x86_arches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", NULL};

static struct skiff_seccomp small_profile = {
    .default_action = SKIFF_SECCOMP_ALLOW,
    .architectures = x86_arches,
    .syscalls = small_rules,
    .n_syscalls = sizeof(small_rules) / sizeof(small_rules[0]),
};

enum
{
  SP_GETCWD,
  SP_KEYCTL,
  SP_DUP100,
  SP_DUP101,
  SP_DUP102,
  SP_FCNTL_GETFL0,
  SP_FCNTL_GETFD0,
  SP_FCNTL_GETFL1,
  SP_UMASK_0777,
  SP_UMASK_0022,
  SP_GETPID,
  SP_COUNT
};

static void small_probes(long *r)
{
  char buf[4096];
  r[SP_GETCWD] = outcome(syscall(SYS_getcwd, buf, sizeof(buf)));
  r[SP_KEYCTL] = outcome(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
  r[SP_DUP100] = outcome(syscall(SYS_dup, 100));
  r[SP_DUP101] = outcome(syscall(SYS_dup, 101));
  r[SP_DUP102] = outcome(syscall(SYS_dup, 102));
  r[SP_FCNTL_GETFL0] = outcome(syscall(SYS_fcntl, 0, F_GETFL));
  r[SP_FCNTL_GETFD0] = outcome(syscall(SYS_fcntl, 0, F_GETFD));
  r[SP_FCNTL_GETFL1] = outcome(syscall(SYS_fcntl, 1, F_GETFL));
  long old = syscall(SYS_umask, 0777);
  r[SP_UMASK_0777] = outcome(old);
  if (old >= 0)
    syscall(SYS_umask, old);
  old = syscall(SYS_umask, 0022);
  r[SP_UMASK_0022] = outcome(old);
  r[SP_GETPID] = outcome(syscall(SYS_getpid));
}

static int child_small(void *arg, long *r, int *n, char *msg, size_t msglen)
{
  struct skiff_err *err = NULL;
  if (arg && seccomp_apply(arg, &err) < 0)
    {
      snprintf(msg, msglen, "%s", err->msg);
      return 2;
    }
  small_probes(r);
  *n = SP_COUNT;
  return 0;
}

static void test_apply_small_profile(void)
{
  struct child_out ctl, out;
  run_child(child_small, NULL, &ctl);
  run_child(child_small, &small_profile, &out);
  CHECK(ctl.status == 0 && ctl.n == SP_COUNT);
  CHECK(out.status == 0 && out.n == SP_COUNT);
  /* without the filter the calls behave normally */
  CHECK(ctl.results[SP_GETCWD] == 0);
  CHECK(ctl.results[SP_KEYCTL] != EACCES);
  CHECK(ctl.results[SP_DUP100] == EBADF);
  CHECK(ctl.results[SP_UMASK_0777] == 0);
  /* with it: EPERM by default, errnoRet when given */
  CHECK(out.results[SP_GETCWD] == EPERM);
  CHECK(out.results[SP_KEYCTL] == EACCES);
  /* two conditions on one argument are OR'ed */
  CHECK(out.results[SP_DUP100] == EPERM);
  CHECK(out.results[SP_DUP101] == EPERM);
  CHECK(out.results[SP_DUP102] == EBADF);
  /* conditions on different arguments are AND'ed */
  CHECK(out.results[SP_FCNTL_GETFL0] == EPERM);
  CHECK(out.results[SP_FCNTL_GETFD0] == 0);
  CHECK(out.results[SP_FCNTL_GETFL1] == 0);
  /* masked equality: (mode & 0700) == 0700 */
  CHECK(out.results[SP_UMASK_0777] == EPERM);
  CHECK(out.results[SP_UMASK_0022] == 0);
  CHECK(out.results[SP_GETPID] == 0);
}

/* ---- errors name the rule ---- */

static char *bad_arch[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_FOO", NULL};
static char *bad_flag[] = {"SECCOMP_FILTER_FLAG_BOGUS", NULL};
static struct skiff_seccomp_arg bad_op_args[] = {{.index = 0, .value = 1, .op = 42}};
static struct skiff_seccomp_arg bad_index_args[] = {{.index = 6, .value = 1, .op = SKIFF_OP_EQ}};

static void expect_error(struct skiff_seccomp *p, const char *needle)
{
  struct skiff_err *err = NULL;
  CHECK(seccomp_validate(p, &err) < 0);
  CHECK(err != NULL);
  if (err)
    CHECK_CONTAINS(err->msg, needle);
  skiff_err_free(&err);
}

static int child_expect_apply_error(void *arg, long *r, int *n, char *msg, size_t msglen)
{
  struct skiff_err *err = NULL;
  (void)r;
  (void)n;
  if (seccomp_apply(arg, &err) == 0)
    return 3;
  snprintf(msg, msglen, "%s", err->msg);
  /* nothing was loaded: getcwd still works */
  char buf[256];
  return syscall(SYS_getcwd, buf, sizeof(buf)) < 0 ? 4 : 0;
}

static void test_errors_name_the_rule(void)
{
  struct skiff_seccomp_rule rules[2] = {
      {.names = keyctl_names, .action = SKIFF_SECCOMP_ERRNO},
      {.names = getcwd_names, .action = (enum skiff_seccomp_action)99},
  };
  struct skiff_seccomp p
      = {.default_action = SKIFF_SECCOMP_ALLOW, .syscalls = rules, .n_syscalls = 2};
  expect_error(&p, "syscalls[1]: unknown action 99");

  struct child_out out;
  run_child(child_expect_apply_error, &p, &out);
  CHECK(out.status == 0);
  CHECK_CONTAINS(out.msg, "syscalls[1]");

  rules[1].action = SKIFF_SECCOMP_NOTIFY;
  expect_error(&p, "syscalls[1]: action SCMP_ACT_NOTIFY not supported");

  rules[1].action = SKIFF_SECCOMP_ERRNO;
  rules[1].args = bad_op_args;
  rules[1].n_args = 1;
  expect_error(&p, "syscalls[1].args[0]: unknown operator 42");
  rules[1].args = bad_index_args;
  expect_error(&p, "syscalls[1].args[0]: index 6 out of range");
  rules[1].n_args = 0;

  p.architectures = bad_arch;
  expect_error(&p, "architectures[1]: unknown architecture `SCMP_ARCH_FOO`");
  p.architectures = NULL;
  p.flags = bad_flag;
  expect_error(&p, "flags[0]: unknown flag `SECCOMP_FILTER_FLAG_BOGUS`");
  p.flags = NULL;
  p.default_action = (enum skiff_seccomp_action)77;
  expect_error(&p, "defaultAction 77");

  /* the valid profile compiles */
  struct skiff_err *err = NULL;
  CHECK(seccomp_validate(&small_profile, &err) == 0);
  skiff_err_free(&err);
}

static bool name_in(const char *name, json_t *names)
{
  size_t i;
  json_t *v;
  json_array_foreach(names, i, v)
  {
    if (strcmp(json_string_value(v), name) == 0)
      return true;
  }
  return false;
}

/* Does any rule with this action and no args name the syscall? */
static bool unconditional(json_t *profile, const char *name, const char *action)
{
  size_t i;
  json_t *rule;
  json_array_foreach(json_object_get(profile, "syscalls"), i, rule)
  {
    if (strcmp(json_string_value(json_object_get(rule, "action")), action) == 0
        && json_object_get(rule, "args") == NULL && name_in(name, json_object_get(rule, "names")))
      return true;
  }
  return false;
}

static json_t *find_rule(json_t *profile, const char *name, const char *action)
{
  size_t i;
  json_t *rule;
  json_array_foreach(json_object_get(profile, "syscalls"), i, rule)
  {
    if (strcmp(json_string_value(json_object_get(rule, "action")), action) == 0
        && name_in(name, json_object_get(rule, "names")))
      return rule;
  }
  return NULL;
}

/* clang-format off */
static const char *const always_denied[] = {
  "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "userfaultfd", "swapon",
  "swapoff", "open_by_handle_at", "mount", "umount2", "unshare", "setns", "bpf", "perf_event_open",
  "init_module", "finit_module", "delete_module", "reboot", "io_uring_setup", "acct", "clone3",
  NULL,
};
/* clang-format on */

static void test_default_profile_json(void)
{
  json_t *p = seccomp_default_profile(NULL);
  CHECK(p != NULL);
  CHECK_STR_EQ(json_string_value(json_object_get(p, "defaultAction")), "SCMP_ACT_ERRNO");
  CHECK(json_integer_value(json_object_get(p, "defaultErrnoRet")) == 1);
#ifdef __x86_64__
  CHECK(name_in("SCMP_ARCH_X86_64", json_object_get(p, "architectures")));
  CHECK(name_in("SCMP_ARCH_X86", json_object_get(p, "architectures")));
  CHECK(name_in("SCMP_ARCH_X32", json_object_get(p, "architectures")));
  CHECK(unconditional(p, "arch_prctl", "SCMP_ACT_ALLOW"));
#endif
  for (size_t i = 0; always_denied[i]; i++)
    if (unconditional(p, always_denied[i], "SCMP_ACT_ALLOW"))
      {
        printf("#   %s is allowed\n", always_denied[i]);
        CHECK(0);
      }
  CHECK(unconditional(p, "read", "SCMP_ACT_ALLOW"));
  CHECK(unconditional(p, "chroot", "SCMP_ACT_ALLOW")); /* CAP_SYS_CHROOT is a default */
  CHECK(!unconditional(p, "socket", "SCMP_ACT_ALLOW"));
  CHECK(!unconditional(p, "clone", "SCMP_ACT_ALLOW"));

  json_t *clone = find_rule(p, "clone", "SCMP_ACT_ALLOW");
  CHECK(clone != NULL);
  json_t *arg = json_array_get(json_object_get(clone, "args"), 0);
  CHECK(json_integer_value(json_object_get(arg, "value")) == 2114060288);
  CHECK(json_integer_value(json_object_get(arg, "valueTwo")) == 0);
  CHECK_STR_EQ(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_MASKED_EQ");
  json_t *clone3 = find_rule(p, "clone3", "SCMP_ACT_ERRNO");
  CHECK(clone3 != NULL && json_integer_value(json_object_get(clone3, "errnoRet")) == ENOSYS);
  json_t *sock = find_rule(p, "socket", "SCMP_ACT_ALLOW");
  arg = json_array_get(json_object_get(sock, "args"), 0);
  CHECK(json_integer_value(json_object_get(arg, "value")) == 40);
  CHECK_STR_EQ(json_string_value(json_object_get(arg, "op")), "SCMP_CMP_NE");
  json_decref(p);

  /* capability-gated groups follow the caps */
  const char *admin[] = {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_BPF", NULL};
  p = seccomp_default_profile(admin);
  CHECK(unconditional(p, "mount", "SCMP_ACT_ALLOW"));
  CHECK(unconditional(p, "unshare", "SCMP_ACT_ALLOW"));
  CHECK(unconditional(p, "clone", "SCMP_ACT_ALLOW"));
  CHECK(unconditional(p, "bpf", "SCMP_ACT_ALLOW"));
  CHECK(unconditional(p, "kcmp", "SCMP_ACT_ALLOW"));
  CHECK(find_rule(p, "clone3", "SCMP_ACT_ERRNO") == NULL);
  CHECK(!unconditional(p, "chroot", "SCMP_ACT_ALLOW"));
  CHECK(!unconditional(p, "keyctl", "SCMP_ACT_ALLOW"));
  json_decref(p);

  /* ptrace is allowed by default only from 4.8 on */
  struct skiff_seccomp *old = seccomp_default_profile_struct(NULL, 4, 4);
  json_t *oj = seccomp_profile_to_json(old);
  CHECK(!unconditional(oj, "ptrace", "SCMP_ACT_ALLOW"));
  json_decref(oj);
  seccomp_profile_free(old);
  struct skiff_seccomp *cur = seccomp_default_profile_struct(NULL, 6, 1);
  oj = seccomp_profile_to_json(cur);
  CHECK(unconditional(oj, "ptrace", "SCMP_ACT_ALLOW"));
  json_decref(oj);
  seccomp_profile_free(cur);
}

/* ---- Docker's default profile in the kernel ---- */

enum
{
  DP_KEYCTL,
  DP_ADD_KEY,
  DP_REQUEST_KEY,
  DP_UNSHARE_USER,
  DP_SOCKET_VSOCK,
  DP_USERFAULTFD,
  DP_KEXEC_LOAD,
  DP_MOUNT,
  DP_BPF,
  DP_PERF,
  DP_INIT_MODULE,
  DP_SWAPON,
  DP_CLONE_NEWUSER,
  DP_CLONE3,
  DP_PERSONALITY_BAD,
  /* allowed */
  DP_GETPID,
  DP_OPEN_WRITE,
  DP_FORK,
  DP_SOCKET_UNIX,
  DP_PERSONALITY_QUERY,
  DP_CHROOT,
  DP_COUNT
};
/* clang-format off */
static const char *const dp_names[DP_COUNT] = {
  "keyctl", "add_key", "request_key", "unshare(CLONE_NEWUSER)", "socket(AF_VSOCK)", "userfaultfd",
  "kexec_load", "mount", "bpf", "perf_event_open", "init_module", "swapon", "clone(CLONE_NEWUSER)",
  "clone3", "personality(0x400000)", "getpid", "open+write", "fork", "socket(AF_UNIX)",
  "personality(query)", "chroot(/)",
};
/* clang-format on */

/* Every probe uses arguments the kernel itself would reject with something other than
 * EPERM (or harmless ones), so EPERM can only come from the filter. */
static void default_probes(long *r)
{
  r[DP_KEYCTL] = outcome(syscall(SYS_keyctl, 0x7fff, 0, 0, 0, 0));
  r[DP_ADD_KEY] = outcome(syscall(SYS_add_key, NULL, NULL, NULL, 0, 0));
  r[DP_REQUEST_KEY] = outcome(syscall(SYS_request_key, NULL, NULL, NULL, 0));
  /* in a grandchild: a new user namespace would change what the later probes see */
  pid_t u = fork();
  if (u == 0)
    _exit(syscall(SYS_unshare, CLONE_NEWUSER) < 0 ? errno : 0);
  int ust = 0;
  r[DP_UNSHARE_USER] = u < 0 ? errno : (waitpid(u, &ust, 0), WEXITSTATUS(ust));
  long fd = syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
  r[DP_SOCKET_VSOCK] = outcome(fd);
  if (fd >= 0)
    close((int)fd);
  r[DP_USERFAULTFD] = outcome(syscall(SYS_userfaultfd, 0x7fff0000));
  r[DP_KEXEC_LOAD] = outcome(syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL));
  r[DP_MOUNT] = outcome(syscall(SYS_mount, "none", "/nonexistent/skiff-test", "tmpfs", 0, NULL));
  r[DP_BPF] = outcome(syscall(SYS_bpf, -1, NULL, 0));
  r[DP_PERF] = outcome(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  r[DP_INIT_MODULE] = outcome(syscall(SYS_init_module, NULL, 0, ""));
  r[DP_SWAPON] = outcome(syscall(SYS_swapon, NULL, 0));
  long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
  if (pid == 0)
    _exit(0);
  r[DP_CLONE_NEWUSER] = outcome(pid);
  if (pid > 0)
    waitpid((pid_t)pid, NULL, 0);
  r[DP_CLONE3] = outcome(syscall(SYS_clone3, NULL, 0));
  r[DP_PERSONALITY_BAD] = outcome(syscall(SYS_personality, 0x400000));
  if (r[DP_PERSONALITY_BAD] == 0)
    syscall(SYS_personality, 0);

  r[DP_GETPID] = outcome(syscall(SYS_getpid));
  fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  r[DP_OPEN_WRITE] = fd < 0 ? errno : outcome(write((int)fd, "x", 1));
  if (fd >= 0)
    close((int)fd);
  pid = fork();
  if (pid == 0)
    _exit(0);
  r[DP_FORK] = outcome(pid);
  if (pid > 0)
    waitpid((pid_t)pid, NULL, 0);
  fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
  r[DP_SOCKET_UNIX] = outcome(fd);
  if (fd >= 0)
    close((int)fd);
  r[DP_PERSONALITY_QUERY] = outcome(syscall(SYS_personality, 0xffffffffUL));
  r[DP_CHROOT] = outcome(syscall(SYS_chroot, "/"));
}

enum load_mode
{
  LOAD_NONE,
  LOAD_LIBSECCOMP,
  LOAD_BPF
};
struct default_arg
{
  enum load_mode mode;
  const struct skiff_seccomp *profile;
  const void *bpf;
  size_t len;
};

static int child_default(void *arg, long *r, int *n, char *msg, size_t msglen)
{
  struct default_arg *a = arg;
  struct skiff_err *err = NULL;
  int ret = 0;
  if (a->mode == LOAD_LIBSECCOMP)
    ret = seccomp_apply(a->profile, &err);
  else if (a->mode == LOAD_BPF)
    ret = seccomp_load_bpf(a->bpf, a->len, &err);
  if (ret < 0)
    {
      snprintf(msg, msglen, "%s", err->msg);
      return 2;
    }
  default_probes(r);
  *n = DP_COUNT;
  return 0;
}

static void check_default_denials(const struct child_out *ctl, const struct child_out *out)
{
  CHECK(out->status == 0 && out->n == DP_COUNT);
  for (int i = 0; i < DP_COUNT; i++)
    {
      long want = i < DP_GETPID ? EPERM : 0;
      if (i == DP_CLONE3)
        want = ENOSYS;
      if (out->results[i] != want)
        {
          printf("#   %s: got errno %ld, want %ld\n", dp_names[i], out->results[i], want);
          CHECK(0);
        }
    }
  /* the control run shows EPERM came from the filter, for the calls whose unfiltered
   * outcome does not depend on kernel configuration */
  CHECK(ctl->status == 0 && ctl->n == DP_COUNT);
  static const int meaningful[] = {DP_KEYCTL,      DP_ADD_KEY, DP_REQUEST_KEY,   DP_UNSHARE_USER,
                                   DP_USERFAULTFD, DP_MOUNT,   DP_CLONE_NEWUSER, DP_CLONE3};
  for (size_t i = 0; i < sizeof(meaningful) / sizeof(meaningful[0]); i++)
    {
      int k = meaningful[i];
      if (ctl->results[k] == out->results[k])
        {
          printf("#   %s: same outcome (%ld) without the filter\n", dp_names[k], ctl->results[k]);
          CHECK(0);
        }
    }
}

static void test_default_profile_in_kernel(void)
{
  struct skiff_seccomp *p = seccomp_default_profile_struct(NULL, 0, 0);
  struct default_arg none = {.mode = LOAD_NONE}, lib = {.mode = LOAD_LIBSECCOMP, .profile = p};
  struct child_out ctl, out;
  run_child(child_default, &none, &ctl);
  run_child(child_default, &lib, &out);
  check_default_denials(&ctl, &out);
  seccomp_profile_free(p);
}

static void test_default_profile_with_sys_admin(void)
{
  const char *caps[] = {"CAP_SYS_ADMIN", "CAP_CHOWN", NULL};
  struct skiff_seccomp *p = seccomp_default_profile_struct(caps, 0, 0);
  struct default_arg lib = {.mode = LOAD_LIBSECCOMP, .profile = p};
  struct child_out out;
  run_child(child_default, &lib, &out);
  CHECK(out.status == 0 && out.n == DP_COUNT);
  CHECK(out.results[DP_UNSHARE_USER] == 0);
  CHECK(out.results[DP_CLONE_NEWUSER] == 0);
  CHECK(out.results[DP_CLONE3] != ENOSYS && out.results[DP_CLONE3] != EPERM);
  CHECK(out.results[DP_MOUNT] == ENOENT);
  CHECK(out.results[DP_KEYCTL] == EPERM);       /* never allowed */
  CHECK(out.results[DP_CHROOT] == EPERM);       /* no CAP_SYS_CHROOT this time */
  CHECK(out.results[DP_SOCKET_VSOCK] == EPERM); /* not a capability matter */
  seccomp_profile_free(p);
}

/* Export to BPF (as a cache would), load the raw program: same behaviour. */
static int export_profile(const struct skiff_seccomp *p, char **buf, size_t *len)
{
  struct skiff_err *err = NULL;
  int fd = memfd_create("skiff-bpf", MFD_CLOEXEC);
  if (fd < 0)
    return -1;
  if (seccomp_profile_export_bpf(p, fd, &err) < 0)
    {
      printf("#   %s\n", err->msg);
      skiff_err_free(&err);
      close(fd);
      return -1;
    }
  off_t size = lseek(fd, 0, SEEK_END);
  *buf = xmalloc((size_t)size);
  *len = (size_t)size;
  ssize_t r = pread(fd, *buf, (size_t)size, 0);
  close(fd);
  return r == size ? 0 : -1;
}

static void test_export_and_load_bpf(void)
{
  struct skiff_seccomp *p = seccomp_default_profile_struct(NULL, 0, 0);
  char *bpf = NULL;
  size_t len = 0;
  CHECK(export_profile(p, &bpf, &len) == 0);
  CHECK(len > 0 && len % 8 == 0);

  struct default_arg none = {.mode = LOAD_NONE};
  struct default_arg viabpf = {.mode = LOAD_BPF, .bpf = bpf, .len = len};
  struct child_out ctl, out;
  run_child(child_default, &none, &ctl);
  run_child(child_default, &viabpf, &out);
  check_default_denials(&ctl, &out);

  /* a length that is not a whole program is refused before the kernel sees it */
  struct skiff_err *err = NULL;
  CHECK(seccomp_load_bpf(bpf, 5, &err) < 0);
  CHECK(err && strstr(err->msg, "not a program"));
  skiff_err_free(&err);
  free(bpf);
  seccomp_profile_free(p);
}

/* ---- flags and the no_new_privs requirement ---- */

static char *all_flags[] = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                            "SECCOMP_FILTER_FLAG_TSYNC", NULL};

static int child_status_seccomp(void *arg, long *r, int *n, char *msg, size_t msglen)
{
  struct skiff_err *err = NULL;
  if (seccomp_apply(arg, &err) < 0)
    {
      snprintf(msg, msglen, "%s", err->msg);
      return 2;
    }
  char *status = NULL;
  if (skiff_read_file("/proc/self/status", &status, NULL, NULL) < 0)
    return 3;
  const char *s = strstr(status, "\nSeccomp:");
  r[0] = s ? strtol(s + 9, NULL, 10) : -1;
  *n = 1;
  char buf[64];
  r[1] = outcome(syscall(SYS_getcwd, buf, sizeof(buf)));
  *n = 2;
  return 0;
}

static void test_flags(void)
{
  struct skiff_seccomp p = small_profile;
  p.flags = all_flags;
  unsigned kflags = 0;
  struct skiff_err *err = NULL;
  CHECK(seccomp_kernel_flags(&p, &kflags, &err) == 0);
  CHECK(kflags
        == (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_TSYNC));
  skiff_err_free(&err);

  struct child_out out;
  run_child(child_status_seccomp, &p, &out);
  CHECK(out.status == 0 && out.n == 2);
  CHECK(out.results[0] == 2); /* SECCOMP_MODE_FILTER */
  CHECK(out.results[1] == EPERM);
}

static int child_without_privilege(void *arg, long *r, int *n, char *msg, size_t msglen)
{
  struct skiff_err *err = NULL;
  (void)r;
  (void)n;
  cap_t c = cap_get_proc();
  cap_value_t admin = CAP_SYS_ADMIN;
  if (c == NULL || cap_set_flag(c, CAP_EFFECTIVE, 1, &admin, CAP_CLEAR) < 0 || cap_set_proc(c) < 0)
    return 5;
  cap_free(c);
  if (seccomp_apply(arg, &err) == 0)
    return 3;
  snprintf(msg, msglen, "%s", err->msg);
  /* libseccomp must not have set no_new_privs behind the spec's back */
  return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0 ? 0 : 4;
}

static void test_needs_nnp_or_sys_admin(void)
{
  struct child_out out;
  run_child(child_without_privilege, &small_profile, &out);
  CHECK(out.status == 0);
  CHECK_CONTAINS(out.msg, "seccomp_load");
  CHECK_CONTAINS(out.msg, "Permission denied");
}

/* ---- start latency: compile+load vs loading a cached program ---- */

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int child_timed(void *arg, long *r, int *n, char *msg, size_t msglen)
{
  struct default_arg *a = arg;
  struct skiff_err *err = NULL;
  double t0 = now_us();
  int ret = a->mode == LOAD_LIBSECCOMP ? seccomp_apply(a->profile, &err)
                                       : seccomp_load_bpf(a->bpf, a->len, &err);
  double t1 = now_us();
  if (ret < 0)
    {
      snprintf(msg, msglen, "%s", err->msg);
      return 2;
    }
  r[0] = (long)(t1 - t0);
  *n = 1;
  return 0;
}

static int cmp_long(const void *a, const void *b)
{
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

static long median_us(struct default_arg *a, int runs)
{
  long v[64];
  int got = 0;
  for (int i = 0; i < runs && i < 64; i++)
    {
      struct child_out out;
      run_child(child_timed, a, &out);
      if (out.status == 0 && out.n == 1)
        v[got++] = out.results[0];
    }
  if (got != runs)
    return -1;
  qsort(v, (size_t)got, sizeof(long), cmp_long);
  return v[got / 2];
}

static void test_measure_compile_vs_cached(void)
{
  struct skiff_seccomp *p = seccomp_default_profile_struct(NULL, 0, 0);
  char *bpf = NULL;
  size_t len = 0;
  CHECK(export_profile(p, &bpf, &len) == 0);
  struct default_arg lib = {.mode = LOAD_LIBSECCOMP, .profile = p};
  struct default_arg cached = {.mode = LOAD_BPF, .bpf = bpf, .len = len};
  long t_lib = median_us(&lib, 21);
  long t_bpf = median_us(&cached, 21);
  CHECK(t_lib > 0 && t_bpf >= 0);
  printf("# default profile (%zu BPF instructions): seccomp_apply median %ld us, "
         "seccomp_load_bpf of the cached program median %ld us (21 runs each)\n",
         len / 8, t_lib, t_bpf);
  free(bpf);
  seccomp_profile_free(p);
}

int main(void)
{
  RUN_TEST(test_apply_small_profile);
  RUN_TEST(test_errors_name_the_rule);
  RUN_TEST(test_default_profile_json);
  RUN_TEST(test_default_profile_in_kernel);
  RUN_TEST(test_default_profile_with_sys_admin);
  RUN_TEST(test_export_and_load_bpf);
  RUN_TEST(test_flags);
  RUN_TEST(test_needs_nnp_or_sys_admin);
  RUN_TEST(test_measure_compile_vs_cached);
  return CHECK_DONE();
}
