/* controller_internal.h - what controller.c (the loop, node lifecycle, replica controller)
 * and controller_sched.c (the scheduler binding) share.  Not used outside the controller. */
#ifndef SKIFF_CONTROLLER_INTERNAL_H
#define SKIFF_CONTROLLER_INTERNAL_H

#include "controller.h"
#include "names.h"

#define CONTROLLER_TICK_BUCKETS 11

struct controller
{
  struct cluster *cl;
  struct view *view;
  double start;               /* nodes get a grace period from the controller's start */
  bool dirty;                 /* a change was observed since the last tick */
  json_t *progress;           /* service -> {"sig", "t"}: last rollout progress */
  json_t *replace_backoff;    /* service -> {rounds, last, next}: replacing exited replicas */
  json_t *dirty_services;     /* name -> true: reconcile it at the next tick */
  bool all_dirty;             /* a node changed: reconcile every service */
  bool nodes_changed;         /* a node object changed since the last replica sweep */
  double last_replica_sweep;  /* node controller's last pass over replicas */
  double last_full_reconcile; /* every service is reconciled at least each second */
  bool sched_retry;           /* a node, a service or a replica's resources changed */
  double sched_last_retry;    /* when unschedulable replicas were last retried */
  struct name_gen names;      /* replica names, unique by construction */
  uint64_t tick_no;           /* marks the replicas a tick already wrote (view_replica.mark) */
  /* New replicas of this tick, created already bound when a node fits (controller_sched.c) */
  struct view_replica **fresh;
  size_t nfresh, fresh_cap;
  /* Metrics */
  uint64_t placements, unschedulable, conflicts, ticks;
  double tick_sum;
  uint64_t tick_le[CONTROLLER_TICK_BUCKETS]; /* cumulative histogram */
  double last_phase[4];                      /* seconds: nodes, services, commit, events */
};

/* Queue the binding of this tick's Pending replicas (existing ones and ctl->fresh). */
void controller_schedule(struct controller *ctl, double now, struct writes *w);
/* Commit a phase's writes; conflicts are counted and logged, the rest commits. */
void controller_commit(struct controller *ctl, struct writes *w);

#endif
