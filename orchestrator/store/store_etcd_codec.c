/* store_etcd_codec.c - pure translation between skiff's store and etcd's v3 JSON gateway:
 * base64 (keys, values and range ends travel as base64), int64 fields (sent as strings,
 * left out when zero), the key mapping under the prefix, txn requests with their compares,
 * and the parsing of kvs, txn replies and watch lines.  No I/O: tests/unit drives it. */
#include <errno.h>
#include <string.h>
#include "store_etcd.h"

static const char b64_alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
  const unsigned char *p = data;
  char *out = xmalloc(4 * ((len + 2) / 3) + 1), *o = out;
  size_t i = 0;
  for (; i + 2 < len; i += 3)
    {
      unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
      *o++ = b64_alphabet[v >> 18];
      *o++ = b64_alphabet[(v >> 12) & 63];
      *o++ = b64_alphabet[(v >> 6) & 63];
      *o++ = b64_alphabet[v & 63];
    }
  if (i < len)
    {
      unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
      *o++ = b64_alphabet[v >> 18];
      *o++ = b64_alphabet[(v >> 12) & 63];
      *o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
      *o++ = '=';
    }
  *o = '\0';
  return out;
}

static int b64_value(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

int etcd_b64_decode(const char *s, char **out, size_t *len)
{
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '=')
    n--;
  if (n % 4 == 1)
    return -1;
  char *buf = xmalloc(n / 4 * 3 + 3), *o = buf;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++)
    {
      int v = b64_value((unsigned char)s[i]);
      if (v < 0)
        {
          free(buf);
          return -1;
        }
      acc = (acc << 6) | (unsigned)v;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          *o++ = (char)((acc >> bits) & 0xff);
        }
    }
  *o = '\0';
  *out = buf;
  *len = (size_t)(o - buf);
  return 0;
}

int64_t etcd_int(json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  if (json_is_integer(v))
    return json_integer_value(v);
  if (!json_is_string(v))
    return 0;
  const char *s = json_string_value(v);
  char *end = NULL;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || end == s || *end)
    return 0;
  return x;
}

static char *etcd_key_raw(const char *prefix, const char *key)
{
  return xasprintf("%s%s", prefix, key[0] == '/' ? key + 1 : key);
}

char *etcd_key_b64(const char *prefix, const char *key)
{
  cleanup_free char *raw = etcd_key_raw(prefix, key);
  return etcd_b64_encode(raw, strlen(raw));
}

char *etcd_range_end_b64(const char *prefix, const char *key_prefix)
{
  cleanup_free char *raw = etcd_key_raw(prefix, key_prefix);
  cleanup_free char *end = store_prefix_end(raw);
  /* "\0" as range_end means "every key >= key" in etcd. */
  return end ? etcd_b64_encode(end, strlen(end)) : xstrdup("AA==");
}

char *etcd_skiff_key(const char *prefix, const char *ekey, size_t len)
{
  size_t plen = strlen(prefix);
  if (len < plen || memcmp(ekey, prefix, plen) != 0 || memchr(ekey, '\0', len))
    return NULL;
  return xasprintf("/%.*s", (int)(len - plen), ekey + plen);
}

int etcd_kv_parse(json_t *kv, const char *prefix, struct store_kv *out)
{
  memset(out, 0, sizeof(*out));
  const char *k = json_string_value(json_object_get(kv, "key"));
  cleanup_free char *raw = NULL;
  size_t klen = 0;
  if (k == NULL || etcd_b64_decode(k, &raw, &klen) < 0)
    return -1;
  out->key = etcd_skiff_key(prefix, raw, klen);
  if (out->key == NULL)
    return 1;
  const char *v = json_string_value(json_object_get(kv, "value"));
  if (v == NULL)
    v = ""; /* an empty value is left out */
  if (etcd_b64_decode(v, &out->value, &out->len) < 0)
    {
      store_kv_clear(out);
      return -1;
    }
  out->create_rev = etcd_int(kv, "create_revision");
  out->mod_rev = etcd_int(kv, "mod_revision");
  return 0;
}

static json_t *key_json(const char *prefix, const char *key)
{
  char *b = etcd_key_b64(prefix, key);
  json_t *j = json_string(b);
  free(b);
  return j;
}

static json_t *int_json(int64_t v)
{
  char buf[32];
  snprintf(buf, sizeof(buf), "%lld", (long long)v);
  return json_string(buf);
}

/* The compare an op needs, or NULL (an unconditional put). */
static json_t *op_compare(const char *prefix, const struct store_op *op)
{
  const char *target, *result, *field;
  int64_t value;
  if (op->expect_rev == STORE_ABSENT)
    target = "CREATE", result = "EQUAL", field = "create_revision", value = 0;
  else if (op->expect_rev > 0)
    target = "MOD", result = "EQUAL", field = "mod_revision", value = op->expect_rev;
  else if (op->type != STORE_PUT) /* a delete or a check needs the key to exist */
    target = "CREATE", result = "GREATER", field = "create_revision", value = 0;
  else
    return NULL;
  json_t *c = json_pack("{s:o,s:s,s:s}", "key", key_json(prefix, op->key), "target", target,
                        "result", result);
  json_object_set_new(c, field, int_json(value));
  return c;
}

json_t *etcd_txn_request(const char *prefix, const struct store_op *ops, size_t n, int64_t lease)
{
  json_t *cmp = json_array(), *succ = json_array(), *fail = json_array();
  for (size_t i = 0; i < n; i++)
    {
      json_t *c = op_compare(prefix, &ops[i]);
      if (c)
        json_array_append_new(cmp, c);
      if (ops[i].type == STORE_PUT)
        {
          char *v = etcd_b64_encode(ops[i].value, ops[i].len);
          json_t *put = json_pack("{s:o,s:s}", "key", key_json(prefix, ops[i].key), "value", v);
          free(v);
          if (lease)
            json_object_set_new(put, "lease", int_json(lease));
          json_array_append_new(succ, json_pack("{s:o}", "request_put", put));
        }
      else if (ops[i].type == STORE_DELETE)
        json_array_append_new(succ, json_pack("{s:{s:o}}", "request_delete_range", "key",
                                              key_json(prefix, ops[i].key)));
      if (c)
        json_array_append_new(fail, json_pack("{s:{s:o,s:b}}", "request_range", "key",
                                              key_json(prefix, ops[i].key), "keys_only", 1));
    }
  return json_pack("{s:o,s:o,s:o}", "compare", cmp, "success", succ, "failure", fail);
}

size_t etcd_txn_failed_op(const struct store_op *ops, size_t n, json_t *reply)
{
  json_t *resp = json_object_get(reply, "responses");
  size_t k = 0; /* the failure branch has one range per op with a compare, in op order */
  for (size_t i = 0; i < n; i++)
    {
      if (ops[i].expect_rev == STORE_ANY_REV && ops[i].type == STORE_PUT)
        continue;
      json_t *kvs
          = json_object_get(json_object_get(json_array_get(resp, k++), "response_range"), "kvs");
      json_t *kv = json_array_get(kvs, 0);
      int64_t create = kv ? etcd_int(kv, "create_revision") : 0;
      int64_t mod = kv ? etcd_int(kv, "mod_revision") : 0;
      bool ok = ops[i].expect_rev == STORE_ABSENT ? create == 0
                : ops[i].expect_rev > 0           ? mod == ops[i].expect_rev
                                                  : create > 0;
      if (!ok)
        return i;
    }
  return 0; /* the state moved on again since the txn: blame the first op */
}

void etcd_watch_msg_clear(struct etcd_watch_msg *m)
{
  store_events_free(m->ev, m->n);
  free(m->cancel_reason);
  memset(m, 0, sizeof(*m));
}

int etcd_watch_parse(const char *line, size_t len, const char *prefix, struct etcd_watch_msg *out,
                     struct skiff_err **err)
{
  memset(out, 0, sizeof(*out));
  json_error_t jerr;
  json_t *doc = json_loadb(line, len, 0, &jerr);
  if (doc == NULL)
    return skiff_error(err, 0, "etcd watch: malformed line: %s", jerr.text);
  json_t *res = json_object_get(doc, "result");
  if (res == NULL)
    {
      json_t *e = json_object_get(doc, "error");
      const char *msg = json_string_value(json_object_get(e, "message"));
      if (msg == NULL)
        msg = json_string_value(e);
      skiff_error(err, 0, "etcd watch: %s", msg ? msg : "answer without a result");
      json_decref(doc);
      return -1;
    }
  out->header_rev = etcd_int(json_object_get(res, "header"), "revision");
  out->created = json_is_true(json_object_get(res, "created"));
  out->canceled = json_is_true(json_object_get(res, "canceled"));
  out->compact_rev = etcd_int(res, "compact_revision");
  const char *reason = json_string_value(json_object_get(res, "cancel_reason"));
  if (reason)
    out->cancel_reason = xstrdup(reason);
  json_t *evs = json_object_get(res, "events");
  size_t nev = json_array_size(evs);
  out->ev = xzalloc((nev ? nev : 1) * sizeof(*out->ev));
  for (size_t i = 0; i < nev; i++)
    {
      json_t *e = json_array_get(evs, i);
      json_t *kv = json_object_get(e, "kv");
      bool del = json_is_string(json_object_get(e, "type"))
                 && strcmp(json_string_value(json_object_get(e, "type")), "DELETE") == 0;
      int64_t rev = etcd_int(kv, "mod_revision");
      out->last_rev = rev;
      struct store_event *ev = &out->ev[out->n];
      /* A delete's kv has only key and revision: the value is in prev_kv. */
      int r = etcd_kv_parse(del ? json_object_get(e, "prev_kv") : kv, prefix, &ev->kv);
      if (del && r == -1 && json_object_get(e, "prev_kv") == NULL)
        r = etcd_kv_parse(kv, prefix, &ev->kv); /* no prev_kv: the key alone */
      if (r == 1)
        continue;
      if (r < 0)
        {
          json_decref(doc);
          etcd_watch_msg_clear(out);
          return skiff_error(err, 0, "etcd watch: malformed event at revision %lld",
                             (long long)rev);
        }
      ev->type = del ? STORE_DELETE : STORE_PUT;
      ev->rev = rev;
      ev->kv.mod_rev = rev;
      out->n++;
    }
  json_decref(doc);
  return 0;
}
