/* writes.c - an owning list of store ops and their objects (see writes.h). */
#include <string.h>
#include "cluster.h"
#include "writes.h"

static size_t grow(struct writes *w)
{
  if (w->n == w->cap)
    {
      w->cap = w->cap ? w->cap * 2 : 64;
      w->ops = xrealloc(w->ops, w->cap * sizeof(*w->ops));
      w->objs = xrealloc(w->objs, w->cap * sizeof(*w->objs));
      w->kinds = xrealloc(w->kinds, w->cap * sizeof(*w->kinds));
      w->status = xrealloc(w->status, w->cap * sizeof(*w->status));
      w->owner = xrealloc(w->owner, w->cap * sizeof(*w->owner));
    }
  w->status[w->n] = 0;
  w->owner[w->n] = NULL;
  return w->n++;
}

void writes_put_replica(struct writes *w, struct view_replica *r, int64_t expect_rev)
{
  size_t i = grow(w), len = 0;
  char *val = view_replica_encode(r, false, &len);
  w->ops[i] = (struct store_op){.type = STORE_PUT,
                                .key = xasprintf("/replicas/%s", r->name),
                                .value = val,
                                .len = len,
                                .expect_rev = expect_rev};
  w->objs[i] = r;
  w->kinds[i] = VIEW_REPLICA;
}

void writes_put_json(struct writes *w, char kind, const char *name, json_t *obj, int64_t expect_rev)
{
  size_t i = grow(w);
  char *val = cluster_encode(obj);
  w->ops[i] = (struct store_op){.type = STORE_PUT,
                                .key = xasprintf("%s%s", view_kind_prefix(kind), name),
                                .value = val,
                                .len = strlen(val),
                                .expect_rev = expect_rev};
  w->objs[i] = obj;
  w->kinds[i] = kind;
}

void writes_delete(struct writes *w, char kind, const char *name, int64_t expect_rev)
{
  size_t i = grow(w);
  w->ops[i] = (struct store_op){.type = STORE_DELETE,
                                .key = xasprintf("%s%s", view_kind_prefix(kind), name),
                                .expect_rev = expect_rev};
  w->objs[i] = NULL;
  w->kinds[i] = kind;
}

long writes_find(const struct writes *w, const char *key)
{
  for (size_t i = 0; i < w->n; i++)
    if (strcmp(w->ops[i].key, key) == 0)
      return (long)i;
  return -1;
}

void writes_free_obj(char kind, void *obj)
{
  if (obj == NULL)
    return;
  if (kind == VIEW_REPLICA)
    view_replica_free(obj);
  else
    json_decref(obj);
}

void writes_clear(struct writes *w)
{
  for (size_t i = 0; i < w->n; i++)
    {
      free((char *)w->ops[i].key);
      free((char *)w->ops[i].value);
      writes_free_obj(w->kinds[i], w->objs[i]);
    }
  w->n = 0;
}

void writes_free(struct writes *w)
{
  writes_clear(w);
  free(w->ops);
  free(w->objs);
  free(w->kinds);
  free(w->status);
  free(w->owner);
  memset(w, 0, sizeof(*w));
}
