/* fake.c - `skiffd agent --fake-runtime`: like Kubernetes' kubemark "hollow nodes", it
 * registers one or many nodes, heartbeats for them and reports every replica bound to them
 * Running + ready without creating a container, so tests and benchmarks can run a thousand
 * nodes in one process.  Stopping the process (SIGSTOP / SIGKILL) is a node failure;
 * SIGCONT is the node coming back.
 *
 * Threads (each owns its own struct client; shared state is the job queue, the reports
 * waiting per node, the crash loops, the stop flag and the read-only configuration):
 *   heartbeat x H  register its slice of the nodes, then POST a heartbeat for each every interval,
 *                  spread over it (agent_heartbeat_thread, agent.c)
 *   watcher        list + watch replicas, turn each one bound to our nodes into a report or a job
 *   worker x W     carry out jobs: a node's waiting reports in one POST /v1/nodes/NAME/status
 *                  (API.md), replica deletes
 *   timer          restart crash-looping replicas when their back-off ends; poll --fail-file
 * The main thread waits for SIGTERM/SIGINT. */
#include "agent.h"
#include "agent_internal.h"
#include "client.h"
#include "model.h"
#include "reconcile.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Report workers, each with its own connection.  Real nodes report side by side, one
 * connection each; with 4 the thousand nodes of tests/bench/scheduler_e2e queued behind four
 * round trips at a time (apply -> Running 572-663 ms, 10,000 writes in ~850 commits); with 8,
 * 537-602 ms in ~500 larger commits and a fifth less server CPU (480 ms against 610); 16 gave
 * no more (3 runs each, 2026-12-07). */
#define AGENT_WORKERS 8
#define AGENT_MAX_HB_THREADS 8

/* A fake node's reports waiting to be sent, in one request. */
struct fake_node
{
  char *name;
  json_t *pending; /* replica name -> status item */
  int queued;      /* a JOB_NODE for it is in the queue */
};

/* A crash-looping fake container: it starts again at `due` and exits at once. */
struct crash
{
  char *replica;
  long node;
  int restarts, exit_code;
  double due;
  struct crash *next;
};

struct agent
{
  char *server, *token;
  const struct agent_credentials *creds; /* each node speaks with its own credential */
  const char *name, *address, *fail_file;
  json_t *labels;
  double cpu;
  long long memory;
  long count;
  double interval; /* seconds between heartbeats */
  int hb_threads;

  pthread_mutex_t lock; /* guards the job queue, `queued`, the nodes' reports, `crashes` */
  pthread_cond_t cond;
  struct job *head, *tail;
  json_t *queued; /* replicas with a delete in the queue: a relist does not repeat them */
  struct fake_node *nodes;
  struct crash *crashes;
};

enum job_kind
{
  JOB_NODE,
  JOB_DELETE,
};

struct job
{
  struct job *next;
  enum job_kind kind;
  long node;     /* the fake node whose credential speaks */
  char *replica; /* JOB_DELETE */
};

void agent_fake_decide(json_t *spec, int restarts, struct agent_fake_report *out)
{
  json_t *env = spec ? json_object_get(spec, "env") : NULL;
  const char *exit_s = json_string_value(json_object_get(env, "SKIFF_FAKE_EXIT"));
  const char *ready_s = json_string_value(json_object_get(env, "SKIFF_FAKE_READY"));
  const char *policy = spec ? json_string_value(json_object_get(spec, "restart")) : NULL;

  memset(out, 0, sizeof(*out));
  out->state = "Running";
  out->ready = 1;
  out->reason = "";
  out->restarts = restarts;
  out->restart_in = -1;
  if (exit_s && *exit_s)
    {
      char *end = NULL;
      long code = strtol(exit_s, &end, 10);
      out->ready = 0;
      out->has_exit_code = 1;
      out->exit_code = (*end == '\0' && code >= 0 && code <= 255) ? (int)code : 1;
      out->reason = "fake runtime: SKIFF_FAKE_EXIT";
      if (rc_should_restart(policy, out->exit_code))
        {
          /* Restarted in place, as a kubelet does: same replica, waiting for its next start
           * (first immediate, then 1 s, 2 s, ... 30 s), where the count goes up. */
          out->state = "BackOff";
          out->restart_in = rc_backoff_delay(&rc_backoff_default, (unsigned)restarts);
        }
      else
        out->state = out->exit_code == 0 ? "Succeeded" : "Failed";
      return;
    }
  if (ready_s && (strcmp(ready_s, "never") == 0 || strcmp(ready_s, "false") == 0))
    {
      out->ready = 0;
      out->reason = "fake runtime: SKIFF_FAKE_READY=never";
    }
}

/* ---- small utilities ------------------------------------------------------------------ */

static char *node_name(const struct agent *a, long i)
{
  if (a->count == 1)
    return xstrdup(a->name);
  return xasprintf("%s-%ld", a->name, i);
}

static void push_job(struct agent *a, struct job *j)
{
  if (a->tail)
    a->tail->next = j;
  else
    a->head = j;
  a->tail = j;
  pthread_cond_signal(&a->cond);
}

static void enqueue_delete(struct agent *a, long idx, const char *replica)
{
  pthread_mutex_lock(&a->lock);
  if (json_object_get(a->queued, replica) == NULL)
    {
      struct job *j = xzalloc(sizeof(*j));
      json_object_set_new(a->queued, replica, json_true());
      j->kind = JOB_DELETE;
      j->node = idx;
      j->replica = xstrdup(replica);
      push_job(a, j);
    }
  pthread_mutex_unlock(&a->lock);
}

/* Queue a report for replica on fake node idx: it leaves with the node's next request. */
static void report(struct agent *a, long idx, const char *replica,
                   const struct agent_fake_report *rep)
{
  json_t *item = json_pack("{s:s, s:s, s:b, s:s, s:s, s:i}", "name", replica, "state", rep->state,
                           "ready", rep->ready, "address", a->address, "reason",
                           rep->reason ? rep->reason : "", "restarts", rep->restarts);
  if (rep->has_exit_code)
    json_object_set_new(item, "lastExitCode", json_integer(rep->exit_code));
  pthread_mutex_lock(&a->lock);
  json_object_set_new(a->nodes[idx].pending, replica, item);
  if (!a->nodes[idx].queued)
    {
      struct job *j = xzalloc(sizeof(*j));
      j->kind = JOB_NODE;
      j->node = idx;
      a->nodes[idx].queued = 1;
      push_job(a, j);
    }
  pthread_mutex_unlock(&a->lock);
}

/* Crash loops: track, forget. */
static void crash_track(struct agent *a, const char *replica, long node, int restarts,
                        int exit_code, double due)
{
  pthread_mutex_lock(&a->lock);
  struct crash *c;
  for (c = a->crashes; c && strcmp(c->replica, replica) != 0; c = c->next)
    ;
  if (c == NULL)
    {
      c = xzalloc(sizeof(*c));
      c->replica = xstrdup(replica);
      c->next = a->crashes;
      a->crashes = c;
    }
  c->node = node;
  c->restarts = restarts;
  c->exit_code = exit_code;
  c->due = due;
  pthread_mutex_unlock(&a->lock);
}

static void crash_forget(struct agent *a, const char *replica)
{
  pthread_mutex_lock(&a->lock);
  for (struct crash **p = &a->crashes; *p; p = &(*p)->next)
    if (strcmp((*p)->replica, replica) == 0)
      {
        struct crash *c = *p;
        *p = c->next;
        free(c->replica);
        free(c);
        break;
      }
  pthread_mutex_unlock(&a->lock);
}

static void report_outage(const char *what, int *down, struct skiff_err **err)
{
  if (*err && !*down)
    fprintf(stderr, "skiffd agent: %s: %s (retrying)\n", what, (*err)->msg);
  if (*err == NULL && *down)
    fprintf(stderr, "skiffd agent: %s: server reachable again\n", what);
  *down = *err != NULL;
  skiff_err_free(err);
}

/* ---- replicas ------------------------------------------------------------------------- */

static void handle_replica(struct agent *a, json_t *r)
{
  const char *name = json_string_value(json_object_get(r, "name"));
  const char *node = json_string_value(json_object_get(r, "node"));
  const char *state = json_string_value(json_object_get(r, "state"));
  long idx = agent_node_index(a->name, a->count, node);

  if (name == NULL || state == NULL || idx < 0)
    return;
  if (strcmp(state, "Scheduled") == 0)
    {
      struct agent_fake_report rep;
      agent_fake_decide(json_object_get(r, "spec"), 0, &rep);
      report(a, idx, name, &rep);
      if (rep.restart_in >= 0)
        crash_track(a, name, idx, rep.restarts, rep.exit_code, agent_now() + rep.restart_in);
    }
  else if (strcmp(state, "BackOff") == 0)
    {
      /* After an agent restart: a crash loop goes on where the server says it was. */
      struct agent_fake_report rep;
      int restarts = (int)json_integer_value(json_object_get(r, "restarts"));
      agent_fake_decide(json_object_get(r, "spec"), restarts, &rep);
      if (rep.restart_in >= 0)
        crash_track(a, name, idx, restarts, rep.exit_code, agent_now() + rep.restart_in);
    }
  else if (strcmp(state, "Terminating") == 0 || strcmp(state, "Lost") == 0)
    {
      crash_forget(a, name);
      enqueue_delete(a, idx, name);
    }
}

struct watch_ctx
{
  struct agent *a;
  json_int_t revision;
};

static int watch_line(json_t *ev, void *data)
{
  struct watch_ctx *w = data;
  const char *type = json_string_value(json_object_get(ev, "type"));
  json_t *rev = json_object_get(ev, "revision");

  if (json_is_integer(rev) && json_integer_value(rev) > w->revision)
    w->revision = json_integer_value(rev);
  if (type && strcmp(type, "DELETED") == 0)
    crash_forget(w->a, json_string_value(json_object_get(json_object_get(ev, "object"), "name")));
  else if (type && strcmp(type, "BOOKMARK") != 0)
    handle_replica(w->a, json_object_get(ev, "object"));
  return agent_stopping ? 1 : 0;
}

int agent_fake_skip_line(const char *line, size_t len, json_int_t *revision)
{
  static const char state[] = "\"state\":\"Running\"",
                    spec[] = "\"spec\":", rev[] = "\"revision\":";
  const char *st = memmem(line, len, "\"state\":", 8);
  const char *sp = memmem(line, len, spec, sizeof(spec) - 1);
  if (st == NULL || (sp && sp < st) || (size_t)(line + len - st) < sizeof(state) - 1
      || memcmp(st, state, sizeof(state) - 1) != 0 || memmem(line, len, "\"type\":\"DELETED\"", 16))
    return 0;
  const char *r = memmem(line, len, rev, sizeof(rev) - 1);
  if (r)
    {
      json_int_t v = strtoll(r + sizeof(rev) - 1, NULL, 10);
      if (v > *revision)
        *revision = v;
    }
  return 1;
}

static int watch_skip(const char *line, size_t len, void *data)
{
  struct watch_ctx *w = data;
  return !agent_stopping && agent_fake_skip_line(line, len, &w->revision);
}

static void *watch_thread(void *arg)
{
  struct agent *a = arg;
  /* a list of 10,000 replicas from a busy server can take a while */
  struct client *c = client_new(a->server, a->token, 60000);
  cleanup_free char *filter
      = a->count == 1 ? xasprintf("node=%s", a->name) : xstrdup("kind=replicas");
  int down = 0;

  while (!agent_stopping)
    {
      struct skiff_err *err = NULL;
      json_t *list = NULL, *items, *r;
      struct watch_ctx w = {a, 0};
      cleanup_free char *lpath = NULL, *wpath = NULL;
      size_t i;

      lpath = xasprintf("/v1/replicas%s%s", a->count == 1 ? "?" : "", a->count == 1 ? filter : "");
      if (client_call(c, "GET", lpath, NULL, NULL, &list, &err) < 0)
        {
          report_outage("list replicas", &down, &err);
          agent_sleep(1);
          continue;
        }
      report_outage("list replicas", &down, &err);
      w.revision = json_integer_value(json_object_get(list, "revision"));
      items = json_object_get(list, "items");
      json_array_foreach(items, i, r) handle_replica(a, r);
      json_decref(list);

      wpath = xasprintf("/v1/watch?from=%lld&kind=replicas%s%s", (long long)w.revision,
                        a->count == 1 ? "&" : "", a->count == 1 ? filter : "");
      if (client_stream_skip(c, wpath, watch_skip, watch_line, &w, &err) < 0)
        {
          report_outage("watch replicas", &down, &err);
          agent_sleep(1);
        }
      /* stream ended (server restart, 410 compaction, SIGSTOP): list again */
    }
  client_free(c);
  return NULL;
}

/* Send fake node idx's waiting reports in one request; act on the refusals. */
static void send_node_reports(struct agent *a, struct client *c, long idx)
{
  struct skiff_err *err = NULL;
  json_t *resp = NULL;
  long status = 0;

  pthread_mutex_lock(&a->lock);
  json_t *pending = a->nodes[idx].pending;
  a->nodes[idx].pending = json_object();
  a->nodes[idx].queued = 0;
  pthread_mutex_unlock(&a->lock);
  json_t *items = json_array();
  const char *name;
  json_t *item;
  json_object_foreach(pending, name, item) json_array_append(items, item);
  json_decref(pending);
  if (json_array_size(items) == 0)
    {
      json_decref(items);
      return;
    }
  cleanup_free char *path = xasprintf("/v1/nodes/%s/status", a->nodes[idx].name);
  client_set_token(c, agent_credentials_for(a->creds, a->nodes[idx].name));
  json_t *body = json_pack("{s:o}", "replicas", items);
  if (client_request(c, "POST", path, body, &status, &resp, &err) < 0)
    fprintf(stderr, "skiffd agent: report node %s: %s\n", a->nodes[idx].name, err->msg);
  else if (status != 200)
    {
      cleanup_free char *msg = client_error_message(status, resp);
      fprintf(stderr, "skiffd agent: report node %s: %s\n", a->nodes[idx].name, msg);
    }
  else
    {
      size_t i;
      json_array_foreach(json_object_get(resp, "items"), i, item)
      {
        /* Terminating or Lost meanwhile: stop (delete) it */
        if (json_object_get(item, "replica"))
          handle_replica(a, json_object_get(item, "replica"));
        else if (json_integer_value(json_object_get(item, "code")) == 409
                 && strstr(model_str(item, "error", ""), "meanwhile"))
          fprintf(stderr, "skiffd agent: report %s: %s\n", model_str(item, "name", ""),
                  model_str(item, "error", ""));
      }
    }
  json_decref(body);
  json_decref(resp);
  skiff_err_free(&err);
}

static void run_job(struct agent *a, struct client *c, struct job *j)
{
  struct skiff_err *err = NULL;
  long status = 0;

  if (j->kind == JOB_NODE)
    {
      send_node_reports(a, c, j->node);
      return;
    }
  cleanup_free char *path = xasprintf("/v1/replicas/%s", j->replica);
  client_set_token(c, agent_credentials_for(a->creds, a->nodes[j->node].name));
  if (client_call(c, "DELETE", path, NULL, &status, NULL, &err) < 0 && status != 404)
    fprintf(stderr, "skiffd agent: delete replica %s: %s\n", j->replica, err->msg);
  skiff_err_free(&err);
}

static void *worker_thread(void *arg)
{
  struct agent *a = arg;
  struct client *c = client_new(a->server, a->token, 10000);

  for (;;)
    {
      struct job *j;
      pthread_mutex_lock(&a->lock);
      while (a->head == NULL && !agent_stopping)
        pthread_cond_wait(&a->cond, &a->lock);
      j = a->head;
      if (j)
        {
          a->head = j->next;
          if (a->head == NULL)
            a->tail = NULL;
        }
      pthread_mutex_unlock(&a->lock);
      if (j == NULL)
        break;
      run_job(a, c, j);
      if (j->kind == JOB_DELETE)
        {
          pthread_mutex_lock(&a->lock);
          json_object_del(a->queued, j->replica);
          pthread_mutex_unlock(&a->lock);
        }
      free(j->replica);
      free(j);
    }
  client_free(c);
  return NULL;
}

/* ---- --fail-file ---------------------------------------------------------------------- */

/* --fail-file: when the file changed, each line naming a replica bound to one of our nodes
 * that was not failed before is reported Failed (exit code 1), as if its container died and
 * the node gave up restarting it.  The replica controller then replaces it. */
struct fail_file
{
  char **done;
  size_t ndone;
  struct timespec mtime;
  off_t size;
};

static void check_fail_file(struct agent *a, struct client *c, struct fail_file *ff)
{
  struct stat st;
  cleanup_free char *text = NULL;
  char *save = NULL, *line;

  if (stat(a->fail_file, &st) < 0)
    return;
  if (st.st_size == ff->size && st.st_mtim.tv_sec == ff->mtime.tv_sec
      && st.st_mtim.tv_nsec == ff->mtime.tv_nsec)
    return;
  ff->size = st.st_size;
  ff->mtime = st.st_mtim;
  if (skiff_read_file(a->fail_file, &text, NULL, NULL) < 0)
    return;
  for (line = strtok_r(text, " \t\r\n", &save); line; line = strtok_r(NULL, " \t\r\n", &save))
    {
      struct skiff_err *err = NULL;
      cleanup_free char *path = xasprintf("/v1/replicas/%s", line);
      json_t *r = NULL;
      int seen = 0;

      for (size_t i = 0; i < ff->ndone; i++)
        seen |= strcmp(ff->done[i], line) == 0;
      if (seen || client_call(c, "GET", path, NULL, NULL, &r, &err) < 0)
        {
          skiff_err_free(&err);
          continue;
        }
      long idx = agent_node_index(a->name, a->count, json_string_value(json_object_get(r, "node")));
      if (idx >= 0)
        {
          struct agent_fake_report rep
              = {.state = "Failed",
                 .has_exit_code = 1,
                 .exit_code = 1,
                 .reason = "fake runtime: --fail-file",
                 .restarts = (int)json_integer_value(json_object_get(r, "restarts"))};
          crash_forget(a, line);
          report(a, idx, line, &rep);
          ff->done = xrealloc(ff->done, (ff->ndone + 1) * sizeof(char *));
          ff->done[ff->ndone++] = xstrdup(line);
        }
      json_decref(r);
    }
}

/* Crash loops whose back-off ended: the container starts and exits again at once. */
static void restart_crashed(struct agent *a)
{
  double now = agent_now();
  for (;;)
    {
      struct agent_fake_report rep
          = {.state = "BackOff", .has_exit_code = 1, .reason = "fake runtime: SKIFF_FAKE_EXIT"};
      char *replica = NULL;
      long node = 0;
      pthread_mutex_lock(&a->lock);
      for (struct crash *c = a->crashes; c; c = c->next)
        if (c->due <= now)
          {
            replica = xstrdup(c->replica);
            node = c->node;
            c->restarts++;
            rep.restarts = c->restarts;
            rep.exit_code = c->exit_code;
            c->due = now + rc_backoff_delay(&rc_backoff_default, (unsigned)c->restarts);
            break;
          }
      pthread_mutex_unlock(&a->lock);
      if (replica == NULL)
        return;
      report(a, node, replica, &rep);
      free(replica);
    }
}

/* Every 100 ms: crash loops; every 200 ms: --fail-file. */
static void *timer_thread(void *arg)
{
  struct agent *a = arg;
  struct client *c = a->fail_file ? client_new(a->server, a->token, 5000) : NULL;
  struct fail_file ff = {.size = -1};

  for (unsigned n = 0; !agent_stopping; n++)
    {
      agent_sleep(0.1);
      restart_crashed(a);
      if (c && n % 2 == 1)
        check_fail_file(a, c, &ff);
    }
  for (size_t i = 0; i < ff.ndone; i++)
    free(ff.done[i]);
  free(ff.done);
  client_free(c);
  return NULL;
}

/* ---- run ----------------------------------------------------------------------------- */

static json_t *fake_register_body(void *arg, const char *name)
{
  struct agent *a = arg;
  return agent_node_body(name, a->address, 0, a->cpu, a->memory, a->labels, NULL);
}

int agent_fake_run(struct agent_fake_config *cfg)
{
  struct agent a;
  pthread_t threads[AGENT_MAX_HB_THREADS + AGENT_WORKERS + 2];
  struct agent_heartbeat hb[AGENT_MAX_HB_THREADS];
  int nthreads = 0, i;
  sigset_t sigs;

  memset(&a, 0, sizeof(a));
  a.server = cfg->server;
  a.token = cfg->token;
  a.creds = cfg->creds;
  a.name = cfg->name;
  a.address = cfg->address;
  a.fail_file = cfg->fail_file;
  a.labels = cfg->labels;
  a.cpu = cfg->cpu;
  a.memory = cfg->memory;
  a.count = cfg->count;
  a.interval = cfg->interval;
  a.hb_threads = a.count < AGENT_MAX_HB_THREADS ? (int)a.count : AGENT_MAX_HB_THREADS;
  a.queued = json_object();
  a.nodes = xzalloc((size_t)a.count * sizeof(*a.nodes));
  for (long k = 0; k < a.count; k++)
    {
      a.nodes[k].name = node_name(&a, k);
      a.nodes[k].pending = json_object();
    }
  pthread_mutex_init(&a.lock, NULL);
  pthread_cond_init(&a.cond, NULL);

  /* Signals go to the main thread only (sigwait below). */
  agent_block_signals(&sigs);

  for (i = 0; i < a.hb_threads; i++)
    {
      long k, n = 0;
      for (k = i; k < a.count; k += a.hb_threads)
        n++;
      hb[i] = (struct agent_heartbeat){.server = a.server,
                                       .token = a.token,
                                       .creds = a.creds,
                                       .interval = a.interval,
                                       .names = xzalloc((size_t)(n + 1) * sizeof(char *)),
                                       .n = (size_t)n,
                                       .register_body = fake_register_body,
                                       .arg = &a};
      for (k = 0; k < n; k++)
        hb[i].names[k] = a.nodes[i + k * a.hb_threads].name;
      pthread_create(&threads[nthreads++], NULL, agent_heartbeat_thread, &hb[i]);
    }
  pthread_create(&threads[nthreads++], NULL, watch_thread, &a);
  for (i = 0; i < AGENT_WORKERS; i++)
    pthread_create(&threads[nthreads++], NULL, worker_thread, &a);
  pthread_create(&threads[nthreads++], NULL, timer_thread, &a);
  agent_log("fake runtime, %ld node%s named %s%s, server %s", a.count, a.count == 1 ? "" : "s",
            a.name, a.count == 1 ? "" : "-N", a.server);

  for (;;)
    {
      int sig = 0;
      if (sigwait(&sigs, &sig) == 0 && sig != SIGHUP)
        break;
    }
  /* A fake node holds nothing to clean up, and the watcher may sit in a blocking read:
   * leave at once, like a kubelet killed on a node (the server marks the nodes NotReady). */
  agent_stopping = 1;
  fflush(stderr);
  _exit(0);
}
