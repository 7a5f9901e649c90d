/* test_orch_controller.c - the controller tick (server/controller.c) against a temporary
 * SQLite store: scale up and down, replacement of Failed and Lost replicas, node lifecycle,
 * the steps of a rolling update.  Each test builds a cluster (store + view), registers
 * nodes, applies services as the API would, plays the agent by writing replica states, and
 * checks what one tick wrote; a tick that meets a conflict commits the rest. */
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
  cl.heartbeat_policy = (struct rc_heartbeat_policy){.period = 5.0 / 3, .grace = 5};
  ctl = controller_new(&cl, now);
}

static void teardown(void)
{
  controller_free(ctl);
  cluster_close(&cl);
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", dir);
}

static void commit(struct writes *w)
{
  struct skiff_err *err = NULL;
  if (cluster_commit(&cl, w, NULL, &err) != 0)
    {
      printf("# commit: %s\n", err ? err->msg : "conflict");
      skiff_err_free(&err);
    }
  writes_free(w);
}

/* Write a Service or Node (taken over) as the API does. */
static void put(char kind, json_t *obj)
{
  struct writes w = {0};
  writes_put_json(&w, kind, model_str(obj, "name", ""), obj, STORE_ANY_REV);
  commit(&w);
}

/* Write a replica (taken over): the agent reporting. */
static void put_replica(struct view_replica *r)
{
  struct writes w = {0};
  writes_put_replica(&w, r, STORE_ANY_REV);
  commit(&w);
}

static void delete_replica(const char *name)
{
  struct writes w = {0};
  writes_delete(&w, VIEW_REPLICA, name, STORE_ANY_REV);
  commit(&w);
}

/* Every replica in the view, in a stable order (a commit changes the view: copy first). */
static size_t replicas(struct view_replica ***out)
{
  size_t n = 0, pos = 0;
  void *val;
  *out = xmalloc((cl.view.replicas.n + 1) * sizeof(**out));
  while (strmap_next(&cl.view.replicas, &pos, NULL, &val))
    (*out)[n++] = val;
  return n;
}

static void add_node(const char *name)
{
  json_t *n
      = json_pack("{s:s,s:s,s:i,s:{s:f,s:s},s:{},s:s,s:b,s:s}", "name", name, "address",
                  "127.0.0.1", "agentPort", 0, "capacity", "cpu", 4.0, "memory", "8Gi", "labels",
                  "status", "Ready", "cordoned", 0, "created", "2026-01-01T00:00:00Z");
  put(VIEW_NODE, n);
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
    put(VIEW_SERVICE, obj);
  else
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
  struct view_replica **rs;
  size_t n = replicas(&rs);
  int k = 0;
  for (size_t i = 0; i < n; i++)
    k += strcmp(rs[i]->service, service) == 0
         && (state == NULL || strcmp(model_replica_state_name(rs[i]->state), state) == 0)
         && (gen == 0 || rs[i]->generation == gen);
  free(rs);
  return k;
}

static int on_node(const char *node)
{
  struct view_replica **rs;
  size_t n = replicas(&rs);
  int k = 0;
  for (size_t i = 0; i < n; i++)
    k += strcmp(rs[i]->node, node) == 0;
  free(rs);
  return k;
}

/* The agent: every Scheduled replica of service starts Running (ready or not), and every
 * Terminating one is stopped and deleted. */
static void agent_sync(const char *service, bool ready)
{
  struct view_replica **rs;
  size_t n = replicas(&rs);
  char **todo = xzalloc((n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++)
    if (strcmp(rs[i]->service, service) == 0)
      todo[i] = xstrdup(rs[i]->name);
  free(rs);
  for (size_t i = 0; i < n; i++)
    {
      struct view_replica *r = todo[i] ? view_replica(&cl.view, todo[i]) : NULL;
      if (r && r->state == REPLICA_SCHEDULED)
        {
          struct view_replica *c = view_replica_clone(r);
          c->state = REPLICA_RUNNING;
          c->ready = ready;
          put_replica(c);
        }
      else if (r && r->state == REPLICA_TERMINATING)
        delete_replica(r->name);
      free(todo[i]);
    }
  free(todo);
}

static void set_state(const char *replica, enum replica_state state, int exit_code)
{
  struct view_replica *c = view_replica_clone(view_replica(&cl.view, replica));
  c->state = state;
  c->ready = false;
  c->has_exit = true;
  c->exit_code = exit_code;
  put_replica(c);
}

static const char *first_replica(const char *service, const char *state)
{
  struct view_replica **rs;
  size_t n = replicas(&rs);
  const char *found = NULL;
  for (size_t i = 0; i < n && !found; i++)
    if (strcmp(rs[i]->service, service) == 0
        && strcmp(model_replica_state_name(rs[i]->state), state) == 0)
      found = rs[i]->name;
  free(rs);
  return found;
}

static const char *node_status(const char *node)
{
  return model_str(view_node(&cl.view, node)->obj, "status", "");
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
  set_state(victim, REPLICA_FAILED, 1);
  tick(0.1);
  /* the Failed one is gone, a new one took its place and is bound */
  CHECK(view_replica(&cl.view, victim) == NULL);
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
  CHECK_STR_EQ(node_status("a"), "NotReady");
  CHECK(count("web", "Lost", 0) == 2);
  CHECK(count("web", "Scheduled", 0) == 2);
  CHECK(on_node("b") == 4);
  /* a comes back: its Lost replicas are told to stop; the live count stays 4 */
  cluster_heartbeat(&cl, "a", now);
  cluster_heartbeat(&cl, "b", now);
  tick(0.1);
  CHECK_STR_EQ(node_status("a"), "Ready");
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
  CHECK_STR_EQ(node_status("a"), "NotReady");
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
  struct view_replica **rs;
  size_t n = replicas(&rs);
  for (size_t i = 0; i < n; i++)
    if (rs[i]->generation == 2)
      {
        struct view_replica *c = view_replica_clone(rs[i]);
        c->ready = true;
        free(rs);
        rs = NULL;
        put_replica(c);
        break;
      }
  free(rs);
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
    CHECK_CONTAINS(view_replica(&cl.view, p)->reason,
                   "0/1 nodes are available: 1 insufficient memory");
  teardown();
}

/* A tick whose writes meet a conflict: the conflicting write is dropped alone, counted and
 * logged; the rest of the tick commits. */
static void test_conflict_drops_one_write_only(void)
{
  setup();
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":3}");
  tick(0.1);
  CHECK(count("web", "Pending", 0) == 3); /* no node yet */
  add_node("a");
  /* Someone else (another server, say) rewrites one replica behind the view's back: the
   * revision the controller holds for it is stale now. */
  const char *victim = first_replica("web", "Pending");
  struct view_replica *r = view_replica(&cl.view, victim);
  cleanup_free char *key = xasprintf("/replicas/%s", victim);
  cleanup_free char *val = view_replica_encode(r, false, NULL);
  store_notify_fn fn = cl.store->notify;
  void *data = cl.store->notify_data;
  store_set_notify(cl.store, NULL, NULL);
  CHECK(store_put(cl.store, key, val, STORE_ANY_REV, NULL, NULL) == 0);
  store_set_notify(cl.store, fn, data);
  tick(0.1);
  /* the other two were bound and committed */
  CHECK(count("web", "Scheduled", 0) == 2);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  controller_write_metrics(ctl, f);
  fclose(f);
  CHECK_CONTAINS(text, "skiff_controller_conflicts_total 1\n");
  CHECK_CONTAINS(text, "skiff_scheduler_placements_total 3\n");
  free(text);
  teardown();
}

/* A replica that cannot start is reported Failed again and again: the replacements come in
 * rounds 1 s, 2 s ... apart, and between rounds the Failed replica stays with its reason. */
static void test_failed_stays_visible_between_rounds(void)
{
  setup();
  add_node("a");
  apply("{\"name\":\"bad\",\"image\":\"nosuch\",\"replicas\":1}");
  tick(0.1);
  const char *s = first_replica("bad", "Scheduled");
  CHECK(s != NULL);
  cleanup_free char *first = xstrdup(s ? s : "");
  set_state(first, REPLICA_FAILED, 1);
  tick(0.1); /* the first round is at once */
  CHECK(view_replica(&cl.view, first) == NULL);
  s = first_replica("bad", "Scheduled");
  CHECK(s != NULL);
  cleanup_free char *second = xstrdup(s ? s : "");
  set_state(second, REPLICA_FAILED, 1);
  tick(0.3); /* within the 1 s back-off: kept, nothing new */
  CHECK(view_replica(&cl.view, second) != NULL);
  CHECK(count("bad", NULL, 0) == 1 && count("bad", "Failed", 0) == 1);
  tick(0.3);
  CHECK(count("bad", "Failed", 0) == 1);
  tick(0.5); /* 1.1 s after the first round: the next one */
  CHECK(view_replica(&cl.view, second) == NULL);
  CHECK(count("bad", "Scheduled", 0) == 1);
  /* scaled to zero while one waits: dropped at once, nothing to wait for */
  s = first_replica("bad", "Scheduled");
  CHECK(s != NULL);
  if (s)
    set_state(s, REPLICA_FAILED, 1);
  apply("{\"name\":\"bad\",\"image\":\"nosuch\",\"replicas\":0}");
  tick(0.1);
  CHECK(count("bad", NULL, 0) == 0);
  teardown();
}

/* Crash looping in place (BackOff, restarts rising) is not replaced and keeps its name. */
static void test_backoff_replica_is_kept(void)
{
  setup();
  add_node("a");
  apply("{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":1}");
  tick(0.1);
  const char *name = first_replica("web", "Scheduled");
  CHECK(name != NULL);
  cleanup_free char *kept = xstrdup(name ? name : "");
  for (int i = 1; i <= 3; i++)
    {
      struct view_replica *c = view_replica_clone(view_replica(&cl.view, kept));
      c->state = REPLICA_BACKOFF;
      c->restarts = i;
      c->has_exit = true;
      c->exit_code = 2;
      put_replica(c);
      tick(0.5);
      CHECK(count("web", NULL, 0) == 1);
      CHECK(view_replica(&cl.view, kept) != NULL);
    }
  CHECK(view_replica(&cl.view, kept)->restarts == 3);
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
  RUN_TEST(test_conflict_drops_one_write_only);
  RUN_TEST(test_backoff_replica_is_kept);
  RUN_TEST(test_failed_stays_visible_between_rounds);
  return CHECK_DONE();
}
