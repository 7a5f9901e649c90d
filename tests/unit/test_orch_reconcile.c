/* test_orch_reconcile.c - replica controller, rolling update, node lifecycle, restart
 * back-off and rollout state decisions (reconcile.c), and the generation bookkeeping of
 * apply / undo (service_merge, service_undo), and the status a service shows from the counts
 * of its replicas (service_status, service_rollout_seen). */
#include <math.h>
#include <string.h>
#include "check.h"
#include "model.h"
#include "reconcile.h"
#include "service.h"

#define R(name_, node_, gen_, st_, ready_, created_)                                               \
  {                                                                                                \
    .name = name_, .node = node_, .generation = gen_, .state = st_, .ready = ready_,               \
    .node_ready = (node_)[0] != '\0', .created = created_                                          \
  }

static bool stopped(const struct rc_plan *p, size_t idx, enum rc_why *why)
{
  for (size_t i = 0; i < p->nstop; i++)
    if (p->stop[i].index == idx)
      {
        if (why)
          *why = p->stop[i].why;
        return true;
      }
  return false;
}

static void test_scale_up_from_zero(void)
{
  struct rc_service s = {.desired = 3, .generation = 1, .max_surge = 1};
  struct rc_plan p;
  rc_plan_compute(&s, NULL, 0, &p);
  CHECK(p.create == 3 && p.nstop == 0 && p.ndrop == 0);
  rc_plan_free(&p);
}

static void test_scale_down_choice(void)
{
  struct rc_replica r[] = {
      R("w-a", "n1", 1, REPLICA_RUNNING, true, 10), R("w-b", "n1", 1, REPLICA_RUNNING, true, 11),
      R("w-c", "n2", 1, REPLICA_RUNNING, true, 12), R("w-d", "n2", 1, REPLICA_RUNNING, false, 5),
      R("w-e", "", 1, REPLICA_PENDING, false, 1),   R("w-f", "n3", 1, REPLICA_RUNNING, true, 20),
  };
  struct rc_service s = {.desired = 2, .generation = 1, .max_surge = 1};
  struct rc_plan p;
  rc_plan_compute(&s, r, 6, &p);
  CHECK(p.create == 0);
  CHECK(p.nstop == 4);
  enum rc_why why;
  /* Unscheduled first, then not ready, then the most loaded node (n1 has 2). */
  CHECK(p.nstop > 0 && p.stop[0].index == 4 && p.stop[0].why == RC_WHY_UNSCHEDULED);
  CHECK(p.nstop > 1 && p.stop[1].index == 3 && p.stop[1].why == RC_WHY_NOT_READY);
  CHECK(p.nstop > 2 && p.stop[2].index == 1 && p.stop[2].why == RC_WHY_LOADED);
  /* Then loads are 1/1/1: the newest goes. */
  CHECK(stopped(&p, 5, &why) && why == RC_WHY_NEWEST);
  CHECK(!stopped(&p, 0, NULL) && !stopped(&p, 2, NULL));
  rc_plan_free(&p);
}

static void test_failed_and_lost_replaced(void)
{
  struct rc_replica r[] = {
      R("w-a", "n1", 1, REPLICA_RUNNING, true, 1),
      R("w-b", "n2", 1, REPLICA_FAILED, false, 2),
      R("w-c", "n3", 1, REPLICA_LOST, false, 3),
  };
  r[2].node_ready = false;
  struct rc_service s = {.desired = 3, .generation = 1, .max_surge = 1};
  struct rc_plan p;
  rc_plan_compute(&s, r, 3, &p);
  CHECK(p.ndrop == 1 && p.drop[0].index == 1 && p.drop[0].why == RC_WHY_TERMINAL);
  CHECK(p.create == 2);
  CHECK(p.counts.live == 1);
  rc_plan_free(&p);
}

static void test_surge_cap_counts_terminating(void)
{
  /* 3 wanted, 2 running, 2 still terminating on a Ready node: 4 = 3 + 1 is the cap. */
  struct rc_replica r[] = {
      R("w-a", "n1", 1, REPLICA_RUNNING, true, 1),
      R("w-b", "n2", 1, REPLICA_RUNNING, true, 2),
      R("w-c", "n1", 1, REPLICA_TERMINATING, false, 3),
      R("w-d", "n2", 1, REPLICA_TERMINATING, false, 4),
  };
  struct rc_service s = {.desired = 3, .generation = 1, .max_surge = 1};
  struct rc_plan p;
  rc_plan_compute(&s, r, 4, &p);
  CHECK(p.create == 0);
  rc_plan_free(&p);
  /* Terminating on a NotReady node no longer counts. */
  r[3].node_ready = false;
  rc_plan_compute(&s, r, 4, &p);
  CHECK(p.create == 1);
  rc_plan_free(&p);
}

static void test_rolling_update_surge(void)
{
  struct rc_replica r[] = {
      R("w-1-a", "n1", 1, REPLICA_RUNNING, true, 1),
      R("w-1-b", "n2", 1, REPLICA_RUNNING, true, 2),
      R("w-1-c", "n3", 1, REPLICA_RUNNING, true, 3),
      R("w-2-a", "n1", 2, REPLICA_RUNNING, false, 4),
  };
  struct rc_service s = {.desired = 3, .generation = 2, .max_surge = 1, .max_unavailable = 0};
  struct rc_plan p;
  /* Step 1: nothing new yet: one surge replica, no old stopped. */
  rc_plan_compute(&s, r, 3, &p);
  CHECK(p.create == 1 && p.nstop == 0);
  rc_plan_free(&p);
  /* The new one exists but is not ready: wait (never below 3 available, never above 4). */
  rc_plan_compute(&s, r, 4, &p);
  CHECK(p.create == 0 && p.nstop == 0);
  CHECK(p.counts.old == 3 && p.counts.updated == 1);
  rc_plan_free(&p);
  /* Ready: one old replica goes. */
  r[3].ready = true;
  rc_plan_compute(&s, r, 4, &p);
  CHECK(p.create == 0 && p.nstop == 1 && p.stop[0].why == RC_WHY_OLD_GENERATION);
  CHECK(p.nstop == 1 && r[p.stop[0].index].generation == 1);
  rc_plan_free(&p);
}

static void test_rolling_update_unavailable(void)
{
  struct rc_replica r[] = {
      R("w-1-a", "n1", 1, REPLICA_RUNNING, true, 1),
      R("w-1-b", "n2", 1, REPLICA_RUNNING, true, 2),
      R("w-1-c", "n3", 1, REPLICA_RUNNING, true, 3),
  };
  struct rc_service s = {.desired = 3, .generation = 2, .max_surge = 0, .max_unavailable = 1};
  struct rc_plan p;
  rc_plan_compute(&s, r, 3, &p);
  CHECK(p.create == 0 && p.nstop == 1);
  rc_plan_free(&p);
  /* A stalled new generation (never ready) stops old replicas no further. */
  struct rc_replica r2[] = {
      R("w-1-a", "n1", 1, REPLICA_RUNNING, true, 1),
      R("w-1-b", "n2", 1, REPLICA_RUNNING, true, 2),
      R("w-2-a", "n3", 2, REPLICA_RUNNING, false, 4),
  };
  rc_plan_compute(&s, r2, 3, &p);
  CHECK(p.create == 0 && p.nstop == 0);
  rc_plan_free(&p);
}

static void test_node_lifecycle(void)
{
  CHECK(rc_node_ready(100.0, 96.0, 5.0));
  CHECK(rc_node_ready(100.0, 95.0, 5.0));
  CHECK(!rc_node_ready(100.0, 94.9, 5.0));
}

/* Heartbeat pacing: the period stretches beyond max_rate beats a second, the grace with it;
 * a shrink keeps the longer grace for one longer grace more. */
static void test_heartbeat_pace(void)
{
  struct rc_heartbeat_policy p = {.period = 5.0 / 3, .grace = 5, .max_rate = 400};
  struct rc_heartbeat h = {0};
  rc_heartbeat_pace(&h, &p, 3, 0);
  CHECK(h.period == 5.0 / 3 && h.grace == 5);
  rc_heartbeat_pace(&h, &p, 666, 1); /* 400 a second at 666 nodes is still under the cap */
  CHECK(h.period == 5.0 / 3 && h.grace == 5);
  rc_heartbeat_pace(&h, &p, 1000, 2); /* 1000 / 400 = 2.5 s, three beats: 7.5 s */
  CHECK(h.period == 2.5 && h.grace == 7.5);
  rc_heartbeat_pace(&h, &p, 1001, 3); /* 2.5025 rounds up to a quarter second */
  CHECK(h.period == 2.75 && h.grace == 8.25);
  CHECK(1001 / h.period <= 400);
  rc_heartbeat_pace(&h, &p, 5000, 4);
  CHECK(h.period == 12.5 && h.grace == 37.5);
  /* nodes removed at t=10: agents told 12.5 s may beat once more that late */
  rc_heartbeat_pace(&h, &p, 1000, 10);
  CHECK(h.period == 2.5 && h.grace == 37.5);
  rc_heartbeat_pace(&h, &p, 10, 40); /* a second shrink keeps the longest grace */
  CHECK(h.period == 5.0 / 3 && h.grace == 37.5);
  rc_heartbeat_pace(&h, &p, 10, 40 + 37.5 + 0.01);
  CHECK(h.period == 5.0 / 3 && h.grace == 5);
  /* growing is in force at once */
  rc_heartbeat_pace(&h, &p, 2000, 100);
  CHECK(h.period == 5 && h.grace == 15);
  /* no cap: the configured period whatever the count; an explicit period keeps its ratio */
  struct rc_heartbeat_policy none = {.period = 1, .grace = 5, .max_rate = 0};
  struct rc_heartbeat h2 = {0};
  rc_heartbeat_pace(&h2, &none, 100000, 0);
  CHECK(h2.period == 1 && h2.grace == 5);
  none.max_rate = 100;
  rc_heartbeat_pace(&h2, &none, 1000, 1);
  CHECK(h2.period == 10 && h2.grace == 50);
}

static void test_backoff(void)
{
  const struct rc_backoff_policy *p = &rc_backoff_default;
  double want[] = {0, 1, 2, 4, 8, 16, 30, 30};
  for (unsigned i = 0; i < 8; i++)
    CHECK(fabs(rc_backoff_delay(p, i) - want[i]) < 1e-9);
  CHECK(rc_backoff_delay(p, 1000) == 30);
  CHECK(rc_backoff_consecutive(p, 5, 59.9) == 5);
  CHECK(rc_backoff_consecutive(p, 5, 60.0) == 0);
  struct rc_backoff_policy custom = {.base = 0.5, .cap = 3, .reset_after = 10};
  CHECK(rc_backoff_delay(&custom, 1) == 0.5);
  CHECK(rc_backoff_delay(&custom, 3) == 2);
  CHECK(rc_backoff_delay(&custom, 4) == 3);
  CHECK(rc_should_restart("always", 0) && rc_should_restart("always", 1));
  CHECK(!rc_should_restart("on-failure", 0) && rc_should_restart("on-failure", 2));
  CHECK(!rc_should_restart("never", 1));
}

static void test_rollout_state(void)
{
  struct rc_counts done = {.live = 3, .ready = 3, .updated = 3, .updated_ready = 3};
  struct rc_counts going = {.live = 4, .ready = 3, .updated = 1, .updated_ready = 0, .old = 3};
  CHECK(rc_rollout_state(&done, 3, 100, 0, 60) == RC_ROLLOUT_COMPLETE);
  CHECK(rc_rollout_state(&going, 3, 100, 50, 60) == RC_ROLLOUT_PROGRESSING);
  CHECK(rc_rollout_state(&going, 3, 100, 30, 60) == RC_ROLLOUT_STALLED);
  CHECK_STR_EQ(rc_rollout_name(RC_ROLLOUT_STALLED), "Stalled");
}

static json_t *svc(const char *image)
{
  json_t *in = json_pack("{s:s,s:s,s:i}", "name", "web", "image", image, "replicas", 2);
  json_t *out = NULL;
  int64_t rev;
  CHECK(model_service_parse(in, "service", &out, &rev, NULL) == 0);
  json_decref(in);
  return out;
}

static void test_generations_and_undo(void)
{
  bool changed, new_gen;
  json_t *v1 = svc("webapp:v1"), *v2 = svc("webapp:v2");
  json_t *s1 = service_merge(NULL, v1, &changed, &new_gen);
  CHECK(changed && new_gen && model_int(s1, "generation", 0) == 1);
  json_t *same = service_merge(s1, v1, &changed, &new_gen);
  CHECK(!changed && !new_gen);
  json_t *s2 = service_merge(s1, v2, &changed, &new_gen);
  CHECK(changed && new_gen && model_int(s2, "generation", 0) == 2);
  CHECK(json_array_size(json_object_get(s2, "history")) == 2);
  /* Scaling is not a new generation. */
  json_t *v2b = json_deep_copy(v2);
  json_object_set_new(v2b, "replicas", json_integer(5));
  json_t *s2b = service_merge(s2, v2b, &changed, &new_gen);
  CHECK(changed && !new_gen && model_int(s2b, "generation", 0) == 2);
  /* Undo goes back to generation 1 (same number: its replicas count as updated). */
  json_t *u = service_undo(s2, 0, NULL);
  CHECK(u && model_int(u, "generation", 0) == 1);
  CHECK_STR_EQ(model_str(u, "image", ""), "webapp:v1");
  /* Undo again flips back to 2. */
  json_t *u2 = service_undo(u, 0, NULL);
  CHECK(u2 && model_int(u2, "generation", 0) == 2);
  struct skiff_err *err = NULL;
  CHECK(service_undo(s1, 0, &err) == NULL);
  CHECK(err && strstr(err->msg, "no previous generation"));
  skiff_err_free(&err);
  CHECK(service_undo(s2, 7, &err) == NULL);
  CHECK(err && strstr(err->msg, "not in its history"));
  skiff_err_free(&err);
  /* A third, new template gets generation 3. */
  json_t *v3 = svc("webapp:v3");
  json_t *s3 = service_merge(u2, v3, &changed, &new_gen);
  CHECK(model_int(s3, "generation", 0) == 3);
  json_t *objs[] = {v1, v2, v2b, v3, s1, same, s2, s2b, u, u2, s3};
  for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
    json_decref(objs[i]);
}

/* A service as the API shows it: its status counted from the replicas at one revision.
 * The case that was wrong: a new generation applied, the stored status still from the old
 * one ("Complete: 5 of 5 updated"), every replica of generation 1. */
static void test_rollout_status_from_counts(void)
{
  json_t *in = json_pack("{s:s,s:s,s:i}", "name", "web", "image", "v1", "replicas", 5);
  json_t *d = NULL;
  int64_t rev = 0;
  CHECK(model_service_parse(in, "service", &d, &rev, NULL) == 0);
  bool changed, new_gen;
  json_t *svc = service_merge(NULL, d, &changed, &new_gen);
  struct rc_counts c = {.live = 5, .ready = 5, .updated = 5, .updated_ready = 5};
  json_t *st = service_status(svc, &c, RC_ROLLOUT_COMPLETE, NULL, "2026-01-01T00:00:00Z");
  json_object_set_new(svc, "status", st);
  /* generation 2: the stored status says Complete, for generation 1 */
  json_object_set_new(d, "image", json_string("v2"));
  json_t *svc2 = service_merge(svc, d, &changed, &new_gen);
  CHECK(new_gen && model_int(svc2, "generation", 0) == 2);
  struct rc_counts old = {.live = 5, .ready = 5, .old = 5};
  CHECK(service_rollout_seen(svc2, &old) == RC_ROLLOUT_PROGRESSING);
  json_t *st2 = service_status(svc2, &old, RC_ROLLOUT_PROGRESSING, "; web-2-00001: Pending",
                               "2026-01-01T00:00:05Z");
  json_t *ro = json_object_get(st2, "rollout");
  CHECK(model_int(ro, "generation", 0) == 2);
  CHECK_STR_EQ(model_str(ro, "state", ""), "Progressing");
  CHECK_STR_EQ(model_str(ro, "message", ""),
               "generation 2: 0 of 5 updated replicas ready, 5 old; web-2-00001: Pending");
  CHECK_STR_EQ(model_str(ro, "since", ""), "2026-01-01T00:00:05Z");
  CHECK(model_int(st2, "updated", -1) == 0 && model_int(st2, "ready", -1) == 5);
  /* the rollout answer follows the same status */
  json_t *shown = json_copy(svc2);
  json_object_set_new(shown, "status", st2);
  json_t *answer = service_rollout_status(shown);
  CHECK_STR_EQ(model_str(answer, "state", ""), "Progressing");
  CHECK(model_int(answer, "generation", 0) == 2 && model_int(answer, "updated", -1) == 0);
  json_decref(answer);
  /* all of generation 2 ready, none old: Complete, whatever was stored */
  struct rc_counts done = {.live = 5, .ready = 5, .updated = 5, .updated_ready = 5};
  CHECK(service_rollout_seen(svc2, &done) == RC_ROLLOUT_COMPLETE);
  /* Stalled shows only when the controller marked this same generation Stalled */
  json_object_set_new(shown, "status",
                      service_status(svc2, &old, RC_ROLLOUT_STALLED, NULL, "2026-01-01T00:01:05Z"));
  CHECK(service_rollout_seen(shown, &old) == RC_ROLLOUT_STALLED);
  CHECK(service_rollout_seen(shown, &done) == RC_ROLLOUT_COMPLETE);
  CHECK_CONTAINS(
      model_str(json_object_get(json_object_get(shown, "status"), "rollout"), "message", ""),
      "no progress within the deadline");
  json_object_set_new(d, "image", json_string("v3"));
  json_t *svc3 = service_merge(shown, d, &changed, &new_gen);
  CHECK(service_rollout_seen(svc3, &old) == RC_ROLLOUT_PROGRESSING);
  json_decref(svc3);
  json_decref(shown);
  json_decref(svc2);
  json_decref(svc);
  json_decref(d);
  json_decref(in);
}

int main(void)
{
  RUN_TEST(test_scale_up_from_zero);
  RUN_TEST(test_scale_down_choice);
  RUN_TEST(test_failed_and_lost_replaced);
  RUN_TEST(test_surge_cap_counts_terminating);
  RUN_TEST(test_rolling_update_surge);
  RUN_TEST(test_rolling_update_unavailable);
  RUN_TEST(test_node_lifecycle);
  RUN_TEST(test_heartbeat_pace);
  RUN_TEST(test_backoff);
  RUN_TEST(test_rollout_state);
  RUN_TEST(test_generations_and_undo);
  RUN_TEST(test_rollout_status_from_counts);
  return CHECK_DONE();
}
