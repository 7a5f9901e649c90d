/* cidr.h - IPv4 subnets for pods, pure (no I/O): parse and format, overlap, the checks a
 * node's podCIDR must pass, and the allocator that gives each node one subnet of the cluster
 * CIDR (a /24 of 10.244.0.0/16 by default), as the range allocator of Kubernetes' node IPAM
 * controller does.  Addresses and networks are in host byte order. */
#ifndef SKIFF_CIDR_H
#define SKIFF_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define CIDR_DEFAULT_CLUSTER "10.244.0.0/16"
#define CIDR_DEFAULT_NODE_PREFIX 24
/* A cluster CIDR holds at most 2^16 node subnets (Kubernetes has the same limit). */
#define CIDR_MAX_NODE_BITS 16
/* "255.255.255.255/32" and its NUL. */
#define CIDR_STRLEN 19

struct cidr
{
  uint32_t net; /* network address, host bits zero */
  int prefix;   /* 0..32 */
};

/* "10.244.1.0/24" -> *out.  Strict: dotted quad, prefix 0..32, host bits zero (an
 * unaligned "10.244.1.5/24" is refused, naming the network it probably meant). */
int cidr_parse(const char *s, struct cidr *out, struct skiff_err **err);
/* "10.1.2.3" -> *out; -1 when not an IPv4 literal. */
int cidr_parse_addr(const char *s, uint32_t *out);
void cidr_format(const struct cidr *c, char buf[CIDR_STRLEN]);
void cidr_format_addr(uint32_t addr, char buf[16]);

uint32_t cidr_mask(int prefix);
bool cidr_contains(const struct cidr *c, uint32_t addr);
bool cidr_overlap(const struct cidr *a, const struct cidr *b);
bool cidr_equal(const struct cidr *a, const struct cidr *b);

/* Can this subnet hold a node's pods?  Prefix 8..30 (room for the gateway and a pod), and
 * not in 0.0.0.0/8, loopback 127.0.0.0/8, link-local 169.254.0.0/16 or 224.0.0.0/3
 * (multicast and reserved).  The message names the value and the rule. */
int cidr_check_pod(const struct cidr *c, struct skiff_err **err);
/* The cluster CIDR and the node prefix: both sane, node_prefix longer than the cluster's and
 * at most CIDR_MAX_NODE_BITS longer. */
int cidr_check_cluster(const struct cidr *cluster, int node_prefix, struct skiff_err **err);

/* What the server knows of another node when it gives a subnet to one. */
struct cidr_node
{
  const char *name;
  bool has_pod;
  struct cidr pod;
  bool has_addr;
  uint32_t addr;
};

/* Where node subnets come from; enabled false: no allocation (podCIDRs only from agents). */
struct cidr_pool
{
  bool enabled;
  struct cidr cluster;
  int node_prefix;
};

enum cidr_verdict
{
  CIDR_ASSIGNED = 0,  /* *out is the node's podCIDR */
  CIDR_NONE = 1,      /* no podCIDR: the pool is disabled, or exhausted (*err says so) */
  CIDR_INVALID = -1,  /* bad request (HTTP 400), *err says why */
  CIDR_CONFLICT = -2, /* clashes with another node or the stored value (HTTP 409) */
};

/* Decide a registering node's podCIDR.  requested: from the registration body (NULL when
 * absent, already through cidr_check_pod); stored: what the node has (NULL when none);
 * self_addr: its address (has_self_addr false when it has none); others: every other node.
 *   - a stored podCIDR is kept, and a requested one must equal it (it never changes while
 *     the node exists: its replicas hold addresses in it);
 *   - a requested one must not contain the node's own address, overlap another node's
 *     podCIDR or contain another node's address;
 *   - otherwise the lowest free node subnet of the pool that overlaps no other node's
 *     podCIDR and holds no node's address.
 * The node's own address must not be inside another node's podCIDR (CIDR_CONFLICT). */
enum cidr_verdict cidr_assign(const struct cidr_pool *pool, const struct cidr *requested,
                              const struct cidr *stored, bool has_self_addr, uint32_t self_addr,
                              const struct cidr_node *others, size_t n_others, struct cidr *out,
                              struct skiff_err **err);

#endif
