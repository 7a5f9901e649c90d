/* decide.h - the node agent's decisions as pure functions (no I/O, no clock: time comes in as
 * an argument), so unit tests drive every case (tests/unit/test_agent.c).  sync.c applies
 * them; this is where to read what the agent does, sync.c is how.
 *
 * - agent_decide: per replica, what the server wants (agent_want) against what the runtime has
 *   (agent_phase) -> one action.  The kubelet's syncPod in one switch.
 * - agent_after_exit: a container exited: restart now, back off, or stop for good (the
 *   restart policy and the back-off of orchestrator/core/reconcile.h).
 * - agent_probe_*: probe schedule and verdicts (liveness, readiness).
 * - agent_exit_reason, agent_backoff_reason: the text `skiffctl get replicas` shows. */
#ifndef SKIFF_AGENT_DECIDE_H
#define SKIFF_AGENT_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* What the server wants, from the replica's state there (API.md, agent protocol). */
enum agent_want
{
  AGENT_WANT_NONE, /* no such replica, or terminal (Succeeded, Failed): no container */
  AGENT_WANT_RUN,  /* Scheduled, Starting, Running, BackOff */
  AGENT_WANT_STOP, /* Terminating, Lost: stop it, then DELETE the replica object */
};
enum agent_want agent_want_of(const char *server_state);

/* What the runtime has for the replica (the agent's record of its container). */
enum agent_phase
{
  AGENT_NONE,     /* no container; may wait for `not_before` (restart back-off) */
  AGENT_STARTING, /* a run request is with the runtime */
  AGENT_RUNNING,  /* its process runs (watched through a pidfd of its monitor) */
  AGENT_STOPPING, /* SIGTERM sent; SIGKILL at stop_deadline */
  AGENT_EXITED,   /* the process is gone, its exit is known; the container still exists */
  AGENT_REMOVING, /* a remove request is with the runtime */
  AGENT_DONE,     /* exited for good or could not start: reported terminal, no container */
};
const char *agent_phase_name(enum agent_phase p);

enum agent_action
{
  AGENT_ACT_WAIT,          /* nothing now; look again at `wake` (0: at the next event) */
  AGENT_ACT_START,         /* create + start the container */
  AGENT_ACT_TERM,          /* SIGTERM, SIGKILL after the grace period */
  AGENT_ACT_KILL,          /* grace period over: SIGKILL every process */
  AGENT_ACT_REMOVE,        /* remove the exited container (cgroup, overlay, veth, lease) */
  AGENT_ACT_DELETE_OBJECT, /* stopped: DELETE the replica on the server */
  AGENT_ACT_FORGET,        /* nothing left to do for it: drop the record */
};
const char *agent_action_name(enum agent_action a);

struct agent_view
{
  enum agent_want want;
  enum agent_phase phase;
  double now;
  double not_before;    /* NONE: earliest restart (back-off), 0 = at once */
  double stop_deadline; /* STOPPING: when SIGKILL goes */
  bool killed;          /* STOPPING: SIGKILL sent already */
  bool liveness_failed; /* RUNNING: liveness reached its failureThreshold */
  bool object_deleted;  /* the DELETE was sent already */
};

struct agent_decision
{
  enum agent_action action;
  double wake; /* WAIT: the time to look again (0: only on an event) */
};
void agent_decide(const struct agent_view *v, struct agent_decision *d);

/* How a container ended. */
struct agent_exit
{
  bool known;    /* false: the monitor recorded nothing (it was killed): code is -1 */
  int code;      /* shell style: 128+N for signal N */
  bool oom;      /* the kernel's OOM killer killed it (cgroup oom_kill count rose) */
  bool liveness; /* the agent stopped it: liveness probe failed */
};

struct agent_restart
{
  const char *state;    /* what to report: "Starting" (at once), "BackOff", "Succeeded", "Failed" */
  bool restart;         /* start again (after delay) */
  double delay;         /* seconds before the next start */
  unsigned consecutive; /* restarts since the back-off was last reset, this one included */
};
/* policy: always | on-failure | never.  ran_for: seconds the container ran; consecutive: the
 * count before this exit.  First restart immediate, then 1 s, 2 s, ... 30 s; 60 s of running
 * forgets the earlier ones (rc_backoff_default). */
void agent_after_exit(const char *policy, const struct agent_exit *e, double ran_for,
                      unsigned consecutive, struct agent_restart *out);

/* "exited with code 1", "killed by signal 9 (KILL)", "OOMKilled: killed at the memory limit
 * (64Mi)", "liveness probe failed: ...; killed by signal 15 (TERM)" (malloc'd).
 * memory: the limit in bytes (0: none); probe_msg: the last liveness failure or NULL. */
char *agent_exit_reason(const struct agent_exit *e, long long memory, const char *probe_msg);
/* "back-off 4s restarting failed container (exited with code 1); next try at
 * 2026-11-28T12:00:05Z" (malloc'd); wall: the wall clock time of the next try. */
char *agent_backoff_reason(double delay, const char *exit_reason, long long wall);

/* ---- heartbeats ------------------------------------------------------------------------ */

/* The period an agent heartbeats at when it follows the server: the `heartbeatInterval` of
 * the server's heartbeat answer when that is a number of seconds in [AGENT_HEARTBEAT_MIN,
 * AGENT_HEARTBEAT_MAX], else `current` (an older server, a bad value: keep beating). */
#define AGENT_HEARTBEAT_MIN 0.01
#define AGENT_HEARTBEAT_MAX 86400 /* the server's bound for any of its durations */
double agent_heartbeat_interval(const json_t *reply, double current);

/* ---- probes ---------------------------------------------------------------------------- */

enum agent_probe_kind
{
  AGENT_PROBE_HTTP,
  AGENT_PROBE_TCP,
  AGENT_PROBE_EXEC,
};

struct agent_probe_spec
{
  enum agent_probe_kind kind;
  char *path;  /* http */
  int port;    /* http, tcp */
  char **argv; /* exec, NULL-terminated */
  double period, timeout;
  unsigned threshold; /* failureThreshold */
};
/* From a normalized probe object of the model ({"http": {...}, "period": 5, ...}). */
int agent_probe_spec_parse(json_t *probe, struct agent_probe_spec *out);
void agent_probe_spec_clear(struct agent_probe_spec *s);

/* One probe of one container.  Schedule (documented in orchestrator/agent/README.md):
 * readiness is first tried AGENT_PROBE_FIRST after the start, then at doubling intervals
 * (20, 40, 80, ... ms, never above `period`) until its first success, then every `period`;
 * liveness first runs one `period` after the start, then every `period`. */
#define AGENT_PROBE_FIRST 0.02

struct agent_probe_state
{
  bool readiness;
  bool ok;             /* the verdict: ready / alive */
  bool succeeded;      /* a success since the container started */
  unsigned failures;   /* consecutive */
  unsigned fast_tries; /* readiness tries before the first success */
  double next;         /* when the next probe is due */
  bool in_flight;      /* a probe runs; results of others are stale */
};
/* A container (re)started at `started`: verdict false for readiness, true for liveness.
 * adopted: the agent restarted and found the container running: readiness keeps
 * `was_ready` and is probed at its period, with no fast start. */
void agent_probe_start(struct agent_probe_state *s, const struct agent_probe_spec *spec,
                       bool readiness, double started, bool adopted, bool was_ready);
/* Feed a result; schedules the next probe.  Returns true when the verdict changed. */
bool agent_probe_result(struct agent_probe_state *s, const struct agent_probe_spec *spec, bool ok,
                        double now);

/* ---- images ------------------------------------------------------------------------------ */

/* Does the image reference name a registry, docker's rule: its first path component has a
 * '.' or a ':' or is "localhost" ("127.0.0.1:5000/webapp:1", "registry.example/x").  A bare
 * name ("webapp") is only looked for in the node's store. */
bool agent_image_names_registry(const char *ref);

/* ---- logs -------------------------------------------------------------------------------- */

/* Offset in buf where its last n lines start (a last line without '\n' counts); n <= 0: len. */
size_t agent_tail_offset(const char *buf, size_t len, long n);
/* Lines in buf (a last line without '\n' counts). */
long agent_count_lines(const char *buf, size_t len);

#endif
