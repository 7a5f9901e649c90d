/* svcproxy.h - the service proxy, kube-proxy in its userspace mode: on every node, listen on
 * each service's nodePort (on 127.0.0.1 and on the node's address) and forward each TCP
 * connection to a ready replica on any node, round robin.  The bytes move through
 * runtime/net/proxy.c (epoll, recv/send), in several loops (threads) that share the listening
 * sockets, so a node's cores all carry traffic.  What to serve comes from an svc_table
 * (svctable.h), swapped in whole on every change. */
#ifndef SKIFF_SVCPROXY_H
#define SKIFF_SVCPROXY_H

#include "svctable.h"
#include "util.h"

#define SVCPROXY_MAX_WORKERS 8

struct svcproxy;

/* address: the node address to listen on besides 127.0.0.1 (NULL, "" or a loopback address:
 * only 127.0.0.1).  workers: loops sharing the listeners; 0 = one per CPU (at most
 * SVCPROXY_MAX_WORKERS).  max_conns: open client connections per loop. */
int svcproxy_start(const char *address, int workers, int max_conns, struct svcproxy **out,
                   struct skiff_err **err);
/* Serve t (taken): listen on its node ports, stop listening on the ones it lost, reset the
 * connections to endpoints it no longer has alive, log each port whose endpoints changed
 * (skiff_report).  Returns how many listeners could not be opened (port in use: logged once,
 * retried at the next update). */
int svcproxy_update(struct svcproxy *sp, struct svc_table *t);
/* Stop the loops, close every listener and connection. */
void svcproxy_stop(struct svcproxy *sp);

#endif
