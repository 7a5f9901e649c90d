/* test_agent.c - the fake agent's pure parts: --labels parsing, which node names belong to
 * a --count group, and what a fake replica reports from its env. */
#include "check.h"
#include "agent.h"

static void test_labels(void)
{
  json_t *l = NULL;
  cleanup_err struct skiff_err *err = NULL;

  CHECK(agent_parse_labels("", &l, &err) == 0);
  CHECK(json_object_size(l) == 0);
  json_decref(l);
  CHECK(agent_parse_labels("zone=a,disk=ssd", &l, &err) == 0);
  CHECK_STR_EQ(json_string_value(json_object_get(l, "zone")), "a");
  CHECK_STR_EQ(json_string_value(json_object_get(l, "disk")), "ssd");
  json_decref(l);
  CHECK(agent_parse_labels("zone", &l, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "expected key=value, got `zone`");
  skiff_err_free(&err);
  CHECK(agent_parse_labels("=a", &l, &err) < 0);
  skiff_err_free(&err);
  CHECK(agent_parse_labels("a=1,a=2", &l, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "key `a` given twice");
}

static void test_node_index(void)
{
  CHECK(agent_node_index("n", 1, "n") == 0);
  CHECK(agent_node_index("n", 1, "n-0") == -1);
  CHECK(agent_node_index("n", 1, "nx") == -1);
  CHECK(agent_node_index("n", 1, NULL) == -1);
  CHECK(agent_node_index("fake", 1000, "fake-0") == 0);
  CHECK(agent_node_index("fake", 1000, "fake-999") == 999);
  CHECK(agent_node_index("fake", 1000, "fake-1000") == -1);
  CHECK(agent_node_index("fake", 1000, "fake-01") == -1);
  CHECK(agent_node_index("fake", 1000, "fake") == -1);
  CHECK(agent_node_index("fake", 1000, "fake-") == -1);
  CHECK(agent_node_index("fake", 1000, "fake-1x") == -1);
  CHECK(agent_node_index("fake", 1000, "other-1") == -1);
}

static void test_fake_decide(void)
{
  struct agent_fake_report r;
  json_t *plain = json_pack("{s:{}}", "env");
  json_t *crash = json_pack("{s:{s:s},s:s}", "env", "SKIFF_FAKE_EXIT", "3", "restart", "always");
  json_t *crash_never
      = json_pack("{s:{s:s},s:s}", "env", "SKIFF_FAKE_EXIT", "3", "restart", "never");
  json_t *done_ok
      = json_pack("{s:{s:s},s:s}", "env", "SKIFF_FAKE_EXIT", "0", "restart", "on-failure");
  json_t *bad = json_pack("{s:{s:s},s:s}", "env", "SKIFF_FAKE_EXIT", "x", "restart", "never");
  json_t *never = json_pack("{s:{s:s}}", "env", "SKIFF_FAKE_READY", "never");

  agent_fake_decide(NULL, 0, &r);
  CHECK_STR_EQ(r.state, "Running");
  CHECK(r.ready == 1 && r.has_exit_code == 0 && r.restart_in < 0);
  agent_fake_decide(plain, 0, &r);
  CHECK_STR_EQ(r.state, "Running");
  CHECK(r.ready == 1);
  /* restart: always: restarted in place, the back-off growing with the restarts so far */
  agent_fake_decide(crash, 0, &r);
  CHECK_STR_EQ(r.state, "BackOff");
  CHECK(r.ready == 0 && r.has_exit_code && r.exit_code == 3 && r.restarts == 0);
  CHECK(r.restart_in == 0);
  agent_fake_decide(crash, 3, &r);
  CHECK(r.restarts == 3 && r.restart_in == 4);
  agent_fake_decide(crash, 40, &r);
  CHECK(r.restart_in == 30);
  /* no restart: terminal, the server replaces it */
  agent_fake_decide(crash_never, 0, &r);
  CHECK_STR_EQ(r.state, "Failed");
  CHECK(r.restarts == 0 && r.restart_in < 0);
  agent_fake_decide(done_ok, 0, &r);
  CHECK_STR_EQ(r.state, "Succeeded");
  agent_fake_decide(bad, 0, &r);
  CHECK(r.has_exit_code && r.exit_code == 1);
  agent_fake_decide(never, 0, &r);
  CHECK_STR_EQ(r.state, "Running");
  CHECK(r.ready == 0);
  CHECK_CONTAINS(r.reason, "SKIFF_FAKE_READY");
  json_decref(plain);
  json_decref(crash);
  json_decref(crash_never);
  json_decref(done_ok);
  json_decref(bad);
  json_decref(never);
}

static int skip(const char *line, json_int_t *rev)
{
  return agent_fake_skip_line(line, strlen(line), rev);
}

/* Watch lines a fake node drops unparsed: its replicas' Running echoes, nothing else. */
static void test_fake_skip_line(void)
{
  json_int_t rev = 5;
  CHECK(skip("{\"type\":\"MODIFIED\",\"kind\":\"replica\",\"revision\":42,\"object\":{"
             "\"revision\":42,\"name\":\"a\",\"state\":\"Running\",\"spec\":{}}}",
             &rev)
        == 1);
  CHECK(rev == 42);
  CHECK(skip("{\"type\":\"MODIFIED\",\"revision\":7,\"object\":{\"state\":\"Running\"}}", &rev)
        == 1);
  CHECK(rev == 42); /* never lowered */
  /* to act on: Scheduled, even with a Running-looking pair inside its spec */
  CHECK(skip("{\"type\":\"ADDED\",\"revision\":43,\"object\":{\"state\":\"Scheduled\",\"spec\":{"
             "\"env\":{\"state\":\"Running\"}}}}",
             &rev)
        == 0);
  CHECK(skip("{\"type\":\"ADDED\",\"revision\":43,\"object\":{\"spec\":{\"env\":{\"state\":"
             "\"Running\"}},\"state\":\"Scheduled\"}}",
             &rev)
        == 0);
  CHECK(skip("{\"type\":\"DELETED\",\"revision\":44,\"object\":{\"state\":\"Running\"}}", &rev)
        == 0);
  CHECK(skip("{\"type\":\"MODIFIED\",\"object\":{\"state\":\"Terminating\"}}", &rev) == 0);
  CHECK(skip("{\"type\":\"BOOKMARK\",\"revision\":45}", &rev) == 0);
  CHECK(skip("{\"state\":\"Runn", &rev) == 0);
  CHECK(rev == 42);
}

int main(void)
{
  RUN_TEST(test_labels);
  RUN_TEST(test_node_index);
  RUN_TEST(test_fake_decide);
  RUN_TEST(test_fake_skip_line);
  return CHECK_DONE();
}
