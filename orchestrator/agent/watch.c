/* watch.c - the desired state of the node (the kubelet's pod config source): a thread lists
 * the replicas bound to this node, then follows the watch stream from the list's revision,
 * keeping `struct agent_desired` equal to the server's view and waking the sync loop on each
 * change.  When the server goes away it retries with back-off (one log line per step) and
 * lists again; the last known desired state stays, so the node's containers keep running
 * and keep being restarted meanwhile. */
#include "agent_internal.h"
#include "client.h"

#include <string.h>
#include <unistd.h>

struct watch_arg
{
  const struct agent_node *node;
  struct agent_desired *d;
  json_int_t revision;
};

static void wake(struct agent_desired *d)
{
  uint64_t one = 1;
  if (write(d->wake_fd, &one, sizeof(one)) < 0)
    {
      /* the counter is saturated: the loop is awake already */
    }
}

static int on_event(json_t *ev, void *data)
{
  struct watch_arg *w = data;
  const char *type = json_string_value(json_object_get(ev, "type"));
  json_t *rev = json_object_get(ev, "revision");
  json_t *obj = json_object_get(ev, "object");
  const char *name = json_string_value(json_object_get(obj, "name"));

  if (json_is_integer(rev) && json_integer_value(rev) > w->revision)
    w->revision = json_integer_value(rev);
  if (type == NULL || name == NULL || strcmp(type, "BOOKMARK") == 0)
    return agent_stopping ? 1 : 0;
  const char *node = json_string_value(json_object_get(obj, "node"));
  pthread_mutex_lock(&w->d->lock);
  if (strcmp(type, "DELETED") == 0 || node == NULL || strcmp(node, w->node->name) != 0)
    json_object_del(w->d->replicas, name);
  else
    json_object_set(w->d->replicas, name, obj);
  w->d->gen++;
  pthread_mutex_unlock(&w->d->lock);
  wake(w->d);
  return agent_stopping ? 1 : 0;
}

static void *watch_thread(void *arg)
{
  struct watch_arg *w = arg;
  const struct agent_node *n = w->node;
  /* no overall timeout for the list of a busy server, but connection failures are quick */
  struct client *c = client_new(n->server, n->token, 30000);
  struct agent_outage out = {0};
  cleanup_free char *lpath = xasprintf("/v1/replicas?node=%s", n->name);

  while (!agent_stopping)
    {
      struct skiff_err *err = NULL;
      json_t *list = NULL, *r;
      size_t i;
      if (client_call(c, "GET", lpath, NULL, NULL, &list, &err) < 0)
        {
          agent_sleep(agent_outage_failed(&out, "list replicas", err->msg));
          skiff_err_free(&err);
          continue;
        }
      agent_outage_ok(&out, "list replicas");
      w->revision = json_integer_value(json_object_get(list, "revision"));
      json_t *fresh = json_object();
      json_array_foreach(json_object_get(list, "items"), i, r)
      {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (name)
          json_object_set(fresh, name, r);
      }
      json_decref(list);
      pthread_mutex_lock(&w->d->lock);
      json_decref(w->d->replicas);
      w->d->replicas = fresh;
      w->d->gen++;
      w->d->synced = true;
      pthread_mutex_unlock(&w->d->lock);
      wake(w->d);

      cleanup_free char *wpath
          = xasprintf("/v1/watch?from=%lld&kind=replicas&node=%s", (long long)w->revision, n->name);
      if (client_stream(c, wpath, on_event, w, &err) < 0)
        {
          agent_sleep(agent_outage_failed(&out, "watch replicas", err->msg));
          skiff_err_free(&err);
        }
      else
        agent_sleep(0.1); /* the server ended the stream (restart, compaction): list again */
    }
  client_free(c);
  return NULL;
}

int agent_watch_start(const struct agent_node *node, struct agent_desired *d,
                      struct skiff_err **err)
{
  struct watch_arg *w = xzalloc(sizeof(*w));
  pthread_t t;
  w->node = node;
  w->d = d;
  d->replicas = json_object();
  if (pthread_create(&t, NULL, watch_thread, w) != 0)
    {
      free(w);
      return skiff_error(err, 0, "start the watch thread");
    }
  pthread_detach(t);
  return 0;
}

json_t *agent_desired_take(struct agent_desired *d, uint64_t *seen, bool *synced)
{
  json_t *copy = NULL;
  pthread_mutex_lock(&d->lock);
  *synced = d->synced;
  if (d->gen != *seen)
    {
      copy = json_deep_copy(d->replicas);
      *seen = d->gen;
    }
  pthread_mutex_unlock(&d->lock);
  return copy;
}
