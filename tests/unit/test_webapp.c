/* test_webapp.c - unit tests of the sample web app's logic (examples/webapp): command line,
 * identity, routing, every endpoint's response, metrics rendering, without sockets. */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "check.h"

static struct webapp_config cfg;
static struct webapp_state st;

/* Query arguments for a request: "key=value" pairs, NULL-terminated. */
static const char *fake_arg(void *ctx, const char *key)
{
  const char *const *kv = ctx;
  size_t n = strlen(key);
  for (; kv && *kv; kv++)
    if (strncmp(*kv, key, n) == 0 && (*kv)[n] == '=')
      return *kv + n + 1;
  return NULL;
}

static void setup(int ready_after, int allow_crash)
{
  char *argv[] = {"webapp", NULL};
  webapp_config_parse(&cfg, 1, argv, NULL, NULL);
  cfg.ready_after_s = ready_after;
  cfg.allow_crash = allow_crash;
  cfg.max_work_ms = 50;
  struct webapp_identity id;
  webapp_identity_init(&id, "web-<1>", "node-a", "host-1", NULL, 1700000000, 42);
  webapp_state_init(&st, &cfg, &id, 1000);
}

/* Run one request at monotonic time now_ms; the caller frees resp. */
static void request(const char *method, const char *path, const char *const *args, uint64_t now_ms,
                    struct webapp_response *resp)
{
  struct webapp_request req = {
      .method = method,
      .path = path,
      .arg = fake_arg,
      .arg_ctx = (void *)args,
      .now_ms = now_ms,
      .sequence = webapp_metrics_request_started(&st.metrics),
  };
  webapp_handle(&st, &req, resp);
  webapp_metrics_request_done(&st.metrics, webapp_route_lookup(path), resp->status, 100);
}

static void test_config_defaults(void)
{
  char *argv[] = {"webapp", NULL};
  struct webapp_config c;
  CHECK(webapp_config_parse(&c, 1, argv, NULL, NULL) == 0);
  CHECK(c.port == 8080);
  CHECK(c.allow_crash == 0);
  CHECK(c.ready_after_s == 0);
  CHECK(c.max_work_ms == 10000);
  CHECK(c.bind == NULL && c.version == NULL);
  CHECK(c.timeout_s > 0 && c.max_conns > 0 && c.conn_memory > 0);
}

static void test_config_flags(void)
{
  char *argv[] = {"webapp",
                  "--port",
                  "9000",
                  "--ready-after=3",
                  "--allow-crash",
                  "--bind",
                  "127.0.0.1",
                  "--max-work-ms",
                  "200",
                  "--threads=4",
                  "--app-version",
                  "v2",
                  "--timeout",
                  "5",
                  "--grace=7",
                  "--max-conns",
                  "10",
                  NULL};
  struct webapp_config c;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(webapp_config_parse(&c, 17, argv, "7000", &err) == 0);
  CHECK(c.port == 9000); /* the flag wins over PORT */
  CHECK(c.ready_after_s == 3);
  CHECK(c.allow_crash == 1);
  CHECK_STR_EQ(c.bind, "127.0.0.1");
  CHECK(c.max_work_ms == 200);
  CHECK(c.threads == 4);
  CHECK_STR_EQ(c.version, "v2");
  CHECK(c.timeout_s == 5 && c.grace_s == 7 && c.max_conns == 10);
}

static void test_config_port_env(void)
{
  char *argv[] = {"webapp", NULL};
  struct webapp_config c;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(webapp_config_parse(&c, 1, argv, "8181", &err) == 0);
  CHECK(c.port == 8181);
  CHECK(webapp_config_parse(&c, 1, argv, "", &err) == 0);
  CHECK(c.port == 8080);
  CHECK(webapp_config_parse(&c, 1, argv, "80a", &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "PORT `80a`");
}

static void test_config_errors(void)
{
  struct
  {
    int argc;
    char *argv[4];
    const char *msg;
  } cases[] = {
      {2, {"webapp", "--port=70000"}, "invalid --port `70000`"},
      {2, {"webapp", "--port=-1"}, "invalid --port `-1`"},
      {3, {"webapp", "--ready-after", "soon"}, "invalid --ready-after `soon`"},
      {2, {"webapp", "--port"}, "option `--port` needs a value"},
      {2, {"webapp", "--frobnicate"}, "unknown option `--frobnicate`"},
      {2, {"webapp", "--timeout=0"}, "invalid --timeout `0`"},
      {2, {"webapp", "--bind="}, "--bind"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
      struct webapp_config c;
      cleanup_err struct skiff_err *err = NULL;
      CHECK(webapp_config_parse(&c, cases[i].argc, cases[i].argv, NULL, &err) == -1);
      CHECK_CONTAINS(err ? err->msg : NULL, cases[i].msg);
    }
  char *help[] = {"webapp", "--help", NULL};
  struct webapp_config c;
  CHECK(webapp_config_parse(&c, 2, help, NULL, NULL) == WEBAPP_CONFIG_HELP);
  CHECK_CONTAINS(webapp_usage, "SKIFF_REPLICA");
}

static void test_parse_bounded(void)
{
  long v = -7;
  CHECK(webapp_parse_bounded("0", 0, 10, &v) == 0 && v == 0);
  CHECK(webapp_parse_bounded("10", 0, 10, &v) == 0 && v == 10);
  CHECK(webapp_parse_bounded("11", 0, 10, &v) < 0);
  CHECK(webapp_parse_bounded("-1", -5, 10, &v) < 0); /* no signs */
  CHECK(webapp_parse_bounded(" 1", 0, 10, &v) < 0);
  CHECK(webapp_parse_bounded("1 ", 0, 10, &v) < 0);
  CHECK(webapp_parse_bounded("", 0, 10, &v) < 0);
  CHECK(webapp_parse_bounded(NULL, 0, 10, &v) < 0);
  CHECK(webapp_parse_bounded("99999999999999999999999", 0, 10, &v) < 0);
  CHECK(v == 10);
}

static void test_identity_defaults(void)
{
  struct webapp_identity id;
  webapp_identity_init(&id, NULL, "", "box", NULL, 0, 1);
  CHECK_STR_EQ(id.replica, "box");
  CHECK_STR_EQ(id.node, "local");
  CHECK_STR_EQ(id.hostname, "box");
  CHECK_STR_EQ(id.version, WEBAPP_VERSION);
  CHECK_STR_EQ(id.started, "1970-01-01T00:00:00Z");

  char longname[300];
  memset(longname, 'x', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  webapp_identity_init(&id, longname, "n", "h", "v9", 1700000000, 1);
  CHECK(strlen(id.replica) == sizeof(id.replica) - 1);
  CHECK_STR_EQ(id.version, "v9");
  CHECK_STR_EQ(id.started, "2023-11-14T22:13:20Z");
}

static void test_html_escape(void)
{
  cleanup_free char *s = webapp_html_escape("<a href=\"x\">&'</a>");
  CHECK_STR_EQ(s, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  cleanup_free char *e = webapp_html_escape("");
  CHECK_STR_EQ(e, "");
}

static void test_routes_404_405(void)
{
  setup(0, 0);
  struct webapp_response r;
  request("GET", "/nope", NULL, 2000, &r);
  CHECK(r.status == 404);
  webapp_response_free(&r);
  request("GET", "/api/info/", NULL, 2000, &r);
  CHECK(r.status == 404);
  webapp_response_free(&r);
  request("DELETE", "/", NULL, 2000, &r);
  CHECK(r.status == 405);
  CHECK_STR_EQ(r.allow, "GET, HEAD");
  webapp_response_free(&r);
  request("GET", "/crash", NULL, 2000, &r);
  CHECK(r.status == 405);
  CHECK_STR_EQ(r.allow, "POST");
  webapp_response_free(&r);
  request("HEAD", "/healthz", NULL, 2000, &r);
  CHECK(r.status == 200);
  webapp_response_free(&r);
  CHECK(webapp_route_lookup("/metrics") == WEBAPP_ROUTE_METRICS);
  CHECK(webapp_route_lookup("/x") == WEBAPP_ROUTE_NONE);
}

static void test_index_page(void)
{
  setup(0, 0);
  struct webapp_response r;
  request("GET", "/", NULL, 5000, &r);
  CHECK(r.status == 200);
  CHECK_CONTAINS(r.content_type, "text/html");
  CHECK(r.body_len == strlen(r.body));
  CHECK_CONTAINS(r.body, "web-&lt;1&gt;"); /* the replica name is escaped */
  CHECK(strstr(r.body, "web-<1>") == NULL);
  CHECK_CONTAINS(r.body, "<td id=\"node\">node-a</td>");
  CHECK_CONTAINS(r.body, "<td id=\"hostname\">host-1</td>");
  CHECK_CONTAINS(r.body, "<td id=\"version\">" WEBAPP_VERSION "</td>");
  CHECK_CONTAINS(r.body, "<td id=\"started\">2023-11-14T22:13:20Z</td>");
  CHECK_CONTAINS(r.body, "<td id=\"uptime\">4 s</td>");
  CHECK_CONTAINS(r.body, "<td id=\"requests\">1</td>");
  CHECK(strstr(r.body, "http-equiv=\"refresh\"") == NULL);
  webapp_response_free(&r);

  const char *refresh[] = {"refresh=3", NULL};
  request("GET", "/", refresh, 5000, &r);
  CHECK(r.status == 200);
  CHECK_CONTAINS(r.body, "<meta http-equiv=\"refresh\" content=\"3\">");
  CHECK_CONTAINS(r.body, "<td id=\"requests\">2</td>");
  webapp_response_free(&r);

  const char *bad[] = {"refresh=<script>", NULL};
  request("GET", "/", bad, 5000, &r);
  CHECK(r.status == 400);
  webapp_response_free(&r);
}

static void test_api_info(void)
{
  setup(0, 0);
  struct webapp_response r;
  request("GET", "/api/info", NULL, 11000, &r);
  CHECK(r.status == 200);
  CHECK_STR_EQ(r.content_type, "application/json");
  json_error_t jerr;
  json_t *o = json_loadb(r.body, r.body_len, 0, &jerr);
  CHECK(o != NULL);
  CHECK_STR_EQ(json_string_value(json_object_get(o, "replica")), "web-<1>");
  CHECK_STR_EQ(json_string_value(json_object_get(o, "node")), "node-a");
  CHECK_STR_EQ(json_string_value(json_object_get(o, "hostname")), "host-1");
  CHECK_STR_EQ(json_string_value(json_object_get(o, "version")), WEBAPP_VERSION);
  CHECK_STR_EQ(json_string_value(json_object_get(o, "started")), "2023-11-14T22:13:20Z");
  CHECK(json_integer_value(json_object_get(o, "requests")) == 1);
  CHECK(json_integer_value(json_object_get(o, "uptime_seconds")) == 10);
  CHECK(json_integer_value(json_object_get(o, "pid")) == 42);
  CHECK(json_is_true(json_object_get(o, "ready")));
  json_decref(o);
  webapp_response_free(&r);
}

static void test_health_and_readiness(void)
{
  setup(3, 0); /* started at 1000 ms, ready from 4000 ms */
  struct webapp_response r;
  request("GET", "/healthz", NULL, 1500, &r);
  CHECK(r.status == 200);
  webapp_response_free(&r);
  request("GET", "/readyz", NULL, 1500, &r);
  CHECK(r.status == 503);
  CHECK_CONTAINS(r.body, "not ready");
  webapp_response_free(&r);
  request("GET", "/readyz", NULL, 3999, &r);
  CHECK(r.status == 503);
  webapp_response_free(&r);
  request("GET", "/readyz", NULL, 4000, &r);
  CHECK(r.status == 200);
  webapp_response_free(&r);
  atomic_store(&st.draining, 1);
  request("GET", "/readyz", NULL, 9000, &r);
  CHECK(r.status == 503);
  CHECK_CONTAINS(r.body, "shutting down");
  webapp_response_free(&r);
  request("GET", "/healthz", NULL, 9000, &r); /* still alive while draining */
  CHECK(r.status == 200);
  webapp_response_free(&r);
}

static void test_work(void)
{
  setup(0, 0);
  struct webapp_response r;
  struct timespec a, b;
  const char *ms[] = {"ms=20", NULL};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  request("GET", "/work", ms, 2000, &r);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  double spent_ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  CHECK(r.status == 200);
  CHECK_CONTAINS(r.body, "\"ms\":20");
  CHECK(spent_ms >= 20);
  webapp_response_free(&r);

  const char *too_much[] = {"ms=51", NULL}; /* max_work_ms is 50 in setup() */
  request("GET", "/work", too_much, 2000, &r);
  CHECK(r.status == 400);
  CHECK_CONTAINS(r.body, "0..50");
  webapp_response_free(&r);
  const char *junk[] = {"ms=1e3", NULL};
  request("GET", "/work", junk, 2000, &r);
  CHECK(r.status == 400);
  webapp_response_free(&r);
  CHECK(webapp_burn_cpu(0) == 0);
}

static void test_crash(void)
{
  setup(0, 0);
  struct webapp_response r;
  request("POST", "/crash", NULL, 2000, &r);
  CHECK(r.status == 403);
  CHECK(r.exit_after == 0);
  webapp_response_free(&r);
  setup(0, 1);
  request("POST", "/crash", NULL, 2000, &r);
  CHECK(r.status == 200);
  CHECK(r.exit_after == 1);
  webapp_response_free(&r);
}

static void test_metrics_endpoint(void)
{
  setup(0, 0);
  struct webapp_response r;
  request("GET", "/", NULL, 2000, &r);
  webapp_response_free(&r);
  request("GET", "/", NULL, 2000, &r);
  webapp_response_free(&r);
  request("GET", "/missing", NULL, 2000, &r);
  webapp_response_free(&r);
  request("GET", "/metrics", NULL, 2000, &r);
  CHECK(r.status == 200);
  CHECK_CONTAINS(r.content_type, "version=0.0.4");
  CHECK_CONTAINS(r.body, "# TYPE webapp_http_requests_total counter\n");
  CHECK_CONTAINS(r.body, "webapp_http_requests_total{handler=\"/\",code=\"200\"} 2\n");
  CHECK_CONTAINS(r.body, "webapp_http_requests_total{handler=\"none\",code=\"404\"} 1\n");
  /* the /metrics request itself is in flight while it renders */
  CHECK_CONTAINS(r.body, "webapp_http_requests_in_flight 1\n");
  CHECK_CONTAINS(r.body, "webapp_http_request_duration_seconds_count 3\n");
  CHECK_CONTAINS(r.body, "webapp_info{replica=\"web-<1>\",node=\"node-a\"");
  CHECK_CONTAINS(r.body, "webapp_ready 1\n");
  webapp_response_free(&r);
}

static void test_histogram(void)
{
  struct webapp_metrics m;
  webapp_metrics_init(&m);
  webapp_metrics_observe(&m, 100);      /* <= 0.5 ms */
  webapp_metrics_observe(&m, 500);      /* exactly on the bound: le="0.0005" */
  webapp_metrics_observe(&m, 3000);     /* <= 5 ms */
  webapp_metrics_observe(&m, 60000000); /* +Inf */
  struct webapp_metrics_info info = {"r\"1", "n\\1", "v\n1", 0, 0};
  size_t len;
  cleanup_free char *s = webapp_metrics_render(&m, &info, &len);
  CHECK(len == strlen(s));
  CHECK_CONTAINS(s, "webapp_http_request_duration_seconds_bucket{le=\"0.0005\"} 2\n");
  CHECK_CONTAINS(s, "webapp_http_request_duration_seconds_bucket{le=\"0.001\"} 2\n");
  CHECK_CONTAINS(s, "webapp_http_request_duration_seconds_bucket{le=\"0.005\"} 3\n");
  CHECK_CONTAINS(s, "webapp_http_request_duration_seconds_bucket{le=\"10\"} 3\n");
  CHECK_CONTAINS(s, "webapp_http_request_duration_seconds_bucket{le=\"+Inf\"} 4\n");
  CHECK_CONTAINS(s, "webapp_http_request_duration_seconds_sum 60.003600\n");
  CHECK_CONTAINS(s, "webapp_http_request_duration_seconds_count 4\n");
  CHECK_CONTAINS(s, "webapp_info{replica=\"r\\\"1\",node=\"n\\\\1\",version=\"v\\n1\"} 1\n");
  CHECK_CONTAINS(s, "webapp_ready 0\n");
  CHECK(strstr(s, "webapp_http_requests_total{") == NULL); /* no zero series */

  webapp_metrics_request_started(&m);
  webapp_metrics_request_done(&m, WEBAPP_ROUTE_INFO, 299, 10);
  cleanup_free char *t = webapp_metrics_render(&m, NULL, NULL);
  CHECK_CONTAINS(t, "webapp_http_requests_total{handler=\"/api/info\",code=\"other\"} 1\n");
  CHECK_CONTAINS(t, "webapp_http_requests_in_flight 0\n");
  CHECK(strstr(t, "webapp_info") == NULL);
  CHECK(webapp_metrics_requests_total(&m) == 1);
}

int main(void)
{
  RUN_TEST(test_config_defaults);
  RUN_TEST(test_config_flags);
  RUN_TEST(test_config_port_env);
  RUN_TEST(test_config_errors);
  RUN_TEST(test_parse_bounded);
  RUN_TEST(test_identity_defaults);
  RUN_TEST(test_html_escape);
  RUN_TEST(test_routes_404_405);
  RUN_TEST(test_index_page);
  RUN_TEST(test_api_info);
  RUN_TEST(test_health_and_readiness);
  RUN_TEST(test_work);
  RUN_TEST(test_crash);
  RUN_TEST(test_metrics_endpoint);
  RUN_TEST(test_histogram);
  return CHECK_DONE();
}
