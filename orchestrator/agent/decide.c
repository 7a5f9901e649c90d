/* decide.c - the node agent's pure decisions (see decide.h). */
#include "decide.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include "model.h"
#include "reconcile.h"
#include "util.h"

enum agent_want agent_want_of(const char *server_state)
{
  switch (model_replica_state_parse(server_state))
    {
      case REPLICA_SCHEDULED:
      case REPLICA_STARTING:
      case REPLICA_RUNNING:
      case REPLICA_BACKOFF:
        return AGENT_WANT_RUN;
      case REPLICA_TERMINATING:
      case REPLICA_LOST:
        return AGENT_WANT_STOP;
      default:
        return AGENT_WANT_NONE; /* Pending (not ours yet), Succeeded, Failed, unknown */
    }
}

const char *agent_phase_name(enum agent_phase p)
{
  static const char *const names[]
      = {"none", "starting", "running", "stopping", "exited", "removing", "done"};
  return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

const char *agent_action_name(enum agent_action a)
{
  static const char *const names[]
      = {"wait", "start", "term", "kill", "remove", "delete-object", "forget"};
  return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

void agent_decide(const struct agent_view *v, struct agent_decision *d)
{
  d->action = AGENT_ACT_WAIT;
  d->wake = 0;
  switch (v->phase)
    {
      case AGENT_STARTING:
      case AGENT_REMOVING:
        return; /* the runtime's answer is the next event */
      case AGENT_RUNNING:
        if (v->want != AGENT_WANT_RUN || v->liveness_failed)
          d->action = AGENT_ACT_TERM;
        return;
      case AGENT_STOPPING:
        if (v->killed)
          return; /* the exit is the next event */
        if (v->now >= v->stop_deadline)
          d->action = AGENT_ACT_KILL;
        else
          d->wake = v->stop_deadline;
        return;
      case AGENT_EXITED:
        d->action = AGENT_ACT_REMOVE; /* whatever comes next, the dead container goes first */
        return;
      case AGENT_NONE:
      case AGENT_DONE:
        if (v->want == AGENT_WANT_RUN)
          {
            if (v->phase == AGENT_DONE)
              return; /* reported terminal: the server replaces it */
            if (v->now >= v->not_before)
              d->action = AGENT_ACT_START;
            else
              d->wake = v->not_before;
          }
        else if (v->want == AGENT_WANT_STOP)
          {
            if (!v->object_deleted)
              d->action = AGENT_ACT_DELETE_OBJECT;
          }
        else
          d->action = AGENT_ACT_FORGET;
        return;
    }
}

void agent_after_exit(const char *policy, const struct agent_exit *e, double ran_for,
                      unsigned consecutive, struct agent_restart *out)
{
  /* an exit nobody recorded counts as a failure, and so does a liveness kill (an app that
   * exits 0 on SIGTERM did not succeed: the agent stopped it) */
  bool failed = !e->known || e->code != 0 || e->liveness;
  memset(out, 0, sizeof(*out));
  out->consecutive = consecutive;
  if (!rc_should_restart(policy, failed ? 1 : 0))
    {
      out->state = failed ? "Failed" : "Succeeded";
      return;
    }
  unsigned c = rc_backoff_consecutive(&rc_backoff_default, consecutive, ran_for);
  out->restart = true;
  out->delay = rc_backoff_delay(&rc_backoff_default, c);
  out->consecutive = c + 1;
  out->state = out->delay > 0 ? "BackOff" : "Starting";
}

char *agent_exit_reason(const struct agent_exit *e, long long memory, const char *probe_msg)
{
  char how[96];
  if (!e->known)
    snprintf(how, sizeof(how), "exit status unknown (its monitor is gone)");
  else if (e->code > 128 && e->code <= 128 + 64)
    {
      const char *name = skiff_signal_name(e->code - 128);
      snprintf(how, sizeof(how), "killed by signal %d%s%s%s", e->code - 128, name ? " (" : "",
               name ? name : "", name ? ")" : "");
    }
  else
    snprintf(how, sizeof(how), "exited with code %d", e->code);
  if (e->oom)
    {
      if (memory > 0)
        {
          cleanup_free char *lim = model_format_memory(memory);
          return xasprintf("OOMKilled: %s at the memory limit (%s)", how, lim);
        }
      return xasprintf("OOMKilled: %s", how);
    }
  if (e->liveness)
    return xasprintf("liveness probe failed%s%s%s; %s", probe_msg ? " (" : "",
                     probe_msg ? probe_msg : "", probe_msg ? ")" : "", how);
  return xstrdup(how);
}

char *agent_backoff_reason(double delay, const char *exit_reason, long long wall)
{
  time_t t = (time_t)wall;
  cleanup_free char *at = model_time_string(t);
  return xasprintf("back-off %gs restarting failed container (%s); next try at %s", delay,
                   exit_reason, at);
}

/* ---- heartbeats ------------------------------------------------------------------------ */

double agent_heartbeat_interval(const json_t *reply, double current)
{
  json_t *v = json_object_get(reply, "heartbeatInterval");
  if (!json_is_number(v))
    return current;
  double d = json_number_value(v);
  return d >= AGENT_HEARTBEAT_MIN && d <= AGENT_HEARTBEAT_MAX ? d : current;
}

/* ---- probes ---------------------------------------------------------------------------- */

void agent_probe_spec_clear(struct agent_probe_spec *s)
{
  free(s->path);
  for (size_t i = 0; s->argv && s->argv[i]; i++)
    free(s->argv[i]);
  free(s->argv);
  memset(s, 0, sizeof(*s));
}

int agent_probe_spec_parse(json_t *probe, struct agent_probe_spec *out)
{
  memset(out, 0, sizeof(*out));
  if (!json_is_object(probe))
    return -1;
  json_t *http = json_object_get(probe, "http"), *tcp = json_object_get(probe, "tcp"),
         *exec = json_object_get(probe, "exec");
  if (http)
    {
      out->kind = AGENT_PROBE_HTTP;
      out->path = xstrdup(model_str(http, "path", "/"));
      out->port = (int)model_int(http, "port", 0);
    }
  else if (tcp)
    {
      out->kind = AGENT_PROBE_TCP;
      out->port = (int)model_int(tcp, "port", 0);
    }
  else if (exec)
    {
      json_t *cmd = json_object_get(exec, "command"), *a;
      size_t i;
      out->kind = AGENT_PROBE_EXEC;
      out->argv = xzalloc((json_array_size(cmd) + 1) * sizeof(char *));
      json_array_foreach(cmd, i, a) out->argv[i] = xstrdup(json_string_value(a));
      if (json_array_size(cmd) == 0)
        {
          agent_probe_spec_clear(out);
          return -1;
        }
    }
  else
    return -1;
  json_t *p = json_object_get(probe, "period"), *t = json_object_get(probe, "timeout");
  out->period = json_is_number(p) ? json_number_value(p) : 5;
  out->timeout = json_is_number(t) ? json_number_value(t) : 1;
  out->threshold = (unsigned)model_int(probe, "failureThreshold", 3);
  if (out->period < 0.1)
    out->period = 0.1;
  if (out->timeout < 0.1)
    out->timeout = 0.1;
  if (out->threshold < 1)
    out->threshold = 1;
  return 0;
}

void agent_probe_start(struct agent_probe_state *s, const struct agent_probe_spec *spec,
                       bool readiness, double started, bool adopted, bool was_ready)
{
  memset(s, 0, sizeof(*s));
  s->readiness = readiness;
  if (!readiness)
    {
      s->ok = true;
      s->next = started + spec->period;
      return;
    }
  s->ok = adopted && was_ready;
  s->succeeded = s->ok;
  s->next = s->ok ? started + spec->period : started + AGENT_PROBE_FIRST;
}

bool agent_probe_result(struct agent_probe_state *s, const struct agent_probe_spec *spec, bool ok,
                        double now)
{
  bool before = s->ok;
  s->in_flight = false;
  if (ok)
    {
      s->failures = 0;
      s->succeeded = true;
      s->ok = true;
    }
  else if (++s->failures >= spec->threshold)
    s->ok = false;
  double interval = spec->period;
  if (s->readiness && !s->succeeded)
    {
      /* fast until the first success: a restarted replica is ready within tens of ms */
      double fast = ldexp(AGENT_PROBE_FIRST, (int)(s->fast_tries < 20 ? s->fast_tries + 1 : 20));
      s->fast_tries++;
      if (fast < interval)
        interval = fast;
    }
  s->next = now + interval;
  return before != s->ok;
}

/* ---- images ------------------------------------------------------------------------------ */

bool agent_image_names_registry(const char *ref)
{
  const char *slash = ref ? strchr(ref, '/') : NULL;
  if (slash == NULL || slash == ref)
    return false;
  size_t n = (size_t)(slash - ref);
  return memchr(ref, '.', n) || memchr(ref, ':', n)
         || (n == 9 && strncmp(ref, "localhost", 9) == 0);
}

/* ---- logs -------------------------------------------------------------------------------- */

size_t agent_tail_offset(const char *buf, size_t len, long n)
{
  if (n <= 0)
    return len;
  size_t i = len;
  if (i > 0 && buf[i - 1] == '\n')
    i--; /* the final newline ends the last line */
  long seen = 0;
  for (; i > 0; i--)
    if (buf[i - 1] == '\n' && ++seen == n)
      return i;
  return 0;
}

long agent_count_lines(const char *buf, size_t len)
{
  long n = 0;
  for (size_t i = 0; i < len; i++)
    n += buf[i] == '\n';
  return n + (len > 0 && buf[len - 1] != '\n');
}
