/* writes.h - a list of store writes that owns the keys and values its ops point to: what a
 * controller tick, a request or the event recorder hands to cluster_commit. */
#ifndef SKIFF_WRITES_H
#define SKIFF_WRITES_H

#include <stddef.h>
#include <stdint.h>
#include "store.h"

struct writes
{
  struct store_op *ops;
  size_t n, cap;
};

/* key and value are taken over (freed by writes_clear). */
void writes_put(struct writes *w, char *key, char *value, int64_t expect_rev);
void writes_delete(struct writes *w, char *key, int64_t expect_rev);
void writes_clear(struct writes *w);
void writes_free(struct writes *w);

#endif
