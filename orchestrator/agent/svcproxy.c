/* svcproxy.c - the service proxy's listeners and loops (see svcproxy.h).
 *
 * Threads and what they share (everything shared is under sp->lock):
 *   the caller (netagent's applier) calls svcproxy_update: it opens and closes the
 *     listening sockets (sp->listeners) and swaps the table, then wakes every loop;
 *   worker x N, each a struct skiff_proxy (its own epoll, its own connections): on a wake it
 *     dup()s the listeners it lacks into its epoll, drops the ones that went away, and resets
 *     its connections to endpoints that are no longer alive; on each accept it picks the
 *     upstream from the table (round robin, under the lock: one short critical section per
 *     connection, none per byte).
 * A loop owns its connections outright, so moving bytes takes no lock. */
#define _GNU_SOURCE
#include "svcproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include "cidr.h"
#include "proxy.h"

struct listener
{
  uint64_t id; /* never reused: a loop tells its dup'ed copies apart by it */
  int port;
  uint32_t addr;
  int fd;      /* -1 while the port cannot be opened */
  bool logged; /* its failure was reported */
};

struct pick_arg
{
  struct svcproxy *sp;
  int port;
};

struct mine
{
  uint64_t id;
  int fd; /* this loop's dup */
  struct pick_arg *arg;
};

struct worker
{
  struct svcproxy *sp;
  pthread_t thread;
  int evfd;
  struct skiff_proxy *px;
  struct mine *mine;
  size_t n_mine;
};

struct svcproxy
{
  pthread_mutex_t lock; /* guards everything below but workers[i] internals */
  struct svc_table *table;
  struct listener *listeners;
  size_t n_listeners;
  uint64_t next_id;
  uint32_t addrs[2]; /* 127.0.0.1 and the node address */
  int n_addrs;
  atomic_int stopping;
  struct worker workers[SVCPROXY_MAX_WORKERS];
  int n_workers;
};

/* ---- in a loop ---------------------------------------------------------------------------- */

static int pick(void *arg, struct sockaddr_in *target, uint64_t *tag)
{
  struct pick_arg *pa = arg;
  int ret = -1;
  pthread_mutex_lock(&pa->sp->lock);
  const struct svc_endpoint *e = svc_port_pick(svc_table_port(pa->sp->table, pa->port));
  if (e)
    {
      target->sin_family = AF_INET;
      target->sin_addr.s_addr = htonl(e->addr);
      target->sin_port = htons((uint16_t)e->port);
      *tag = e->id;
      ret = 0;
    }
  pthread_mutex_unlock(&pa->sp->lock);
  return ret;
}

static bool keep_alive(void *arg, uint64_t tag)
{
  return svc_table_alive(arg, tag);
}

static bool listener_open(const struct svcproxy *sp, uint64_t id)
{
  for (size_t i = 0; i < sp->n_listeners; i++)
    if (sp->listeners[i].id == id)
      return sp->listeners[i].fd >= 0;
  return false;
}

/* The wake-up: follow the listeners and the table (called by the loop, lock not held). */
static void worker_sync(void *arg)
{
  struct worker *w = arg;
  struct svcproxy *sp = w->sp;
  uint64_t v;
  if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
    return;
  pthread_mutex_lock(&sp->lock);
  for (size_t i = 0; i < w->n_mine;)
    if (!listener_open(sp, w->mine[i].id))
      {
        proxy_remove_listener(w->px, w->mine[i].fd);
        free(w->mine[i].arg);
        w->mine[i] = w->mine[--w->n_mine];
      }
    else
      i++;
  for (size_t i = 0; i < sp->n_listeners; i++)
    {
      struct listener *l = &sp->listeners[i];
      bool have = false;
      for (size_t j = 0; j < w->n_mine; j++)
        have |= w->mine[j].id == l->id;
      if (have || l->fd < 0)
        continue;
      int fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0);
      struct pick_arg *pa = xzalloc(sizeof(*pa));
      pa->sp = sp;
      pa->port = l->port;
      if (fd < 0 || proxy_add_listener(w->px, fd, pick, pa, NULL) < 0)
        {
          free(pa); /* fd exhaustion: the next wake tries again */
          continue;
        }
      w->mine = xrealloc(w->mine, (w->n_mine + 1) * sizeof(*w->mine));
      w->mine[w->n_mine++] = (struct mine){l->id, fd, pa};
    }
  proxy_reset_if(w->px, keep_alive, sp->table);
  pthread_mutex_unlock(&sp->lock);
}

static void *worker_main(void *arg)
{
  struct worker *w = arg;
  while (!w->sp->stopping)
    proxy_run(w->px, -1);
  return NULL;
}

static void wake_all(struct svcproxy *sp)
{
  uint64_t one = 1;
  for (int i = 0; i < sp->n_workers; i++)
    if (write(sp->workers[i].evfd, &one, sizeof(one)) < 0)
      {
        /* the counter is saturated: the loop has a wake pending anyway */
      }
}

/* ---- listeners ------------------------------------------------------------------------------ */

static int open_listener(struct listener *l)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l->port)};
  int one = 1;
  a.sin_addr.s_addr = htonl(l->addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0
      || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, SOMAXCONN) < 0)
    {
      int saved = errno;
      if (fd >= 0)
        close(fd);
      errno = saved;
      return -1;
    }
  l->fd = fd;
  return 0;
}

static bool wanted(const struct svc_table *t, const struct listener *l, const struct svcproxy *sp)
{
  bool addr_ok = false;
  for (int i = 0; i < sp->n_addrs; i++)
    addr_ok |= sp->addrs[i] == l->addr;
  return addr_ok && svc_table_port((struct svc_table *)t, l->port) != NULL;
}

/* Close listeners of ports t lacks, add the missing ones, try to open every closed one.
 * Returns how many stay closed. */
static int sync_listeners(struct svcproxy *sp, const struct svc_table *t)
{
  int failed = 0;
  char a[16];
  for (size_t i = 0; i < sp->n_listeners;)
    if (!wanted(t, &sp->listeners[i], sp))
      {
        struct listener *l = &sp->listeners[i];
        if (l->fd >= 0)
          close(l->fd); /* the loops' dups keep it open until they drop them */
        *l = sp->listeners[--sp->n_listeners];
      }
    else
      i++;
  for (size_t i = 0; i < t->n_ports; i++)
    for (int k = 0; k < sp->n_addrs; k++)
      {
        bool have = false;
        for (size_t j = 0; j < sp->n_listeners; j++)
          have |= sp->listeners[j].port == t->ports[i].node_port
                  && sp->listeners[j].addr == sp->addrs[k];
        if (have)
          continue;
        sp->listeners = xrealloc(sp->listeners, (sp->n_listeners + 1) * sizeof(*sp->listeners));
        sp->listeners[sp->n_listeners++]
            = (struct listener){++sp->next_id, t->ports[i].node_port, sp->addrs[k], -1, false};
      }
  for (size_t i = 0; i < sp->n_listeners; i++)
    {
      struct listener *l = &sp->listeners[i];
      if (l->fd >= 0)
        continue;
      cidr_format_addr(l->addr, a);
      if (open_listener(l) == 0)
        {
          skiff_report("service proxy: listening on %s:%d%s", a, l->port,
                       l->logged ? " (port free again)" : "");
          continue;
        }
      failed++;
      if (!l->logged)
        skiff_report("service proxy: listen on %s:%d: %s (retrying)", a, l->port, strerror(errno));
      l->logged = true;
    }
  return failed;
}

/* ---- the caller's side ---------------------------------------------------------------------- */

int svcproxy_update(struct svcproxy *sp, struct svc_table *t)
{
  struct svc_table *old;
  int failed;

  pthread_mutex_lock(&sp->lock);
  old = sp->table;
  svc_table_carry_rr(t, old);
  failed = sync_listeners(sp, t);
  sp->table = t;
  pthread_mutex_unlock(&sp->lock);
  wake_all(sp);

  for (size_t i = 0; i < t->n_ports; i++)
    if (!svc_port_same(&t->ports[i], old))
      {
        cleanup_free char *line = svc_port_describe(&t->ports[i]);
        skiff_report("service proxy: %s", line);
      }
  for (size_t i = 0; old && i < old->n_ports; i++)
    if (svc_table_port(t, old->ports[i].node_port) == NULL)
      skiff_report("service proxy: %s :%d: no longer served", old->ports[i].service,
                   old->ports[i].node_port);
  svc_table_free(old); /* loops read the table only under the lock: nobody holds old */
  return failed;
}

int svcproxy_start(const char *address, int workers, int max_conns, struct svcproxy **out,
                   struct skiff_err **err)
{
  struct svcproxy *sp = xzalloc(sizeof(*sp));
  uint32_t node = 0;

  if (address && *address && cidr_parse_addr(address, &node) < 0)
    {
      free(sp);
      return skiff_error(err, 0, "service proxy: address `%s` is not an IPv4 address", address);
    }
  sp->addrs[sp->n_addrs++] = 0x7f000001u;
  if (node && (node >> 24) != 127)
    sp->addrs[sp->n_addrs++] = node;
  if (workers <= 0)
    workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (workers < 1)
    workers = 1;
  if (workers > SVCPROXY_MAX_WORKERS)
    workers = SVCPROXY_MAX_WORKERS;
  pthread_mutex_init(&sp->lock, NULL);
  sp->table = svc_table_build(NULL, NULL);
  for (int i = 0; i < workers; i++)
    {
      struct worker *w = &sp->workers[i];
      w->sp = sp;
      w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      w->px = proxy_new();
      proxy_set_max_conns(w->px, max_conns > 0 ? max_conns : 4096);
      int rc = w->evfd < 0 || proxy_add_hook(w->px, w->evfd, worker_sync, w) < 0
                   ? errno
                   : pthread_create(&w->thread, NULL, worker_main, w);
      if (rc != 0)
        {
          int saved = rc;
          if (w->evfd >= 0)
            close(w->evfd);
          proxy_free(w->px);
          sp->n_workers = i;
          svcproxy_stop(sp);
          return skiff_error(err, saved, "service proxy: start loop %d", i);
        }
      sp->n_workers = i + 1;
    }
  *out = sp;
  return 0;
}

void svcproxy_stop(struct svcproxy *sp)
{
  if (sp == NULL)
    return;
  sp->stopping = 1;
  wake_all(sp);
  for (int i = 0; i < sp->n_workers; i++)
    {
      struct worker *w = &sp->workers[i];
      pthread_join(w->thread, NULL);
      proxy_free(w->px); /* closes its connections and its listener dups */
      for (size_t j = 0; j < w->n_mine; j++)
        free(w->mine[j].arg);
      free(w->mine);
      close(w->evfd);
    }
  for (size_t i = 0; i < sp->n_listeners; i++)
    if (sp->listeners[i].fd >= 0)
      close(sp->listeners[i].fd);
  free(sp->listeners);
  svc_table_free(sp->table);
  pthread_mutex_destroy(&sp->lock);
  free(sp);
}
