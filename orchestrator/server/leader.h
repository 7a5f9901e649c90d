/* leader.h - several `skiffd server`s on one store (etcd): which one runs the controllers
 * (election on an etcd lease, fencing of its writes), what they share (who hears which
 * node), and what the API shows of them.  With a store without leases (SQLite) the one
 * server always leads and nothing is fenced.  See leader.c for how and why. */
#ifndef SKIFF_LEADER_H
#define SKIFF_LEADER_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "cluster.h"

struct leader;

struct leader_config
{
  const char *name;   /* this server's name among several (NULL: HOST:PORT of listen) */
  const char *url;    /* where clients reach it (NULL: https://LISTEN) */
  const char *listen; /* ADDR:PORT */
  double ttl;         /* lease TTL, seconds */
};

/* cl may not be open yet (it is read from leader_step on). */
struct leader *leader_new(struct cluster *cl, struct store *s, const struct leader_config *cfg);
void leader_free(struct leader *l);
/* For cluster_open_keys: /leader and /servers/... as loaded and as they change. */
void leader_on_key(void *data, const struct store_event *ev);
/* Each loop pass: renew the lease, campaign, publish presence, merge the nodes other servers
 * hear.  true when this server has just become the leader (start the controllers afresh). */
bool leader_step(struct leader *l, double now);
bool leader_leading(const struct leader *l);
/* The compare a controller txn carries while leading (false: nothing to fence). */
bool leader_fence(const struct leader *l, struct store_op *op);
/* A fenced write failed: the leader key is no longer ours. */
void leader_fence_failed(struct leader *l);
/* Revoke the lease: the leader key and our presence go at once. */
void leader_resign(struct leader *l);
/* For api_config: items of GET /v1/servers, and the fields /healthz adds. */
json_t *leader_servers(void *l);
json_t *leader_status(void *l);
void leader_write_metrics(const struct leader *l, FILE *f);

#endif
