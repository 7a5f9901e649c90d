/* probe.h - the prober's workers: HTTP and TCP probes run on a few threads so a slow or
 * silent container never blocks the sync loop (kubelet's prober workers).  The loop decides
 * when a probe is due (decide.h) and submits a job; results come back through a queue and a
 * write to the loop's eventfd.  Exec probes do not come here: they run in the container's
 * namespaces through the runtime helper (runtime.h). */
#ifndef SKIFF_AGENT_PROBE_H
#define SKIFF_AGENT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "decide.h"

#define PROBE_MSG_MAX 160

struct probe_job
{
  char *replica;
  uint64_t instance; /* the container start it probes: results of an older one are dropped */
  bool readiness;
  enum agent_probe_kind kind; /* HTTP or TCP */
  char *ip;
  int port;
  char *path;
  double timeout;
};

struct probe_result
{
  char *replica;
  uint64_t instance;
  bool readiness;
  bool ok;
  char msg[PROBE_MSG_MAX]; /* why it failed: "HTTP 503", "connect: Connection refused" */
};

struct probe_pool;

/* nthreads workers; wake_fd (an eventfd) gets a write after each result. */
struct probe_pool *probe_pool_start(int nthreads, int wake_fd);
/* Takes the job (freed by the pool). */
void probe_pool_submit(struct probe_pool *p, struct probe_job *job);
/* The results so far (malloc'd array, *n of them; each replica name malloc'd). */
struct probe_result *probe_pool_take(struct probe_pool *p, size_t *n);
void probe_results_free(struct probe_result *r, size_t n);
void probe_pool_stop(struct probe_pool *p);

/* One probe, blocking up to timeout seconds.  HTTP: GET path, success on 200-399; TCP:
 * success when the connection is accepted. */
bool probe_run_http(const char *ip, int port, const char *path, double timeout, char *msg,
                    size_t msglen);
bool probe_run_tcp(const char *ip, int port, double timeout, char *msg, size_t msglen);

#endif
