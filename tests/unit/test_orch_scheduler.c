/* test_orch_scheduler.c - filter, score and tie-breaking of the pure scheduler. */
#include <stdlib.h>
#include "check.h"
#include "scheduler.h"
#include "util.h"

static struct sched_node node(const char *name, int64_t cpu_cap, int64_t mem_cap)
{
  return (struct sched_node){.name = name, .ready = true, .cpu_cap = cpu_cap, .mem_cap = mem_cap};
}

static void test_filter_reasons(void)
{
  struct sched_request req = {.cpu = 500, .mem = 100, .owner = "web"};
  struct sched_node n = node("a", 1000, 1000);
  CHECK(sched_filter(&n, &req) == -1);
  n.ready = false;
  CHECK(sched_filter(&n, &req) == SCHED_NOT_READY);
  n.ready = true;
  n.cordoned = true;
  CHECK(sched_filter(&n, &req) == SCHED_CORDONED);
  n.cordoned = false;
  n.cpu_used = 600;
  CHECK(sched_filter(&n, &req) == SCHED_CPU);
  n.cpu_used = 500; /* exactly full is a fit */
  CHECK(sched_filter(&n, &req) == -1);
  n.mem_used = 901;
  CHECK(sched_filter(&n, &req) == SCHED_MEMORY);
  n.mem_used = 0;
  struct sched_node unlimited = node("u", 0, 0);
  unlimited.cpu_used = 1000000;
  CHECK(sched_filter(&unlimited, &req) == -1);
}

static void test_selector_and_max_per_node(void)
{
  struct sched_label labels[] = {{"zone", "a"}, {"disk", "ssd"}};
  struct sched_label want[] = {{"disk", "ssd"}};
  struct sched_label other[] = {{"disk", "hdd"}};
  struct sched_node n = node("a", 0, 0);
  n.labels = labels;
  n.nlabels = 2;
  struct sched_request req = {.selector = want, .nselector = 1};
  CHECK(sched_filter(&n, &req) == -1);
  req.selector = other;
  CHECK(sched_filter(&n, &req) == SCHED_SELECTOR);
  req.selector = NULL;
  req.nselector = 0;
  req.max_per_node = 2;
  n.svc_count = 2;
  CHECK(sched_filter(&n, &req) == SCHED_MAX_PER_NODE);
  n.svc_count = 1;
  CHECK(sched_filter(&n, &req) == -1);
}

static void test_node_ports(void)
{
  int port = 30080;
  struct sched_node n = node("a", 0, 0);
  struct sched_request web = {.owner = "web", .node_ports = &port, .nnode_ports = 1};
  struct sched_request api = {.owner = "api", .node_ports = &port, .nnode_ports = 1};
  sched_assume(&n, &web);
  CHECK(n.nports == 1 && n.svc_count == 1);
  /* Replicas of one service share its nodePort; another service may not take it. */
  CHECK(sched_filter(&n, &web) == -1);
  CHECK(sched_filter(&n, &api) == SCHED_PORT);
  sched_assume(&n, &web); /* a second replica of web keeps one entry for the port */
  CHECK(n.nports == 1 && n.svc_count == 2);
  sched_node_release(&n);
}

static void test_spread_first_then_least_allocated(void)
{
  struct sched_node nodes[3] = {node("a", 1000, 0), node("b", 1000, 0), node("c", 1000, 0)};
  struct sched_request req = {.cpu = 100, .spread = true, .owner = "web"};
  nodes[0].svc_count = 1;
  nodes[1].cpu_used = 800; /* b is busy but has none of the service */
  nodes[2].svc_count = 1;
  CHECK(sched_pick_node(nodes, 3, &req, NULL) == 1);
  /* Without spreading, least allocated wins: a and c tie at 10%, a by name. */
  req.spread = false;
  CHECK(sched_pick_node(nodes, 3, &req, NULL) == 0);
  nodes[0].cpu_used = 100;
  CHECK(sched_pick_node(nodes, 3, &req, NULL) == 2);
}

static void test_deterministic_ties(void)
{
  struct sched_node fwd[3] = {node("n1", 0, 0), node("n2", 0, 0), node("n3", 0, 0)};
  struct sched_node rev[3] = {node("n3", 0, 0), node("n2", 0, 0), node("n1", 0, 0)};
  struct sched_request req = {.spread = true};
  CHECK(sched_pick_node(fwd, 3, &req, NULL) == 0);
  CHECK(sched_pick_node(rev, 3, &req, NULL) == 2);
  /* Placing 6 replicas spreads them 2/2/2. */
  for (int i = 0; i < 6; i++)
    {
      long k = sched_pick_node(fwd, 3, &req, NULL);
      CHECK(k >= 0);
      if (k >= 0)
        sched_assume(&fwd[k], &req);
    }
  CHECK(fwd[0].svc_count == 2 && fwd[1].svc_count == 2 && fwd[2].svc_count == 2);
}

static void test_why_string(void)
{
  struct sched_node nodes[3] = {node("a", 0, 100), node("b", 0, 100), node("c", 0, 100)};
  nodes[0].ready = false;
  struct sched_request req = {.mem = 200};
  struct sched_why why;
  CHECK(sched_pick_node(nodes, 3, &req, &why) == -1);
  char *s = sched_why_string(&why);
  CHECK_STR_EQ(s, "0/3 nodes are available: 1 NotReady, 2 insufficient memory");
  free(s);
  CHECK(sched_pick_node(NULL, 0, &req, &why) == -1);
  s = sched_why_string(&why);
  CHECK_CONTAINS(s, "no nodes registered");
  free(s);
}

int main(void)
{
  RUN_TEST(test_filter_reasons);
  RUN_TEST(test_selector_and_max_per_node);
  RUN_TEST(test_node_ports);
  RUN_TEST(test_spread_first_then_least_allocated);
  RUN_TEST(test_deterministic_ties);
  RUN_TEST(test_why_string);
  return CHECK_DONE();
}
