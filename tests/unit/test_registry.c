/* test_registry.c - the registry client's pure parts: references with registry hosts and
 * their store keys, loopback detection, WWW-Authenticate challenges, token answers, base64,
 * --creds, docker config.json lookup and its default path, platforms and the choice of a
 * manifest from an index. */
#include "check.h"
#include "registry.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void report(struct skiff_err *err)
{
  if (err)
    printf("#   error: %s\n", err->msg);
}

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_ref_parse(void)
{
  static const struct
  {
    const char *in, *domain, *repo, *tag, *digest, *name, *key;
  } ok[] = {
      {"127.0.0.1:5000/webapp:1", "127.0.0.1:5000", "webapp", "1", NULL, "127.0.0.1:5000/webapp",
       "127.0.0.1:5000/webapp:1"},
      {"localhost:5000/a/b", "localhost:5000", "a/b", "latest", NULL, "localhost:5000/a/b",
       "localhost:5000/a/b:latest"},
      {"registry.example/team/app:v2.1", "registry.example", "team/app", "v2.1", NULL,
       "registry.example/team/app", "registry.example/team/app:v2.1"},
      {"[::1]:5000/x", "[::1]:5000", "x", "latest", NULL, "[::1]:5000/x", "[::1]:5000/x:latest"},
      {"busybox", "docker.io", "library/busybox", "latest", NULL, "busybox", "busybox:latest"},
      {"docker.io/library/nginx:1.25", "docker.io", "library/nginx", "1.25", NULL, "nginx",
       "nginx:1.25"},
      {"index.docker.io/org/x", "docker.io", "org/x", "latest", NULL, "org/x", "org/x:latest"},
      {"team/app:3", "docker.io", "team/app", "3", NULL, "team/app", "team/app:3"},
      {"h.io/w@" D64, "h.io", "w", NULL, D64, "h.io/w", "h.io/w@" D64},
      {"h.io/w:1@" D64, "h.io", "w", "1", D64, "h.io/w", "h.io/w@" D64},
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
      struct image_ref r;
      struct skiff_err *err = NULL;
      int rc = image_ref_parse(ok[i].in, &r, &err);
      if (rc < 0)
        printf("#   `%s` refused\n", ok[i].in);
      CHECK(rc == 0);
      report(err);
      skiff_err_free(&err);
      if (rc < 0)
        continue;
      CHECK_STR_EQ(r.domain, ok[i].domain);
      CHECK_STR_EQ(r.repo, ok[i].repo);
      if (ok[i].tag)
        CHECK_STR_EQ(r.tag, ok[i].tag);
      else
        CHECK(r.tag == NULL);
      if (ok[i].digest)
        CHECK_STR_EQ(r.digest, ok[i].digest);
      else
        CHECK(r.digest == NULL);
      CHECK_STR_EQ(r.name, ok[i].name);
      CHECK_STR_EQ(r.key, ok[i].key);
      image_ref_clear(&r);
    }
  static const char *const bad[] = {
      "",
      "127.0.0.1:99999/x",
      "127.0.0.1:/x",
      "host:port/x",
      "Host.io/x",
      "h.io/X",
      "h.io/x@sha256:abc",
      "h.io/x@md5:0123",
      "-h.io/x",
      "h.io//x",
      "[::g]:5000/x",
      "[]/x",
      "h.io/x:",
      "h.io/x:a:b",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      struct image_ref r;
      struct skiff_err *err = NULL;
      int rc = image_ref_parse(bad[i], &r, &err);
      if (rc == 0)
        {
          printf("#   `%s` accepted\n", bad[i]);
          image_ref_clear(&r);
        }
      CHECK(rc < 0);
      CHECK_CONTAINS(err ? err->msg : NULL, "invalid image reference");
      skiff_err_free(&err);
    }
  /* local names: a host only when a '/' follows and it looks like one */
  CHECK(image_ref_has_registry("127.0.0.1:5000/webapp"));
  CHECK(image_ref_has_registry("localhost/webapp"));
  CHECK(image_ref_has_registry("registry.example/a/b:1"));
  CHECK(!image_ref_has_registry("webapp"));
  CHECK(!image_ref_has_registry("team/app"));
  CHECK(!image_ref_has_registry("web:1"));
  /* image_parse_ref keeps its local-name contract and takes hosts */
  char *n = NULL, *t = NULL;
  struct skiff_err *err = NULL;
  CHECK(image_parse_ref("127.0.0.1:5000/webapp:1", &n, &t, &err) == 0);
  CHECK_STR_EQ(n, "127.0.0.1:5000/webapp");
  CHECK_STR_EQ(t, "1");
  free(n);
  free(t);
  CHECK(image_parse_ref("127.0.0.1:5000/webapp", &n, &t, &err) == 0);
  CHECK_STR_EQ(n, "127.0.0.1:5000/webapp");
  CHECK_STR_EQ(t, "latest");
  free(n);
  free(t);
  skiff_err_free(&err);
}

static void test_loopback(void)
{
  CHECK(image_ref_domain_is_loopback("127.0.0.1:5000"));
  CHECK(image_ref_domain_is_loopback("127.5.6.7"));
  CHECK(image_ref_domain_is_loopback("localhost:5000"));
  CHECK(image_ref_domain_is_loopback("[::1]:5000"));
  CHECK(!image_ref_domain_is_loopback("128.0.0.1:5000"));
  CHECK(!image_ref_domain_is_loopback("0.0.0.0:5000"));
  CHECK(!image_ref_domain_is_loopback("127.0.0.1.example:5000"));
  CHECK(!image_ref_domain_is_loopback("localhost.example"));
  CHECK(!image_ref_domain_is_loopback("[::2]:5000"));
  CHECK(!image_ref_domain_is_loopback("docker.io"));
}

static void test_challenge(void)
{
  struct registry_challenge c;
  struct skiff_err *err = NULL;
  CHECK(registry_challenge_parse("Bearer realm=\"https://auth.example/token\",service=\"reg\","
                                 "scope=\"repository:a/b:pull,push\"",
                                 &c, &err)
        == 0);
  report(err);
  CHECK(c.scheme == REGISTRY_AUTH_BEARER);
  CHECK_STR_EQ(c.realm, "https://auth.example/token");
  CHECK_STR_EQ(c.service, "reg");
  CHECK_STR_EQ(c.scope, "repository:a/b:pull,push");
  registry_challenge_clear(&c);
  CHECK(registry_challenge_parse("basic realm=\"Registry Realm\"", &c, &err) == 0);
  CHECK(c.scheme == REGISTRY_AUTH_BASIC);
  CHECK_STR_EQ(c.realm, "Registry Realm");
  registry_challenge_clear(&c);
  /* quoted-pair, unknown params, spaces, token values */
  CHECK(registry_challenge_parse(
            "Bearer  realm = \"http://a/t?x=\\\"1\\\"\" , error=insufficient_scope,"
            "service=reg",
            &c, &err)
        == 0);
  report(err);
  CHECK_STR_EQ(c.realm, "http://a/t?x=\"1\"");
  CHECK_STR_EQ(c.service, "reg");
  CHECK(c.scope == NULL);
  registry_challenge_clear(&c);
  static const char *const bad[] = {
      "Negotiate abc",
      "Bearer service=\"x\"",
      "Bearer realm=\"ftp://x\"",
      "Bearer realm=\"https://x",
      "Basic realm",
      "Bearer realm=\"https://x\" junk",
      "",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      int rc = registry_challenge_parse(bad[i], &c, &err);
      if (rc == 0)
        {
          printf("#   `%s` accepted\n", bad[i]);
          registry_challenge_clear(&c);
        }
      CHECK(rc < 0);
      CHECK(err != NULL && strstr(err->msg, "WWW-Authenticate") != NULL);
      skiff_err_free(&err);
    }
}

static void test_token(void)
{
  char *t = NULL;
  struct skiff_err *err = NULL;
  const char *tok = "{\"token\":\"abc.def\",\"expires_in\":300}";
  CHECK(registry_token_parse(tok, strlen(tok), &t, &err) == 0);
  CHECK_STR_EQ(t, "abc.def");
  free(t);
  t = NULL;
  const char *at = "{\"access_token\":\"x1\"}";
  CHECK(registry_token_parse(at, strlen(at), &t, &err) == 0);
  CHECK_STR_EQ(t, "x1");
  free(t);
  t = NULL;
  const char *nl = "{\"token\":\"a\\r\\nX-Evil: 1\"}";
  CHECK(registry_token_parse(nl, strlen(nl), &t, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "control character");
  skiff_err_free(&err);
  CHECK(registry_token_parse("{}", 2, &t, &err) < 0);
  skiff_err_free(&err);
  CHECK(registry_token_parse("nope", 4, &t, &err) < 0);
  skiff_err_free(&err);
  CHECK(t == NULL);
}

static void test_base64_and_creds(void)
{
  static const char *const plain[] = {"", "f", "fo", "foo", "user:pa:ss", "\xff\x01"};
  for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
    {
      char *e = registry_base64_encode(plain[i], strlen(plain[i]));
      char *d = NULL;
      size_t len = 0;
      CHECK(registry_base64_decode(e, &d, &len) == 0);
      CHECK(d && len == strlen(plain[i]) && memcmp(d, plain[i], len) == 0);
      free(e);
      free(d);
    }
  char *e = registry_base64_encode("user:pass", 9);
  CHECK_STR_EQ(e, "dXNlcjpwYXNz");
  free(e);
  char *d = NULL;
  CHECK(registry_base64_decode("dXNlcjpwYXNz", &d, NULL) == 0);
  CHECK_STR_EQ(d, "user:pass");
  free(d);
  CHECK(registry_base64_decode("dXN!cjpw", &d, NULL) < 0);
  CHECK(registry_base64_decode("dQ==dQ==", &d, NULL) < 0);
  CHECK(registry_base64_decode("d", &d, NULL) < 0);
  char *u = NULL, *p = NULL;
  struct skiff_err *err = NULL;
  CHECK(registry_creds_split("alice:s3:cr:t", &u, &p, &err) == 0);
  CHECK_STR_EQ(u, "alice");
  CHECK_STR_EQ(p, "s3:cr:t");
  free(u);
  free(p);
  CHECK(registry_creds_split("alice", &u, &p, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "USER:PASS");
  skiff_err_free(&err);
  CHECK(registry_creds_split(":pw", &u, &p, &err) < 0);
  /* the secret never enters the message */
  CHECK(err && strstr(err->msg, "pw") == NULL);
  skiff_err_free(&err);
}

static void test_auth_file(void)
{
  const char *cfg = "{\"auths\":{"
                    "\"https://127.0.0.1:5000/v1/\":{\"auth\":\"dXNlcjpwYXNz\"},"
                    "\"reg.example\":{\"username\":\"bob\",\"password\":\"pw\"},"
                    "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
                    "\"bad.example\":{\"auth\":\"!!!\"}}}";
  char *u = NULL, *p = NULL;
  struct skiff_err *err = NULL;
  CHECK(registry_auth_lookup(cfg, strlen(cfg), "127.0.0.1:5000", &u, &p, &err) == 1);
  CHECK_STR_EQ(u, "user");
  CHECK_STR_EQ(p, "pass");
  free(u);
  free(p);
  CHECK(registry_auth_lookup(cfg, strlen(cfg), "reg.example", &u, &p, &err) == 1);
  CHECK_STR_EQ(u, "bob");
  CHECK_STR_EQ(p, "pw");
  free(u);
  free(p);
  CHECK(registry_auth_lookup(cfg, strlen(cfg), "docker.io", &u, &p, &err) == 1);
  CHECK_STR_EQ(u, "hub");
  free(u);
  free(p);
  u = p = NULL;
  CHECK(registry_auth_lookup(cfg, strlen(cfg), "127.0.0.1:5001", &u, &p, &err) == 0);
  CHECK(registry_auth_lookup(cfg, strlen(cfg), "reg.example.org", &u, &p, &err) == 0);
  CHECK(u == NULL && p == NULL);
  CHECK(registry_auth_lookup(cfg, strlen(cfg), "bad.example", &u, &p, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "bad.example");
  skiff_err_free(&err);
  CHECK(registry_auth_lookup("{\"auths\":[]}", 12, "x", &u, &p, &err) < 0);
  skiff_err_free(&err);
  CHECK(registry_auth_lookup("{", 1, "x", &u, &p, &err) < 0);
  skiff_err_free(&err);
  CHECK(registry_auth_lookup("{}", 2, "x", &u, &p, &err) == 0);

  char *path = registry_auth_default_path("/a/auth.json", "/d", "/home/u");
  CHECK_STR_EQ(path, "/a/auth.json");
  free(path);
  path = registry_auth_default_path(NULL, "/d", "/home/u");
  CHECK_STR_EQ(path, "/d/config.json");
  free(path);
  path = registry_auth_default_path("", "", "/home/u");
  CHECK_STR_EQ(path, "/home/u/.docker/config.json");
  free(path);
  CHECK(registry_auth_default_path(NULL, NULL, NULL) == NULL);
}

static void test_platform(void)
{
  struct registry_platform p;
  struct skiff_err *err = NULL;
  CHECK(registry_platform_parse("linux/arm64/v8", &p, &err) == 0);
  CHECK_STR_EQ(p.os, "linux");
  CHECK_STR_EQ(p.arch, "arm64");
  CHECK_STR_EQ(p.variant, "v8");
  CHECK(registry_platform_parse("linux/amd64", &p, &err) == 0);
  CHECK_STR_EQ(p.variant, "");
  CHECK(registry_platform_parse(NULL, &p, &err) == 0);
  CHECK_STR_EQ(p.os, "linux");
  CHECK(p.arch[0] != '\0');
  static const char *const bad[]
      = {"linux", "linux/", "/amd64", "Linux/amd64", "linux/amd64/", "linux/a/b/c"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(registry_platform_parse(bad[i], &p, &err) < 0);
      CHECK_CONTAINS(err ? err->msg : NULL, "OS/ARCH");
      skiff_err_free(&err);
    }
}

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DD "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static void test_index_pick(void)
{
  const char *idx = "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MT_INDEX "\",\"manifests\":["
                    "{\"mediaType\":\"" IMAGE_MT_MANIFEST "\",\"digest\":\"" DA "\",\"size\":1,"
                    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
                    "{\"mediaType\":\"" IMAGE_MT_MANIFEST "\",\"digest\":\"" DB "\",\"size\":1,"
                    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
                    "{\"mediaType\":\"" IMAGE_MT_MANIFEST "\",\"digest\":\"" DD "\",\"size\":1,"
                    "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
                    "{\"mediaType\":\"" IMAGE_MT_DOCKER_MANIFEST "\",\"digest\":\"" DC "\","
                    "\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
  size_t len = strlen(idx);
  CHECK(registry_is_index(NULL, idx, len));
  CHECK(registry_is_index(IMAGE_MT_DOCKER_LIST "; charset=utf-8", "", 0));
  CHECK(!registry_is_index(IMAGE_MT_MANIFEST, idx, len));
  CHECK(!registry_is_index(NULL, "{\"schemaVersion\":2,\"layers\":[]}", 31));
  static const struct
  {
    const char *plat, *want;
  } cases[] = {
      {"linux/amd64", DC},  {"linux/arm64", DB}, {"linux/arm64/v8", DB},
      {"linux/arm/v7", DA}, {"linux/arm", DA},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
      struct registry_platform p;
      char *d = NULL;
      struct skiff_err *err = NULL;
      CHECK(registry_platform_parse(cases[i].plat, &p, &err) == 0);
      CHECK(registry_index_pick(idx, len, &p, &d, &err) == 0);
      report(err);
      if (d == NULL || strcmp(d, cases[i].want) != 0)
        printf("#   %s -> %s\n", cases[i].plat, d ? d : "(none)");
      CHECK_STR_EQ(d, cases[i].want);
      free(d);
      skiff_err_free(&err);
    }
  struct registry_platform p;
  char *d = NULL;
  struct skiff_err *err = NULL;
  CHECK(registry_platform_parse("linux/s390x", &p, &err) == 0);
  CHECK(registry_index_pick(idx, len, &p, &d, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "no manifest for linux/s390x");
  CHECK_CONTAINS(err ? err->msg : NULL, "linux/arm64, ");
  CHECK_CONTAINS(err ? err->msg : NULL, "linux/arm/v7");
  skiff_err_free(&err);
  CHECK(registry_platform_parse("linux/arm/v6", &p, &err) == 0);
  CHECK(registry_index_pick(idx, len, &p, &d, &err) < 0);
  skiff_err_free(&err);
  CHECK(registry_index_pick("{\"manifests\":{}}", 16, &p, &d, &err) < 0);
  skiff_err_free(&err);
  CHECK(d == NULL);
}

/* parts of interrupted pulls: kept a day for the next pull, never while a pull holds one */
static void test_downloads_sweep(void)
{
  char dir[] = "/tmp/skiff-test-registry.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char p[512];
  snprintf(p, sizeof(p), "%s/downloads", dir);
  CHECK(skiff_mkdir_p(p, 0700, NULL) == 0);
  const char *names[] = {"old", "fresh", "held"};
  int held = -1;
  for (size_t i = 0; i < 3; i++)
    {
      snprintf(p, sizeof(p), "%s/downloads/%s", dir, names[i]);
      CHECK(skiff_write_file(p, "part", 4, 0600, NULL) == 0);
      if (i != 1)
        {
          struct timespec ts[2] = {{time(NULL) - IMAGE_DOWNLOAD_KEEP_SECONDS - 60, 0},
                                   {time(NULL) - IMAGE_DOWNLOAD_KEEP_SECONDS - 60, 0}};
          CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
        }
      if (i == 2)
        {
          held = open(p, O_RDONLY | O_CLOEXEC);
          CHECK(held >= 0 && flock(held, LOCK_EX) == 0);
        }
    }
  CHECK(image_store_sweep_tmp(dir, NULL) == 0);
  snprintf(p, sizeof(p), "%s/downloads/old", dir);
  CHECK(access(p, F_OK) < 0);
  snprintf(p, sizeof(p), "%s/downloads/fresh", dir);
  CHECK(access(p, F_OK) == 0);
  snprintf(p, sizeof(p), "%s/downloads/held", dir);
  CHECK(access(p, F_OK) == 0);
  close(held);
  skiff_rm_rf(dir, NULL);
}

int main(void)
{
  RUN_TEST(test_ref_parse);
  RUN_TEST(test_loopback);
  RUN_TEST(test_challenge);
  RUN_TEST(test_token);
  RUN_TEST(test_base64_and_creds);
  RUN_TEST(test_auth_file);
  RUN_TEST(test_platform);
  RUN_TEST(test_index_pick);
  RUN_TEST(test_downloads_sweep);
  return CHECK_DONE();
}
