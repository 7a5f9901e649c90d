/* test_cidr.c - pod subnets: parsing, the podCIDR checks, node registration's podCIDR field
 * and the allocator (lowest free /24, skipping other nodes' subnets and addresses, kept
 * across re-registration, conflicts named). */
#include <string.h>
#include "check.h"
#include "cidr.h"
#include "model.h"

static struct cidr C(const char *s)
{
  struct cidr c = {0, -1};
  if (cidr_parse(s, &c, NULL) < 0)
    printf("# bad test CIDR %s\n", s);
  return c;
}

static uint32_t
A(const char *s)
{
  uint32_t a = 0;
  cidr_parse_addr(s, &a);
  return a;
}

static char *parse_error(const char *s)
{
  struct cidr c;
  struct skiff_err *err = NULL;
  char *msg = NULL;
  if (cidr_parse(s, &c, &err) < 0 || cidr_check_pod(&c, &err) < 0)
    msg = strdup(err->msg);
  skiff_err_free(&err);
  return msg;
}

static void test_parse_format(void)
{
  struct cidr c;
  char buf[CIDR_STRLEN];
  CHECK(cidr_parse("10.244.3.0/24", &c, NULL) == 0);
  CHECK(c.net == 0x0af40300u && c.prefix == 24);
  cidr_format(&c, buf);
  CHECK_STR_EQ(buf, "10.244.3.0/24");
  CHECK(cidr_parse("0.0.0.0/0", &c, NULL) == 0 && c.prefix == 0);
  const char *bad[] = {"10.244.3.0",  "10.244.3.0/",    "10.244.3.0/33", "10.244.3.0/-1",  "/24",
                       "10.244.3/24", "10.244.3.0/24x", "x/24",          "10.244.3.0/ 24", NULL};
  for (int i = 0; bad[i]; i++)
    CHECK(cidr_parse(bad[i], &c, NULL) < 0);
  char *msg = parse_error("10.244.3.7/24");
  CHECK_STR_EQ(msg, "`10.244.3.7/24`: host bits set (did you mean 10.244.3.0/24?)");
  free(msg);
}

static void test_pod_checks(void)
{
  char *msg;
  CHECK(parse_error("10.244.0.0/24") == NULL);
  CHECK(parse_error("192.168.0.0/30") == NULL);
  msg = parse_error("127.0.0.0/24");
  CHECK_CONTAINS(msg, "loopback");
  free(msg);
  msg = parse_error("169.254.1.0/24");
  CHECK_CONTAINS(msg, "link-local");
  free(msg);
  msg = parse_error("224.1.0.0/16");
  CHECK_CONTAINS(msg, "multicast");
  free(msg);
  msg = parse_error("10.0.0.0/31");
  CHECK_CONTAINS(msg, "prefix must be between 8 and 30");
  free(msg);
  msg = parse_error("0.0.0.0/0");
  CHECK_CONTAINS(msg, "prefix must be between 8 and 30");
  free(msg);

  struct cidr cl = C("10.244.0.0/16");
  CHECK(cidr_check_cluster(&cl, 24, NULL) == 0);
  CHECK(cidr_check_cluster(&cl, 16, NULL) < 0); /* no longer than the cluster */
  CHECK(cidr_check_cluster(&cl, 31, NULL) < 0);
  struct cidr wide = C("10.0.0.0/8");
  CHECK(cidr_check_cluster(&wide, 24, NULL) == 0);
  CHECK(cidr_check_cluster(&wide, 25, NULL) < 0); /* 2^17 subnets */
}

static void test_overlap(void)
{
  struct cidr a = C("10.244.0.0/16"), b = C("10.244.7.0/24"), c = C("10.245.0.0/24");
  CHECK(cidr_overlap(&a, &b) && cidr_overlap(&b, &a));
  CHECK(!cidr_overlap(&a, &c) && !cidr_overlap(&c, &b));
  CHECK(cidr_contains(&b, A("10.244.7.255")) && !cidr_contains(&b, A("10.244.8.0")));
}

static void test_allocate(void)
{
  struct cidr_pool pool = {true, C("10.244.0.0/16"), 24};
  struct cidr out;
  struct skiff_err *err = NULL;
  char buf[CIDR_STRLEN];

  CHECK(cidr_assign(&pool, NULL, NULL, true, A("192.168.1.1"), NULL, 0, &out, NULL)
        == CIDR_ASSIGNED);
  cidr_format(&out, buf);
  CHECK_STR_EQ(buf, "10.244.0.0/24");

  /* skips taken subnets, a wider one, and subnets holding a node's address */
  struct cidr_node others[] = {
      {"a", true, C("10.244.0.0/24"), true, A("192.168.1.2")},
      {"b", true, C("10.244.2.0/23"), true, A("192.168.1.3")},
      {"c", false, {0, 0}, true, A("10.244.1.9")},
  };
  CHECK(cidr_assign(&pool, NULL, NULL, true, A("10.244.4.1"), others, 3, &out, NULL)
        == CIDR_ASSIGNED);
  cidr_format(&out, buf);
  CHECK_STR_EQ(buf, "10.244.5.0/24");

  /* a stored podCIDR is kept, with or without the same request */
  struct cidr stored = C("10.244.9.0/24");
  CHECK(cidr_assign(&pool, NULL, &stored, false, 0, others, 3, &out, NULL) == CIDR_ASSIGNED);
  CHECK(cidr_equal(&out, &stored));
  CHECK(cidr_assign(&pool, &stored, &stored, false, 0, others, 3, &out, NULL) == CIDR_ASSIGNED);
  struct cidr other = C("10.244.10.0/24");
  CHECK(cidr_assign(&pool, &other, &stored, false, 0, others, 3, &out, &err) == CIDR_CONFLICT);
  CHECK_CONTAINS(err ? err->msg : NULL, "already has 10.244.9.0/24");
  skiff_err_free(&err);

  /* requested: outside the pool is fine; overlaps and addresses are not */
  struct cidr req = C("172.16.0.0/24");
  CHECK(cidr_assign(&pool, &req, NULL, true, A("192.168.1.9"), others, 3, &out, NULL)
        == CIDR_ASSIGNED);
  CHECK(cidr_equal(&out, &req));
  req = C("10.244.3.0/24");
  CHECK(cidr_assign(&pool, &req, NULL, false, 0, others, 3, &out, &err) == CIDR_CONFLICT);
  CHECK_STR_EQ(err ? err->msg : NULL, "podCIDR 10.244.3.0/24 overlaps 10.244.2.0/23 of node `b`");
  skiff_err_free(&err);
  req = C("10.244.1.0/24");
  CHECK(cidr_assign(&pool, &req, NULL, false, 0, others, 3, &out, &err) == CIDR_CONFLICT);
  CHECK_CONTAINS(err ? err->msg : NULL, "contains the address 10.244.1.9 of node `c`");
  skiff_err_free(&err);
  req = C("192.168.1.0/24");
  CHECK(cidr_assign(&pool, &req, NULL, true, A("192.168.1.9"), NULL, 0, &out, &err)
        == CIDR_INVALID);
  CHECK_CONTAINS(err ? err->msg : NULL, "contains the node's own address 192.168.1.9");
  skiff_err_free(&err);

  /* a node whose address lies in another node's subnet would break that node's route */
  CHECK(cidr_assign(&pool, NULL, NULL, true, A("10.244.0.7"), others, 3, &out, &err)
        == CIDR_CONFLICT);
  CHECK_CONTAINS(err ? err->msg : NULL, "inside podCIDR 10.244.0.0/24 of node `a`");
  skiff_err_free(&err);

  /* disabled pool: none, no error */
  struct cidr_pool off = {false, C("10.244.0.0/16"), 24};
  CHECK(cidr_assign(&off, NULL, NULL, false, 0, NULL, 0, &out, &err) == CIDR_NONE);
  CHECK(err == NULL);
}

static void test_exhaustion(void)
{
  struct cidr_pool pool = {true, C("10.244.0.0/22"), 24}; /* 4 subnets */
  struct cidr_node nodes[4];
  char names[4][8];
  struct cidr out;
  struct skiff_err *err = NULL;
  for (int i = 0; i < 4; i++)
    {
      snprintf(names[i], sizeof(names[i]), "n%d", i);
      CHECK(cidr_assign(&pool, NULL, NULL, false, 0, nodes, (size_t)i, &out, NULL)
            == CIDR_ASSIGNED);
      nodes[i] = (struct cidr_node){names[i], true, out, false, 0};
    }
  CHECK(nodes[3].pod.net == A("10.244.3.0"));
  CHECK(cidr_assign(&pool, NULL, NULL, false, 0, nodes, 4, &out, &err) == CIDR_NONE);
  CHECK_STR_EQ(err ? err->msg : NULL,
               "cluster CIDR 10.244.0.0/22 has no free /24 (4 nodes hold a subnet in it)");
  skiff_err_free(&err);
  /* a freed subnet (node deleted) is handed out again */
  CHECK(cidr_assign(&pool, NULL, NULL, false, 0, nodes + 1, 3, &out, NULL) == CIDR_ASSIGNED);
  CHECK(out.net == A("10.244.0.0"));
}

static void test_node_parse(void)
{
  json_t *in = json_pack("{s:s,s:s,s:s}", "name", "n1", "address", "192.168.1.2", "podCIDR",
                         "10.244.7.0/24");
  json_t *out = NULL;
  struct skiff_err *err = NULL;
  CHECK(model_node_parse(in, &out, NULL) == 0);
  CHECK_STR_EQ(json_string_value(json_object_get(out, "podCIDR")), "10.244.7.0/24");
  json_decref(out);
  out = NULL;
  json_object_set_new(in, "podCIDR", json_string(""));
  CHECK(model_node_parse(in, &out, NULL) == 0);
  CHECK(json_object_get(out, "podCIDR") == NULL);
  json_decref(out);
  out = NULL;
  json_object_set_new(in, "podCIDR", json_string("10.244.7.1/24"));
  CHECK(model_node_parse(in, &out, &err) < 0);
  CHECK_STR_EQ(err ? err->msg : NULL,
               "node.podCIDR: `10.244.7.1/24`: host bits set (did you mean 10.244.7.0/24?)");
  skiff_err_free(&err);
  json_object_set_new(in, "podCIDR", json_integer(7));
  CHECK(model_node_parse(in, &out, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "node.podCIDR");
  skiff_err_free(&err);
  json_decref(in);
}

int main(void)
{
  RUN_TEST(test_parse_format);
  RUN_TEST(test_pod_checks);
  RUN_TEST(test_overlap);
  RUN_TEST(test_allocate);
  RUN_TEST(test_exhaustion);
  RUN_TEST(test_node_parse);
  return CHECK_DONE();
}
