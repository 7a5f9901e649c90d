/* sync.c - the sync loop: the kubelet's syncLoop and syncPod in one place.  agent_sync_loop()
 * is the whole shape:
 *
 *   for (;;)
 *     pull_desired()      what the server wants, per replica (watch.c keeps it current)
 *     answers, probes     what the runtime did (containers.c) and what probes found
 *     sync_replica(r)     for each replica: agent_decide(want, phase) -> one action
 *                         (start / SIGTERM / SIGKILL / remove / delete the object / forget),
 *                         due probes sent out, the status reported when it changed
 *     wait                for a signal, a wake-up (watch, probe results), the runtime
 *                         helper's answers, a container's exit (pidfds), or the next timer
 *
 * Decisions are pure functions (decide.h); this file only carries them out.  Nothing here
 * blocks: the runtime helper answers on a socket, probes run on worker threads, reports go
 * through the status thread's queue. */
#include "sync.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "image.h"
#include "model.h"

#define SYNC_PROBE_WORKERS 4
#define SYNC_HOUSEKEEPING 5.0 /* seconds between log sweeps and idle passes */

/* ---- records ------------------------------------------------------------------------------ */

struct replica *sync_find(struct sync_loop *l, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->reps[i]->name, name) == 0)
      return l->reps[i];
  return NULL;
}

struct replica *sync_add(struct sync_loop *l, const char *name)
{
  struct replica *r = xzalloc(sizeof(*r));
  r->name = xstrdup(name);
  r->pidfd = -1;
  r->phase = AGENT_NONE;
  if (l->n == l->cap)
    l->reps = xrealloc(l->reps, (l->cap = l->cap ? l->cap * 2 : 16) * sizeof(*l->reps));
  l->reps[l->n++] = r;
  agent_http_set_live(l->http, name, true);
  return r;
}

void sync_set_reason(struct replica *r, char *reason)
{
  free(r->reason);
  r->reason = reason;
}

void sync_running_reason(struct replica *r)
{
  /* like kubectl's "Last State": a restarted replica says what ended its last container */
  if (r->restarts > 0 && r->has_exit && r->exit_reason)
    sync_set_reason(r, xasprintf("last exit: %s", r->exit_reason));
  else
    sync_set_reason(r, xstrdup(""));
}

static void replica_free(struct replica *r)
{
  if (r->pidfd >= 0)
    close(r->pidfd);
  json_decref(r->obj);
  json_decref(r->reported);
  free(r->name);
  free(r->ip);
  free(r->exit_reason);
  free(r->reason);
  agent_probe_spec_clear(&r->live_spec);
  agent_probe_spec_clear(&r->ready_spec);
  free(r);
}

static json_t *spec_of(struct replica *r)
{
  return json_object_get(r->obj, "spec");
}

/* The status body as the server keeps it, so json_equal tells a change. */
static json_t *status_body(const char *node, const char *state, bool ready, int restarts,
                           const char *address, json_t *last_exit, const char *reason)
{
  json_t *b = json_pack("{s:s,s:s,s:b,s:i,s:s,s:s}", "node", node, "state", state, "ready", ready,
                        "restarts", restarts, "address", address ? address : "", "reason",
                        reason ? reason : "");
  if (json_is_integer(last_exit))
    json_object_set(b, "lastExitCode", last_exit);
  return b;
}

/* The server's Replica seen for the first time: what it already knows, and the probes of an
 * adopted container. */
static void init_from_server(struct sync_loop *l, struct replica *r)
{
  json_t *o = r->obj;
  r->restarts = (int)model_int(o, "restarts", 0);
  json_decref(r->reported);
  r->reported = status_body(l->node->name, model_str(o, "state", ""), model_bool(o, "ready", false),
                            r->restarts, model_str(o, "address", ""),
                            json_object_get(o, "lastExitCode"), model_str(o, "reason", ""));
  json_t *health = json_object_get(spec_of(r), "health");
  r->has_live = agent_probe_spec_parse(json_object_get(health, "liveness"), &r->live_spec) == 0;
  r->has_ready = agent_probe_spec_parse(json_object_get(health, "readiness"), &r->ready_spec) == 0;
  enum replica_state st = (enum replica_state)model_replica_state_parse(model_str(o, "state", ""));
  if (r->phase == AGENT_RUNNING)
    {
      /* adopted after an agent restart: keep what the server says about readiness */
      double now = agent_now();
      if (r->has_live)
        agent_probe_start(&r->live, &r->live_spec, false, now, true, true);
      if (r->has_ready)
        agent_probe_start(&r->ready, &r->ready_spec, true, now, true,
                          model_bool(o, "ready", false));
      r->state = "Running";
    }
  else if (r->phase == AGENT_NONE && (st == REPLICA_RUNNING || st == REPLICA_BACKOFF))
    r->restart_pending = true; /* it ran here, and its container is gone */
}

static void pull_desired(struct sync_loop *l)
{
  bool synced = false;
  json_t *snap = agent_desired_take(l->desired, &l->seen_gen, &synced);
  l->synced = synced;
  if (snap == NULL)
    return;
  const char *name;
  json_t *obj;
  json_object_foreach(snap, name, obj)
  {
    struct replica *r = sync_find(l, name);
    if (r == NULL)
      r = sync_add(l, name);
    bool first = r->obj == NULL;
    json_decref(r->obj);
    r->obj = json_incref(obj);
    r->want = agent_want_of(model_str(obj, "state", ""));
    if (first)
      init_from_server(l, r);
  }
  for (size_t i = 0; i < l->n; i++)
    if (json_object_get(snap, l->reps[i]->name) == NULL)
      l->reps[i]->want = AGENT_WANT_NONE;
  json_decref(snap);
}

/* ---- actions ------------------------------------------------------------------------------ */

/* The node's store has the image already? */
static bool image_present(struct sync_loop *l, const char *image)
{
  struct image_info *info = NULL;
  if (image_resolve(l->node->image_root, image, &info, NULL) < 0)
    return false;
  image_info_free(info);
  return true;
}

void sync_run(struct sync_loop *l, struct replica *r)
{
  json_t *spec = spec_of(r), *env = json_array(), *v;
  const char *k;
  json_object_foreach(json_object_get(spec, "env"), k, v)
  {
    json_array_append_new(env, json_sprintf("%s=%s", k, json_string_value(v)));
  }
  json_array_append_new(env, json_sprintf("SKIFF_REPLICA=%s", r->name));
  json_array_append_new(env, json_sprintf("SKIFF_NODE=%s", l->node->name));
  json_array_append_new(env, json_sprintf("SKIFF_SERVICE=%s", model_str(r->obj, "service", "")));
  json_t *res = json_object_get(spec, "resources");
  json_t *cmd = json_object_get(spec, "command");
  json_t *nocmd = json_array();
  struct rt_run_req req = {.name = r->name,
                           .image = model_str(spec, "image", ""),
                           .command = json_is_array(cmd) ? cmd : nocmd,
                           .env = env,
                           .memory = model_memory_bytes(json_object_get(res, "memory")),
                           .cpus = json_number_value(json_object_get(res, "cpu"))};
  cleanup_err struct skiff_err *err = NULL;
  r->req = rt_run(l->rt, &req, &err);
  r->pulling = false;
  json_decref(env);
  json_decref(nocmd);
}

static void start_replica(struct sync_loop *l, struct replica *r)
{
  const char *image = model_str(spec_of(r), "image", "");
  cleanup_err struct skiff_err *err = NULL;
  /* a reference naming a registry is pulled when the store lacks it (kubelet's
   * IfNotPresent): Starting, reason "pulling image ...", then the run */
  bool pull = agent_image_names_registry(image) && !image_present(l, image);
  if (pull)
    r->req = rt_pull(l->rt, image, &err);
  else
    sync_run(l, r);
  if (r->req == 0)
    return; /* the helper is gone: containers_helper_lost() comes next */
  r->pulling = pull;
  if (r->restart_pending)
    r->restarts++;
  r->phase = AGENT_STARTING;
  r->state = "Starting";
  r->liveness_failed = false;
  r->killed = false;
  if (pull)
    sync_set_reason(r, xasprintf("pulling image \"%s\"", image));
  else if (r->restart_pending && r->has_exit && r->exit_reason)
    sync_set_reason(r, xasprintf("restarting after: %s", r->exit_reason));
  else
    sync_set_reason(r, xstrdup(""));
  r->restart_pending = false;
}

static double grace_of(struct replica *r)
{
  json_t *g = json_object_get(spec_of(r), "terminationGracePeriod");
  return json_is_number(g) ? json_number_value(g) : 10;
}

static void stop_replica(struct sync_loop *l, struct replica *r, double now)
{
  cleanup_err struct skiff_err *err = NULL;
  double grace = grace_of(r);
  if (rt_signal(l->rt, r->name, grace > 0 ? SIGTERM : SIGKILL, grace <= 0, &err) == 0)
    return;
  r->phase = AGENT_STOPPING;
  r->stop_deadline = now + grace;
  r->killed = grace <= 0;
  if (r->liveness_failed && r->want == AGENT_WANT_RUN)
    sync_set_reason(r, xasprintf("liveness probe failed (%s): stopping it", r->live_msg));
}

static void kill_replica(struct sync_loop *l, struct replica *r)
{
  cleanup_err struct skiff_err *err = NULL;
  if (rt_signal(l->rt, r->name, SIGKILL, true, &err) != 0)
    r->killed = true;
}

static void remove_replica(struct sync_loop *l, struct replica *r)
{
  cleanup_err struct skiff_err *err = NULL;
  r->req = rt_remove(l->rt, r->name, &err);
  if (r->req != 0)
    r->phase = AGENT_REMOVING;
}

/* The container exited (or was found dead): what follows, and what to report. */
static void decide_exit(struct sync_loop *l, struct replica *r, double now)
{
  r->exit_decided = true;
  if (r->want != AGENT_WANT_RUN)
    {
      r->after = AFTER_NOTHING;
      return;
    }
  if (r->leftover && !r->has_exit)
    {
      /* created but never started, or a half-made container: start it afresh */
      r->after = AFTER_RESTART;
      r->not_before = now;
      return;
    }
  struct agent_restart ar;
  agent_after_exit(model_str(spec_of(r), "restart", "always"), &r->exit,
                   r->leftover ? 0 : now - r->started, r->consecutive, &ar);
  r->consecutive = ar.consecutive;
  r->state = ar.state;
  if (!ar.restart)
    {
      r->after = AFTER_DONE;
      sync_set_reason(r, xstrdup(r->exit_reason));
      return;
    }
  r->after = AFTER_RESTART;
  r->restart_pending = true;
  r->not_before = now + ar.delay;
  if (ar.delay > 0)
    sync_set_reason(r, agent_backoff_reason(ar.delay, r->exit_reason,
                                            (long long)time(NULL) + (long long)ceil(ar.delay)));
  else
    sync_set_reason(r, xasprintf("restarting after: %s", r->exit_reason));
  (void)l;
}

/* ---- probes ------------------------------------------------------------------------------- */

static void send_probe(struct sync_loop *l, struct replica *r, bool readiness)
{
  const struct agent_probe_spec *spec = readiness ? &r->ready_spec : &r->live_spec;
  struct agent_probe_state *st = readiness ? &r->ready : &r->live;
  if (spec->kind == AGENT_PROBE_EXEC)
    {
      cleanup_err struct skiff_err *err = NULL;
      uint64_t id = rt_exec(l->rt, r->name, spec->argv, spec->timeout, &err);
      if (id == 0)
        return;
      r->probe_req[readiness] = id;
    }
  else
    {
      struct probe_job *j = xzalloc(sizeof(*j));
      *j = (struct probe_job){.replica = xstrdup(r->name),
                              .instance = r->instance,
                              .readiness = readiness,
                              .kind = spec->kind,
                              .ip = xstrdup(r->ip ? r->ip : ""),
                              .port = spec->port,
                              .path = spec->path ? xstrdup(spec->path) : NULL,
                              .timeout = spec->timeout};
      probe_pool_submit(l->probes, j);
    }
  st->in_flight = true;
}

static void due_probes(struct sync_loop *l, struct replica *r, double now, double *wake)
{
  for (int readiness = 0; readiness < 2; readiness++)
    {
      bool has = readiness ? r->has_ready : r->has_live;
      struct agent_probe_state *st = readiness ? &r->ready : &r->live;
      if (!has || st->in_flight)
        continue;
      if (now >= st->next)
        send_probe(l, r, readiness);
      else if (st->next < *wake)
        *wake = st->next;
    }
}

/* A probe answered (worker thread or exec through the helper). */
static void probe_answer(struct replica *r, uint64_t instance, bool readiness, bool ok,
                         const char *msg, double now)
{
  if (instance != r->instance || r->phase != AGENT_RUNNING)
    return; /* about a container that is gone */
  const struct agent_probe_spec *spec = readiness ? &r->ready_spec : &r->live_spec;
  struct agent_probe_state *st = readiness ? &r->ready : &r->live;
  char *keep = readiness ? r->ready_msg : r->live_msg;
  if (!ok)
    snprintf(keep, PROBE_MSG_MAX, "%s", msg && *msg ? msg : "failed");
  agent_probe_result(st, spec, ok, now);
  if (!readiness)
    {
      if (!st->ok)
        r->liveness_failed = true;
      return;
    }
  if (st->ok)
    sync_running_reason(r);
  else if (st->failures >= spec->threshold)
    sync_set_reason(r, xasprintf("readiness probe failed: %s", keep));
}

static void probe_results(struct sync_loop *l, double now)
{
  size_t n = 0;
  struct probe_result *res = probe_pool_take(l->probes, &n);
  for (size_t i = 0; i < n; i++)
    {
      struct replica *r = sync_find(l, res[i].replica);
      if (r)
        probe_answer(r, res[i].instance, res[i].readiness, res[i].ok, res[i].msg, now);
    }
  probe_results_free(res, n);
}

/* ---- reports ------------------------------------------------------------------------------ */

static void report(struct sync_loop *l, struct replica *r)
{
  /* Terminating/Lost replicas are the server's to delete; it refuses their reports */
  if (r->want != AGENT_WANT_RUN || r->state == NULL)
    return;
  bool running = r->phase == AGENT_RUNNING;
  bool ready = running && !r->liveness_failed && (!r->has_ready || r->ready.ok);
  json_t *last = r->has_exit ? json_integer(r->exit.known ? r->exit.code : -1) : NULL;
  if (last && json_integer_value(last) > 255)
    json_integer_set(last, 255);
  json_t *b = status_body(l->node->name, r->state, ready, r->restarts, r->ip, last, r->reason);
  json_decref(last);
  if (r->reported && json_equal(b, r->reported))
    {
      json_decref(b);
      return;
    }
  json_decref(r->reported);
  r->reported = b;
  agent_status_report(l->status, r->name, json_deep_copy(b));
}

/* ---- one replica -------------------------------------------------------------------------- */

/* syncPod: what the server wants for r against what the runtime has, and one step towards it. */
static void sync_replica(struct sync_loop *l, struct replica *r, double now, double *wake)
{
  if (r->phase == AGENT_EXITED && !r->exit_decided)
    decide_exit(l, r, now);
  if (r->phase == AGENT_RUNNING && r->want == AGENT_WANT_RUN && !r->liveness_failed)
    due_probes(l, r, now, wake);

  struct agent_view v = {.want = r->want,
                         .phase = r->phase,
                         .now = now,
                         .not_before = r->not_before,
                         .stop_deadline = r->stop_deadline,
                         .killed = r->killed,
                         .liveness_failed = r->liveness_failed,
                         .object_deleted = r->object_deleted};
  struct agent_decision d;
  agent_decide(&v, &d);
  /* a START of a replica whose spec has not arrived yet (adopted, list pending) waits */
  if (d.action == AGENT_ACT_START && spec_of(r) == NULL)
    d.action = AGENT_ACT_WAIT;
  switch (d.action)
    {
      case AGENT_ACT_WAIT:
        if (d.wake > 0 && d.wake < *wake)
          *wake = d.wake;
        break;
      case AGENT_ACT_START:
        start_replica(l, r);
        break;
      case AGENT_ACT_TERM:
        stop_replica(l, r, now);
        if (r->phase == AGENT_STOPPING && r->stop_deadline < *wake)
          *wake = r->stop_deadline;
        break;
      case AGENT_ACT_KILL:
        kill_replica(l, r);
        break;
      case AGENT_ACT_REMOVE:
        remove_replica(l, r);
        break;
      case AGENT_ACT_DELETE_OBJECT:
        agent_status_delete(l->status, r->name);
        r->object_deleted = true;
        break;
      case AGENT_ACT_FORGET:
        r->forget = true;
        break;
    }
  report(l, r);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void runtime_answers(struct sync_loop *l, double now)
{
  for (;;)
    {
      json_t *reply = NULL;
      cleanup_err struct skiff_err *err = NULL;
      int r = rt_read(l->rt, &reply, &err);
      if (r == 0)
        return;
      if (r < 0)
        {
          agent_log("%s; starting a new one", err->msg);
          containers_helper_lost(l, now);
          return;
        }
      uint64_t id = (uint64_t)json_integer_value(json_object_get(reply, "id"));
      for (size_t i = 0; i < l->n; i++)
        {
          struct replica *rep = l->reps[i];
          if (rep->req == id)
            containers_answer(l, rep, reply, now);
          for (int k = 0; k < 2; k++)
            if (rep->probe_req[k] == id)
              {
                rep->probe_req[k] = 0;
                bool ok = json_is_true(json_object_get(reply, "ok"))
                          && json_integer_value(json_object_get(reply, "code")) == 0;
                cleanup_free char *msg
                    = json_is_true(json_object_get(reply, "ok"))
                          ? xasprintf("exec: exit code %lld",
                                      (long long)json_integer_value(json_object_get(reply, "code")))
                          : xasprintf("exec: %s", model_str(reply, "error", "failed"));
                probe_answer(rep, rep->instance, k == 1, ok, msg, now);
              }
        }
      json_decref(reply);
    }
}

static void drop_forgotten(struct sync_loop *l)
{
  size_t k = 0;
  bool any = false;
  for (size_t i = 0; i < l->n; i++)
    {
      if (l->reps[i]->forget)
        {
          agent_http_set_live(l->http, l->reps[i]->name, false);
          replica_free(l->reps[i]);
          any = true;
        }
      else
        l->reps[k++] = l->reps[i];
    }
  l->n = k;
  if (any)
    containers_sweep_logs(l);
}

static void start_helper(struct sync_loop *l, double now)
{
  cleanup_err struct skiff_err *err = NULL;
  if (rt_start(&l->rtc, &l->rt, &err) < 0)
    {
      agent_log("%s (retrying in 1s)", err->msg);
      l->rt = NULL;
      l->rt_retry = now + 1;
    }
}

int agent_sync_loop(struct agent_node *node, struct agent_desired *desired,
                    struct agent_status *status, struct agent_http *http, int sigfd)
{
  static struct sync_loop loop;
  struct sync_loop *l = &loop;
  l->node = node;
  l->desired = desired;
  l->status = status;
  l->http = http;
  l->rtc = (struct rt_config){.node = node->name,
                              .state_root = node->state_root,
                              .image_root = node->image_root,
                              .data_root = node->data_root,
                              .log_dir = node->log_dir,
                              .log_max = node->log_max,
                              .bridge = node->bridge,
                              .subnet = node->pod_cidr,
                              .net_dir = node->net_dir};
  l->probes = probe_pool_start(SYNC_PROBE_WORKERS, desired->wake_fd);
  start_helper(l, agent_now());
  containers_adopt(l);
  double last_housekeeping = agent_now();

  for (;;)
    {
      double now = agent_now();
      if (l->rt == NULL && now >= l->rt_retry)
        start_helper(l, now);
      pull_desired(l);
      if (l->rt)
        runtime_answers(l, now);
      probe_results(l, now);

      double wake = now + SYNC_HOUSEKEEPING;
      if (l->rt == NULL && l->rt_retry < wake)
        wake = l->rt_retry;
      /* before the first list, the agent does not know what is wanted: it acts on nothing */
      if (l->synced && l->rt)
        for (size_t i = 0; i < l->n; i++)
          sync_replica(l, l->reps[i], now, &wake);
      drop_forgotten(l);
      if (now - last_housekeeping >= SYNC_HOUSEKEEPING)
        {
          containers_sweep_logs(l);
          last_housekeeping = now;
        }

      /* wait: signal, wake-up (watch, probes), the helper, exits, or the next timer */
      size_t np = 3, cap = 3 + l->n;
      struct pollfd *p = xzalloc(cap * sizeof(*p));
      struct replica **who = xzalloc(cap * sizeof(*who));
      p[0] = (struct pollfd){.fd = sigfd, .events = POLLIN};
      p[1] = (struct pollfd){.fd = desired->wake_fd, .events = POLLIN};
      p[2] = (struct pollfd){.fd = l->rt ? rt_fd(l->rt) : -1, .events = POLLIN};
      for (size_t i = 0; i < l->n; i++)
        if (l->reps[i]->pidfd >= 0)
          {
            who[np] = l->reps[i];
            p[np++] = (struct pollfd){.fd = l->reps[i]->pidfd, .events = POLLIN};
          }
      double left = wake - agent_now();
      int timeout = left <= 0 ? 0 : (int)ceil(left * 1000);
      if (poll(p, np, timeout) < 0 && errno != EINTR)
        {
          agent_log("poll: %s", strerror(errno));
          free(p);
          free(who);
          return 1;
        }
      if (p[0].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read(sigfd, &si, sizeof(si)) > 0 && si.ssi_signo != SIGHUP)
            {
              agent_log("%s: leaving; the containers keep running", strsignal((int)si.ssi_signo));
              free(p);
              free(who);
              probe_pool_stop(l->probes);
              rt_free(l->rt);
              return 0;
            }
        }
      if (p[1].revents & POLLIN)
        {
          uint64_t c;
          if (read(desired->wake_fd, &c, sizeof(c)) < 0)
            {
              /* EAGAIN: another reader took it; nothing is lost, the state is in memory */
            }
        }
      now = agent_now();
      for (size_t i = 3; i < np; i++)
        if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
          containers_exited(l, who[i], now);
      free(p);
      free(who);
    }
}
