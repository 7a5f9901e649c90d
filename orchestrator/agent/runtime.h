/* runtime.h - the agent's runtime driver: every call into libskiff that creates, signals,
 * removes or enters a container goes to one helper process, `skiffd agent-runtime`, which
 * the agent spawns at start (the kubelet's CRI boundary, in small).
 *
 * Why a process: creating a container forks (the monitor, then the init) and joins
 * namespaces; the agent has threads (watch, status, probes, HTTP, the network agent) that
 * hold locks of libcurl, libnl and malloc at any moment, and a fork of a threaded process
 * keeps those locks held forever in the child.  The helper is exec'd fresh, single-threaded,
 * and runs from a sealed in-memory copy of skiffd (cloned_binary.h, CVE-2019-5736), so the
 * containers' monitors and inits never expose the skiffd file on the host.  The agent
 * itself only reads container state (state.h) and watches monitors through pidfds.
 *
 * Protocol: one JSON object per line over a stream socketpair, answered in order for
 * run/signal/remove and when the command ends for exec:
 *   {"id":1,"op":"run","name":"web-1-abcde","image":"webapp","command":[],"env":["K=V"],
 *    "memory":67108864,"cpus":0.1}       -> {"id":1,"ok":true,"pid":P,"monitor":M,"ip":"..."}
 *   {"id":2,"op":"signal","name":..,"signal":15,"all":false}  -> {"id":2,"ok":true}
 *   {"id":3,"op":"remove","name":..}                          -> {"id":3,"ok":true}
 *   {"id":4,"op":"exec","name":..,"argv":[..],"timeout":1.0}  -> {"id":4,"ok":true,"code":0}
 *   {"id":5,"op":"pull","image":"127.0.0.1:5000/webapp:1"}    -> {"id":5,"ok":true}
 * (exec and pull run in children of the helper, which goes on serving meanwhile)
 * Failures: {"id":N,"ok":false,"error":"image \"x\" not found on node n1"}. */
#ifndef SKIFF_AGENT_RUNTIME_H
#define SKIFF_AGENT_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "util.h"

struct rt_config
{
  const char *node;       /* node name, for messages */
  const char *state_root; /* runtime state (<root>/state) */
  const char *image_root; /* the node's image store */
  const char *data_root;  /* bundles: <data_root>/containers/<name>/ */
  const char *log_dir;    /* <log_dir>/<name>.log */
  long long log_max;      /* rotate logs at this size */
  const char *bridge, *subnet, *net_dir;
};

struct rt;

/* Spawn the helper (/proc/self/exe agent-runtime ...) and connect to it. */
int rt_start(const struct rt_config *cfg, struct rt **out, struct skiff_err **err);
/* Readable when answers arrive (or the helper died). */
int rt_fd(const struct rt *rt);
pid_t rt_pid(const struct rt *rt);
/* Close the socket (the helper exits) and reap it. */
void rt_free(struct rt *rt);

struct rt_run_req
{
  const char *name, *image;
  json_t *command; /* array of strings; empty: the image's entrypoint and cmd */
  json_t *env;     /* array of "K=V" */
  long long memory;
  double cpus;
};
/* Each request returns its id (> 0), or 0 when the helper is gone (err set). */
uint64_t rt_run(struct rt *rt, const struct rt_run_req *req, struct skiff_err **err);
uint64_t rt_signal(struct rt *rt, const char *name, int sig, bool all, struct skiff_err **err);
uint64_t rt_remove(struct rt *rt, const char *name, struct skiff_err **err);
uint64_t rt_exec(struct rt *rt, const char *name, char *const *argv, double timeout,
                 struct skiff_err **err);
/* Pull the image from the registry its reference names into the node's store. */
uint64_t rt_pull(struct rt *rt, const char *image, struct skiff_err **err);

/* Next complete answer, without blocking: 1 and *reply set, 0 when none is complete yet,
 * -1 when the helper is gone (EOF or error). */
int rt_read(struct rt *rt, json_t **reply, struct skiff_err **err);

/* Main of `skiffd agent-runtime` (hidden; spawned by rt_start). */
int agent_runtime_main(int argc, char **argv);

#endif
