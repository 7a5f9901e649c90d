/* proxy.h - published ports (`-p HOST:CONTAINER`) as a userspace TCP proxy, like
 * docker-proxy, run inside the container's monitor: one epoll loop, splice() through a
 * pipe per direction, no copies through user memory.  Chosen over nftables DNAT: it
 * works for 127.0.0.1 without route_localnet tricks, needs no firewall package, and
 * dies with the container (nothing to leak in the kernel's tables). */
#ifndef SKIFF_PROXY_H
#define SKIFF_PROXY_H

#include "util.h"

struct skiff_proxy;

/* "8080:80", "8080:80/tcp", "127.0.0.1:8080:80" -> parts.  Pure; errors name the value. */
int proxy_parse_publish(const char *spec, char **host_ip, int *host_port, int *container_port,
                        struct skiff_err **err);

/* What one client, or all of them, can hold.  A connection without a byte moved for idle_ms
 * (or whose upstream connect has not completed in connect_ms) is closed; when max_conns are
 * open, a new client takes the place of the least recently active one; one client address
 * holds at most max_per_client. */
struct proxy_limits
{
  int max_conns, max_per_client;
  int idle_ms, connect_ms;
};
#define PROXY_DEFAULT_LIMITS                                                                       \
  {                                                                                                \
    1024, 64, 300000, 10000                                                                        \
  }

/* lim NULL: PROXY_DEFAULT_LIMITS. */
struct skiff_proxy *proxy_new(const struct proxy_limits *lim, struct skiff_err **err);
/* Bind and listen now (so "port in use" fails the create): host_ip NULL = all addresses. */
int proxy_add(struct skiff_proxy *p, const char *host_ip, int host_port, const char *target_ip,
              int target_port, struct skiff_err **err);
/* The epoll fd to wait on (readable when there is work). */
int proxy_fd(struct skiff_proxy *p);
/* Do all pending work without blocking. */
void proxy_dispatch(struct skiff_proxy *p);
/* Milliseconds until proxy_expire has work (-1: no connection); the caller's wait bound. */
int proxy_timeout_ms(struct skiff_proxy *p);
/* Close the connections that were idle or connecting too long (cheap: scans at most every
 * 250 ms). */
void proxy_expire(struct skiff_proxy *p);
int proxy_conn_count(const struct skiff_proxy *p);
void proxy_free(struct skiff_proxy *p);

#endif
