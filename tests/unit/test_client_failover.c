/* test_client_failover.c - client.c with several servers ("URL,URL"), against real HTTP
 * servers on loopback (libmicrohttpd, in this process): a refused server and one answering
 * 503 are passed over, the client stays on the one that answered, watch streams and raw
 * (logs) streams move too, and the message when none answers names each. */
#include "check.h"
#include "client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

struct fake
{
  struct MHD_Daemon *d;
  int port;
  unsigned status;
  int hits;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
  struct fake *f = cls;
  (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
  f->hits++;
  char body[128];
  if (f->status == 200)
    snprintf(body, sizeof(body), "{\"port\":%d}\n%s", f->port,
             strcmp(url, "/v1/watch") == 0 ? "{\"n\":\"second\"}\n" : "");
  else
    snprintf(body, sizeof(body), "{\"error\":\"store unavailable\",\"code\":%u}\n", f->status);
  struct MHD_Response *r
      = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret = MHD_queue_response(c, f->status, r);
  MHD_destroy_response(r);
  return ret;
}

static void fake_start(struct fake *f, unsigned status)
{
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  f->status = status;
  f->hits = 0;
  f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, f,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
  const union MHD_DaemonInfo *info
      = f->d ? MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
  f->port = info ? info->port : 0;
}

/* A loopback port nothing listens on (bound, then closed). */
static int dead_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  getsockname(fd, (struct sockaddr *)&sa, &len);
  close(fd);
  return ntohs(sa.sin_port);
}

static void test_resolve_list(void)
{
  struct client_target t;
  cleanup_err struct skiff_err *err = NULL;
  CHECK(client_resolve_target("a:1, http://b:2/", NULL, NULL, NULL, NULL, &t, &err) < 0);
  skiff_err_free(&err);
  CHECK(client_resolve_target("a:1,http://b:2/", NULL, NULL, NULL, NULL, &t, &err) == 0);
  CHECK_STR_EQ(t.server, "https://a:1,http://b:2");
  client_target_clear(&t);
  CHECK(client_resolve_target(NULL, NULL, "http://a:1,ftp://x", NULL, NULL, &t, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "ftp://x");
}

static void test_request_fails_over(void)
{
  struct fake busy, good;
  fake_start(&busy, 503);
  fake_start(&good, 200);
  CHECK(busy.d && good.d);
  cleanup_free char *list = xasprintf("http://127.0.0.1:%d,http://127.0.0.1:%d,http://127.0.0.1:%d",
                                      dead_port(), busy.port, good.port);
  cleanup_free char *good_url = xasprintf("http://127.0.0.1:%d", good.port);
  struct client *c = client_new(list, "t", 2000);
  cleanup_err struct skiff_err *err = NULL;
  long status = 0;
  json_t *resp = NULL;
  CHECK(client_request(c, "GET", "/v1/nodes", NULL, &status, &resp, &err) == 0);
  CHECK(status == 200 && json_integer_value(json_object_get(resp, "port")) == good.port);
  CHECK(busy.hits == 1);
  CHECK_STR_EQ(client_server(c), good_url);
  json_decref(resp);
  /* It stays on the server that answered. */
  CHECK(client_call(c, "GET", "/v1/nodes", NULL, &status, NULL, &err) == 0);
  CHECK(busy.hits == 1 && good.hits == 2);
  /* The good one goes away: the next request comes back round to the 503 one, whose answer
   * is returned when it is the last left. */
  MHD_stop_daemon(good.d);
  CHECK(client_request(c, "GET", "/v1/nodes", NULL, &status, NULL, &err) == 0);
  CHECK(status == 503 && busy.hits == 2);
  client_free(c);
  MHD_stop_daemon(busy.d);
}

static int first_line(json_t *o, void *data)
{
  *(int *)data = (int)json_integer_value(json_object_get(o, "port"));
  return 1;
}

static void test_stream_fails_over(void)
{
  struct fake good;
  fake_start(&good, 200);
  cleanup_free char *list
      = xasprintf("http://127.0.0.1:%d,http://127.0.0.1:%d", dead_port(), good.port);
  struct client *c = client_new(list, "t", 2000);
  cleanup_err struct skiff_err *err = NULL;
  int port = 0;
  CHECK(client_stream(c, "/v1/watch", first_line, &port, &err) == 0);
  CHECK(port == good.port);
  client_free(c);
  MHD_stop_daemon(good.d);
}

struct raw_seen
{
  long codes[4];
  int ncodes;
  char data[128];
  size_t len;
};

static int raw_status(long code, void *arg)
{
  struct raw_seen *r = arg;
  if (r->ncodes < 4)
    r->codes[r->ncodes++] = code;
  return 0;
}

static int raw_data(const char *buf, size_t len, void *arg)
{
  struct raw_seen *r = arg;
  size_t n = len < sizeof(r->data) - 1 - r->len ? len : sizeof(r->data) - 1 - r->len;
  memcpy(r->data + r->len, buf, n);
  r->len += n;
  r->data[r->len] = '\0';
  return 0;
}

/* `skiffctl logs` on several servers: a dead one and a 503 are passed over, and the caller's
 * status callback hears only the answer that counts. */
static void test_raw_stream_fails_over(void)
{
  struct fake busy, good;
  fake_start(&busy, 503);
  fake_start(&good, 200);
  cleanup_free char *list = xasprintf("http://127.0.0.1:%d,http://127.0.0.1:%d,http://127.0.0.1:%d",
                                      dead_port(), busy.port, good.port);
  struct client *c = client_new(list, "t", 2000);
  cleanup_err struct skiff_err *err = NULL;
  struct raw_seen seen = {0};
  struct client_raw_cbs cbs = {.status = raw_status, .data = raw_data, .arg = &seen};
  long status = 0;
  CHECK(client_stream_raw(c, "/v1/replicas/r/logs", &cbs, &status, &err) == 0);
  CHECK(status == 200 && busy.hits == 1);
  CHECK(seen.ncodes == 1 && seen.codes[0] == 200);
  cleanup_free char *want = xasprintf("{\"port\":%d}\n", good.port);
  CHECK_STR_EQ(seen.data, want);
  /* The last server left answering 503: that answer is the caller's. */
  MHD_stop_daemon(good.d);
  seen = (struct raw_seen){0};
  CHECK(client_stream_raw(c, "/v1/replicas/r/logs", &cbs, &status, &err) < 0);
  CHECK(status == 503 && seen.ncodes == 1 && seen.codes[0] == 503);
  CHECK_CONTAINS(err ? err->msg : NULL, "store unavailable");
  client_free(c);
  MHD_stop_daemon(busy.d);
}

static void test_none_answers(void)
{
  int a = dead_port(), b = dead_port();
  cleanup_free char *list = xasprintf("http://127.0.0.1:%d,http://127.0.0.1:%d", a, b);
  cleanup_free char *want = xasprintf("cannot reach any server (http://127.0.0.1:%d: Connection "
                                      "refused; http://127.0.0.1:%d: Connection refused)",
                                      a, b);
  struct client *c = client_new(list, "t", 2000);
  cleanup_err struct skiff_err *err = NULL;
  CHECK(client_request(c, "GET", "/healthz", NULL, NULL, NULL, &err) < 0);
  CHECK_STR_EQ(err ? err->msg : NULL, want);
  client_free(c);
}

int main(void)
{
  RUN_TEST(test_resolve_list);
  RUN_TEST(test_request_fails_over);
  RUN_TEST(test_stream_fails_over);
  RUN_TEST(test_raw_stream_fails_over);
  RUN_TEST(test_none_answers);
  return CHECK_DONE();
}
