/* store.h - the revisioned key/value store behind skiffd: the subset of etcd that
 * Kubernetes uses, with etcd's semantics on every backend.
 *
 *   - One global revision, bumped once per committed transaction: every op of a txn shares
 *     that revision (an etcd txn).  Every key keeps the revision of its creation and of its
 *     last write.
 *   - A txn is all or nothing.  Its compares are checked against the state before the txn;
 *     a key appears at most once in a txn; a txn holds at most STORE_TXN_MAX_OPS ops
 *     (etcd's --max-txn-ops default).  Larger batches are the caller's to split.
 *   - Writes can be conditional on a key's revision (compare-and-swap, create-if-absent),
 *     and a txn can carry pure compares (STORE_CHECK: fencing on another key).
 *   - History is read back from any revision not yet compacted (watch from a revision); an
 *     older one answers STORE_COMPACTED and the caller relists (kube's watch cache, 410).
 *   - Changes made by other writers (other servers on one etcd) reach the owner through the
 *     same commit callback as its own, in revision order: store_poll_fd + store_poll.
 *   - Leases (etcd only): a key put with a lease disappears when the lease expires.
 *   - Errors that only say the store could not be reached carry STORE_EUNAVAILABLE.
 *
 * Backends fill struct store_ops: store_sqlite.c (embedded default, one server) and
 * store_etcd.c (etcd's v3 JSON gateway, several servers).  store.c holds the
 * backend-independent wrappers, the txn checks both share, and the commit notification. */
#ifndef SKIFF_STORE_H
#define SKIFF_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "util.h"

/* Returned (positive) by store_txn when a compare failed: nothing was written. */
#define STORE_CONFLICT 1
/* Returned (positive) by store_history when `from` is older than the compacted history. */
#define STORE_COMPACTED 2
/* Returned (positive) by store_lease_keepalive when the lease has expired. */
#define STORE_EXPIRED 3

/* Compare value for struct store_op.expect_rev. */
#define STORE_ANY_REV (-1) /* unconditional */
#define STORE_ABSENT 0     /* key must not exist */

/* Ops per txn, STORE_CHECK ops included (etcd's default --max-txn-ops). */
#define STORE_TXN_MAX_OPS 128

/* skiff_err.status of a failure that says nothing about the data: the store could not be
 * reached (etcd down or without a leader).  The write was not applied or its outcome is
 * unknown; the API answers 503 and the caller may retry. */
#define STORE_EUNAVAILABLE EAGAIN

enum store_op_type
{
  STORE_PUT = 1,
  STORE_DELETE = 2,
  STORE_CHECK = 3, /* no write: the txn commits only if the compare on key holds */
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
   * of a key that does not exist is a conflict; a CHECK with STORE_ANY_REV needs the key to
   * exist. */
  int64_t expect_rev;
};

struct store;

struct store_ops
{
  const char *name;
  /* 1 found (out filled), 0 not found, -1 error. */
  int (*get)(struct store *s, const char *key, struct store_kv *out, struct skiff_err **err);
  /* Every key starting with prefix, sorted, all read at one revision (*rev).  Before the
   * commit callback is set (and inside the resync callback) that revision becomes the one
   * the owner's view is at: changes after it are what the callback delivers. */
  int (*range)(struct store *s, const char *prefix, struct store_kv **out, size_t *n, int64_t *rev,
               struct skiff_err **err);
  /* ops already checked by store.c (count, duplicate keys).  All ops or none: 0 committed
   * at one revision (*rev) and the commit callback has run for it (and for every earlier
   * change of other writers), STORE_CONFLICT with *failed = index of the first op whose
   * compare failed, -1 error. */
  int (*txn)(struct store *s, const struct store_op *ops, size_t n, int64_t *rev, size_t *failed,
             struct skiff_err **err);
  /* Events with revision > from whose key starts with prefix, oldest first: max of them, or
   * more when the max-th event's revision has more (a revision is never cut in two, so a
   * reader resumes from the last event's revision), or fewer when history ends.
   * STORE_COMPACTED when from < compacted revision. */
  int (*history)(struct store *s, int64_t from, const char *prefix, size_t max,
                 struct store_event **out, size_t *n, struct skiff_err **err);
  /* The revision the owner's view is at (last change delivered, or the initial range). */
  int64_t (*revision)(struct store *s);
  int64_t (*compacted)(struct store *s);
  /* Drop history at or below rev (keys keep their current values). */
  int (*compact)(struct store *s, int64_t rev, struct skiff_err **err);
  /* Housekeeping kept out of the write path, done when the owner's loop has a moment (SQLite:
   * checkpoint the WAL once writes pause).  1 done, 0 nothing to do, -1 error.  NULL: none. */
  int (*idle)(struct store *s, struct skiff_err **err);
  /* Other writers: an fd that polls readable when changes wait (-1: none can happen), and
   * the call that delivers them through the commit callback.  NULL on single-writer
   * backends. */
  int (*poll_fd)(struct store *s);
  int (*poll)(struct store *s, struct skiff_err **err);
  /* Leases; NULL on backends without them.  put_lease: one put (compare as in a txn) of a
   * key that disappears with the lease. */
  int (*put_lease)(struct store *s, const struct store_op *op, int64_t lease, int64_t *rev,
                   struct skiff_err **err);
  int (*lease_grant)(struct store *s, int ttl, int64_t *id, struct skiff_err **err);
  int (*lease_keepalive)(struct store *s, int64_t id, struct skiff_err **err);
  int (*lease_revoke)(struct store *s, int64_t id, struct skiff_err **err);
  /* Keep one lease alive in the background (replacing any kept before); its status: 0 with
   * *renewed_sent, or STORE_EXPIRED. */
  int (*lease_keep)(struct store *s, int64_t id, int ttl, struct skiff_err **err);
  int (*lease_status)(struct store *s, int64_t id, double *renewed_sent);
  void (*close)(struct store *s);
};

typedef void (*store_notify_fn)(void *data, const struct store_event *events, size_t n);
/* Continuity lost (the history the owner needed was compacted while it could not read it):
 * the owner drops its view and lists again (store_range); changes after that list follow. */
typedef void (*store_resync_fn)(void *data);

struct store
{
  const struct store_ops *ops;
  store_notify_fn notify; /* called once per committed txn (its events), may be NULL */
  void *notify_data;
  store_resync_fn resync;
  void *resync_data;
};

/* Open the SQLite store in dir (created 0700): dir/store.db, WAL mode. */
int store_sqlite_open(const char *dir, struct store **out, struct skiff_err **err);
/* Open etcd: endpoints "http://H:P[,http://H:P...]", every skiff key stored under prefix
 * (e.g. "/skiff/").  Fails (one line naming the endpoints and the cause) when no member
 * answers. */
int store_etcd_open(const char *endpoints, const char *prefix, struct store **out,
                    struct skiff_err **err);
/* `--store` value: "sqlite" (or NULL/empty: data_dir/store.db) or "etcd:ENDPOINTS". */
int store_open(const char *spec, const char *data_dir, const char *etcd_prefix, struct store **out,
               struct skiff_err **err);

/* Backend-independent helpers (store.c). */
int store_get(struct store *s, const char *key, struct store_kv *out, struct skiff_err **err);
int store_range(struct store *s, const char *prefix, struct store_kv **out, size_t *n, int64_t *rev,
                struct skiff_err **err);
/* Single put: 0, STORE_CONFLICT, -1.  *new_rev (may be NULL) gets the write's revision. */
int store_put(struct store *s, const char *key, const char *value, int64_t expect_rev,
              int64_t *new_rev, struct skiff_err **err);
int store_delete(struct store *s, const char *key, int64_t expect_rev, int64_t *new_rev,
                 struct skiff_err **err);
/* One txn (see struct store_ops.txn).  More than STORE_TXN_MAX_OPS ops, a key twice or an
 * op without a key is an error (-1, EINVAL) and nothing is written.  *last_rev gets the
 * txn's revision (unchanged revision for a txn of only checks). */
int store_txn(struct store *s, const struct store_op *ops, size_t n, size_t *failed,
              int64_t *last_rev, struct skiff_err **err);
int store_history(struct store *s, int64_t from, const char *prefix, size_t max,
                  struct store_event **out, size_t *n, struct skiff_err **err);
int64_t store_revision(struct store *s);
int64_t store_compacted(struct store *s);
int store_compact(struct store *s, int64_t rev, struct skiff_err **err);
/* Deferred housekeeping (struct store_ops.idle): call it from the owner's loop, often; it is
 * cheap when there is nothing to do.  1 done, 0 nothing, -1 error. */
int store_idle(struct store *s, struct skiff_err **err);
int store_poll_fd(struct store *s);
int store_poll(struct store *s, struct skiff_err **err);
bool store_has_leases(struct store *s);
int store_lease_grant(struct store *s, int ttl, int64_t *id, struct skiff_err **err);
/* 0 renewed, STORE_EXPIRED, -1 error (etcd unreachable: the lease may still run). */
int store_lease_keepalive(struct store *s, int64_t id, struct skiff_err **err);
int store_lease_revoke(struct store *s, int64_t id, struct skiff_err **err);
/* Keep lease id alive in the background, every ttl/3, as clientv3's KeepAlive does: a busy
 * owner does not lose it.  One kept lease per store; a revoke stops keeping it. */
int store_lease_keep(struct store *s, int64_t id, int ttl, struct skiff_err **err);
/* 0 while kept alive, *renewed_sent = CLOCK_MONOTONIC seconds when the last successful
 * renewal was sent (0 before the first: etcd counts the TTL from when it got it, so the
 * lease cannot end before renewed_sent + TTL); STORE_EXPIRED once etcd said it is gone;
 * -1 when id is not the kept lease. */
int store_lease_status(struct store *s, int64_t id, double *renewed_sent);
/* A put bound to a lease: 0, STORE_CONFLICT, -1. */
int store_put_lease(struct store *s, const char *key, const char *value, int64_t expect_rev,
                    int64_t lease, int64_t *new_rev, struct skiff_err **err);
const char *store_backend(struct store *s);
void store_close(struct store *s);
void store_set_notify(struct store *s, store_notify_fn fn, void *data);
void store_set_resync(struct store *s, store_resync_fn fn, void *data);

/* For backends: deliver one committed txn's events to the commit callback. */
void store_emit(struct store *s, const struct store_event *ev, size_t n);
/* For backends: a store-unreachable error (status STORE_EUNAVAILABLE, no errno text). */
int store_unavailable(struct skiff_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The first key after every key that starts with prefix (NULL: no such key, read to the end). */
char *store_prefix_end(const char *prefix);

void store_kv_clear(struct store_kv *kv);
void store_kvs_free(struct store_kv *kvs, size_t n);
void store_events_free(struct store_event *ev, size_t n);

#endif
