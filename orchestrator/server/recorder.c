/* recorder.c - queued Events and the writes that store them (see recorder.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "model.h"
#include "recorder.h"
#include "view.h"

void recorder_init(struct recorder *r, int64_t seq)
{
  r->queue = json_array();
  r->seq = seq;
}

void recorder_free(struct recorder *r)
{
  json_decref(r->queue);
  r->queue = NULL;
}

void recorder_event(struct recorder *r, const char *type, const char *kind, const char *object,
                    const char *reason, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  /* Only the newest RECORDER_KEEP are kept: a burst beyond that is not worth writing. */
  if (json_array_size(r->queue) >= RECORDER_KEEP)
    {
      json_array_remove(r->queue, 0);
      r->dropped++;
    }
  int64_t seq = ++r->seq;
  cleanup_free char *now = model_time_string(time(NULL));
  json_t *ev = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)seq, "time", now,
                         "type", type, "kind", kind, "object", object, "reason", reason, "message",
                         msg ? msg : "");
  json_array_append_new(r->queue, ev);
}

void recorder_take(struct recorder *r, json_t *stored, struct writes *w)
{
  size_t n = json_array_size(r->queue);
  if (n == 0)
    return;
  int64_t first = model_int(json_array_get(r->queue, 0), "seq", 0);
  for (size_t i = 0; i < n; i++)
    {
      json_t *ev = json_array_get(r->queue, i);
      int64_t seq = model_int(ev, "seq", 0), old = seq - RECORDER_KEEP;
      cleanup_free char *name = xasprintf("%020lld", (long long)seq);
      writes_put_json(w, VIEW_EVENT, name, json_incref(ev), STORE_ANY_REV);
      cleanup_free char *oldname = xasprintf("%020lld", (long long)old);
      /* Older ones queued in this batch are written above, so they exist by then. */
      if (old > 0 && (old >= first || json_object_get(stored, oldname)))
        writes_delete(w, VIEW_EVENT, oldname, STORE_ANY_REV);
    }
  json_array_clear(r->queue);
}
