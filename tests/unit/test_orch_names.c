/* test_orch_names.c - replica names (core/names.c): 100,000 names of one service from one
 * generator are all distinct and well formed, names reported taken are skipped, two
 * generators with different seeds start at different places, consecutive names sort in
 * order. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "names.h"
#include "strmap.h"
#include "util.h"

#define MANY 100000

static void test_100k_names_of_one_service_are_unique(void)
{
  struct name_gen g;
  name_gen_init(&g, 12345);
  struct strmap seen = {0};
  char **names = xmalloc(MANY * sizeof(char *));
  int dups = 0, malformed = 0;
  for (int i = 0; i < MANY; i++)
    {
      names[i] = name_gen_replica(&g, "web", 3, NULL, NULL);
      const char *sfx = names[i] + strlen("web-3-");
      malformed += strncmp(names[i], "web-3-", 6) != 0 || strlen(sfx) != NAMES_SUFFIX_LEN;
      for (const char *p = sfx; *p; p++)
        malformed += !(islower((unsigned char)*p) || isdigit((unsigned char)*p));
      dups += strmap_put(&seen, names[i], names[i]) != NULL;
    }
  CHECK(dups == 0);
  CHECK(malformed == 0);
  CHECK(seen.n == MANY);
  strmap_free(&seen);
  for (int i = 0; i < MANY; i++)
    free(names[i]);
  free(names);
}

static bool in_map(const char *name, void *arg)
{
  return strmap_get(arg, name) != NULL;
}

static void test_taken_names_are_skipped(void)
{
  /* what a restarted server meets: the names the same sequence would give are in use */
  struct name_gen a, b;
  name_gen_init(&a, 99);
  name_gen_init(&b, 99);
  struct strmap used = {0};
  char *first[100];
  for (int i = 0; i < 100; i++)
    {
      first[i] = name_gen_replica(&a, "api", 1, NULL, NULL);
      strmap_put(&used, first[i], first[i]);
    }
  int clashes = 0;
  for (int i = 0; i < 100; i++)
    {
      char *n = name_gen_replica(&b, "api", 1, in_map, &used);
      clashes += strmap_get(&used, n) != NULL;
      free(n);
    }
  CHECK(clashes == 0);
  for (int i = 0; i < 100; i++)
    free(first[i]);
  strmap_free(&used);
}

static void test_seeds_differ(void)
{
  struct name_gen a, b;
  name_gen_init(&a, 1);
  name_gen_init(&b, 2);
  char sa[NAMES_SUFFIX_LEN + 1], sb[NAMES_SUFFIX_LEN + 1];
  int same = 0;
  for (int i = 0; i < 10; i++)
    {
      name_gen_suffix(&a, sa);
      name_gen_suffix(&b, sb);
      same += strcmp(sa, sb) == 0;
    }
  CHECK(same == 0);
  /* consecutive names sort in creation order (but across a wrap of the counter): they
   * land together in the store's key index */
  int out_of_order = 0;
  char prev[NAMES_SUFFIX_LEN + 1] = "";
  for (int i = 0; i < 1000; i++)
    {
      name_gen_suffix(&a, sa);
      out_of_order += *prev && strcmp(prev, sa) >= 0;
      memcpy(prev, sa, sizeof(prev));
    }
  CHECK(out_of_order <= 1);
}

int main(void)
{
  RUN_TEST(test_100k_names_of_one_service_are_unique);
  RUN_TEST(test_taken_names_are_skipped);
  RUN_TEST(test_seeds_differ);
  return CHECK_DONE();
}
