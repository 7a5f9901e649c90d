/* net.c - the bridge network over netlink with libnl-route (see net.h): bridge,
 * veth pairs, addresses, routes.  IPAM lives in ipam.c, /etc files in net_etc.c. */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>

static void cleanup_nlsockp(struct nl_sock **s)
{
  if (*s)
    nl_socket_free(*s);
}
static void cleanup_linkp(struct rtnl_link **l)
{
  if (*l)
    rtnl_link_put(*l);
}
#define cleanup_nlsock __attribute__((cleanup(cleanup_nlsockp)))
#define cleanup_link __attribute__((cleanup(cleanup_linkp)))

static int nl_err(struct skiff_err **err, int nlerr, const char *fmt, const char *arg)
{
  cleanup_free char *what = xasprintf(fmt, arg);
  return skiff_error(err, 0, "%s: %s", what, nl_geterror(nlerr));
}

/* A route socket in the current network namespace. */
static struct nl_sock *route_socket(struct skiff_err **err)
{
  struct nl_sock *sk = nl_socket_alloc();
  if (sk == NULL)
    {
      skiff_error(err, ENOMEM, "netlink socket");
      return NULL;
    }
  int r = nl_connect(sk, NETLINK_ROUTE);
  if (r < 0)
    {
      nl_socket_free(sk);
      nl_err(err, r, "netlink connect%s", "");
      return NULL;
    }
  return sk;
}

/* A route socket in the network namespace of pid: sockets keep the namespace they were
 * made in, so we step in, make it, and step back. */
static struct nl_sock *route_socket_in(pid_t pid, struct skiff_err **err)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
  cleanup_close int target = open(path, O_RDONLY | O_CLOEXEC);
  cleanup_close int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (target < 0 || self < 0)
    {
      skiff_error(err, errno, "open `%s`", path);
      return NULL;
    }
  if (setns(target, CLONE_NEWNET) < 0)
    {
      skiff_error(err, errno, "setns `%s`", path);
      return NULL;
    }
  struct nl_sock *sk = route_socket(err);
  if (setns(self, CLONE_NEWNET) < 0)
    abort(); /* cannot go on in the wrong namespace */
  return sk;
}

int net_parse_subnet(const char *cidr, uint32_t *network, int *prefix, struct skiff_err **err)
{
  cleanup_free char *s = xstrdup(cidr ? cidr : "");
  char *slash = strchr(s, '/');
  if (slash == NULL)
    return skiff_error(err, 0, "subnet `%s`: expected A.B.C.D/PREFIX", cidr ? cidr : "");
  *slash = '\0';
  struct in_addr a;
  char *end = NULL;
  long p = strtol(slash + 1, &end, 10);
  if (inet_pton(AF_INET, s, &a) != 1 || end == slash + 1 || *end)
    return skiff_error(err, 0, "subnet `%s`: expected A.B.C.D/PREFIX", cidr);
  if (p < 8 || p > 30)
    return skiff_error(err, 0, "subnet `%s`: prefix must be between 8 and 30", cidr);
  uint32_t net = ntohl(a.s_addr), mask = p == 0 ? 0 : ~0U << (32 - p);
  if (net & ~mask)
    return skiff_error(err, 0, "subnet `%s`: host bits set (network is not aligned)", cidr);
  *network = net;
  *prefix = (int)p;
  return 0;
}

static struct nl_addr *make_addr(uint32_t host_order, int prefix)
{
  uint32_t be = htonl(host_order);
  struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);
  if (a)
    nl_addr_set_prefixlen(a, prefix);
  return a;
}

static int add_address(struct nl_sock *sk, int ifindex, uint32_t ip, int prefix,
                       struct skiff_err **err)
{
  struct rtnl_addr *addr = rtnl_addr_alloc();
  struct nl_addr *local = make_addr(ip, prefix);
  rtnl_addr_set_ifindex(addr, ifindex);
  rtnl_addr_set_local(addr, local);
  int r = rtnl_addr_add(sk, addr, 0);
  nl_addr_put(local);
  rtnl_addr_put(addr);
  if (r < 0 && r != -NLE_EXIST)
    return nl_err(err, r, "add address to interface %s", "");
  return 0;
}

static int link_up(struct nl_sock *sk, const char *name, struct skiff_err **err)
{
  cleanup_link struct rtnl_link *link = NULL;
  int r = rtnl_link_get_kernel(sk, 0, name, &link);
  if (r < 0)
    return nl_err(err, r, "find interface `%s`", name);
  cleanup_link struct rtnl_link *change = rtnl_link_alloc();
  rtnl_link_set_flags(change, IFF_UP);
  r = rtnl_link_change(sk, link, change, 0);
  if (r < 0)
    return nl_err(err, r, "bring up `%s`", name);
  return 0;
}

static const char *bridge_name(const struct net_bridge_config *cfg)
{
  return cfg && cfg->bridge ? cfg->bridge : SKIFF_DEFAULT_BRIDGE;
}

static const char *subnet_of(const struct net_bridge_config *cfg)
{
  return cfg && cfg->subnet ? cfg->subnet : SKIFF_DEFAULT_SUBNET;
}

int net_bridge_ensure(const struct net_bridge_config *cfg, struct skiff_err **err)
{
  uint32_t network;
  int prefix;
  if (net_parse_subnet(subnet_of(cfg), &network, &prefix, err) < 0)
    return -1;
  const char *br = bridge_name(cfg);
  cleanup_nlsock struct nl_sock *sk = route_socket(err);
  if (sk == NULL)
    return -1;
  cleanup_link struct rtnl_link *link = NULL;
  if (rtnl_link_get_kernel(sk, 0, br, &link) < 0)
    {
      int r = rtnl_link_bridge_add(sk, br);
      if (r < 0 && r != -NLE_EXIST)
        return nl_err(err, r, "create bridge `%s`", br);
      r = rtnl_link_get_kernel(sk, 0, br, &link);
      if (r < 0)
        return nl_err(err, r, "find bridge `%s`", br);
    }
  if (add_address(sk, rtnl_link_get_ifindex(link), network + 1, prefix, err) < 0)
    return skiff_err_prefix(err, "bridge `%s`", br);
  return link_up(sk, br, err);
}

char *net_veth_name(const char *id)
{
  /* FNV-1a: a stable, short name for any id length (IFNAMSIZ is 16) */
  uint64_t h = 1469598103934665603ULL;
  for (const char *p = id; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  return xasprintf("vs%010llx", (unsigned long long)(h & 0xffffffffffULL));
}

int net_detach(const char *id, struct skiff_err **err)
{
  cleanup_free char *name = net_veth_name(id);
  cleanup_nlsock struct nl_sock *sk = route_socket(err);
  if (sk == NULL)
    return -1;
  cleanup_link struct rtnl_link *link = NULL;
  if (rtnl_link_get_kernel(sk, 0, name, &link) < 0)
    return 0;
  int r = rtnl_link_delete(sk, link);
  if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
    return nl_err(err, r, "delete veth `%s`", name);
  return 0;
}

static int setup_inside(pid_t pid, uint32_t ip, int prefix, uint32_t gateway,
                        struct skiff_err **err)
{
  cleanup_nlsock struct nl_sock *sk = route_socket_in(pid, err);
  if (sk == NULL)
    return -1;
  if (link_up(sk, "lo", err) < 0)
    return -1;
  if (ip == 0)
    return 0;
  cleanup_link struct rtnl_link *eth = NULL;
  int r = rtnl_link_get_kernel(sk, 0, "eth0", &eth);
  if (r < 0)
    return nl_err(err, r, "find `%s` in the container", "eth0");
  if (add_address(sk, rtnl_link_get_ifindex(eth), ip, prefix, err) < 0)
    return -1;
  if (link_up(sk, "eth0", err) < 0)
    return -1;
  struct rtnl_route *route = rtnl_route_alloc();
  struct nl_addr *dst = make_addr(0, 0);
  struct nl_addr *gw = make_addr(gateway, 32);
  struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
  rtnl_route_set_family(route, AF_INET);
  rtnl_route_set_dst(route, dst);
  rtnl_route_nh_set_gateway(nh, gw);
  rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(eth));
  rtnl_route_add_nexthop(route, nh); /* the route owns nh now */
  r = rtnl_route_add(sk, route, 0);
  nl_addr_put(dst);
  nl_addr_put(gw);
  rtnl_route_put(route);
  if (r < 0 && r != -NLE_EXIST)
    return nl_err(err, r, "add default route in the container%s", "");
  return 0;
}

int net_loopback_up(pid_t pid, struct skiff_err **err)
{
  return setup_inside(pid, 0, 0, 0, err);
}

int net_loopback_up_here(struct skiff_err **err)
{
  cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return skiff_error(err, errno, "socket (to bring `lo` up)");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    return skiff_error(err, errno, "SIOCGIFFLAGS `lo`");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
    return skiff_error(err, errno, "bring `lo` up");
  return 0;
}

/* The host may still hold the MAC of the last container that had this address (a restart
 * reuses it at once): until that entry went stale, ~30 s, packets would go to a MAC that is
 * gone.  Forget it, so the next packet asks again.  Missing is fine. */
static void forget_neighbour(struct nl_sock *sk, int ifindex, uint32_t ip)
{
  struct rtnl_neigh *n = rtnl_neigh_alloc();
  struct nl_addr *dst = make_addr(ip, 32);
  if (n && dst)
    {
      rtnl_neigh_set_ifindex(n, ifindex);
      rtnl_neigh_set_family(n, AF_INET);
      rtnl_neigh_set_dst(n, dst);
      rtnl_neigh_delete(sk, n, 0);
    }
  if (dst)
    nl_addr_put(dst);
  if (n)
    rtnl_neigh_put(n);
}

int net_attach(const struct net_bridge_config *cfg, pid_t pid, const char *id, const char *ip,
               struct skiff_err **err)
{
  uint32_t network;
  int prefix;
  if (net_parse_subnet(subnet_of(cfg), &network, &prefix, err) < 0)
    return -1;
  struct in_addr a;
  if (inet_pton(AF_INET, ip, &a) != 1)
    return skiff_error(err, 0, "container address `%s`: not IPv4", ip);
  if (net_bridge_ensure(cfg, err) < 0)
    return -1;
  const char *br = bridge_name(cfg);
  cleanup_free char *host_if = net_veth_name(id);
  cleanup_nlsock struct nl_sock *sk = route_socket(err);
  if (sk == NULL)
    return -1;
  /* a leftover of a killed create with the same id would make the add fail */
  net_detach(id, NULL);
  /* the peer is created straight inside the container's namespace, named eth0 */
  int r = rtnl_link_veth_add(sk, host_if, "eth0", pid);
  if (r < 0)
    return nl_err(err, r, "create veth `%s`", host_if);
  cleanup_link struct rtnl_link *bridge = NULL, *veth = NULL;
  if ((r = rtnl_link_get_kernel(sk, 0, br, &bridge)) < 0
      || (r = rtnl_link_get_kernel(sk, 0, host_if, &veth)) < 0
      || (r = rtnl_link_enslave(sk, bridge, veth)) < 0)
    {
      net_detach(id, NULL);
      return nl_err(err, r, "attach `%s` to the bridge", host_if);
    }
  if (link_up(sk, host_if, err) < 0
      || setup_inside(pid, ntohl(a.s_addr), prefix, network + 1, err) < 0)
    {
      net_detach(id, NULL);
      return -1;
    }
  forget_neighbour(sk, rtnl_link_get_ifindex(bridge), ntohl(a.s_addr));
  return 0;
}
