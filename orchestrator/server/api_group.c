/* api_group.c - group commit for the agents' writes.  A replica status report, a node's
 * batched report or a replica delete queues its writes in the pass's group and parks its
 * connection (MHD_suspend_connection); after libmicrohttpd's pass the server loop calls
 * api_flush, which commits the whole group (txns of at most CLUSTER_TXN_OPS ops, an op whose
 * compare fails dropped alone), makes each parked request's reply and resumes it.  So a
 * thousand reports cost a few store commits instead of a thousand, and a request is
 * answered only after the COMMIT that holds its writes: an acknowledged report survives a
 * kill -9 of the server. */
#include <string.h>
#include "api_internal.h"
#include "jtext.h"

bool api_group_has(struct api *api, const char *key)
{
  return strmap_get(&api->group_keys, key) != NULL;
}

json_t *api_result(struct request *rq, const char *name, unsigned code, const char *error)
{
  if (rq->results == NULL)
    {
      rq->results = json_object();
      rq->order = json_array();
    }
  json_t *item = json_object_get(rq->results, name);
  if (item == NULL)
    {
      item = json_pack("{s:s}", "name", name);
      json_object_set_new(rq->results, name, item);
      json_array_append_new(rq->order, json_string(name));
    }
  json_object_set_new(item, "code", json_integer(code));
  if (error)
    json_object_set_new(item, "error", json_string(error));
  return item;
}

static void track(struct api *api, struct request *rq)
{
  size_t i = api->group.n - 1;
  api->group.owner[i] = rq;
  strmap_put(&api->group_keys, api->group.ops[i].key, rq);
}

void api_group_put_replica(struct api *api, struct request *rq, struct view_replica *r,
                           int64_t expect)
{
  api_result(rq, r->name, 0, NULL);
  writes_put_replica(&api->group, r, expect);
  track(api, rq);
}

void api_group_delete_replica(struct api *api, struct request *rq, const char *name, int64_t expect)
{
  api_result(rq, name, 0, NULL);
  writes_delete(&api->group, VIEW_REPLICA, name, expect);
  track(api, rq);
}

static char *error_text(unsigned code, const char *msg)
{
  json_t *b = json_pack("{s:s,s:i}", "error", msg, "code", (int)code);
  char *s = json_dumps(b, JSON_COMPACT);
  json_decref(b);
  return s;
}

/* Fill rq->code and rq->reply from its results. */
static void make_reply(struct api *api, struct request *rq)
{
  if (rq->reply_kind == API_REPLY_ITEMS)
    {
      struct jtext t = {0};
      jtext_str(&t, "{\"items\":[");
      size_t i;
      json_t *name;
      json_array_foreach(rq->order, i, name)
      {
        char *s = json_dumps(json_object_get(rq->results, json_string_value(name)), JSON_COMPACT);
        if (i)
          jtext_str(&t, ",");
        jtext_str(&t, s);
        free(s);
      }
      jtext_str(&t, "],\"revision\":");
      jtext_int(&t, api->view->rev);
      jtext_str(&t, "}");
      rq->code = 200;
      rq->reply = jtext_take(&t, NULL);
      return;
    }
  json_t *item = json_object_get(rq->results, json_string_value(json_array_get(rq->order, 0)));
  unsigned code = (unsigned)json_integer_value(json_object_get(item, "code"));
  rq->code = code;
  if (code != 200)
    rq->reply = error_text(code, model_str(item, "error", "error"));
  else if (rq->reply_kind == API_REPLY_DELETED)
    rq->reply = json_dumps(rq->last, JSON_COMPACT | JSON_REAL_PRECISION(9));
  else
    {
      struct view_replica *r = view_replica(api->view, model_str(item, "name", ""));
      rq->reply = r ? view_replica_encode(r, true, NULL)
                    : error_text(rq->code = 404, "replica was deleted meanwhile");
    }
}

enum MHD_Result api_reply_now(struct api *api, struct MHD_Connection *c, struct request *rq)
{
  make_reply(api, rq);
  char *text = rq->reply;
  rq->reply = NULL;
  return api_send_text(api, c, rq->code, text);
}

enum MHD_Result api_park(struct api *api, struct MHD_Connection *c, struct request *rq)
{
  rq->conn = c;
  rq->parked = true;
  rq->next = api->parked;
  api->parked = rq;
  MHD_suspend_connection(c);
  return MHD_YES;
}

void api_group_commit(struct api *api)
{
  struct writes *w = &api->group;
  if (w->n == 0 && api->parked == NULL)
    return;
  cleanup_err struct skiff_err *err = NULL;
  int r = cluster_commit_each(api->cl, w, &err);
  if (w->n)
    api->group_commits++;
  api->group_writes += w->n;
  for (size_t i = 0; i < w->n; i++)
    {
      struct request *rq = w->owner[i];
      const char *name = w->ops[i].key + strlen("/replicas/");
      if (rq == NULL)
        continue;
      if (w->status[i] == 0)
        api_result(rq, name, 200, NULL);
      else if (w->status[i] == STORE_CONFLICT)
        api_result(rq, name, 409, "the replica changed meanwhile: report again");
      else
        {
          cleanup_free char *msg = xasprintf("store: %s", r < 0 && err ? err->msg : "error");
          api_result(rq, name, 500, msg);
        }
    }
  writes_clear(w);
  strmap_free(&api->group_keys);
  struct request *rq = api->parked;
  api->parked = NULL;
  while (rq)
    {
      struct request *next = rq->next;
      make_reply(api, rq);
      rq->parked = false;
      rq->next = NULL;
      MHD_resume_connection(rq->conn);
      rq = next;
    }
}

void api_request_free(struct request *rq)
{
  free(rq->body);
  json_decref(rq->results);
  json_decref(rq->order);
  json_decref(rq->last);
  free(rq->reply);
  free(rq);
}
