/* service.h - Service generations, history, undo and rollout status (service.c). */
#ifndef SKIFF_SERVICE_H
#define SKIFF_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "util.h"

/* Merge a normalized desired Service into the stored one (NULL when new): a new generation
 * when the template changed (or the earlier generation whose template is identical),
 * history trimmed to MODEL_HISTORY_MAX.  *changed when a write is needed.  New reference. */
json_t *service_merge(json_t *old, json_t *desired, bool *changed, bool *new_gen);
/* The stored Service taken back to generation gen (0 = the newest other one in history);
 * NULL + err when there is none. */
json_t *service_undo(json_t *old, int64_t gen, struct skiff_err **err);
/* GET /v1/services/NAME/rollout body. */
json_t *service_rollout_status(json_t *svc);

#endif
