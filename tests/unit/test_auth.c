/* test_auth.c - the cluster's trust, pure parts and the CA on a real store: join tokens and
 * credentials (trust.c), the CA hash (checked against the kubeadm recipe: openssl x509
 * -pubkey | openssl pkey -pubin -outform der | sha256sum), certificates (pki.c) and the CA
 * shared through the store, authentication and the node restrictions (auth.c), the body caps,
 * --insecure-http's loopback rule, and skiffctl's token command line. */
#include "check.h"
#include "auth.h"
#include "credentials.h"
#include "ctl.h"
#include "pki.h"
#include "security.h"
#include "store.h"
#include "trust.h"

#include <sys/stat.h>
#include <gnutls/x509.h>

/* A CA made by pki.c at a first start; its hash by openssl (the recipe above). */
static const char known_ca[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBZjCCAQygAwIBAgIQV4stY+p8Wsw80fzeycWPHTAKBggqhkjOPQQDAjATMREw\n"
                               "DwYDVQQDEwhza2lmZi1jYTAeFw0yNjEyMDYxMTIwNTNaFw0zNjEyMDMxMjIwNTNa\n"
                               "MBMxETAPBgNVBAMTCHNraWZmLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
                               "NQqysIvZH+zgwlJfDTy4pmksL+001bsrESjsErYIqM+w7PbSjdQORAHOvqynUISk\n"
                               "MhI5b5B1Klp0rENfi6p4b6NCMEAwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8E\n"
                               "BAMCAQYwHQYDVR0OBBYEFEcRmbaS0hjilD7sNbHyxyFz6DzCMAoGCCqGSM49BAMC\n"
                               "A0gAMEUCIGD+EKHiyZAC37h7RRn2Std7ySoISBPw0ZqC+oFZLElrAiEA4rIz/Nvf\n"
                               "n/9nCUngngaIVP2iL77gqYQlLLJ9lGQFhjQ=\n"
                               "-----END CERTIFICATE-----\n";
static const char known_hash[]
    = "sha256:3f6c654ce006bef8e4b0f0f433c58ae498207378e1e8983fb3c1270350927645";

static void test_credentials_and_join_tokens(void)
{
  char id[TRUST_ID_LEN + 1], hash[72];
  const char *secret = NULL, *cred = NULL;
  struct skiff_err *err = NULL;
  CHECK(trust_credential_parse("abc123.0123456789abcdefghijklmnopqrstuv", id, &secret));
  CHECK_STR_EQ(id, "abc123");
  CHECK_STR_EQ(secret, "0123456789abcdefghijklmnopqrstuv");
  const char *bad[] = {"",
                       "abc123",
                       "abc123.",
                       "ABC123.0123456789abcdefghijklmnopqrstuv",
                       "abc12.0123456789abcdefghijklmnopqrstuvw",
                       "abc123.0123456789abcdefghijklmnopqrstu",
                       "abc123:0123456789abcdefghijklmnopqrstuv",
                       "64e8a1f0c3b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK(!trust_credential_parse(bad[i], id, &secret));
  char *c = trust_new_credential();
  CHECK(trust_credential_parse(c, id, &secret));
  char *d = trust_new_credential();
  CHECK(strcmp(c, d) != 0);
  char *join = trust_join_format(known_hash, c);
  CHECK(strncmp(join, "SKIFF1::sha256:3f6c654c", 23) == 0);
  CHECK(trust_join_parse(join, hash, &cred, &err) == 0);
  CHECK_STR_EQ(hash, known_hash);
  CHECK_STR_EQ(cred, c);
  CHECK(trust_join_parse(c, hash, &cred, &err) < 0);
  CHECK_CONTAINS(err->msg, "join token: expected");
  skiff_err_free(&err);
  CHECK(trust_join_parse("SKIFF1::sha256:3F6C::abc123.0123456789abcdefghijklmnopqrstuv", hash,
                         &cred, &err)
        < 0);
  CHECK_CONTAINS(err->msg, "CA hash");
  skiff_err_free(&err);
  char *half = xasprintf("SKIFF1::sha256:%s::abc.def", known_hash + 7);
  CHECK(trust_join_parse(half, hash, &cred, &err) < 0);
  CHECK_CONTAINS(err->msg, "credential");
  skiff_err_free(&err);
  char sh[65];
  trust_secret_hash("abc", sh);
  CHECK_STR_EQ(sh, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(trust_equal("abc", "abc") && !trust_equal("abc", "abd") && !trust_equal("abc", "ab"));
  free(half);
  free(join);
  free(c);
  free(d);
}

static void test_ca_hash_is_kubeadms(void)
{
  char h[72];
  struct skiff_err *err = NULL;
  CHECK(trust_ca_hash(known_ca, h, &err) == 0);
  CHECK_STR_EQ(h, known_hash);
  CHECK(
      trust_ca_hash("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", h, &err)
      < 0);
  CHECK_CONTAINS(err->msg, "CA certificate");
  skiff_err_free(&err);
}

/* The serving certificate chains to the CA, for the names asked. */
static void test_certificates(void)
{
  struct skiff_err *err = NULL;
  char *ca = NULL, *cak = NULL, *crt = NULL, *key = NULL;
  char *names[] = {(char *)"10.1.2.3", (char *)"localhost", (char *)"skiff.example", NULL};
  CHECK(pki_issue(NULL, NULL, NULL, 3650, true, &ca, &cak, &err) == 0);
  CHECK(pki_issue(ca, cak, names, 365, false, &crt, &key, &err) == 0);
  gnutls_x509_crt_t c = NULL, a = NULL;
  gnutls_datum_t dc = {(unsigned char *)crt, (unsigned)strlen(crt)};
  gnutls_datum_t da = {(unsigned char *)ca, (unsigned)strlen(ca)};
  unsigned status = 1;
  CHECK(gnutls_x509_crt_init(&c) >= 0 && gnutls_x509_crt_import(c, &dc, GNUTLS_X509_FMT_PEM) >= 0);
  CHECK(gnutls_x509_crt_init(&a) >= 0 && gnutls_x509_crt_import(a, &da, GNUTLS_X509_FMT_PEM) >= 0);
  CHECK(gnutls_x509_crt_verify(c, &a, 1, 0, &status) >= 0 && status == 0);
  CHECK(gnutls_x509_crt_check_hostname(c, "10.1.2.3"));
  CHECK(gnutls_x509_crt_check_hostname(c, "skiff.example"));
  CHECK(!gnutls_x509_crt_check_hostname(c, "10.1.2.4"));
  /* a certificate of another CA does not verify */
  char *ca2 = NULL, *ca2k = NULL;
  CHECK(pki_issue(NULL, NULL, NULL, 3650, true, &ca2, &ca2k, &err) == 0);
  gnutls_x509_crt_t b = NULL;
  gnutls_datum_t db = {(unsigned char *)ca2, (unsigned)strlen(ca2)};
  CHECK(gnutls_x509_crt_init(&b) >= 0 && gnutls_x509_crt_import(b, &db, GNUTLS_X509_FMT_PEM) >= 0);
  status = 0;
  CHECK(gnutls_x509_crt_verify(c, &b, 1, 0, &status) >= 0 && status != 0);
  gnutls_x509_crt_deinit(a);
  gnutls_x509_crt_deinit(b);
  gnutls_x509_crt_deinit(c);
  char **sans = pki_sans("0.0.0.0", "a.example,10.9.9.9");
  bool lo = false, extra = false, ip = false;
  for (size_t i = 0; sans[i]; i++)
    {
      lo |= strcmp(sans[i], "127.0.0.1") == 0;
      extra |= strcmp(sans[i], "a.example") == 0;
      ip |= strcmp(sans[i], "10.9.9.9") == 0;
    }
  CHECK(lo && extra && ip);
  pki_sans_free(sans);
  free(ca);
  free(cak);
  free(ca2);
  free(ca2k);
  free(crt);
  free(key);
}

/* Two servers on one store serve under one CA; a CA already in DATA is adopted by an empty
 * store; keys are 0600. */
static void test_ca_shared_through_the_store(void)
{
  char tmp[] = "/tmp/skiff-auth-XXXXXX";
  CHECK(mkdtemp(tmp) != NULL);
  struct skiff_err *err = NULL;
  struct store *s = NULL;
  cleanup_free char *sdir = xasprintf("%s/store", tmp), *d1 = xasprintf("%s/one", tmp);
  cleanup_free char *d2 = xasprintf("%s/two", tmp), *d3 = xasprintf("%s/three", tmp);
  CHECK(store_sqlite_open(sdir, &s, &err) == 0);
  CHECK(skiff_mkdir_p(d1, 0700, &err) == 0 && skiff_mkdir_p(d2, 0700, &err) == 0);
  char *names[] = {(char *)"127.0.0.1", NULL};
  struct pki one, two;
  CHECK(pki_load(s, d1, names, &one, &err) == 0);
  CHECK(one.created_ca);
  CHECK(pki_load(s, d2, names, &two, &err) == 0);
  CHECK(!two.created_ca);
  CHECK_STR_EQ(one.ca_hash, two.ca_hash);
  CHECK(strcmp(one.cert, two.cert) != 0); /* each its own serving certificate */
  struct stat st;
  cleanup_free char *key = xasprintf("%s/ca.key", d2), *skey = xasprintf("%s/server.key", d2);
  CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
  CHECK(stat(skey, &st) == 0 && (st.st_mode & 0777) == 0600);
  store_close(s);
  s = NULL;
  /* a new, empty store; DATA holds a CA: it becomes the cluster's */
  cleanup_free char *sdir2 = xasprintf("%s/store2", tmp);
  CHECK(store_sqlite_open(sdir2, &s, &err) == 0);
  struct pki three;
  CHECK(pki_load(s, d1, names, &three, &err) == 0);
  CHECK(!three.created_ca);
  CHECK_STR_EQ(three.ca_hash, one.ca_hash);
  CHECK(err == NULL);
  store_close(s);
  pki_free(&one);
  pki_free(&two);
  pki_free(&three);
  (void)d3;
  skiff_rm_rf(tmp, NULL);
}

static void put(struct auth *a, const char *id, enum auth_kind kind, const char *node,
                const char *secret, time_t exp)
{
  char *rec = auth_record(id, kind, node, secret, 1000, exp, "test");
  char *key = xasprintf("%s%s", AUTH_STORE_PREFIX, id);
  struct store_event ev = {.type = STORE_PUT, .rev = 1, .kv = {key, rec, strlen(rec), 1, 1}};
  auth_apply(a, &ev);
  free(rec);
  free(key);
}

static void test_authenticate(void)
{
  struct auth a;
  auth_init(&a);
  const char *S = "0123456789abcdefghijklmnopqrstuv";
  put(&a, "admin1", AUTH_ADMIN, NULL, S, 0);
  put(&a, "node01", AUTH_NODE, "n1", S, 0);
  put(&a, "join01", AUTH_JOIN, NULL, S, 5000);
  CHECK(a.node_creds == 1);
  /* what a server presents to n1's agent: a fresh secret, only n1's record has one */
  const char *st = auth_server_token(&a, "n1");
  char sid[TRUST_ID_LEN + 1];
  CHECK(st && trust_credential_parse(st, sid, NULL));
  CHECK(auth_server_token(&a, "n2") == NULL);
  struct agent_credentials ac = {.n = 1};
  char *nodes[] = {(char *)"n1"}, *toks[] = {(char *)"x"}, *calls[] = {(char *)st};
  ac.nodes = nodes;
  ac.tokens = toks;
  ac.server_tokens = calls;
  char *bearer = xasprintf("Bearer %s", st);
  CHECK(agent_credentials_server_call(&ac, "n1", bearer));
  CHECK(
      !agent_credentials_server_call(&ac, "n1", "Bearer abcdef.0123456789abcdefghijklmnopqrstuv"));
  CHECK(!agent_credentials_server_call(&ac, "n1", NULL));
  free(bearer);
  struct auth_identity who;
  const char *why = NULL;
  char hdr[128];
  snprintf(hdr, sizeof(hdr), "Bearer admin1.%s", S);
  CHECK(auth_authenticate(&a, hdr, 2000, &who, &why) == 0 && who.kind == AUTH_ADMIN);
  snprintf(hdr, sizeof(hdr), "Bearer node01.%s", S);
  CHECK(auth_authenticate(&a, hdr, 2000, &who, &why) == 0 && who.kind == AUTH_NODE);
  CHECK_STR_EQ(who.node, "n1");
  snprintf(hdr, sizeof(hdr), "Bearer join01.%s", S);
  CHECK(auth_authenticate(&a, hdr, 4999, &who, &why) == 0 && who.kind == AUTH_JOIN);
  CHECK(auth_authenticate(&a, hdr, 5000, &who, &why) == 401);
  CHECK_STR_EQ(why, "credential expired");
  snprintf(hdr, sizeof(hdr), "Bearer admin1.%.31sw", S);
  CHECK(auth_authenticate(&a, hdr, 2000, &who, &why) == 401);
  CHECK_STR_EQ(why, "unknown or revoked credential");
  CHECK(auth_authenticate(&a, NULL, 2000, &who, &why) == 401);
  CHECK_STR_EQ(why, "missing bearer credential");
  CHECK(auth_authenticate(&a, "Bearer 0123", 2000, &who, &why) == 401);
  CHECK_CONTAINS(why, "malformed");
  CHECK(who.kind == AUTH_NONE);
  /* revoked: the delete event from the store */
  char *key = xasprintf("%snode01", AUTH_STORE_PREFIX);
  struct store_event del = {.type = STORE_DELETE, .rev = 2, .kv = {key, NULL, 0, 1, 1}};
  auth_apply(&a, &del);
  free(key);
  snprintf(hdr, sizeof(hdr), "Bearer node01.%s", S);
  CHECK(auth_authenticate(&a, hdr, 2000, &who, &why) == 401);
  CHECK(a.node_creds == 0);
  auth_free(&a);
}

static const char *bound(void *data, const char *replica)
{
  (void)data;
  if (strcmp(replica, "mine") == 0)
    return "n1";
  if (strcmp(replica, "theirs") == 0)
    return "n2";
  if (strcmp(replica, "pending") == 0)
    return "";
  return NULL;
}

static int authz(enum auth_kind k, const char *method, const char *path, char **reason)
{
  struct auth_identity who = {.kind = k};
  strcpy(who.node, "n1");
  free(*reason);
  *reason = NULL;
  return auth_authorize(&who, method, path, bound, NULL, reason);
}

static void test_node_restrictions(void)
{
  char *r = NULL;
  /* the admin: anything */
  CHECK(authz(AUTH_ADMIN, "DELETE", "/v1/services/web", &r) == 0);
  CHECK(authz(AUTH_ADMIN, "POST", "/v1/tokens", &r) == 0);
  /* a node: what an agent needs */
  const char *ok[][2] = {{"GET", "/v1/services"},
                         {"GET", "/v1/services/web/rollout"},
                         {"GET", "/v1/replicas"},
                         {"GET", "/v1/replicas/theirs"},
                         {"GET", "/v1/nodes"},
                         {"GET", "/v1/nodes/n2"},
                         {"GET", "/v1/watch"},
                         {"POST", "/v1/nodes"},
                         {"POST", "/v1/nodes/n1/heartbeat"},
                         {"POST", "/v1/replicas/mine/status"},
                         {"DELETE", "/v1/replicas/mine"},
                         {"POST", "/v1/replicas/gone/status"},
                         {"POST", "//v1//nodes/n1/heartbeat"},
                         {"POST", "/v1/nodes/n1/status"}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
      int got = authz(AUTH_NODE, ok[i][0], ok[i][1], &r);
      CHECK(got == 0);
      if (got)
        printf("# %s %s: %s\n", ok[i][0], ok[i][1], r);
    }
  const char *no[][3]
      = {{"POST", "/v1/nodes/n2/heartbeat", "node `n1` may only heartbeat itself, not node `n2`"},
         {"POST", "/v1/replicas/theirs/status",
          "node `n1` may not report the status of replica `theirs`: it is bound to node `n2`"},
         {"DELETE", "/v1/replicas/theirs",
          "node `n1` may not delete replica `theirs`: it is bound to node `n2`"},
         {"DELETE", "/v1/replicas/pending",
          "node `n1` may not delete replica `pending`: it is bound to no node"},
         {"POST", "/v1/nodes/n2/status", "node `n1` may only report as itself, not as node `n2`"},
         {"POST", "/v1/apply", "node `n1` may not POST /v1/apply"},
         {"DELETE", "/v1/services/web", "node `n1` may not DELETE /v1/services/web"},
         {"POST", "/v1/nodes/n1/drain", "node `n1` may not POST /v1/nodes/n1/drain"},
         {"DELETE", "/v1/nodes/n1", "node `n1` may not DELETE /v1/nodes/n1"},
         {"GET", "/v1/tokens", "node `n1` may not GET /v1/tokens"},
         {"POST", "/v1/join", "node `n1` may not POST /v1/join"},
         {"GET", "/metrics", "node `n1` may not GET /metrics"},
         {"GET", "/v1/events", "node `n1` may not GET /v1/events"},
         {"GET", "/v1/replicas/mine/logs", "node `n1` may not GET /v1/replicas/mine/logs"}};
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    {
      CHECK(authz(AUTH_NODE, no[i][0], no[i][1], &r) == 403);
      CHECK_STR_EQ(r, no[i][2]);
    }
  /* a join token: only the join */
  CHECK(authz(AUTH_JOIN, "POST", "/v1/join", &r) == 0);
  CHECK(authz(AUTH_JOIN, "GET", "/v1/services", &r) == 403);
  CHECK_CONTAINS(r, "a join token may only join a node");
  /* the body names the node itself */
  struct auth_identity n1 = {.kind = AUTH_NODE};
  strcpy(n1.node, "n1");
  const char *reg = "{\"name\":\"n2\",\"address\":\"1.2.3.4\"}";
  free(r);
  r = NULL;
  CHECK(auth_authorize_body(&n1, "POST", "/v1/nodes", reg, strlen(reg), &r) == 403);
  CHECK_STR_EQ(r, "node `n1` may only register itself, not node `n2`");
  free(r);
  r = NULL;
  const char *mine = "{\"name\":\"n1\"}", *as = "{\"node\":\"n2\",\"state\":\"Running\"}";
  CHECK(auth_authorize_body(&n1, "POST", "/v1/nodes", mine, strlen(mine), &r) == 0);
  CHECK(auth_authorize_body(&n1, "POST", "/v1/replicas/mine/status", as, strlen(as), &r) == 403);
  CHECK_STR_EQ(r, "node `n1` may only report as itself, not node `n2`");
  free(r);
  r = NULL;
  CHECK(auth_authorize_body(&n1, "POST", "/v1/nodes", "{", 1, &r) == 0); /* the route: 400 */
  free(r);
}

static void test_public_routes_and_body_caps(void)
{
  CHECK(auth_public("GET", "/healthz") && auth_public("GET", "/v1/ca"));
  CHECK(!auth_public("POST", "/healthz") && !auth_public("GET", "/v1/ca/x")
        && !auth_public("GET", "/v1/services"));
  CHECK(auth_body_cap("POST", "/v1/apply") == 1024 * 1024);
  CHECK(auth_body_cap("PUT", "/v1/services/web") == 1024 * 1024);
  CHECK(auth_body_cap("POST", "/v1/nodes") == 64 * 1024);
  CHECK(auth_body_cap("POST", "/v1/replicas/x/status") == 16 * 1024);
  CHECK(auth_body_cap("POST", "/v1/nodes/x/status") == 1024 * 1024);
  CHECK(auth_body_cap("POST", "/v1/nodes/x/heartbeat") == 4096);
  CHECK(auth_body_cap("GET", "/v1/services") == 4096);
  CHECK(auth_body_cap("POST", "/v1/services/web/scale") == 4096);
  CHECK(security_listen_is_loopback("127.0.0.1:7070"));
  CHECK(security_listen_is_loopback("127.1.2.3:1"));
  CHECK(security_listen_is_loopback("localhost:7070"));
  CHECK(!security_listen_is_loopback("0.0.0.0:7070"));
  CHECK(!security_listen_is_loopback(":7070"));
  CHECK(!security_listen_is_loopback("10.0.0.1:7070"));
}

static void test_token_command_line(void)
{
  struct ctl_cmdline c;
  struct skiff_err *err = NULL;
  long long s = 0;
  CHECK(ctl_parse_duration("24h", &s, &err) == 0 && s == 86400);
  CHECK(ctl_parse_duration("90s", &s, &err) == 0 && s == 90);
  CHECK(ctl_parse_duration("7d", &s, &err) == 0 && s == 7 * 86400);
  CHECK(ctl_parse_duration("0", &s, &err) == 0 && s == 0);
  CHECK(ctl_parse_duration("5x", &s, &err) < 0);
  skiff_err_free(&err);
  CHECK(ctl_parse_duration("-1h", &s, &err) < 0);
  skiff_err_free(&err);
  char *a1[] = {(char *)"skiffctl", (char *)"token",         (char *)"create", (char *)"--ttl",
                (char *)"2s",       (char *)"--description", (char *)"ci",     NULL};
  CHECK(ctl_parse_cmdline(7, a1, &c, &err) == 0);
  CHECK(c.ttl == 2 && strcmp(c.description, "ci") == 0 && strcmp(c.args[0], "create") == 0);
  char *a2[] = {(char *)"skiffctl", (char *)"token", (char *)"delete", NULL};
  CHECK(ctl_parse_cmdline(3, a2, &c, &err) < 0);
  CHECK_CONTAINS(err->msg, "token delete: wrong number of arguments");
  skiff_err_free(&err);
  char *a3[]
      = {(char *)"skiffctl", (char *)"get", (char *)"nodes", (char *)"--ttl", (char *)"1h", NULL};
  CHECK(ctl_parse_cmdline(5, a3, &c, &err) < 0);
  CHECK_CONTAINS(err->msg, "--ttl not supported");
  skiff_err_free(&err);
  char *a4[] = {(char *)"skiffctl", (char *)"--token-file", (char *)"/f",   (char *)"--ca-file",
                (char *)"/c",       (char *)"token",        (char *)"list", NULL};
  CHECK(ctl_parse_cmdline(7, a4, &c, &err) == 0);
  CHECK(strcmp(c.token_file, "/f") == 0 && strcmp(c.ca_file, "/c") == 0);
  json_t *list
      = json_pack("{s:[{s:s,s:s,s:n,s:s},{s:s,s:s,s:s,s:s,s:s}]}", "items", "id", "abc123", "kind",
                  "admin", "expires", "description", "", "id", "def456", "kind", "join", "expires",
                  "1970-01-01T00:16:40Z", "description", "ci", "node", "x");
  char *t = ctl_tokens_table(list, 500);
  CHECK_CONTAINS(t, "abc123   admin   -      never");
  CHECK_CONTAINS(t, "def456   join    x      in 8m20s");
  free(t);
  t = ctl_tokens_table(list, 2000);
  CHECK_CONTAINS(t, "expired");
  free(t);
  json_decref(list);
}

int main(void)
{
  RUN_TEST(test_credentials_and_join_tokens);
  RUN_TEST(test_ca_hash_is_kubeadms);
  RUN_TEST(test_certificates);
  RUN_TEST(test_ca_shared_through_the_store);
  RUN_TEST(test_authenticate);
  RUN_TEST(test_node_restrictions);
  RUN_TEST(test_public_routes_and_body_caps);
  RUN_TEST(test_token_command_line);
  return CHECK_DONE();
}
