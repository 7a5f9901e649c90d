/* writes.c - an owning list of store ops (see writes.h). */
#include <string.h>
#include "writes.h"

static struct store_op *grow(struct writes *w)
{
  if (w->n == w->cap)
    {
      w->cap = w->cap ? w->cap * 2 : 64;
      w->ops = xrealloc(w->ops, w->cap * sizeof(*w->ops));
    }
  return &w->ops[w->n++];
}

void writes_put(struct writes *w, char *key, char *value, int64_t expect_rev)
{
  *grow(w) = (struct store_op){.type = STORE_PUT,
                               .key = key,
                               .value = value,
                               .len = strlen(value),
                               .expect_rev = expect_rev};
}

void writes_delete(struct writes *w, char *key, int64_t expect_rev)
{
  *grow(w) = (struct store_op){.type = STORE_DELETE, .key = key, .expect_rev = expect_rev};
}

void writes_clear(struct writes *w)
{
  for (size_t i = 0; i < w->n; i++)
    {
      free((char *)w->ops[i].key);
      free((char *)w->ops[i].value);
    }
  w->n = 0;
}

void writes_free(struct writes *w)
{
  writes_clear(w);
  free(w->ops);
  memset(w, 0, sizeof(*w));
}
