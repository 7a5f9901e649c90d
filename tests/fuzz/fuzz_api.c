/* fuzz_api.c - libFuzzer harness over the HTTP routing and body parsing of a real server
 * instance: the store (SQLite in a temp dir), the credential table, the cluster view and the
 * controller, and the API on libmicrohttpd listening on a loopback port, as `skiffd server`
 * wires them (plain HTTP: TLS is GnuTLS's, the routes and bodies are ours).  Each input is
 * one request sent over a real TCP connection; the harness runs the server loop until the
 * answer is in.
 *
 * Input: byte 0 picks the credential (0 none, 1 admin, 2 node n1, 3 join token, 4 a forged
 * one); byte 1 the method (GET POST PUT DELETE PATCH HEAD), or >= 0xf0 sends the rest raw;
 * then the path up to the first '\n' (bytes outside URL-safe ones are %-escaped, so the
 * routing sees them unescaped), then the body.
 *
 * Beyond crashes (ASan/UBSan), what must hold: a request without a valid credential
 * changes nothing in the store; a node's credential changes no service; every answer is an
 * HTTP status line; an error answer in JSON names its code. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api_internal.h"
#include "client.h"
#include "cluster.h"
#include "controller.h"
#include "security.h"
#include "trust.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cluster cl;
static struct security sec;
static struct api *api;
static struct controller *ctl;
static int port;
static char *cred[5]; /* by selector; [0] none */

static int free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0
      || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
    abort();
  close(fd);
  return ntohs(a.sin_port);
}

/* Send req, run the server until it answered and closed (or wait_ms passed: a raw request
 * may leave libmicrohttpd waiting for the rest of its headers); the answer (malloc'd). */
static char *roundtrip(const char *req, size_t len, int wait_ms)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
    abort();
  size_t sent = 0, got = 0, cap = 4096;
  char *out = xmalloc(cap);
  long long deadline = skiff_now_ms() + wait_ms;
  bool shut = false;
  while (skiff_now_ms() < deadline)
    {
      if (sent < len)
        {
          ssize_t n = send(fd, req + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
          if (n > 0)
            sent += (size_t)n;
          else if (n < 0 && errno != EAGAIN)
            sent = len; /* the server closed early: fine, read its answer */
        }
      else if (!shut)
        {
          shutdown(fd, SHUT_WR);
          shut = true;
        }
      api_run(api);
      /* wake for the server's work as for the answer */
      struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = api_fd(api), .events = POLLIN}};
      if (poll(p, 2, 5) > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
        {
          if (got + 4096 > cap)
            out = xrealloc(out, cap *= 2);
          ssize_t n = recv(fd, out + got, cap - got - 1, MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN))
            break;
          if (n > 0)
            got += (size_t)n;
        }
    }
  close(fd);
  for (int i = 0; i < 5; i++) /* let the server see the close */
    api_run(api);
  out[got] = '\0';
  return out;
}

static char *request(const char *method, const char *path, const char *credential, const char *body)
{
  char *auth = credential ? xasprintf("Authorization: Bearer %s\r\n", credential) : xstrdup("");
  char *req = xasprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        method, path, auth, strlen(body), body);
  char *out = roundtrip(req, strlen(req), 3000);
  free(auth);
  free(req);
  return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  char tmpl[] = "/tmp/skiff-fuzz-api-XXXXXX";
  char *dir = mkdtemp(tmpl);
  struct skiff_err *err = NULL;
  struct store *store = NULL;
  port = free_port();
  char *listen = xasprintf("127.0.0.1:%d", port);
  if (dir == NULL || store_sqlite_open(dir, &store, &err) < 0
      || security_open(&sec, store, dir, listen, NULL, &err) < 0
      || cluster_open(&cl, store, &err) < 0)
    {
      fprintf(stderr, "fuzz_api: %s\n", err ? err->msg : "mkdtemp");
      abort();
    }
  cluster_set_store_observer(&cl, security_store_event, &sec);
  cl.heartbeat_policy = (struct rc_heartbeat_policy){.period = 1200, .grace = 3600};
  ctl = controller_new(&cl, cluster_now());
  struct api_config cfg = {.listen = listen,
                           .auth = &sec.auth,
                           .ca_cert = sec.pki.ca_cert,
                           .ca_hash = sec.pki.ca_hash,
                           .max_conns = 64,
                           .max_conns_per_client = 64,
                           .idle_timeout = 5};
  api = api_start(&cl, &cfg, &err);
  if (api == NULL)
    abort();
  api->stopping = true; /* watch streams end once they sent what there is */
  free(listen);
  /* the credentials the inputs pick from */
  char *path = xasprintf("%s/token", dir), *jpath = xasprintf("%s/join-token", dir);
  if (client_read_token_file(path, &cred[1], &err) < 0
      || client_read_token_file(jpath, &cred[3], &err) < 0)
    abort();
  char *joined = strstr(cred[3], "::") ? strrchr(cred[3], ':') + 1 : cred[3];
  memmove(cred[3], joined, strlen(joined) + 1);
  cred[4] = xstrdup("abcdef.0123456789abcdefghijklmnopqrstuv");
  /* a node, a service with replicas bound to it, and n1's own credential */
  free(request(
      "POST", "/v1/nodes", cred[1],
      "{\"name\":\"n1\",\"address\":\"127.0.0.1\",\"capacity\":{\"cpu\":8,\"memory\":\"8Gi\"}}"));
  free(request("POST", "/v1/apply", cred[1],
               "{\"name\":\"web\",\"image\":\"webapp\",\"replicas\":2}"));
  for (int i = 0; i < 3; i++)
    controller_tick(ctl, cluster_now() + i);
  char *ans = request("POST", "/v1/join", cred[1], "{\"node\":\"n1\"}");
  char *body = strstr(ans, "\r\n\r\n");
  json_t *o = body ? json_loads(body + 4, 0, NULL) : NULL;
  if (json_string_value(json_object_get(o, "token")) == NULL)
    abort();
  cred[2] = xstrdup(json_string_value(json_object_get(o, "token")));
  json_decref(o);
  free(ans);
  free(path);
  free(jpath);
  return 0;
}

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  unsigned who = data[0] % 5;
  bool raw = data[1] >= 0xf0;
  const char *method = methods[data[1] % 6];
  const uint8_t *p = data + 2, *end = data + size;
  const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
  const uint8_t *path_end = nl ? nl : end;
  char *req;
  size_t len;
  if (raw)
    {
      len = (size_t)(end - p);
      req = xmalloc(len + 1);
      memcpy(req, p, len);
    }
  else
    {
      /* the path: URL-safe bytes as they are, the others %-escaped (unescaped by the server) */
      size_t n = (size_t)(path_end - p);
      char *path = xmalloc(3 * n + 2), *q = path;
      if (n == 0 || p[0] != '/')
        *q++ = '/';
      for (size_t i = 0; i < n; i++)
        {
          unsigned char ch = p[i];
          if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || strchr("/._~-?=&", ch))
            *q++ = (char)ch;
          else
            q += sprintf(q, "%%%02X", ch);
        }
      *q = '\0';
      const uint8_t *body = nl ? nl + 1 : end;
      size_t blen = (size_t)(end - body);
      char *auth = cred[who] ? xasprintf("Authorization: Bearer %s\r\n", cred[who]) : xstrdup("");
      char *head = xasprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                             "Content-Length: %zu\r\n\r\n",
                             method, path, auth, blen);
      size_t hl = strlen(head);
      len = hl + blen;
      req = xmalloc(len + 1);
      memcpy(req, head, hl);
      memcpy(req + hl, body, blen);
      free(head);
      free(auth);
      free(path);
    }
  int64_t rev = store_revision(cl.store);
  json_t *services = json_deep_copy(cl.view.services);
  char *ans = roundtrip(req, len, raw ? 200 : 3000);
  /* a stranger (no credential, a forged one) changed nothing */
  if (!raw && (who == 0 || who == 4) && store_revision(cl.store) != rev)
    abort();
  /* a node changed no service */
  if (!raw && who == 2 && !json_equal(services, cl.view.services))
    abort();
  /* an answer is an HTTP status line, its JSON error names its code */
  if (ans[0] && strncmp(ans, "HTTP/1.", 7) != 0)
    abort();
  if (!raw && strncmp(ans, "HTTP/1.1 4", 10) == 0 && strstr(ans, "application/json"))
    {
      char *b = strstr(ans, "\r\n\r\n");
      json_t *o = b ? json_loads(b + 4, 0, NULL) : NULL;
      int code = atoi(ans + 9);
      if (o && json_integer_value(json_object_get(o, "code")) != code)
        abort();
      json_decref(o);
    }
  /* the controller runs as in the server loop (its writes are not the request's) */
  if (controller_dirty(ctl))
    controller_tick(ctl, cluster_now());
  cluster_flush_events(&cl);
  json_decref(services);
  free(ans);
  free(req);
  return 0;
}
