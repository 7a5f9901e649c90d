/* names.h - replica names, unique by construction: `<service>-<generation>-<suffix>` with a
 * suffix of 5 characters [a-z0-9] (kube's pod-name suffix).  The suffix is a bijection of a
 * counter over the 36^5 suffixes, from a random starting point and mixing: one generator
 * never repeats a suffix before 60,466,176 names, so the names of one controller tick never
 * collide with each other.  Names already in use (made before a restart, or by another
 * server) are skipped through the caller's `taken` check.  Pure: no I/O, no clock. */
#ifndef SKIFF_NAMES_H
#define SKIFF_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#define NAMES_SUFFIX_LEN 5

struct name_gen
{
  uint64_t next;   /* counter */
  uint64_t mul[2]; /* odd and not a multiple of 3: invertible modulo 36^5 */
  uint64_t add[2];
};

/* seed: any value (e.g. from getrandom); equal seeds give equal sequences. */
void name_gen_init(struct name_gen *g, uint64_t seed);
/* The next suffix (NUL-terminated). */
void name_gen_suffix(struct name_gen *g, char out[NAMES_SUFFIX_LEN + 1]);
/* A new replica name that `taken` (may be NULL) does not report in use; caller frees. */
char *name_gen_replica(struct name_gen *g, const char *service, int64_t generation,
                       bool (*taken)(const char *name, void *arg), void *arg);

#endif
