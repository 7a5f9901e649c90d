/* test_strmap.c - the string hash map (runtime/util/strmap.c) against a plain array: random
 * inserts, replacements and deletions (which shift entries back) keep every lookup right. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "strmap.h"
#include "util.h"

#define N 20000

static void test_matches_a_reference(void)
{
  struct strmap m = {0};
  char **keys = xzalloc(N * sizeof(char *));
  int *present = xzalloc(N * sizeof(int));
  for (int i = 0; i < N; i++)
    keys[i] = xasprintf("replica-%d-%x", i % 97, i * 2654435761u);
  srand(7);
  size_t n = 0;
  for (int round = 0; round < 200000; round++)
    {
      int k = rand() % N;
      if (rand() % 3 == 0)
        {
          void *v = strmap_del(&m, keys[k]);
          CHECK(v == (present[k] ? (void *)keys[k] : NULL));
          n -= present[k];
          present[k] = 0;
        }
      else
        {
          void *prev = strmap_put(&m, keys[k], keys[k]);
          CHECK(prev == (present[k] ? (void *)keys[k] : NULL));
          n += !present[k];
          present[k] = 1;
        }
    }
  CHECK(m.n == n);
  int bad = 0;
  for (int i = 0; i < N; i++)
    bad += strmap_get(&m, keys[i]) != (present[i] ? (void *)keys[i] : NULL);
  CHECK(bad == 0);
  size_t pos = 0, seen = 0;
  const char *key;
  void *val;
  while (strmap_next(&m, &pos, &key, &val))
    {
      seen++;
      CHECK(key == val);
    }
  CHECK(seen == n);
  /* a different pointer with equal text finds the same entry */
  for (int i = 0; i < N; i++)
    if (present[i])
      {
        char *copy = xstrdup(keys[i]);
        CHECK(strmap_get(&m, copy) == keys[i]);
        free(copy);
        break;
      }
  strmap_free(&m);
  CHECK(strmap_get(&m, "x") == NULL && strmap_del(&m, "x") == NULL);
  for (int i = 0; i < N; i++)
    free(keys[i]);
  free(keys);
  free(present);
}

int main(void)
{
  RUN_TEST(test_matches_a_reference);
  return CHECK_DONE();
}
