/* names.c - replica names unique by construction (see names.h). */
#include <stdio.h>
#include "names.h"
#include "util.h"

#define SPACE 60466176ULL /* 36^5 */

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static uint64_t splitmix(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* A multiplier invertible modulo 36^5 = 2^10 * 3^10: odd, not a multiple of 3. */
static uint64_t unit(uint64_t r)
{
  uint64_t m = (r % SPACE) | 1;
  while (m % 3 == 0)
    m += 2;
  return m % SPACE;
}

void name_gen_init(struct name_gen *g, uint64_t seed)
{
  uint64_t s = seed;
  g->next = splitmix(&s) % SPACE;
  for (int i = 0; i < 2; i++)
    {
      g->mul[i] = unit(splitmix(&s));
      g->add[i] = splitmix(&s) % SPACE;
    }
}

/* Reversing the 5 base-36 digits is a bijection; between two affine bijections it spreads
 * consecutive counters over the whole space. */
static uint64_t reverse36(uint64_t x)
{
  uint64_t r = 0;
  for (int i = 0; i < NAMES_SUFFIX_LEN; i++)
    {
      r = r * 36 + x % 36;
      x /= 36;
    }
  return r;
}

void name_gen_suffix(struct name_gen *g, char out[NAMES_SUFFIX_LEN + 1])
{
  uint64_t x = g->next;
  g->next = (g->next + 1) % SPACE;
  x = (g->mul[0] * x + g->add[0]) % SPACE;
  x = reverse36(x);
  x = (g->mul[1] * x + g->add[1]) % SPACE;
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
