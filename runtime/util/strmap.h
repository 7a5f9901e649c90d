/* strmap.h - a hash map from C strings to pointers (open addressing, linear probing,
 * backward-shift deletion: no tombstones).  The map does not own keys or values: a key must
 * stay valid while it is in the map (typically it lives in the value).  Not safe to modify
 * while iterating. */
#ifndef SKIFF_STRMAP_H
#define SKIFF_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot
{
  const char *key; /* NULL = empty */
  void *val;
  uint64_t hash;
};

struct strmap
{
  struct strmap_slot *slots;
  size_t cap, n;
};

uint64_t strmap_hash(const char *s);
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; returns the previous value (NULL when new). */
void *strmap_put(struct strmap *m, const char *key, void *val);
/* Remove; returns the value (NULL when absent). */
void *strmap_del(struct strmap *m, const char *key);
/* Iterate: start with *pos = 0; false at the end. */
bool strmap_next(const struct strmap *m, size_t *pos, const char **key, void **val);
void strmap_free(struct strmap *m);

#endif
