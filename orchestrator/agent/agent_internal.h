/* agent_internal.h - what the files of `skiffd agent` share (not used outside this folder):
 * the node's configuration, heartbeats and registration (agent.c), the fake runtime
 * (fake.c), and the real agent's parts: the desired-state source (watch.c), the status
 * manager (status.c), the sync loop (sync.c) and the HTTP endpoint (http.c). */
#ifndef SKIFF_AGENT_INTERNAL_H
#define SKIFF_AGENT_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "credentials.h"
#include "util.h"

/* The real agent's node, filled by agent_main and read-only once the threads run. */
struct agent_node
{
  char *server;
  const char *token;              /* the node's own credential (creds) */
  struct agent_credentials creds; /* from the join; what a server presents when it calls us */
  const char *name;
  char *address; /* node address: registered, and where the HTTP endpoint listens */
  json_t *labels;
  double cpu;
  long long memory;
  double heartbeat_interval;
  int agent_port; /* the HTTP endpoint's port (bound; registered as agentPort) */
  char *pod_cidr; /* from the registration answer, else --pod-cidr, else the default */
  const char *pod_cidr_flag;
  const char *bridge;
  const char *image_root;
  /* under --root */
  char *root, *state_root, *data_root, *net_dir, *log_dir;
  long long log_max;    /* log file size before rotation */
  double log_retention; /* seconds a removed replica's logs are kept */
};

/* ---- agent.c ------------------------------------------------------------------------------ */

extern volatile sig_atomic_t agent_stopping;

/* The agent's log: one line on stderr, "skiffd agent: " first.  The one place the real
 * agent's files write to (a daemon's log, like the server's), whole lines from any thread. */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void agent_sleep(double seconds);
/* Block SIGTERM, SIGINT, SIGHUP in this thread and the ones it starts (*sigs gets the set),
 * ignore SIGPIPE. */
void agent_block_signals(sigset_t *sigs);
double agent_now(void); /* CLOCK_MONOTONIC seconds */

/* A call to the server that keeps failing: one log line per back-off step (at once, then
 * 1, 2, 4 ... 30 s apart), one line when it works again; retries every 0.25 s doubling to
 * AGENT_RETRY_MAX, so a server that comes back is seen within that. */
#define AGENT_RETRY_MAX 2.0
struct agent_outage
{
  unsigned step;
  bool down;
  double since, next_log, retry;
};
/* After a failure: maybe logs "skiffd agent: WHAT: MSG (retrying)"; returns the seconds to
 * wait before the next try. */
double agent_outage_failed(struct agent_outage *o, const char *what, const char *msg);
void agent_outage_ok(struct agent_outage *o, const char *what);

/* The body of POST /v1/nodes (API.md, agent protocol); pod_cidr and agent_port optional
 * (NULL, 0). */
json_t *agent_node_body(const char *name, const char *address, int agent_port, double cpu,
                        long long memory, json_t *labels, const char *pod_cidr);

/* Heartbeats for some nodes: registers each, then beats every interval; a 404 registers
 * again.  Runs until agent_stopping. */
struct agent_heartbeat
{
  const char *server, *token;
  const struct agent_credentials *creds; /* when set: each node speaks with its own */
  double interval;
  char **names; /* the nodes of this thread */
  size_t n;
  json_t *(*register_body)(void *arg, const char *name);
  void *arg;
  bool registered; /* the nodes were registered before the thread started */
};
void *agent_heartbeat_thread(void *arg);

/* ---- fake.c: `skiffd agent --fake-runtime` --------------------------------------------- */

struct agent_fake_config
{
  char *server, *token;
  const struct agent_credentials *creds; /* each node's credential (a join) or one shared */
  const char *name, *address, *fail_file;
  json_t *labels;
  double cpu;
  long long memory;
  long count;
  double interval;
};
int agent_fake_run(struct agent_fake_config *cfg);

/* ---- watch.c: the desired state of the node's replicas (kubelet's pod config source) ---- */

struct agent_desired
{
  pthread_mutex_t lock; /* guards everything below: the watch thread writes, the loop reads */
  json_t *replicas;     /* name -> Replica object bound to this node */
  uint64_t gen;         /* bumps on every change */
  bool synced;          /* a full list has arrived since start */
  int wake_fd;          /* eventfd of the sync loop */
};
int agent_watch_start(const struct agent_node *node, struct agent_desired *d,
                      struct skiff_err **err);
/* A copy of the replicas when gen moved past *seen (then *seen = gen), else NULL. */
json_t *agent_desired_take(struct agent_desired *d, uint64_t *seen, bool *synced);

/* ---- status.c: reports to the server (kubelet's status manager) --------------------------- */

struct agent_status;
struct agent_status *agent_status_start(const struct agent_node *node);
/* Queue a status report (POST /v1/replicas/NAME/status); a newer report of the same
 * replica replaces a queued one.  Steals body. */
void agent_status_report(struct agent_status *s, const char *replica, json_t *body);
/* Queue DELETE /v1/replicas/NAME (the replica stopped after Terminating/Lost). */
void agent_status_delete(struct agent_status *s, const char *replica);

/* ---- http.c: the node's HTTP endpoint (logs) ---------------------------------------------- */

struct agent_http;
/* Listen on node->address:port (0: any free port; node->agent_port gets the bound one). */
struct agent_http *agent_http_start(struct agent_node *node, int port, struct skiff_err **err);
void agent_http_stop(struct agent_http *h);
/* Tell the endpoint which replicas exist (a follow of a replica's log ends once it is gone). */
void agent_http_set_live(struct agent_http *h, const char *replica, bool live);
/* Is this request from a server of the cluster?  The one place that authenticates callers
 * of the endpoint: the bearer token the node got at its join for server calls (a node's
 * own credential, which its netagent or a thief of it holds, is not accepted). */
bool agent_http_authorized(const struct agent_node *node, const char *authorization);

/* ---- sync.c: the sync loop ---------------------------------------------------------------- */

/* Runs until SIGTERM/SIGINT (sigfd).  Returns the exit code. */
int agent_sync_loop(struct agent_node *node, struct agent_desired *desired,
                    struct agent_status *status, struct agent_http *http, int sigfd);

#endif
