/* strmap.c - string-keyed hash map (see strmap.h). */
#include <string.h>
#include "strmap.h"
#include "util.h"

uint64_t strmap_hash(const char *s)
{
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static size_t find(const struct strmap *m, const char *key, uint64_t h)
{
  size_t mask = m->cap - 1, i = h & mask;
  while (m->slots[i].key && (m->slots[i].hash != h || strcmp(m->slots[i].key, key) != 0))
    i = (i + 1) & mask;
  return i;
}

void *strmap_get(const struct strmap *m, const char *key)
{
  if (m->n == 0)
    return NULL;
  size_t i = find(m, key, strmap_hash(key));
  return m->slots[i].key ? m->slots[i].val : NULL;
}

static void grow(struct strmap *m)
{
  struct strmap old = *m;
  m->cap = old.cap ? old.cap * 2 : 16;
  m->slots = xzalloc(m->cap * sizeof(*m->slots));
  for (size_t i = 0; i < old.cap; i++)
    if (old.slots[i].key)
      m->slots[find(m, old.slots[i].key, old.slots[i].hash)] = old.slots[i];
  free(old.slots);
}

void *strmap_put(struct strmap *m, const char *key, void *val)
{
  if ((m->n + 1) * 4 > m->cap * 3)
    grow(m);
  uint64_t h = strmap_hash(key);
  size_t i = find(m, key, h);
  if (m->slots[i].key)
    {
      void *prev = m->slots[i].val;
      m->slots[i].key = key;
      m->slots[i].val = val;
      return prev;
    }
  m->slots[i] = (struct strmap_slot){.key = key, .val = val, .hash = h};
  m->n++;
  return NULL;
}

void *strmap_del(struct strmap *m, const char *key)
{
  if (m->n == 0)
    return NULL;
  size_t mask = m->cap - 1, i = find(m, key, strmap_hash(key));
  if (m->slots[i].key == NULL)
    return NULL;
  void *val = m->slots[i].val;
  /* Backward shift: pull later entries of the probe run into the hole. */
  size_t j = i;
  for (;;)
    {
      m->slots[i].key = NULL;
      for (;;)
        {
          j = (j + 1) & mask;
          if (m->slots[j].key == NULL)
            {
              m->n--;
              return val;
            }
          size_t home = m->slots[j].hash & mask;
          /* Entry j may move to i when its home is not in (i, j] (cyclically). */
          if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
            break;
        }
      m->slots[i] = m->slots[j];
      i = j;
    }
}

bool strmap_next(const struct strmap *m, size_t *pos, const char **key, void **val)
{
  for (; *pos < m->cap; (*pos)++)
    if (m->slots[*pos].key)
      {
        if (key)
          *key = m->slots[*pos].key;
        if (val)
          *val = m->slots[*pos].val;
        (*pos)++;
        return true;
      }
  return false;
}

void strmap_free(struct strmap *m)
{
  free(m->slots);
  memset(m, 0, sizeof(*m));
}
