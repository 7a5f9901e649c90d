/* scheduler.h - where a replica runs: pure functions over a snapshot of nodes (no I/O, no
 * clock), like kube-scheduler's filter and score plugins.
 *
 * Filter: node Ready, not cordoned, selector labels match, free CPU and memory fit, the
 * replica's nodePorts are not held on the node by another service (replicas of one service
 * share its nodePort: the node's proxy owns it), the service's maxPerNode not reached.
 * Score: fewest replicas of the same service first (spread), then least allocated (mean of
 * the CPU and memory fractions after placing), then node name: ties are deterministic. */
#ifndef SKIFF_SCHEDULER_H
#define SKIFF_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sched_label
{
  const char *key;
  const char *value;
};

/* A nodePort in use on a node and the service that owns it. */
struct sched_port
{
  int port;
  const char *owner;
};

struct sched_node
{
  const char *name;
  bool ready;
  bool cordoned;
  int64_t cpu_cap; /* millicores, 0 = not limited */
  int64_t mem_cap; /* bytes, 0 = not limited */
  int64_t cpu_used;
  int64_t mem_used;
  const struct sched_label *labels;
  size_t nlabels;
  struct sched_port *ports; /* nodePorts in use (owned by the snapshot: sched_assume appends) */
  size_t nports, ports_cap;
  int svc_count; /* replicas of the service being placed (caller resets per service) */
  int gen_count; /* of those, replicas of the generation being placed: spread evens these out
                    first, so a rolling update's new generation lands evenly however the old
                    one is being removed (then svc_count, then free resources) */
};

struct sched_request
{
  int64_t cpu;       /* millicores */
  int64_t mem;       /* bytes */
  const char *owner; /* the replica's service */
  const int *node_ports;
  size_t nnode_ports;
  const struct sched_label *selector;
  size_t nselector;
  bool spread;
  int max_per_node; /* 0 = no limit */
};

/* Why nodes were filtered out, for the FailedScheduling message. */
enum sched_reason
{
  SCHED_NOT_READY,
  SCHED_CORDONED,
  SCHED_SELECTOR,
  SCHED_CPU,
  SCHED_MEMORY,
  SCHED_PORT,
  SCHED_MAX_PER_NODE,
  SCHED_REASON_COUNT,
};

struct sched_why
{
  size_t nodes;
  size_t count[SCHED_REASON_COUNT];
};

/* -1 when it fits, else the first failed filter. */
int sched_filter(const struct sched_node *node, const struct sched_request *req);
/* Lower is better: compares two feasible nodes for req (< 0 when a is better). */
int sched_compare(const struct sched_node *a, const struct sched_node *b,
                  const struct sched_request *req);
/* Index of the best node, or -1 (why filled when not NULL). */
long sched_pick_node(const struct sched_node *nodes, size_t n, const struct sched_request *req,
                     struct sched_why *why);
/* Place `count` replicas that ask for the same (one service and generation), one after the
 * other, exactly as `count` rounds of sched_pick_node + sched_assume would, in
 * O((n + count) log n) with a heap of the feasible nodes: placing a replica changes only the
 * node it lands on, and a node that fails a filter keeps failing it for the rest of the
 * batch.  out[i] gets a node index or -1 (nothing fits; *why, when not NULL, says why for
 * the first replica that did not fit).  The snapshot is updated (sched_assume).  Returns the
 * number placed. */
size_t sched_place_many(struct sched_node *nodes, size_t n, const struct sched_request *req,
                        size_t count, long *out, struct sched_why *why);
/* Account a placement in the snapshot: resources, ports, service count. */
void sched_assume(struct sched_node *node, const struct sched_request *req);
/* "0/3 nodes are available: 1 NotReady, 2 insufficient memory"; caller frees. */
char *sched_why_string(const struct sched_why *why);
void sched_node_release(struct sched_node *node);

#endif
