/* writes.h - a list of store writes that owns the keys and values its ops point to, and the
 * object each put writes (a struct view_replica or a json_t), so that when the write
 * commits the view takes that object as it is instead of parsing the stored text back.
 * What a controller tick, a request or the Event recorder hands to cluster_commit*.  Keys
 * and values live in 64 KiB blocks freed together: a burst of 10,000 writes neither calls
 * malloc 20,000 times nor leaves 20,000 holes between the objects the view keeps. */
#ifndef SKIFF_WRITES_H
#define SKIFF_WRITES_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "store.h"

struct view_replica;
struct writes_block;

struct writes
{
  struct store_op *ops;
  void **objs;  /* per op: the object the view takes on commit; NULL once taken or for deletes */
  char *kinds;  /* per op: view_kind */
  int *status;  /* per op, after cluster_commit_each: 0 committed, STORE_CONFLICT, -1 failed */
  void **owner; /* per op: who asked for it (the API's grouped requests), may be NULL */
  size_t n, cap;
  struct writes_block *blocks; /* keys and values */
};

/* Put a replica (taken over); expect: its revision, or STORE_ABSENT for a new one. */
void writes_put_replica(struct writes *w, struct view_replica *r, int64_t expect_rev);
/* Put a Service, Node or Event (reference taken over) under its kind's prefix + name. */
void writes_put_json(struct writes *w, char kind, const char *name, json_t *obj,
                     int64_t expect_rev);
void writes_delete(struct writes *w, char kind, const char *name, int64_t expect_rev);
/* Drop every op, freeing keys, values and the objects not taken. */
void writes_clear(struct writes *w);
void writes_free(struct writes *w);
/* Free one object of the list (kind from w->kinds). */
void writes_free_obj(char kind, void *obj);

#endif
