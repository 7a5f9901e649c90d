/* controller.h - the controllers of `skiffd server` (kube-controller-manager + the binding
 * half of kube-scheduler): node lifecycle, the replica controller with rolling updates, and
 * the scheduler binding, run as one tick over the cluster's view.  The controller owns its
 * memory (which services changed, rollout progress, replacement back-off, when unschedulable
 * replicas were last retried) and its counters; it learns of changes through the cluster's
 * observer. */
#ifndef SKIFF_CONTROLLER_H
#define SKIFF_CONTROLLER_H

#include <stdbool.h>
#include <stdio.h>
#include "cluster.h"

struct controller;

/* now: the start time (every node gets a grace period from it; the grace is the cluster's,
 * cluster_pace). */
struct controller *controller_new(struct cluster *c, double now);
void controller_free(struct controller *ctl);
/* Something changed since the last tick. */
bool controller_dirty(const struct controller *ctl);
/* One pass: compare the view with the desired state and write what must change. */
void controller_tick(struct controller *ctl, double now);
/* The controller's lines of /metrics (Prometheus text). */
void controller_write_metrics(const struct controller *ctl, FILE *f);

#endif
