/* status.c - the status manager: a thread that sends what the sync loop reports to the server
 * (every waiting report in one POST /v1/nodes/NAME/status) and the DELETEs of stopped
 * Terminating/Lost replicas.
 * The loop never waits on the network: it queues, and a newer report of a replica replaces
 * a queued one, so an unreachable server costs one pending report per replica, not a
 * growing backlog.  DELETEs go first, one by one; then every waiting report at once; a failed
 * send is retried with back-off (one log line per step).
 * Threads: the queue is shared between the loop (producer) and this thread, under `lock`. */
#include "agent_internal.h"
#include "client.h"

#include <string.h>

struct entry
{
  char *replica;
  json_t *body;    /* report, or NULL for a DELETE */
  uint64_t serial; /* bumps when a newer report replaces this one */
};

struct agent_status
{
  const struct agent_node *node;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct entry *q;
  size_t n, cap;
};

static void entry_clear(struct entry *e)
{
  free(e->replica);
  json_decref(e->body);
}

static void queue(struct agent_status *s, const char *replica, json_t *body)
{
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->q[i].replica, replica) == 0)
      {
        /* a DELETE wins over reports; a report never replaces a queued DELETE */
        if (s->q[i].body == NULL && body != NULL)
          json_decref(body);
        else
          {
            json_decref(s->q[i].body);
            s->q[i].body = body;
            s->q[i].serial++;
          }
        pthread_mutex_unlock(&s->lock);
        return;
      }
  if (s->n == s->cap)
    s->q = xrealloc(s->q, (s->cap = s->cap ? s->cap * 2 : 32) * sizeof(*s->q));
  s->q[s->n++] = (struct entry){.replica = xstrdup(replica), .body = body, .serial = 1};
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->lock);
}

void agent_status_report(struct agent_status *s, const char *replica, json_t *body)
{
  queue(s, replica, body);
}

void agent_status_delete(struct agent_status *s, const char *replica)
{
  queue(s, replica, NULL);
}

/* An answer that means "try again later" becomes an error; others are final (404: gone
 * already; 409: Terminating/Lost or moved, the watch brings the new state). */
static int answer_status(long status, json_t *resp, const char *what, struct skiff_err **err)
{
  if (status >= 500 || status == 401 || status == 403)
    {
      cleanup_free char *msg = client_error_message(status, resp);
      return skiff_error(err, 0, "%s", msg);
    }
  if (status >= 400 && status != 404 && status != 409)
    {
      cleanup_free char *msg = client_error_message(status, resp);
      agent_log("%s: %s", what, msg);
    }
  return 0;
}

/* DELETE one replica; 0 done, -1 retry. */
static int send_delete(struct client *c, const char *replica, struct skiff_err **err)
{
  long status = 0;
  json_t *resp = NULL;
  cleanup_free char *path = xasprintf("/v1/replicas/%s", replica);
  cleanup_free char *what = xasprintf("delete replica %s", replica);
  if (client_request(c, "DELETE", path, NULL, &status, &resp, err) < 0)
    return -1;
  int r = answer_status(status, resp, what, err);
  json_decref(resp);
  return r;
}

/* Every queued report in one POST /v1/nodes/NAME/status (API.md: a node's changes in one
 * request, which also counts as a heartbeat); 0 done, -1 retry. */
static int send_reports(struct agent_status *s, struct client *c, json_t *items,
                        struct skiff_err **err)
{
  long status = 0;
  json_t *resp = NULL;
  cleanup_free char *path = xasprintf("/v1/nodes/%s/status", s->node->name);
  cleanup_free char *what = xasprintf("report %zu replicas", json_array_size(items));
  json_t *body = json_pack("{s:O}", "replicas", items);
  int r = client_request(c, "POST", path, body, &status, &resp, err);
  json_decref(body);
  if (r == 0)
    r = answer_status(status, resp, what, err);
  json_decref(resp);
  return r;
}

/* The next piece of work under the lock: the first DELETE (*del, its serial), else every
 * report as batch items (*items, their names and serials in *sent). */
static void take_work(struct agent_status *s, char **del, uint64_t *del_serial, json_t **items,
                      json_t **sent)
{
  *del = NULL;
  *items = NULL;
  *sent = NULL;
  for (size_t i = 0; i < s->n && *del == NULL; i++)
    if (s->q[i].body == NULL)
      {
        *del = xstrdup(s->q[i].replica);
        *del_serial = s->q[i].serial;
      }
  if (*del)
    return;
  *items = json_array();
  *sent = json_object();
  for (size_t i = 0; i < s->n; i++)
    {
      json_t *item = json_deep_copy(s->q[i].body);
      json_object_del(item, "node");
      json_object_set_new(item, "name", json_string(s->q[i].replica));
      json_array_append_new(*items, item);
      json_object_set_new(*sent, s->q[i].replica, json_integer((json_int_t)s->q[i].serial));
    }
}

/* Drop what was sent, unless a newer report of the same replica came meanwhile. */
static void done_with(struct agent_status *s, const char *replica, uint64_t serial)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->q[i].replica, replica) == 0)
      {
        if (s->q[i].serial == serial)
          {
            entry_clear(&s->q[i]);
            memmove(s->q + i, s->q + i + 1, (s->n - i - 1) * sizeof(*s->q));
            s->n--;
          }
        return;
      }
}

static void *status_thread(void *arg)
{
  struct agent_status *s = arg;
  struct client *c = client_new(s->node->server, s->node->token, 10000);
  struct agent_outage out = {0};
  while (!agent_stopping)
    {
      char *del = NULL;
      uint64_t del_serial = 0;
      json_t *items = NULL, *sent = NULL;
      pthread_mutex_lock(&s->lock);
      while (s->n == 0 && !agent_stopping)
        pthread_cond_wait(&s->cond, &s->lock);
      if (s->n > 0)
        take_work(s, &del, &del_serial, &items, &sent);
      pthread_mutex_unlock(&s->lock);
      if (del == NULL && items == NULL)
        break;

      struct skiff_err *err = NULL;
      int r = del ? send_delete(c, del, &err) : send_reports(s, c, items, &err);
      if (r < 0)
        {
          agent_sleep(agent_outage_failed(&out, "status reports", err->msg));
          skiff_err_free(&err);
        }
      else
        {
          agent_outage_ok(&out, "status reports");
          pthread_mutex_lock(&s->lock);
          if (del)
            done_with(s, del, del_serial);
          else
            {
              const char *name;
              json_t *serial;
              json_object_foreach(sent, name, serial)
              {
                done_with(s, name, (uint64_t)json_integer_value(serial));
              }
            }
          pthread_mutex_unlock(&s->lock);
        }
      free(del);
      json_decref(items);
      json_decref(sent);
    }
  client_free(c);
  return NULL;
}

struct agent_status *agent_status_start(const struct agent_node *node)
{
  struct agent_status *s = xzalloc(sizeof(*s));
  pthread_t t;
  s->node = node;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->cond, NULL);
  pthread_create(&t, NULL, status_thread, s);
  pthread_detach(t);
  return s;
}
