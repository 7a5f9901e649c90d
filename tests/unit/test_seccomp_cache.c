/* test_seccomp_cache.c - the compiled-filter cache: which configs share a key, and a
 * store/load round trip of the BPF. */
#include "check.h"
#include "seccomp_cache.h"
#include "spec.h"

#include <stdlib.h>
#include <string.h>

static struct skiff_spec *with(const char *hostname, const char *errno_ret)
{
  const char *fmt = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},\"hostname\":\"%s\","
                    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}},"
                    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"},{\"type\":\"uts\"}]%s}}";
  char *seccomp = errno_ret
                      ? xasprintf(",\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\","
                                  "\"defaultErrnoRet\":%s,\"syscalls\":[{\"names\":[\"getpid\"],"
                                  "\"action\":\"SCMP_ACT_ALLOW\"}]}",
                                  errno_ret)
                      : xstrdup("");
  char *text = xasprintf(fmt, hostname, seccomp);
  struct skiff_spec *spec = NULL;
  struct skiff_err *err = NULL;
  if (spec_parse(text, strlen(text), &spec, &err) < 0)
    printf("# %s\n", err->msg);
  skiff_err_free(&err);
  free(text);
  free(seccomp);
  return spec;
}

static void test_keys(void)
{
  struct skiff_spec *a = with("one", "1"), *b = with("two", "1"), *c = with("one", "38"),
                    *none = with("one", NULL);
  CHECK(a && b && c && none);
  if (!(a && b && c && none))
    return;
  char *ka = seccomp_cache_key(&a->linux.seccomp), *kb = seccomp_cache_key(&b->linux.seccomp),
       *kc = seccomp_cache_key(&c->linux.seccomp);
  CHECK(ka && strlen(ka) == 64);
  CHECK_STR_EQ(ka, kb);             /* other fields of config.json do not matter */
  CHECK(kc && strcmp(ka, kc) != 0); /* another profile never shares a filter */
  CHECK(!none->linux.has_seccomp);
  free(ka);
  free(kb);
  free(kc);
  spec_free(a);
  spec_free(b);
  spec_free(c);
  spec_free(none);
}

static void test_store_load(void)
{
  char root[] = "/tmp/skiff-test-sccache-XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  struct skiff_spec *a = with("one", "1");
  char *key = seccomp_cache_key(&a->linux.seccomp);
  void *bpf = NULL;
  size_t len = 0;
  CHECK(seccomp_cache_load(root, key, &bpf, &len) < 0); /* empty cache */
  seccomp_cache_store(root, key, &a->linux.seccomp);
  CHECK(seccomp_cache_load(root, key, &bpf, &len) == 0);
  CHECK(len > 0 && len % 8 == 0);
  free(bpf);
  free(key);
  spec_free(a);
  skiff_rm_rf(root, NULL);
}

int main(void)
{
  RUN_TEST(test_keys);
  RUN_TEST(test_store_load);
  return CHECK_DONE();
}
