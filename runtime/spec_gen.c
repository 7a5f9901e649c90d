/* spec_gen.c - the JSON documents skiff writes rather than reads: the default
 * config.json of `skiff spec` (runc's, with Docker's capability set, masked/readonly
 * paths and seccomp profile) and the OCI features document of `skiff features`. */
#include "spec_json.h"
#include "caps.h"
#include "seccomp.h"

#include <libseccomp.h>

#include <ctype.h>
#include <string.h>
#include <sys/capability.h>

/* Docker's defaults (moby oci/defaults.go). */
static const char *const default_masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    NULL,
};
static const char *const default_readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};
static const char *const default_namespaces[] = {
    "pid", "network", "ipc", "uts", "mount", "cgroup", NULL,
};

static json_t *strv_json(const char *const *v)
{
  json_t *a = json_array();
  for (; v && *v; v++)
    json_array_append_new(a, json_string(*v));
  return a;
}

static json_t *mount_json(const char *dest, const char *type, const char *source,
                          const char *const *opts)
{
  json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", source);
  if (opts)
    json_object_set_new(m, "options", strv_json(opts));
  return m;
}

/* runc spec's mounts. */
static json_t *default_mounts(void)
{
  static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
  static const char *const pts[]
      = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL};
  static const char *const shm[] = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL};
  static const char *const mqueue[] = {"nosuid", "noexec", "nodev", NULL};
  static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
  static const char *const cgroup[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};
  json_t *a = json_array();
  json_array_append_new(a, mount_json("/proc", "proc", "proc", NULL));
  json_array_append_new(a, mount_json("/dev", "tmpfs", "tmpfs", dev));
  json_array_append_new(a, mount_json("/dev/pts", "devpts", "devpts", pts));
  json_array_append_new(a, mount_json("/dev/shm", "tmpfs", "shm", shm));
  json_array_append_new(a, mount_json("/dev/mqueue", "mqueue", "mqueue", mqueue));
  json_array_append_new(a, mount_json("/sys", "sysfs", "sysfs", sys));
  json_array_append_new(a, mount_json("/sys/fs/cgroup", "cgroup", "cgroup", cgroup));
  return a;
}

char *spec_default_json(void)
{
  const char *const *caps = (const char *const *)caps_docker_default;
  json_t *process = json_pack(
      /* runc writes terminal: true; skiff writes false so that `skiff run` works from a
       * script or CI job without a tty and without --console-socket. */
      "{s:b, s:{s:i, s:i}, s:[s], s:[s, s], s:s, s:{s:o, s:o, s:o}, s:[{s:s, s:i, s:i}], s:b}",
      "terminal", 0, "user", "uid", 0, "gid", 0, "args", "sh", "env",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "cwd", "/",
      "capabilities", "bounding", strv_json(caps), "effective", strv_json(caps), "permitted",
      strv_json(caps), "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024,
      "noNewPrivileges", 1);
  json_t *namespaces = json_array();
  for (const char *const *n = default_namespaces; *n; n++)
    json_array_append_new(namespaces, json_pack("{s:s}", "type", *n));
  json_t *seccomp = seccomp_default_profile(NULL);
  json_t *linux_obj = json_pack(
      "{s:{s:[{s:b, s:s}]}, s:o, s:o, s:o}",
      /* Deny every device node by default; the runtime allows its default devices. */
      "resources", "devices", "allow", 0, "access", "rwm", "namespaces", namespaces, "maskedPaths",
      strv_json(default_masked_paths), "readonlyPaths", strv_json(default_readonly_paths));
  if (seccomp)
    json_object_set_new(linux_obj, "seccomp", seccomp);
  json_t *doc = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.1.0",
                          "process", process, "root", "path", "rootfs", "readonly", 0, "hostname",
                          "skiff", "mounts", default_mounts(), "linux", linux_obj);
  if (doc == NULL)
    abort(); /* only a format string mistake or OOM gets here */
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(doc);
  if (text == NULL)
    abort();
  return text;
}

/* The OCI spellings; the features document lists those seccomp.c can apply. */
static const char *const oci_seccomp_actions[] = {
    "SCMP_ACT_KILL",         "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",        "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",       NULL,
};
static const char *const oci_seccomp_ops[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL,
};
static const char *const oci_seccomp_archs[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",        NULL,
};
static const char *const oci_seccomp_flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    NULL,
};

static bool action_known(const char *name)
{
  return seccomp_action_from_name(name) >= 0;
}

static bool op_known(const char *name)
{
  return seccomp_op_from_name(name) >= 0;
}

/* The names of v that known() accepts. */
static json_t *filtered_json(const char *const *v, bool (*known)(const char *))
{
  json_t *a = json_array();
  for (; *v; v++)
    if (known(*v))
      json_array_append_new(a, json_string(*v));
  return a;
}

/* Every capability the running kernel knows, as "CAP_CHOWN" ... (libcap names). */
static json_t *all_caps_json(void)
{
  json_t *a = json_array();
  for (int i = 0; i < (int)cap_max_bits(); i++)
    {
      char *name = cap_to_name(i);
      if (name == NULL)
        continue;
      /* libcap prints a bare number for a capability newer than itself: skip it. */
      if (strncmp(name, "cap_", 4) == 0)
        {
          cleanup_free char *up = xstrdup(name);
          for (char *c = up; *c; c++)
            *c = (char)toupper((unsigned char)*c);
          json_array_append_new(a, json_string(up));
        }
      cap_free(name);
    }
  return a;
}

char *spec_features_json(void)
{
  const char *hooks[SKIFF_HOOK_KINDS + 1] = {NULL};
  for (int k = 0; k < SKIFF_HOOK_KINDS; k++)
    hooks[k] = spec_hook_kind_name(k);
  json_t *mount_options = json_array();
  for (size_t i = 0; spec_mount_option_name(i); i++)
    json_array_append_new(mount_options, json_string(spec_mount_option_name(i)));
  json_t *namespaces = json_array();
  for (int t = 0; t < SKIFF_NS_COUNT; t++)
    json_array_append_new(namespaces, json_string(spec_ns_type_name(t)));
  json_t *seccomp = json_pack("{s:b, s:o, s:o, s:o, s:o, s:o}", "enabled", 1, "actions",
                              filtered_json(oci_seccomp_actions, action_known), "operators",
                              filtered_json(oci_seccomp_ops, op_known), "archs",
                              filtered_json(oci_seccomp_archs, seccomp_arch_known), "knownFlags",
                              strv_json(oci_seccomp_flags), "supportedFlags",
                              filtered_json(oci_seccomp_flags, seccomp_flag_known));
  json_t *linux_obj = json_pack(
      "{s:o, s:o, s:{s:b, s:b, s:b, s:b, s:b}, s:o, s:{s:b}, s:{s:b}, s:{s:b}, s:{s:{s:b}}}",
      "namespaces", namespaces, "capabilities", all_caps_json(), "cgroup", "v1", 1, "v2", 1,
      "systemd", 0, "systemdUser", 0, "rdma", 0, "seccomp", seccomp, "apparmor", "enabled", 0,
      "selinux", "enabled", 0, "intelRdt", "enabled", 0, "mountExtensions", "idmap", "enabled", 0);
  /* what a caller may want to know beyond the spec's fields (runc's annotations have the
     same shape: its libseccomp, whether checkpoint works) */
  const struct scmp_version *sv = seccomp_version();
  char libseccomp[32];
  snprintf(libseccomp, sizeof(libseccomp), "%u.%u.%u", sv->major, sv->minor, sv->micro);
  json_t *annotations
      = json_pack("{s:s, s:s, s:s}", "io.github.seccomp.libseccomp.version", libseccomp,
                  "org.skiff.checkpoint.enabled", "false", "org.skiff.version", SKIFF_VERSION);
  json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:[]}", "ociVersionMin", "1.0.0",
                          "ociVersionMax", SKIFF_OCI_VERSION, "hooks", strv_json(hooks),
                          "mountOptions", mount_options, "linux", linux_obj, "annotations",
                          annotations, "potentiallyUnsafeConfigAnnotations");
  if (doc == NULL)
    abort();
  char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(doc);
  if (text == NULL)
    abort();
  return text;
}
