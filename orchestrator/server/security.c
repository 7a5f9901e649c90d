/* security.c - the server's trust at start: CA and certificate, credential table, the admin
 * credential and the first join token (see security.h). */
#include "security.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "model.h"
#include "trust.h"

bool security_listen_is_loopback(const char *listen)
{
  cleanup_free char *host = xstrdup(listen ? listen : "");
  char *colon = strrchr(host, ':');
  if (colon)
    *colon = '\0';
  if (strcmp(host, "localhost") == 0)
    return true;
  struct in_addr a;
  return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* A credential of DATA's file that the store knows as an admin one. */
static bool admin_file_valid(struct store *store, const char *path)
{
  cleanup_free char *text = NULL;
  if (skiff_read_file(path, &text, NULL, NULL) < 0)
    return false;
  text[strcspn(text, "\r\n")] = '\0';
  char id[TRUST_ID_LEN + 1];
  const char *secret = NULL;
  if (!trust_credential_parse(text, id, &secret))
    return false; /* also a token of the single-token days: replaced */
  cleanup_free char *key = xasprintf("%s%s", AUTH_STORE_PREFIX, id);
  struct store_kv kv = {0};
  if (store_get(store, key, &kv, NULL) != 1)
    return false;
  json_t *rec = json_loadb(kv.value, kv.len, 0, NULL);
  store_kv_clear(&kv);
  char hash[65];
  trust_secret_hash(secret, hash);
  bool ok = rec && strcmp(model_str(rec, "kind", ""), "admin") == 0
            && trust_equal(hash, model_str(rec, "hash", ""));
  json_decref(rec);
  return ok;
}

/* Store a new credential and write it (or its join token) to path, 0600. */
static int issue_to_file(struct security *s, struct store *store, enum auth_kind kind,
                         time_t expires_at, const char *desc, const char *path,
                         struct skiff_err **err)
{
  cleanup_free char *cred = trust_new_credential();
  char id[TRUST_ID_LEN + 1];
  const char *secret = NULL;
  trust_credential_parse(cred, id, &secret);
  cleanup_free char *key = xasprintf("%s%s", AUTH_STORE_PREFIX, id);
  cleanup_free char *rec = auth_record(id, kind, NULL, secret, time(NULL), expires_at, desc);
  int r = store_put(store, key, rec, STORE_ABSENT, NULL, err);
  if (r != 0)
    return r < 0 ? -1 : skiff_error(err, 0, "store: credential id `%s` taken, start again", id);
  cleanup_free char *join = kind == AUTH_JOIN ? trust_join_format(s->pki.ca_hash, cred) : NULL;
  cleanup_free char *line = xasprintf("%s\n", join ? join : cred);
  return skiff_write_file_atomic(path, line, strlen(line), 0600, err);
}

int security_open(struct security *s, struct store *store, const char *data_dir, const char *listen,
                  const char *tls_san, struct skiff_err **err)
{
  memset(s, 0, sizeof(*s));
  auth_init(&s->auth);
  s->data_dir = xstrdup(data_dir);
  cleanup_free char *host = xstrdup(listen);
  char *colon = strrchr(host, ':');
  if (colon)
    *colon = '\0';
  char **sans = pki_sans(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, tls_san);
  int r = pki_load(store, data_dir, sans, &s->pki, err);
  pki_sans_free(sans);
  if (r < 0)
    return -1;
  s->first_start = s->pki.created_ca;
  /* the store holds the CA key and the credential hashes: only root reads the data dir */
  static const char *const own[] = {"", "/store.db", "/store.db-wal", "/store.db-shm"};
  for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
    {
      cleanup_free char *p = xasprintf("%s%s", data_dir, own[i]);
      if (chmod(p, i == 0 ? 0700 : 0600) < 0 && errno != ENOENT)
        return skiff_error(err, errno, "chmod `%s`", p);
    }
  cleanup_free char *admin = xasprintf("%s/token", data_dir);
  if (!admin_file_valid(store, admin)
      && issue_to_file(s, store, AUTH_ADMIN, 0, "admin credential of the server's data dir", admin,
                       err)
             < 0)
    return -1;
  if (s->first_start)
    {
      cleanup_free char *join = xasprintf("%s/join-token", data_dir);
      if (issue_to_file(s, store, AUTH_JOIN, time(NULL) + AUTH_JOIN_TTL_DEFAULT,
                        "made at the cluster's first start", join, err)
          < 0)
        return -1;
      s->join_token_made = true;
    }
  return auth_load(&s->auth, store, err);
}

void security_close(struct security *s)
{
  pki_free(&s->pki);
  auth_free(&s->auth);
  free(s->data_dir);
  s->data_dir = NULL;
}

void security_store_event(void *data, const struct store_event *ev)
{
  struct security *s = data;
  auth_apply(&s->auth, ev);
}

void security_relist(struct security *s, struct store *store)
{
  struct auth fresh;
  auth_init(&fresh);
  cleanup_err struct skiff_err *err = NULL;
  if (auth_load(&fresh, store, &err) < 0)
    {
      fprintf(stderr, "skiffd: relist credentials: %s\n", err->msg);
      auth_free(&fresh);
      return;
    }
  auth_free(&s->auth);
  s->auth = fresh;
}

void security_sweep(struct security *s, struct cluster *cl, time_t now)
{
  const char *id;
  json_t *rec;
  json_t *expired = json_array();
  json_object_foreach(s->auth.tokens, id, rec)
  {
    json_int_t exp = json_integer_value(json_object_get(rec, "expiresAt"));
    if (strcmp(model_str(rec, "kind", ""), "join") == 0 && exp > 0 && now >= exp)
      json_array_append_new(expired, json_string(id));
  }
  size_t i;
  json_t *v;
  json_array_foreach(expired, i, v)
  {
    /* one at a time: another server may sweep the same token (a conflict is harmless) */
    cleanup_free char *key = xasprintf("%s%s", AUTH_STORE_PREFIX, json_string_value(v));
    struct store_op op = {.type = STORE_DELETE, .key = key, .expect_rev = STORE_ANY_REV};
    cleanup_err struct skiff_err *err = NULL;
    if (store_txn(cl->store, &op, 1, NULL, NULL, &err) < 0)
      fprintf(stderr, "skiffd: sweep expired join tokens: %s\n", err->msg);
  }
  json_decref(expired);
}

void security_announce(const struct security *s, const char *url, FILE *f)
{
  fprintf(f, "skiffd: CA %s (%s/ca.crt); admin credential in %s/token\n", s->pki.ca_hash,
          s->data_dir, s->data_dir);
  if (!s->join_token_made)
    return;
  fprintf(f,
          "skiffd: join a node: copy %s/join-token to it (valid 24 h; more with `skiffctl "
          "token create`), then run: skiffd agent --server %s --join-token-file FILE\n",
          s->data_dir, url);
  /* An operator at a terminal gets the one line itself; a log (a file, a journal) never
   * holds a secret. */
  cleanup_free char *path = xasprintf("%s/join-token", s->data_dir);
  cleanup_free char *token = NULL;
  if (isatty(fileno(f)) && skiff_read_file(path, &token, NULL, NULL) == 0)
    fprintf(f, "skiffd: join token (on the node: skiffd agent --server %s --join-token-file F): %s",
            url, token);
}
