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

struct skiff_proxy *proxy_new(void);
/* Bind and listen now (so "port in use" fails the create): host_ip NULL = all addresses. */
int proxy_add(struct skiff_proxy *p, const char *host_ip, int host_port, const char *target_ip,
              int target_port, struct skiff_err **err);
/* The epoll fd to wait on (readable when there is work). */
int proxy_fd(struct skiff_proxy *p);
/* Do all pending work without blocking. */
void proxy_dispatch(struct skiff_proxy *p);
void proxy_free(struct skiff_proxy *p);

#endif
