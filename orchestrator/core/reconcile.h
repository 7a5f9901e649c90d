/* reconcile.h - the controllers' decisions as pure functions (no I/O, no clock: time comes in
 * as arguments), so unit tests can drive every case.  controller.c applies them to the store.
 *
 * - rc_plan: the replica controller and the rolling update for one service: how many replicas
 *   of the current generation to create, which to stop and why, which terminal ones to drop.
 * - rc_node_check: node lifecycle (heartbeat grace).
 * - rc_backoff_*: restart back-off the agent applies (first restart immediate, then base,
 *   2*base, ... up to cap; reset after reset_after seconds of running).
 * - rc_rollout_state: Progressing / Complete / Stalled. */
#ifndef SKIFF_RECONCILE_H
#define SKIFF_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct rc_replica
{
  const char *name;
  const char *node; /* "" or NULL when unbound */
  int64_t generation;
  enum replica_state state;
  bool ready;
  bool node_ready; /* its node exists and is Ready */
  int64_t created; /* create revision: larger is newer */
};

struct rc_service
{
  int desired;
  int64_t generation;
  int max_surge;
  int max_unavailable;
};

/* Why a replica is stopped or dropped (for events and `describe`). */
enum rc_why
{
  RC_WHY_UNSCHEDULED,    /* scale down: not placed yet */
  RC_WHY_NOT_READY,      /* scale down: not ready */
  RC_WHY_LOADED,         /* scale down: on the node with the most replicas of the service */
  RC_WHY_NEWEST,         /* scale down: newest */
  RC_WHY_OLD_GENERATION, /* rolling update */
  RC_WHY_TERMINAL,       /* Failed or Succeeded: dropped and replaced */
};
const char *rc_why_string(enum rc_why why);

struct rc_counts
{
  int live;          /* Pending..BackOff */
  int ready;         /* live and ready */
  int updated;       /* live, current generation */
  int updated_ready; /* live, current generation, ready */
  int old;           /* live, older generation */
  int running;       /* live + Terminating on a Ready node: what the surge cap counts */
};

struct rc_stop
{
  size_t index; /* into the replica array */
  enum rc_why why;
};

struct rc_plan
{
  int create;           /* new replicas of the current generation */
  struct rc_stop *stop; /* set Terminating (or delete when unbound / node not ready) */
  size_t nstop;
  struct rc_stop *drop; /* delete the object: terminal states */
  size_t ndrop;
  struct rc_counts counts;
};

void rc_count(const struct rc_service *svc, const struct rc_replica *r, size_t n,
              struct rc_counts *out);
void rc_plan_compute(const struct rc_service *svc, const struct rc_replica *r, size_t n,
                     struct rc_plan *out);
void rc_plan_free(struct rc_plan *plan);

/* Node lifecycle: given whether the node is Ready now, the time and its last heartbeat,
 * returns the status it must have (true = Ready). */
bool rc_node_ready(double now, double last_heartbeat, double grace);

/* Heartbeat pacing, as Nomad's max_heartbeats_per_second: nodes beat every `period` seconds
 * and are NotReady after `grace` seconds without a beat, until so many are registered that
 * together they would beat more than `max_rate` times a second; then the period stretches
 * to nodes / max_rate (rounded up to a quarter second, so that it does not change with every
 * node that joins) and the grace with it, by the same factor: a node is still lost after the
 * same number of missed beats.  max_rate 0: no cap. */
struct rc_heartbeat_policy
{
  double period, grace, max_rate;
};

/* What is in force: the period agents are told and the grace nodes are judged by.  When the
 * period shrinks (nodes removed), an agent learns it only at its next beat, which may come
 * one old period late: the old grace is held for one old grace more. */
struct rc_heartbeat
{
  double period, grace;
  double held_grace, held_until; /* the longer grace kept after a shrink, and until when */
};

/* The pacing for `nodes` registered nodes at time `now` (seconds, any clock that does not go
 * back); h holds what was in force before (zeroed at first) and is updated. */
void rc_heartbeat_pace(struct rc_heartbeat *h, const struct rc_heartbeat_policy *p, size_t nodes,
                       double now);

struct rc_backoff_policy
{
  double base;        /* seconds, default 1 */
  double cap;         /* seconds, default 30 */
  double reset_after; /* seconds of running that forget earlier restarts, default 60 */
};
extern const struct rc_backoff_policy rc_backoff_default;
/* Delay before a restart when `consecutive` restarts happened since the last reset:
 * 0 -> 0 (immediate), 1 -> base, 2 -> 2*base, ... capped at cap. */
double rc_backoff_delay(const struct rc_backoff_policy *p, unsigned consecutive);
/* After an exit that followed ran_for seconds of running: the consecutive count to use
 * (0 when it ran at least reset_after, else unchanged). */
unsigned rc_backoff_consecutive(const struct rc_backoff_policy *p, unsigned consecutive,
                                double ran_for);
/* Restart policy: "always", "on-failure" (exit code != 0), "never". */
bool rc_should_restart(const char *policy, int exit_code);

enum rc_rollout
{
  RC_ROLLOUT_PROGRESSING,
  RC_ROLLOUT_COMPLETE,
  RC_ROLLOUT_STALLED,
};
const char *rc_rollout_name(enum rc_rollout r);
enum rc_rollout rc_rollout_state(const struct rc_counts *c, int desired, double now,
                                 double last_progress, double deadline);

#endif
