/* svctable.h - the service proxy's endpoint table, pure (no I/O): which node ports to serve
 * and, for each, the replicas behind it, built from the server's Service and Replica
 * objects, with the round robin that picks one per new connection.  This is the part of
 * kube-proxy that turns Services + EndpointSlices into rules; svcproxy.c applies it.
 *
 * An endpoint is one replica for one node port: its address and the container port its own
 * template maps to that nodePort.
 *   ready (gets new connections): state Running, ready, with an IPv4 address;
 *   alive (keeps its connections): Running (ready or not) or Terminating (draining), with an
 *     address.  Connections to an endpoint that is no longer alive (deleted, Failed, Lost,
 *     restarting) are reset: its container or node is gone, and they would hang. */
#ifndef SKIFF_SVCTABLE_H
#define SKIFF_SVCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct svc_endpoint
{
  uint64_t id; /* names the replica + address + port: tags its connections */
  char *replica;
  uint32_t addr; /* host order */
  int port;
  bool ready;
};

struct svc_port
{
  int node_port;
  char *service;
  struct svc_endpoint *eps; /* alive endpoints, by replica name */
  size_t n_eps;
  size_t *ready; /* indexes into eps of the ready ones */
  size_t n_ready;
  uint64_t rr; /* round robin cursor */
};

struct svc_table
{
  struct svc_port *ports; /* by node_port */
  size_t n_ports;
  uint64_t *alive; /* sorted ids of every alive endpoint, whether its service exists or not */
  size_t n_alive;
};

/* services, replicas: name -> object maps as the server sends them.  A service is served on
 * each of its nodePorts; replicas of any generation serve the nodePorts their own template
 * declares. */
struct svc_table *svc_table_build(json_t *services, json_t *replicas);
void svc_table_free(struct svc_table *t);
struct svc_port *svc_table_port(struct svc_table *t, int node_port);
/* The next ready endpoint, round robin; NULL when none is ready. */
const struct svc_endpoint *svc_port_pick(struct svc_port *p);
bool svc_table_alive(const struct svc_table *t, uint64_t id);
/* Keep each port's round robin position across a rebuild, so a change does not send the
 * next clients back to the first replica. */
void svc_table_carry_rr(struct svc_table *t, const struct svc_table *old);
/* "web :30080 -> 10.244.0.2:8080 10.244.1.3:8080 (+1 not ready)"; caller frees. */
char *svc_port_describe(const struct svc_port *p);
/* Same endpoints and readiness as in old (which may be NULL)? */
bool svc_port_same(const struct svc_port *p, const struct svc_table *old);

#endif
