/* hostnet.c - host-gw routes over libnl-route, and the pure route computation (see
 * hostnet.h). */
#include "hostnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <string.h>
#include "model.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

static int cmp_route(const void *a, const void *b)
{
  const struct hostnet_route *x = a, *y = b;
  if (x->dst.net != y->dst.net)
    return x->dst.net < y->dst.net ? -1 : 1;
  if (x->dst.prefix != y->dst.prefix)
    return x->dst.prefix - y->dst.prefix;
  return x->gw < y->gw ? -1 : x->gw > y->gw;
}

static int cmp_name(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t hostnet_desired(json_t *nodes, const char *self, uint32_t self_addr,
                       struct hostnet_route **out)
{
  size_t n = 0, nn = 0;
  struct cidr own;
  bool has_own
      = cidr_parse(model_str(json_object_get(nodes, self), "podCIDR", ""), &own, NULL) == 0;
  cleanup_free const char **names = xzalloc((json_object_size(nodes) + 1) * sizeof(*names));
  const char *k;
  json_t *v;

  *out = xzalloc((json_object_size(nodes) + 1) * sizeof(**out));
  json_object_foreach(nodes, k, v)
  {
    names[nn++] = k;
  }
  qsort(names, nn, sizeof(*names), cmp_name);
  for (size_t i = 0; i < nn; i++)
    {
      json_t *node = json_object_get(nodes, names[i]);
      struct hostnet_route r;
      bool clash = false;
      if (strcmp(names[i], self) == 0
          || cidr_parse(model_str(node, "podCIDR", ""), &r.dst, NULL) < 0
          || cidr_parse_addr(model_str(node, "address", ""), &r.gw) < 0)
        continue;
      if (r.gw == 0 || r.gw == self_addr || (r.gw >> 24) == 127)
        continue;
      if ((has_own && cidr_overlap(&r.dst, &own))
          || (self_addr && cidr_contains(&r.dst, self_addr)))
        continue;
      for (size_t j = 0; j < n; j++)
        clash |= cidr_overlap(&r.dst, &(*out)[j].dst);
      if (!clash)
        (*out)[n++] = r;
    }
  qsort(*out, n, sizeof(**out), cmp_route);
  return n;
}

static bool has_route(const struct hostnet_route *set, size_t n, const struct hostnet_route *r)
{
  for (size_t i = 0; i < n; i++)
    if (cidr_equal(&set[i].dst, &r->dst) && set[i].gw == r->gw)
      return true;
  return false;
}

void hostnet_diff(const struct hostnet_route *want, size_t n_want, const struct hostnet_route *have,
                  size_t n_have, struct hostnet_route **add, size_t *n_add,
                  struct hostnet_route **del, size_t *n_del)
{
  *add = xzalloc((n_want + 1) * sizeof(**add));
  *del = xzalloc((n_have + 1) * sizeof(**del));
  *n_add = *n_del = 0;
  for (size_t i = 0; i < n_have; i++)
    if (!has_route(want, n_want, &have[i]) && !has_route(*del, *n_del, &have[i]))
      (*del)[(*n_del)++] = have[i];
  for (size_t i = 0; i < n_want; i++)
    if (!has_route(have, n_have, &want[i]))
      (*add)[(*n_add)++] = want[i];
}

/* ---- netlink --------------------------------------------------------------------------- */

static struct nl_addr *make_addr(uint32_t host_order, int prefix)
{
  uint32_t be = htonl(host_order);
  struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);
  if (a == NULL)
    abort();
  nl_addr_set_prefixlen(a, prefix);
  return a;
}

static uint32_t addr_of(struct nl_addr *a)
{
  uint32_t be = 0;
  if (a && nl_addr_get_family(a) == AF_INET && nl_addr_get_len(a) == 4)
    memcpy(&be, nl_addr_get_binary_addr(a), 4);
  return ntohl(be);
}

/* Our routes as the kernel has them.  A route without a single gateway nexthop (someone
 * edited it) comes back with gw 0, so the diff replaces it. */
static int list_routes(struct nl_sock *sk, struct hostnet_route **out, size_t *n,
                       struct skiff_err **err)
{
  struct nl_cache *cache = NULL;
  int r = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
  if (r < 0)
    return skiff_error(err, 0, "list routes: %s", nl_geterror(r));
  *out = xzalloc((size_t)(nl_cache_nitems(cache) + 1) * sizeof(**out));
  *n = 0;
  for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
    {
      struct rtnl_route *rt = (struct rtnl_route *)o;
      struct hostnet_route hr = {{0, 0}, 0};
      if (rtnl_route_get_table(rt) != RT_TABLE_MAIN
          || rtnl_route_get_protocol(rt) != HOSTNET_RTPROT)
        continue;
      hr.dst.net = addr_of(rtnl_route_get_dst(rt));
      hr.dst.prefix = nl_addr_get_prefixlen(rtnl_route_get_dst(rt));
      if (rtnl_route_get_nnexthops(rt) == 1)
        hr.gw = addr_of(rtnl_route_nh_get_gateway(rtnl_route_nexthop_n(rt, 0)));
      (*out)[(*n)++] = hr;
    }
  nl_cache_free(cache);
  return 0;
}

static struct rtnl_route *build_route(const struct hostnet_route *hr)
{
  struct rtnl_route *rt = rtnl_route_alloc();
  struct nl_addr *dst = make_addr(hr->dst.net, hr->dst.prefix);
  rtnl_route_set_family(rt, AF_INET);
  rtnl_route_set_table(rt, RT_TABLE_MAIN);
  rtnl_route_set_protocol(rt, HOSTNET_RTPROT);
  rtnl_route_set_type(rt, RTN_UNICAST);
  rtnl_route_set_dst(rt, dst);
  nl_addr_put(dst);
  if (hr->gw)
    {
      struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
      struct nl_addr *gw = make_addr(hr->gw, 32);
      rtnl_route_nh_set_gateway(nh, gw); /* no device: the kernel finds the on-link one */
      nl_addr_put(gw);
      rtnl_route_add_nexthop(rt, nh);
    }
  return rt;
}

static void describe(const struct hostnet_route *r, char buf[48])
{
  char d[CIDR_STRLEN], g[16];
  cidr_format(&r->dst, d);
  cidr_format_addr(r->gw, g);
  snprintf(buf, 48, "%s via %s", d, g);
}

static void forget_failure(struct hostnet_state *st, const struct hostnet_route *r)
{
  for (size_t i = 0; i < st->n_failed; i++)
    if (cidr_equal(&st->failed[i].dst, &r->dst) && st->failed[i].gw == r->gw)
      {
        st->failed[i] = st->failed[--st->n_failed];
        return;
      }
}

void hostnet_forwarding_on(int *done, const char *why)
{
  char cur[4] = "";
  int fd;
  if (*done)
    return;
  fd = open(IP_FORWARD, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    {
      skiff_report("open %s: %s", IP_FORWARD, strerror(errno));
      return;
    }
  if (read(fd, cur, sizeof(cur) - 1) > 0 && cur[0] == '1')
    *done = 1;
  else if (pwrite(fd, "1\n", 2, 0) == 2)
    {
      *done = 1;
      skiff_report("net.ipv4.ip_forward turned on (%s)", why);
    }
  else
    skiff_report("write %s: %s", IP_FORWARD, strerror(errno));
  close(fd);
}

int hostnet_sync(struct hostnet_state *st, const struct hostnet_route *want, size_t n_want,
                 struct skiff_err **err)
{
  struct nl_sock *sk = nl_socket_alloc();
  cleanup_free struct hostnet_route *have = NULL, *add = NULL, *del = NULL;
  size_t n_have = 0, n_add = 0, n_del = 0;
  int failed = 0, r;
  char what[48];

  if (sk == NULL)
    return skiff_error(err, ENOMEM, "netlink socket");
  r = nl_connect(sk, NETLINK_ROUTE);
  if (r < 0)
    {
      nl_socket_free(sk);
      return skiff_error(err, 0, "netlink connect: %s", nl_geterror(r));
    }
  if (list_routes(sk, &have, &n_have, err) < 0)
    {
      nl_socket_free(sk);
      return -1;
    }
  hostnet_diff(want, n_want, have, n_have, &add, &n_add, &del, &n_del);
  if (n_add > 0)
    hostnet_forwarding_on(&st->forward_on, "host-gw: replicas of other nodes are routed "
                                           "through this one");
  for (size_t i = 0; i < n_del; i++)
    {
      struct rtnl_route *rt = build_route(&del[i]);
      r = rtnl_route_delete(sk, rt, 0);
      rtnl_route_put(rt);
      describe(&del[i], what);
      if (r < 0 && r != -NLE_OBJ_NOTFOUND)
        skiff_report("host-gw: delete route %s: %s", what, nl_geterror(r));
      else
        skiff_report("host-gw: route %s removed", what);
    }
  for (size_t i = 0; i < n_add; i++)
    {
      struct rtnl_route *rt = build_route(&add[i]);
      bool logged = has_route(st->failed, st->n_failed, &add[i]);
      r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
      rtnl_route_put(rt);
      describe(&add[i], what);
      if (r < 0)
        {
          failed++;
          if (!logged)
            {
              /* -NLE_EXIST: a route to the subnet that is not ours (another program's):
               * leave it alone. */
              skiff_report("host-gw: add route %s: %s%s (retrying)", what, nl_geterror(r),
                           r == -NLE_EXIST ? " (a route not made by skiff)" : "");
              st->failed = xrealloc(st->failed, (st->n_failed + 1) * sizeof(*st->failed));
              st->failed[st->n_failed++] = add[i];
            }
          continue;
        }
      forget_failure(st, &add[i]);
      skiff_report("host-gw: route %s added", what);
    }
  /* forget failures of routes no longer wanted */
  for (size_t i = 0; i < st->n_failed;)
    if (!has_route(want, n_want, &st->failed[i]))
      st->failed[i] = st->failed[--st->n_failed];
    else
      i++;
  nl_socket_free(sk);
  return failed;
}

void hostnet_state_clear(struct hostnet_state *st)
{
  free(st->failed);
  st->failed = NULL;
  st->n_failed = 0;
}
