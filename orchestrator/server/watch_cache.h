/* watch_cache.h - the watch cache (kube-apiserver's "cacher"): the newest changes, each
 * rendered once as the NDJSON line every watch stream sends.  A line is spliced from the
 * stored text (no JSON is parsed or built).  Bounded by WATCH_CACHE_SIZE entries and
 * WATCH_CACHE_BYTES of lines; lines are only rendered while someone watches (active):
 * otherwise the floor just moves up.  Fed with committed changes by cluster.c; read by
 * api_watch.c, which reads the store's history for revisions at or below the floor. */
#ifndef SKIFF_WATCH_CACHE_H
#define SKIFF_WATCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

#define WATCH_CACHE_SIZE 65536
#define WATCH_CACHE_BYTES (2 << 20)

/* One change as the watch stream sends it (one allocation: the line, then the three names). */
struct watch_entry
{
  int64_t rev;
  char kind;  /* view_kind */
  char *line; /* NDJSON line with trailing newline */
  size_t len;
  const char *name;
  const char *node;    /* replicas: the node it is bound to */
  const char *service; /* replicas: its service */
};

struct watch_cache
{
  struct watch_entry *ring; /* circular, WATCH_CACHE_SIZE entries */
  size_t head, len, bytes;
  int64_t floor; /* the ring holds every change with revision > floor */
  bool active;   /* someone watches: render lines */
  bool news;     /* entries added since the watchers were last woken */
};

void watch_cache_init(struct watch_cache *w, int64_t floor);
void watch_cache_free(struct watch_cache *w);
/* Render one change: the stored text (the value before a delete) inside the line. */
void watch_entry_render(const struct store_event *ev, char kind, const char *name, const char *node,
                        const char *service, struct watch_entry *e);
void watch_entry_clear(struct watch_entry *e);
/* A committed change (node and service: a replica's). */
void watch_cache_add(struct watch_cache *w, const struct store_event *ev, char kind,
                     const char *name, const char *node, const char *service);
/* Start or stop rendering (stopping empties the ring). */
void watch_cache_set_active(struct watch_cache *w, bool active);
/* Position of the first entry with revision > rev (== len when none). */
size_t watch_cache_after(const struct watch_cache *w, int64_t rev);
const struct watch_entry *watch_cache_at(const struct watch_cache *w, size_t pos);

#endif
