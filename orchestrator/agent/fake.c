/* fake.c - `skiffd agent --fake-runtime`: like Kubernetes' kubemark "hollow nodes", it
 * registers one or many nodes, heartbeats for them and reports every replica bound to them
 * Running + ready without creating a container, so tests and benchmarks can run a thousand
 * nodes in one process.  Stopping the process (SIGSTOP / SIGKILL) is a node failure;
 * SIGCONT is the node coming back.
 *
 * Threads (each owns its own struct client; shared state is only the job queue, the stop
 * flag and the read-only configuration):
 *   heartbeat x H  register its slice of the nodes, then POST a heartbeat for each every interval
 *   watcher        list + watch replicas, turn each one bound to our nodes into a job
 *   worker x W     carry out jobs: status reports and deletes
 *   fail-file      poll --fail-file and fail the replicas it names
 * The main thread waits for SIGTERM/SIGINT. */
#include "agent.h"
#include "agent_internal.h"
#include "client.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define AGENT_WORKERS 4
#define AGENT_MAX_HB_THREADS 8

struct agent
{
  struct agent_fake_config *cfg;
  char *server, *token;
  const char *name, *address, *fail_file;
  long count;

  pthread_mutex_t lock; /* guards the job queue and `queued` */
  pthread_cond_t cond;
  struct job *head, *tail;
  json_t *queued; /* names of replicas with a job in the queue: a relist does not repeat them */
};

enum job_kind
{
  JOB_REPORT,
  JOB_DELETE,
};

struct job
{
  struct job *next;
  enum job_kind kind;
  char *replica, *node;
  struct agent_fake_report rep;
};

void agent_fake_decide(json_t *spec, struct agent_fake_report *out)
{
  json_t *env = spec ? json_object_get(spec, "env") : NULL;
  const char *exit_s = json_string_value(json_object_get(env, "SKIFF_FAKE_EXIT"));
  const char *ready_s = json_string_value(json_object_get(env, "SKIFF_FAKE_READY"));

  memset(out, 0, sizeof(*out));
  out->state = "Running";
  out->ready = 1;
  out->reason = "";
  if (exit_s && *exit_s)
    {
      char *end = NULL;
      long code = strtol(exit_s, &end, 10);
      out->state = "Failed";
      out->ready = 0;
      out->has_exit_code = 1;
      out->exit_code = (*end == '\0' && code >= 0 && code <= 255) ? (int)code : 1;
      out->reason = "fake runtime: SKIFF_FAKE_EXIT";
      return;
    }
  if (ready_s && (strcmp(ready_s, "never") == 0 || strcmp(ready_s, "false") == 0))
    {
      out->ready = 0;
      out->reason = "fake runtime: SKIFF_FAKE_READY=never";
    }
}

static char *job_key(enum job_kind kind, const char *replica, const struct agent_fake_report *rep)
{
  return xasprintf("%c:%s:%s", kind == JOB_DELETE ? 'D' : 'R', rep && rep->state ? rep->state : "",
                   replica);
}

static void enqueue(struct agent *a, enum job_kind kind, const char *replica, const char *node,
                    const struct agent_fake_report *rep)
{
  cleanup_free char *key = job_key(kind, replica, rep);
  struct job *j;

  pthread_mutex_lock(&a->lock);
  if (json_object_get(a->queued, key))
    {
      pthread_mutex_unlock(&a->lock);
      return;
    }
  json_object_set_new(a->queued, key, json_true());
  j = xzalloc(sizeof(*j));
  j->kind = kind;
  j->replica = xstrdup(replica);
  j->node = xstrdup(node);
  if (rep)
    j->rep = *rep;
  if (a->tail)
    a->tail->next = j;
  else
    a->head = j;
  a->tail = j;
  pthread_cond_signal(&a->cond);
  pthread_mutex_unlock(&a->lock);
}

/* ---- replicas ------------------------------------------------------------------------- */

static void report_outage(const char *what, int *down, struct skiff_err **err)
{
  if (*err && !*down)
    fprintf(stderr, "skiffd agent: %s: %s (retrying)\n", what, (*err)->msg);
  if (*err == NULL && *down)
    fprintf(stderr, "skiffd agent: %s: server reachable again\n", what);
  *down = *err != NULL;
  skiff_err_free(err);
}

static void handle_replica(struct agent *a, json_t *r)
{
  const char *name = json_string_value(json_object_get(r, "name"));
  const char *node = json_string_value(json_object_get(r, "node"));
  const char *state = json_string_value(json_object_get(r, "state"));

  if (name == NULL || state == NULL || agent_node_index(a->name, a->count, node) < 0)
    return;
  if (strcmp(state, "Scheduled") == 0)
    {
      struct agent_fake_report rep;
      agent_fake_decide(json_object_get(r, "spec"), &rep);
      enqueue(a, JOB_REPORT, name, node, &rep);
    }
  else if (strcmp(state, "Terminating") == 0 || strcmp(state, "Lost") == 0)
    enqueue(a, JOB_DELETE, name, node, NULL);
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
  if (type && strcmp(type, "DELETED") != 0 && strcmp(type, "BOOKMARK") != 0)
    handle_replica(w->a, json_object_get(ev, "object"));
  return agent_stopping ? 1 : 0;
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
      if (client_stream(c, wpath, watch_line, &w, &err) < 0)
        {
          report_outage("watch replicas", &down, &err);
          agent_sleep(1);
        }
      /* stream ended (server restart, 410 compaction, SIGSTOP): list again */
    }
  client_free(c);
  return NULL;
}

static void run_job(struct agent *a, struct client *c, struct job *j)
{
  struct skiff_err *err = NULL;
  cleanup_free char *path = NULL;
  json_t *resp = NULL;
  long status = 0;

  if (j->kind == JOB_DELETE)
    {
      path = xasprintf("/v1/replicas/%s", j->replica);
      if (client_call(c, "DELETE", path, NULL, &status, NULL, &err) < 0 && status != 404)
        fprintf(stderr, "skiffd agent: delete replica %s: %s\n", j->replica, err->msg);
      skiff_err_free(&err);
      return;
    }
  path = xasprintf("/v1/replicas/%s/status", j->replica);
  json_t *body = json_pack("{s:s, s:s, s:b, s:s, s:s}", "node", j->node, "state", j->rep.state,
                           "ready", j->rep.ready, "address", a->address, "reason",
                           j->rep.reason ? j->rep.reason : "");
  if (j->rep.has_exit_code)
    json_object_set_new(body, "lastExitCode", json_integer(j->rep.exit_code));
  if (client_request(c, "POST", path, body, &status, &resp, &err) < 0)
    fprintf(stderr, "skiffd agent: report replica %s: %s\n", j->replica, err->msg);
  else if (status == 409 && resp)
    handle_replica(a, resp); /* Terminating or Lost meanwhile: stop (delete) it */
  else if (status != 200 && status != 404)
    {
      cleanup_free char *msg = client_error_message(status, resp);
      fprintf(stderr, "skiffd agent: report replica %s: %s\n", j->replica, msg);
    }
  json_decref(body);
  json_decref(resp);
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
      {
        cleanup_free char *key = job_key(j->kind, j->replica, &j->rep);
        pthread_mutex_lock(&a->lock);
        json_object_del(a->queued, key);
        pthread_mutex_unlock(&a->lock);
      }
      free(j->replica);
      free(j->node);
      free(j);
    }
  client_free(c);
  return NULL;
}

/* ---- --fail-file ---------------------------------------------------------------------- */

/* Every 200 ms: when the file changed, each line naming a replica bound to one of our nodes
 * that was not failed before is reported Failed (exit code 1), as if its container died and
 * the restart policy gave up.  The replica controller then replaces it. */
static void *fail_file_thread(void *arg)
{
  struct agent *a = arg;
  struct client *c = client_new(a->server, a->token, 5000);
  char **done = NULL;
  size_t ndone = 0, i;
  struct timespec last_mtime = {0, 0};
  off_t last_size = -1;

  while (!agent_stopping)
    {
      struct stat st;
      cleanup_free char *text = NULL;
      char *save = NULL, *line;

      agent_sleep(0.2);
      if (stat(a->fail_file, &st) < 0)
        continue;
      if (st.st_size == last_size && st.st_mtim.tv_sec == last_mtime.tv_sec
          && st.st_mtim.tv_nsec == last_mtime.tv_nsec)
        continue;
      last_size = st.st_size;
      last_mtime = st.st_mtim;
      if (skiff_read_file(a->fail_file, &text, NULL, NULL) < 0)
        continue;
      for (line = strtok_r(text, " \t\r\n", &save); line; line = strtok_r(NULL, " \t\r\n", &save))
        {
          struct skiff_err *err = NULL;
          cleanup_free char *path = xasprintf("/v1/replicas/%s", line);
          json_t *r = NULL;
          const char *node;
          int seen = 0;

          for (i = 0; i < ndone; i++)
            seen |= strcmp(done[i], line) == 0;
          if (seen || client_call(c, "GET", path, NULL, NULL, &r, &err) < 0)
            {
              skiff_err_free(&err);
              continue;
            }
          node = json_string_value(json_object_get(r, "node"));
          if (agent_node_index(a->name, a->count, node) >= 0)
            {
              struct agent_fake_report rep = {"Failed", 0, 1, 1, "fake runtime: --fail-file"};
              enqueue(a, JOB_REPORT, line, node, &rep);
              done = xrealloc(done, (ndone + 1) * sizeof(char *));
              done[ndone++] = xstrdup(line);
            }
          json_decref(r);
        }
    }
  for (i = 0; i < ndone; i++)
    free(done[i]);
  free(done);
  client_free(c);
  return NULL;
}

/* ---- run ----------------------------------------------------------------------------- */

static char *node_name(const struct agent *a, long i)
{
  if (a->count == 1)
    return xstrdup(a->name);
  return xasprintf("%s-%ld", a->name, i);
}

static json_t *fake_register_body(void *arg, const char *name)
{
  struct agent *a = arg;
  return agent_node_body(name, a->address, 0, a->cfg->cpu, a->cfg->memory, a->cfg->labels, NULL);
}

int agent_fake_run(struct agent_fake_config *cfg)
{
  struct agent a;
  pthread_t threads[AGENT_MAX_HB_THREADS + AGENT_WORKERS + 2];
  struct agent_heartbeat hb[AGENT_MAX_HB_THREADS];
  int nthreads = 0, hb_threads, i;
  sigset_t sigs;

  memset(&a, 0, sizeof(a));
  a.cfg = cfg;
  a.server = cfg->server;
  a.token = cfg->token;
  a.name = cfg->name;
  a.address = cfg->address;
  a.fail_file = cfg->fail_file;
  a.count = cfg->count;
  a.queued = json_object();
  pthread_mutex_init(&a.lock, NULL);
  pthread_cond_init(&a.cond, NULL);
  hb_threads = a.count < AGENT_MAX_HB_THREADS ? (int)a.count : AGENT_MAX_HB_THREADS;

  /* Signals go to the main thread only (sigwait below). */
  agent_block_signals(&sigs);

  for (i = 0; i < hb_threads; i++)
    {
      long k, n = 0;
      for (k = i; k < a.count; k += hb_threads)
        n++;
      hb[i] = (struct agent_heartbeat){.server = a.server,
                                       .token = a.token,
                                       .interval = cfg->interval,
                                       .names = xzalloc((size_t)(n + 1) * sizeof(char *)),
                                       .n = (size_t)n,
                                       .register_body = fake_register_body,
                                       .arg = &a};
      for (k = 0; k < n; k++)
        hb[i].names[k] = node_name(&a, i + k * hb_threads);
      pthread_create(&threads[nthreads++], NULL, agent_heartbeat_thread, &hb[i]);
    }
  pthread_create(&threads[nthreads++], NULL, watch_thread, &a);
  for (i = 0; i < AGENT_WORKERS; i++)
    pthread_create(&threads[nthreads++], NULL, worker_thread, &a);
  if (a.fail_file)
    pthread_create(&threads[nthreads++], NULL, fail_file_thread, &a);
  fprintf(stderr, "skiffd agent: fake runtime, %ld node%s named %s%s, server %s\n", a.count,
          a.count == 1 ? "" : "s", a.name, a.count == 1 ? "" : "-N", a.server);

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
