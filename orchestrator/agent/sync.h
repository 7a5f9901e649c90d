/* sync.h - the records the sync loop keeps, one per replica of the node, shared by sync.c (the
 * loop and its actions) and containers.c (the runtime side: adoption at start, exits seen
 * through pidfds, the runtime helper's answers).  Only the loop's thread touches them. */
#ifndef SKIFF_AGENT_SYNC_H
#define SKIFF_AGENT_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "agent_internal.h"
#include "decide.h"
#include "probe.h"
#include "runtime.h"

/* What follows the removal of an exited container. */
enum replica_after
{
  AFTER_NOTHING, /* not wanted any more: no container */
  AFTER_RESTART, /* start again at not_before */
  AFTER_DONE,    /* terminal (Succeeded / Failed reported) */
};

struct replica
{
  char *name;
  json_t *obj; /* the server's latest Replica (spec, state...), kept after it is gone */
  enum agent_want want;
  enum agent_phase phase;

  /* the container */
  pid_t init_pid, monitor_pid;
  unsigned long long init_start;
  int pidfd; /* of its monitor (of the init when the monitor is gone), -1 */
  bool watching_init;
  char *ip;
  double started;    /* monotonic time it started running */
  uint64_t req;      /* pull / run / remove request with the runtime helper */
  bool pulling;      /* STARTING: the request is the image's pull, the run comes next */
  uint64_t instance; /* bumps at every start: probe results of an older one are dropped */

  /* exits and restarts */
  int restarts;
  unsigned consecutive; /* restarts since the back-off was reset */
  bool restart_pending; /* the next start is a restart (counted) */
  double not_before;
  struct agent_exit exit;
  bool has_exit;     /* exit holds the last exit */
  bool exit_decided; /* EXITED: what follows is decided (after) */
  bool leftover;     /* EXITED: found at start, never ran under this agent's watch */
  enum replica_after after;
  char *exit_reason;
  double stop_deadline;
  bool killed, object_deleted;

  /* probes */
  bool has_live, has_ready;
  struct agent_probe_spec live_spec, ready_spec;
  struct agent_probe_state live, ready;
  uint64_t probe_req[2]; /* exec probes with the runtime helper: [0] liveness, [1] readiness */
  char live_msg[PROBE_MSG_MAX], ready_msg[PROBE_MSG_MAX];
  bool liveness_failed;

  /* what to tell the server */
  const char *state; /* NULL: nothing to say yet */
  char *reason;
  json_t *reported; /* the last report queued (or the server's view) */
  bool forget;
};

struct sync_loop
{
  struct agent_node *node;
  struct agent_desired *desired;
  struct agent_status *status;
  struct agent_http *http;
  struct rt_config rtc;
  struct rt *rt; /* NULL while the helper is down */
  double rt_retry;
  struct probe_pool *probes;
  struct replica **reps;
  size_t n, cap;
  uint64_t seen_gen;
  bool synced;
};

struct replica *sync_find(struct sync_loop *l, const char *name);
struct replica *sync_add(struct sync_loop *l, const char *name);
void sync_set_reason(struct replica *r, char *reason); /* takes reason */
/* The reason of a running replica: "" or, after a restart, "last exit: ...". */
void sync_running_reason(struct replica *r);
/* Send the run request of a replica (its image is in the store). */
void sync_run(struct sync_loop *l, struct replica *r);

/* containers.c */
/* Records for every container (and leftover dir or lease) of --root. */
void containers_adopt(struct sync_loop *l);
/* Watch the running container's monitor (or init): pidfd; false when it is gone already. */
bool containers_watch(struct replica *r);
/* The pidfd said the process is gone: record the exit (phase EXITED). */
void containers_exited(struct sync_loop *l, struct replica *r, double now);
/* The runtime helper's answer to a pull, run or remove request. */
void containers_answer(struct sync_loop *l, struct replica *r, json_t *reply, double now);
/* The helper died: requests in flight are re-read from the state dirs; a new helper comes
 * at l->rt_retry. */
void containers_helper_lost(struct sync_loop *l, double now);
/* Log files of replicas gone for longer than --log-retention. */
void containers_sweep_logs(struct sync_loop *l);

#endif
