/* netagent.h - the network side of a node: what flannel (host-gw backend) and kube-proxy do
 * on a Kubernetes node.  It follows the server's nodes, services and replicas and keeps
 *   - a route to every other node's podCIDR via that node's address (hostnet.c), and
 *   - each service's nodePort, on 127.0.0.1 and the node address, forwarded to the ready
 *     replicas of the service on any node, round robin (svctable.c): on the node address by
 *     nftables DNAT rules (svcnat.c) or by the userspace proxy (svcproxy.c, proxy_mode), on
 *     127.0.0.1 by the userspace proxy.
 * It needs nothing from the agent's sync loop: its endpoints are the replica objects (their
 * `address`, `ready`, `state`), its routes the node objects (`podCIDR`, `address`).
 *
 * One per process (the functions take no handle).  The caller must run as root (routes,
 * ip_forward) and should ignore SIGPIPE (netagent_start does it when the disposition is the
 * default: a proxy writing to a closed socket must not die); netagent_start raises
 * RLIMIT_NOFILE to its hard limit (every proxied connection holds six descriptors). */
#ifndef SKIFF_NETAGENT_H
#define SKIFF_NETAGENT_H

#include <stdbool.h>
#include "util.h"

struct netagent_config
{
  const char *server;     /* API URL, "http://10.0.0.1:7070" */
  const char *token;      /* bearer token, NULL for none */
  const char *node;       /* this node's name: its own podCIDR gets no route */
  const char *address;    /* this node's IPv4 address: node ports listen on it (and 127.0.0.1);
                           * other nodes' podCIDRs are never routed via it */
  int proxy_workers;      /* proxy loops (threads); 0: one per CPU */
  int max_conns;          /* open proxied connections per loop; 0: 4096 */
  const char *proxy_mode; /* node ports on the node address: "nftables" (kernel DNAT, svcnat.h),
                           * "userspace" (svcproxy.h), "auto"/NULL: nftables when it works here
                           * and the address is not loopback; 127.0.0.1 is always userspace */
};

/* "auto", "nftables" or "userspace" (NULL: auto)? */
bool netagent_proxy_mode_valid(const char *mode);

/* Start the threads (they retry the server forever; an unreachable server is one log line
 * per outage).  Fails only on bad configuration or when threads cannot start. */
int netagent_start(const struct netagent_config *cfg, struct skiff_err **err);
/* Stop the threads and the proxy (within about a second); routes stay, so replicas keep
 * reaching each other while the agent restarts.  No-op when not started. */
void netagent_stop(void);

/* `skiffd netagent ...`: the network side alone, for a node whose containers another process
 * runs (like running kube-proxy and flanneld beside a kubelet); returns the exit code. */
int netagent_main(int argc, char **argv);

#endif
