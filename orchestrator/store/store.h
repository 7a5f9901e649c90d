/* store.h - the revisioned key/value store behind skiffd: the subset of etcd that
 * Kubernetes uses.  One global revision, bumped by every put or delete; every key keeps the
 * revision of its creation and of its last write; writes can be conditional on that revision
 * (compare-and-swap); history can be read back from any revision not yet compacted (watch).
 *
 * Backends fill struct store_ops (store_sqlite.c is the embedded default; an etcd backend can
 * fill the same table).  store.c holds the backend-independent wrappers and the commit
 * notification used by the server's watch cache. */
#ifndef SKIFF_STORE_H
#define SKIFF_STORE_H

#include <stdint.h>
#include <stddef.h>
#include "util.h"

/* Returned (positive) by store_txn when a compare failed: nothing was written. */
#define STORE_CONFLICT 1
/* Returned (positive) by store_history when `from` is older than the compacted history. */
#define STORE_COMPACTED 2

/* Compare value for struct store_op.expect_rev. */
#define STORE_ANY_REV (-1) /* unconditional */
#define STORE_ABSENT 0     /* key must not exist */

enum store_op_type
{
  STORE_PUT = 1,
  STORE_DELETE = 2,
};

struct store_kv
{
  char *key;
  char *value; /* NUL-terminated; NULL for a delete event with no previous value */
  size_t len;
  int64_t create_rev;
  int64_t mod_rev;
};

struct store_event
{
  enum store_op_type type;
  int64_t rev;
  /* For PUT: the new value.  For DELETE: the value before the delete (create_rev of it). */
  struct store_kv kv;
};

struct store_op
{
  enum store_op_type type;
  const char *key;
  const char *value; /* PUT only */
  size_t len;
  /* STORE_ANY_REV, STORE_ABSENT, or the key's mod_rev that must still be current.  A DELETE
   * of a key that does not exist is a conflict. */
  int64_t expect_rev;
};

struct store;

struct store_ops
{
  const char *name;
  /* 1 found (out filled), 0 not found, -1 error. */
  int (*get)(struct store *s, const char *key, struct store_kv *out, struct skiff_err **err);
  /* Every key starting with prefix, sorted; *rev = revision the read saw. */
  int (*range)(struct store *s, const char *prefix, struct store_kv **out, size_t *n, int64_t *rev,
               struct skiff_err **err);
  /* All ops or none: every compare is checked first.  0 committed (each op gets the next
   * revision, in order; events filled when events != NULL), STORE_CONFLICT with *failed set
   * to the index of the failing op, -1 error. */
  int (*txn)(struct store *s, const struct store_op *ops, size_t n, struct store_event **events,
             size_t *failed, struct skiff_err **err);
  /* Events with revision > from whose key starts with prefix, at most max, oldest first.
   * STORE_COMPACTED when from < compacted revision. */
  int (*history)(struct store *s, int64_t from, const char *prefix, size_t max,
                 struct store_event **out, size_t *n, struct skiff_err **err);
  int64_t (*revision)(struct store *s);
  int64_t (*compacted)(struct store *s);
  /* Drop history at or below rev (keys keep their current values). */
  int (*compact)(struct store *s, int64_t rev, struct skiff_err **err);
  void (*close)(struct store *s);
};

typedef void (*store_notify_fn)(void *data, const struct store_event *events, size_t n);

struct store
{
  const struct store_ops *ops;
  store_notify_fn notify; /* called after each committed txn, may be NULL */
  void *notify_data;
};

/* Open the SQLite store in dir (created 0700): dir/store.db, WAL mode. */
int store_sqlite_open(const char *dir, struct store **out, struct skiff_err **err);

/* Backend-independent helpers (store.c). */
int store_get(struct store *s, const char *key, struct store_kv *out, struct skiff_err **err);
int store_range(struct store *s, const char *prefix, struct store_kv **out, size_t *n, int64_t *rev,
                struct skiff_err **err);
/* Single put: 0, STORE_CONFLICT, -1.  *new_rev (may be NULL) gets the write's revision. */
int store_put(struct store *s, const char *key, const char *value, int64_t expect_rev,
              int64_t *new_rev, struct skiff_err **err);
int store_delete(struct store *s, const char *key, int64_t expect_rev, int64_t *new_rev,
                 struct skiff_err **err);
/* txn that also runs the notify callback. */
int store_txn(struct store *s, const struct store_op *ops, size_t n, size_t *failed,
              int64_t *last_rev, struct skiff_err **err);
int store_history(struct store *s, int64_t from, const char *prefix, size_t max,
                  struct store_event **out, size_t *n, struct skiff_err **err);
int64_t store_revision(struct store *s);
int64_t store_compacted(struct store *s);
int store_compact(struct store *s, int64_t rev, struct skiff_err **err);
void store_close(struct store *s);
void store_set_notify(struct store *s, store_notify_fn fn, void *data);

void store_kv_clear(struct store_kv *kv);
void store_kvs_free(struct store_kv *kvs, size_t n);
void store_events_free(struct store_event *ev, size_t n);

#endif
