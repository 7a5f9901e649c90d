/* svcnat.h - node ports in the kernel, as kube-proxy's nftables mode does them: connections
 * to the node address on a service's nodePort are DNATed by an nftables rule to one of the
 * ready replicas (round robin: `numgen inc`), on this node or another, and masqueraded so the
 * answers come back through this node.  No byte crosses user space: this is the fast path
 * (tests/bench/nodeport), the userspace proxy (svcproxy.h) keeps serving 127.0.0.1, which
 * kernel NAT cannot without net.ipv4.conf.*.route_localnet (kube-proxy's CVE-2020-8558).
 *
 * The rules live in one table per node, `ip skiff_NODE`, replaced whole (one atomic nft
 * transaction) on every change; the connections already made keep their replica (conntrack
 * holds the translation).  When a replica stops being alive, the conntrack entries that point
 * at it are deleted (libnl-nf): the client's next packet is a new flow, translated again, and
 * answered with a reset (by the replica it now reaches, which has no such connection, or by
 * this node when no replica is ready).  A client that only waits on a silent replica is not
 * reset: the kernel has nothing to say to it until it sends (the userspace proxy resets it;
 * see the agent README's "Node ports: two mechanisms").  A node port with no ready replica has
 * no rule: the node answers its SYNs with a reset, as a closed port. */
#ifndef SKIFF_SVCNAT_H
#define SKIFF_SVCNAT_H

#include <stdint.h>
#include "svctable.h"
#include "util.h"

/* The packet mark bit that asks for masquerade (kube-proxy uses 0x4000; another bit, so
 * both can share a host). */
#define SVCNAT_MARK 0x00200000u

/* An endpoint the rules sent connections to: its conntrack entries go when it dies. */
struct svcnat_ep
{
  uint64_t id;
  uint32_t addr; /* host order */
  int port;
};

/* Pure: "skiff_" + the node name with anything but [A-Za-z0-9_] as '_'; caller frees. */
char *svcnat_table_name(const char *node);
/* Pure: the nft script that replaces table `table` with the rules for t: node ports on
 * node_addr (host order) to t's ready endpoints.  Caller frees. */
char *svcnat_ruleset(const char *table, uint32_t node_addr, const struct svc_table *t);
/* Pure: the endpoints of every port of t (ready or not), one per id, sorted by id. */
size_t svcnat_endpoints(const struct svc_table *t, struct svcnat_ep **out);
/* Pure: the endpoints of had (sorted by id) whose id t no longer has alive. */
size_t svcnat_gone(const struct svcnat_ep *had, size_t n_had, const struct svc_table *t,
                   struct svcnat_ep **out);

struct svcnat;

/* Install an empty table for `node` in the current network namespace (replacing one a
 * previous agent left); fails when nftables cannot be used here (no libnftables support in
 * the kernel, not root), with the reason in *err. */
int svcnat_open(const char *node, uint32_t node_addr, struct svcnat **out, struct skiff_err **err);
/* Make the rules serve t; delete the conntrack entries of endpoints that died since the last
 * update.  Returns 0, or -1 with *err when nft refused the rules (they stay as they were). */
int svcnat_update(struct svcnat *sn, const struct svc_table *t, struct skiff_err **err);
/* Delete the table (node ports on the node address stop answering) and free sn. */
void svcnat_close(struct svcnat *sn);

#endif
