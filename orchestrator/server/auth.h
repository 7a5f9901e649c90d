/* auth.h - who may call the API and what they may do: kube-apiserver's token authenticator,
 * bootstrap tokens, and the Node authorizer + NodeRestriction admission plugin in small.
 *
 * Credentials are <id>.<secret> (trust.h).  The store keeps one record per credential under
 * /auth/tokens/<id> - never the secret, only its SHA-256 - so a credential issued by one
 * server is valid on every server of the same store (several servers on one etcd).  The
 * table here is the in-memory copy: loaded at start and kept current by the store's commit
 * callback (auth_apply), including other servers' writes.
 *
 * Identities:
 *   admin  everything (skiffctl; the server writes one to DATA/token at first start)
 *   node   its own node and the replicas bound to it: register and heartbeat itself only,
 *          report status of and delete only its replicas, read services, replicas, nodes and
 *          the watch stream; anything else is 403 with a one-line reason
 *   join   a bootstrap token: only POST /v1/join, which turns it into a node credential;
 *          expires (default 24 h), listed and revoked with `skiffctl token`
 *
 * Authentication and the route check happen on the request line and headers, before any
 * byte of the body is read; the checks that need the body (the node a node registers, the
 * node named in a status report) run once it is in.  Pure functions are unit-tested in
 * tests/unit/test_auth.c. */
#ifndef SKIFF_AUTH_H
#define SKIFF_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <jansson.h>
#include "store.h"
#include "trust.h"

#define AUTH_STORE_PREFIX "/auth/tokens/"
#define AUTH_JOIN_TTL_DEFAULT (24 * 3600)
/* Node credentials in all: a join token holder cannot grow the table without bound. */
#define AUTH_MAX_NODE_CREDENTIALS 20000

enum auth_kind
{
  AUTH_NONE = 0,
  AUTH_ADMIN,
  AUTH_NODE,
  AUTH_JOIN,
};

struct auth_identity
{
  enum auth_kind kind;
  char id[TRUST_ID_LEN + 1];
  char node[64]; /* AUTH_NODE: the node it is */
};

struct auth
{
  json_t *tokens;    /* id -> record as stored (no secret) */
  size_t node_creds; /* records of kind node */
};

void auth_init(struct auth *a);
void auth_free(struct auth *a);
int auth_load(struct auth *a, struct store *s, struct skiff_err **err);
/* The store's commit callback passes every event here; keys outside the prefix are ignored. */
void auth_apply(struct auth *a, const struct store_event *ev);

const char *auth_kind_name(enum auth_kind k);
/* A record for the store (JSON text, malloc'd): expires_at 0 = never. */
char *auth_record(const char *id, enum auth_kind kind, const char *node, const char *secret,
                  time_t created, time_t expires_at, const char *description);

/* The bearer token a server presents to node's agent (the agent got it at join: it accepts
 * calls from the cluster's servers only); NULL when the node has no credential. */
const char *auth_server_token(const struct auth *a, const char *node);

/* Authenticate an Authorization header value ("Bearer id.secret").  0 and *who, or 401 with
 * *why (static text): missing, malformed, unknown or revoked, expired. */
int auth_authenticate(const struct auth *a, const char *authorization, time_t now,
                      struct auth_identity *who, const char **why);

/* Routes anyone may call: GET /healthz, GET /v1/ca. */
bool auth_public(const char *method, const char *path);
/* The largest body a route takes (bytes); bigger is 413 before it is read. */
size_t auth_body_cap(const char *method, const char *path);

/* The node a replica is bound to ("" unbound), NULL when there is no such replica. */
typedef const char *(*auth_replica_node_fn)(void *data, const char *replica);
/* Before the body: 0 allowed, else 403 with *reason (malloc'd, one line). */
int auth_authorize(const struct auth_identity *who, const char *method, const char *path,
                   auth_replica_node_fn replica_node, void *data, char **reason);
/* Once the body is in (node identities only): what it names must be the node itself. */
int auth_authorize_body(const struct auth_identity *who, const char *method, const char *path,
                        const char *body, size_t len, char **reason);

#endif
