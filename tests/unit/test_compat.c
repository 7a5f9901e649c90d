/* test_compat.c - the pure logic behind the runtime as other tools use it: restart
 * policies and back-off, --user through passwd/group texts, --env-file, container names,
 * ps filters, unraisable ambient capabilities, the state hooks get, process and
 * resources objects alone, ociVersion, keyed cgroup files, durations. */
#define _GNU_SOURCE
#include "caps.h"
#include "cgroup.h"
#include "check.h"
#include "managed.h"
#include "restart.h"
#include "state.h"

#include <jansson.h>

static void test_restart_parse(void)
{
  struct skiff_err *err = NULL;
  struct container_restart r;
  CHECK(restart_parse_policy("no", &r, &err) == 0 && r.policy == CONTAINER_RESTART_NO);
  CHECK(restart_parse_policy("always", &r, &err) == 0 && r.policy == CONTAINER_RESTART_ALWAYS);
  CHECK(restart_parse_policy("unless-stopped", &r, &err) == 0
        && r.policy == CONTAINER_RESTART_UNLESS_STOPPED);
  CHECK(restart_parse_policy("on-failure", &r, &err) == 0
        && r.policy == CONTAINER_RESTART_ON_FAILURE && r.max_retries == 0);
  CHECK(restart_parse_policy("on-failure:5", &r, &err) == 0 && r.max_retries == 5);
  CHECK(err == NULL);
  const char *bad[] = {"",
                       "yes",
                       "on-failure:",
                       "on-failure:0",
                       "on-failure:-1",
                       "on-failure:x",
                       "on-failure:99999999999",
                       "always:3"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(restart_parse_policy(bad[i], &r, &err) < 0);
      CHECK(err && strstr(err->msg, "--restart"));
      skiff_err_free(&err);
    }
  char *s = restart_policy_string(&(struct container_restart){CONTAINER_RESTART_ON_FAILURE, 3});
  CHECK_STR_EQ(s, "on-failure:3");
  free(s);
}

static void test_restart_decision(void)
{
  struct container_restart no = {CONTAINER_RESTART_NO, 0}, always = {CONTAINER_RESTART_ALWAYS, 0},
                           onf = {CONTAINER_RESTART_ON_FAILURE, 2},
                           onf_any = {CONTAINER_RESTART_ON_FAILURE, 0};
  CHECK(!restart_should(&no, 1, 0, false));
  CHECK(restart_should(&always, 0, 100, false));
  CHECK(!restart_should(&always, 1, 0, true)); /* stopped by the user */
  CHECK(restart_should(&onf, 1, 0, false));
  CHECK(restart_should(&onf, 137, 1, false));
  CHECK(!restart_should(&onf, 1, 2, false)); /* retries used up */
  CHECK(!restart_should(&onf, 0, 0, false)); /* success */
  CHECK(restart_should(&onf_any, 1, 1000, false));
}

static void test_restart_backoff(void)
{
  CHECK(restart_delay_ms(0) == 100);
  CHECK(restart_delay_ms(1) == 200);
  CHECK(restart_delay_ms(2) == 400);
  CHECK(restart_delay_ms(9) == 51200);
  CHECK(restart_delay_ms(10) == 60000);
  CHECK(restart_delay_ms(1000) == 60000);
}

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# a comment\n"
                             "alice:x:1001:1002:Alice:/home/alice:/bin/sh\n"
                             "bob:x:1003:1003::/:/bin/false\n"
                             "broken:x:abc:1:::\n";
static const char group[] = "root:x:0:\nstaff:x:1002:\nbob:x:1003:\naudio:x:1005:alice,bob\n"
                            "video:x:1006:bob\nwheel:x:10:alicex\n";

static void test_resolve_user(void)
{
  struct skiff_err *err = NULL;
  struct managed_user u;
  CHECK(managed_resolve_user("alice", passwd, group, &u, &err) == 0);
  CHECK(u.uid == 1001 && u.gid == 1002 && u.n_groups == 1 && u.groups[0] == 1005);
  CHECK(managed_resolve_user("bob", passwd, group, &u, &err) == 0);
  CHECK(u.uid == 1003 && u.gid == 1003 && u.n_groups == 2); /* its own group not repeated */
  CHECK(managed_resolve_user("alice:video", passwd, group, &u, &err) == 0);
  CHECK(u.uid == 1001 && u.gid == 1006 && u.n_groups == 0);
  CHECK(managed_resolve_user("alice:7", passwd, group, &u, &err) == 0 && u.gid == 7);
  CHECK(managed_resolve_user("1001", passwd, group, &u, &err) == 0);
  CHECK(u.uid == 1001 && u.gid == 1002 && u.n_groups == 1); /* listed: as by name */
  CHECK(managed_resolve_user("4242", passwd, group, &u, &err) == 0 && u.uid == 4242 && u.gid == 0);
  CHECK(managed_resolve_user("4242:17", NULL, NULL, &u, &err) == 0 && u.gid == 17);
  CHECK(managed_resolve_user("root", NULL, NULL, &u, &err) < 0); /* a name needs passwd */
  skiff_err_free(&err);
  CHECK(err == NULL);
  const char *bad[]
      = {"mallory", "alice:nogroup", ":1", "alice:", "1:2:3", "broken", "4294967295", "alicex"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(managed_resolve_user(bad[i], passwd, group, &u, &err) < 0);
      CHECK(err && strstr(err->msg, "--user"));
      skiff_err_free(&err);
    }
}

static void test_env_file(void)
{
  struct skiff_err *err = NULL;
  char **l = NULL;
  CHECK(managed_parse_env_file("# c\nA=1\n\n  B=two words\r\nC\n#D=4\nE=\n", "f", &l, &err) == 0);
  CHECK(l && l[0] && l[1] && l[2] && l[3] && l[4] == NULL);
  if (l && l[3])
    {
      CHECK_STR_EQ(l[0], "A=1");
      CHECK_STR_EQ(l[1], "B=two words");
      CHECK_STR_EQ(l[2], "C");
      CHECK_STR_EQ(l[3], "E=");
    }
  for (size_t i = 0; l && l[i]; i++)
    free(l[i]);
  free(l);
  l = NULL;
  CHECK(managed_parse_env_file("A=1\nBAD KEY=2\n", "env.list", &l, &err) < 0);
  CHECK(err && strstr(err->msg, "env.list") && strstr(err->msg, "line 2"));
  skiff_err_free(&err);
  CHECK(managed_parse_env_file("=x\n", "f", &l, &err) < 0);
  skiff_err_free(&err);
  CHECK(managed_parse_env_file("", "f", &l, &err) == 0 && l[0] == NULL);
  free(l);
}

static void test_container_names(void)
{
  struct skiff_err *err = NULL;
  const char *good[] = {"web", "web-1", "a.b_c", "9lives", "X"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    CHECK(managed_validate_name(good[i], &err) == 0);
  char long_name[130];
  memset(long_name, 'x', 129);
  long_name[129] = '\0';
  const char *bad[] = {"", "Bad Name!", "_x", "-x", ".x", "a/b", "a:b", long_name};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(managed_validate_name(bad[i], &err) < 0);
      CHECK(err && strstr(err->msg, "invalid container name"));
      skiff_err_free(&err);
    }
}

static void test_ps_filters(void)
{
  char *labels[] = {(char *)"tier=web", (char *)"team=", NULL};
  struct managed_ps_row row = {.name = (char *)"shop-web-1",
                               .image = (char *)"shop:v2",
                               .status = (char *)"exited(3)",
                               .labels = labels};
  struct skiff_err *err = NULL;
  bool m = false;
  struct
  {
    const char *filter;
    bool want;
  } cases[] = {{"name=web", true},        {"name=db", false},         {"label=tier", true},
               {"label=tier=web", true},  {"label=tier=db", false},   {"label=team", true},
               {"label=team=", true},     {"label=tie", false},       {"status=exited", true},
               {"status=running", false}, {"ancestor=shop:v2", true}, {"ancestor=shop", false}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
      CHECK(managed_ps_match(&row, cases[i].filter, &m, &err) == 0);
      if (m != cases[i].want)
        printf("#   filter %s: got %d\n", cases[i].filter, m);
      CHECK(m == cases[i].want);
    }
  row.image = (char *)"busybox";
  CHECK(managed_ps_match(&row, "ancestor=busybox:latest", &m, &err) == 0 && m);
  const char *bad[] = {"colour=red", "status=sleepy", "label=", "name"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(managed_ps_match(&row, bad[i], &m, &err) < 0);
      CHECK(err && strstr(err->msg, "--filter"));
      skiff_err_free(&err);
    }
}

static void test_unraisable_ambient(void)
{
  char *amb[] = {(char *)"CAP_KILL", (char *)"CAP_CHOWN", NULL};
  char *perm[] = {(char *)"CAP_KILL", (char *)"CAP_CHOWN", NULL};
  char *inh[] = {(char *)"CAP_KILL", NULL};
  struct skiff_caps c = {.ambient = amb, .permitted = perm, .inheritable = inh};
  char *d = caps_unraisable_ambient(&c);
  CHECK_STR_EQ(d, "CAP_CHOWN");
  free(d);
  c.inheritable = NULL; /* runc spec's config */
  d = caps_unraisable_ambient(&c);
  CHECK_STR_EQ(d, "CAP_KILL, CAP_CHOWN");
  free(d);
  c.inheritable = perm;
  CHECK(caps_unraisable_ambient(&c) == NULL);
  c.ambient = NULL;
  CHECK(caps_unraisable_ambient(&c) == NULL);
}

static void test_hook_state(void)
{
  char *ann[] = {(char *)"org.example/k", (char *)"v \"quoted\"", NULL};
  struct skiff_state st
      = {.id = (char *)"c1", .bundle = (char *)"/b\"x", .pid = 42, .annotations = ann};
  static const struct
  {
    enum skiff_hook_kind kind;
    const char *status;
  } want[] = {{SKIFF_HOOK_PRESTART, "creating"},         {SKIFF_HOOK_CREATE_RUNTIME, "creating"},
              {SKIFF_HOOK_CREATE_CONTAINER, "creating"}, {SKIFF_HOOK_START_CONTAINER, "created"},
              {SKIFF_HOOK_POSTSTART, "running"},         {SKIFF_HOOK_POSTSTOP, "stopped"}};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    {
      char *text = state_hook_json(&st, want[i].kind);
      json_t *o = json_loads(text, 0, NULL);
      CHECK(o != NULL);
      CHECK_STR_EQ(json_string_value(json_object_get(o, "status")), want[i].status);
      CHECK_STR_EQ(json_string_value(json_object_get(o, "bundle")), "/b\"x");
      CHECK_STR_EQ(
          json_string_value(json_object_get(json_object_get(o, "annotations"), "org.example/k")),
          "v \"quoted\"");
      CHECK((json_object_get(o, "pid") != NULL) == (want[i].kind != SKIFF_HOOK_POSTSTOP));
      json_decref(o);
      free(text);
    }
  char *t = state_hook_json(&st, SKIFF_HOOK_CREATE_RUNTIME);
  char *c = state_json_with_status(t, "created");
  CHECK(c && strstr(c, "\"status\":\"created\"") && strstr(c, "\"pid\":42"));
  free(c);
  free(t);
  CHECK(state_json_with_status("[1]", "x") == NULL);
  CHECK(state_json_with_status("not json", "x") == NULL);
}

static void test_process_and_resources(void)
{
  struct skiff_err *err = NULL;
  struct skiff_process *p = NULL;
  const char *proc = "{\"user\": {\"uid\": 5, \"gid\": 6}, \"args\": [\"sh\", \"-c\", \"true\"],"
                     " \"env\": [\"A=1\"], \"cwd\": \"/tmp\", \"terminal\": true,"
                     " \"capabilities\": {\"bounding\": [\"CAP_KILL\"]}}";
  CHECK(spec_parse_process(proc, strlen(proc), &p, &err) == 0);
  CHECK(p && p->user.uid == 5 && p->terminal && p->has_caps);
  if (p)
    CHECK_STR_EQ(p->args[2], "true");
  spec_process_free(p);
  const char *bad[] = {"[]", "{}", "{\"args\": []}", "not json"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      p = NULL;
      CHECK(spec_parse_process(bad[i], strlen(bad[i]), &p, &err) < 0 && p == NULL);
      CHECK(err != NULL);
      skiff_err_free(&err);
    }
  struct skiff_resources r;
  const char *res
      = "{\"memory\": {\"limit\": 104857600, \"swappiness\": 0}, \"pids\": {\"limit\": 9},"
        " \"cpu\": {\"quota\": 5000, \"period\": 10000, \"cpus\": \"0\"}, \"blockIO\": {}}";
  CHECK(spec_parse_resources(res, strlen(res), &r, &err) == 0);
  CHECK(r.has_memory_limit && r.memory_limit == 104857600 && r.has_pids_limit && r.pids_limit == 9);
  CHECK(r.has_cpu_quota && r.cpu_quota == 5000 && r.cpuset_cpus && strcmp(r.cpuset_cpus, "0") == 0);
  spec_resources_free(&r);
  const char *rbad = "{\"memory\": {\"limit\": \"x\"}}";
  CHECK(spec_parse_resources(rbad, strlen(rbad), &r, &err) < 0);
  CHECK(err && strstr(err->msg, "memory.limit"));
  skiff_err_free(&err);
}

static void test_oci_version(void)
{
  struct skiff_err *err = NULL;
  const char *fmt = "{\"ociVersion\": \"%s\", \"root\": {\"path\": \"r\"}}";
  const char *versions[] = {"1.0.0", "1.0.2-dev", "1.2.1", "2.0.0", "0.6.0"};
  for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
    {
      char *text = xasprintf(fmt, versions[i]);
      struct skiff_spec *s = NULL;
      CHECK(spec_parse(text, strlen(text), &s, &err) == 0);
      CHECK(s && s->oci_version_unknown == (versions[i][0] != '1'));
      spec_free(s);
      free(text);
    }
  CHECK(err == NULL);
}

static void test_keyed_and_durations(void)
{
  const char *stat = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n";
  CHECK(cgroup_keyed_value(stat, "usage_usec") == 1500);
  CHECK(cgroup_keyed_value(stat, "system_usec") == 500);
  CHECK(cgroup_keyed_value(stat, "usage") == 0); /* a prefix of a key is not the key */
  CHECK(cgroup_keyed_value("populated 1\nfrozen 1\n", "frozen") == 1);
  struct skiff_err *err = NULL;
  long long ms = 0;
  CHECK(skiff_parse_duration_ms("5s", &ms, &err) == 0 && ms == 5000);
  CHECK(skiff_parse_duration_ms("250ms", &ms, &err) == 0 && ms == 250);
  CHECK(skiff_parse_duration_ms("1.5s", &ms, &err) == 0 && ms == 1500);
  CHECK(skiff_parse_duration_ms("2m", &ms, &err) == 0 && ms == 120000);
  CHECK(skiff_parse_duration_ms("3", &ms, &err) == 0 && ms == 3000);
  const char *bad[] = {"", "s", "-1s", "5x", "0", "0.1ms", "1e9h"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(skiff_parse_duration_ms(bad[i], &ms, &err) < 0);
      CHECK(err && strstr(err->msg, "duration"));
      skiff_err_free(&err);
    }
}

int main(void)
{
  RUN_TEST(test_restart_parse);
  RUN_TEST(test_restart_decision);
  RUN_TEST(test_restart_backoff);
  RUN_TEST(test_resolve_user);
  RUN_TEST(test_env_file);
  RUN_TEST(test_container_names);
  RUN_TEST(test_ps_filters);
  RUN_TEST(test_unraisable_ambient);
  RUN_TEST(test_hook_state);
  RUN_TEST(test_process_and_resources);
  RUN_TEST(test_oci_version);
  RUN_TEST(test_keyed_and_durations);
  return CHECK_DONE();
}
