/* test_proxy_limits.c - the published ports' limits of the proxy on real loopback sockets
 * (proxy_set_limits; tests/unit/test_proxy.c drives its data path): one client address
 * cannot hold more than max_per_client connections, a full table makes room for a new
 * client (the least recently active goes), an idle connection is closed after idle_ms.
 * The upstream is an echo server driven by the same loop; clients bind source addresses
 * in 127.0.0.0/8 to be different "clients". */
#include "check.h"
#include "proxy.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>

#define MAX_UP 256

struct rig
{
  struct skiff_proxy *p;
  int target; /* echo server's listener */
  int up[MAX_UP];
  int n_up;
  int port; /* the proxy's */
};

static int listen_any(int *port)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 512) < 0
      || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
    return -1;
  *port = ntohs(a.sin_port);
  return fd;
}

static bool rig_init(struct rig *r, const struct proxy_limits *lim)
{
  memset(r, 0, sizeof(*r));
  int tport = 0;
  r->target = listen_any(&tport);
  struct skiff_err *err = NULL;
  r->p = proxy_new();
  proxy_set_limits(r->p, lim);
  /* a free port for the proxy: bind 0, note it, give it back */
  int probe = listen_any(&r->port);
  close(probe);
  return r->target >= 0 && r->p
         && proxy_add(r->p, "127.0.0.1", r->port, "127.0.0.1", tport, &err) == 0;
}

static void rig_fini(struct rig *r)
{
  for (int i = 0; i < r->n_up; i++)
    if (r->up[i] >= 0)
      close(r->up[i]);
  close(r->target);
  proxy_free(r->p);
}

/* Drive the proxy and the echo server for ms milliseconds. */
static void rig_run(struct rig *r, int ms)
{
  long long end = skiff_now_ms() + ms;
  while (skiff_now_ms() < end)
    {
      struct pollfd pf[2 + MAX_UP];
      pf[0] = (struct pollfd){.fd = proxy_fd(r->p), .events = POLLIN};
      pf[1] = (struct pollfd){.fd = r->target, .events = POLLIN};
      for (int i = 0; i < r->n_up; i++)
        pf[2 + i] = (struct pollfd){.fd = r->up[i], .events = POLLIN};
      int polled = r->n_up;
      poll(pf, 2 + polled, 10);
      proxy_dispatch(r->p);
      proxy_expire(r->p);
      int fd;
      while (r->n_up < MAX_UP
             && (fd = accept4(r->target, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
        r->up[r->n_up++] = fd;
      for (int i = 0; i < polled; i++)
        if (r->up[i] >= 0 && (pf[2 + i].revents & (POLLIN | POLLHUP)))
          {
            char buf[256];
            ssize_t n = read(r->up[i], buf, sizeof(buf));
            if (n > 0)
              skiff_write_all(r->up[i], buf, (size_t)n);
            else if (n < 0 && errno == EAGAIN)
              continue;
            else
              {
                close(r->up[i]);
                r->up[i] = -1;
              }
          }
    }
}

/* A client from source address 127.0.0.SRC, connected (the proxy may close it later). */
static int client(struct rig *r, int src)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in s = {.sin_family = AF_INET};
  s.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src);
  struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
  d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0
      || connect(fd, (struct sockaddr *)&d, sizeof(d)) < 0)
    {
      if (fd >= 0)
        close(fd);
      return -1;
    }
  return fd;
}

/* Closed by the proxy: EOF or reset, without blocking. */
static bool closed_by_proxy(int fd)
{
  char b;
  ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Send "ping" through the proxy and read the echo, driving the loop meanwhile. */
static bool echoes(struct rig *r, int fd)
{
  if (write(fd, "ping", 4) != 4)
    return false;
  char buf[8];
  size_t got = 0;
  for (int i = 0; i < 100 && got < 4; i++)
    {
      rig_run(r, 10);
      ssize_t n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
      if (n > 0)
        got += (size_t)n;
      else if (n == 0)
        return false;
    }
  return got == 4 && memcmp(buf, "ping", 4) == 0;
}

static void test_per_client_cap(void)
{
  struct proxy_limits lim
      = {.max_conns = 64, .max_per_client = 8, .idle_ms = 60000, .connect_ms = 10000};
  struct rig r;
  CHECK(rig_init(&r, &lim));
  int fds[20], closed = 0;
  for (int i = 0; i < 20; i++)
    fds[i] = client(&r, 2);
  rig_run(&r, 300);
  CHECK(proxy_conn_count(r.p) == 8);
  for (int i = 0; i < 20; i++)
    closed += fds[i] < 0 || closed_by_proxy(fds[i]);
  CHECK(closed == 12);
  /* another address is served */
  int other = client(&r, 3);
  CHECK(other >= 0 && echoes(&r, other));
  for (int i = 0; i < 20; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  close(other);
  rig_fini(&r);
}

static void test_full_table_makes_room(void)
{
  struct proxy_limits lim
      = {.max_conns = 32, .max_per_client = 8, .idle_ms = 60000, .connect_ms = 10000};
  struct rig r;
  CHECK(rig_init(&r, &lim));
  int fds[64];
  for (int i = 0; i < 64; i++) /* 8 idle clients from each of 8 addresses */
    {
      fds[i] = client(&r, 10 + i / 8);
      rig_run(&r, 2);
    }
  rig_run(&r, 200);
  CHECK(proxy_conn_count(r.p) <= 32);
  int fresh = client(&r, 100);
  CHECK(fresh >= 0 && echoes(&r, fresh));
  CHECK(proxy_conn_count(r.p) <= 32);
  CHECK(closed_by_proxy(fds[0])); /* the least recently active went */
  for (int i = 0; i < 64; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  close(fresh);
  rig_fini(&r);
}

static void test_idle_timeout(void)
{
  struct proxy_limits lim
      = {.max_conns = 16, .max_per_client = 8, .idle_ms = 300, .connect_ms = 200};
  struct rig r;
  CHECK(rig_init(&r, &lim));
  int idle = client(&r, 20), busy = client(&r, 21);
  CHECK(idle >= 0 && busy >= 0);
  rig_run(&r, 50);
  CHECK(proxy_conn_count(r.p) == 2);
  for (int i = 0; i < 8; i++) /* busy talks every 100 ms, idle says nothing */
    {
      rig_run(&r, 100);
      CHECK(echoes(&r, busy));
    }
  /* 800 ms > idle_ms + the 250 ms between expire's scans */
  CHECK(closed_by_proxy(idle));
  CHECK(echoes(&r, busy));
  CHECK(proxy_conn_count(r.p) == 1);
  CHECK(proxy_timeout_ms(r.p) >= 0 && proxy_timeout_ms(r.p) <= 300);
  close(idle);
  close(busy);
  rig_fini(&r);
}

int main(void)
{
  RUN_TEST(test_per_client_cap);
  RUN_TEST(test_full_table_makes_room);
  RUN_TEST(test_idle_timeout);
  return CHECK_DONE();
}
