/* agent.h - `skiffd agent`: the node agent (skiff's kubelet).  agent_main runs the real agent
 * (containers through libskiff) or, with --fake-runtime, simulated nodes (kubemark-like:
 * registers nodes, heartbeats, reports bound replicas Running + ready without creating
 * containers).  The agent's decisions are in decide.h; the helpers below are the flag and
 * fake-runtime parts the unit tests drive. */
#ifndef SKIFF_AGENT_H
#define SKIFF_AGENT_H

#include <stddef.h>
#include <jansson.h>
#include "util.h"

/* Entry point of `skiffd agent ...` (argv[0] is "agent"); returns the process exit code. */
int agent_main(int argc, char **argv);
/* Entry point of the runtime helper the agent spawns, `skiffd agent-runtime ...` (argv[0] is
 * "skiffd"; see runtime.h). */
int agent_runtime_main(int argc, char **argv);

/* "k=v,k2=v2" -> {"k":"v","k2":"v2"}; empty string -> {}.  Keys and values non-empty,
 * no duplicate keys. */
int agent_parse_labels(const char *s, json_t **out, struct skiff_err **err);

/* Is NAME one of the fake nodes BASE (count 1) or BASE-0..BASE-(count-1)?  Returns the index
 * or -1. */
long agent_node_index(const char *base, long count, const char *name);

/* What the fake runtime reports for a replica that must start (after `restarts` restarts),
 * decided from its spec:
 *   SKIFF_FAKE_EXIT=N     the "container" exits at once with code N; when the restart policy
 *                         (spec.restart) restarts on it, the replica is restarted in place:
 *                         BackOff, its next start (which counts one more restart) after
 *                         restart_in seconds (the restart back-off); otherwise Failed
 *                         (Succeeded for 0)
 *   SKIFF_FAKE_READY=never  Running but never ready (a rollout of it stalls)
 * otherwise Running + ready. */
struct agent_fake_report
{
  const char *state; /* "Running", "BackOff", "Failed" or "Succeeded" */
  int ready;
  int has_exit_code;
  int exit_code;
  const char *reason;
  int restarts;      /* restarts so far, to report */
  double restart_in; /* BackOff: seconds until the next start; -1 when none */
};
void agent_fake_decide(json_t *spec, int restarts, struct agent_fake_report *out);
/* Pure: 1 when a watch line (raw text, len bytes, a digit or ',' after any revision) is of no
 * use to a fake node and may be dropped unparsed: a replica whose own state (before its
 * "spec") is Running, not a DELETED event; *revision is raised to the line's.  0: parse it. */
int agent_fake_skip_line(const char *line, size_t len, json_int_t *revision);

#endif
