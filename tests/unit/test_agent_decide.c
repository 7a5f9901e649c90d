/* test_agent_decide.c - the node agent's pure decisions (orchestrator/agent/decide.h): what
 * the sync loop does for each (want, phase), restarts and back-off after an exit, the probe
 * schedule and verdicts, the reasons shown to users, and --tail's line arithmetic. */
#include "check.h"
#include "decide.h"

#include <stdlib.h>
#include <string.h>

static enum agent_action act(enum agent_want want, enum agent_phase phase, double now)
{
  struct agent_view v = {.want = want, .phase = phase, .now = now};
  struct agent_decision d;
  agent_decide(&v, &d);
  return d.action;
}

static void test_want_of(void)
{
  CHECK(agent_want_of("Scheduled") == AGENT_WANT_RUN);
  CHECK(agent_want_of("Starting") == AGENT_WANT_RUN);
  CHECK(agent_want_of("Running") == AGENT_WANT_RUN);
  CHECK(agent_want_of("BackOff") == AGENT_WANT_RUN);
  CHECK(agent_want_of("Terminating") == AGENT_WANT_STOP);
  CHECK(agent_want_of("Lost") == AGENT_WANT_STOP);
  CHECK(agent_want_of("Failed") == AGENT_WANT_NONE);
  CHECK(agent_want_of("Succeeded") == AGENT_WANT_NONE);
  CHECK(agent_want_of("Pending") == AGENT_WANT_NONE);
  CHECK(agent_want_of("bogus") == AGENT_WANT_NONE);
  CHECK(agent_want_of(NULL) == AGENT_WANT_NONE);
}

/* The table of the sync loop: every want against every phase. */
static void test_decide_table(void)
{
  /* wanted and absent: start; running: leave it; exited: remove first */
  CHECK(act(AGENT_WANT_RUN, AGENT_NONE, 10) == AGENT_ACT_START);
  CHECK(act(AGENT_WANT_RUN, AGENT_RUNNING, 10) == AGENT_ACT_WAIT);
  CHECK(act(AGENT_WANT_RUN, AGENT_EXITED, 10) == AGENT_ACT_REMOVE);
  CHECK(act(AGENT_WANT_RUN, AGENT_DONE, 10) == AGENT_ACT_WAIT);
  /* a request with the runtime: wait for its answer, whatever is wanted */
  for (int w = AGENT_WANT_NONE; w <= AGENT_WANT_STOP; w++)
    {
      CHECK(act((enum agent_want)w, AGENT_STARTING, 10) == AGENT_ACT_WAIT);
      CHECK(act((enum agent_want)w, AGENT_REMOVING, 10) == AGENT_ACT_WAIT);
      CHECK(act((enum agent_want)w, AGENT_EXITED, 10) == AGENT_ACT_REMOVE);
    }
  /* not wanted any more: stop it; once nothing is left, forget it or delete the object */
  CHECK(act(AGENT_WANT_NONE, AGENT_RUNNING, 10) == AGENT_ACT_TERM);
  CHECK(act(AGENT_WANT_STOP, AGENT_RUNNING, 10) == AGENT_ACT_TERM);
  CHECK(act(AGENT_WANT_NONE, AGENT_NONE, 10) == AGENT_ACT_FORGET);
  CHECK(act(AGENT_WANT_NONE, AGENT_DONE, 10) == AGENT_ACT_FORGET);
  CHECK(act(AGENT_WANT_STOP, AGENT_NONE, 10) == AGENT_ACT_DELETE_OBJECT);
  CHECK(act(AGENT_WANT_STOP, AGENT_DONE, 10) == AGENT_ACT_DELETE_OBJECT);
  struct agent_view v = {.want = AGENT_WANT_STOP, .phase = AGENT_NONE, .object_deleted = true};
  struct agent_decision d;
  agent_decide(&v, &d);
  CHECK(d.action == AGENT_ACT_WAIT);
}

static void test_decide_timers(void)
{
  struct agent_decision d;
  /* back-off: wait until not_before, then start */
  struct agent_view v = {.want = AGENT_WANT_RUN, .phase = AGENT_NONE, .now = 10, .not_before = 14};
  agent_decide(&v, &d);
  CHECK(d.action == AGENT_ACT_WAIT && d.wake == 14);
  v.now = 14;
  agent_decide(&v, &d);
  CHECK(d.action == AGENT_ACT_START);
  /* stopping: SIGKILL at the deadline, once */
  v = (struct agent_view){
      .want = AGENT_WANT_NONE, .phase = AGENT_STOPPING, .now = 10, .stop_deadline = 20};
  agent_decide(&v, &d);
  CHECK(d.action == AGENT_ACT_WAIT && d.wake == 20);
  v.now = 20;
  agent_decide(&v, &d);
  CHECK(d.action == AGENT_ACT_KILL);
  v.killed = true;
  agent_decide(&v, &d);
  CHECK(d.action == AGENT_ACT_WAIT && d.wake == 0);
  /* liveness failed: stop it even though it is wanted */
  v = (struct agent_view){.want = AGENT_WANT_RUN, .phase = AGENT_RUNNING, .liveness_failed = true};
  agent_decide(&v, &d);
  CHECK(d.action == AGENT_ACT_TERM);
}

static void test_after_exit(void)
{
  struct agent_restart r;
  struct agent_exit crash = {.known = true, .code = 1};
  struct agent_exit ok = {.known = true, .code = 0};
  struct agent_exit unknown = {.known = false, .code = -1};
  struct agent_exit live = {.known = true, .code = 0, .liveness = true};

  /* first restart immediate, then 1, 2, 4 ... 30 s */
  agent_after_exit("always", &crash, 1, 0, &r);
  CHECK(r.restart && r.delay == 0 && r.consecutive == 1);
  CHECK_STR_EQ(r.state, "Starting");
  agent_after_exit("always", &crash, 1, 1, &r);
  CHECK(r.restart && r.delay == 1 && r.consecutive == 2);
  CHECK_STR_EQ(r.state, "BackOff");
  agent_after_exit("always", &crash, 1, 2, &r);
  CHECK(r.delay == 2);
  agent_after_exit("always", &crash, 1, 4, &r);
  CHECK(r.delay == 8);
  agent_after_exit("always", &crash, 1, 40, &r);
  CHECK(r.delay == 30);
  /* 60 s of running forgets the earlier crashes */
  agent_after_exit("always", &crash, 60, 7, &r);
  CHECK(r.delay == 0 && r.consecutive == 1);
  /* policies */
  agent_after_exit("always", &ok, 1, 0, &r);
  CHECK(r.restart);
  agent_after_exit("on-failure", &ok, 1, 0, &r);
  CHECK(!r.restart);
  CHECK_STR_EQ(r.state, "Succeeded");
  agent_after_exit("on-failure", &crash, 1, 0, &r);
  CHECK(r.restart);
  agent_after_exit("never", &crash, 1, 0, &r);
  CHECK(!r.restart);
  CHECK_STR_EQ(r.state, "Failed");
  /* an exit nobody recorded is a failure; so is a liveness kill, whatever its code */
  agent_after_exit("on-failure", &unknown, 1, 0, &r);
  CHECK(r.restart);
  agent_after_exit("never", &unknown, 1, 0, &r);
  CHECK_STR_EQ(r.state, "Failed");
  agent_after_exit("on-failure", &live, 1, 0, &r);
  CHECK(r.restart);
  agent_after_exit("never", &live, 1, 0, &r);
  CHECK_STR_EQ(r.state, "Failed");
}

static void test_reasons(void)
{
  char *s;
  struct agent_exit e = {.known = true, .code = 3};
  s = agent_exit_reason(&e, 0, NULL);
  CHECK_STR_EQ(s, "exited with code 3");
  free(s);
  e.code = 137;
  s = agent_exit_reason(&e, 0, NULL);
  CHECK_STR_EQ(s, "killed by signal 9 (KILL)");
  free(s);
  e.oom = true;
  s = agent_exit_reason(&e, 64LL << 20, NULL);
  CHECK_STR_EQ(s, "OOMKilled: killed by signal 9 (KILL) at the memory limit (64Mi)");
  free(s);
  e = (struct agent_exit){.known = true, .code = 143, .liveness = true};
  s = agent_exit_reason(&e, 0, "HTTP GET /healthz: 500");
  CHECK_STR_EQ(s, "liveness probe failed (HTTP GET /healthz: 500); killed by signal 15 (TERM)");
  free(s);
  e = (struct agent_exit){.known = false};
  s = agent_exit_reason(&e, 0, NULL);
  CHECK_CONTAINS(s, "unknown");
  free(s);
  s = agent_backoff_reason(4, "exited with code 1", 1796557200);
  CHECK_STR_EQ(s, "back-off 4s restarting failed container (exited with code 1); next try at "
                  "2026-12-06T11:40:00Z");
  free(s);
}

static json_t *probe_json(const char *text)
{
  json_error_t e;
  return json_loads(text, 0, &e);
}

static void test_probe_parse(void)
{
  struct agent_probe_spec s;
  json_t *h = probe_json("{\"http\":{\"path\":\"/readyz\",\"port\":8080},\"period\":2,"
                         "\"timeout\":0.5,\"failureThreshold\":1}");
  json_t *t = probe_json("{\"tcp\":{\"port\":9}}");
  json_t *x = probe_json("{\"exec\":{\"command\":[\"cat\",\"/tmp/ok\"]},\"period\":1}");
  json_t *bad = probe_json("{\"exec\":{\"command\":[]}}");
  CHECK(agent_probe_spec_parse(h, &s) == 0);
  CHECK(s.kind == AGENT_PROBE_HTTP && s.port == 8080 && s.period == 2 && s.timeout == 0.5
        && s.threshold == 1);
  CHECK_STR_EQ(s.path, "/readyz");
  agent_probe_spec_clear(&s);
  CHECK(agent_probe_spec_parse(t, &s) == 0);
  CHECK(s.kind == AGENT_PROBE_TCP && s.port == 9 && s.period == 5 && s.timeout == 1
        && s.threshold == 3);
  agent_probe_spec_clear(&s);
  CHECK(agent_probe_spec_parse(x, &s) == 0);
  CHECK(s.kind == AGENT_PROBE_EXEC && s.argv && s.argv[2] == NULL);
  CHECK_STR_EQ(s.argv[1], "/tmp/ok");
  agent_probe_spec_clear(&s);
  CHECK(agent_probe_spec_parse(bad, &s) < 0);
  CHECK(agent_probe_spec_parse(NULL, &s) < 0);
  json_decref(h);
  json_decref(t);
  json_decref(x);
  json_decref(bad);
}

/* Readiness: fast after a start (20, 40, 80 ms...) until the first success, then `period`;
 * not ready until a success, not ready again after failureThreshold failures. */
static void test_probe_readiness(void)
{
  struct agent_probe_spec spec
      = {.kind = AGENT_PROBE_HTTP, .period = 2, .timeout = 1, .threshold = 2};
  struct agent_probe_state st;
  agent_probe_start(&st, &spec, true, 100, false, false);
  CHECK(!st.ok && st.next == 100 + AGENT_PROBE_FIRST);
  CHECK(!agent_probe_result(&st, &spec, false, 100.02));
  CHECK(!st.ok && st.next > 100.059 && st.next < 100.061); /* +40 ms */
  CHECK(!agent_probe_result(&st, &spec, false, 100.06));
  CHECK(st.next > 100.139 && st.next < 100.141); /* +80 ms */
  CHECK(agent_probe_result(&st, &spec, true, 100.14));
  CHECK(st.ok && st.next == 102.14);                     /* period from now on */
  CHECK(!agent_probe_result(&st, &spec, false, 102.14)); /* one failure of two */
  CHECK(st.ok);
  CHECK(agent_probe_result(&st, &spec, false, 104.14));
  CHECK(!st.ok && st.next == 106.14); /* no fast retries once it was ready */
  CHECK(agent_probe_result(&st, &spec, true, 106.14));
  CHECK(st.ok && st.failures == 0);
  /* fast tries never wait longer than the period */
  agent_probe_start(&st, &spec, true, 0, false, false);
  for (int i = 0; i < 30; i++)
    agent_probe_result(&st, &spec, false, 0);
  CHECK(st.next == 2);
  /* adopted after an agent restart: what the server said, at the period */
  agent_probe_start(&st, &spec, true, 50, true, true);
  CHECK(st.ok && st.next == 52);
  agent_probe_start(&st, &spec, true, 50, true, false);
  CHECK(!st.ok && st.next == 50 + AGENT_PROBE_FIRST);
}

static void test_probe_liveness(void)
{
  struct agent_probe_spec spec
      = {.kind = AGENT_PROBE_TCP, .period = 5, .timeout = 1, .threshold = 3};
  struct agent_probe_state st;
  agent_probe_start(&st, &spec, false, 10, false, false);
  CHECK(st.ok && st.next == 15);
  CHECK(!agent_probe_result(&st, &spec, false, 15));
  CHECK(!agent_probe_result(&st, &spec, false, 20));
  CHECK(st.ok && st.next == 25);
  CHECK(agent_probe_result(&st, &spec, false, 25)); /* third in a row: dead */
  CHECK(!st.ok);
  /* a success in between starts the count again */
  agent_probe_start(&st, &spec, false, 0, false, false);
  agent_probe_result(&st, &spec, false, 5);
  agent_probe_result(&st, &spec, false, 10);
  agent_probe_result(&st, &spec, true, 15);
  agent_probe_result(&st, &spec, false, 20);
  agent_probe_result(&st, &spec, false, 25);
  CHECK(st.ok && st.failures == 2);
}

static void test_tail(void)
{
  const char *b = "a\nb\nc\n";
  CHECK(agent_tail_offset(b, 6, 1) == 4);
  CHECK(agent_tail_offset(b, 6, 2) == 2);
  CHECK(agent_tail_offset(b, 6, 3) == 0);
  CHECK(agent_tail_offset(b, 6, 10) == 0);
  CHECK(agent_tail_offset(b, 6, 0) == 6);
  CHECK(agent_tail_offset("a\nbc", 4, 1) == 2); /* a last line without newline counts */
  CHECK(agent_tail_offset("", 0, 3) == 0);
  CHECK(agent_count_lines(b, 6) == 3);
  CHECK(agent_count_lines("a\nbc", 4) == 2);
  CHECK(agent_count_lines("", 0) == 0);
  CHECK(agent_count_lines("\n\n", 2) == 2);
}

static void test_image_names_registry(void)
{
  CHECK(agent_image_names_registry("127.0.0.1:5000/webapp:1"));
  CHECK(agent_image_names_registry("localhost/webapp"));
  CHECK(agent_image_names_registry("registry.example/team/app:2"));
  CHECK(agent_image_names_registry("host:5000/app@sha256:abc"));
  CHECK(!agent_image_names_registry("webapp"));
  CHECK(!agent_image_names_registry("webapp:1"));
  CHECK(!agent_image_names_registry("library/busybox"));
  CHECK(!agent_image_names_registry("/x"));
  CHECK(!agent_image_names_registry(""));
  CHECK(!agent_image_names_registry(NULL));
}

/* The agent follows the period the server asks for, and keeps its own on anything else. */
static void test_heartbeat_interval(void)
{
  struct
  {
    const char *reply;
    double want;
  } cases[] = {
      {"{\"name\":\"n1\",\"status\":\"Ready\",\"heartbeatInterval\":1.25}", 1.25},
      {"{\"heartbeatInterval\":0.5}", 0.5},
      {"{\"heartbeatInterval\":2}", 2}, /* an integer */
      {"{\"heartbeatInterval\":3600}", 3600},
      {"{\"name\":\"n1\",\"status\":\"Ready\"}", 7}, /* an older server */
      {"{\"heartbeatInterval\":\"1\"}", 7},          /* a string */
      {"{\"heartbeatInterval\":0}", 7},              /* would spin */
      {"{\"heartbeatInterval\":-1}", 7},
      {"{\"heartbeatInterval\":0.001}", 7},
      {"{\"heartbeatInterval\":86400}", 86400}, /* a server with a grace of days */
      {"{\"heartbeatInterval\":86401}", 7},     /* more than any server may ask */
      {"[1.25]", 7},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
      json_t *j = probe_json(cases[i].reply);
      CHECK(j != NULL);
      CHECK(agent_heartbeat_interval(j, 7) == cases[i].want);
      json_decref(j);
    }
  CHECK(agent_heartbeat_interval(NULL, 7) == 7);
}

int main(void)
{
  RUN_TEST(test_want_of);
  RUN_TEST(test_decide_table);
  RUN_TEST(test_decide_timers);
  RUN_TEST(test_after_exit);
  RUN_TEST(test_reasons);
  RUN_TEST(test_probe_parse);
  RUN_TEST(test_probe_readiness);
  RUN_TEST(test_probe_liveness);
  RUN_TEST(test_tail);
  RUN_TEST(test_image_names_registry);
  RUN_TEST(test_heartbeat_interval);
  return CHECK_DONE();
}
