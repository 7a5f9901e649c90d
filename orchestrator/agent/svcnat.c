/* svcnat.c - node ports as nftables DNAT rules (see svcnat.h).  The rules are text for
 * libnftables (the nft language: what a reader can paste into `nft -f`), the conntrack
 * deletes go through libnl-nf.  Only the netagent's applier thread calls in. */
#define _GNU_SOURCE
#include "svcnat.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netfilter/nfnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cidr.h"

struct svcnat
{
  char *table;
  uint32_t addr;
  struct nft_ctx *nft;
  struct svcnat_ep *eps; /* what the rules served last, sorted by id */
  size_t n_eps;
};

/* ---- pure --------------------------------------------------------------------------------- */

char *svcnat_table_name(const char *node)
{
  char *s = xasprintf("skiff_%s", node);
  for (char *p = s + 6; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      *p = '_';
  return s;
}

char *svcnat_ruleset(const char *table, uint32_t node_addr, const struct svc_table *t)
{
  char *buf = NULL, a[16];
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (f == NULL)
    abort();
  cidr_format_addr(node_addr, a);
  /* add + delete + define: one transaction that works whether the table exists or not */
  fprintf(f, "add table ip %s\ndelete table ip %s\ntable ip %s {\n", table, table, table);
  for (size_t i = 0; i < t->n_ports; i++)
    {
      const struct svc_port *p = &t->ports[i];
      if (p->n_ready == 0)
        continue;
      fprintf(f,
              "  chain svc_%d {\n    meta mark set meta mark | 0x%08x meta l4proto tcp dnat ip to "
              "numgen inc mod %zu map { ",
              p->node_port, SVCNAT_MARK, p->n_ready);
      for (size_t j = 0; j < p->n_ready; j++)
        {
          char e[16];
          cidr_format_addr(p->eps[p->ready[j]].addr, e);
          fprintf(f, "%s%zu : %s . %d", j ? ", " : "", j, e, p->eps[p->ready[j]].port);
        }
      fprintf(f, " }\n  }\n");
    }
  /* prerouting: from other hosts and from this node's replicas; output: from this host */
  const char *hooks[2][2] = {{"prerouting", "-100"}, {"output", "-100"}};
  for (int h = 0; h < 2; h++)
    {
      int n = 0;
      fprintf(f, "  chain %s {\n    type nat hook %s priority %s; policy accept;\n", hooks[h][0],
              hooks[h][0], hooks[h][1]);
      for (size_t i = 0; i < t->n_ports; i++)
        if (t->ports[i].n_ready)
          {
            if (n++ == 0)
              fprintf(f, "    ip daddr %s tcp dport vmap { ", a);
            else
              fprintf(f, ", ");
            fprintf(f, "%d : jump svc_%d", t->ports[i].node_port, t->ports[i].node_port);
          }
      fprintf(f, "%s  }\n", n ? " }\n" : "");
    }
  fprintf(f,
          "  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n"
          "    meta mark & 0x%08x == 0x%08x masquerade\n  }\n}\n",
          SVCNAT_MARK, SVCNAT_MARK);
  fclose(f);
  return buf;
}

static int cmp_ep(const void *a, const void *b)
{
  const struct svcnat_ep *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

size_t svcnat_endpoints(const struct svc_table *t, struct svcnat_ep **out)
{
  size_t n = 0, cap = 0;
  struct svcnat_ep *v = NULL;
  for (size_t i = 0; i < t->n_ports; i++)
    for (size_t j = 0; j < t->ports[i].n_eps; j++)
      {
        const struct svc_endpoint *e = &t->ports[i].eps[j];
        if (n == cap)
          v = xrealloc(v, (cap = cap * 2 + 8) * sizeof(*v));
        v[n++] = (struct svcnat_ep){e->id, e->addr, e->port};
      }
  if (n)
    qsort(v, n, sizeof(*v), cmp_ep);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || v[u - 1].id != v[i].id)
      v[u++] = v[i];
  *out = v;
  return u;
}

size_t svcnat_gone(const struct svcnat_ep *had, size_t n_had, const struct svc_table *t,
                   struct svcnat_ep **out)
{
  size_t n = 0;
  struct svcnat_ep *v = xzalloc((n_had + 1) * sizeof(*v));
  for (size_t i = 0; i < n_had; i++)
    if (!svc_table_alive(t, had[i].id))
      v[n++] = had[i];
  *out = v;
  return n;
}

/* ---- I/O ---------------------------------------------------------------------------------- */

static int run_nft(struct svcnat *sn, const char *script, struct skiff_err **err)
{
  if (nft_run_cmd_from_buffer(sn->nft, script) == 0)
    return 0;
  const char *msg = nft_ctx_get_error_buffer(sn->nft);
  char first[256];
  snprintf(first, sizeof(first), "%s", msg && *msg ? msg : "failed");
  first[strcspn(first, "\n")] = '\0';
  return skiff_error(err, 0, "nftables: %s", first);
}

/* Delete the DNATed conntrack entries whose replies come from one of gone (TCP). */
static void flush_conntrack(const struct svcnat_ep *gone, size_t n_gone)
{
  struct nl_sock *sk = nl_socket_alloc();
  struct nl_cache *cache = NULL;
  size_t deleted = 0;

  if (sk == NULL || nfnl_connect(sk) < 0 || nfnl_ct_alloc_cache(sk, &cache) < 0)
    {
      skiff_report("node ports: cannot read conntrack: connections to %zu gone replica(s) "
                   "stay until they time out",
                   n_gone);
      goto out;
    }
  for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
    {
      struct nfnl_ct *ct = (struct nfnl_ct *)o;
      struct nl_addr *src = nfnl_ct_get_src(ct, 1);
      if (nfnl_ct_get_family(ct) != AF_INET || nfnl_ct_get_proto(ct) != IPPROTO_TCP
          || !(nfnl_ct_get_status(ct) & IPS_DST_NAT) || src == NULL || nl_addr_get_len(src) != 4)
        continue;
      uint32_t a;
      memcpy(&a, nl_addr_get_binary_addr(src), 4);
      a = ntohl(a);
      int port = nfnl_ct_get_src_port(ct, 1);
      for (size_t i = 0; i < n_gone; i++)
        if (gone[i].addr == a && gone[i].port == port)
          {
            if (nfnl_ct_del(sk, ct, 0) == 0)
              deleted++;
            break;
          }
    }
  if (deleted)
    skiff_report("node ports: %zu connection(s) to gone replicas dropped (reset at their next "
                 "packet)",
                 deleted);
out:
  if (cache)
    nl_cache_free(cache);
  nl_socket_free(sk);
}

int svcnat_open(const char *node, uint32_t node_addr, struct svcnat **out, struct skiff_err **err)
{
  struct svcnat *sn = xzalloc(sizeof(*sn));
  struct svc_table empty = {0};
  sn->table = svcnat_table_name(node);
  sn->addr = node_addr;
  sn->nft = nft_ctx_new(NFT_CTX_DEFAULT);
  if (sn->nft == NULL)
    {
      svcnat_close(sn);
      return skiff_error(err, 0, "nftables: cannot make a context");
    }
  nft_ctx_buffer_output(sn->nft);
  nft_ctx_buffer_error(sn->nft);
  cleanup_free char *script = svcnat_ruleset(sn->table, node_addr, &empty);
  if (run_nft(sn, script, err) < 0)
    {
      free(sn->table);
      sn->table = NULL; /* nothing to delete */
      svcnat_close(sn);
      return -1;
    }
  *out = sn;
  return 0;
}

int svcnat_update(struct svcnat *sn, const struct svc_table *t, struct skiff_err **err)
{
  cleanup_free char *script = svcnat_ruleset(sn->table, sn->addr, t);
  if (run_nft(sn, script, err) < 0)
    return -1;
  cleanup_free struct svcnat_ep *gone = NULL;
  size_t n_gone = svcnat_gone(sn->eps, sn->n_eps, t, &gone);
  if (n_gone)
    flush_conntrack(gone, n_gone);
  free(sn->eps);
  sn->n_eps = svcnat_endpoints(t, &sn->eps);
  return 0;
}

void svcnat_close(struct svcnat *sn)
{
  if (sn == NULL)
    return;
  if (sn->table && sn->nft)
    {
      cleanup_free char *script = xasprintf("delete table ip %s\n", sn->table);
      cleanup_err struct skiff_err *err = NULL;
      if (run_nft(sn, script, &err) < 0)
        skiff_report("node ports: %s", err->msg);
    }
  if (sn->nft)
    nft_ctx_free(sn->nft);
  free(sn->eps);
  free(sn->table);
  free(sn);
}
