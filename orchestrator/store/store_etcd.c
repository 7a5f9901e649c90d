/* store_etcd.c - the etcd backend: store.h's semantics on etcd 3.4+ through its v3 JSON
 * gateway (every call a POST under /v3/, see store_etcd_http.c).
 *
 * Mapping (store_etcd.h): skiff key K -> etcd key P + K[1:] under the prefix P.  A skiff txn
 * is one etcd txn: a compare per conditional op (create_revision = 0 for create-if-absent,
 * mod_revision = N for CAS, create_revision > 0 for deletes and bare checks), the writes on
 * success, keys-only ranges on failure to name the op that failed.  Revisions are etcd's.
 *
 * The owner's view follows one watch stream over the prefix (store_etcd_watch.c): its own
 * writes and other servers' arrive the same way, in revision order.  txn returns once the
 * stream has delivered the txn's revision, so the view has the write when the call returns
 * (the server answers from its view).  History older than the view is read by a one-shot
 * watch over every key from the wanted revision: every revision after 1 has at least one
 * event somewhere, so the stream reaching the current revision proves the read complete.
 *
 * Retries: a call that times out on one member goes to the next.  A txn whose earlier attempt
 * may have been applied and whose retry then fails its compares is checked: if every put
 * holds our value at one revision and every delete is gone, it was ours and succeeded. */
#include <string.h>
#include <curl/curl.h>
#include "store_etcd.h"

#define RANGE_PAGE 1000
#define HISTORY_TIMEOUT_MS 10000L

struct etcd_store
{
  struct store base;
  struct etcd_http *http;
  char *prefix;
  struct etcd_watch *watch;
  int64_t view_rev;  /* the owner's view is at this revision */
  int64_t compacted; /* skiff's compaction mark: history at or below it is gone */
  bool in_resync;
  struct etcd_keeper *keeper; /* the lease kept alive in the background */
};

#define ES(s) ((struct etcd_store *)(s))

/* A call that etcd answered with an error becomes one line with its message. */
static int call(struct etcd_store *es, const char *path, json_t *req, json_t **reply, bool *retried,
                struct skiff_err **err)
{
  int code = 0;
  int r = etcd_http_call(es->http, path, req, true, reply, &code, retried, err);
  if (r == 1)
    {
      const char *m = json_string_value(json_object_get(*reply, "message"));
      skiff_error(err, 0, "etcd %s: %s (code %d)", path, m ? m : "error", code);
      json_decref(*reply);
      *reply = NULL;
      return code == 11 ? -11 : -1; /* 11: OutOfRange, a compacted or future revision */
    }
  return r;
}

/* ---- delivering changes to the owner ---- */

static void deliver(struct etcd_store *es, int64_t upto)
{
  struct store_event *ev = NULL;
  size_t n = 0;
  etcd_watch_take(es->watch, upto, &ev, &n, NULL);
  for (size_t i = 0; i < n;)
    {
      size_t j = i;
      while (j < n && ev[j].rev == ev[i].rev)
        j++;
      if (ev[i].rev > es->view_rev)
        {
          es->view_rev = ev[i].rev;
          store_emit(&es->base, ev + i, j - i);
        }
      i = j;
    }
  store_events_free(ev, n);
}

/* Wait for the stream to bring revision rev, then hand everything up to it to the owner.  A
 * stream that lags is moved to another member once; after that the write stands (it is
 * committed) and the view catches up when the stream does. */
static void sync_to(struct etcd_store *es, int64_t rev)
{
  if (!etcd_watch_wait(es->watch, rev, ETCD_REQUEST_TIMEOUT_MS))
    {
      etcd_watch_reconnect(es->watch);
      etcd_watch_wait(es->watch, rev, 2 * ETCD_REQUEST_TIMEOUT_MS);
    }
  deliver(es, rev);
}

static int etcd_poll(struct store *s, struct skiff_err **err)
{
  struct etcd_store *es = ES(s);
  deliver(es, INT64_MAX);
  struct store_event *ev = NULL;
  size_t n = 0;
  int64_t compact = etcd_watch_take(es->watch, 0, &ev, &n, NULL);
  store_events_free(ev, n);
  if (compact == 0)
    return 0;
  /* The stream's start was compacted while it was away: the owner relists. */
  if (compact - 1 > es->compacted)
    es->compacted = compact - 1;
  int64_t from = es->view_rev;
  if (s->resync)
    {
      es->in_resync = true;
      s->resync(s->resync_data);
      es->in_resync = false;
    }
  if (es->view_rev == from)
    {
      /* No relist happened (no owner, or it failed): go on from etcd's revision now. */
      json_t *reply = NULL;
      cleanup_free char *key = etcd_key_b64(es->prefix, "/");
      json_t *req = json_pack("{s:s,s:b}", "key", key, "count_only", 1);
      int r = call(es, "/v3/kv/range", req, &reply, NULL, err);
      json_decref(req);
      if (r < 0)
        return -1;
      es->view_rev = etcd_int(json_object_get(reply, "header"), "revision");
      json_decref(reply);
    }
  etcd_watch_restart(es->watch, es->view_rev);
  return 0;
}

static int etcd_poll_fd(struct store *s)
{
  return etcd_watch_fd(ES(s)->watch);
}

/* ---- reads ---- */

static int etcd_range(struct store *s, const char *pfx, struct store_kv **out, size_t *n,
                      int64_t *rev_out, struct skiff_err **err)
{
  struct etcd_store *es = ES(s);
  cleanup_free char *key = etcd_key_b64(es->prefix, pfx);
  cleanup_free char *end = etcd_range_end_b64(es->prefix, pfx);
  size_t cnt = 0, cap = 0;
  struct store_kv *kvs = NULL;
  int64_t rev = 0;
  char *from = xstrdup(key);
  for (;;)
    {
      json_t *req = json_pack("{s:s,s:s,s:I}", "key", from, "range_end", end, "limit",
                              (json_int_t)RANGE_PAGE);
      if (rev > 0) /* every page at the first page's revision: one snapshot */
        json_object_set_new(req, "revision", json_integer(rev));
      json_t *reply = NULL;
      int r = call(es, "/v3/kv/range", req, &reply, NULL, err);
      json_decref(req);
      free(from);
      from = NULL;
      if (r < 0)
        {
          store_kvs_free(kvs, cnt);
          return -1;
        }
      if (rev == 0)
        rev = etcd_int(json_object_get(reply, "header"), "revision");
      json_t *arr = json_object_get(reply, "kvs");
      for (size_t i = 0; i < json_array_size(arr); i++)
        {
          if (cnt == cap)
            kvs = xrealloc(kvs, (cap = cap ? cap * 2 : 64) * sizeof(*kvs));
          int pr = etcd_kv_parse(json_array_get(arr, i), es->prefix, &kvs[cnt]);
          if (pr < 0)
            {
              json_decref(reply);
              store_kvs_free(kvs, cnt);
              return skiff_error(err, 0, "etcd range `%s`: malformed key or value", pfx);
            }
          cnt += pr == 0;
        }
      bool more = json_is_true(json_object_get(reply, "more"));
      json_t *last = json_array_get(arr, json_array_size(arr) - 1);
      if (more && last)
        {
          /* Next page: from just after the last key. */
          char *raw = NULL;
          size_t len = 0;
          if (etcd_b64_decode(json_string_value(json_object_get(last, "key")), &raw, &len) == 0)
            {
              raw = xrealloc(raw, len + 2);
              raw[len] = '\0';
              from = etcd_b64_encode(raw, len + 1);
            }
          free(raw);
        }
      json_decref(reply);
      if (from == NULL)
        break;
    }
  *out = kvs ? kvs : xzalloc(sizeof(*kvs));
  *n = cnt;
  if (rev_out)
    *rev_out = rev;
  if (s->notify == NULL || es->in_resync)
    es->view_rev = rev;
  return 0;
}

static int etcd_get(struct store *s, const char *key, struct store_kv *out, struct skiff_err **err)
{
  struct etcd_store *es = ES(s);
  cleanup_free char *k = etcd_key_b64(es->prefix, key);
  json_t *req = json_pack("{s:s}", "key", k);
  json_t *reply = NULL;
  int r = call(es, "/v3/kv/range", req, &reply, NULL, err);
  json_decref(req);
  if (r < 0)
    return -1;
  json_t *kv = json_array_get(json_object_get(reply, "kvs"), 0);
  int found = 0;
  if (kv)
    {
      if (etcd_kv_parse(kv, es->prefix, out) != 0)
        {
          json_decref(reply);
          return skiff_error(err, 0, "etcd get `%s`: malformed key or value", key);
        }
      found = 1;
    }
  json_decref(reply);
  return found;
}

/* ---- history: a one-shot watch over every key ---- */

struct hist_read
{
  const char *prefix, *key_prefix;
  int64_t from, head;
  size_t max, n, cap;
  struct store_event *ev;
  int64_t compact_rev;
  bool done, failed;
  char *buf;
  size_t len, bcap, scanned; /* buf[0..scanned) holds no newline */
};

static void hist_line(struct hist_read *h, const char *line, size_t len)
{
  struct etcd_watch_msg m;
  if (etcd_watch_parse(line, len, h->prefix, &m, NULL) < 0)
    {
      h->failed = h->done = true;
      return;
    }
  if (m.canceled)
    {
      h->compact_rev = m.compact_rev;
      h->failed = m.compact_rev == 0;
      h->done = true;
    }
  else if (m.created)
    {
      h->head = m.header_rev;
      /* Revision 1 is etcd's empty start: it has no event. */
      if (h->head <= h->from || h->head <= 1)
        h->done = true;
    }
  size_t kp = strlen(h->key_prefix);
  for (size_t i = 0; i < m.n && !h->done; i++)
    {
      if (strncmp(m.ev[i].kv.key, h->key_prefix, kp) != 0)
        continue;
      if (h->n == h->cap)
        h->ev = xrealloc(h->ev, (h->cap = h->cap ? h->cap * 2 : 64) * sizeof(*h->ev));
      h->ev[h->n++] = m.ev[i];
      memset(&m.ev[i], 0, sizeof(m.ev[i]));
    }
  /* A message holds whole revisions: stopping after one never cuts a revision. */
  if (!h->done && m.last_rev > 0 && (m.last_rev >= h->head || h->n >= h->max))
    h->done = true;
  etcd_watch_msg_clear(&m);
}

static size_t hist_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct hist_read *h = userdata;
  size_t n = size * nmemb;
  if (h->len + n + 1 > h->bcap)
    h->buf = xrealloc(h->buf, h->bcap = (h->len + n + 1) * 2);
  memcpy(h->buf + h->len, ptr, n);
  h->len += n;
  size_t start = 0;
  /* A message can be megabytes long: scan each byte once, not each chunk from the start. */
  for (size_t i = h->scanned; i < h->len && !h->done; i++)
    if (h->buf[i] == '\n')
      {
        if (i > start)
          hist_line(h, h->buf + start, i - start);
        start = i + 1;
      }
  memmove(h->buf, h->buf + start, h->len - start);
  h->len -= start;
  h->scanned = h->len;
  return h->done ? 0 : n;
}

static int etcd_history(struct store *s, int64_t from, const char *pfx, size_t max,
                        struct store_event **out, size_t *n, struct skiff_err **err)
{
  struct etcd_store *es = ES(s);
  *out = NULL;
  *n = 0;
  if (from < es->compacted)
    return STORE_COMPACTED;
  struct hist_read h = {.prefix = es->prefix, .key_prefix = pfx, .from = from, .max = max};
  char rev[32];
  snprintf(rev, sizeof(rev), "%lld", (long long)(from + 1));
  json_t *req = json_pack("{s:{s:s,s:s,s:s,s:b}}", "create_request", "key", "AA==", "range_end",
                          "AA==", "start_revision", rev, "prev_kv", 1);
  cleanup_free char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  CURL *curl = curl_easy_init();
  if (curl == NULL)
    abort();
  /* Members in turn, as calls do; each read is bounded. */
  for (size_t k = 0; k < etcd_http_count(es->http) && !h.done; k++)
    {
      const char *base = etcd_http_url(es->http, etcd_http_current(es->http) + k);
      cleanup_free char *url = xasprintf("%s/v3/watch", base);
      struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
      curl_easy_reset(curl);
      curl_easy_setopt(curl, CURLOPT_URL, url);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ETCD_REQUEST_TIMEOUT_MS);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, HISTORY_TIMEOUT_MS);
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, hist_write);
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &h);
      curl_easy_perform(curl); /* ends by our write callback once done */
      curl_slist_free_all(hdr);
      if (!h.done)
        {
          store_events_free(h.ev, h.n);
          h.ev = NULL;
          h.n = h.cap = h.len = 0;
        }
    }
  curl_easy_cleanup(curl);
  free(h.buf);
  if (h.compact_rev > 0)
    {
      store_events_free(h.ev, h.n);
      if (h.compact_rev - 1 > es->compacted)
        es->compacted = h.compact_rev - 1;
      return STORE_COMPACTED;
    }
  if (!h.done || h.failed)
    {
      store_events_free(h.ev, h.n);
      return store_unavailable(err, "etcd %s: history from revision %lld: no complete answer",
                               etcd_http_endpoints(es->http), (long long)from);
    }
  /* The read stopped at a message's end, maybe past max: cut at the first revision
   * boundary after max events, as every backend does. */
  size_t keep = max < h.n ? max : h.n;
  while (keep > 0 && keep < h.n && h.ev[keep].rev == h.ev[keep - 1].rev)
    keep++;
  for (size_t i = keep; i < h.n; i++)
    store_kv_clear(&h.ev[i].kv);
  *out = h.ev ? h.ev : xzalloc(sizeof(*h.ev));
  *n = keep;
  return 0;
}

/* ---- writes ---- */

/* After a retry: was the failed-compare txn our own earlier attempt?  Revision of it or 0. */
static int64_t txn_was_applied(struct etcd_store *es, const struct store_op *ops, size_t n)
{
  json_t *succ = json_array();
  for (size_t i = 0; i < n; i++)
    if (ops[i].type != STORE_CHECK)
      {
        char *k = etcd_key_b64(es->prefix, ops[i].key);
        json_array_append_new(succ, json_pack("{s:{s:s}}", "request_range", "key", k));
        free(k);
      }
  json_t *req = json_pack("{s:o}", "success", succ), *reply = NULL;
  int r = call(es, "/v3/kv/txn", req, &reply, NULL, NULL);
  json_decref(req);
  if (r < 0)
    return 0;
  int64_t at = 0;
  bool ours = true;
  json_t *resp = json_object_get(reply, "responses");
  size_t k = 0;
  for (size_t i = 0; i < n && ours; i++)
    {
      if (ops[i].type == STORE_CHECK)
        continue;
      json_t *kv = json_array_get(
          json_object_get(json_object_get(json_array_get(resp, k++), "response_range"), "kvs"), 0);
      if (ops[i].type == STORE_DELETE)
        {
          ours = kv == NULL;
          continue;
        }
      struct store_kv cur;
      if (kv == NULL || etcd_kv_parse(kv, es->prefix, &cur) != 0)
        {
          ours = false;
          continue;
        }
      ours = cur.len == ops[i].len && memcmp(cur.value, ops[i].value, cur.len) == 0
             && (at == 0 || at == cur.mod_rev);
      at = cur.mod_rev;
      store_kv_clear(&cur);
    }
  if (ours && at == 0)
    at = etcd_int(json_object_get(reply, "header"), "revision");
  json_decref(reply);
  return ours ? at : 0;
}

static int txn_with_lease(struct etcd_store *es, const struct store_op *ops, size_t n,
                          int64_t lease, int64_t *rev_out, size_t *failed, struct skiff_err **err)
{
  json_t *req = etcd_txn_request(es->prefix, ops, n, lease), *reply = NULL;
  bool retried = false, writes = false;
  int r = call(es, "/v3/kv/txn", req, &reply, &retried, err);
  json_decref(req);
  if (r < 0)
    return skiff_err_prefix(err, "txn");
  for (size_t i = 0; i < n; i++)
    writes |= ops[i].type != STORE_CHECK;
  int64_t rev = etcd_int(json_object_get(reply, "header"), "revision");
  if (!json_is_true(json_object_get(reply, "succeeded")))
    {
      int64_t at = retried && writes ? txn_was_applied(es, ops, n) : 0;
      if (at == 0)
        {
          *failed = etcd_txn_failed_op(ops, n, reply);
          json_decref(reply);
          return STORE_CONFLICT;
        }
      rev = at;
    }
  json_decref(reply);
  if (writes)
    sync_to(es, rev);
  *rev_out = writes ? rev : es->view_rev;
  return 0;
}

static int etcd_txn(struct store *s, const struct store_op *ops, size_t n, int64_t *rev_out,
                    size_t *failed, struct skiff_err **err)
{
  return txn_with_lease(ES(s), ops, n, 0, rev_out, failed, err);
}

static int etcd_put_lease(struct store *s, const struct store_op *op, int64_t lease,
                          int64_t *rev_out, struct skiff_err **err)
{
  size_t failed = 0;
  return txn_with_lease(ES(s), op, 1, lease, rev_out, &failed, err);
}

static int64_t etcd_revision(struct store *s)
{
  return ES(s)->view_rev;
}

static int64_t etcd_compacted(struct store *s)
{
  return ES(s)->compacted;
}

static int etcd_compact(struct store *s, int64_t rev, struct skiff_err **err)
{
  struct etcd_store *es = ES(s);
  if (rev <= es->compacted)
    return 0;
  /* etcd's compaction at R keeps the events of R; skiff's at rev drops those of rev. */
  for (int64_t target = rev + 1; target >= rev; target--)
    {
      char buf[32];
      snprintf(buf, sizeof(buf), "%lld", (long long)target);
      json_t *req = json_pack("{s:s}", "revision", buf), *reply = NULL;
      cleanup_err struct skiff_err *e = NULL;
      int r = call(es, "/v3/kv/compaction", req, &reply, NULL, &e);
      json_decref(req);
      json_decref(reply);
      if (r == 0 || (r == -11 && strstr(e->msg, "compacted")))
        {
          if (target - 1 > es->compacted)
            es->compacted = target - 1;
          return 0;
        }
      if (r != -11 || target == rev) /* -11 "future revision": one lower */
        {
          if (err && *err == NULL)
            {
              *err = e;
              e = NULL;
            }
          return -1;
        }
    }
  return 0;
}

/* ---- leases ---- */

static int etcd_lease_grant(struct store *s, int ttl, int64_t *id, struct skiff_err **err)
{
  char buf[16];
  snprintf(buf, sizeof(buf), "%d", ttl);
  json_t *req = json_pack("{s:s}", "TTL", buf), *reply = NULL;
  int r = call(ES(s), "/v3/lease/grant", req, &reply, NULL, err);
  json_decref(req);
  if (r < 0)
    return -1;
  *id = etcd_int(reply, "ID");
  json_decref(reply);
  return *id != 0 ? 0 : skiff_error(err, 0, "etcd lease grant: no lease ID in the answer");
}

static int etcd_lease_keepalive(struct store *s, int64_t id, struct skiff_err **err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%lld", (long long)id);
  json_t *req = json_pack("{s:s}", "ID", buf), *reply = NULL;
  int r = call(ES(s), "/v3/lease/keepalive", req, &reply, NULL, err);
  json_decref(req);
  if (r < 0)
    return -1;
  /* An expired lease's answer has no TTL (zero values are left out). */
  int64_t ttl = etcd_int(json_object_get(reply, "result"), "TTL");
  json_decref(reply);
  return ttl > 0 ? 0 : STORE_EXPIRED;
}

static int etcd_lease_keep(struct store *s, int64_t id, int ttl, struct skiff_err **err)
{
  struct etcd_store *es = ES(s);
  etcd_keeper_stop(es->keeper);
  es->keeper = etcd_keeper_start(etcd_http_endpoints(es->http), id, ttl);
  return es->keeper ? 0 : skiff_error(err, 0, "etcd lease keeper: cannot start");
}

static int etcd_lease_status(struct store *s, int64_t id, double *renewed_sent)
{
  struct etcd_store *es = ES(s);
  if (es->keeper == NULL || etcd_keeper_id(es->keeper) != id)
    return -1;
  return etcd_keeper_status(es->keeper, renewed_sent);
}

static int etcd_lease_revoke(struct store *s, int64_t id, struct skiff_err **err)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%lld", (long long)id);
  struct etcd_store *es = ES(s);
  if (es->keeper && etcd_keeper_id(es->keeper) == id)
    {
      etcd_keeper_stop(es->keeper);
      es->keeper = NULL;
    }
  json_t *req = json_pack("{s:s}", "ID", buf), *reply = NULL;
  int code = 0;
  int r = etcd_http_call(ES(s)->http, "/v3/lease/revoke", req, true, &reply, &code, NULL, err);
  json_decref(req);
  json_decref(reply);
  if (r == 1 && code != 5) /* 5: not found, already gone */
    return skiff_error(err, 0, "etcd lease revoke: code %d", code);
  return r < 0 ? -1 : 0;
}

static void etcd_close(struct store *s)
{
  struct etcd_store *es = ES(s);
  etcd_keeper_stop(es->keeper);
  etcd_watch_stop(es->watch);
  etcd_http_free(es->http);
  free(es->prefix);
  free(es);
}

/* Where etcd's history starts: the lowest revision a read at it still works (etcd says only
 * "compacted", not up to where), found by bisection with count-only reads.  Skiff's mark is
 * the revision below it. */
static int64_t probe_compacted(struct etcd_store *es)
{
  cleanup_free char *key = etcd_key_b64(es->prefix, "/");
  int64_t lo = 1, hi = es->view_rev; /* the answer lies in [lo, hi] */
  while (lo < hi)
    {
      int64_t mid = lo + (hi - lo) / 2;
      json_t *req
          = json_pack("{s:s,s:b,s:I}", "key", key, "count_only", 1, "revision", (json_int_t)mid);
      json_t *reply = NULL;
      cleanup_err struct skiff_err *err = NULL;
      int r = call(es, "/v3/kv/range", req, &reply, NULL, &err);
      json_decref(req);
      json_decref(reply);
      if (r == 0)
        hi = mid;
      else if (r == -11)
        lo = mid + 1;
      else
        return 0; /* unknown: history reads learn it when they meet it */
    }
  return lo - 1;
}

static const struct store_ops etcd_ops = {
    .name = "etcd",
    .get = etcd_get,
    .range = etcd_range,
    .txn = etcd_txn,
    .history = etcd_history,
    .revision = etcd_revision,
    .compacted = etcd_compacted,
    .compact = etcd_compact,
    .poll_fd = etcd_poll_fd,
    .poll = etcd_poll,
    .put_lease = etcd_put_lease,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .lease_keep = etcd_lease_keep,
    .lease_status = etcd_lease_status,
    .close = etcd_close,
};

int store_etcd_open(const char *endpoints, const char *prefix, struct store **out,
                    struct skiff_err **err)
{
  if (prefix == NULL || *prefix == '\0' || strcmp(prefix, "/") == 0)
    return skiff_error(err, 0, "--etcd-prefix `%s`: expected a prefix such as /skiff/",
                       prefix ? prefix : "");
  struct etcd_store *es = xzalloc(sizeof(*es));
  es->base.ops = &etcd_ops;
  size_t plen = strlen(prefix);
  es->prefix = prefix[plen - 1] == '/' ? xstrdup(prefix) : xasprintf("%s/", prefix);
  if (etcd_http_new(endpoints, &es->http, err) < 0)
    {
      free(es->prefix);
      free(es);
      return -1;
    }
  /* First contact: the revision the view starts at. */
  cleanup_free char *key = etcd_key_b64(es->prefix, "/");
  cleanup_free char *end = etcd_range_end_b64(es->prefix, "/");
  json_t *req = json_pack("{s:s,s:s,s:b}", "key", key, "range_end", end, "count_only", 1);
  json_t *reply = NULL;
  int code = 0;
  int r = etcd_http_call(es->http, "/v3/kv/range", req, false, &reply, &code, NULL, err);
  json_decref(req);
  if (r != 0)
    {
      if (r == 1)
        skiff_error(err, 0, "etcd %s: %s", etcd_http_endpoints(es->http),
                    json_string_value(json_object_get(reply, "message")));
      json_decref(reply);
      etcd_http_free(es->http);
      free(es->prefix);
      free(es);
      return -1;
    }
  es->view_rev = etcd_int(json_object_get(reply, "header"), "revision");
  json_decref(reply);
  es->watch = etcd_watch_start(es->http, es->prefix, es->view_rev + 1);
  es->compacted = probe_compacted(es);
  *out = &es->base;
  return 0;
}
