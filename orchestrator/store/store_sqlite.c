/* store_sqlite.c - the embedded store backend: one SQLite database in the data dir.
 *
 *   kv   (key PRIMARY KEY, value, create_rev, mod_rev)   current values
 *   history (rev, idx PRIMARY KEY, key, type, value, create_rev)
 *                                                        for watch, until compacted; idx
 *                                                        orders the ops of one txn
 *   meta (k PRIMARY KEY, v)                              "rev", "compacted"
 *
 * One revision per txn (all its ops share it), compares checked before any write, as etcd
 * does.  Each write txn re-reads the revision under SQLite's write lock, so several
 * processes may share one database (the conformance tests' concurrent writers do).
 *
 * Durability: WAL journal with synchronous=NORMAL.  A commit is in the WAL file (written with
 * write(2)) before txn returns, so a SIGKILLed server loses no acknowledged write; only a power
 * loss may roll back the last transactions (SQLite's documented WAL+NORMAL guarantee).
 *
 * Checkpoints (copying the WAL into the database, with its two fsyncs) are kept out of the
 * write path: a thread of the store with its own connection runs them (PASSIVE: it never
 * blocks the writer), asked by the owner's loop through store_idle once writes paused for
 * SQ_QUIET seconds or SQ_LATEST seconds after the first write not yet checkpointed, and by
 * the commit hook when the WAL passes SQ_WAL_CAP pages.  So a burst of writes is not slowed
 * by fsyncs, and a power loss can take back about SQ_LATEST seconds of writes (a quiet
 * server with SQLite's default checkpoints could keep its last writes unsynced forever). */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include "store.h"

struct sqlite_store
{
  struct store base;
  sqlite3 *db;
  int64_t rev;
  int64_t compacted;
  sqlite3_stmt *st_get, *st_range, *st_put, *st_del, *st_log, *st_hist, *st_meta, *st_read_meta;
  double unsynced_since; /* CLOCK_MONOTONIC of the first commit not checkpointed, or 0 */
  double last_write;
  char *path;
  /* The checkpointer thread; mu guards what follows. */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t ckpt;
  bool ckpt_started, ckpt_want, ckpt_stop;
  char *ckpt_error; /* its last failure, reported by the next store_idle */
};

#define SS(s) ((struct sqlite_store *)(s))

#define SQ_WAL_CAP 5000 /* pages (40 MB) */
#define SQ_QUIET 0.1    /* seconds */
#define SQ_LATEST 1.0

static double sq_clock(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A commit: the WAL holds writes not yet checkpointed. */
static void sq_wrote(struct sqlite_store *ss)
{
  double now = sq_clock();
  if (ss->unsynced_since == 0)
    ss->unsynced_since = now;
  ss->last_write = now;
}

static void *sq_ckpt_main(void *arg)
{
  struct sqlite_store *ss = arg;
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(ss->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  /* a first read opens the WAL (before it, a checkpoint sees no WAL and does nothing) */
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, "PRAGMA busy_timeout=5000; SELECT count(*) FROM sqlite_master", NULL,
                      NULL, NULL);
  pthread_mutex_lock(&ss->mu);
  for (;;)
    {
      while (!ss->ckpt_want && !ss->ckpt_stop)
        pthread_cond_wait(&ss->cv, &ss->mu);
      if (ss->ckpt_stop)
        break;
      ss->ckpt_want = false;
      pthread_mutex_unlock(&ss->mu);
      if (rc == SQLITE_OK)
        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      pthread_mutex_lock(&ss->mu);
      if (rc != SQLITE_OK && ss->ckpt_error == NULL)
        ss->ckpt_error = xasprintf("sqlite checkpoint `%s`: %s", ss->path,
                                   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
      rc = SQLITE_OK; /* try again at the next request */
    }
  pthread_mutex_unlock(&ss->mu);
  sqlite3_close(db);
  return NULL;
}

/* Ask the checkpointer for a checkpoint (started at the first); inline when it cannot run. */
static void sq_ckpt_request(struct sqlite_store *ss)
{
  pthread_mutex_lock(&ss->mu);
  if (!ss->ckpt_started && pthread_create(&ss->ckpt, NULL, sq_ckpt_main, ss) == 0)
    ss->ckpt_started = true;
  ss->ckpt_want = true;
  pthread_cond_signal(&ss->cv);
  bool inline_ckpt = !ss->ckpt_started;
  pthread_mutex_unlock(&ss->mu);
  if (inline_ckpt)
    sqlite3_wal_checkpoint_v2(ss->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* After each commit of the writer (replaces SQLite's own checkpoint-on-commit). */
static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
  struct sqlite_store *ss = arg;
  (void)db;
  (void)name;
  sq_wrote(ss);
  if (pages >= SQ_WAL_CAP)
    {
      sq_ckpt_request(ss);
      ss->unsynced_since = 0;
    }
  return SQLITE_OK;
}

static int sq_error(struct sqlite_store *ss, struct skiff_err **err, const char *what)
{
  return skiff_error(err, 0, "sqlite %s: %s", what, sqlite3_errmsg(ss->db));
}

static int sq_exec(struct sqlite_store *ss, const char *sql, struct skiff_err **err)
{
  char *msg = NULL;
  if (sqlite3_exec(ss->db, sql, NULL, NULL, &msg) != SQLITE_OK)
    {
      int r = skiff_error(err, 0, "sqlite `%s`: %s", sql, msg ? msg : "error");
      sqlite3_free(msg);
      return r;
    }
  return 0;
}

static void kv_from_row(sqlite3_stmt *st, int col_key, int col_val, int col_create, int col_mod,
                        struct store_kv *kv)
{
  const unsigned char *k = sqlite3_column_text(st, col_key);
  kv->key = xstrdup(k ? (const char *)k : "");
  if (sqlite3_column_type(st, col_val) == SQLITE_NULL)
    {
      kv->value = NULL;
      kv->len = 0;
    }
  else
    {
      int len = sqlite3_column_bytes(st, col_val);
      const void *v = sqlite3_column_blob(st, col_val);
      kv->value = xmalloc(len + 1);
      if (len > 0)
        memcpy(kv->value, v, len);
      kv->value[len] = '\0';
      kv->len = len;
    }
  kv->create_rev = sqlite3_column_int64(st, col_create);
  kv->mod_rev = col_mod >= 0 ? sqlite3_column_int64(st, col_mod) : 0;
}

static int sq_get(struct store *s, const char *key, struct store_kv *out, struct skiff_err **err)
{
  struct sqlite_store *ss = SS(s);
  sqlite3_stmt *st = ss->st_get;
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE)
    {
      sqlite3_reset(st);
      return 0;
    }
  if (rc != SQLITE_ROW)
    {
      sq_error(ss, err, "get");
      sqlite3_reset(st);
      return -1;
    }
  kv_from_row(st, 0, 1, 2, 3, out);
  sqlite3_reset(st);
  return 1;
}

static int sq_range(struct store *s, const char *prefix, struct store_kv **out, size_t *n,
                    int64_t *rev, struct skiff_err **err)
{
  struct sqlite_store *ss = SS(s);
  sqlite3_stmt *st = ss->st_range;
  cleanup_free char *end = store_prefix_end(prefix);
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, end ? end : "\xff\xff\xff\xff", -1, SQLITE_STATIC);
  size_t cap = 16, cnt = 0;
  struct store_kv *kvs = xmalloc(cap * sizeof(*kvs));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    {
      if (cnt == cap)
        kvs = xrealloc(kvs, (cap *= 2) * sizeof(*kvs));
      kv_from_row(st, 0, 1, 2, 3, &kvs[cnt++]);
    }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    {
      store_kvs_free(kvs, cnt);
      return sq_error(ss, err, "range");
    }
  *out = kvs;
  *n = cnt;
  if (rev)
    *rev = ss->rev;
  return 0;
}

static int sq_step_done(struct sqlite_store *ss, sqlite3_stmt *st, const char *what,
                        struct skiff_err **err)
{
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_error(ss, err, what);
  return 0;
}

static int sq_set_meta(struct sqlite_store *ss, const char *k, int64_t v, struct skiff_err **err)
{
  sqlite3_reset(ss->st_meta);
  sqlite3_bind_text(ss->st_meta, 1, k, -1, SQLITE_STATIC);
  sqlite3_bind_int64(ss->st_meta, 2, v);
  return sq_step_done(ss, ss->st_meta, "set meta", err);
}

static int sq_apply_op(struct sqlite_store *ss, const struct store_op *op,
                       const struct store_kv *cur, int64_t rev, int idx, struct store_event *ev,
                       struct skiff_err **err)
{
  sqlite3_stmt *st;
  ev->rev = rev;
  ev->type = op->type;
  ev->kv.key = xstrdup(op->key);
  ev->kv.mod_rev = rev;
  if (op->type == STORE_PUT)
    {
      int64_t create = cur->key ? cur->create_rev : rev;
      ev->kv.create_rev = create;
      ev->kv.value = xmalloc(op->len + 1);
      memcpy(ev->kv.value, op->value, op->len);
      ev->kv.value[op->len] = '\0';
      ev->kv.len = op->len;
      st = ss->st_put;
      sqlite3_reset(st);
      sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC);
      sqlite3_bind_blob(st, 2, op->value, (int)op->len, SQLITE_STATIC);
      sqlite3_bind_int64(st, 3, create);
      sqlite3_bind_int64(st, 4, rev);
      if (sq_step_done(ss, st, "put", err) < 0)
        return -1;
    }
  else
    {
      ev->kv.create_rev = cur->create_rev;
      ev->kv.value = cur->value ? xstrdup(cur->value) : NULL;
      ev->kv.len = cur->len;
      st = ss->st_del;
      sqlite3_reset(st);
      sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC);
      if (sq_step_done(ss, st, "delete", err) < 0)
        return -1;
    }
  st = ss->st_log;
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, rev);
  sqlite3_bind_int(st, 2, idx);
  sqlite3_bind_text(st, 3, op->key, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, op->type);
  if (ev->kv.value)
    sqlite3_bind_blob(st, 5, ev->kv.value, (int)ev->kv.len, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 5);
  sqlite3_bind_int64(st, 6, ev->kv.create_rev);
  return sq_step_done(ss, st, "log", err);
}

/* Another process may share the database (tests run concurrent writers): the revision and
 * the compaction point are read again inside each write transaction. */
static int64_t sq_read_meta(struct sqlite_store *ss, const char *k);

static int sq_txn(struct store *s, const struct store_op *ops, size_t n, int64_t *rev_out,
                  size_t *failed, struct skiff_err **err)
{
  struct sqlite_store *ss = SS(s);
  struct store_kv *cur = xzalloc((n ? n : 1) * sizeof(*cur));
  struct store_event *ev = xzalloc((n ? n : 1) * sizeof(*ev));
  size_t nev = 0;
  int ret = -1;

  if (sq_exec(ss, "BEGIN IMMEDIATE", err) < 0)
    goto out;
  ss->rev = sq_read_meta(ss, "rev");
  ss->compacted = sq_read_meta(ss, "compacted");
  /* Every compare first, against the state before the txn (etcd's order). */
  for (size_t i = 0; i < n; i++)
    {
      int found = sq_get(s, ops[i].key, &cur[i], err);
      if (found < 0)
        goto rollback;
      int64_t mod = found ? cur[i].mod_rev : 0;
      int conflict = 0;
      if (ops[i].expect_rev == STORE_ABSENT)
        conflict = found;
      else if (ops[i].expect_rev > 0)
        conflict = mod != ops[i].expect_rev;
      if (!found
          && (ops[i].type == STORE_DELETE
              || (ops[i].type == STORE_CHECK && ops[i].expect_rev == STORE_ANY_REV)))
        conflict = 1;
      if (conflict)
        {
          if (failed)
            *failed = i;
          ret = STORE_CONFLICT;
          goto rollback;
        }
    }
  int64_t rev = ss->rev + 1;
  for (size_t i = 0; i < n; i++)
    if (ops[i].type != STORE_CHECK)
      {
        if (sq_apply_op(ss, &ops[i], &cur[i], rev, (int)nev, &ev[nev], err) < 0)
          goto rollback;
        nev++;
      }
  if (nev > 0 && sq_set_meta(ss, "rev", rev, err) < 0)
    goto rollback;
  if (sq_exec(ss, "COMMIT", err) < 0)
    goto rollback;
  if (nev > 0)
    ss->rev = rev;
  *rev_out = ss->rev;
  ret = 0;
  store_emit(s, ev, nev);
  goto out;

rollback:
  sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
out:
  store_kvs_free(cur, n);
  store_events_free(ev, nev);
  return ret;
}

static int sq_history(struct store *s, int64_t from, const char *prefix, size_t max,
                      struct store_event **out, size_t *n, struct skiff_err **err)
{
  struct sqlite_store *ss = SS(s);
  *out = NULL;
  *n = 0;
  ss->compacted = sq_read_meta(ss, "compacted");
  if (from < ss->compacted)
    return STORE_COMPACTED;
  sqlite3_stmt *st = ss->st_hist;
  cleanup_free char *end = store_prefix_end(prefix);
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, end ? end : "\xff\xff\xff\xff", -1, SQLITE_STATIC);
  size_t cap = 16, cnt = 0;
  struct store_event *ev = xmalloc(cap * sizeof(*ev));
  int rc = SQLITE_DONE;
  /* Past max, only the rest of the last revision: a revision is never cut in two. */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    {
      int64_t rev = sqlite3_column_int64(st, 0);
      if (cnt >= max && (cnt == 0 || rev != ev[cnt - 1].rev))
        break;
      if (cnt == cap)
        ev = xrealloc(ev, (cap *= 2) * sizeof(*ev));
      ev[cnt].rev = rev;
      ev[cnt].type = sqlite3_column_int(st, 2);
      kv_from_row(st, 1, 3, 4, -1, &ev[cnt].kv);
      ev[cnt].kv.mod_rev = ev[cnt].rev;
      cnt++;
    }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    {
      sqlite3_reset(st);
      store_events_free(ev, cnt);
      return sq_error(ss, err, "history");
    }
  sqlite3_reset(st);
  *out = ev;
  *n = cnt;
  return 0;
}

static int64_t sq_revision(struct store *s)
{
  return SS(s)->rev;
}

static int64_t sq_compacted(struct store *s)
{
  return SS(s)->compacted;
}

static int sq_compact(struct store *s, int64_t rev, struct skiff_err **err)
{
  struct sqlite_store *ss = SS(s);
  ss->rev = sq_read_meta(ss, "rev");
  ss->compacted = sq_read_meta(ss, "compacted");
  if (rev <= ss->compacted)
    return 0;
  if (rev > ss->rev)
    rev = ss->rev;
  cleanup_free char *sql
      = xasprintf("BEGIN IMMEDIATE; DELETE FROM history WHERE rev <= %lld;"
                  " INSERT OR REPLACE INTO meta (k, v) VALUES ('compacted', %lld); COMMIT;",
                  (long long)rev, (long long)rev);
  if (sq_exec(ss, sql, err) < 0)
    {
      sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
  ss->compacted = rev;
  return 0;
}

static int sq_idle(struct store *s, struct skiff_err **err)
{
  struct sqlite_store *ss = SS(s);
  pthread_mutex_lock(&ss->mu);
  char *failed = ss->ckpt_error;
  ss->ckpt_error = NULL;
  pthread_mutex_unlock(&ss->mu);
  if (failed)
    {
      skiff_error(err, 0, "%s", failed);
      free(failed);
      return -1;
    }
  if (ss->unsynced_since == 0)
    return 0;
  double now = sq_clock();
  if (now - ss->last_write < SQ_QUIET && now - ss->unsynced_since < SQ_LATEST)
    return 0;
  sq_ckpt_request(ss);
  ss->unsynced_since = 0;
  return 1;
}

static void sq_close(struct store *s)
{
  struct sqlite_store *ss = SS(s);
  pthread_mutex_lock(&ss->mu);
  ss->ckpt_stop = true;
  pthread_cond_signal(&ss->cv);
  bool started = ss->ckpt_started;
  pthread_mutex_unlock(&ss->mu);
  if (started)
    pthread_join(ss->ckpt, NULL);
  pthread_mutex_destroy(&ss->mu);
  pthread_cond_destroy(&ss->cv);
  free(ss->ckpt_error);
  free(ss->path);
  sqlite3_stmt *sts[] = {ss->st_get, ss->st_range, ss->st_put,  ss->st_del,
                         ss->st_log, ss->st_hist,  ss->st_meta, ss->st_read_meta};
  for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
    sqlite3_finalize(sts[i]);
  sqlite3_close(ss->db);
  free(ss);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .get = sq_get,
    .range = sq_range,
    .txn = sq_txn,
    .history = sq_history,
    .revision = sq_revision,
    .compacted = sq_compacted,
    .compact = sq_compact,
    .idle = sq_idle,
    .close = sq_close, /* one writer: no poll, no leases */
};

static int64_t sq_read_meta(struct sqlite_store *ss, const char *k)
{
  sqlite3_stmt *st = ss->st_read_meta, *own = NULL;
  int64_t v = 0;
  /* before the statements are prepared (migration at open): a statement of its own */
  if (st == NULL
      && sqlite3_prepare_v2(ss->db, "SELECT v FROM meta WHERE k = ?", -1, &own, NULL) != SQLITE_OK)
    return 0;
  if (st == NULL)
    st = own;
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  sqlite3_finalize(own);
  return v;
}

/* Databases of earlier versions kept history in `log`, one revision per op: those rows are
 * valid history of one-op revisions, moved as they are. */
static int sq_migrate(struct sqlite_store *ss, struct skiff_err **err)
{
  sqlite3_stmt *st = NULL;
  bool has_log = false;
  if (sqlite3_prepare_v2(ss->db,
                         "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log'", -1,
                         &st, NULL)
      == SQLITE_OK)
    has_log = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  if (!has_log)
    return 0;
  return sq_exec(ss,
                 "BEGIN IMMEDIATE; INSERT OR IGNORE INTO history (rev, idx, key, type, value,"
                 " create_rev) SELECT rev, 0, key, type, value, create_rev FROM log;"
                 " DROP TABLE log; COMMIT;",
                 err);
}

int store_sqlite_open(const char *dir, struct store **out, struct skiff_err **err)
{
  static const char *schema
      = "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA "
        "busy_timeout=5000;"
        "PRAGMA journal_size_limit=67108864;"
        "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB,"
        " create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS history (rev INTEGER NOT NULL, idx INTEGER NOT NULL,"
        " key TEXT NOT NULL, type INTEGER NOT NULL, value BLOB, create_rev INTEGER NOT NULL,"
        " PRIMARY KEY (rev, idx)) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);";
  if (skiff_mkdir_p(dir, 0700, err) < 0)
    return -1;
  cleanup_free char *path = xasprintf("%s/store.db", dir);
  struct sqlite_store *ss = xzalloc(sizeof(*ss));
  ss->base.ops = &sqlite_ops;
  if (sqlite3_open_v2(path, &ss->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
      != SQLITE_OK)
    {
      skiff_error(err, 0, "sqlite open `%s`: %s", path,
                  ss->db ? sqlite3_errmsg(ss->db) : "out of memory");
      sqlite3_close(ss->db);
      free(ss);
      return -1;
    }
  ss->path = xstrdup(path);
  pthread_mutex_init(&ss->mu, NULL);
  pthread_cond_init(&ss->cv, NULL);
  struct
  {
    sqlite3_stmt **st;
    const char *sql;
  } stmts[] = {
      {&ss->st_get, "SELECT key, value, create_rev, mod_rev FROM kv WHERE key = ?"},
      {&ss->st_range, "SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ? AND key < ?"
                      " ORDER BY key"},
      {&ss->st_put, "INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev)"
                    " VALUES (?, ?, ?, ?)"},
      {&ss->st_del, "DELETE FROM kv WHERE key = ?"},
      {&ss->st_log, "INSERT INTO history (rev, idx, key, type, value, create_rev)"
                    " VALUES (?, ?, ?, ?, ?, ?)"},
      {&ss->st_hist, "SELECT rev, key, type, value, create_rev FROM history"
                     " WHERE rev > ?1 AND key >= ?2 AND key < ?3 ORDER BY rev, idx"},
      {&ss->st_meta, "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)"},
      {&ss->st_read_meta, "SELECT v FROM meta WHERE k = ?"},
  };
  if (sq_exec(ss, schema, err) < 0 || sq_migrate(ss, err) < 0)
    goto fail;
  sqlite3_wal_hook(ss->db, sq_wal_hook, ss);
  for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
    if (sqlite3_prepare_v3(ss->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st, NULL)
        != SQLITE_OK)
      {
        sq_error(ss, err, "prepare");
        goto fail;
      }
  ss->rev = sq_read_meta(ss, "rev");
  ss->compacted = sq_read_meta(ss, "compacted");
  *out = &ss->base;
  return 0;

fail:
  skiff_err_prefix(err, "open store `%s`", path);
  sq_close(&ss->base);
  return -1;
}
