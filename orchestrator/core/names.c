/* names.c - replica names unique by construction (see names.h). */
#include <stdio.h>
#include "names.h"
#include "util.h"

#define SPACE 60466176ULL /* 36^5 */

/* In ASCII order, so that a larger counter is a larger name. */
static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

void name_gen_init(struct name_gen *g, uint64_t seed)
{
  /* splitmix64 of the seed: any seed gives a well spread start */
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  g->next = (z ^ (z >> 31)) % SPACE;
}

void name_gen_suffix(struct name_gen *g, char out[NAMES_SUFFIX_LEN + 1])
{
  uint64_t x = g->next;
  g->next = (g->next + 1) % SPACE;
  for (int i = NAMES_SUFFIX_LEN - 1; i >= 0; i--)
    {
      out[i] = alphabet[x % 36];
      x /= 36;
    }
  out[NAMES_SUFFIX_LEN] = '\0';
}

char *name_gen_replica(struct name_gen *g, const char *service, int64_t generation,
                       bool (*taken)(const char *name, void *arg), void *arg)
{
  for (;;)
    {
      char sfx[NAMES_SUFFIX_LEN + 1];
      name_gen_suffix(g, sfx);
      char *name = xasprintf("%s-%lld-%s", service, (long long)generation, sfx);
      if (taken == NULL || !taken(name, arg))
        return name;
      free(name);
    }
}
