/* recorder.h - the Event recorder (client-go's EventRecorder): the API and the controller
 * record Events as things happen; they are queued and written in one store transaction per
 * loop pass by cluster_flush_events, each trimming the one RECORDER_KEEP older.  Events are
 * best effort: a failed write loses them, never the work they describe. */
#ifndef SKIFF_RECORDER_H
#define SKIFF_RECORDER_H

#include <stdint.h>
#include <jansson.h>
#include "writes.h"

#define RECORDER_KEEP 1000

struct recorder
{
  json_t *queue;    /* Events recorded since the last flush */
  int64_t seq;      /* last sequence number handed out */
  uint64_t dropped; /* Events overtaken in the queue by RECORDER_KEEP newer ones */
};

void recorder_init(struct recorder *r, int64_t seq);
void recorder_free(struct recorder *r);
/* kind "Service" | "Replica" | "Node" | "Scheduler"; type "Normal" | "Warning". */
void recorder_event(struct recorder *r, const char *type, const char *kind, const char *object,
                    const char *reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Move the queue into w: a put per Event and a delete of the one RECORDER_KEEP older when it
 * exists (stored: the Events in the view). */
void recorder_take(struct recorder *r, json_t *stored, struct writes *w);

#endif
