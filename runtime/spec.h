/* spec.h - the OCI runtime configuration (config.json) as C structs.
 *
 * spec.c parses and validates config.json into struct skiff_spec (jansson), and
 * generates the default config that `skiff spec` writes.  Every other module reads
 * the struct and never touches JSON.  Arrays are NULL-terminated (char **) or carry
 * an explicit count.  Optional numbers carry a has_ flag. */
#ifndef SKIFF_SPEC_H
#define SKIFF_SPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

/* GNU C predefines `linux` as 1; the build uses -std=c11, this keeps gnu11 builds
 * (fuzzers, editors) working with the `linux` member below. */
#ifdef linux
#undef linux
#endif

struct skiff_rlimit
{
  int resource; /* RLIMIT_* */
  char *type;   /* "RLIMIT_NOFILE" as written */
  uint64_t soft, hard;
};

struct skiff_caps
{
  char **bounding, **effective, **permitted, **inheritable, **ambient; /* "CAP_SYS_ADMIN" */
};

struct skiff_user
{
  uid_t uid;
  gid_t gid;
  bool has_umask;
  mode_t umask;
  gid_t *additional_gids;
  size_t n_additional_gids;
};

struct skiff_process
{
  bool terminal;
  unsigned console_height, console_width;
  struct skiff_user user;
  char **args; /* argv, at least one element */
  char **env;  /* "K=V" */
  char *cwd;   /* absolute path inside the container */
  struct skiff_caps caps;
  bool has_caps;
  struct skiff_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  char *apparmor_profile, *selinux_label; /* accepted, not applied */
  bool has_oom_score_adj;
  int oom_score_adj;
};

enum skiff_ns_type
{
  SKIFF_NS_PID,
  SKIFF_NS_NETWORK,
  SKIFF_NS_MOUNT,
  SKIFF_NS_IPC,
  SKIFF_NS_UTS,
  SKIFF_NS_USER,
  SKIFF_NS_CGROUP,
  SKIFF_NS_TIME,
  SKIFF_NS_COUNT
};

struct skiff_namespace
{
  enum skiff_ns_type type;
  char *path; /* NULL: create a new one; else join (setns) */
};

struct skiff_idmap
{
  uint32_t container_id, host_id, size;
};

struct skiff_mount
{
  char *destination; /* absolute, inside the container */
  char *type;        /* "bind", "proc", "tmpfs", ... may be NULL for bind */
  char *source;
  char **options; /* raw option strings as in config.json */
  /* Derived by spec.c from options: */
  unsigned long flags;       /* MS_* set (MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC ...) */
  unsigned long clear_flags; /* MS_* that options explicitly clear ("rw", "suid"...) */
  unsigned long propagation; /* MS_PRIVATE|MS_SLAVE|MS_SHARED|MS_UNBINDABLE (+MS_REC) or 0 */
  char *data;                /* remaining fs-specific options joined by ',' ("mode=755") */
  bool is_bind;              /* type "bind" or option bind/rbind */
};

struct skiff_device
{
  char *path;
  char type; /* 'c', 'b', 'u', 'p' */
  int64_t major, minor;
  bool has_mode;
  mode_t file_mode;
  bool has_uid, has_gid;
  uid_t uid;
  gid_t gid;
};

struct skiff_device_cgroup
{
  bool allow;
  char type;            /* 'a', 'c', 'b' */
  int64_t major, minor; /* -1 = wildcard */
  char *access;         /* "rwm" */
};

struct skiff_resources
{
  /* memory, bytes; -1 for unlimited where OCI allows it */
  bool has_memory_limit, has_memory_reservation, has_memory_swap;
  int64_t memory_limit, memory_reservation, memory_swap;
  /* cpu */
  bool has_cpu_shares, has_cpu_quota, has_cpu_period;
  uint64_t cpu_shares; /* v1 shares; v2 weight derived by cgroup_v2.c */
  int64_t cpu_quota;   /* microseconds; -1 unlimited */
  uint64_t cpu_period;
  char *cpuset_cpus, *cpuset_mems;
  /* pids */
  bool has_pids_limit;
  int64_t pids_limit; /* -1 or 0 unlimited */
  struct skiff_device_cgroup *devices;
  size_t n_devices;
  /* "unified": key/value pairs written verbatim on cgroup v2 (NULL-terminated pairs) */
  char **unified; /* k0, v0, k1, v1, ..., NULL */
};

enum skiff_seccomp_action
{
  SKIFF_SECCOMP_KILL,         /* SCMP_ACT_KILL / KILL_THREAD */
  SKIFF_SECCOMP_KILL_PROCESS, /* SCMP_ACT_KILL_PROCESS */
  SKIFF_SECCOMP_TRAP,
  SKIFF_SECCOMP_ERRNO,
  SKIFF_SECCOMP_TRACE,
  SKIFF_SECCOMP_ALLOW,
  SKIFF_SECCOMP_LOG,
  SKIFF_SECCOMP_NOTIFY,
};

enum skiff_seccomp_op
{
  SKIFF_OP_NE,
  SKIFF_OP_LT,
  SKIFF_OP_LE,
  SKIFF_OP_EQ,
  SKIFF_OP_GE,
  SKIFF_OP_GT,
  SKIFF_OP_MASKED_EQ,
};

struct skiff_seccomp_arg
{
  unsigned index;
  uint64_t value, value_two;
  enum skiff_seccomp_op op;
};

struct skiff_seccomp_rule
{
  char **names; /* syscall names */
  enum skiff_seccomp_action action;
  bool has_errno;
  unsigned errno_ret;
  struct skiff_seccomp_arg *args;
  size_t n_args;
};

struct skiff_seccomp
{
  enum skiff_seccomp_action default_action;
  bool has_default_errno;
  unsigned default_errno_ret;
  char **architectures; /* "SCMP_ARCH_X86_64" */
  char **flags;         /* "SECCOMP_FILTER_FLAG_LOG" ... */
  struct skiff_seccomp_rule *syscalls;
  size_t n_syscalls;
  /* linux.seccomp as compact JSON with sorted keys, kept by spec_parse so the filter
     cache (seccomp_cache.c) keys on it without parsing config.json again; may be NULL */
  char *canonical;
};

struct skiff_hook
{
  char *path;
  char **args, **env;
  bool has_timeout;
  int timeout; /* seconds */
};

enum skiff_hook_kind
{
  SKIFF_HOOK_PRESTART,
  SKIFF_HOOK_CREATE_RUNTIME,
  SKIFF_HOOK_CREATE_CONTAINER,
  SKIFF_HOOK_START_CONTAINER,
  SKIFF_HOOK_POSTSTART,
  SKIFF_HOOK_POSTSTOP,
  SKIFF_HOOK_KINDS
};

struct skiff_linux
{
  struct skiff_namespace *namespaces;
  size_t n_namespaces;
  struct skiff_idmap *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  struct skiff_device *devices;
  size_t n_devices;
  char *cgroups_path; /* NULL: runtime picks "/skiff/<id>" */
  bool has_resources;
  struct skiff_resources resources;
  char *rootfs_propagation; /* "private", "rprivate", "slave", "rslave", "shared", "rshared" */
  char **masked_paths, **readonly_paths;
  char *mount_label;
  char **sysctl; /* k0, v0, k1, v1, ..., NULL */
  bool has_seccomp;
  struct skiff_seccomp seccomp;
};

struct skiff_spec
{
  char *oci_version;
  bool oci_version_unknown; /* not 1.x: read as 1.x, create warns */
  char *root_path;          /* as written; relative to the bundle when not absolute */
  bool root_readonly;
  char *hostname, *domainname;
  struct skiff_process process;
  bool has_process;
  struct skiff_mount *mounts;
  size_t n_mounts;
  struct skiff_hook *hooks[SKIFF_HOOK_KINDS];
  size_t n_hooks[SKIFF_HOOK_KINDS];
  char **annotations; /* k0, v0, ..., NULL */
  struct skiff_linux linux;
};

/* Parse and validate a config.json text.  On error *err says which field is wrong and
 * why, e.g. linux.namespaces[2].type: unknown namespace "foo". */
int spec_parse(const char *json_text, size_t len, struct skiff_spec **out, struct skiff_err **err);
/* Read <bundle>/config.json and parse it. */
int spec_load(const char *bundle, struct skiff_spec **out, struct skiff_err **err);
void spec_free(struct skiff_spec *spec);
/* A process object alone (runc's `exec --process FILE`), validated as process is in a
 * config.json; spec_process_free frees it. */
int spec_parse_process(const char *json_text, size_t len, struct skiff_process **out,
                       struct skiff_err **err);
void spec_process_free(struct skiff_process *p);
/* A linux.resources object alone (runc's `update -r FILE`); spec_resources_free frees
 * what it holds. */
int spec_parse_resources(const char *json_text, size_t len, struct skiff_resources *out,
                         struct skiff_err **err);
void spec_resources_free(struct skiff_resources *r);
static inline void cleanup_specp(struct skiff_spec **s)
{
  if (*s)
    spec_free(*s);
}
#define cleanup_spec __attribute__((cleanup(cleanup_specp)))

/* Has the spec a namespace of this type?  Returns the entry or NULL. */
const struct skiff_namespace *spec_find_namespace(const struct skiff_spec *spec,
                                                  enum skiff_ns_type type);
/* "pid" -> SKIFF_NS_PID (also "network"); -1 when unknown. */
int spec_ns_type_from_name(const char *name);
const char *spec_ns_type_name(enum skiff_ns_type type);
int spec_ns_clone_flag(enum skiff_ns_type type); /* CLONE_NEWPID ... */
/* Name of the hook kind as in config.json: "prestart", "createRuntime" ... */
const char *spec_hook_kind_name(enum skiff_hook_kind kind);
/* Name under /proc/<pid>/ns/: "net", "mnt", "pid" ... */
const char *spec_ns_proc_name(enum skiff_ns_type type);
/* "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 when unknown. */
int spec_rlimit_from_name(const char *name);
/* (Re)derive flags, clear_flags, propagation, data and is_bind from m->options and
 * m->type.  spec_parse does it; callers that build mounts by hand may call it too. */
void spec_mount_apply_options(struct skiff_mount *m);

/* The default config.json that `skiff spec` writes (rootless = false): busybox-friendly
 * `sh`, Docker's 14 capabilities, default mounts, Docker's masked/readonly paths and
 * Docker's default seccomp profile.  Returns a malloc'd, pretty-printed JSON text. */
char *spec_default_json(void);
/* The OCI features document that `skiff features` prints (malloc'd JSON text). */
char *spec_features_json(void);

#endif
