/* store.c - backend-independent side of the store: thin wrappers over struct store_ops that
 * run the commit notification (the server's watch cache and in-memory view hang off it), and
 * the helpers that free what backends return. */
#include <string.h>
#include "store.h"

void store_kv_clear(struct store_kv *kv)
{
  free(kv->key);
  free(kv->value);
  memset(kv, 0, sizeof(*kv));
}

void store_kvs_free(struct store_kv *kvs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    store_kv_clear(&kvs[i]);
  free(kvs);
}

void store_events_free(struct store_event *ev, size_t n)
{
  for (size_t i = 0; i < n; i++)
    store_kv_clear(&ev[i].kv);
  free(ev);
}

void store_set_notify(struct store *s, store_notify_fn fn, void *data)
{
  s->notify = fn;
  s->notify_data = data;
}

int store_get(struct store *s, const char *key, struct store_kv *out, struct skiff_err **err)
{
  return s->ops->get(s, key, out, err);
}

int store_range(struct store *s, const char *prefix, struct store_kv **out, size_t *n, int64_t *rev,
                struct skiff_err **err)
{
  return s->ops->range(s, prefix, out, n, rev, err);
}

int store_txn(struct store *s, const struct store_op *ops, size_t n, size_t *failed,
              int64_t *last_rev, struct skiff_err **err)
{
  struct store_event *ev = NULL;
  size_t fail_idx = 0;
  int r = s->ops->txn(s, ops, n, &ev, &fail_idx, err);
  if (failed)
    *failed = fail_idx;
  if (r != 0)
    return r;
  if (last_rev)
    *last_rev = n > 0 ? ev[n - 1].rev : s->ops->revision(s);
  if (s->notify && n > 0)
    s->notify(s->notify_data, ev, n);
  store_events_free(ev, n);
  return 0;
}

int store_put(struct store *s, const char *key, const char *value, int64_t expect_rev,
              int64_t *new_rev, struct skiff_err **err)
{
  struct store_op op = {.type = STORE_PUT,
                        .key = key,
                        .value = value,
                        .len = strlen(value),
                        .expect_rev = expect_rev};
  return store_txn(s, &op, 1, NULL, new_rev, err);
}

int store_delete(struct store *s, const char *key, int64_t expect_rev, int64_t *new_rev,
                 struct skiff_err **err)
{
  struct store_op op = {.type = STORE_DELETE, .key = key, .expect_rev = expect_rev};
  return store_txn(s, &op, 1, NULL, new_rev, err);
}

int store_history(struct store *s, int64_t from, const char *prefix, size_t max,
                  struct store_event **out, size_t *n, struct skiff_err **err)
{
  return s->ops->history(s, from, prefix, max, out, n, err);
}

int64_t store_revision(struct store *s)
{
  return s->ops->revision(s);
}

int64_t store_compacted(struct store *s)
{
  return s->ops->compacted(s);
}

int store_compact(struct store *s, int64_t rev, struct skiff_err **err)
{
  return s->ops->compact(s, rev, err);
}

void store_close(struct store *s)
{
  if (s)
    s->ops->close(s);
}
