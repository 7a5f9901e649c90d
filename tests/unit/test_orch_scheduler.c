/* test_orch_scheduler.c - filter, score and tie-breaking of the pure scheduler. */
#include <stdlib.h>
#include <string.h>
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

/* A rolling update of 6 replicas on 3 nodes, one surge replica at a time: each new one goes
 * where the new generation has fewest, although every node holds as many of the service
 * (the old replica it replaces may be stopped anywhere).  Then the new generation is 2/2/2. */
static void test_spread_new_generation_first(void)
{
  struct sched_node nodes[3] = {node("a", 0, 0), node("b", 0, 0), node("c", 0, 0)};
  struct sched_request req = {.spread = true, .owner = "web"};
  for (int i = 0; i < 3; i++)
    nodes[i].svc_count = 2; /* generation 1 */
  for (int i = 0; i < 6; i++)
    {
      long k = sched_pick_node(nodes, 3, &req, NULL);
      CHECK(k >= 0);
      if (k < 0)
        return;
      sched_assume(&nodes[k], &req);
      /* the controller stops an old replica, not necessarily on the same node: always "c"'s
         while it has one, the worst case for a spread by service count alone */
      int victim = nodes[2].svc_count > nodes[2].gen_count   ? 2
                   : nodes[1].svc_count > nodes[1].gen_count ? 1
                                                             : 0;
      nodes[victim].svc_count--;
    }
  for (int i = 0; i < 3; i++)
    CHECK(nodes[i].gen_count == 2);
  for (int i = 0; i < 3; i++)
    sched_node_release(&nodes[i]);
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

/* sched_place_many must place exactly as repeated sched_pick_node + sched_assume would:
 * random clusters (capacities, used resources, not-ready and cordoned nodes, max per node,
 * spread on or off) and batches larger than what fits. */
static void test_place_many_equals_one_by_one(void)
{
  srand(42);
  int mismatches = 0, placed_total = 0, unplaced_total = 0;
  for (int round = 0; round < 200; round++)
    {
      size_t n = 1 + (size_t)(rand() % 60), count = (size_t)(rand() % 400);
      struct sched_node *a = xzalloc(n * sizeof(*a)), *b = xzalloc(n * sizeof(*b));
      char **names = xmalloc(n * sizeof(char *));
      for (size_t i = 0; i < n; i++)
        {
          names[i] = xasprintf("n%03zu", (size_t)rand() % 1000);
          a[i] = node(names[i], (rand() % 4) * 1000, (int64_t)(rand() % 4) << 30);
          a[i].cpu_used = rand() % 1500;
          a[i].mem_used = (int64_t)(rand() % 1000) << 20;
          a[i].ready = rand() % 10 != 0;
          a[i].cordoned = rand() % 15 == 0;
          a[i].svc_count = rand() % 3;
          b[i] = a[i];
        }
      struct sched_request req = {.cpu = (rand() % 3) * 100,
                                  .mem = (int64_t)(rand() % 3) << 26,
                                  .owner = "web",
                                  .spread = rand() % 2,
                                  .max_per_node = rand() % 4 == 0 ? 1 + rand() % 5 : 0};
      long *out = xmalloc((count ? count : 1) * sizeof(long));
      struct sched_why w1, w2;
      memset(&w1, 0, sizeof(w1));
      memset(&w2, 0, sizeof(w2));
      size_t placed = sched_place_many(a, n, &req, count, out, &w1);
      bool failed = false;
      for (size_t k = 0; k < count; k++)
        {
          struct sched_why w;
          long best = sched_pick_node(b, n, &req, &w);
          if (best >= 0)
            sched_assume(&b[best], &req);
          else if (!failed)
            {
              w2 = w;
              failed = true;
            }
          mismatches += best != out[k];
        }
      mismatches += memcmp(&w1, &w2, sizeof(w1)) != 0;
      placed_total += (int)placed;
      unplaced_total += (int)(count - placed);
      for (size_t i = 0; i < n; i++)
        {
          mismatches += a[i].cpu_used != b[i].cpu_used || a[i].svc_count != b[i].svc_count;
          free(names[i]);
        }
      free(names);
      free(out);
      free(a);
      free(b);
    }
  CHECK(mismatches == 0);
  /* the rounds covered both outcomes */
  CHECK(placed_total > 1000 && unplaced_total > 1000);
}

int main(void)
{
  RUN_TEST(test_filter_reasons);
  RUN_TEST(test_selector_and_max_per_node);
  RUN_TEST(test_node_ports);
  RUN_TEST(test_spread_first_then_least_allocated);
  RUN_TEST(test_spread_new_generation_first);
  RUN_TEST(test_deterministic_ties);
  RUN_TEST(test_why_string);
  RUN_TEST(test_place_many_equals_one_by_one);
  return CHECK_DONE();
}
