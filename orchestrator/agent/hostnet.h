/* hostnet.h - host-gw routing, as flannel's host-gw backend does it: every other node's pod
 * subnet (podCIDR) is routed via that node's address, so a replica on node A reaches one on
 * node B by its own address, with no encapsulation.  The nodes must share one L2 network
 * (the gateway of each route is on-link).  All netlink work goes through libnl-route.
 *
 * The routes are ours by their protocol number, HOSTNET_RTPROT (`ip route` shows
 * `proto 83`): a sync deletes every route of that protocol in the main table that is not
 * wanted, so a node deleted while the agent was down loses its route at the next start.  One
 * agent per network namespace owns them.  Routes stay when the agent stops (replicas keep
 * talking across hosts while it restarts). */
#ifndef SKIFF_HOSTNET_H
#define SKIFF_HOSTNET_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "cidr.h"
#include "util.h"

#define HOSTNET_RTPROT 83

struct hostnet_route
{
  struct cidr dst;
  uint32_t gw; /* host order */
};

/* Pure: the routes node `self` (address self_addr, 0 when unknown) wants, from a name -> Node
 * map, sorted by destination: each other node with a podCIDR and an IPv4 address that is
 * not ours and not loopback.  A subnet that overlaps our own podCIDR or holds our address is
 * skipped (it would hijack local traffic); of two overlapping subnets the first by node name
 * wins.  Returns the count; *out (caller frees) holds them. */
size_t hostnet_desired(json_t *nodes, const char *self, uint32_t self_addr,
                       struct hostnet_route **out);

/* Pure: what to delete (in have, not in want) and to add (in want, not in have); a route
 * whose gateway changed is in both. */
void hostnet_diff(const struct hostnet_route *want, size_t n_want, const struct hostnet_route *have,
                  size_t n_have, struct hostnet_route **add, size_t *n_add,
                  struct hostnet_route **del, size_t *n_del);

/* What a sync remembers between calls: failures already logged, ip_forward done. */
struct hostnet_state
{
  struct hostnet_route *failed; /* routes whose add failed, logged once */
  size_t n_failed;
  int forward_on;
};

/* Make the kernel's HOSTNET_RTPROT routes equal want, in the current network namespace;
 * turns net.ipv4.ip_forward on before the first route (forwarding is what host-gw needs; a
 * single node never touches it).  Each failing route is logged once (skiff_report) and
 * tried again at the next sync.  Returns the number of routes that failed, or -1 when
 * netlink itself failed (*err). */
int hostnet_sync(struct hostnet_state *st, const struct hostnet_route *want, size_t n_want,
                 struct skiff_err **err);
void hostnet_state_clear(struct hostnet_state *st);
/* Turn net.ipv4.ip_forward on unless *done; sets *done once it is on; logs the change with
 * why (or the failure).  Host-gw routes and node ports in the kernel both forward. */
void hostnet_forwarding_on(int *done, const char *why);

#endif
