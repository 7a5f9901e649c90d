/* seccomp_profile.c - Docker's default seccomp profile as static tables (util-linux
 * style), resolved for this host's architecture, the kernel and the container's
 * capabilities exactly as dockerd resolves its default.json before handing it to the
 * runtime; and any profile struct written as the OCI "linux.seccomp" JSON object.
 *
 * The default action is ERRNO(EPERM): everything not listed below is denied.  Notably
 * denied unless a capability says otherwise: keyctl, add_key, request_key (the kernel
 * keyring is not namespaced), kexec_load/kexec_file_load, userfaultfd (a primitive of
 * many kernel exploits), swapon/swapoff, io_uring_* (same), mount/umount2/unshare/setns,
 * bpf, perf_event_open, the module calls, open_by_handle_at (the "shocker" breakout). */
#define _GNU_SOURCE
#include "seccomp.h"
#include "caps.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

/* Host architectures as Docker names them in "includes.arches" (Go's GOARCH). */
enum
{
  ARCH_AMD64 = 1 << 0,
  ARCH_X32 = 1 << 1,
  ARCH_386 = 1 << 2,
  ARCH_ARM64 = 1 << 3,
  ARCH_ARM = 1 << 4,
  ARCH_PPC64LE = 1 << 5,
  ARCH_S390X = 1 << 6,
  ARCH_RISCV64 = 1 << 7,
  ARCH_OTHER = 1 << 8,
};

#if defined(__x86_64__) && defined(__ILP32__)
#define HOST_ARCH ARCH_X32
static const char *const host_seccomp_arches[]
    = {"SCMP_ARCH_X32", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", NULL};
#elif defined(__x86_64__)
#define HOST_ARCH ARCH_AMD64
static const char *const host_seccomp_arches[]
    = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", NULL};
#elif defined(__i386__)
#define HOST_ARCH ARCH_386
static const char *const host_seccomp_arches[] = {"SCMP_ARCH_X86", NULL};
#elif defined(__aarch64__)
#define HOST_ARCH ARCH_ARM64
static const char *const host_seccomp_arches[] = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", NULL};
#elif defined(__arm__)
#define HOST_ARCH ARCH_ARM
static const char *const host_seccomp_arches[] = {"SCMP_ARCH_ARM", NULL};
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define HOST_ARCH ARCH_PPC64LE
static const char *const host_seccomp_arches[] = {"SCMP_ARCH_PPC64LE", NULL};
#elif defined(__s390x__)
#define HOST_ARCH ARCH_S390X
static const char *const host_seccomp_arches[] = {"SCMP_ARCH_S390X", "SCMP_ARCH_S390", NULL};
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_ARCH ARCH_RISCV64
static const char *const host_seccomp_arches[] = {"SCMP_ARCH_RISCV64", NULL};
#else
#define HOST_ARCH ARCH_OTHER
static const char *const host_seccomp_arches[] = {NULL};
#endif

/* clone() flags that create namespaces: without CAP_SYS_ADMIN clone is allowed only when
 * (flags & mask) == 0, so a container cannot make new namespaces (2114060288). */
#define CLONE_NS_MASK                                                                              \
  ((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID             \
              | CLONE_NEWNET | CLONE_NEWCGROUP))
#define AF_VSOCK_FAMILY 40 /* AF_VSOCK: host<->guest sockets are not for containers */

struct profile_rule
{
  const char *const *names;
  enum skiff_seccomp_action action;
  unsigned errno_ret; /* 0: none */
  struct skiff_seccomp_arg arg;
  bool has_arg;
  const char *need_cap;   /* kept only when the container holds this capability */
  const char *unless_cap; /* dropped when the container holds this capability */
  unsigned arches;        /* kept only on these host arches; 0 = all */
  unsigned not_arches;    /* dropped on these host arches */
  unsigned min_kernel;    /* KV(major, minor); 0 = any */
};

#define KV(a, b) ((a)*1000u + (b))
#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ARG(i, v, o) .arg = {.index = (i), .value = (v), .op = (o)}, .has_arg = true
#define ALLOW .action = SKIFF_SECCOMP_ALLOW

/* Allowed for every container, grouped by what they touch. */
/* clang-format off */
static const char *const allow_files[] = {
  "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range",
  "creat", "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
  "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
  "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fremovexattr",
  "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
  "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr", "inotify_add_watch",
  "inotify_init", "inotify_init1", "inotify_rm_watch", "ioctl", "lchown", "lchown32", "lgetxattr",
  "link", "linkat", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr",
  "lstat", "lstat64", "mkdir", "mkdirat", "mknod", "mknodat", "name_to_handle_at", "newfstatat",
  "open", "openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2",
  "read", "readahead", "readlink", "readlinkat", "readv", "removexattr", "rename", "renameat",
  "renameat2", "rmdir", "sendfile", "sendfile64", "setxattr", "splice", "stat", "stat64", "statfs",
  "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee",
  "truncate", "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat",
  "utimensat_time64", "utimes", "vmsplice", "write", "writev", "cachestat", NULL,
};

static const char *const allow_io_events[] = {
  "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
  "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "io_cancel", "io_destroy", "io_getevents",
  "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit", "_newselect", "pipe", "pipe2",
  "poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64", "select", "signalfd",
  "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
  "timerfd_settime64", NULL,
};

static const char *const allow_memory[] = {
  "brk", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore",
  "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "msync", "munlock",
  "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages", NULL,
};

static const char *const allow_process[] = {
  "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "getcpu", "getegid",
  "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getpgid",
  "getpgrp", "getpid", "getppid", "getpriority", "getresgid", "getresgid32", "getresuid",
  "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "get_thread_area",
  "gettid", "getuid", "getuid32", "ioprio_get", "ioprio_set", "landlock_add_rule",
  "landlock_create_ruleset", "landlock_restrict_self", "pidfd_open", "pidfd_send_signal", "prctl",
  "prlimit64", "process_mrelease", "rseq", "sched_getaffinity", "sched_getattr", "sched_getparam",
  "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
  "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
  "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "setfsgid", "setfsgid32",
  "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setpgid",
  "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
  "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "set_thread_area",
  "set_tid_address", "setuid", "setuid32", "ugetrlimit", "uname", "vfork", "wait4", "waitid",
  "waitpid", "sysinfo", NULL,
};

static const char *const allow_signals_time[] = {
  "alarm", "getitimer", "kill", "pause", "restart_syscall", "rt_sigaction", "rt_sigpending",
  "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
  "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "setitimer", "sigaltstack", "sigprocmask",
  "sigreturn", "tgkill", "tkill", "adjtimex", "clock_adjtime", "clock_adjtime64", "clock_getres",
  "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
  "clock_nanosleep_time64", "gettimeofday", "nanosleep", "time", "timer_create", "timer_delete",
  "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
  "times", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
  NULL,
};

static const char *const allow_ipc_net[] = {
  "accept", "accept4", "bind", "connect", "getpeername", "getrandom", "getsockname", "getsockopt",
  "ipc", "listen", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
  "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl", "msgget",
  "msgrcv", "msgsnd", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "semctl",
  "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendmmsg", "sendmsg", "sendto",
  "setsockopt", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "socketcall", "socketpair", NULL,
};
/* clang-format on */

static const struct profile_rule profile_rules[] = {
    {.names = allow_files, ALLOW},
    {.names = allow_io_events, ALLOW},
    {.names = allow_memory, ALLOW},
    {.names = allow_process, ALLOW},
    {.names = allow_signals_time, ALLOW},
    {.names = allow_ipc_net, ALLOW},
    /* before 4.8 ptrace could bypass seccomp */
    {.names = NAMES("process_vm_readv", "process_vm_writev", "ptrace"),
     ALLOW,
     .min_kernel = KV(4, 8)},
    {.names = NAMES("socket"), ALLOW, ARG(0, AF_VSOCK_FAMILY, SKIFF_OP_NE)},
    /* personality: PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26 and the query */
    {.names = NAMES("personality"), ALLOW, ARG(0, 0x0, SKIFF_OP_EQ)},
    {.names = NAMES("personality"), ALLOW, ARG(0, 0x8, SKIFF_OP_EQ)},
    {.names = NAMES("personality"), ALLOW, ARG(0, 0x20000, SKIFF_OP_EQ)},
    {.names = NAMES("personality"), ALLOW, ARG(0, 0x20008, SKIFF_OP_EQ)},
    {.names = NAMES("personality"), ALLOW, ARG(0, 0xffffffff, SKIFF_OP_EQ)},
    /* architecture-specific calls */
    {.names = NAMES("sync_file_range2", "swapcontext"), ALLOW, .arches = ARCH_PPC64LE},
    {.names = NAMES("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
                    "cacheflush", "set_tls"),
     ALLOW,
     .arches = ARCH_ARM | ARCH_ARM64},
    {.names = NAMES("arch_prctl"), ALLOW, .arches = ARCH_AMD64 | ARCH_X32},
    {.names = NAMES("modify_ldt"), ALLOW, .arches = ARCH_AMD64 | ARCH_X32 | ARCH_386},
    {.names = NAMES("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
     ALLOW,
     .arches = ARCH_S390X},
    {.names = NAMES("riscv_flush_icache"), ALLOW, .arches = ARCH_RISCV64},
    /* capability-gated groups */
    {.names = NAMES("open_by_handle_at"), ALLOW, .need_cap = "CAP_DAC_READ_SEARCH"},
    {.names = NAMES("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
                    "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
                    "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
                    "setns", "syslog", "umount", "umount2", "unshare"),
     ALLOW,
     .need_cap = "CAP_SYS_ADMIN"},
    /* s390 passes the flags as the second argument of clone */
    {.names = NAMES("clone"),
     ALLOW,
     ARG(0, CLONE_NS_MASK, SKIFF_OP_MASKED_EQ),
     .unless_cap = "CAP_SYS_ADMIN",
     .not_arches = ARCH_S390X},
    {.names = NAMES("clone"),
     ALLOW,
     ARG(1, CLONE_NS_MASK, SKIFF_OP_MASKED_EQ),
     .unless_cap = "CAP_SYS_ADMIN",
     .arches = ARCH_S390X},
    /* clone3 passes its flags in memory, out of seccomp's reach: ENOSYS makes libc fall
     * back to clone, which the rule above can inspect */
    {.names = NAMES("clone3"),
     .action = SKIFF_SECCOMP_ERRNO,
     .errno_ret = ENOSYS,
     .unless_cap = "CAP_SYS_ADMIN"},
    {.names = NAMES("reboot"), ALLOW, .need_cap = "CAP_SYS_BOOT"},
    {.names = NAMES("chroot"), ALLOW, .need_cap = "CAP_SYS_CHROOT"},
    {.names = NAMES("delete_module", "init_module", "finit_module"),
     ALLOW,
     .need_cap = "CAP_SYS_MODULE"},
    {.names = NAMES("acct"), ALLOW, .need_cap = "CAP_SYS_PACCT"},
    {.names = NAMES("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
                    "process_vm_writev", "ptrace"),
     ALLOW,
     .need_cap = "CAP_SYS_PTRACE"},
    {.names = NAMES("iopl", "ioperm"), ALLOW, .need_cap = "CAP_SYS_RAWIO"},
    {.names = NAMES("settimeofday", "stime", "clock_settime", "clock_settime64"),
     ALLOW,
     .need_cap = "CAP_SYS_TIME"},
    {.names = NAMES("vhangup"), ALLOW, .need_cap = "CAP_SYS_TTY_CONFIG"},
    {.names = NAMES("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
     ALLOW,
     .need_cap = "CAP_SYS_NICE"},
    {.names = NAMES("syslog"), ALLOW, .need_cap = "CAP_SYSLOG"},
    {.names = NAMES("bpf"), ALLOW, .need_cap = "CAP_BPF"},
    {.names = NAMES("perf_event_open"), ALLOW, .need_cap = "CAP_PERFMON"},
};

static bool holds_cap(const char *const *caps, const char *cap)
{
  for (size_t i = 0; caps && caps[i]; i++)
    if (strcasecmp(caps[i], cap) == 0)
      return true;
  return false;
}

static char **dup_strv(const char *const *v)
{
  size_t n = 0;
  while (v[n])
    n++;
  char **out = xzalloc((n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++)
    out[i] = xstrdup(v[i]);
  return out;
}

static unsigned running_kernel(void)
{
  struct utsname u;
  unsigned major = 0, minor = 0;
  if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2)
    return KV(major, minor);
  return 0; /* unknown: rules with a minimum kernel are left out (the safe side) */
}

struct skiff_seccomp *seccomp_default_profile_struct(const char *const *caps, unsigned kernel_major,
                                                     unsigned kernel_minor)
{
  const size_t n_rules = sizeof(profile_rules) / sizeof(profile_rules[0]);
  unsigned kernel = kernel_major ? KV(kernel_major, kernel_minor) : running_kernel();
  struct skiff_seccomp *p = xzalloc(sizeof(*p));

  if (caps == NULL)
    caps = caps_docker_default;
  p->default_action = SKIFF_SECCOMP_ERRNO;
  p->has_default_errno = true;
  p->default_errno_ret = EPERM;
  p->architectures = dup_strv(host_seccomp_arches);
  p->syscalls = xzalloc(n_rules * sizeof(*p->syscalls));
  for (size_t i = 0; i < n_rules; i++)
    {
      const struct profile_rule *r = &profile_rules[i];
      if (r->need_cap && !holds_cap(caps, r->need_cap))
        continue;
      if (r->unless_cap && holds_cap(caps, r->unless_cap))
        continue;
      if ((r->arches && !(r->arches & HOST_ARCH)) || (r->not_arches & HOST_ARCH))
        continue;
      if (r->min_kernel && kernel < r->min_kernel)
        continue;
      struct skiff_seccomp_rule *out = &p->syscalls[p->n_syscalls++];
      out->names = dup_strv(r->names);
      out->action = r->action;
      out->has_errno = r->errno_ret != 0;
      out->errno_ret = r->errno_ret;
      if (r->has_arg)
        {
          out->args = xmalloc(sizeof(*out->args));
          out->args[0] = r->arg;
          out->n_args = 1;
        }
    }
  return p;
}

static void free_strv(char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

void seccomp_profile_free(struct skiff_seccomp *p)
{
  if (p == NULL)
    return;
  free_strv(p->architectures);
  free_strv(p->flags);
  for (size_t i = 0; i < p->n_syscalls; i++)
    {
      free_strv(p->syscalls[i].names);
      free(p->syscalls[i].args);
    }
  free(p->syscalls);
  free(p->canonical);
  free(p);
}

static json_t *strv_to_json(char *const *v)
{
  json_t *a = json_array();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

json_t *seccomp_profile_to_json(const struct skiff_seccomp *p)
{
  json_t *o = json_object();
  const char *def = seccomp_action_name(p->default_action);

  json_object_set_new(o, "defaultAction", json_string(def ? def : "SCMP_ACT_ERRNO"));
  if (p->has_default_errno)
    json_object_set_new(o, "defaultErrnoRet", json_integer(p->default_errno_ret));
  if (p->architectures)
    json_object_set_new(o, "architectures", strv_to_json(p->architectures));
  if (p->flags)
    json_object_set_new(o, "flags", strv_to_json(p->flags));
  json_t *calls = json_array();
  for (size_t i = 0; i < p->n_syscalls; i++)
    {
      const struct skiff_seccomp_rule *r = &p->syscalls[i];
      const char *an = seccomp_action_name(r->action);
      json_t *rule = json_object();
      json_object_set_new(rule, "names", strv_to_json(r->names));
      json_object_set_new(rule, "action", json_string(an ? an : "SCMP_ACT_ERRNO"));
      if (r->has_errno)
        json_object_set_new(rule, "errnoRet", json_integer(r->errno_ret));
      if (r->n_args)
        {
          json_t *args = json_array();
          for (size_t a = 0; a < r->n_args; a++)
            {
              const char *on = seccomp_op_name(r->args[a].op);
              json_t *arg = json_object();
              json_object_set_new(arg, "index", json_integer(r->args[a].index));
              json_object_set_new(arg, "value", json_integer((json_int_t)r->args[a].value));
              json_object_set_new(arg, "valueTwo", json_integer((json_int_t)r->args[a].value_two));
              json_object_set_new(arg, "op", json_string(on ? on : "SCMP_CMP_EQ"));
              json_array_append_new(args, arg);
            }
          json_object_set_new(rule, "args", args);
        }
      json_array_append_new(calls, rule);
    }
  json_object_set_new(o, "syscalls", calls);
  return o;
}

json_t *seccomp_default_profile(const char *const *caps)
{
  struct skiff_seccomp *p = seccomp_default_profile_struct(caps, 0, 0);
  json_t *j = seccomp_profile_to_json(p);
  seccomp_profile_free(p);
  return j;
}
