/* status.c - the status manager: a thread that sends what the sync loop reports to the server
 * (POST /v1/replicas/NAME/status) and the DELETEs of stopped Terminating/Lost replicas.
 * The loop never waits on the network: it queues, and a newer report of a replica replaces
 * a queued one, so an unreachable server costs one pending report per replica, not a
 * growing backlog.  Reports go in the order their replicas first queued; a failed send is
 * retried with back-off (one log line per step).
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

/* Send one entry; 0 done (sent, or refused for good), -1 transport failure (retry). */
static int send_entry(struct agent_status *s, struct client *c, const struct entry *e,
                      struct skiff_err **err)
{
  long status = 0;
  json_t *resp = NULL;
  if (e->body == NULL)
    {
      cleanup_free char *path = xasprintf("/v1/replicas/%s", e->replica);
      if (client_request(c, "DELETE", path, NULL, &status, &resp, err) < 0)
        return -1;
    }
  else
    {
      cleanup_free char *path = xasprintf("/v1/replicas/%s/status", e->replica);
      if (client_request(c, "POST", path, e->body, &status, &resp, err) < 0)
        return -1;
    }
  /* 404: gone already; 409: Terminating/Lost or moved, the watch brings the new state */
  if (status >= 500 || status == 401 || status == 403)
    {
      cleanup_free char *msg = client_error_message(status, resp);
      json_decref(resp);
      return skiff_error(err, 0, "%s", msg);
    }
  if (status >= 400 && status != 404 && status != 409)
    {
      cleanup_free char *msg = client_error_message(status, resp);
      agent_log("%s replica %s: %s", e->body ? "report" : "delete", e->replica, msg);
    }
  (void)s;
  json_decref(resp);
  return 0;
}

static void *status_thread(void *arg)
{
  struct agent_status *s = arg;
  struct client *c = client_new(s->node->server, s->node->token, 10000);
  struct agent_outage out = {0};
  while (!agent_stopping)
    {
      pthread_mutex_lock(&s->lock);
      while (s->n == 0 && !agent_stopping)
        pthread_cond_wait(&s->cond, &s->lock);
      if (s->n == 0)
        {
          pthread_mutex_unlock(&s->lock);
          break;
        }
      struct entry e = {.replica = xstrdup(s->q[0].replica),
                        .body = s->q[0].body ? json_incref(s->q[0].body) : NULL,
                        .serial = s->q[0].serial};
      pthread_mutex_unlock(&s->lock);

      struct skiff_err *err = NULL;
      int r = send_entry(s, c, &e, &err);
      if (r < 0)
        {
          agent_sleep(agent_outage_failed(&out, "status reports", err->msg));
          skiff_err_free(&err);
        }
      else
        {
          agent_outage_ok(&out, "status reports");
          pthread_mutex_lock(&s->lock);
          /* done with the head unless a newer report replaced it meanwhile */
          if (s->n > 0 && strcmp(s->q[0].replica, e.replica) == 0 && s->q[0].serial == e.serial)
            {
              entry_clear(&s->q[0]);
              memmove(s->q, s->q + 1, (s->n - 1) * sizeof(*s->q));
              s->n--;
            }
          pthread_mutex_unlock(&s->lock);
        }
      entry_clear(&e);
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
