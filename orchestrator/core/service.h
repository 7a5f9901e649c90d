/* service.h - Service generations, history, undo and rollout status (service.c). */
#ifndef SKIFF_SERVICE_H
#define SKIFF_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "reconcile.h"
#include "util.h"

/* Merge a normalized desired Service into the stored one (NULL when new): a new generation
 * when the template changed (or the earlier generation whose template is identical),
 * history trimmed to MODEL_HISTORY_MAX.  *changed when a write is needed.  New reference. */
json_t *service_merge(json_t *old, json_t *desired, bool *changed, bool *new_gen);
/* The stored Service taken back to generation gen (0 = the newest other one in history);
 * NULL + err when there is none. */
json_t *service_undo(json_t *old, int64_t gen, struct skiff_err **err);
/* The status of svc from the counts c of its replicas (taken at one revision): replicas,
 * ready, updated, available and the rollout {generation, state, message, since}.  st is the
 * rollout state; detail (may be NULL) names a replica that holds a rollout up
 * ("; web-2-abcde: Running, readiness probe failing").  since is kept from the stored
 * status while the state and generation stay, else now.  New reference. */
json_t *service_status(json_t *svc, const struct rc_counts *c, enum rc_rollout st,
                       const char *detail, const char *now);
/* The rollout state to show for counts c: Complete when every desired replica of the
 * current generation is ready and no older one is left, Stalled when the controller marked
 * this same generation Stalled (the stored status) and that is still true, else
 * Progressing.  A status stored for an older generation never makes a rollout Complete. */
enum rc_rollout service_rollout_seen(json_t *svc, const struct rc_counts *c);
/* GET /v1/services/NAME/rollout body, from svc and its status (as service_status made it). */
json_t *service_rollout_status(json_t *svc);

#endif
