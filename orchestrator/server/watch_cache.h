/* watch_cache.h - the watch cache (kube-apiserver's "cacher"): the newest changes, each
 * rendered once as the NDJSON line every watch stream sends, in a ring of WATCH_CACHE_SIZE
 * entries.  Fed with committed events by cluster.c; read by the watch streams of
 * api_watch.c, which fall back to the store's history for revisions older than the ring. */
#ifndef SKIFF_WATCH_CACHE_H
#define SKIFF_WATCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "store.h"

#define WATCH_CACHE_SIZE 65536

/* One change as the watch stream sends it. */
struct watch_entry
{
  int64_t rev;
  char kind; /* view_kind */
  char *name;
  char *node;    /* replicas: the node it is bound to */
  char *service; /* replicas: its service */
  char *line;    /* NDJSON line with trailing newline */
  size_t len;
};

struct watch_cache
{
  struct watch_entry *ring; /* circular, WATCH_CACHE_SIZE entries */
  size_t head, len;
  int64_t floor; /* the ring holds every change with revision > floor */
  bool news;     /* entries added since the watchers were last woken */
};

void watch_cache_init(struct watch_cache *w, int64_t floor);
void watch_cache_free(struct watch_cache *w);
/* Render one change (obj as view_event_object made it) into e. */
void watch_entry_render(const struct store_event *ev, json_t *obj, char kind, const char *name,
                        struct watch_entry *e);
void watch_entry_clear(struct watch_entry *e);
/* Add a committed change. */
void watch_cache_add(struct watch_cache *w, const struct store_event *ev, json_t *obj, char kind,
                     const char *name);
/* Position of the first entry with revision > rev (== len when none). */
size_t watch_cache_after(const struct watch_cache *w, int64_t rev);
const struct watch_entry *watch_cache_at(const struct watch_cache *w, size_t pos);

#endif
