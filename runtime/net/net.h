/* net.h - container networking over netlink (libnl-route): the `bridge` network
 * (bridge skiff0, a veth pair per container, IPAM), and /etc files for a container.
 * No shelling out to `ip`.
 *
 * Defaults: bridge "skiff0", subnet 10.88.0.0/16, gateway .1 on the bridge.  The IPAM
 * keeps leases in <state_dir>/ipam-<bridge>.json under flock: an address is never handed
 * out twice while leased, and is released on delete. */
#ifndef SKIFF_NET_H
#define SKIFF_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "util.h"

#define SKIFF_DEFAULT_BRIDGE "skiff0"
#define SKIFF_DEFAULT_SUBNET "10.88.0.0/16"

struct net_bridge_config
{
  const char *bridge;    /* NULL: skiff0 */
  const char *subnet;    /* CIDR, NULL: 10.88.0.0/16 */
  const char *state_dir; /* where ipam/ lives; NULL: /var/lib/skiff/net */
};

/* Pure: parse "10.88.0.0/16" (network must be aligned, prefix 8..30) -> host-order
 * network and prefix; gateway = network+1.  Errors name the value. */
int net_parse_subnet(const char *cidr, uint32_t *network, int *prefix, struct skiff_err **err);

/* Create the bridge if missing, give it the gateway address, bring it up.  Idempotent. */
int net_bridge_ensure(const struct net_bridge_config *cfg, struct skiff_err **err);

/* Lease an address for owner (container id): "10.88.0.5".  Same owner twice -> same
 * address.  Subnet exhausted -> error. */
int net_ipam_allocate(const struct net_bridge_config *cfg, const char *owner, char **ip,
                      struct skiff_err **err);
/* Release owner's lease; missing lease is success. */
int net_ipam_release(const struct net_bridge_config *cfg, const char *owner,
                     struct skiff_err **err);

/* Every owner holding a lease (NULL-terminated, malloc'd strings): how a node agent finds
 * leases its crashed creates left behind. */
int net_ipam_owners(const struct net_bridge_config *cfg, char ***owners, struct skiff_err **err);

/* Host-side veth name for a container id: "vs" + 10 hex of a hash of the id (<= 15 chars). */
char *net_veth_name(const char *id);

/* Create veth pair <host_if>/<tmp peer>, attach host_if to the bridge and up, move the peer
 * into the network namespace of pid, rename it eth0 there, set ip/prefix, bring eth0 and
 * lo up, default route via the gateway.  On failure nothing is left. */
int net_attach(const struct net_bridge_config *cfg, pid_t pid, const char *id, const char *ip,
               struct skiff_err **err);
/* Delete the host-side veth of id (its peer goes with it); missing is success. */
int net_detach(const char *id, struct skiff_err **err);

/* Pure: the lowest free address of the subnet (skipping network, gateway, broadcast)
 * that is not in used; -1 when full. */
int net_ipam_pick(uint32_t network, int prefix, const uint32_t *used, size_t n_used, uint32_t *out);

/* Only loopback up in the netns of pid (for --net none). */
int net_loopback_up(pid_t pid, struct skiff_err **err);
/* The same from inside: lo of the caller's own network namespace, with one ioctl (the
 * container init does it, so its parent has nothing to wait for). */
int net_loopback_up_here(struct skiff_err **err);

/* Write hosts, hostname and resolv.conf for a container into dir (bind-mounted into
 * /etc by the caller).  resolv.conf copies the host's nameservers unless they are
 * loopback addresses (unreachable from the container). */
int net_write_etc_files(const char *dir, const char *hostname, const char *ip,
                        struct skiff_err **err);

#endif
