/* test_spec.c - config.json parsing: a full config lands field by field in the struct,
 * the default config parses back, and each kind of bad input names its JSON path. */
#include "check.h"
#include "spec.h"

#include <jansson.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

static const char full_config[]
    = "{\"ociVersion\": \"1.1.0\","
      " \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
      " \"hostname\": \"box\", \"domainname\": \"example.org\","
      " \"process\": {\"terminal\": true, \"consoleSize\": {\"height\": 24, \"width\": 80},"
      "   \"user\": {\"uid\": 1000, \"gid\": 100, \"umask\": 18, \"additionalGids\": [5, 6]},"
      "   \"args\": [\"/bin/sh\", \"-c\", \"echo hi\"], \"env\": [\"PATH=/bin\", \"A=b=c\"],"
      "   \"cwd\": \"/work\","
      "   \"capabilities\": {\"bounding\": [\"CAP_CHOWN\", \"CAP_KILL\"],"
      "     \"effective\": [\"CAP_KILL\"], \"permitted\": [\"CAP_KILL\"],"
      "     \"inheritable\": [], \"ambient\": [\"CAP_NET_BIND_SERVICE\"]},"
      "   \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 512, \"hard\": 1024},"
      "                 {\"type\": \"RLIMIT_CORE\", \"soft\": 0, \"hard\": 0}],"
      "   \"noNewPrivileges\": true, \"apparmorProfile\": \"unconfined\","
      "   \"selinuxLabel\": \"system_u:system_r:container_t\", \"oomScoreAdj\": -500,"
      "   \"ioPriority\": {\"class\": \"IOPRIO_CLASS_IDLE\"}},"
      " \"mounts\": ["
      "   {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
      "   {\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/srv/data\","
      "    \"options\": [\"rbind\", \"ro\", \"nosuid\", \"nodev\", \"rslave\", \"tmpcopyup\"]},"
      "   {\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
      "    \"options\": [\"ro\", \"rw\", \"noexec\", \"exec\", \"mode=1777\", \"size=64k\","
      "                  \"relatime\", \"private\"]}],"
      " \"hooks\": {"
      "   \"prestart\": [{\"path\": \"/bin/pre\", \"args\": [\"pre\", \"x\"], \"env\": [\"K=V\"],"
      "                 \"timeout\": 5}],"
      "   \"createRuntime\": [{\"path\": \"/bin/cr\"}],"
      "   \"createContainer\": [{\"path\": \"/bin/cc\"}],"
      "   \"startContainer\": [{\"path\": \"/bin/sc\"}],"
      "   \"poststart\": [{\"path\": \"/bin/ps1\"}, {\"path\": \"/bin/ps2\"}],"
      "   \"poststop\": [{\"path\": \"/bin/stop\"}]},"
      " \"annotations\": {\"org.example.key\": \"value\"},"
      " \"futureTopLevel\": {\"anything\": [1, 2]},"
      " \"linux\": {"
      "   \"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\", \"path\": "
      "\"/var/run/netns/x\"},"
      "     {\"type\": \"mount\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"user\"},"
      "     {\"type\": \"cgroup\"}],"
      "   \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
      "   \"gidMappings\": [{\"containerID\": 0, \"hostID\": 200000, \"size\": 1000}],"
      "   \"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229,"
      "                  \"fileMode\": 438, \"uid\": 0, \"gid\": 0}],"
      "   \"cgroupsPath\": \"/skiff/test\","
      "   \"resources\": {"
      "     \"memory\": {\"limit\": 67108864, \"reservation\": 33554432, \"swap\": 134217728,"
      "                  \"swappiness\": 10},"
      "     \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000, \"cpus\": \"0-1\","
      "               \"mems\": \"0\"},"
      "     \"pids\": {\"limit\": 64},"
      "     \"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
      "                   {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, "
      "\"access\": \"rw\"}],"
      "     \"blockIO\": {\"weight\": 10},"
      "     \"unified\": {\"memory.high\": \"50000000\", \"io.weight\": \"100\"}},"
      "   \"rootfsPropagation\": \"rslave\","
      "   \"maskedPaths\": [\"/proc/kcore\", \"/sys/firmware\"],"
      "   \"readonlyPaths\": [\"/proc/sys\"],"
      "   \"mountLabel\": \"system_u:object_r:container_file_t\","
      "   \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},"
      "   \"intelRdt\": {\"closID\": \"x\"},"
      "   \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1,"
      "     \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"],"
      "     \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],"
      "     \"syscalls\": [{\"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\"},"
      "       {\"names\": [\"personality\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38,"
      "        \"args\": [{\"index\": 0, \"value\": 8, \"valueTwo\": 0, \"op\": \"SCMP_CMP_EQ\"},"
      "                   {\"index\": 1, \"value\": 255, \"valueTwo\": 4, "
      "\"op\": \"SCMP_CMP_MASKED_EQ\"}]}]}}}";

static void test_full_config(void)
{
  struct skiff_err *err = NULL;
  struct skiff_spec *s = NULL;
  int r = spec_parse(full_config, strlen(full_config), &s, &err);
  CHECK(r == 0);
  if (r < 0)
    {
      printf("#   %s\n", err->msg);
      skiff_err_free(&err);
      return;
    }
  CHECK_STR_EQ(s->oci_version, "1.1.0");
  CHECK_STR_EQ(s->root_path, "rootfs");
  CHECK(s->root_readonly);
  CHECK_STR_EQ(s->hostname, "box");
  CHECK_STR_EQ(s->domainname, "example.org");

  const struct skiff_process *p = &s->process;
  CHECK(s->has_process);
  CHECK(p->terminal);
  CHECK(p->console_height == 24 && p->console_width == 80);
  CHECK(p->user.uid == 1000 && p->user.gid == 100);
  CHECK(p->user.has_umask && p->user.umask == 022);
  CHECK(p->user.n_additional_gids == 2 && p->user.additional_gids[0] == 5
        && p->user.additional_gids[1] == 6);
  CHECK_STR_EQ(p->args[0], "/bin/sh");
  CHECK_STR_EQ(p->args[2], "echo hi");
  CHECK(p->args[3] == NULL);
  CHECK_STR_EQ(p->env[1], "A=b=c");
  CHECK(p->env[2] == NULL);
  CHECK_STR_EQ(p->cwd, "/work");
  CHECK(p->has_caps);
  CHECK_STR_EQ(p->caps.bounding[1], "CAP_KILL");
  CHECK(p->caps.bounding[2] == NULL);
  CHECK_STR_EQ(p->caps.effective[0], "CAP_KILL");
  CHECK_STR_EQ(p->caps.permitted[0], "CAP_KILL");
  CHECK(p->caps.inheritable != NULL && p->caps.inheritable[0] == NULL);
  CHECK_STR_EQ(p->caps.ambient[0], "CAP_NET_BIND_SERVICE");
  CHECK(p->n_rlimits == 2);
  CHECK(p->rlimits[0].resource == RLIMIT_NOFILE && p->rlimits[0].soft == 512
        && p->rlimits[0].hard == 1024);
  CHECK_STR_EQ(p->rlimits[1].type, "RLIMIT_CORE");
  CHECK(p->rlimits[1].resource == RLIMIT_CORE);
  CHECK(p->no_new_privileges);
  CHECK_STR_EQ(p->apparmor_profile, "unconfined");
  CHECK_STR_EQ(p->selinux_label, "system_u:system_r:container_t");
  CHECK(p->has_oom_score_adj && p->oom_score_adj == -500);

  CHECK(s->n_mounts == 3);
  CHECK_STR_EQ(s->mounts[0].destination, "/proc");
  CHECK_STR_EQ(s->mounts[0].type, "proc");
  CHECK(s->mounts[0].options == NULL && s->mounts[0].data == NULL);
  CHECK(s->mounts[0].flags == 0 && !s->mounts[0].is_bind);
  const struct skiff_mount *b = &s->mounts[1];
  CHECK_STR_EQ(b->source, "/srv/data");
  CHECK(b->is_bind);
  CHECK(b->flags == (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV));
  CHECK(b->propagation == (MS_SLAVE | MS_REC));
  CHECK(b->data == NULL); /* tmpcopyup is dropped */
  CHECK_STR_EQ(b->options[5], "tmpcopyup");
  const struct skiff_mount *t = &s->mounts[2];
  CHECK(!t->is_bind);
  CHECK(t->flags == MS_RELATIME);
  CHECK(t->clear_flags == (MS_RDONLY | MS_NOEXEC));
  CHECK(t->propagation == MS_PRIVATE);
  CHECK_STR_EQ(t->data, "mode=1777,size=64k");

  CHECK(s->n_hooks[SKIFF_HOOK_PRESTART] == 1);
  const struct skiff_hook *h = &s->hooks[SKIFF_HOOK_PRESTART][0];
  CHECK_STR_EQ(h->path, "/bin/pre");
  CHECK_STR_EQ(h->args[1], "x");
  CHECK_STR_EQ(h->env[0], "K=V");
  CHECK(h->has_timeout && h->timeout == 5);
  CHECK_STR_EQ(s->hooks[SKIFF_HOOK_CREATE_RUNTIME][0].path, "/bin/cr");
  CHECK(!s->hooks[SKIFF_HOOK_CREATE_RUNTIME][0].has_timeout);
  CHECK_STR_EQ(s->hooks[SKIFF_HOOK_CREATE_CONTAINER][0].path, "/bin/cc");
  CHECK_STR_EQ(s->hooks[SKIFF_HOOK_START_CONTAINER][0].path, "/bin/sc");
  CHECK(s->n_hooks[SKIFF_HOOK_POSTSTART] == 2);
  CHECK_STR_EQ(s->hooks[SKIFF_HOOK_POSTSTART][1].path, "/bin/ps2");
  CHECK_STR_EQ(s->hooks[SKIFF_HOOK_POSTSTOP][0].path, "/bin/stop");
  CHECK_STR_EQ(s->annotations[0], "org.example.key");
  CHECK_STR_EQ(s->annotations[1], "value");
  CHECK(s->annotations[2] == NULL);

  const struct skiff_linux *l = &s->linux;
  CHECK(l->n_namespaces == 7);
  CHECK(l->namespaces[0].type == SKIFF_NS_PID && l->namespaces[0].path == NULL);
  const struct skiff_namespace *net = spec_find_namespace(s, SKIFF_NS_NETWORK);
  CHECK(net != NULL && net->path && strcmp(net->path, "/var/run/netns/x") == 0);
  CHECK(spec_find_namespace(s, SKIFF_NS_TIME) == NULL);
  CHECK(l->n_uid_mappings == 1 && l->uid_mappings[0].container_id == 0
        && l->uid_mappings[0].host_id == 100000 && l->uid_mappings[0].size == 65536);
  CHECK(l->n_gid_mappings == 1 && l->gid_mappings[0].host_id == 200000
        && l->gid_mappings[0].size == 1000);
  CHECK(l->n_devices == 1);
  CHECK_STR_EQ(l->devices[0].path, "/dev/fuse");
  CHECK(l->devices[0].type == 'c' && l->devices[0].major == 10 && l->devices[0].minor == 229);
  CHECK(l->devices[0].has_mode && l->devices[0].file_mode == 0666);
  CHECK(l->devices[0].has_uid && l->devices[0].has_gid);
  CHECK_STR_EQ(l->cgroups_path, "/skiff/test");

  const struct skiff_resources *rs = &l->resources;
  CHECK(l->has_resources);
  CHECK(rs->has_memory_limit && rs->memory_limit == 64 << 20);
  CHECK(rs->has_memory_reservation && rs->memory_reservation == 32 << 20);
  CHECK(rs->has_memory_swap && rs->memory_swap == 128 << 20);
  CHECK(rs->has_cpu_shares && rs->cpu_shares == 512);
  CHECK(rs->has_cpu_quota && rs->cpu_quota == 50000);
  CHECK(rs->has_cpu_period && rs->cpu_period == 100000);
  CHECK_STR_EQ(rs->cpuset_cpus, "0-1");
  CHECK_STR_EQ(rs->cpuset_mems, "0");
  CHECK(rs->has_pids_limit && rs->pids_limit == 64);
  CHECK(rs->n_devices == 2);
  CHECK(!rs->devices[0].allow && rs->devices[0].type == 'a' && rs->devices[0].major == -1
        && rs->devices[0].minor == -1);
  CHECK(rs->devices[1].allow && rs->devices[1].type == 'c' && rs->devices[1].major == 1
        && rs->devices[1].minor == 3);
  CHECK_STR_EQ(rs->devices[1].access, "rw");
  CHECK_STR_EQ(rs->unified[0], "memory.high");
  CHECK_STR_EQ(rs->unified[3], "100");
  CHECK(rs->unified[4] == NULL);
  CHECK_STR_EQ(l->rootfs_propagation, "rslave");
  CHECK_STR_EQ(l->masked_paths[1], "/sys/firmware");
  CHECK_STR_EQ(l->readonly_paths[0], "/proc/sys");
  CHECK_STR_EQ(l->mount_label, "system_u:object_r:container_file_t");
  CHECK_STR_EQ(l->sysctl[0], "net.ipv4.ip_forward");
  CHECK_STR_EQ(l->sysctl[1], "1");

  const struct skiff_seccomp *sc = &l->seccomp;
  CHECK(l->has_seccomp);
  CHECK(sc->default_action == SKIFF_SECCOMP_ERRNO);
  CHECK(sc->has_default_errno && sc->default_errno_ret == 1);
  CHECK_STR_EQ(sc->architectures[1], "SCMP_ARCH_X86");
  CHECK_STR_EQ(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG");
  CHECK(sc->n_syscalls == 2);
  CHECK_STR_EQ(sc->syscalls[0].names[1], "write");
  CHECK(sc->syscalls[0].action == SKIFF_SECCOMP_ALLOW && !sc->syscalls[0].has_errno);
  CHECK(sc->syscalls[1].action == SKIFF_SECCOMP_ERRNO && sc->syscalls[1].has_errno
        && sc->syscalls[1].errno_ret == 38);
  CHECK(sc->syscalls[1].n_args == 2);
  CHECK(sc->syscalls[1].args[0].index == 0 && sc->syscalls[1].args[0].value == 8
        && sc->syscalls[1].args[0].op == SKIFF_OP_EQ);
  CHECK(sc->syscalls[1].args[1].index == 1 && sc->syscalls[1].args[1].value == 255
        && sc->syscalls[1].args[1].value_two == 4
        && sc->syscalls[1].args[1].op == SKIFF_OP_MASKED_EQ);
  spec_free(s);
}

static void test_default_config(void)
{
  struct skiff_err *err = NULL;
  struct skiff_spec *s = NULL;
  char *text = spec_default_json();
  int r = spec_parse(text, strlen(text), &s, &err);
  CHECK(r == 0);
  if (r < 0)
    {
      printf("#   %s\n", err->msg);
      skiff_err_free(&err);
      free(text);
      return;
    }
  CHECK_STR_EQ(s->root_path, "rootfs");
  CHECK_STR_EQ(s->hostname, "skiff");
  CHECK_STR_EQ(s->process.args[0], "sh");
  CHECK(!s->process.terminal);
  CHECK_STR_EQ(s->process.cwd, "/");
  CHECK(s->process.no_new_privileges);
  CHECK(s->process.n_rlimits == 1 && s->process.rlimits[0].resource == RLIMIT_NOFILE
        && s->process.rlimits[0].soft == 1024 && s->process.rlimits[0].hard == 1024);
  /* Docker's 14 capabilities in the three sets, nothing inheritable or ambient. */
  size_t n = 0;
  while (s->process.caps.bounding[n])
    n++;
  CHECK(n == 14);
  const char *docker[]
      = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
         "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
         "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
         "CAP_KILL",    "CAP_AUDIT_WRITE"};
  for (size_t i = 0; i < 14; i++)
    {
      int found = 0;
      for (size_t j = 0; j < n; j++)
        found |= strcmp(s->process.caps.bounding[j], docker[i]) == 0
                 && strcmp(s->process.caps.effective[j], docker[i]) == 0
                 && strcmp(s->process.caps.permitted[j], docker[i]) == 0;
      CHECK(found);
    }
  CHECK(s->process.caps.inheritable == NULL && s->process.caps.ambient == NULL);
  /* Namespaces: pid network ipc uts mount cgroup, no user. */
  CHECK(s->linux.n_namespaces == 6);
  CHECK(spec_find_namespace(s, SKIFF_NS_PID) && spec_find_namespace(s, SKIFF_NS_NETWORK)
        && spec_find_namespace(s, SKIFF_NS_IPC) && spec_find_namespace(s, SKIFF_NS_UTS)
        && spec_find_namespace(s, SKIFF_NS_MOUNT) && spec_find_namespace(s, SKIFF_NS_CGROUP));
  CHECK(spec_find_namespace(s, SKIFF_NS_USER) == NULL);
  const char *masked[] = {"/proc/asound",
                          "/proc/acpi",
                          "/proc/kcore",
                          "/proc/keys",
                          "/proc/latency_stats",
                          "/proc/timer_list",
                          "/proc/timer_stats",
                          "/proc/sched_debug",
                          "/proc/scsi",
                          "/sys/firmware",
                          "/sys/devices/virtual/powercap"};
  for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++)
    {
      int found = 0;
      for (char **m = s->linux.masked_paths; m && *m; m++)
        found |= strcmp(*m, masked[i]) == 0;
      CHECK(found);
    }
  const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  for (size_t i = 0; i < 5; i++)
    CHECK_STR_EQ(s->linux.readonly_paths[i], ro[i]);
  /* Mounts: proc, /dev tmpfs, devpts, shm, mqueue, sysfs, cgroup read-only. */
  CHECK(s->n_mounts == 7);
  const char *dest[]
      = {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"};
  for (size_t i = 0; i < 7 && i < s->n_mounts; i++)
    CHECK_STR_EQ(s->mounts[i].destination, dest[i]);
  if (s->n_mounts == 7)
    {
      CHECK(s->mounts[6].flags & MS_RDONLY);
      CHECK_STR_EQ(s->mounts[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }
  /* Docker's seccomp profile: errno by default, with rules. */
  CHECK(s->linux.has_seccomp);
  CHECK(s->linux.seccomp.default_action == SKIFF_SECCOMP_ERRNO);
  CHECK(s->linux.seccomp.n_syscalls > 0);
  spec_free(s);
  free(text);
}

static void test_features(void)
{
  char *text = spec_features_json();
  json_error_t jerr;
  json_t *doc = json_loads(text, 0, &jerr);
  CHECK(doc != NULL);
  CHECK_STR_EQ(json_string_value(json_object_get(doc, "ociVersionMax")), SKIFF_OCI_VERSION);
  CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(doc, "annotations"),
                                                 "org.skiff.checkpoint.enabled")),
               "false");
  json_t *lx = json_object_get(doc, "linux");
  CHECK(json_array_size(json_object_get(lx, "namespaces")) == SKIFF_NS_COUNT);
  CHECK(json_array_size(json_object_get(lx, "capabilities")) >= 38);
  CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(lx, "capabilities"), 0)),
               "CAP_CHOWN");
  CHECK(json_is_true(json_object_get(json_object_get(lx, "seccomp"), "enabled")));
  CHECK(json_is_false(json_object_get(json_object_get(lx, "cgroup"), "systemd")));
  CHECK(json_array_size(json_object_get(doc, "hooks")) == SKIFF_HOOK_KINDS);
  CHECK(strstr(text, "\"rslave\"") != NULL);
  CHECK(strstr(text, "tmpcopyup") == NULL); /* accepted, but not applied */
  json_decref(doc);
  free(text);
}

static void test_name_helpers(void)
{
  CHECK(spec_ns_type_from_name("network") == SKIFF_NS_NETWORK);
  CHECK(spec_ns_type_from_name("net") == SKIFF_NS_NETWORK);
  CHECK(spec_ns_type_from_name("bogus") == -1);
  CHECK_STR_EQ(spec_ns_type_name(SKIFF_NS_MOUNT), "mount");
  CHECK_STR_EQ(spec_ns_proc_name(SKIFF_NS_MOUNT), "mnt");
  CHECK(spec_ns_clone_flag(SKIFF_NS_USER) == CLONE_NEWUSER);
  CHECK(spec_ns_clone_flag(SKIFF_NS_CGROUP) == CLONE_NEWCGROUP);
  CHECK_STR_EQ(spec_hook_kind_name(SKIFF_HOOK_CREATE_CONTAINER), "createContainer");
  CHECK(spec_hook_kind_name(SKIFF_HOOK_KINDS) == NULL);
  CHECK(spec_rlimit_from_name("RLIMIT_NPROC") == RLIMIT_NPROC);
  CHECK(spec_rlimit_from_name("RLIMIT_FOO") == -1);
}

/* A minimal valid config with one fragment replaced: "process" and "linux" bodies. */
static char *config_with(const char *process, const char *linux_body, const char *extra)
{
  char *s = NULL;
  if (asprintf(&s,
               "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}%s"
               " \"process\": {%s},"
               " \"linux\": {%s}}",
               extra, process, linux_body)
      < 0)
    abort();
  return s;
}

/* Parse text; expect failure with a message containing needle. */
static void expect_error(const char *text, const char *needle, int line)
{
  struct skiff_err *err = NULL;
  struct skiff_spec *s = NULL;
  if (spec_parse(text, strlen(text), &s, &err) == 0)
    {
      printf("#   line %d: parsed, expected error containing `%s`\n", line, needle);
      check_current_failed = 1;
      spec_free(s);
      return;
    }
  if (strstr(err->msg, needle) == NULL)
    {
      printf("#   line %d: `%s` does not contain `%s`\n", line, err->msg, needle);
      check_current_failed = 1;
    }
  skiff_err_free(&err);
}

#define BAD(process, linux_body, needle)                                                           \
  do                                                                                               \
    {                                                                                              \
      char *_t = config_with(process, linux_body, ",");                                            \
      expect_error(_t, needle, __LINE__);                                                          \
      free(_t);                                                                                    \
    }                                                                                              \
  while (0)
#define USER "\"user\": {\"uid\": 0, \"gid\": 0}"
#define BASE USER ", \"cwd\": \"/\""
#define ARGS BASE ", \"args\": [\"sh\"]"

static void test_minimal_valid(void)
{
  char *t = config_with(ARGS, "", ",");
  struct skiff_err *err = NULL;
  struct skiff_spec *s = NULL;
  CHECK(spec_parse(t, strlen(t), &s, &err) == 0);
  CHECK(err == NULL);
  if (s)
    CHECK(s->linux.n_namespaces == 0 && !s->linux.has_seccomp && !s->linux.has_resources);
  spec_free(s);
  skiff_err_free(&err);
  free(t);
}

static void test_bad_json(void)
{
  expect_error("{\"ociVersion\": \"1.0.2\",\n  \"root\": }", "line 2 column", __LINE__);
  expect_error("{\"ociVersion\": \"1.0.2\",\n  \"root\": }", "invalid JSON", __LINE__);
  expect_error("", "invalid JSON", __LINE__);
  expect_error("[1, 2]", "expected a JSON object at the top level", __LINE__);
  expect_error("{\"ociVersion\": \"1.0.2\", \"ociVersion\": \"1.0.2\"}", "duplicate", __LINE__);
}

static void test_required_fields(void)
{
  expect_error("{\"ociVersion\": \"1.0.2\"}", "root: required", __LINE__);
  expect_error("{\"ociVersion\": \"1.0.2\", \"root\": {}}", "root.path: required", __LINE__);
  expect_error("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": null}}", "root.path: required",
               __LINE__);
  expect_error("{\"root\": {\"path\": \"r\"}}", "ociVersion: required", __LINE__);
  BAD(BASE ", \"env\": []", "", "process.args: required");
  BAD(BASE ", \"args\": []", "", "process.args: expected a non-empty array of strings");
  BAD(BASE ", \"args\": \"sh\"", "", "process.args: expected a non-empty array of strings");
  BAD(BASE ", \"args\": [\"sh\", 1]", "", "process.args: expected a non-empty array of strings");
  BAD(USER ", \"args\": [\"sh\"]", "", "process.cwd: required");
  BAD("\"cwd\": \"/\", \"args\": [\"sh\"]", "", "process.user: required");
  BAD(ARGS ", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1}]", "",
      "process.rlimits[0].soft: required");
  BAD(ARGS, "\"namespaces\": [{\"path\": \"/x\"}]", "linux.namespaces[0].type: required");
  BAD(ARGS, "\"seccomp\": {\"syscalls\": []}", "linux.seccomp.defaultAction: required");
  BAD(ARGS, "\"resources\": {\"pids\": {}}", "linux.resources.pids.limit: required");
  BAD(ARGS,
      "\"uidMappings\": [{\"hostID\": 1, \"size\": 1}], \"namespaces\": [{\"type\": "
      "\"user\"}]",
      "linux.uidMappings[0].containerID: required");
  char *t = NULL;
  if (asprintf(&t, "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"r\"},"
                   " \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\", \"user\": {\"uid\": 0}}}")
      < 0)
    abort();
  expect_error(t, "process.user.gid: required", __LINE__);
  free(t);
}

static void test_wrong_types(void)
{
  BAD(ARGS ", \"terminal\": \"yes\"", "", "process.terminal: expected a boolean, got string");
  BAD("\"cwd\": \"/\", \"args\": [\"sh\"], \"user\": {\"uid\": \"0\", \"gid\": 0}", "",
      "process.user.uid: expected an integer, got string");
  BAD("\"cwd\": \"/\", \"args\": [\"sh\"], \"user\": {\"uid\": -1, \"gid\": 0}", "",
      "process.user.uid: -1 is out of range");
  BAD(ARGS ", \"env\": [\"PATH=/bin\", 7]", "", "process.env[1]: expected a string, got integer");
  BAD(ARGS ", \"env\": [\"NOEQUALS\"]", "", "process.env[0]: expected KEY=VALUE");
  BAD(ARGS ", \"oomScoreAdj\": 5000", "", "process.oomScoreAdj: 5000 is out of range");
  BAD(ARGS ", \"consoleSize\": {\"height\": 1.5, \"width\": 2}", "",
      "process.consoleSize.height: expected an integer, got number");
  BAD(ARGS, "\"namespaces\": {}", "linux.namespaces: expected an array, got object");
  BAD(ARGS, "\"namespaces\": [\"pid\"]", "linux.namespaces[0]: expected an object, got string");
  BAD(ARGS, "\"resources\": {\"memory\": {\"limit\": \"64m\"}}",
      "linux.resources.memory.limit: expected an integer, got string");
  BAD(ARGS, "\"resources\": {\"memory\": {\"limit\": 100, \"swap\": 50}}",
      "linux.resources.memory.swap: 50 is below memory.limit 100");
  BAD(ARGS, "\"sysctl\": {\"a.b\": 1}", "linux.sysctl.a.b: expected a string, got integer");
  BAD(ARGS, "\"resources\": {\"devices\": [{\"allow\": true, \"access\": \"rwx\"}]}",
      "linux.resources.devices[0].access");
  BAD(ARGS, "\"devices\": [{\"path\": \"/dev/x\", \"type\": \"z\", \"major\": 1, \"minor\": 1}]",
      "linux.devices[0].type: unknown device type \"z\"");
  BAD(ARGS, "\"rootfsPropagation\": \"sideways\"",
      "linux.rootfsPropagation: unknown propagation \"sideways\"");
  char *t = config_with(ARGS, "", ", \"annotations\": [\"x\"],");
  expect_error(t, "annotations: expected an object, got array", __LINE__);
  free(t);
  t = config_with(ARGS, "", ", \"mounts\": [{\"destination\": \"/x\", \"options\": \"ro\"}],");
  expect_error(t, "mounts[0].options: expected an array of strings, got string", __LINE__);
  free(t);
  t = config_with(ARGS, "", ", \"hooks\": {\"prestart\": [{\"path\": \"/x\", \"timeout\": 0}]},");
  expect_error(t, "hooks.prestart[0].timeout: 0 is out of range", __LINE__);
  free(t);
}

static void test_bad_values(void)
{
  BAD(ARGS, "\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\"}, {\"type\": \"foo\"}]",
      "linux.namespaces[2].type: unknown namespace \"foo\"");
  BAD(ARGS, "\"namespaces\": [{\"type\": \"net\"}]",
      "linux.namespaces[0].type: unknown namespace \"net\"");
  BAD(ARGS, "\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"uts\"}, {\"type\": \"pid\"}]",
      "linux.namespaces[2].type: duplicate namespace \"pid\"");
  BAD(ARGS, "\"namespaces\": [{\"type\": \"network\", \"path\": \"run/netns/x\"}]",
      "linux.namespaces[0].path: must be an absolute path");
  BAD(ARGS, "\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]",
      "linux.uidMappings: user namespace mappings without a user namespace");
  BAD(ARGS, "\"namespaces\": [{\"type\": \"user\"}]",
      "linux.uidMappings: required with a new user namespace");
  BAD(ARGS,
      "\"namespaces\": [{\"type\": \"user\"}], \"uidMappings\": [{\"containerID\": 0, "
      "\"hostID\": 1000, \"size\": 0}]",
      "linux.uidMappings[0].size: 0 is out of range");
  BAD(USER ", \"args\": [\"sh\"], \"cwd\": \"work\"", "", "process.cwd: must be an absolute path");
  BAD(ARGS ", \"rlimits\": [{\"type\": \"RLIMIT_FOO\", \"soft\": 1, \"hard\": 1}]", "",
      "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
  BAD(ARGS ", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 1},"
           " {\"type\": \"RLIMIT_NOFILE\", \"soft\": 2, \"hard\": 2}]",
      "", "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
  BAD(ARGS ", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 10, \"hard\": 1}]", "",
      "process.rlimits[0]: soft limit 10 exceeds hard limit 1");
  BAD(ARGS ", \"capabilities\": {\"bounding\": [\"CAP_CHOWN\", \"CAP_FOO\"]}", "",
      "process.capabilities.bounding[1]: unknown capability \"CAP_FOO\"");
  BAD(ARGS ", \"capabilities\": {\"ambient\": [\"SYS_ADMIN\"]}", "",
      "process.capabilities.ambient[0]: unknown capability \"SYS_ADMIN\"");
  BAD(ARGS, "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_MAYBE\"}",
      "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\"");
  BAD(ARGS,
      "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
      "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_Z80\"]}",
      "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
  BAD(ARGS, "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"FAST\"]}",
      "linux.seccomp.flags[0]: unknown seccomp flag \"FAST\"");
  BAD(ARGS,
      "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
      "[\"read\"], \"action\": \"SCMP_ACT_KILL\"}, {\"names\": [\"write\"], \"action\": "
      "\"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"LIKE\"}]}]}",
      "linux.seccomp.syscalls[1].args[0].op: unknown seccomp operator \"LIKE\"");
  BAD(ARGS,
      "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
      "[\"write\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": "
      "1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
      "linux.seccomp.syscalls[0].args[0].index: 6 is out of range");
  BAD(ARGS,
      "\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
      "[], \"action\": \"SCMP_ACT_ERRNO\"}]}",
      "linux.seccomp.syscalls[0].names: expected a non-empty array of strings");
  BAD(ARGS, "\"maskedPaths\": [\"/proc/kcore\", \"proc/keys\"]",
      "linux.maskedPaths[1]: must be an absolute path");
  char *t = config_with(ARGS, "",
                        ", \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\"},"
                        " {\"destination\": \"data\", \"type\": \"bind\"}],");
  expect_error(t, "mounts[1].destination: must be absolute", __LINE__);
  free(t);
  t = config_with(ARGS, "", ", \"hostname\": \"h\",");
  expect_error(t, "hostname: needs a uts namespace", __LINE__);
  free(t);
  t = config_with(ARGS, "", ", \"hooks\": {\"poststop\": [{\"path\": \"rel/hook\"}]},");
  expect_error(t, "hooks.poststop[0].path: must be an absolute path", __LINE__);
  free(t);
  expect_error("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"a\\u0000b\"}}", "invalid JSON",
               __LINE__);
}

static void test_mount_options(void)
{
  char *opts[]
      = {"rbind",   "ro",      "rw",         "nosuid",      "suid",   "nodev", "noexec", "sync",
         "dirsync", "noatime", "nodiratime", "strictatime", "shared", "uid=5", "gid=6",  NULL};
  struct skiff_mount m = {.destination = "/x", .type = "tmpfs", .options = opts};
  spec_mount_apply_options(&m);
  CHECK(m.is_bind); /* rbind */
  CHECK(m.flags
        == (MS_BIND | MS_REC | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_DIRSYNC | MS_NOATIME
            | MS_NODIRATIME | MS_STRICTATIME));
  CHECK(m.clear_flags == (MS_RDONLY | MS_NOSUID));
  CHECK(m.propagation == MS_SHARED);
  CHECK_STR_EQ(m.data, "uid=5,gid=6");
  free(m.data);
  char *opts2[] = {"remount", "bind", "ro", NULL};
  struct skiff_mount m2 = {.destination = "/y", .options = opts2};
  spec_mount_apply_options(&m2);
  CHECK(m2.flags == (MS_REMOUNT | MS_BIND | MS_RDONLY));
  CHECK(m2.data == NULL && m2.propagation == 0);
  struct skiff_mount m3 = {.destination = "/z", .type = "bind"};
  spec_mount_apply_options(&m3);
  CHECK(m3.is_bind && m3.flags == MS_BIND);
}

int main(void)
{
  RUN_TEST(test_full_config);
  RUN_TEST(test_default_config);
  RUN_TEST(test_features);
  RUN_TEST(test_name_helpers);
  RUN_TEST(test_minimal_valid);
  RUN_TEST(test_bad_json);
  RUN_TEST(test_required_fields);
  RUN_TEST(test_wrong_types);
  RUN_TEST(test_bad_values);
  RUN_TEST(test_mount_options);
  return CHECK_DONE();
}
