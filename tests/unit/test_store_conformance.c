/* test_store_conformance.c - one suite of store semantics (store.h) run unchanged against
 * every backend: SQLite in a temp dir, and etcd (a real `etcd` this test starts on free
 * loopback ports with a temp data dir and stops by its PID).  CAS, create-if-absent,
 * multi-op atomicity at one revision, etcd's txn rules, watch order and resume (history),
 * compaction, large values, concurrent writers in several processes, reopen, changes of
 * other writers, leases, deferred housekeeping (the SQLite WAL checkpoint).  A backend without a
 * feature (SQLite: one writer, no leases) skips that test with the reason. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <poll.h>
#include "check.h"
#include "etcd_proc.h"
#include "store.h"

struct backend
{
  const char *name;
  /* Open a handle on the backend's test namespace (same data for every handle of a test). */
  struct store *(*open)(void);
};

static const struct backend *B;
static char sqlite_dir[] = "/tmp/test_store_conf.XXXXXX";
static struct etcd_proc etcd;
static char prefix[64]; /* etcd: a fresh key prefix per test */
static int test_no;

static struct store *open_sqlite(void)
{
  struct store *s = NULL;
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *dir = xasprintf("%s/t%d", sqlite_dir, test_no);
  if (store_sqlite_open(dir, &s, &err) < 0)
    printf("# sqlite open: %s\n", err->msg);
  return s;
}

static struct store *open_etcd(void)
{
  struct store *s = NULL;
  cleanup_err struct skiff_err *err = NULL;
  if (store_etcd_open(etcd.endpoints, prefix, &s, &err) < 0)
    printf("# etcd open: %s\n", err->msg);
  return s;
}

static const struct backend backends[] = {{"sqlite", open_sqlite}, {"etcd", open_etcd}};

static struct store *fresh(void)
{
  test_no++;
  snprintf(prefix, sizeof(prefix), "/conf%d-%d/", (int)getpid(), test_no);
  return B->open();
}

static const char *skipped; /* set by a test that does not apply to the backend */

static void skip(const char *why)
{
  skipped = why;
}

/* RUN_TEST with the backend's name, and SKIP lines for tests that do not apply. */
#define RUN_CONF(fn)                                                                               \
  do                                                                                               \
    {                                                                                              \
      check_current_failed = 0;                                                                    \
      skipped = NULL;                                                                              \
      fn();                                                                                        \
      check_total++;                                                                               \
      if (check_current_failed)                                                                    \
        check_failures++;                                                                          \
      printf("%sok %d - %s: %s%s%s\n", check_current_failed ? "not " : "", check_total, B->name,   \
             #fn, skipped && !check_current_failed ? " # SKIP " : "",                              \
             skipped && !check_current_failed ? skipped : "");                                     \
    }                                                                                              \
  while (0)

/* ---- commit callback ---- */

static int notified_txns, notified_events;
static int64_t notified_rev;

static void on_commit(void *data, const struct store_event *ev, size_t n)
{
  (void)data;
  notified_txns++;
  notified_events += (int)n;
  for (size_t i = 0; i < n; i++)
    notified_rev = ev[i].rev;
}

static void reset_notified(void)
{
  notified_txns = notified_events = 0;
  notified_rev = 0;
}

/* ---- tests ---- */

static void test_put_get_cas(void)
{
  struct store *s = fresh();
  CHECK(s != NULL);
  if (s == NULL)
    return;
  reset_notified();
  store_set_notify(s, on_commit, NULL);
  int64_t base = store_revision(s), rev = 0;
  CHECK(store_put(s, "/services/web", "{\"a\":1}", STORE_ABSENT, &rev, NULL) == 0);
  CHECK(rev == base + 1 && store_revision(s) == base + 1);
  CHECK(notified_txns == 1 && notified_rev == base + 1);
  /* Create-if-absent on an existing key conflicts and writes nothing. */
  CHECK(store_put(s, "/services/web", "{\"a\":2}", STORE_ABSENT, NULL, NULL) == STORE_CONFLICT);
  CHECK(store_revision(s) == base + 1 && notified_txns == 1);
  /* CAS on the current revision succeeds, on a stale one fails. */
  CHECK(store_put(s, "/services/web", "{\"a\":3}", base + 1, &rev, NULL) == 0 && rev == base + 2);
  CHECK(store_put(s, "/services/web", "{\"a\":4}", base + 1, NULL, NULL) == STORE_CONFLICT);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/services/web", &kv, NULL) == 1);
  CHECK_STR_EQ(kv.value, "{\"a\":3}");
  CHECK(kv.create_rev == base + 1 && kv.mod_rev == base + 2 && kv.len == 7);
  store_kv_clear(&kv);
  CHECK(store_get(s, "/services/nope", &kv, NULL) == 0);
  /* Delete of a missing key is a conflict; delete with CAS. */
  CHECK(store_delete(s, "/services/nope", STORE_ANY_REV, NULL, NULL) == STORE_CONFLICT);
  CHECK(store_delete(s, "/services/web", base + 1, NULL, NULL) == STORE_CONFLICT);
  CHECK(store_delete(s, "/services/web", base + 2, &rev, NULL) == 0 && rev == base + 3);
  CHECK(store_get(s, "/services/web", &kv, NULL) == 0);
  /* Re-created: a new create revision. */
  CHECK(store_put(s, "/services/web", "{}", STORE_ABSENT, &rev, NULL) == 0);
  CHECK(store_get(s, "/services/web", &kv, NULL) == 1 && kv.create_rev == rev);
  store_kv_clear(&kv);
  CHECK(notified_txns == 4);
  store_close(s);
}

static void test_txn_atomic_one_revision(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  reset_notified();
  store_set_notify(s, on_commit, NULL);
  int64_t before = store_revision(s);
  struct store_op ops[] = {
      {.type = STORE_PUT, .key = "/replicas/a", .value = "1", .len = 1, .expect_rev = STORE_ABSENT},
      {.type = STORE_PUT, .key = "/replicas/b", .value = "2", .len = 1, .expect_rev = 999999},
  };
  size_t failed = 99;
  CHECK(store_txn(s, ops, 2, &failed, NULL, NULL) == STORE_CONFLICT);
  CHECK(failed == 1);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/replicas/a", &kv, NULL) == 0);
  CHECK(store_revision(s) == before && notified_txns == 0);
  /* Committed: every op at one revision, one notification with both events. */
  ops[1].expect_rev = STORE_ABSENT;
  int64_t last = 0;
  CHECK(store_txn(s, ops, 2, &failed, &last, NULL) == 0);
  CHECK(last == before + 1 && store_revision(s) == before + 1);
  CHECK(notified_txns == 1 && notified_events == 2 && notified_rev == last);
  CHECK(store_get(s, "/replicas/b", &kv, NULL) == 1 && kv.mod_rev == last && kv.create_rev == last);
  store_kv_clear(&kv);
  /* Compares see the state before the txn; a delete and a put in one txn. */
  struct store_op mix[] = {
      {.type = STORE_DELETE, .key = "/replicas/a", .expect_rev = last},
      {.type = STORE_PUT, .key = "/replicas/c", .value = "3", .len = 1, .expect_rev = STORE_ABSENT},
      {.type = STORE_PUT, .key = "/replicas/b", .value = "22", .len = 2, .expect_rev = last},
  };
  int64_t r2 = 0;
  CHECK(store_txn(s, mix, 3, NULL, &r2, NULL) == 0 && r2 == last + 1);
  CHECK(store_get(s, "/replicas/a", &kv, NULL) == 0);
  CHECK(store_get(s, "/replicas/b", &kv, NULL) == 1 && kv.create_rev == last && kv.mod_rev == r2);
  store_kv_clear(&kv);
  /* A delete of a missing key fails the whole txn. */
  struct store_op bad[] = {
      {.type = STORE_PUT,
       .key = "/replicas/d",
       .value = "4",
       .len = 1,
       .expect_rev = STORE_ANY_REV},
      {.type = STORE_DELETE, .key = "/replicas/a", .expect_rev = STORE_ANY_REV},
  };
  CHECK(store_txn(s, bad, 2, &failed, NULL, NULL) == STORE_CONFLICT && failed == 1);
  CHECK(store_get(s, "/replicas/d", &kv, NULL) == 0);
  /* Range by prefix, sorted, at one revision; a sibling prefix is not included. */
  CHECK(store_put(s, "/replicasX", "x", STORE_ANY_REV, NULL, NULL) == 0);
  struct store_kv *kvs = NULL;
  size_t n = 0;
  int64_t rrev = 0;
  CHECK(store_range(s, "/replicas/", &kvs, &n, &rrev, NULL) == 0);
  CHECK(n == 2 && rrev == store_revision(s));
  if (n == 2)
    {
      CHECK_STR_EQ(kvs[0].key, "/replicas/b");
      CHECK_STR_EQ(kvs[0].value, "22");
      CHECK_STR_EQ(kvs[1].key, "/replicas/c");
    }
  store_kvs_free(kvs, n);
  store_close(s);
}

static void test_txn_rules_and_checks(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  int64_t base = store_revision(s);
  cleanup_err struct skiff_err *err = NULL;
  /* etcd's limits: a key once per txn, at most STORE_TXN_MAX_OPS ops. */
  struct store_op dup[] = {
      {.type = STORE_PUT, .key = "/k", .value = "1", .len = 1, .expect_rev = STORE_ANY_REV},
      {.type = STORE_DELETE, .key = "/k", .expect_rev = STORE_ANY_REV},
  };
  CHECK(store_txn(s, dup, 2, NULL, NULL, &err) == -1);
  CHECK_CONTAINS(err ? err->msg : NULL, "appears twice");
  skiff_err_free(&err);
  struct store_op *many = xzalloc((STORE_TXN_MAX_OPS + 1) * sizeof(*many));
  char **keys = xzalloc((STORE_TXN_MAX_OPS + 1) * sizeof(char *));
  for (int i = 0; i <= STORE_TXN_MAX_OPS; i++)
    {
      keys[i] = xasprintf("/many/%03d", i);
      many[i] = (struct store_op){
          .type = STORE_PUT, .key = keys[i], .value = "v", .len = 1, .expect_rev = STORE_ABSENT};
    }
  CHECK(store_txn(s, many, STORE_TXN_MAX_OPS + 1, NULL, NULL, &err) == -1);
  CHECK(err && err->status == EINVAL);
  skiff_err_free(&err);
  CHECK(store_revision(s) == base);
  int64_t rev = 0;
  CHECK(store_txn(s, many, STORE_TXN_MAX_OPS, NULL, &rev, &err) == 0 && rev == base + 1);
  if (err)
    printf("# %s\n", err->msg);
  struct store_kv *kvs = NULL;
  size_t n = 0;
  CHECK(store_range(s, "/many/", &kvs, &n, NULL, NULL) == 0 && n == STORE_TXN_MAX_OPS);
  for (size_t i = 0; i < n; i++)
    CHECK(kvs[i].mod_rev == rev);
  store_kvs_free(kvs, n);
  for (int i = 0; i <= STORE_TXN_MAX_OPS; i++)
    free(keys[i]);
  free(keys);
  free(many);
  /* CHECK: a pure compare (fencing on another key). */
  int64_t lrev = 0;
  CHECK(store_put(s, "/leader", "me", STORE_ABSENT, &lrev, NULL) == 0);
  struct store_op fenced[] = {
      {.type = STORE_CHECK, .key = "/leader", .expect_rev = lrev},
      {.type = STORE_PUT, .key = "/w", .value = "1", .len = 1, .expect_rev = STORE_ANY_REV},
  };
  size_t failed = 9;
  CHECK(store_txn(s, fenced, 2, &failed, &rev, NULL) == 0 && rev == lrev + 1);
  CHECK(store_put(s, "/leader", "other", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_txn(s, fenced, 2, &failed, NULL, NULL) == STORE_CONFLICT && failed == 0);
  CHECK(store_delete(s, "/leader", STORE_ANY_REV, NULL, NULL) == 0);
  fenced[0].expect_rev = STORE_ANY_REV; /* the key must exist */
  CHECK(store_txn(s, fenced, 2, &failed, NULL, NULL) == STORE_CONFLICT && failed == 0);
  fenced[0].expect_rev = STORE_ABSENT;
  CHECK(store_txn(s, fenced, 2, &failed, &rev, NULL) == 0);
  /* A txn of only checks writes nothing and keeps the revision. */
  int64_t now = store_revision(s), after = 0;
  CHECK(store_txn(s, fenced, 1, NULL, &after, NULL) == 0 && after == now);
  store_close(s);
}

static void test_watch_order_and_resume(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  int64_t base = store_revision(s);
  CHECK(store_put(s, "/nodes/n1", "{}", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_put(s, "/nodes/n1", "{\"x\":1}", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_put(s, "/services/s", "{}", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_delete(s, "/nodes/n1", STORE_ANY_REV, NULL, NULL) == 0);
  struct store_op three[] = {
      {.type = STORE_PUT, .key = "/nodes/a", .value = "a", .len = 1, .expect_rev = STORE_ANY_REV},
      {.type = STORE_PUT, .key = "/nodes/b", .value = "b", .len = 1, .expect_rev = STORE_ANY_REV},
      {.type = STORE_PUT, .key = "/nodes/c", .value = "c", .len = 1, .expect_rev = STORE_ANY_REV},
  };
  CHECK(store_txn(s, three, 3, NULL, NULL, NULL) == 0);
  struct store_event *ev = NULL;
  size_t n = 0;
  CHECK(store_history(s, base, "/nodes/", 100, &ev, &n, NULL) == 0);
  CHECK(n == 6);
  if (n == 6)
    {
      CHECK(ev[0].type == STORE_PUT && ev[0].rev == base + 1 && ev[0].kv.create_rev == base + 1);
      CHECK(ev[1].type == STORE_PUT && ev[1].rev == base + 2 && ev[1].kv.create_rev == base + 1);
      CHECK_STR_EQ(ev[1].kv.value, "{\"x\":1}");
      /* A delete carries the last value and its create revision. */
      CHECK(ev[2].type == STORE_DELETE && ev[2].rev == base + 4);
      CHECK_STR_EQ(ev[2].kv.value, "{\"x\":1}");
      CHECK(ev[2].kv.create_rev == base + 1);
      /* One txn: one revision, its ops in order. */
      CHECK(ev[3].rev == base + 5 && ev[4].rev == base + 5 && ev[5].rev == base + 5);
      CHECK_STR_EQ(ev[3].kv.key, "/nodes/a");
      CHECK_STR_EQ(ev[5].kv.key, "/nodes/c");
    }
  store_events_free(ev, n);
  /* Resume after a revision: only later events, every prefix. */
  CHECK(store_history(s, base + 2, "/", 100, &ev, &n, NULL) == 0);
  CHECK(n == 5 && ev[0].rev == base + 3);
  if (n == 5)
    CHECK_STR_EQ(ev[0].kv.key, "/services/s");
  store_events_free(ev, n);
  /* max cuts between revisions, never inside one. */
  CHECK(store_history(s, base + 4, "/", 1, &ev, &n, NULL) == 0);
  CHECK(n == 3);
  store_events_free(ev, n);
  CHECK(store_history(s, base, "/", 2, &ev, &n, NULL) == 0);
  CHECK(n == 2 && ev[1].rev == base + 2);
  store_events_free(ev, n);
  CHECK(store_history(s, base + 5, "/", 100, &ev, &n, NULL) == 0 && n == 0);
  store_events_free(ev, n);
  store_close(s);
}

static void test_compaction(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  int64_t base = store_revision(s);
  for (int i = 0; i < 4; i++)
    CHECK(store_put(s, "/c/k", "v", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_compact(s, base + 2, NULL) == 0);
  CHECK(store_compacted(s) == base + 2);
  struct store_event *ev = NULL;
  size_t n = 0;
  CHECK(store_history(s, base, "/c/", 100, &ev, &n, NULL) == STORE_COMPACTED);
  CHECK(store_history(s, base + 1, "/c/", 100, &ev, &n, NULL) == STORE_COMPACTED);
  CHECK(store_history(s, base + 2, "/c/", 100, &ev, &n, NULL) == 0 && n == 2);
  if (n == 2)
    CHECK(ev[0].rev == base + 3);
  store_events_free(ev, n);
  /* Compacting again below the mark is a no-op; the value survives. */
  CHECK(store_compact(s, base + 1, NULL) == 0 && store_compacted(s) == base + 2);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/c/k", &kv, NULL) == 1 && kv.mod_rev == base + 4);
  store_kv_clear(&kv);
  store_close(s);
  /* A new handle knows where history starts. */
  s = B->open();
  if (s == NULL)
    return;
  CHECK(store_compacted(s) == base + 2);
  CHECK(store_history(s, base + 1, "/c/", 100, &ev, &n, NULL) == STORE_COMPACTED);
  store_close(s);
}

static void test_large_values(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  size_t len = 512 * 1024;
  char *big = xmalloc(len + 1);
  for (size_t i = 0; i < len; i++)
    big[i] = (char)(' ' + (i * 7919) % 95);
  big[len] = '\0';
  int64_t base = store_revision(s), rev = 0;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(store_put(s, "/big/a", big, STORE_ABSENT, &rev, &err) == 0);
  if (err)
    printf("# %s\n", err->msg);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/big/a", &kv, NULL) == 1);
  CHECK(kv.len == len && kv.value && memcmp(kv.value, big, len) == 0 && kv.value[len] == '\0');
  store_kv_clear(&kv);
  struct store_event *ev = NULL;
  size_t n = 0;
  CHECK(store_history(s, base, "/big/", 10, &ev, &n, NULL) == 0 && n == 1);
  if (n == 1)
    CHECK(ev[0].kv.len == len && memcmp(ev[0].kv.value, big, len) == 0);
  store_events_free(ev, n);
  free(big);
  store_close(s);
}

/* Each child opens its own handle and adds 1 to a counter CAS_PER_CHILD times, retrying on
 * conflicts: the counter ends at the sum and each increment has its own revision. */
#define WRITERS 4
#define CAS_PER_CHILD 25

static int child_increments(void)
{
  struct store *s = B->open();
  if (s == NULL)
    return 1;
  for (int done = 0; done < CAS_PER_CHILD;)
    {
      struct store_kv kv = {0};
      cleanup_err struct skiff_err *err = NULL;
      int found = store_get(s, "/counter", &kv, &err);
      if (found < 0)
        return 2;
      long v = found ? strtol(kv.value, NULL, 10) : 0;
      char buf[32];
      snprintf(buf, sizeof(buf), "%ld", v + 1);
      int r = store_put(s, "/counter", buf, found ? kv.mod_rev : STORE_ABSENT, NULL, &err);
      store_kv_clear(&kv);
      if (r < 0)
        return 3;
      done += r == 0;
    }
  store_close(s);
  return 0;
}

static void test_concurrent_writers(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  int64_t base = store_revision(s);
  pid_t pids[WRITERS];
  for (int i = 0; i < WRITERS; i++)
    {
      fflush(stdout);
      pids[i] = fork();
      if (pids[i] == 0)
        _exit(child_increments());
    }
  for (int i = 0; i < WRITERS; i++)
    {
      int st = 0;
      while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
        ;
      CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
  struct store_kv kv = {0};
  CHECK(store_get(s, "/counter", &kv, NULL) == 1);
  CHECK(kv.value && strtol(kv.value, NULL, 10) == WRITERS * CAS_PER_CHILD);
  store_kv_clear(&kv);
  struct store_event *ev = NULL;
  size_t n = 0;
  CHECK(store_history(s, base, "/counter", 1000, &ev, &n, NULL) == 0);
  CHECK(n == WRITERS * CAS_PER_CHILD);
  for (size_t i = 1; i < n; i++)
    CHECK(ev[i].rev > ev[i - 1].rev && strtol(ev[i].kv.value, NULL, 10) == (long)i + 1);
  store_events_free(ev, n);
  store_close(s);
}

static void test_reopen(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  int64_t rev = 0;
  CHECK(store_put(s, "/services/keep", "{\"k\":true}", STORE_ANY_REV, &rev, NULL) == 0);
  store_close(s);
  s = B->open();
  if (s == NULL)
    return;
  CHECK(store_revision(s) >= rev);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/services/keep", &kv, NULL) == 1);
  CHECK_STR_EQ(kv.value, "{\"k\":true}");
  CHECK(kv.mod_rev == rev);
  store_kv_clear(&kv);
  int64_t next = 0;
  CHECK(store_put(s, "/services/keep", "{}", rev, &next, NULL) == 0 && next > rev);
  store_close(s);
}

/* Changes of another writer reach the owner through poll_fd + poll, in order. */
static void test_other_writer_delivered(void)
{
  struct store *a = fresh();
  if (a == NULL)
    return;
  if (store_poll_fd(a) < 0)
    {
      store_close(a);
      skip("one writer per store (no changes from elsewhere to deliver)");
      return;
    }
  struct store *b = B->open();
  if (b == NULL)
    {
      store_close(a);
      return;
    }
  reset_notified();
  store_set_notify(a, on_commit, NULL);
  int64_t r1 = 0, r2 = 0;
  CHECK(store_put(b, "/o/x", "1", STORE_ABSENT, &r1, NULL) == 0);
  CHECK(store_put(b, "/o/y", "2", STORE_ABSENT, &r2, NULL) == 0);
  for (int i = 0; i < 50 && notified_rev < r2; i++)
    {
      struct pollfd p = {.fd = store_poll_fd(a), .events = POLLIN};
      poll(&p, 1, 100);
      CHECK(store_poll(a, NULL) == 0);
    }
  CHECK(notified_txns == 2 && notified_rev == r2 && store_revision(a) == r2);
  /* a's own write after b's: delivered after them, at the next revision. */
  int64_t r3 = 0;
  CHECK(store_put(a, "/o/z", "3", STORE_ABSENT, &r3, NULL) == 0 && r3 == r2 + 1);
  CHECK(notified_txns == 3 && notified_rev == r3);
  store_close(b);
  store_close(a);
}

static void test_leases(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  if (!store_has_leases(s))
    {
      store_close(s);
      skip("no leases (one server per store: nothing to elect)");
      return;
    }
  int64_t id = 0, rev = 0;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(store_lease_grant(s, 1, &id, &err) == 0 && id != 0);
  CHECK(store_put_lease(s, "/leader", "me", STORE_ABSENT, id, &rev, NULL) == 0);
  CHECK(store_put_lease(s, "/leader", "you", STORE_ABSENT, id, NULL, NULL) == STORE_CONFLICT);
  struct store_kv kv = {0};
  /* Kept alive past its TTL, it stays. */
  for (int i = 0; i < 6; i++)
    {
      struct timespec ts = {0, 300 * 1000 * 1000};
      nanosleep(&ts, NULL);
      CHECK(store_lease_keepalive(s, id, NULL) == 0);
    }
  CHECK(store_get(s, "/leader", &kv, NULL) == 1 && kv.mod_rev == rev);
  store_kv_clear(&kv);
  /* Left alone, it expires and takes the key with it. */
  struct timespec ts = {3, 0};
  nanosleep(&ts, NULL);
  CHECK(store_lease_keepalive(s, id, NULL) == STORE_EXPIRED);
  CHECK(store_get(s, "/leader", &kv, NULL) == 0);
  /* Kept by the store in the background while this thread does nothing for 2.5 TTLs. */
  CHECK(store_lease_grant(s, 1, &id, NULL) == 0);
  CHECK(store_lease_keep(s, id, 1, NULL) == 0);
  CHECK(store_put_lease(s, "/leader", "kept", STORE_ABSENT, id, NULL, NULL) == 0);
  double sent0 = 0, sent1 = 0;
  struct timespec half = {0, 500 * 1000 * 1000};
  nanosleep(&half, NULL);
  CHECK(store_lease_status(s, id, &sent0) == 0 && sent0 > 0);
  struct timespec two = {2, 0};
  nanosleep(&two, NULL);
  CHECK(store_lease_status(s, id, &sent1) == 0 && sent1 > sent0);
  CHECK(store_get(s, "/leader", &kv, NULL) == 1);
  store_kv_clear(&kv);
  CHECK(store_lease_revoke(s, id, NULL) == 0);
  CHECK(store_lease_status(s, id, &sent1) == -1);
  CHECK(store_get(s, "/leader", &kv, NULL) == 0);
  /* Revoked: the key goes at once. */
  CHECK(store_lease_grant(s, 30, &id, NULL) == 0);
  CHECK(store_put_lease(s, "/leader", "me", STORE_ABSENT, id, NULL, NULL) == 0);
  CHECK(store_lease_revoke(s, id, NULL) == 0);
  CHECK(store_get(s, "/leader", &kv, NULL) == 0);
  store_close(s);
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* Deferred housekeeping (SQLite: the WAL checkpoint) waits for a pause in the writes, or at
 * most about a second under steady writes, and loses nothing. */
static void test_idle_housekeeping(void)
{
  struct store *s = fresh();
  if (s == NULL)
    return;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(store_idle(s, &err) == 0); /* nothing written yet */
  int64_t rev = 0;
  CHECK(store_put(s, "/i/a", "1", STORE_ABSENT, &rev, NULL) == 0);
  if (s->ops->idle == NULL)
    {
      store_close(s);
      skip("no deferred housekeeping");
      return;
    }
  /* 256 KiB in the WAL; the database file holds them once checkpointed */
  cleanup_free char *big = xmalloc(256 * 1024 + 1);
  memset(big, 'b', 256 * 1024);
  big[256 * 1024] = '\0';
  CHECK(store_put(s, "/i/big", big, STORE_ABSENT, NULL, NULL) == 0);
  cleanup_free char *db = xasprintf("%s/t%d/store.db", sqlite_dir, test_no);
  struct stat st;
  CHECK(stat(db, &st) == 0 && st.st_size < 256 * 1024);
  CHECK(store_idle(s, &err) == 0); /* a write this instant: not yet */
  sleep_ms(150);
  CHECK(store_idle(s, &err) == 1);
  CHECK(store_idle(s, &err) == 0); /* asked for, nothing new since */
  for (int i = 0; i < 100 && stat(db, &st) == 0 && st.st_size < 256 * 1024; i++)
    sleep_ms(20); /* the checkpoint runs in the store's thread */
  CHECK(st.st_size >= 256 * 1024);
  /* Steady writes never pause: done anyway within about a second of the first. */
  int done = 0;
  for (int i = 0; i < 80 && !done; i++)
    {
      cleanup_free char *key = xasprintf("/i/steady%d", i);
      CHECK(store_put(s, key, "x", STORE_ABSENT, NULL, NULL) == 0);
      done = store_idle(s, &err) == 1;
      sleep_ms(20);
    }
  CHECK(done);
  store_close(s);
  s = B->open();
  struct store_kv kv = {0};
  CHECK(s && store_get(s, "/i/a", &kv, NULL) == 1 && kv.mod_rev == rev);
  store_kv_clear(&kv);
  if (s)
    store_close(s);
}

static void run_suite(void)
{
  printf("# backend %s\n", B->name);
  RUN_CONF(test_put_get_cas);
  RUN_CONF(test_txn_atomic_one_revision);
  RUN_CONF(test_txn_rules_and_checks);
  RUN_CONF(test_watch_order_and_resume);
  RUN_CONF(test_compaction);
  RUN_CONF(test_large_values);
  RUN_CONF(test_concurrent_writers);
  RUN_CONF(test_reopen);
  RUN_CONF(test_other_writer_delivered);
  RUN_CONF(test_leases);
  RUN_CONF(test_idle_housekeeping);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (mkdtemp(sqlite_dir) == NULL)
    return 1;
  B = &backends[0];
  run_suite();
  skiff_rm_rf(sqlite_dir, NULL);

  B = &backends[1];
  cleanup_err struct skiff_err *err = NULL;
  if (etcd_proc_start(&etcd, 1, &err) < 0)
    {
      check_total++;
      printf("ok %d - etcd # SKIP %s\n", check_total, err->msg);
      return CHECK_DONE();
    }
  run_suite();
  etcd_proc_stop(&etcd);
  return CHECK_DONE();
}
