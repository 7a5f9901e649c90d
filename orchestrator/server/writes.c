/* writes.c - an owning list of store ops and their objects (see writes.h). */
#include <string.h>
#include "cluster.h"
#include "writes.h"

#define BLOCK_SIZE (64 * 1024 - 64)

struct writes_block
{
  struct writes_block *next;
  size_t used, cap;
  char data[];
};

/* Copy a, then b (may be NULL), NUL-terminated, into the list's blocks. */
static char *arena(struct writes *w, const char *a, size_t la, const char *b, size_t lb)
{
  size_t need = la + lb + 1;
  struct writes_block *blk = w->blocks;
  if (blk == NULL || blk->cap - blk->used < need)
    {
      size_t cap = need > BLOCK_SIZE ? need : BLOCK_SIZE;
      blk = xmalloc(sizeof(*blk) + cap);
      blk->used = 0;
      blk->cap = cap;
      blk->next = w->blocks;
      w->blocks = blk;
    }
  char *s = blk->data + blk->used;
  memcpy(s, a, la);
  if (lb)
    memcpy(s + la, b, lb);
  s[la + lb] = '\0';
  blk->used += need;
  return s;
}

static char *key_of(struct writes *w, char kind, const char *name)
{
  const char *prefix = view_kind_prefix(kind);
  return arena(w, prefix, strlen(prefix), name, strlen(name));
}

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
  const char *text = view_replica_text(r, false, &len);
  w->ops[i] = (struct store_op){.type = STORE_PUT,
                                .key = key_of(w, VIEW_REPLICA, r->name),
                                .value = arena(w, text, len, NULL, 0),
                                .len = len,
                                .expect_rev = expect_rev};
  w->objs[i] = r;
  w->kinds[i] = VIEW_REPLICA;
}

void writes_put_json(struct writes *w, char kind, const char *name, json_t *obj, int64_t expect_rev)
{
  size_t i = grow(w);
  cleanup_free char *text = cluster_encode(obj);
  size_t len = strlen(text);
  w->ops[i] = (struct store_op){.type = STORE_PUT,
                                .key = key_of(w, kind, name),
                                .value = arena(w, text, len, NULL, 0),
                                .len = len,
                                .expect_rev = expect_rev};
  w->objs[i] = obj;
  w->kinds[i] = kind;
}

void writes_delete(struct writes *w, char kind, const char *name, int64_t expect_rev)
{
  size_t i = grow(w);
  w->ops[i] = (struct store_op){
      .type = STORE_DELETE, .key = key_of(w, kind, name), .expect_rev = expect_rev};
  w->objs[i] = NULL;
  w->kinds[i] = kind;
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
    writes_free_obj(w->kinds[i], w->objs[i]);
  w->n = 0;
  while (w->blocks)
    {
      struct writes_block *next = w->blocks->next;
      free(w->blocks);
      w->blocks = next;
    }
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
