/* test_orch_store.c - store semantics on a temporary SQLite data dir: revisions, CAS,
 * all-or-nothing txn, range by prefix, history (watch from a revision), compaction, the
 * commit notification, and persistence across reopen. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "store.h"

static char dir[] = "/tmp/test_orch_store.XXXXXX";

static struct store *open_store(void)
{
  struct store *s = NULL;
  struct skiff_err *err = NULL;
  if (store_sqlite_open(dir, &s, &err) < 0)
    {
      printf("# %s\n", err->msg);
      skiff_err_free(&err);
    }
  return s;
}

static int notified;
static int64_t notified_rev;

static void on_commit(void *data, const struct store_event *ev, size_t n)
{
  (void)data;
  notified += (int)n;
  notified_rev = ev[n - 1].rev;
}

static void test_put_get_cas(void)
{
  struct store *s = open_store();
  CHECK(s != NULL);
  if (s == NULL)
    return;
  store_set_notify(s, on_commit, NULL);
  int64_t rev = 0;
  CHECK(store_revision(s) == 0);
  CHECK(store_put(s, "/services/web", "{\"a\":1}", STORE_ABSENT, &rev, NULL) == 0);
  CHECK(rev == 1 && store_revision(s) == 1 && notified == 1 && notified_rev == 1);
  /* Create-only on an existing key conflicts and writes nothing. */
  CHECK(store_put(s, "/services/web", "{\"a\":2}", STORE_ABSENT, NULL, NULL) == STORE_CONFLICT);
  CHECK(store_revision(s) == 1 && notified == 1);
  /* CAS on the right revision succeeds, on a stale one fails. */
  CHECK(store_put(s, "/services/web", "{\"a\":3}", 1, &rev, NULL) == 0 && rev == 2);
  CHECK(store_put(s, "/services/web", "{\"a\":4}", 1, NULL, NULL) == STORE_CONFLICT);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/services/web", &kv, NULL) == 1);
  CHECK_STR_EQ(kv.value, "{\"a\":3}");
  CHECK(kv.create_rev == 1 && kv.mod_rev == 2);
  store_kv_clear(&kv);
  CHECK(store_get(s, "/services/nope", &kv, NULL) == 0);
  /* Delete of a missing key is a conflict; delete with CAS. */
  CHECK(store_delete(s, "/services/nope", STORE_ANY_REV, NULL, NULL) == STORE_CONFLICT);
  CHECK(store_delete(s, "/services/web", 1, NULL, NULL) == STORE_CONFLICT);
  CHECK(store_delete(s, "/services/web", 2, &rev, NULL) == 0 && rev == 3);
  CHECK(store_get(s, "/services/web", &kv, NULL) == 0);
  store_close(s);
}

static void test_txn_all_or_nothing(void)
{
  struct store *s = open_store();
  if (s == NULL)
    return;
  int64_t before = store_revision(s);
  struct store_op ops[] = {
      {.type = STORE_PUT, .key = "/replicas/a", .value = "1", .len = 1, .expect_rev = STORE_ABSENT},
      {.type = STORE_PUT, .key = "/replicas/b", .value = "2", .len = 1, .expect_rev = 999},
  };
  size_t failed = 99;
  CHECK(store_txn(s, ops, 2, &failed, NULL, NULL) == STORE_CONFLICT);
  CHECK(failed == 1);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/replicas/a", &kv, NULL) == 0);
  CHECK(store_revision(s) == before);
  ops[1].expect_rev = STORE_ABSENT;
  int64_t last = 0;
  CHECK(store_txn(s, ops, 2, &failed, &last, NULL) == 0);
  CHECK(last == before + 2);
  struct store_kv *kvs = NULL;
  size_t n = 0;
  int64_t rrev = 0;
  CHECK(store_put(s, "/replicasX", "x", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_range(s, "/replicas/", &kvs, &n, &rrev, NULL) == 0);
  CHECK(n == 2 && rrev == store_revision(s));
  if (n == 2)
    {
      CHECK_STR_EQ(kvs[0].key, "/replicas/a");
      CHECK_STR_EQ(kvs[1].value, "2");
    }
  store_kvs_free(kvs, n);
  store_close(s);
}

static void test_history_and_compaction(void)
{
  struct store *s = open_store();
  if (s == NULL)
    return;
  int64_t base = store_revision(s);
  CHECK(store_put(s, "/nodes/n1", "{}", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_put(s, "/nodes/n1", "{\"x\":1}", STORE_ANY_REV, NULL, NULL) == 0);
  CHECK(store_delete(s, "/nodes/n1", STORE_ANY_REV, NULL, NULL) == 0);
  struct store_event *ev = NULL;
  size_t n = 0;
  CHECK(store_history(s, base, "/nodes/", 100, &ev, &n, NULL) == 0);
  CHECK(n == 3);
  if (n == 3)
    {
      CHECK(ev[0].type == STORE_PUT && ev[0].rev == base + 1 && ev[0].kv.create_rev == base + 1);
      CHECK(ev[1].type == STORE_PUT && ev[1].kv.create_rev == base + 1);
      /* A delete carries the last value. */
      CHECK(ev[2].type == STORE_DELETE);
      CHECK_STR_EQ(ev[2].kv.value, "{\"x\":1}");
    }
  store_events_free(ev, n);
  /* Only events after `from`. */
  CHECK(store_history(s, base + 2, "/", 100, &ev, &n, NULL) == 0);
  CHECK(n == 1 && ev[0].rev == base + 3);
  store_events_free(ev, n);
  CHECK(store_compact(s, base + 2, NULL) == 0);
  CHECK(store_compacted(s) == base + 2);
  CHECK(store_history(s, base, "/", 100, &ev, &n, NULL) == STORE_COMPACTED);
  CHECK(store_history(s, base + 2, "/", 100, &ev, &n, NULL) == 0 && n == 1);
  store_events_free(ev, n);
  store_close(s);
}

static void test_persistence_after_reopen(void)
{
  struct store *s = open_store();
  if (s == NULL)
    return;
  int64_t rev = 0;
  CHECK(store_put(s, "/services/keep", "{\"k\":true}", STORE_ANY_REV, &rev, NULL) == 0);
  int64_t compacted = store_compacted(s);
  store_close(s);
  s = open_store();
  if (s == NULL)
    return;
  CHECK(store_revision(s) == rev);
  CHECK(store_compacted(s) == compacted);
  struct store_kv kv = {0};
  CHECK(store_get(s, "/services/keep", &kv, NULL) == 1);
  CHECK_STR_EQ(kv.value, "{\"k\":true}");
  CHECK(kv.mod_rev == rev);
  store_kv_clear(&kv);
  /* Revisions keep growing after a reopen. */
  int64_t next = 0;
  CHECK(store_put(s, "/services/keep", "{}", rev, &next, NULL) == 0 && next == rev + 1);
  store_close(s);
}

int main(void)
{
  if (mkdtemp(dir) == NULL)
    return 1;
  RUN_TEST(test_put_get_cas);
  RUN_TEST(test_txn_all_or_nothing);
  RUN_TEST(test_history_and_compaction);
  RUN_TEST(test_persistence_after_reopen);
  skiff_rm_rf(dir, NULL);
  return CHECK_DONE();
}
