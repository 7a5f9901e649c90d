/* test_client.c - skiffctl's pure parts: server/token resolution, command line parsing,
 * aligned tables, ages, NDJSON line splitting and error messages. */
#include "check.h"
#include "client.h"
#include "ctl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_resolve_precedence(void)
{
  struct client_target t;
  cleanup_err struct skiff_err *err = NULL;

  CHECK(client_resolve_target(NULL, NULL, NULL, NULL, NULL, &t, &err) == 0);
  CHECK_STR_EQ(t.server, CLIENT_DEFAULT_SERVER);
  CHECK(t.token == NULL);
  client_target_clear(&t);

  CHECK(client_resolve_target("http://a:1/", "flagtok", "http://b:2", "envtok", "datatok", &t, &err)
        == 0);
  CHECK_STR_EQ(t.server, "http://a:1");
  CHECK_STR_EQ(t.token, "flagtok");
  client_target_clear(&t);

  CHECK(client_resolve_target(NULL, "", "http://b:2", "envtok", "datatok", &t, &err) == 0);
  CHECK_STR_EQ(t.server, "http://b:2");
  CHECK_STR_EQ(t.token, "envtok");
  client_target_clear(&t);

  CHECK(client_resolve_target(NULL, NULL, "", NULL, "  datatok\n", &t, &err) == 0);
  CHECK_STR_EQ(t.server, CLIENT_DEFAULT_SERVER);
  CHECK_STR_EQ(t.token, "datatok");
  client_target_clear(&t);
}

static void test_resolve_url_forms(void)
{
  struct client_target t;
  cleanup_err struct skiff_err *err = NULL;

  /* no scheme: TLS, the server's default */
  CHECK(client_resolve_target("127.0.0.1:9000", NULL, NULL, NULL, NULL, &t, &err) == 0);
  CHECK_STR_EQ(t.server, "https://127.0.0.1:9000");
  client_target_clear(&t);
  CHECK(client_resolve_target("http://127.0.0.1:9000", NULL, NULL, NULL, NULL, &t, &err) == 0);
  CHECK_STR_EQ(t.server, "http://127.0.0.1:9000");
  client_target_clear(&t);

  CHECK(client_resolve_target("ftp://x", NULL, NULL, NULL, NULL, &t, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "ftp://x");
  CHECK(t.server == NULL);
  skiff_err_free(&err);

  CHECK(client_resolve_target("http:///", NULL, NULL, NULL, NULL, &t, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "no host");
}

static void test_load_target_data_dir(void)
{
  char dir[] = "/tmp/test_client.XXXXXX";
  struct client_target t = {NULL, NULL};
  cleanup_err struct skiff_err *err = NULL;
  cleanup_free char *path = NULL;

  CHECK(mkdtemp(dir) != NULL);
  path = xasprintf("%s/token", dir);
  unsetenv("SKIFF_TOKEN");
  unsetenv("SKIFF_SERVER");

  /* explicit data dir without a token file: an error naming the path */
  CHECK(client_load_target(NULL, NULL, dir, &t, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, path);
  skiff_err_free(&err);

  CHECK(skiff_write_file(path, "s3cret\n", 7, 0600, &err) == 0);
  CHECK(client_load_target(NULL, NULL, dir, &t, &err) == 0);
  CHECK_STR_EQ(t.token, "s3cret");
  client_target_clear(&t);

  setenv("SKIFF_TOKEN", "fromenv", 1);
  setenv("SKIFF_SERVER", "http://10.0.0.1:7070", 1);
  CHECK(client_load_target(NULL, NULL, dir, &t, &err) == 0);
  CHECK_STR_EQ(t.token, "fromenv");
  CHECK_STR_EQ(t.server, "http://10.0.0.1:7070");
  client_target_clear(&t);
  CHECK(client_load_target("http://x:1", "flag", dir, &t, &err) == 0);
  CHECK_STR_EQ(t.token, "flag");
  CHECK_STR_EQ(t.server, "http://x:1");
  client_target_clear(&t);
  unsetenv("SKIFF_TOKEN");
  unsetenv("SKIFF_SERVER");

  CHECK(skiff_write_file(path, " \n", 2, 0600, &err) == 0);
  CHECK(client_load_target(NULL, NULL, dir, &t, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "empty");
  skiff_err_free(&err);
  unlink(path);
  rmdir(dir);
}

static int parse(const char *line, struct ctl_cmdline *c, struct skiff_err **err)
{
  static char buf[512];
  static char *argv[32];
  int argc = 0;
  char *save = NULL, *tok;

  snprintf(buf, sizeof buf, "skiffctl %s", line);
  for (tok = strtok_r(buf, " ", &save); tok && argc < 31; tok = strtok_r(NULL, " ", &save))
    argv[argc++] = tok;
  argv[argc] = NULL;
  return ctl_parse_cmdline(argc, argv, c, err);
}

static void test_cmdline_ok(void)
{
  struct ctl_cmdline c;
  cleanup_err struct skiff_err *err = NULL;

  CHECK(parse("--server http://h:1 --token=t apply -f web.json", &c, &err) == 0);
  CHECK_STR_EQ(c.verb, "apply");
  CHECK_STR_EQ(c.server, "http://h:1");
  CHECK_STR_EQ(c.token, "t");
  CHECK_STR_EQ(c.file, "web.json");

  CHECK(parse("get svc -o wide -w", &c, &err) == 0);
  CHECK_STR_EQ(c.args[0], "services");
  CHECK(c.output == CTL_OUT_WIDE);
  CHECK(c.watch == 1);

  CHECK(parse("get no -ojson --data /tmp/d", &c, &err) == 0);
  CHECK_STR_EQ(c.args[0], "nodes");
  CHECK(c.output == CTL_OUT_JSON);
  CHECK_STR_EQ(c.data_dir, "/tmp/d");

  CHECK(parse("get replicas web-1", &c, &err) == 0);
  CHECK(c.nargs == 2);
  CHECK_STR_EQ(c.args[1], "web-1");

  CHECK(parse("describe node n1", &c, &err) == 0);
  CHECK_STR_EQ(c.args[0], "nodes");
  CHECK(parse("scale web 0", &c, &err) == 0);
  CHECK(parse("delete svc web", &c, &err) == 0);
  CHECK(parse("rollout undo web", &c, &err) == 0);
  CHECK(parse("rollout status web -w", &c, &err) == 0);
  CHECK(c.watch == 1);
  CHECK(parse("events -w", &c, &err) == 0);
  CHECK(parse("drain n1", &c, &err) == 0);
  CHECK(parse("--help", &c, &err) == 0);
  CHECK(c.help == 1);
  /* logs: -f is --follow there, --tail takes a count */
  CHECK(parse("logs web-1-abcde", &c, &err) == 0);
  CHECK(c.follow == 0 && c.tail == -1);
  CHECK(parse("logs web-1-abcde -f --tail 20", &c, &err) == 0);
  CHECK(c.follow == 1 && c.tail == 20 && c.file == NULL);
  CHECK_STR_EQ(c.args[0], "web-1-abcde");
  CHECK(parse("logs --follow web-1-abcde --tail=0", &c, &err) == 0);
  CHECK(c.follow == 1 && c.tail == 0);
  CHECK(err == NULL);
}

static void test_cmdline_errors(void)
{
  static const struct
  {
    const char *line, *msg;
  } cases[] = {
      {"", "no command"},
      {"frobnicate", "unknown command `frobnicate`"},
      {"apply", "missing -f"},
      {"get pods", "unknown resource `pods`"},
      {"get services -o yaml", "-o `yaml`"},
      {"scale web -1", "`-1` is not a non-negative integer"},
      {"scale web 3x", "`3x`"},
      {"scale web", "usage: skiffctl scale SERVICE N"},
      {"delete node n1", "only `service NAME`"},
      {"rollout restart web", "unknown action `restart`"},
      {"describe replica r", "unknown resource `replica`"},
      {"cordon", "wrong number of arguments"},
      {"scale web 1 -w", "option -w not supported"},
      {"get services --bogus", "unknown option `--bogus`"},
      {"get services --server", "needs a value"},
      {"get servers -w", "get servers: takes no NAME and no -w"},
      {"get servers s1", "get servers: takes no NAME"},
      {"describe server s1", "unknown resource `server`"},
      {"logs r --tail -3", "--tail `-3`"},
      {"logs r --tail x", "--tail `x`"},
      {"logs r --tail", "needs a value"},
      {"get services --tail 3", "unknown option `--tail`"},
  };
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
      struct ctl_cmdline c;
      cleanup_err struct skiff_err *err = NULL;
      CHECK(parse(cases[i].line, &c, &err) < 0);
      CHECK_CONTAINS(err ? err->msg : NULL, cases[i].msg);
    }
}

static void test_table_alignment(void)
{
  static const char *const hdr[] = {"NAME", "READY", "NODE"};
  static const char *const r1[] = {"web-7f2a", "1/1", "node-1"};
  static const char *const r2[] = {"w", "0/1", NULL};
  struct ctl_table *t = ctl_table_new(3, hdr);
  cleanup_free char *all = NULL, *nohdr = NULL, *tail = NULL;

  ctl_table_add(t, r1);
  ctl_table_add(t, r2);
  all = ctl_table_format(t, 0);
  CHECK_STR_EQ(all, "NAME       READY   NODE\n"
                    "web-7f2a   1/1     node-1\n"
                    "w          0/1     <none>\n");
  nohdr = ctl_table_format(t, 1);
  CHECK_STR_EQ(nohdr, "web-7f2a   1/1     node-1\n"
                      "w          0/1     <none>\n");
  tail = ctl_table_format_rows(t, 2);
  CHECK_STR_EQ(tail, "w          0/1     <none>\n");
  ctl_table_free(t);
}

static void test_table_no_trailing_blanks(void)
{
  static const char *const hdr[] = {"A", "LONGHEADER"};
  static const char *const r1[] = {"x", ""};
  struct ctl_table *t = ctl_table_new(2, hdr);
  cleanup_free char *s = NULL;
  ctl_table_add(t, r1);
  s = ctl_table_format(t, 0);
  CHECK_STR_EQ(s, "A   LONGHEADER\nx\n");
  ctl_table_free(t);
}

static void test_age(void)
{
  static const struct
  {
    long long s;
    const char *want;
  } cases[] = {
      {-5, "0s"},          {0, "0s"},
      {59, "59s"},         {119, "119s"},
      {120, "2m"},         {190, "3m10s"},
      {600, "10m"},        {3599, "59m"},
      {3 * 3600, "3h"},    {4 * 3600 + 720, "4h12m"},
      {20 * 3600, "20h"},  {3 * 86400 + 4 * 3600, "3d4h"},
      {45 * 86400, "45d"}, {800 * 86400, "2y"},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
      char buf[32];
      ctl_format_age(cases[i].s, buf, sizeof buf);
      CHECK_STR_EQ(buf, cases[i].want);
    }
}

struct seen
{
  int n;
  char names[8][16];
  int stop_after;
};

static int collect(json_t *o, void *data)
{
  struct seen *s = data;
  const char *n = json_string_value(json_object_get(o, "n"));
  if (s->n < 8)
    snprintf(s->names[s->n], sizeof s->names[0], "%s", n ? n : "?");
  s->n++;
  return s->stop_after && s->n >= s->stop_after;
}

static int skip_b(const char *line, size_t len, void *data)
{
  (void)data;
  return len == 9 && memcmp(line, "{\"n\":\"b\"}", 9) == 0;
}

static void test_lines_split(void)
{
  struct client_lines l = {NULL, 0, 0, 0, NULL};
  struct seen s = {0, {{0}}, 0};
  const char *stream = "{\"n\":\"a\"}\n\n{\"n\":\"b\"}\nnot json\n{\"n\":\"c\"";

  /* byte by byte: partial lines are kept until their newline arrives */
  for (size_t i = 0; i < strlen(stream); i++)
    client_lines_feed(&l, stream + i, 1, collect, &s);
  CHECK(s.n == 2);
  CHECK_STR_EQ(s.names[0], "a");
  CHECK_STR_EQ(s.names[1], "b");
  client_lines_feed(&l, "}\n", 2, collect, &s);
  CHECK(s.n == 3);
  CHECK_STR_EQ(s.names[2], "c");
  client_lines_clear(&l);

  struct seen s2 = {0, {{0}}, 1};
  CHECK(client_lines_feed(&l, "{\"n\":\"x\"}\n{\"n\":\"y\"}\n", 20, collect, &s2) == 1);
  CHECK(s2.n == 1);
  client_lines_clear(&l);

  /* a skip function drops lines unparsed, and sees each whole line */
  struct client_lines k = {NULL, 0, 0, 0, skip_b};
  struct seen s3 = {0, {{0}}, 0};
  const char *three = "{\"n\":\"a\"}\n{\"n\":\"b\"}\n{\"n\":\"c\"}\n";
  for (size_t i = 0; i < strlen(three); i++)
    client_lines_feed(&k, three + i, 1, collect, &s3);
  CHECK(s3.n == 2);
  CHECK_STR_EQ(s3.names[0], "a");
  CHECK_STR_EQ(s3.names[1], "c");
  client_lines_clear(&k);
}

static void test_error_message(void)
{
  json_t *b1 = json_pack("{s:s}", "error", "services[0].replicas: expected a non-negative integer");
  json_t *b2 = json_pack("{s:{s:s}}", "error", "message", "nested");
  cleanup_free char *m1 = client_error_message(400, b1);
  cleanup_free char *m2 = client_error_message(409, b2);
  cleanup_free char *m3 = client_error_message(401, NULL);
  CHECK_STR_EQ(m1, "HTTP 400: services[0].replicas: expected a non-negative integer");
  CHECK_STR_EQ(m2, "HTTP 409: nested");
  CHECK_CONTAINS(m3, "HTTP 401: unauthorized");
  json_decref(b1);
  json_decref(b2);
}

static void test_servers_table(void)
{
  struct ctl_cmdline c;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(parse("get servers", &c, &err) == 0);
  CHECK_STR_EQ(c.args[0], "servers");
  json_t *list = json_loads("[{\"name\":\"a:7070\",\"url\":\"http://a:7070\",\"leader\":true,"
                            "\"self\":false,\"nodes\":3,\"started\":\"2026-11-28T00:00:00Z\"},"
                            "{\"name\":\"b:7070\",\"url\":\"http://b:7070\",\"leader\":false,"
                            "\"self\":true,\"nodes\":0,\"started\":\"2026-11-28T00:00:20Z\"}]",
                            0, NULL);
  struct ctl_table *t = ctl_table_for("servers", 0);
  long long now = ctl_parse_time("2026-11-28T00:00:30Z");
  ctl_table_add_object(t, "servers", 0, json_array_get(list, 0), now);
  ctl_table_add_object(t, "servers", 0, json_array_get(list, 1), now);
  cleanup_free char *text = ctl_table_format(t, 0);
  CHECK_STR_EQ(text, "NAME            LEADER   URL             NODES   AGE\n"
                     "a:7070          yes      http://a:7070   3       30s\n"
                     "b:7070 (this)   no       http://b:7070   0       10s\n");
  ctl_table_free(t);
  json_decref(list);
}

static void test_unreachable_message(void)
{
  /* Port 1 on loopback: nothing listens there on a test machine. */
  struct client *c = client_new("http://127.0.0.1:1", "t", 2000);
  cleanup_err struct skiff_err *err = NULL;
  long status = 0;
  CHECK(client_request(c, "GET", "/healthz", NULL, &status, NULL, &err) < 0);
  CHECK_STR_EQ(err ? err->msg : NULL, "cannot reach server http://127.0.0.1:1: Connection refused");
  client_free(c);
}

static void test_rows_from_api_objects(void)
{
  json_t *rep = json_loads("{\"name\":\"web-2-k3x9q\",\"service\":\"web\",\"generation\":2,"
                           "\"node\":\"n1\",\"state\":\"Running\",\"ready\":true,\"restarts\":0,"
                           "\"address\":\"10.88.0.5\",\"lastExitCode\":null,\"reason\":\"\","
                           "\"created\":\"2026-11-27T23:59:00Z\",\"revision\":42}",
                           0, NULL);
  json_t *pend = json_loads("{\"name\":\"big-1-aaaaa\",\"service\":\"big\",\"generation\":1,"
                            "\"node\":\"\",\"state\":\"Pending\",\"ready\":false,\"restarts\":0,"
                            "\"lastExitCode\":3,\"reason\":\"0/2 nodes fit\","
                            "\"created\":\"2026-11-27T23:58:00Z\"}",
                            0, NULL);
  json_t *node = json_loads("{\"name\":\"n1\",\"status\":\"Ready\",\"cordoned\":true,"
                            "\"capacity\":{\"cpu\":4,\"memory\":\"8Gi\"},"
                            "\"allocated\":{\"cpu\":0.25,\"memory\":\"64Mi\",\"replicas\":3},"
                            "\"labels\":{\"zone\":\"a\"},\"created\":\"2026-11-27T23:00:00Z\"}",
                            0, NULL);
  long long now = ctl_parse_time("2026-11-28T00:00:30Z");
  struct ctl_table *t = ctl_table_for("replicas", 0);
  struct ctl_table *w = ctl_table_for("replicas", 1);
  struct ctl_table *n = ctl_table_for("nodes", 1);
  cleanup_free char *ts = NULL, *ws = NULL, *ns = NULL;

  CHECK(now > 0);
  CHECK(ctl_parse_time("yesterday") == -1);
  CHECK(ctl_parse_time("2026-11-27T23:59:00.123Z") == ctl_parse_time("2026-11-27T23:59:00Z"));
  ctl_table_add_object(t, "replicas", 0, rep, now);
  ctl_table_add_object(t, "replicas", 0, pend, now);
  ts = ctl_table_format(t, 0);
  CHECK_STR_EQ(ts, "NAME          READY   STATE     RESTARTS   NODE     AGE\n"
                   "web-2-k3x9q   1/1     Running   0          n1       90s\n"
                   "big-1-aaaaa   0/1     Pending   0          <none>   2m30s\n");
  ctl_table_add_object(w, "replicas", 1, pend, now);
  ws = ctl_table_format(w, 1);
  CHECK_CONTAINS(ws, "big       1            <none>    3      0/2 nodes fit");
  ctl_table_add_object(n, "nodes", 1, node, now);
  ns = ctl_table_format(n, 1);
  CHECK_CONTAINS(ns, "n1     Ready,SchedulingDisabled   3          4     8Gi      60m");
  CHECK_CONTAINS(ns, "0.25            64Mi               zone=a");
  ctl_table_free(t);
  ctl_table_free(w);
  ctl_table_free(n);
  json_decref(rep);
  json_decref(pend);
  json_decref(node);
}

static void test_describe_service(void)
{
  json_t *svc = json_loads("{\"name\":\"big\",\"image\":\"webapp\",\"replicas\":1,\"generation\":1,"
                           "\"resources\":{\"cpu\":64,\"memory\":\"1Gi\"},\"ports\":[{"
                           "\"container\":8080,\"nodePort\":30080}],"
                           "\"health\":{\"readiness\":{\"tcp\":{\"port\":8080},\"period\":5,"
                           "\"timeout\":1,\"failureThreshold\":3}},"
                           "\"status\":{\"replicas\":1,\"ready\":0,\"rollout\":{\"state\":"
                           "\"Progressing\",\"message\":\"0 of 1\"}}}",
                           0, NULL);
  json_t *reps = json_loads("{\"items\":[{\"name\":\"big-1-aaaaa\",\"service\":\"big\",\"state\":"
                            "\"Pending\",\"reason\":\"no node has 64 cpu free\"}],\"revision\":5}",
                            0, NULL);
  json_t *evs = json_loads(
      "{\"items\":[{\"type\":\"Warning\",\"kind\":\"Replica\",\"object\":\"big-1-aaaaa\","
      "\"reason\":\"FailedScheduling\",\"message\":\"no node has 64 cpu "
      "free\",\"time\":\"2026-11-28T00:00:00Z\"},"
      "{\"type\":\"Normal\",\"kind\":\"Replica\",\"object\":\"bigger-1-bbbbb\",\"reason\":"
      "\"Scheduled\"}],"
      "\"revision\":5}",
      0, NULL);
  json_t *ro = json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:i,s:i}", "service", "web", "generation", 3,
                         "state", "Stalled", "message", "web-3-ab12c: readiness probe failing",
                         "desired", 3, "updated", 1, "ready", 2, "available", 2);
  cleanup_free char *d
      = ctl_describe_service(svc, reps, evs, ctl_parse_time("2026-11-28T00:00:10Z"));
  cleanup_free char *line = ctl_rollout_line(ro);

  CHECK_CONTAINS(d, "Name:          big\n");
  CHECK_CONTAINS(d, "Resources:     cpu 64, memory 1Gi\n");
  CHECK_CONTAINS(d, "Ports:         8080:30080\n");
  CHECK_CONTAINS(d, "Readiness:     tcp :8080 every 5s, timeout 1s, 3 failures\n");
  CHECK_CONTAINS(d, "Rollout:       Progressing (0 of 1)\n");
  CHECK_CONTAINS(d, "no node has 64 cpu free");
  CHECK_CONTAINS(d, "10s         Warning   FailedScheduling   replica/big-1-aaaaa");
  CHECK(strstr(d, "bigger-1-bbbbb") == NULL); /* another service's replica */
  CHECK_STR_EQ(line, "service web: generation 3 Stalled: web-3-ab12c: readiness probe failing "
                     "(desired 3, updated 1, ready 2, available 2)");
  json_decref(svc);
  json_decref(reps);
  json_decref(evs);
  json_decref(ro);
}

int main(void)
{
  RUN_TEST(test_resolve_precedence);
  RUN_TEST(test_resolve_url_forms);
  RUN_TEST(test_load_target_data_dir);
  RUN_TEST(test_cmdline_ok);
  RUN_TEST(test_cmdline_errors);
  RUN_TEST(test_table_alignment);
  RUN_TEST(test_table_no_trailing_blanks);
  RUN_TEST(test_age);
  RUN_TEST(test_lines_split);
  RUN_TEST(test_error_message);
  RUN_TEST(test_unreachable_message);
  RUN_TEST(test_servers_table);
  RUN_TEST(test_rows_from_api_objects);
  RUN_TEST(test_describe_service);
  return CHECK_DONE();
}
