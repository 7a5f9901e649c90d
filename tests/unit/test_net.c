/* test_net.c - the pure parts of networking and docker-style runs: subnet parsing, the
 * IPAM pick and its lease file, veth names, -p / -v / --user / --cpus parsing, and the
 * log rotation rule of the monitor. */
#include "check.h"
#include "container.h"
#include "managed.h"
#include "net.h"
#include "proxy.h"
#include "util.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((c) << 8) | (d))

static void test_parse_subnet_good(void)
{
  struct skiff_err *err = NULL;
  uint32_t net = 0;
  int prefix = 0;
  CHECK(net_parse_subnet("10.88.0.0/16", &net, &prefix, &err) == 0);
  CHECK(net == IP4(10, 88, 0, 0) && prefix == 16);
  CHECK(net_parse_subnet("192.168.7.0/24", &net, &prefix, &err) == 0);
  CHECK(net == IP4(192, 168, 7, 0) && prefix == 24);
  CHECK(net_parse_subnet("10.0.0.4/30", &net, &prefix, &err) == 0);
  CHECK(net == IP4(10, 0, 0, 4) && prefix == 30);
  CHECK(net_parse_subnet("10.0.0.0/8", &net, &prefix, &err) == 0);
  CHECK(net == IP4(10, 0, 0, 0) && prefix == 8);
  CHECK(err == NULL);
}

static void test_parse_subnet_rejects(void)
{
  struct
  {
    const char *in, *msg;
  } bad[] = {
      {"10.88.0.1/16", "not aligned"},  {"10.88.1.0/16", "not aligned"},
      {"10.0.0.0/31", "prefix"},        {"10.0.0.0/32", "prefix"},
      {"10.0.0.0/7", "prefix"},         {"10.0.0.0/0", "prefix"},
      {"10.0.0.0/-1", "prefix"},        {"10.88.0.0", "A.B.C.D/PREFIX"},
      {"10.88.0.0/", "A.B.C.D/PREFIX"}, {"10.88.0.0/16x", "A.B.C.D/PREFIX"},
      {"garbage", "A.B.C.D/PREFIX"},    {"300.1.1.0/24", "A.B.C.D/PREFIX"},
      {"", "A.B.C.D/PREFIX"},           {"/24", "A.B.C.D/PREFIX"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      struct skiff_err *err = NULL;
      uint32_t net = 77;
      int prefix = 77;
      CHECK(net_parse_subnet(bad[i].in, &net, &prefix, &err) < 0);
      CHECK(err != NULL);
      if (err)
        {
          CHECK_CONTAINS(err->msg, bad[i].msg);
          CHECK_CONTAINS(err->msg, bad[i].in);
        }
      CHECK(net == 77 && prefix == 77); /* nothing half-set */
      skiff_err_free(&err);
    }
  struct skiff_err *err = NULL;
  uint32_t net;
  int prefix;
  CHECK(net_parse_subnet(NULL, &net, &prefix, &err) < 0);
  skiff_err_free(&err);
}

static void test_ipam_pick(void)
{
  uint32_t net = IP4(10, 1, 2, 0), out = 0;
  /* empty: .2 (.0 is the network, .1 the gateway) */
  CHECK(net_ipam_pick(net, 24, NULL, 0, &out) == 0 && out == IP4(10, 1, 2, 2));
  /* lowest free, in any order of the used list */
  uint32_t used[] = {IP4(10, 1, 2, 4), IP4(10, 1, 2, 2), IP4(10, 1, 2, 3), IP4(10, 1, 2, 6)};
  CHECK(net_ipam_pick(net, 24, used, 4, &out) == 0 && out == IP4(10, 1, 2, 5));
  /* addresses outside the subnet do not matter */
  uint32_t outside[] = {IP4(10, 9, 9, 2)};
  CHECK(net_ipam_pick(net, 24, outside, 1, &out) == 0 && out == IP4(10, 1, 2, 2));
  /* a /24 with .2 ... .253 used: .254 is the last, .255 (broadcast) never */
  uint32_t all[253];
  for (uint32_t i = 0; i < 252; i++)
    all[i] = net + 2 + i;
  CHECK(net_ipam_pick(net, 24, all, 252, &out) == 0 && out == IP4(10, 1, 2, 254));
  all[252] = IP4(10, 1, 2, 254);
  out = 0;
  CHECK(net_ipam_pick(net, 24, all, 253, &out) < 0 && out == 0);
  /* /30: exactly one usable address (.0 net, .1 gw, .2 host, .3 broadcast) */
  uint32_t small = IP4(10, 0, 0, 4);
  CHECK(net_ipam_pick(small, 30, NULL, 0, &out) == 0 && out == IP4(10, 0, 0, 6));
  CHECK(net_ipam_pick(small, 30, &out, 1, &out) < 0);
}

static void test_veth_name(void)
{
  char *a = net_veth_name("web-1"), *b = net_veth_name("web-1"), *c = net_veth_name("web-2");
  char long_id[300];
  memset(long_id, 'x', sizeof(long_id) - 1);
  long_id[sizeof(long_id) - 1] = '\0';
  char *d = net_veth_name(long_id), *e = net_veth_name("");
  char *names[] = {a, b, c, d, e};
  for (size_t i = 0; i < 5; i++)
    {
      CHECK(strlen(names[i]) <= 15); /* IFNAMSIZ - 1 */
      CHECK(strncmp(names[i], "vs", 2) == 0);
      CHECK(strspn(names[i] + 2, "0123456789abcdef") == strlen(names[i]) - 2);
    }
  CHECK_STR_EQ(a, b);
  CHECK(strcmp(a, c) != 0);
  CHECK(strcmp(a, d) != 0);
  /* 1000 similar ids give 1000 different names */
  char *seen[1000];
  int dup = 0;
  for (int i = 0; i < 1000; i++)
    {
      char id[32];
      snprintf(id, sizeof(id), "busybox-%06x", i);
      seen[i] = net_veth_name(id);
      for (int j = 0; j < i && !dup; j++)
        dup = strcmp(seen[i], seen[j]) == 0;
    }
  CHECK(!dup);
  for (int i = 0; i < 1000; i++)
    free(seen[i]);
  for (size_t i = 0; i < 5; i++)
    free(names[i]);
}

static void test_parse_publish_good(void)
{
  struct skiff_err *err = NULL;
  char *ip = (char *)"unset";
  int hp = 0, cp = 0;
  CHECK(proxy_parse_publish("8080:80", &ip, &hp, &cp, &err) == 0);
  CHECK(ip == NULL && hp == 8080 && cp == 80);
  CHECK(proxy_parse_publish("127.0.0.1:8080:80", &ip, &hp, &cp, &err) == 0);
  CHECK_STR_EQ(ip, "127.0.0.1");
  CHECK(hp == 8080 && cp == 80);
  free(ip);
  CHECK(proxy_parse_publish("8080:80/tcp", &ip, &hp, &cp, &err) == 0);
  CHECK(ip == NULL && hp == 8080 && cp == 80);
  CHECK(proxy_parse_publish("0.0.0.0:1:65535/tcp", &ip, &hp, &cp, &err) == 0);
  CHECK_STR_EQ(ip, "0.0.0.0");
  CHECK(hp == 1 && cp == 65535);
  free(ip);
  CHECK(err == NULL);
}

static void test_parse_publish_rejects(void)
{
  struct
  {
    const char *in, *msg;
  } bad[] = {
      {"80", "expected"},
      {"", "expected"},
      {"1.2.3.4:1:2:3", "expected"},
      {"0:80", "not a port"},
      {"8080:0", "not a port"},
      {"65536:80", "not a port"},
      {"8080:70000", "not a port"},
      {"-1:80", "not a port"},
      {"http:80", "not a port"},
      {"8080:80x", "not a port"},
      {"localhost:8080:80", "IPv4"},
      {"1.2.3:8080:80", "IPv4"},
      {"8080:80/udp", "only tcp"},
      {"8080:80/sctp", "only tcp"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      struct skiff_err *err = NULL;
      char *ip = NULL;
      int hp = -5, cp = -5;
      CHECK(proxy_parse_publish(bad[i].in, &ip, &hp, &cp, &err) < 0);
      CHECK(err != NULL);
      if (err)
        {
          CHECK_CONTAINS(err->msg, bad[i].msg);
          CHECK_CONTAINS(err->msg, bad[i].in);
        }
      CHECK(ip == NULL && hp == -5 && cp == -5);
      skiff_err_free(&err);
    }
}

static void test_parse_volume(void)
{
  struct skiff_err *err = NULL;
  char *host = NULL, *ctr = NULL;
  bool ro = true;
  CHECK(managed_parse_volume("/srv/data:/data", &host, &ctr, &ro, &err) == 0);
  CHECK_STR_EQ(host, "/srv/data");
  CHECK_STR_EQ(ctr, "/data");
  CHECK(!ro);
  free(host);
  free(ctr);
  CHECK(managed_parse_volume("/srv:/mnt/x:ro", &host, &ctr, &ro, &err) == 0);
  CHECK_STR_EQ(host, "/srv");
  CHECK_STR_EQ(ctr, "/mnt/x");
  CHECK(ro);
  free(host);
  free(ctr);
  CHECK(managed_parse_volume("/a:/b:rw", &host, &ctr, &ro, &err) == 0);
  CHECK(!ro);
  free(host);
  free(ctr);
  CHECK(err == NULL);

  struct
  {
    const char *in, *msg;
  } bad[] = {
      {"/srv", "expected HOST:CONTAINER"},
      {"", "expected HOST:CONTAINER"},
      {"srv:/data", "absolute"},
      {"/srv:data", "absolute"},
      {"/srv:", "absolute"},
      {":/data", "absolute"},
      {"/srv:/data:rx", "unknown option"},
      {"/srv:/data:", "unknown option"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      host = ctr = NULL;
      CHECK(managed_parse_volume(bad[i].in, &host, &ctr, &ro, &err) < 0);
      CHECK(host == NULL && ctr == NULL);
      if (err)
        CHECK_CONTAINS(err->msg, bad[i].msg);
      else
        CHECK(err != NULL);
      skiff_err_free(&err);
    }
}

static void test_parse_user(void)
{
  struct skiff_err *err = NULL;
  unsigned uid = 9, gid = 9;
  bool has_gid = true;
  CHECK(managed_parse_user("1000", &uid, &gid, &has_gid, &err) == 0);
  CHECK(uid == 1000 && !has_gid);
  CHECK(managed_parse_user("1000:1001", &uid, &gid, &has_gid, &err) == 0);
  CHECK(uid == 1000 && gid == 1001 && has_gid);
  CHECK(managed_parse_user("root", &uid, &gid, &has_gid, &err) == 0);
  CHECK(uid == 0 && gid == 0 && has_gid);
  CHECK(managed_parse_user("0:0", &uid, &gid, &has_gid, &err) == 0);
  CHECK(uid == 0 && gid == 0 && has_gid);
  CHECK(err == NULL);
  const char *bad[]
      = {"",   "nobody",      "1000:",      ":1000",          "10x", "1000:abc", "1000:1:2",
         "-1", "99999999999", "4294967295", "1000:4294967296"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      CHECK(managed_parse_user(bad[i], &uid, &gid, &has_gid, &err) < 0);
      if (err)
        {
          CHECK_CONTAINS(err->msg, "--user");
          CHECK_CONTAINS(err->msg, bad[i]);
        }
      else
        {
          printf("#   --user `%s` accepted\n", bad[i]);
          CHECK(err != NULL);
        }
      skiff_err_free(&err);
    }
}

static void test_parse_cpus(void)
{
  struct skiff_err *err = NULL;
  double c = 0;
  CHECK(managed_parse_cpus("0.5", &c, &err) == 0 && c == 0.5);
  CHECK(managed_parse_cpus("2", &c, &err) == 0 && c == 2);
  CHECK(managed_parse_cpus("0.01", &c, &err) == 0 && c == 0.01);
  CHECK(managed_parse_cpus("1024", &c, &err) == 0 && c == 1024);
  CHECK(err == NULL);
  const char *bad[] = {"", "0", "-1", "abc", "0.5x", "1025", "nan", "inf", "1e999"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      c = -3;
      CHECK(managed_parse_cpus(bad[i], &c, &err) < 0);
      CHECK(c == -3);
      if (err)
        CHECK_CONTAINS(err->msg, "--cpus");
      else
        CHECK(err != NULL);
      skiff_err_free(&err);
    }
}

static void test_log_rotation_rule(void)
{
  long long max = 10 * 1024 * 1024;
  CHECK(!monitor_log_should_rotate(0, 100, max));
  CHECK(!monitor_log_should_rotate(max - 100, 100, max)); /* exactly full: still fits */
  CHECK(monitor_log_should_rotate(max - 100, 101, max));
  CHECK(monitor_log_should_rotate(max, 1, max));
  /* one write bigger than the cap into an empty file: written, not an endless rotation */
  CHECK(!monitor_log_should_rotate(0, (size_t)max * 2, max));
  CHECK(monitor_log_should_rotate(1, (size_t)max, max));
  /* no cap */
  CHECK(!monitor_log_should_rotate(max * 5, 1, 0));
  CHECK(SKIFF_LOG_MAX == max);
}

/* ---------------------------------------------------------------- the lease file */

static char *make_tmpdir(void)
{
  char *d = xstrdup("/tmp/skiff-test-net.XXXXXX");
  if (mkdtemp(d) == NULL)
    {
      free(d);
      return NULL;
    }
  return d;
}

/* Number of leases in the file, -1 if it cannot be read. */
static int lease_count(const struct net_bridge_config *cfg)
{
  char *p = xasprintf("%s/ipam-%s.json", cfg->state_dir, cfg->bridge);
  json_t *doc = json_load_file(p, 0, NULL);
  free(p);
  int n = json_is_object(json_object_get(doc, "leases"))
              ? (int)json_object_size(json_object_get(doc, "leases"))
              : -1;
  json_decref(doc);
  return n;
}

static void test_ipam_file(void)
{
  char *dir = make_tmpdir();
  CHECK(dir != NULL);
  if (dir == NULL)
    return;
  /* state dir that does not exist yet: allocate makes it */
  char *state = xasprintf("%s/net", dir);
  struct net_bridge_config cfg
      = {.bridge = "sktunit", .subnet = "10.213.9.0/24", .state_dir = state};
  struct skiff_err *err = NULL;
  char *a = NULL, *a2 = NULL, *b = NULL, *c = NULL, *b2 = NULL;
  CHECK(net_ipam_allocate(&cfg, "one", &a, &err) == 0);
  CHECK_STR_EQ(a, "10.213.9.2");
  CHECK(net_ipam_allocate(&cfg, "one", &a2, &err) == 0);
  CHECK_STR_EQ(a2, a); /* same owner, same address */
  CHECK(net_ipam_allocate(&cfg, "two", &b, &err) == 0);
  CHECK_STR_EQ(b, "10.213.9.3");
  CHECK(net_ipam_allocate(&cfg, "three", &c, &err) == 0);
  CHECK_STR_EQ(c, "10.213.9.4");
  CHECK(lease_count(&cfg) == 3);
  /* release frees the address for the next owner; releasing twice is fine */
  CHECK(net_ipam_release(&cfg, "two", &err) == 0);
  CHECK(net_ipam_release(&cfg, "two", &err) == 0);
  CHECK(net_ipam_release(&cfg, "never-leased", &err) == 0);
  CHECK(lease_count(&cfg) == 2);
  CHECK(net_ipam_allocate(&cfg, "four", &b2, &err) == 0);
  CHECK_STR_EQ(b2, "10.213.9.3");
  CHECK(err == NULL);
  /* another bridge has its own file */
  struct net_bridge_config other
      = {.bridge = "sktunit2", .subnet = "10.213.9.0/24", .state_dir = state};
  char *o = NULL;
  CHECK(net_ipam_allocate(&other, "one", &o, &err) == 0);
  CHECK_STR_EQ(o, "10.213.9.2");
  CHECK(lease_count(&cfg) == 3);
  free(o);
  /* releasing everything leaves an empty lease object */
  CHECK(net_ipam_release(&cfg, "one", &err) == 0);
  CHECK(net_ipam_release(&cfg, "three", &err) == 0);
  CHECK(net_ipam_release(&cfg, "four", &err) == 0);
  CHECK(lease_count(&cfg) == 0);
  free(a);
  free(a2);
  free(b);
  free(c);
  free(b2);

  /* a /30 has one address: the second owner gets a clear error, and no lease */
  struct net_bridge_config tiny
      = {.bridge = "skttiny", .subnet = "10.213.9.4/30", .state_dir = state};
  char *t1 = NULL, *t2 = NULL;
  CHECK(net_ipam_allocate(&tiny, "first", &t1, &err) == 0);
  CHECK_STR_EQ(t1, "10.213.9.6");
  CHECK(net_ipam_allocate(&tiny, "second", &t2, &err) < 0);
  CHECK(t2 == NULL);
  CHECK(err != NULL);
  if (err)
    {
      CHECK_CONTAINS(err->msg, "no free address");
      CHECK_CONTAINS(err->msg, "10.213.9.4/30");
    }
  skiff_err_free(&err);
  CHECK(lease_count(&tiny) == 1);
  /* the first owner still gets its address; after release the second gets it */
  CHECK(net_ipam_allocate(&tiny, "first", &t2, &err) == 0);
  CHECK_STR_EQ(t2, "10.213.9.6");
  free(t2);
  t2 = NULL;
  CHECK(net_ipam_release(&tiny, "first", &err) == 0);
  CHECK(net_ipam_allocate(&tiny, "second", &t2, &err) == 0);
  CHECK_STR_EQ(t2, "10.213.9.6");
  free(t1);
  free(t2);

  /* a bad subnet fails before touching the file */
  struct net_bridge_config badnet
      = {.bridge = "sktbad", .subnet = "10.213.9.1/24", .state_dir = state};
  char *x = NULL;
  CHECK(net_ipam_allocate(&badnet, "one", &x, &err) < 0);
  CHECK(x == NULL);
  if (err)
    CHECK_CONTAINS(err->msg, "10.213.9.1/24");
  skiff_err_free(&err);
  CHECK(lease_count(&badnet) == -1);

  CHECK(skiff_rm_rf(dir, &err) == 0);
  skiff_err_free(&err);
  free(state);
  free(dir);
}

int main(void)
{
  RUN_TEST(test_parse_subnet_good);
  RUN_TEST(test_parse_subnet_rejects);
  RUN_TEST(test_ipam_pick);
  RUN_TEST(test_veth_name);
  RUN_TEST(test_parse_publish_good);
  RUN_TEST(test_parse_publish_rejects);
  RUN_TEST(test_parse_volume);
  RUN_TEST(test_parse_user);
  RUN_TEST(test_parse_cpus);
  RUN_TEST(test_log_rotation_rule);
  RUN_TEST(test_ipam_file);
  return CHECK_DONE();
}
