/* store.c - backend-independent side of the store: thin wrappers over struct store_ops, the
 * txn checks every backend shares (op count, one key once: etcd's rules, enforced on SQLite
 * too so the server cannot depend on what etcd refuses), the commit notification the
 * server's view and watch cache hang off, and the helpers that free what backends return.
 * It names no backend (store_open.c picks one), so a program may link one backend alone. */
#include <stdarg.h>
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

void store_set_resync(struct store *s, store_resync_fn fn, void *data)
{
  s->resync = fn;
  s->resync_data = data;
}

void store_emit(struct store *s, const struct store_event *ev, size_t n)
{
  if (s->notify && n > 0)
    s->notify(s->notify_data, ev, n);
}

int store_unavailable(struct skiff_err **err, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  skiff_error(err, 0, "%s", msg ? msg : "store unavailable");
  free(msg);
  if (err && *err)
    (*err)->status = STORE_EUNAVAILABLE;
  return -1;
}

char *store_prefix_end(const char *prefix)
{
  size_t len = strlen(prefix);
  char *end = xstrdup(prefix);
  while (len > 0)
    {
      if ((unsigned char)end[len - 1] < 0xff)
        {
          end[len - 1]++;
          end[len] = '\0';
          return end;
        }
      len--;
    }
  free(end);
  return NULL; /* everything */
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

static int cmp_keyp(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* etcd's rules, checked before any backend sees the txn. */
static int txn_check(const struct store_op *ops, size_t n, struct skiff_err **err)
{
  if (n > STORE_TXN_MAX_OPS)
    return skiff_error(err, EINVAL, "txn of %zu ops (at most %d)", n, STORE_TXN_MAX_OPS);
  const char *keys[STORE_TXN_MAX_OPS];
  for (size_t i = 0; i < n; i++)
    {
      if (ops[i].key == NULL || ops[i].key[0] != '/')
        return skiff_error(err, EINVAL, "txn op %zu: key `%s` does not start with /", i,
                           ops[i].key ? ops[i].key : "");
      if (ops[i].type != STORE_PUT && ops[i].type != STORE_DELETE && ops[i].type != STORE_CHECK)
        return skiff_error(err, EINVAL, "txn op %zu: unknown type %d", i, (int)ops[i].type);
      if (ops[i].type == STORE_DELETE && ops[i].expect_rev == STORE_ABSENT)
        return skiff_error(err, EINVAL, "txn op %zu (`%s`): delete of a key expected absent", i,
                           ops[i].key);
      if (ops[i].type == STORE_PUT && ops[i].value == NULL)
        return skiff_error(err, EINVAL, "txn op %zu (`%s`): put without a value", i, ops[i].key);
      keys[i] = ops[i].key;
    }
  if (n > 1)
    {
      qsort(keys, n, sizeof(keys[0]), cmp_keyp);
      for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
          return skiff_error(err, EINVAL, "txn: key `%s` appears twice", keys[i]);
    }
  return 0;
}

int store_txn(struct store *s, const struct store_op *ops, size_t n, size_t *failed,
              int64_t *last_rev, struct skiff_err **err)
{
  size_t fail_idx = 0;
  int64_t rev = 0;
  if (txn_check(ops, n, err) < 0)
    return -1;
  if (n == 0)
    {
      if (last_rev)
        *last_rev = s->ops->revision(s);
      return 0;
    }
  int r = s->ops->txn(s, ops, n, &rev, &fail_idx, err);
  if (failed)
    *failed = fail_idx;
  if (r == 0 && last_rev)
    *last_rev = rev;
  return r;
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

int store_idle(struct store *s, struct skiff_err **err)
{
  return s->ops->idle ? s->ops->idle(s, err) : 0;
}

int store_poll_fd(struct store *s)
{
  return s->ops->poll_fd ? s->ops->poll_fd(s) : -1;
}

int store_poll(struct store *s, struct skiff_err **err)
{
  return s->ops->poll ? s->ops->poll(s, err) : 0;
}

bool store_has_leases(struct store *s)
{
  return s->ops->lease_grant != NULL;
}

int store_lease_grant(struct store *s, int ttl, int64_t *id, struct skiff_err **err)
{
  if (s->ops->lease_grant == NULL)
    return skiff_error(err, ENOTSUP, "%s store: leases", s->ops->name);
  if (ttl < 1)
    return skiff_error(err, EINVAL, "lease TTL %d s", ttl);
  return s->ops->lease_grant(s, ttl, id, err);
}

int store_lease_keepalive(struct store *s, int64_t id, struct skiff_err **err)
{
  if (s->ops->lease_keepalive == NULL)
    return skiff_error(err, ENOTSUP, "%s store: leases", s->ops->name);
  return s->ops->lease_keepalive(s, id, err);
}

int store_lease_revoke(struct store *s, int64_t id, struct skiff_err **err)
{
  if (s->ops->lease_revoke == NULL)
    return skiff_error(err, ENOTSUP, "%s store: leases", s->ops->name);
  return s->ops->lease_revoke(s, id, err);
}

int store_lease_keep(struct store *s, int64_t id, int ttl, struct skiff_err **err)
{
  if (s->ops->lease_keep == NULL)
    return skiff_error(err, ENOTSUP, "%s store: leases", s->ops->name);
  if (ttl < 1)
    return skiff_error(err, EINVAL, "lease TTL %d s", ttl);
  return s->ops->lease_keep(s, id, ttl, err);
}

int store_lease_status(struct store *s, int64_t id, double *renewed_sent)
{
  *renewed_sent = 0;
  return s->ops->lease_status ? s->ops->lease_status(s, id, renewed_sent) : -1;
}

int store_put_lease(struct store *s, const char *key, const char *value, int64_t expect_rev,
                    int64_t lease, int64_t *new_rev, struct skiff_err **err)
{
  struct store_op op = {.type = STORE_PUT,
                        .key = key,
                        .value = value,
                        .len = strlen(value),
                        .expect_rev = expect_rev};
  int64_t rev = 0;
  if (s->ops->put_lease == NULL)
    return skiff_error(err, ENOTSUP, "%s store: leases", s->ops->name);
  if (txn_check(&op, 1, err) < 0)
    return -1;
  int r = s->ops->put_lease(s, &op, lease, &rev, err);
  if (r == 0 && new_rev)
    *new_rev = rev;
  return r;
}

const char *store_backend(struct store *s)
{
  return s->ops->name;
}

void store_close(struct store *s)
{
  if (s)
    s->ops->close(s);
}
