/* test_proxy.c - the userspace TCP proxy (runtime/net/proxy.c) on loopback, its loop in a
 * thread: bytes arrive intact both ways through a slow reader (the spill path), a FIN right
 * behind the data still ends the direction, an upstream that closes ends the client's side,
 * a refused pick or a full proxy resets the client, and proxy_reset_if resets the
 * connections of the tags it refuses. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "check.h"
#include "proxy.h"

struct loop
{
  struct skiff_proxy *p;
  pthread_t thread;
  atomic_int stop;
  int evfd;
  uint64_t refuse_tag; /* proxy_reset_if drops this tag when the hook runs */
  struct sockaddr_in upstream;
  int pick_fails;
  uint64_t next_tag;
};

static int pick(void *arg, struct sockaddr_in *target, uint64_t *tag)
{
  struct loop *l = arg;
  if (l->pick_fails)
    return -1;
  *target = l->upstream;
  *tag = ++l->next_tag;
  return 0;
}

static bool keep(void *arg, uint64_t tag)
{
  return tag != ((struct loop *)arg)->refuse_tag;
}

static void hook(void *arg)
{
  struct loop *l = arg;
  uint64_t v;
  if (read(l->evfd, &v, sizeof(v)) == sizeof(v))
    proxy_reset_if(l->p, keep, l);
}

static void *run(void *arg)
{
  struct loop *l = arg;
  while (!l->stop)
    proxy_run(l->p, 20);
  return NULL;
}

static int listen_any(struct sockaddr_in *addr)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t len = sizeof(*addr);
  memset(addr, 0, sizeof(*addr));
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0 || listen(fd, 64) < 0
      || getsockname(fd, (struct sockaddr *)addr, &len) < 0)
    abort();
  return fd;
}

/* A proxy loop whose listener forwards to a fresh upstream listener (*up). */
static void start(struct loop *l, int *up, struct sockaddr_in *front)
{
  memset(l, 0, sizeof(*l));
  l->p = proxy_new();
  *up = listen_any(&l->upstream);
  int fd = listen_any(front);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  CHECK(proxy_add_listener(l->p, fd, pick, l, NULL) == 0);
  l->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  CHECK(proxy_add_hook(l->p, l->evfd, hook, l) == 0);
  pthread_create(&l->thread, NULL, run, l);
}

static void stop(struct loop *l, int up)
{
  l->stop = 1;
  pthread_join(l->thread, NULL);
  proxy_free(l->p);
  close(l->evfd);
  close(up);
}

static int dial(const struct sockaddr_in *a)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
    abort();
  return fd;
}

static int accept_up(int up)
{
  int fd = accept4(up, NULL, NULL, SOCK_CLOEXEC);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

/* Read until EOF (returns bytes) or error (-errno); sums the bytes into *sum. */
static long read_all(int fd, uint64_t *sum)
{
  unsigned char buf[8192];
  long total = 0;
  for (;;)
    {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n == 0)
        return total;
      if (n < 0)
        return -errno;
      for (ssize_t i = 0; i < n; i++)
        *sum += buf[i] * (uint64_t)(total + i + 1);
      total += n;
    }
}

struct writer
{
  int fd;
  long bytes;
  uint64_t sum;
};

static void *write_then_shut(void *arg)
{
  struct writer *w = arg;
  unsigned char buf[7919];
  long done = 0;
  while (done < w->bytes)
    {
      size_t n = sizeof(buf) < (size_t)(w->bytes - done) ? sizeof(buf) : (size_t)(w->bytes - done);
      for (size_t i = 0; i < n; i++)
        {
          buf[i] = (unsigned char)((done + (long)i) * 31 + 7);
          w->sum += buf[i] * (uint64_t)(done + (long)i + 1);
        }
      ssize_t m = write(w->fd, buf, n);
      if (m <= 0)
        break;
      if ((size_t)m < n)
        for (size_t i = (size_t)m; i < n; i++)
          w->sum -= buf[i] * (uint64_t)(done + (long)i + 1);
      done += m;
    }
  shutdown(w->fd, SHUT_WR);
  return NULL;
}

static void test_bulk_both_ways(void)
{
  struct loop l;
  struct sockaddr_in front;
  int up;
  start(&l, &up, &front);
  /* 16 MB each way at once, three times; the readers start late, so the proxy's writes hit
   * full buffers and the FINs arrive while a direction is blocked */
  for (int round = 0; round < 3; round++)
    {
      int c = dial(&front), u = accept_up(up);
      CHECK(u >= 0);
      struct writer wc = {c, 16 << 20, 0}, wu = {u, 16 << 20, 0};
      pthread_t tc, tu;
      pthread_create(&tc, NULL, write_then_shut, &wc);
      pthread_create(&tu, NULL, write_then_shut, &wu);
      usleep(100000);
      uint64_t got_u = 0, got_c = 0;
      long nu = read_all(u, &got_u); /* what the client sent, then its FIN */
      long nc = read_all(c, &got_c);
      pthread_join(tu, NULL);
      pthread_join(tc, NULL);
      CHECK(nu == 16 << 20 && got_u == wc.sum);
      CHECK(nc == 16 << 20 && got_c == wu.sum);
      close(c);
      close(u);
    }
  stop(&l, up);
}

static void test_fin_behind_data(void)
{
  struct loop l;
  struct sockaddr_in front;
  int up;
  start(&l, &up, &front);
  for (int i = 0; i < 20; i++)
    {
      int c = dial(&front);
      /* data and FIN in one go, before the upstream is even accepted */
      CHECK(write(c, "hello", 5) == 5);
      shutdown(c, SHUT_WR);
      int u = accept_up(up);
      char buf[16];
      uint64_t sum = 0;
      CHECK(read(u, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
      CHECK(read_all(u, &sum) == 0); /* EOF, not a timeout */
      /* the upstream answers and closes: the client gets it and EOF */
      CHECK(write(u, "bye", 3) == 3);
      close(u);
      CHECK(read(c, buf, 3) == 3 && memcmp(buf, "bye", 3) == 0);
      CHECK(read_all(c, &sum) == 0);
      close(c);
    }
  stop(&l, up);
}

static void test_resets(void)
{
  struct loop l;
  struct sockaddr_in front;
  int up;
  uint64_t sum = 0;
  start(&l, &up, &front);

  /* proxy_reset_if: the refused connection is reset, the other goes on */
  int c1 = dial(&front), u1 = accept_up(up);
  int c2 = dial(&front), u2 = accept_up(up);
  CHECK(write(c1, "a", 1) == 1 && write(c2, "b", 1) == 1);
  char b;
  CHECK(read(u1, &b, 1) == 1 && read(u2, &b, 1) == 1);
  l.refuse_tag = 1; /* the first connection's tag */
  uint64_t one = 1;
  CHECK(write(l.evfd, &one, sizeof(one)) == sizeof(one));
  CHECK(read_all(c1, &sum) == -ECONNRESET);
  CHECK(write(u2, "x", 1) == 1 && read(c2, &b, 1) == 1 && b == 'x');
  close(c1);
  close(c2);
  close(u1);
  close(u2);

  /* no endpoint: the client is reset at once */
  l.pick_fails = 1;
  int c3 = dial(&front);
  CHECK(read_all(c3, &sum) == -ECONNRESET);
  close(c3);
  l.pick_fails = 0;
  stop(&l, up);

  /* a full proxy refuses more clients instead of growing */
  start(&l, &up, &front);
  proxy_set_max_conns(l.p, 2);
  int a = dial(&front), bb = dial(&front);
  int ua = accept_up(up), ub = accept_up(up);
  int x = dial(&front);
  CHECK(read_all(x, &sum) == -ECONNRESET);
  CHECK(proxy_conn_count(l.p) == 2);
  close(x);
  close(a);
  close(bb);
  close(ua);
  close(ub);
  stop(&l, up);
}

static void test_upstream_refused(void)
{
  struct loop l;
  struct sockaddr_in front;
  int up;
  uint64_t sum = 0;
  start(&l, &up, &front);
  close(up); /* nothing listens upstream any more */
  up = socket(AF_INET, SOCK_STREAM, 0);
  int c = dial(&front);
  long r = read_all(c, &sum);
  CHECK(r == 0 || r == -ECONNRESET); /* ended, not hung */
  close(c);
  stop(&l, up);
}

int main(void)
{
  signal(SIGPIPE, SIG_IGN);
  RUN_TEST(test_bulk_both_ways);
  RUN_TEST(test_fin_behind_data);
  RUN_TEST(test_resets);
  RUN_TEST(test_upstream_refused);
  return CHECK_DONE();
}
