/* test_netagent.c - the pure parts of the node's network side: the service proxy's endpoint
 * table (which replicas serve which node port, readiness, round robin, which connections to
 * reset), the nftables rules of the node ports and the conntrack entries to drop, and the
 * host-gw route computation (wanted routes from nodes, diff with the kernel's). */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "hostnet.h"
#include "svcnat.h"
#include "svctable.h"

static json_t *svc(const char *name, int cport, int nport)
{
  return json_pack("{s:s,s:[{s:i,s:i}]}", "name", name, "ports", "container", cport, "nodePort",
                   nport);
}

static json_t *rep(const char *service, const char *state, int ready, const char *addr, int cport,
                   int nport)
{
  return json_pack("{s:s,s:s,s:b,s:s,s:{s:[{s:i,s:i}]}}", "service", service, "state", state,
                   "ready", ready, "address", addr, "spec", "ports", "container", cport, "nodePort",
                   nport);
}

static json_t *cluster(void)
{
  json_t *services = json_object();
  json_object_set_new(services, "web", svc("web", 8080, 30080));
  json_object_set_new(services, "api", svc("api", 9000, 30090));
  return services;
}

static const char *pick_name(struct svc_table *t, int port)
{
  const struct svc_endpoint *e = svc_port_pick(svc_table_port(t, port));
  return e ? e->replica : "none";
}

static void test_table_endpoints(void)
{
  json_t *services = cluster(), *replicas = json_object();
  json_object_set_new(replicas, "web-1-b", rep("web", "Running", 1, "10.244.1.5", 8080, 30080));
  json_object_set_new(replicas, "web-1-a", rep("web", "Running", 1, "10.244.0.5", 8080, 30080));
  json_object_set_new(replicas, "web-1-c", rep("web", "Running", 0, "10.244.0.6", 8080, 30080));
  json_object_set_new(replicas, "web-1-d", rep("web", "Starting", 0, "", 8080, 30080));
  json_object_set_new(replicas, "web-1-e", rep("web", "Failed", 0, "10.244.0.7", 8080, 30080));
  json_object_set_new(replicas, "web-1-f", rep("web", "Terminating", 0, "10.244.0.8", 8080, 30080));
  json_object_set_new(replicas, "web-1-g", rep("web", "Running", 1, "not-an-ip", 8080, 30080));
  struct svc_table *t = svc_table_build(services, replicas);

  CHECK(t->n_ports == 2);
  CHECK(t->ports[0].node_port == 30080 && t->ports[1].node_port == 30090);
  struct svc_port *p = svc_table_port(t, 30080);
  CHECK(p != NULL && strcmp(p->service, "web") == 0);
  /* alive: a, b, c (Running), f (Terminating, draining); ready: a, b */
  CHECK(p->n_eps == 4);
  CHECK(p->n_ready == 2);
  CHECK_STR_EQ(p->eps[0].replica, "web-1-a");
  CHECK(p->eps[0].addr == 0x0af40005u && p->eps[0].port == 8080);
  CHECK(svc_table_port(t, 30090)->n_eps == 0);
  CHECK(svc_port_pick(svc_table_port(t, 30090)) == NULL);
  CHECK(svc_table_port(t, 31000) == NULL);
  char *line = svc_port_describe(p);
  CHECK_STR_EQ(line, "web :30080 -> 10.244.0.5:8080 10.244.1.5:8080 (+2 not ready)");
  free(line);
  svc_table_free(t);
  json_decref(services);
  json_decref(replicas);
}

static void test_round_robin_and_readiness(void)
{
  json_t *services = cluster(), *replicas = json_object();
  json_object_set_new(replicas, "web-1-a", rep("web", "Running", 1, "10.244.0.5", 8080, 30080));
  json_object_set_new(replicas, "web-1-b", rep("web", "Running", 1, "10.244.1.5", 8080, 30080));
  json_object_set_new(replicas, "web-1-c", rep("web", "Running", 1, "10.244.1.6", 8080, 30080));
  struct svc_table *t = svc_table_build(services, replicas);
  const char *want[] = {"web-1-a", "web-1-b", "web-1-c", "web-1-a", "web-1-b", "web-1-c"};
  for (int i = 0; i < 6; i++)
    CHECK_STR_EQ(pick_name(t, 30080), want[i]);
  pick_name(t, 30080); /* a: the next is b */

  /* b stops being ready: the rebuilt table skips it and keeps the position */
  json_object_set_new(replicas, "web-1-b", rep("web", "Running", 0, "10.244.1.5", 8080, 30080));
  struct svc_table *t2 = svc_table_build(services, replicas);
  svc_table_carry_rr(t2, t);
  CHECK_STR_EQ(pick_name(t2, 30080), "web-1-c");
  CHECK_STR_EQ(pick_name(t2, 30080), "web-1-a");
  CHECK_STR_EQ(pick_name(t2, 30080), "web-1-c");
  /* ... but its connections live on: it is still alive */
  uint64_t b_id = svc_table_port(t, 30080)->eps[1].id;
  CHECK(svc_table_alive(t2, b_id));
  CHECK(!svc_port_same(svc_table_port(t2, 30080), t));

  /* b is deleted: its connections are to be reset */
  json_object_del(replicas, "web-1-b");
  struct svc_table *t3 = svc_table_build(services, replicas);
  CHECK(!svc_table_alive(t3, b_id));
  CHECK(svc_table_alive(t3, svc_table_port(t, 30080)->eps[0].id));
  /* the same replica name at a new address is a new endpoint */
  json_object_set_new(replicas, "web-1-b", rep("web", "Running", 1, "10.244.1.9", 8080, 30080));
  struct svc_table *t4 = svc_table_build(services, replicas);
  CHECK(!svc_table_alive(t4, b_id));
  CHECK(svc_port_same(svc_table_port(t4, 30080), t4));

  svc_table_free(t);
  svc_table_free(t2);
  svc_table_free(t3);
  svc_table_free(t4);
  json_decref(services);
  json_decref(replicas);
}

static void test_table_ports(void)
{
  json_t *services = cluster(), *replicas = json_object();
  /* another service claiming 30080 (a transient the server forbids): the first by name wins */
  json_object_set_new(services, "zzz", svc("zzz", 7000, 30080));
  /* a replica of an older template with another nodePort serves only what it declares; a
   * replica of a deleted service keeps its connections alive (graceful) */
  json_object_set_new(replicas, "web-1-a", rep("web", "Running", 1, "10.244.0.5", 8081, 30081));
  json_object_set_new(replicas, "web-2-a", rep("web", "Running", 1, "10.244.0.6", 8080, 30080));
  json_object_set_new(replicas, "zzz-1-a", rep("zzz", "Running", 1, "10.244.0.7", 7000, 30080));
  json_object_set_new(replicas, "old-1-a", rep("old", "Terminating", 0, "10.244.0.9", 80, 30100));
  struct svc_table *t = svc_table_build(services, replicas);
  struct svc_port *p = svc_table_port(t, 30080);
  CHECK(p && strcmp(p->service, "web") == 0);
  CHECK(p->n_eps == 1 && strcmp(p->eps[0].replica, "web-2-a") == 0);
  CHECK(svc_table_port(t, 30081) == NULL && svc_table_port(t, 30100) == NULL);
  CHECK(t->n_alive == 4);
  svc_table_free(t);

  /* empty inputs */
  t = svc_table_build(NULL, NULL);
  CHECK(t->n_ports == 0 && !svc_table_alive(t, 1));
  svc_table_free(t);
  json_decref(services);
  json_decref(replicas);
}

static json_t *node(const char *addr, const char *pod)
{
  return json_pack("{s:s,s:s}", "address", addr, "podCIDR", pod);
}

static void route_str(const struct hostnet_route *r, char *buf)
{
  char d[CIDR_STRLEN], g[16];
  cidr_format(&r->dst, d);
  cidr_format_addr(r->gw, g);
  sprintf(buf, "%s via %s", d, g);
}

static void test_desired_routes(void)
{
  json_t *nodes = json_object();
  struct hostnet_route *r = NULL;
  char buf[64];
  uint32_t self = 0;
  cidr_parse_addr("192.168.1.1", &self);
  json_object_set_new(nodes, "a", node("192.168.1.1", "10.244.0.0/24")); /* self */
  json_object_set_new(nodes, "c", node("192.168.1.3", "10.244.2.0/24"));
  json_object_set_new(nodes, "b", node("192.168.1.2", "10.244.1.0/24"));
  json_object_set_new(nodes, "d", node("", "10.244.3.0/24"));              /* no address */
  json_object_set_new(nodes, "e", node("192.168.1.5", ""));                /* no subnet */
  json_object_set_new(nodes, "f", node("127.0.0.1", "10.244.5.0/24"));     /* fake node */
  json_object_set_new(nodes, "g", node("192.168.1.7", "10.244.0.0/23"));   /* has ours */
  json_object_set_new(nodes, "h", node("192.168.1.8", "10.244.2.128/25")); /* c has it */
  json_object_set_new(nodes, "i", node("192.168.1.1", "10.244.9.0/24"));   /* our address */
  json_object_set_new(nodes, "j", node("192.168.1.10", "192.168.1.0/24")); /* holds us */
  size_t n = hostnet_desired(nodes, "a", self, &r);
  CHECK(n == 2);
  route_str(&r[0], buf);
  CHECK_STR_EQ(buf, "10.244.1.0/24 via 192.168.1.2");
  route_str(&r[1], buf);
  CHECK_STR_EQ(buf, "10.244.2.0/24 via 192.168.1.3");
  free(r);
  json_decref(nodes);
}

static void test_route_diff(void)
{
  struct hostnet_route want[3], have[3], *add = NULL, *del = NULL;
  size_t n_add = 0, n_del = 0;
  const char *w[] = {"10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"};
  for (int i = 0; i < 3; i++)
    {
      cidr_parse(w[i], &want[i].dst, NULL);
      want[i].gw = 0xc0a80100u + (uint32_t)i + 2;
      have[i] = want[i];
    }
  hostnet_diff(want, 3, have, 3, &add, &n_add, &del, &n_del);
  CHECK(n_add == 0 && n_del == 0);
  free(add);
  free(del);

  /* have: the first unchanged, the second via an old gateway, a stale one; want adds a new */
  have[1].gw = 0xc0a80199u;
  cidr_parse("10.244.7.0/24", &have[2].dst, NULL);
  hostnet_diff(want, 3, have, 3, &add, &n_add, &del, &n_del);
  CHECK(n_del == 2 && n_add == 2);
  CHECK(del[0].gw == 0xc0a80199u && del[1].dst.net == 0x0af40700u);
  CHECK(add[0].dst.net == 0x0af40200u && add[0].gw == 0xc0a80103u);
  CHECK(add[1].dst.net == 0x0af40300u);
  free(add);
  free(del);

  /* nothing wanted: everything of ours goes */
  hostnet_diff(NULL, 0, have, 3, &add, &n_add, &del, &n_del);
  CHECK(n_add == 0 && n_del == 3);
  free(add);
  free(del);
}

static void test_nat_ruleset(void)
{
  json_t *services = cluster(), *replicas = json_object();
  json_object_set_new(replicas, "web-1-a", rep("web", "Running", 1, "10.244.0.5", 8080, 30080));
  json_object_set_new(replicas, "web-1-b", rep("web", "Running", 1, "10.244.1.5", 8080, 30080));
  json_object_set_new(replicas, "web-1-c", rep("web", "Running", 0, "10.244.0.6", 8080, 30080));
  json_object_set_new(replicas, "api-1-a", rep("api", "Running", 0, "10.244.0.9", 9000, 30090));
  struct svc_table *t = svc_table_build(services, replicas);
  char *name = svcnat_table_name("node-1.lab");
  CHECK_STR_EQ(name, "skiff_node_1_lab");
  char *rules = svcnat_ruleset(name, 0x0a000002u, t);
  /* replaced whole, in one transaction */
  CHECK(strncmp(rules,
                "add table ip skiff_node_1_lab\ndelete table ip skiff_node_1_lab\n"
                "table ip skiff_node_1_lab {\n",
                80)
        == 0);
  /* the ready replicas only, round robin, marked for masquerade */
  CHECK(strstr(rules, "chain svc_30080 {\n    meta mark set meta mark | 0x00200000 meta l4proto "
                      "tcp dnat ip to numgen inc mod 2 map { 0 : 10.244.0.5 . 8080, 1 : "
                      "10.244.1.5 . 8080 }\n  }\n")
        != NULL);
  CHECK(strstr(rules, "10.244.0.6") == NULL);
  /* a port with no ready replica has no rule: the node resets its SYNs */
  CHECK(strstr(rules, "svc_30090") == NULL);
  CHECK(strstr(rules, "type nat hook prerouting priority -100; policy accept;\n    ip daddr "
                      "10.0.0.2 tcp dport vmap { 30080 : jump svc_30080 }\n")
        != NULL);
  CHECK(strstr(rules, "type nat hook output priority -100; policy accept;\n    ip daddr "
                      "10.0.0.2 tcp dport vmap { 30080 : jump svc_30080 }\n")
        != NULL);
  CHECK(strstr(rules, "meta mark & 0x00200000 == 0x00200000 masquerade") != NULL);
  free(rules);

  /* nothing ready anywhere: hook chains without rules */
  json_object_set_new(replicas, "web-1-a", rep("web", "Running", 0, "10.244.0.5", 8080, 30080));
  json_object_set_new(replicas, "web-1-b", rep("web", "Failed", 0, "10.244.1.5", 8080, 30080));
  struct svc_table *t2 = svc_table_build(services, replicas);
  rules = svcnat_ruleset(name, 0x0a000002u, t2);
  CHECK(strstr(rules, "vmap") == NULL && strstr(rules, "dnat") == NULL);
  free(rules);

  /* endpoints served before that are no longer alive: their conntrack entries go; not-ready
   * ones keep theirs (draining) */
  struct svcnat_ep *had = NULL, *gone = NULL;
  size_t n_had = svcnat_endpoints(t, &had);
  CHECK(n_had == 4); /* a, b, c of web and the api one, each once */
  for (size_t i = 1; i < n_had; i++)
    CHECK(had[i - 1].id < had[i].id);
  size_t n_gone = svcnat_gone(had, n_had, t2, &gone);
  CHECK(n_gone == 1);
  CHECK(gone[0].addr == 0x0af40105u && gone[0].port == 8080);
  free(gone);
  CHECK(svcnat_gone(had, n_had, t, &gone) == 0);
  free(gone);
  free(had);
  free(rules = NULL);
  free(name);
  svc_table_free(t);
  svc_table_free(t2);
  json_decref(services);
  json_decref(replicas);
}

int main(void)
{
  RUN_TEST(test_table_endpoints);
  RUN_TEST(test_round_robin_and_readiness);
  RUN_TEST(test_table_ports);
  RUN_TEST(test_desired_routes);
  RUN_TEST(test_route_diff);
  RUN_TEST(test_nat_ruleset);
  return CHECK_DONE();
}
