/* test_util.c - signal and size parsing, id validation, error messages, file helpers. */
#include "check.h"
#include "util.h"
#include "state.h"
#include "ns.h"
#include "digest.h"
#include "sha256.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

static void test_signal_names_and_numbers(void)
{
  struct skiff_err *err = NULL;
  int sig = 0;
  CHECK(skiff_parse_signal("TERM", &sig, &err) == 0 && sig == SIGTERM);
  CHECK(skiff_parse_signal("SIGKILL", &sig, &err) == 0 && sig == SIGKILL);
  CHECK(skiff_parse_signal("sigusr1", &sig, &err) == 0 && sig == SIGUSR1);
  CHECK(skiff_parse_signal("9", &sig, &err) == 0 && sig == 9);
  CHECK(skiff_parse_signal("hup", &sig, &err) == 0 && sig == SIGHUP);
  CHECK(skiff_parse_signal("RTMIN+2", &sig, &err) == 0 && sig == SIGRTMIN + 2);
  CHECK(skiff_parse_signal("RTMAX", &sig, &err) == 0 && sig == SIGRTMAX);
  CHECK(err == NULL);
  CHECK_STR_EQ(skiff_signal_name(SIGTERM), "TERM");
}

static void test_signal_rejects(void)
{
  const char *bad[] = {"", "FOO", "SIGFOO", "0", "-1", "999", "9x", "RTMIN+99", "RTMAX+1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      struct skiff_err *err = NULL;
      int sig = -7;
      CHECK(skiff_parse_signal(bad[i], &sig, &err) < 0);
      CHECK(err != NULL);
      if (err)
        CHECK_CONTAINS(err->msg, "invalid signal");
      CHECK(sig == -7);
      skiff_err_free(&err);
    }
}

static void test_sizes(void)
{
  struct skiff_err *err = NULL;
  long long b = 0;
  CHECK(skiff_parse_size("1024", &b, &err) == 0 && b == 1024);
  CHECK(skiff_parse_size("64m", &b, &err) == 0 && b == 64LL << 20);
  CHECK(skiff_parse_size("64Mi", &b, &err) == 0 && b == 64LL << 20);
  CHECK(skiff_parse_size("1g", &b, &err) == 0 && b == 1LL << 30);
  CHECK(skiff_parse_size("1.5G", &b, &err) == 0 && b == 3LL << 29);
  CHECK(skiff_parse_size("512kb", &b, &err) == 0 && b == 512LL << 10);
  CHECK(err == NULL);
  const char *bad[] = {"", "m", "-1m", "12q", "1mm", "abc", "1e400"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(skiff_parse_size(bad[i], &b, &err) < 0);
      if (err)
        CHECK_CONTAINS(err->msg, "invalid size");
      skiff_err_free(&err);
    }
}

static void test_error_context(void)
{
  struct skiff_err *err = NULL;
  CHECK(skiff_error(&err, 2, "open `%s`", "/x/rootfs") == -1);
  CHECK_STR_EQ(err->msg, "open `/x/rootfs`: No such file or directory");
  CHECK(err->status == 2);
  skiff_err_prefix(&err, "create `%s`", "c1");
  CHECK_STR_EQ(err->msg, "create `c1`: open `/x/rootfs`: No such file or directory");
  /* a second error does not overwrite the first */
  skiff_error(&err, 0, "other");
  CHECK_CONTAINS(err->msg, "open `/x/rootfs`");
  skiff_err_free(&err);
  CHECK(err == NULL);
}

static void test_container_ids(void)
{
  struct skiff_err *err = NULL;
  CHECK(state_validate_id("web-1.a_b+c", &err) == 0);
  const char *bad[] = {"", ".", "..", "a/b", "../x", "a b", "x\n"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(state_validate_id(bad[i], &err) < 0);
      CHECK(err != NULL);
      skiff_err_free(&err);
    }
}

static void test_files(void)
{
  char tmpl[] = "/tmp/skiff-test-util-XXXXXX";
  CHECK(mkdtemp(tmpl) != NULL);
  struct skiff_err *err = NULL;
  char *deep = xasprintf("%s/a/b/c", tmpl);
  CHECK(skiff_mkdir_p(deep, 0755, &err) == 0);
  char *f = xasprintf("%s/file", deep);
  CHECK(skiff_write_file_atomic(f, "hello", 5, 0600, &err) == 0);
  char *text = NULL;
  size_t len = 0;
  CHECK(skiff_read_file(f, &text, &len, &err) == 0);
  CHECK(len == 5);
  CHECK_STR_EQ(text, "hello");
  free(text);
  /* replace: the same content swap (mode kept, no temp file left), without the fsync */
  CHECK(skiff_write_file_replace(f, "bye", 3, 0640, &err) == 0);
  CHECK(skiff_read_file(f, &text, &len, &err) == 0);
  CHECK_STR_EQ(text, "bye");
  free(text);
  struct stat fst;
  CHECK(stat(f, &fst) == 0 && (fst.st_mode & 0777) == 0640);
  size_t entries = 0;
  DIR *dir = opendir(deep);
  for (struct dirent *de; dir && (de = readdir(dir)) != NULL;)
    entries += de->d_name[0] != '.';
  if (dir)
    closedir(dir);
  CHECK(entries == 1);
  CHECK(skiff_write_file_replace("/nonexistent/skiff/x", "a", 1, 0600, &err) < 0);
  CHECK_CONTAINS(err->msg, "/nonexistent/skiff/x");
  skiff_err_free(&err);
  CHECK(skiff_read_file("/nonexistent/skiff", &text, NULL, &err) < 0);
  CHECK_STR_EQ(err->msg, "open `/nonexistent/skiff`: No such file or directory");
  skiff_err_free(&err);
  CHECK(skiff_rm_rf(tmpl, &err) == 0);
  struct stat st;
  CHECK(stat(tmpl, &st) < 0);
  CHECK(skiff_rm_rf(tmpl, &err) == 0); /* missing is success */
  free(deep);
  free(f);
}

/* state.json says how many poststart/poststop hooks the config holds (start and delete
 * skip parsing it when there are none); an older state.json without them says nothing. */
static void test_state_hook_counts(void)
{
  char root[] = "/tmp/skiff-test-state-XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  struct skiff_err *err = NULL;
  CHECK(state_create_dir(root, "c1", &err) == 0);
  struct skiff_state st
      = {.id = (char *)"c1", .hooks_known = true, .poststart_hooks = 0, .poststop_hooks = 2};
  CHECK(state_save(root, &st, &err) == 0);
  struct skiff_state *got = NULL;
  CHECK(state_load(root, "c1", &got, &err) == 0);
  CHECK(got && got->hooks_known && got->poststart_hooks == 0 && got->poststop_hooks == 2);
  state_free(got);
  got = NULL;
  st.hooks_known = false;
  CHECK(state_save(root, &st, &err) == 0);
  CHECK(state_load(root, "c1", &got, &err) == 0);
  CHECK(got && !got->hooks_known && got->poststart_hooks == -1 && got->poststop_hooks == -1);
  state_free(got);
  CHECK(skiff_rm_rf(root, &err) == 0);
  skiff_err_free(&err);
}

static void test_id_map_format(void)
{
  struct skiff_idmap m[] = {{0, 100000, 65536}, {65536, 1000, 1}};
  char *s = ns_format_id_map(m, 2);
  CHECK_STR_EQ(s, "0 100000 65536\n65536 1000 1\n");
  free(s);
}

/* FIPS 180-4 / NIST example vectors, and a multi-block streamed input */
static void sha256_vectors(void)
{
  char d[DIGEST_STR_LEN];
  digest_buffer("", 0, d);
  CHECK_STR_EQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  digest_buffer("abc", 3, d);
  CHECK_STR_EQ(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  digest_buffer(two, strlen(two), d);
  CHECK_STR_EQ(d, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* one million 'a', fed in odd-sized pieces */
  struct digest_ctx *ctx = digest_new();
  char chunk[997];
  memset(chunk, 'a', sizeof(chunk));
  size_t left = 1000000;
  while (left)
    {
      size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
      digest_update(ctx, chunk, n);
      left -= n;
    }
  digest_final(ctx, d);
  digest_free(ctx);
  CHECK_STR_EQ(d, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* A digest hashed beside its producer (digest_pipe.c) equals the plain one, for every
 * split, and a buffer handed over is not written again before two more were taken (the
 * tar reader still reads the last block it was given). */
static void test_digest_pipe(void)
{
  size_t total = 3 * DIGEST_PIPE_BUF + 12345;
  unsigned char *data = malloc(total);
  for (size_t i = 0; i < total; i++)
    data[i] = (unsigned char)(i * 2654435761u >> 13);
  char want[DIGEST_STR_LEN], got[DIGEST_STR_LEN];
  digest_buffer(data, total, want);
  size_t steps[] = {1, 1000, DIGEST_PIPE_BUF - 1, DIGEST_PIPE_BUF};
  for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++)
    {
      struct digest_pipe *p = digest_pipe_new();
      unsigned char *prev = NULL, *prev2 = NULL;
      unsigned char mark[2] = {0, 0};
      for (size_t off = 0; off < total;)
        {
          size_t n = total - off < steps[k] ? total - off : steps[k];
          unsigned char *b = digest_pipe_buffer(p);
          CHECK(b != prev && b != prev2);
          if (prev2)
            CHECK(prev2[0] == mark[1]); /* still as handed over */
          memcpy(b, data + off, n);
          digest_pipe_commit(p, n);
          prev2 = prev;
          mark[1] = mark[0];
          prev = b;
          mark[0] = b[0];
          off += n;
        }
      digest_pipe_final(p, got);
      digest_pipe_free(p);
      CHECK_STR_EQ(got, want);
    }
  struct digest_pipe *p = digest_pipe_new(); /* nothing handed over */
  digest_pipe_final(p, got);
  digest_pipe_free(p);
  CHECK_STR_EQ(got, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  digest_pipe_free(digest_pipe_new()); /* freed unfinished */
  free(data);
}

/* the vectors with the portable rounds and with the CPU's SHA extensions (when it has them),
 * and both agree on every length around the block size and on pseudo-random data */
static void test_sha256_vectors(void)
{
  sha256_use_accel(false);
  CHECK(!sha256_accelerated());
  sha256_vectors();
  sha256_use_accel(true);
  printf("# SHA extensions: %s\n", sha256_accelerated() ? "used" : "not on this CPU");
  sha256_vectors();
  static unsigned char buf[4096 + 77];
  unsigned x = 12345;
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
  for (size_t len = 0; len < sizeof(buf); len += len < 200 ? 1 : 61)
    {
      char a[DIGEST_STR_LEN], b[DIGEST_STR_LEN];
      sha256_use_accel(false);
      digest_buffer(buf, len, a);
      sha256_use_accel(true);
      digest_buffer(buf, len, b);
      if (strcmp(a, b) != 0)
        printf("#   length %zu: %s != %s\n", len, a, b);
      CHECK_STR_EQ(a, b);
    }
}

static void test_bearer(void)
{
  CHECK(skiff_bearer_matches("Bearer abc123", "abc123"));
  CHECK(!skiff_bearer_matches("Bearer abc12", "abc123"));
  CHECK(!skiff_bearer_matches("Bearer abc1234", "abc123"));
  CHECK(!skiff_bearer_matches("Bearer xbc123", "abc123"));
  CHECK(!skiff_bearer_matches("bearer abc123", "abc123"));
  CHECK(!skiff_bearer_matches("abc123", "abc123"));
  CHECK(!skiff_bearer_matches("Bearer ", "abc123"));
  CHECK(!skiff_bearer_matches(NULL, "abc123"));
  CHECK(!skiff_bearer_matches("Bearer abc123", NULL));
}

int main(void)
{
  RUN_TEST(test_signal_names_and_numbers);
  RUN_TEST(test_signal_rejects);
  RUN_TEST(test_sizes);
  RUN_TEST(test_error_context);
  RUN_TEST(test_container_ids);
  RUN_TEST(test_files);
  RUN_TEST(test_state_hook_counts);
  RUN_TEST(test_id_map_format);
  RUN_TEST(test_sha256_vectors);
  RUN_TEST(test_digest_pipe);
  RUN_TEST(test_bearer);
  return CHECK_DONE();
}
