/* cidr.c - IPv4 pod subnets: parsing, checks and the node subnet allocator (see cidr.h). */
#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

uint32_t cidr_mask(int prefix)
{
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~0u << (32 - prefix);
}

int cidr_parse_addr(const char *s, uint32_t *out)
{
  struct in_addr a;
  if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
    return -1;
  *out = ntohl(a.s_addr);
  return 0;
}

void cidr_format_addr(uint32_t addr, char buf[16])
{
  snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
           addr & 0xff);
}

void cidr_format(const struct cidr *c, char buf[CIDR_STRLEN])
{
  char a[16];
  cidr_format_addr(c->net, a);
  snprintf(buf, CIDR_STRLEN, "%s/%d", a, c->prefix);
}

int cidr_parse(const char *s, struct cidr *out, struct skiff_err **err)
{
  char addr[16];
  const char *slash = s ? strchr(s, '/') : NULL;
  uint32_t ip;
  char *end = NULL;
  long p;

  if (slash == NULL || slash - s >= (long)sizeof(addr) || slash == s)
    return skiff_error(err, 0, "`%s`: expected A.B.C.D/PREFIX", s ? s : "");
  memcpy(addr, s, (size_t)(slash - s));
  addr[slash - s] = '\0';
  errno = 0;
  p = strtol(slash + 1, &end, 10);
  if (cidr_parse_addr(addr, &ip) < 0 || slash[1] < '0' || slash[1] > '9' || *end || errno)
    return skiff_error(err, 0, "`%s`: expected A.B.C.D/PREFIX", s);
  if (p < 0 || p > 32)
    return skiff_error(err, 0, "`%s`: prefix must be between 0 and 32", s);
  if (ip & ~cidr_mask((int)p))
    {
      char net[CIDR_STRLEN];
      struct cidr c = {ip & cidr_mask((int)p), (int)p};
      cidr_format(&c, net);
      return skiff_error(err, 0, "`%s`: host bits set (did you mean %s?)", s, net);
    }
  out->net = ip;
  out->prefix = (int)p;
  return 0;
}

bool cidr_contains(const struct cidr *c, uint32_t addr)
{
  return (addr & cidr_mask(c->prefix)) == c->net;
}

bool cidr_overlap(const struct cidr *a, const struct cidr *b)
{
  /* Two aligned blocks overlap iff the shorter one contains the other's network. */
  const struct cidr *wide = a->prefix <= b->prefix ? a : b;
  const struct cidr *narrow = wide == a ? b : a;
  return cidr_contains(wide, narrow->net);
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
  return a->net == b->net && a->prefix == b->prefix;
}

/* Ranges no pod subnet may touch: not routable to a pod, or not unicast. */
static const struct
{
  uint32_t net;
  int prefix;
  const char *what;
} reserved[] = {
    {0x00000000u, 8, "0.0.0.0/8 (\"this network\")"},
    {0x7f000000u, 8, "loopback 127.0.0.0/8"},
    {0xa9fe0000u, 16, "link-local 169.254.0.0/16"},
    {0xe0000000u, 3, "multicast/reserved 224.0.0.0/3"},
};

int cidr_check_pod(const struct cidr *c, struct skiff_err **err)
{
  char s[CIDR_STRLEN];
  cidr_format(c, s);
  if (c->prefix < 8 || c->prefix > 30)
    return skiff_error(err, 0,
                       "`%s`: prefix must be between 8 and 30 (room for a gateway and pods)", s);
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    {
      struct cidr r = {reserved[i].net, reserved[i].prefix};
      if (cidr_overlap(c, &r))
        return skiff_error(err, 0, "`%s`: overlaps %s", s, reserved[i].what);
    }
  return 0;
}

int cidr_check_cluster(const struct cidr *cluster, int node_prefix, struct skiff_err **err)
{
  char s[CIDR_STRLEN];
  if (cidr_check_pod(cluster, err) < 0)
    return -1;
  cidr_format(cluster, s);
  if (node_prefix <= cluster->prefix || node_prefix > 30)
    return skiff_error(err, 0,
                       "node subnet /%d: must be longer than the cluster CIDR %s and at most /30",
                       node_prefix, s);
  if (node_prefix - cluster->prefix > CIDR_MAX_NODE_BITS)
    return skiff_error(err, 0, "node subnet /%d: %s would hold more than %d node subnets",
                       node_prefix, s, 1 << CIDR_MAX_NODE_BITS);
  return 0;
}

/* Mark the node subnets of pool that [lo, hi] (inclusive addresses) touches. */
static void mark_range(unsigned char *used, const struct cidr_pool *pool, uint32_t lo, uint32_t hi)
{
  uint32_t first = pool->cluster.net, last = first | ~cidr_mask(pool->cluster.prefix);
  int shift = 32 - pool->node_prefix;
  if (hi < first || lo > last)
    return;
  if (lo < first)
    lo = first;
  if (hi > last)
    hi = last;
  for (uint32_t i = (lo - first) >> shift; i <= (hi - first) >> shift; i++)
    used[i / 8] |= (unsigned char)(1u << (i % 8));
}

static enum cidr_verdict allocate(const struct cidr_pool *pool, bool has_self_addr,
                                  uint32_t self_addr, const struct cidr_node *others,
                                  size_t n_others, struct cidr *out, struct skiff_err **err)
{
  size_t count = (size_t)1 << (pool->node_prefix - pool->cluster.prefix);
  cleanup_free unsigned char *used = xzalloc(count / 8 + 1);
  size_t holders = 0;

  for (size_t i = 0; i < n_others; i++)
    {
      if (others[i].has_pod)
        {
          const struct cidr *p = &others[i].pod;
          mark_range(used, pool, p->net, p->net | ~cidr_mask(p->prefix));
          holders += cidr_overlap(p, &pool->cluster);
        }
      if (others[i].has_addr)
        mark_range(used, pool, others[i].addr, others[i].addr);
    }
  if (has_self_addr)
    mark_range(used, pool, self_addr, self_addr);
  for (size_t i = 0; i < count; i++)
    if (!(used[i / 8] & (1u << (i % 8))))
      {
        out->net = pool->cluster.net + ((uint32_t)i << (32 - pool->node_prefix));
        out->prefix = pool->node_prefix;
        return CIDR_ASSIGNED;
      }
  char s[CIDR_STRLEN];
  cidr_format(&pool->cluster, s);
  skiff_error(err, 0, "cluster CIDR %s has no free /%d (%zu nodes hold a subnet in it)", s,
              pool->node_prefix, holders);
  return CIDR_NONE;
}

enum cidr_verdict cidr_assign(const struct cidr_pool *pool, const struct cidr *requested,
                              const struct cidr *stored, bool has_self_addr, uint32_t self_addr,
                              const struct cidr_node *others, size_t n_others, struct cidr *out,
                              struct skiff_err **err)
{
  char s[CIDR_STRLEN], o[CIDR_STRLEN], a[16];

  if (has_self_addr)
    for (size_t i = 0; i < n_others; i++)
      if (others[i].has_pod && cidr_contains(&others[i].pod, self_addr))
        {
          cidr_format_addr(self_addr, a);
          cidr_format(&others[i].pod, o);
          skiff_error(err, 0, "address %s is inside podCIDR %s of node `%s`", a, o, others[i].name);
          return CIDR_CONFLICT;
        }
  if (requested == NULL)
    {
      if (stored)
        {
          *out = *stored;
          return CIDR_ASSIGNED;
        }
      if (pool == NULL || !pool->enabled)
        return CIDR_NONE;
      return allocate(pool, has_self_addr, self_addr, others, n_others, out, err);
    }
  cidr_format(requested, s);
  if (stored && !cidr_equal(stored, requested))
    {
      cidr_format(stored, o);
      skiff_error(err, 0, "podCIDR %s: the node already has %s (delete the node to change it)", s,
                  o);
      return CIDR_CONFLICT;
    }
  if (has_self_addr && cidr_contains(requested, self_addr))
    {
      cidr_format_addr(self_addr, a);
      skiff_error(err, 0, "podCIDR %s contains the node's own address %s", s, a);
      return CIDR_INVALID;
    }
  for (size_t i = 0; i < n_others; i++)
    {
      if (others[i].has_pod && cidr_overlap(requested, &others[i].pod))
        {
          cidr_format(&others[i].pod, o);
          skiff_error(err, 0, "podCIDR %s overlaps %s of node `%s`", s, o, others[i].name);
          return CIDR_CONFLICT;
        }
      if (others[i].has_addr && cidr_contains(requested, others[i].addr))
        {
          cidr_format_addr(others[i].addr, a);
          skiff_error(err, 0, "podCIDR %s contains the address %s of node `%s`", s, a,
                      others[i].name);
          return CIDR_CONFLICT;
        }
    }
  *out = *requested;
  return CIDR_ASSIGNED;
}
