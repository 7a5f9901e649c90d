/* test_orch_controller.c - the controller tick (server/controller.c) against a temporary
 * SQLite store: scale up and down, replacement of Failed and Lost replicas, node lifecycle,
 * the steps of a rolling update.  Each test builds a cluster (store + view), registers
 * nodes, applies services as the API would, plays the agent by writing replica states, and
 * checks what one tick wrote. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "cluster.h"
#include "controller.h"
#include "model.h"
#include "service.h"

static char dir[64];
static struct cluster cl;
static struct controller *ctl;
static double now;

static void setup(void)
{
  strcpy(dir, "/tmp/test_orch_controller.XXXXXX");
  if (mkdtemp(dir) == NULL)
    abort();
  struct store *s = NULL;
  struct skiff_err *err = NULL;
  if (store_sqlite_open(dir, &s, &err) < 0 || cluster_open(&cl, s, &err) < 0)
    {
      printf("# %s\n", err->msg);
      abort();
    }
  now = 1000;
  ctl = controller_new(&cl, 5, now);
}

static void teardown(void)
{
  controller_free(ctl);
  cluster_close(&cl);
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", dir);
}

static void put(const char *prefix, json_t *obj)
{
  cleanup_free char *key = xasprintf("%s%s", prefix, model_str(obj, "name", ""));
  cleanup_free char *val = cluster_encode(obj);
  struct store_op op = {
      .type = STORE_PUT, .key = key, .value = val, .len = strlen(val), .expect_rev = STORE_ANY_REV};
  struct skiff_err *err = NULL;
  if (cluster_commit(&cl, &op, 1, NULL, &err) != 0)
    {
      printf("# put %s: %s\n", key, err ? err->msg : "conflict");
      skiff_err_free(&err);
    }
}

static void add_node(const char *name)
{
  json_t *n
      = json_pack("{s:s,s:s,s:i,s:{s:f,s:s},s:{},s:s,s:b,s:s}", "name", name, "address",
                  "127.0.0.1", "agentPort", 0, "capacity", "cpu", 4.0, "memory", "8Gi", "labels",
                  "status", "Ready", "cordoned", 0, "created", "2026-01-01T00:00:00Z");
  put("/nodes/", n);
  json_decref(n);
  cluster_heartbeat(&cl, name, now);
}

/* Apply one Service (JSON text) the way POST /v1/apply does. */
static void apply(const char *text)
{
  json_t *in = json_loads(text, 0, NULL), *svc = NULL;
  int64_t rev = 0;
  struct skiff_err *err = NULL;
  if (in == NULL || model_service_parse(in, "service", &svc, &rev, &err) < 0)
    {
      printf("# apply: %s\n", err ? err->msg : "bad JSON");
      skiff_err_free(&err);
      json_decref(in);
      return;
    }
  bool changed, new_gen;
  json_t *old = json_object_get(cl.view.services, model_str(svc, "name", ""));
  json_t *obj = service_merge(old, svc, &changed, &new_gen);
  if (changed)
    put("/services/", obj);
  json_decref(obj);
  json_decref(svc);
  json_decref(in);
}

static void tick(double dt)
{
  now += dt;
  /* every node heartbeats unless a test stops it */
  controller_tick(ctl, now);
}

static int count(const char *service, const char *state, int64_t gen)
{
  int n = 0;
  const char *name;
  json_t *r;
  json_object_foreach(cl.view.replicas, name, r)
  {
    if (strcmp(model_str(r, "service", ""), service) == 0
        && (state == NULL || strcmp(model_str(r, "state", ""), state) == 0)
        && (gen == 0 || model_int(r, "generation", 0) == gen))
      n++;
  }
  return n;
}

static int on_node(const char *node)
{
  int n = 0;
  const char *name;
  json_t *r;
  json_object_foreach(cl.view.replicas, name, r)
  {
    n += strcmp(model_str(r, "node", ""), node) == 0;
  }
  return n;
}

/* The agent: every Scheduled replica of service starts Running (ready), and every
 * Terminating one is stopped and deleted. */
static void agent_sync(const char *service, bool ready)
{
  json_t *todo = json_array();
  const char *name;
  json_t *r;
  json_object_foreach(cl.view.replicas, name, r)
  {
    if (strcmp(model_str(r, "service", ""), service) == 0)
      json_array_append(todo, r);
  }
  size_t i;
  json_array_foreach(todo, i, r)
  {
    const char *st = model_str(r, "state", "");
    if (strcmp(st, "Scheduled") == 0)
      {
        json_t *c = json_deep_copy(r);
        json_object_set_new(c, "state", json_string("Running"));
        json_object_set_new(c, "ready", json_boolean(ready));
        put("/replicas/", c);
        json_decref(c);
      }
    else if (strcmp(st, "Terminating") == 0)
      {
        cleanup_free char *key = xasprintf("/replicas/%s", model_str(r, "name", ""));
        struct store_op op = {.type = STORE_DELETE, .key = key, .expect_rev = STORE_ANY_REV};
        CHECK(cluster_commit(&cl, &op, 1, NULL, NULL) == 0);
      }
  }
  json_decref(todo);
}

static void set_state(const char *replica, const char *state, int exit_code)
{
  json_t *c = json_deep_copy(json_object_get(cl.view.replicas, replica));
  json_object_set_new(c, "state", json_string(state));
  json_object_set_new(c, "ready", json_false());
  json_object_set_new(c, "lastExitCode", json_integer(exit_code));
  put("/replicas/", c);
  json_decref(c);
}

static const char *first_replica(const char *service, const char *state)
{
  const char *name;
  json_t *r;
  json_object_foreach(cl.view.replicas, name, r)
  {
    if (strcmp(model_str(r, "service", ""), service) == 0
        && strcmp(model_str(r, "state", ""), state) == 0)
      return name;
  }
  return NULL;
}

static const char *rollout_state(const char *service)
{
  json_t *svc = json_object_get(cl.view.services, service);
  return model_str(json_object_get(json_object_get(svc, "status"), "rollout"), "state", "");
}

static void test_scale_up_binds_and_spreads(void)
{
  setup();
  add_node("a");
  add_node("b");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":4}");
  tick(0.1);
  /* one tick creates the replicas and the scheduler binds them */
  CHECK(count("web", NULL, 0) == 4);
  CHECK(count("web", "Scheduled", 1) == 4);
  CHECK(on_node("a") == 2 && on_node("b") == 2);
  agent_sync("web", true);
  tick(0.1);
  CHECK(count("web", "Running", 1) == 4);
  CHECK_STR_EQ(rollout_state("web"), "Complete");
  json_t *st = json_object_get(json_object_get(cl.view.services, "web"), "status");
  CHECK(model_int(st, "replicas", 0) == 4 && model_int(st, "ready", 0) == 4);
  teardown();
}

static void test_scale_down_stops_the_surplus(void)
{
  setup();
  add_node("a");
  add_node("b");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":5}");
  tick(0.1);
  agent_sync("web", true);
  tick(0.1);
  CHECK(count("web", "Running", 0) == 5);
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":2}");
  tick(0.1);
  /* the surplus is stopped by the agent (Terminating on a Ready node), not deleted */
  CHECK(count("web", "Terminating", 0) == 3);
  CHECK(count("web", "Running", 0) == 2);
  /* the node with the most replicas (a: 3) loses first: 1 and 1 remain */
  agent_sync("web", true);
  tick(0.1);
  CHECK(count("web", NULL, 0) == 2);
  CHECK(on_node("a") == 1 && on_node("b") == 1);
  /* scale to zero */
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":0}");
  tick(0.1);
  CHECK(count("web", "Terminating", 0) == 2);
  teardown();
}

static void test_failed_replica_is_replaced(void)
{
  setup();
  add_node("a");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":2,\"restart\":\"never\"}");
  tick(0.1);
  agent_sync("web", true);
  tick(0.1);
  cleanup_free char *victim = xstrdup(first_replica("web", "Running"));
  set_state(victim, "Failed", 1);
  tick(0.1);
  /* the Failed one is gone, a new one took its place and is bound */
  CHECK(json_object_get(cl.view.replicas, victim) == NULL);
  CHECK(count("web", NULL, 0) == 2);
  CHECK(count("web", "Scheduled", 0) == 1);
  CHECK(count("web", "Running", 0) == 1);
  teardown();
}

static void test_lost_node_replicas_move(void)
{
  setup();
  add_node("a");
  add_node("b");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":4}");
  tick(0.1);
  agent_sync("web", true);
  tick(0.1);
  CHECK(on_node("a") == 2);
  /* only b heartbeats: after the grace a is NotReady, its replicas Lost and replaced on b */
  for (int i = 0; i < 12; i++)
    {
      cluster_heartbeat(&cl, "b", now);
      tick(0.5);
    }
  CHECK_STR_EQ(model_str(json_object_get(cl.view.nodes, "a"), "status", ""), "NotReady");
  CHECK(count("web", "Lost", 0) == 2);
  CHECK(count("web", "Scheduled", 0) == 2);
  CHECK(on_node("b") == 4);
  /* a comes back: its Lost replicas are told to stop; the live count stays 4 */
  cluster_heartbeat(&cl, "a", now);
  cluster_heartbeat(&cl, "b", now);
  tick(0.1);
  CHECK_STR_EQ(model_str(json_object_get(cl.view.nodes, "a"), "status", ""), "Ready");
  CHECK(count("web", "Terminating", 0) == 2);
  CHECK(count("web", "Lost", 0) == 0);
  CHECK(count("web", "Running", 0) + count("web", "Scheduled", 0) == 4);
  teardown();
}

static void test_every_node_lost_marks_nothing(void)
{
  setup();
  add_node("a");
  add_node("b");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":2}");
  tick(0.1);
  agent_sync("web", true);
  for (int i = 0; i < 12; i++)
    tick(0.5);
  /* full disruption: the fault is more likely ours; nothing is marked Lost */
  CHECK_STR_EQ(model_str(json_object_get(cl.view.nodes, "a"), "status", ""), "NotReady");
  CHECK(count("web", "Running", 0) == 2);
  CHECK(count("web", "Lost", 0) == 0);
  teardown();
}

static void test_rolling_update_steps(void)
{
  setup();
  add_node("a");
  add_node("b");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":3,"
        "\"update\":{\"maxSurge\":1,\"maxUnavailable\":0}}");
  tick(0.1);
  agent_sync("web", true);
  tick(0.1);
  CHECK_STR_EQ(rollout_state("web"), "Complete");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":3,\"env\":{\"V\":\"2\"},"
        "\"update\":{\"maxSurge\":1,\"maxUnavailable\":0}}");
  tick(0.1);
  /* step 1: one surge replica of generation 2, no old one stopped (none may be unavailable) */
  CHECK(count("web", NULL, 2) == 1);
  CHECK(count("web", "Running", 1) == 3);
  CHECK_STR_EQ(rollout_state("web"), "Progressing");
  /* while the new one is not ready, nothing more happens */
  agent_sync("web", false);
  tick(0.1);
  CHECK(count("web", NULL, 2) == 1 && count("web", "Running", 1) == 3);
  /* ready: one old replica is stopped, and the next surge follows once it is gone */
  json_t *r = json_deep_copy(json_object_get(cl.view.replicas, first_replica("web", "Running")));
  const char *name;
  json_t *x;
  json_object_foreach(cl.view.replicas, name, x)
  {
    if (model_int(x, "generation", 0) == 2)
      {
        json_decref(r);
        r = json_deep_copy(x);
      }
  }
  json_object_set_new(r, "ready", json_true());
  put("/replicas/", r);
  json_decref(r);
  tick(0.1);
  CHECK(count("web", "Terminating", 1) == 1);
  for (int i = 0; i < 10 && strcmp(rollout_state("web"), "Complete") != 0; i++)
    {
      agent_sync("web", true);
      tick(0.1);
    }
  CHECK_STR_EQ(rollout_state("web"), "Complete");
  CHECK(count("web", NULL, 2) == 3 && count("web", NULL, 1) == 0);
  teardown();
}

static void test_rollout_stalls_after_deadline(void)
{
  setup();
  add_node("a");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":1,"
        "\"update\":{\"progressDeadline\":2}}");
  tick(0.1);
  agent_sync("web", false);
  tick(0.1);
  CHECK_STR_EQ(rollout_state("web"), "Progressing");
  for (int i = 0; i < 6; i++)
    {
      cluster_heartbeat(&cl, "a", now);
      tick(0.5);
    }
  CHECK_STR_EQ(rollout_state("web"), "Stalled");
  json_t *ro = json_object_get(json_object_get(json_object_get(cl.view.services, "web"), "status"),
                               "rollout");
  CHECK_CONTAINS(model_str(ro, "message", ""), "no progress within the deadline");
  teardown();
}

static void test_unschedulable_stays_pending_with_reason(void)
{
  setup();
  add_node("a");
  apply(
      "{\"name\":\"big\",\"image\":\"webapp\",\"replicas\":1,\"resources\":{\"memory\":\"64Gi\"}}");
  tick(0.1);
  const char *p = first_replica("big", "Pending");
  CHECK(p != NULL);
  if (p)
    CHECK_CONTAINS(model_str(json_object_get(cl.view.replicas, p), "reason", ""),
                   "0/1 nodes are available: 1 insufficient memory");
  teardown();
}

int main(void)
{
  RUN_TEST(test_scale_up_binds_and_spreads);
  RUN_TEST(test_scale_down_stops_the_surplus);
  RUN_TEST(test_failed_replica_is_replaced);
  RUN_TEST(test_lost_node_replicas_move);
  RUN_TEST(test_every_node_lost_marks_nothing);
  RUN_TEST(test_rolling_update_steps);
  RUN_TEST(test_rollout_stalls_after_deadline);
  RUN_TEST(test_unschedulable_stays_pending_with_reason);
  return CHECK_DONE();
}
