/* proxy.h - a userspace TCP proxy, like docker-proxy and kube-proxy's userspace mode: one
 * edge-triggered epoll loop per struct skiff_proxy, bytes moved with recv/send through one
 * buffer per loop (see proxy.c for why not splice).  Two users:
 *   - published ports (`-p HOST:CONTAINER`), run inside the container's monitor: listeners
 *     with a fixed target (proxy_add);
 *   - the agent's service proxy (orchestrator/agent/svcproxy.c): listeners whose upstream is
 *     picked per connection (round robin over ready replicas), several loops sharing one
 *     listening socket, and connections reset when their endpoint goes away.
 * Chosen over nftables DNAT: it works for 127.0.0.1 without route_localnet tricks, needs no
 * firewall package, closes clients of a vanished upstream at once, and leaves nothing in the
 * kernel's tables when it dies. */
#ifndef SKIFF_PROXY_H
#define SKIFF_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include "util.h"

struct skiff_proxy;

/* "8080:80", "8080:80/tcp", "127.0.0.1:8080:80" -> parts.  Pure; errors name the value. */
int proxy_parse_publish(const char *spec, char **host_ip, int *host_port, int *container_port,
                        struct skiff_err **err);

struct skiff_proxy *proxy_new(void);
/* Bind and listen now (so "port in use" fails the create): host_ip NULL = all addresses. */
int proxy_add(struct skiff_proxy *p, const char *host_ip, int host_port, const char *target_ip,
              int target_port, struct skiff_err **err);
/* The epoll fd to wait on (readable when there is work). */
int proxy_fd(struct skiff_proxy *p);
/* Do all pending work without blocking. */
void proxy_dispatch(struct skiff_proxy *p);
/* Wait up to timeout_ms (-1: no limit) for work, then do it. */
void proxy_run(struct skiff_proxy *p, int timeout_ms);
void proxy_free(struct skiff_proxy *p);

/* ---- dynamic upstreams (the service proxy) ------------------------------------------- */

/* Choose the upstream of a new client: fill *target and a tag naming the endpoint, return 0;
 * -1 when there is none (the client is reset at once). */
typedef int (*proxy_pick_fn)(void *arg, struct sockaddr_in *target, uint64_t *tag);
/* Serve the clients of listening socket fd, which the proxy owns from now on (closed by
 * proxy_remove_listener / proxy_free).  The same socket (dup'ed) may sit in several proxies:
 * each client wakes one of them (EPOLLEXCLUSIVE). */
int proxy_add_listener(struct skiff_proxy *p, int fd, proxy_pick_fn pick, void *arg,
                       struct skiff_err **err);
/* Stop accepting on fd (and close it); its connections go on. */
void proxy_remove_listener(struct skiff_proxy *p, int fd);
/* Call fn(arg) from the loop when fd is readable (an eventfd that wakes the loop); hooks run
 * after the connection work of a batch, so they may reset connections or change listeners. */
int proxy_add_hook(struct skiff_proxy *p, int fd, void (*fn)(void *), void *arg);
/* Reset (RST to the client) every connection whose tag keep() refuses; returns how many.
 * Call from a hook or outside proxy_run/proxy_dispatch. */
size_t proxy_reset_if(struct skiff_proxy *p, bool (*keep)(void *arg, uint64_t tag), void *arg);
/* Open connections at most (default 1024); clients beyond it are refused (bounded memory). */
void proxy_set_max_conns(struct skiff_proxy *p, int max);

/* Limits that keep a port from being locked out (published ports set them): a connection
 * without a byte moved for idle_ms (or whose upstream connect has not completed in
 * connect_ms) is closed by proxy_expire; when max_conns are open (fitted to the fd limit), a
 * new client takes the place of the least recently active one; one client address holds at
 * most max_per_client.  0 turns a limit off. */
struct proxy_limits
{
  int max_conns, max_per_client;
  int idle_ms, connect_ms;
};
#define PROXY_PUBLISH_LIMITS                                                                       \
  {                                                                                                \
    1024, 64, 300000, 10000                                                                        \
  }
void proxy_set_limits(struct skiff_proxy *p, const struct proxy_limits *lim);
/* Milliseconds until proxy_expire has work (-1: nothing to expire); the caller's wait bound. */
int proxy_timeout_ms(struct skiff_proxy *p);
/* Close the connections idle or connecting too long (scans at most every 250 ms). */
void proxy_expire(struct skiff_proxy *p);
int proxy_conn_count(const struct skiff_proxy *p);

#endif
