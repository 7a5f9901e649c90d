/* test_caps.c - caps.c against the real kernel: caps_apply_process runs in a forked child
 * (which leaves with _exit) and reports its /proc/self/status capability masks, ids,
 * groups and no_new_privs through a pipe; the parent compares them with the spec. */
#define _GNU_SOURCE
#include "check.h"
#include "caps.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct observed
{
  int status; /* child exit code (0 = applied), 128 + signal */
  char err[256];
  uint64_t inh, prm, eff, bnd, amb;
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  int ngroups;
  gid_t groups[16];
  int nnp;
};

static uint64_t status_mask(const char *status, const char *key)
{
  const char *p = strstr(status, key);
  return p ? strtoull(p + strlen(key), NULL, 16) : ~0ULL;
}

static void observe(struct observed *o)
{
  char *status = NULL;
  if (skiff_read_file("/proc/self/status", &status, NULL, NULL) == 0)
    {
      o->inh = status_mask(status, "\nCapInh:");
      o->prm = status_mask(status, "\nCapPrm:");
      o->eff = status_mask(status, "\nCapEff:");
      o->bnd = status_mask(status, "\nCapBnd:");
      o->amb = status_mask(status, "\nCapAmb:");
      free(status);
    }
  getresuid(&o->ruid, &o->euid, &o->suid);
  getresgid(&o->rgid, &o->egid, &o->sgid);
  o->ngroups = getgroups(16, o->groups);
  o->nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

/* Raise these capabilities in the inheritable set first, as a runtime that inherited
 * them would have them (CVE-2022-29162). */
static int preset_inheritable(uint64_t mask)
{
  cap_t c = cap_get_proc();
  if (c == NULL)
    return -1;
  for (int i = 0; i < 64; i++)
    if (mask & (1ULL << i))
      {
        cap_value_t v = i;
        if (cap_set_flag(c, CAP_INHERITABLE, 1, &v, CAP_SET) < 0)
          return -1;
      }
  int r = cap_set_proc(c);
  cap_free(c);
  return r;
}

static void apply_in_child(const struct skiff_process *proc, uint64_t preset_inh,
                           struct observed *out)
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
      struct observed o;
      struct skiff_err *err = NULL;
      int code = 0;
      memset(&o, 0, sizeof(o));
      close(p[0]);
      if (preset_inh && preset_inheritable(preset_inh) < 0)
        code = 3;
      else if (caps_apply_process(proc, &err) < 0)
        {
          snprintf(o.err, sizeof(o.err), "%s", err->msg);
          code = 2;
        }
      observe(&o);
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
  if (out->err[0])
    printf("#   child: %s\n", out->err);
}

/* The capabilities this test process can hand out (the host may lack some). */
static uint64_t host_bounding(void)
{
  struct observed o;
  memset(&o, 0, sizeof(o));
  observe(&o);
  return o.bnd;
}

static uint64_t mask_of(char *const *names)
{
  uint64_t m = 0;
  struct skiff_err *err = NULL;
  CHECK(caps_mask(names, &m, &err) == 0);
  skiff_err_free(&err);
  return m;
}

#define CHECK_MASK(got, want)                                                                      \
  do                                                                                               \
    {                                                                                              \
      if ((got) != (want))                                                                         \
        printf("#   %s = %016" PRIx64 ", want %016" PRIx64 "\n", #got, (uint64_t)(got),            \
               (uint64_t)(want));                                                                  \
      CHECK((got) == (want));                                                                      \
    }                                                                                              \
  while (0)

static void test_names(void)
{
  CHECK(caps_from_name("CAP_SYS_ADMIN") == CAP_SYS_ADMIN);
  CHECK(caps_from_name("cap_net_raw") == CAP_NET_RAW);
  CHECK(caps_from_name("CAP_CHECKPOINT_RESTORE") == 40);
  CHECK(caps_from_name("SYS_ADMIN") == -1);
  CHECK(caps_from_name("CAP_FOO") == -1);
  CHECK(caps_from_name("21") == -1);
  CHECK(caps_from_name(NULL) == -1);
  CHECK_STR_EQ(caps_name(CAP_SYS_ADMIN), "CAP_SYS_ADMIN");
  CHECK(caps_name(64) == NULL);
  /* our table agrees with libcap's names for every capability both know */
  for (int i = 0; i <= CAP_LAST_CAP && caps_name(i); i++)
    {
      char *n = cap_to_name(i);
      CHECK(n != NULL && strcasecmp(n, caps_name(i)) == 0);
      cap_free(n);
    }
  size_t n = 0;
  for (; caps_docker_default[n]; n++)
    CHECK(caps_from_name(caps_docker_default[n]) >= 0);
  CHECK(n == 14);
}

static char *bad_names[] = {"CAP_CHOWN", "CAP_FOO", NULL};

static void test_validate(void)
{
  struct skiff_caps caps = {0};
  struct skiff_err *err = NULL;
  CHECK(caps_validate(&caps, &err) == 0);
  caps.effective = (char **)caps_docker_default;
  CHECK(caps_validate(&caps, &err) == 0);
  caps.ambient = bad_names;
  CHECK(caps_validate(&caps, &err) < 0);
  CHECK(err != NULL);
  if (err)
    CHECK_STR_EQ(err->msg, "process.capabilities.ambient[1]: unknown capability `CAP_FOO`");
  skiff_err_free(&err);
}

static gid_t extra_groups[] = {2000, 3000};

/* Docker's defaults for a non-root user: the runtime's inheritable caps must not leak. */
static void test_docker_defaults_non_root(void)
{
  struct skiff_process proc = {0};
  char **dflt = (char **)caps_docker_default;
  proc.has_caps = true;
  proc.caps = (struct skiff_caps){
      .bounding = dflt, .effective = dflt, .permitted = dflt, .inheritable = NULL, .ambient = NULL};
  proc.user.uid = 1000;
  proc.user.gid = 1001;
  proc.user.additional_gids = extra_groups;
  proc.user.n_additional_gids = 2;
  proc.no_new_privileges = true;

  uint64_t want = mask_of(dflt) & host_bounding();
  struct observed o;
  apply_in_child(&proc, (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_NET_ADMIN), &o);
  CHECK(o.status == 0);
  CHECK_MASK(o.eff, want);
  CHECK_MASK(o.prm, want);
  CHECK_MASK(o.bnd, want);
  CHECK_MASK(o.inh, 0);
  CHECK_MASK(o.amb, 0);
  CHECK(o.ruid == 1000 && o.euid == 1000 && o.suid == 1000);
  CHECK(o.rgid == 1001 && o.egid == 1001 && o.sgid == 1001);
  CHECK(o.ngroups == 2 && o.groups[0] == 2000 && o.groups[1] == 3000);
  CHECK(o.nnp == 1);
}

static char *root_bnd[] = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETPCAP", NULL};
static char *root_eff[] = {"CAP_CHOWN", "CAP_KILL", NULL};
static char *just_kill[] = {"CAP_KILL", NULL};

/* Root with a narrow set, an inheritable + ambient capability, no no_new_privs. */
static void test_root_narrow_with_ambient(void)
{
  struct skiff_process proc = {0};
  proc.has_caps = true;
  proc.caps = (struct skiff_caps){.bounding = root_bnd,
                                  .effective = root_eff,
                                  .permitted = root_eff,
                                  .inheritable = just_kill,
                                  .ambient = just_kill};
  struct observed o;
  apply_in_child(&proc, 0, &o);
  CHECK(o.status == 0);
  CHECK_MASK(o.bnd, mask_of(root_bnd));
  CHECK_MASK(o.eff, mask_of(root_eff));
  CHECK_MASK(o.prm, mask_of(root_eff));
  CHECK_MASK(o.inh, 1ULL << CAP_KILL);
  CHECK_MASK(o.amb, 1ULL << CAP_KILL);
  CHECK(o.ruid == 0 && o.euid == 0 && o.rgid == 0);
  CHECK(o.ngroups == 0);
  CHECK(o.nnp == 0);
}

/* Ambient capabilities are what a non-root process keeps across execve: check with a
 * real exec of grep reading its own status. */
static char *nbs[] = {"CAP_NET_BIND_SERVICE", NULL};

static void test_ambient_survives_exec(void)
{
  struct skiff_process proc = {0};
  proc.has_caps = true;
  proc.caps = (struct skiff_caps){
      .bounding = nbs, .effective = nbs, .permitted = nbs, .inheritable = nbs, .ambient = nbs};
  proc.user.uid = 1000;
  proc.user.gid = 1000;
  int p[2];
  CHECK(pipe2(p, O_CLOEXEC) == 0);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    {
      struct skiff_err *err = NULL;
      if (caps_apply_process(&proc, &err) < 0 || dup2(p[1], 1) < 0)
        _exit(2);
      execl("/bin/grep", "grep", "^CapEff", "/proc/self/status", (char *)NULL);
      _exit(127);
    }
  close(p[1]);
  char buf[256] = {0};
  skiff_read_all(p[0], buf, sizeof(buf) - 1);
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  uint64_t eff = strtoull(buf + strlen("CapEff:"), NULL, 16);
  CHECK_MASK(eff, 1ULL << CAP_NET_BIND_SERVICE);
}

/* Without process.capabilities only the identity changes (and a non-root user then
 * holds nothing, by the kernel's setuid rules). */
static void test_identity_only(void)
{
  struct skiff_process proc = {0};
  proc.user.uid = 1000;
  proc.user.gid = 1000;
  struct observed o;
  apply_in_child(&proc, 0, &o);
  CHECK(o.status == 0);
  CHECK(o.ruid == 1000 && o.euid == 1000 && o.suid == 1000 && o.egid == 1000);
  CHECK_MASK(o.eff, 0);
  CHECK_MASK(o.prm, 0);
  CHECK_MASK(o.bnd, host_bounding());
  CHECK(o.ngroups == 0);
  CHECK(o.nnp == 0);
}

static void test_errors(void)
{
  struct skiff_process proc = {0};
  struct observed o;
  proc.has_caps = true;
  /* ambient needs the capability in permitted and inheritable: without, it is left out
     (create warns, caps_unraisable_ambient) and the rest applies, as runc and crun do */
  proc.caps = (struct skiff_caps){
      .bounding = root_bnd, .effective = root_eff, .permitted = root_eff, .ambient = just_kill};
  apply_in_child(&proc, 0, &o);
  CHECK(o.status == 0);
  CHECK_MASK(o.amb, 0);
  CHECK(o.eff != 0);

  /* effective must be a subset of permitted */
  proc.caps = (struct skiff_caps){.bounding = root_bnd, .effective = root_eff, .permitted = nbs};
  apply_in_child(&proc, 0, &o);
  CHECK(o.status == 2);
  CHECK_CONTAINS(o.err, "capset");

  /* an unknown name is refused before anything changes */
  proc.caps = (struct skiff_caps){.bounding = bad_names};
  apply_in_child(&proc, 0, &o);
  CHECK(o.status == 2);
  CHECK_CONTAINS(o.err, "bounding[1]: unknown capability `CAP_FOO`");
  CHECK_MASK(o.bnd, host_bounding());
}

int main(void)
{
  RUN_TEST(test_names);
  RUN_TEST(test_validate);
  RUN_TEST(test_docker_defaults_non_root);
  RUN_TEST(test_root_narrow_with_ambient);
  RUN_TEST(test_ambient_survives_exec);
  RUN_TEST(test_identity_only);
  RUN_TEST(test_errors);
  return CHECK_DONE();
}
