/* credentials.h - how the agent proves which node it is (the kubelet's TLS bootstrap in
 * small): with a join token it joins each of its nodes and gets one credential per node,
 * which lets it write only that node and the replicas bound to it; the cluster CA comes
 * from the join, checked against the hash the token carries.  Without a join token, one
 * credential given by file or environment serves every node (an admin's, or one node's). */
#ifndef SKIFF_AGENT_CREDENTIALS_H
#define SKIFF_AGENT_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

struct agent_credentials
{
  size_t n;
  char **nodes, **tokens; /* tokens[i] is nodes[i]'s credential */
  char **server_tokens;   /* what the servers present when they call nodes[i]'s agent */
  char *shared;           /* the one credential for every node (no join), or NULL */
  char *ca;               /* the cluster CA (PEM) learnt at the join, or NULL */
  /* The real agent's node: the serving certificate and key (PEM) the server signed at the
   * join for the agent's endpoint, or NULL (no join: the endpoint speaks plain HTTP). */
  char *serving_cert, *serving_key;
};

/* join_token NULL: every node uses `shared`.  Otherwise join each of nodes[0..n) (retrying
 * while the server cannot be reached; a refusal - wrong CA, expired or revoked token - is an
 * error) and make the cluster CA the process's default (client_set_default_ca). */
int agent_credentials_obtain(struct agent_credentials *ac, const char *server,
                             const char *join_token, const char *shared, char *const *nodes,
                             size_t n, const volatile int *stop, struct skiff_err **err);
/* The real agent's one node, whose credential outlives restarts (the kubelet's bootstrap
 * kubeconfig turned into kubelet.conf): saved_path keeps what a join gave (0600 JSON: node,
 * server, credential, server token, CA, the endpoint's serving certificate and key for
 * address).  In order:
 *   a join token  join (retrying while the server is away); refused (expired, revoked) with a
 *                 saved credential of this node and server: that one serves
 *   saved         the saved credential and its CA
 *   shared        a credential trusted with ca_pem (--ca-file...): an admin's joins the node
 *                 with it (the agent then speaks with the node's own), any other serves as
 *                 it is (a node's; an unknown one, which the server answers 401).
 * The CA in use becomes the process's default (client_set_default_ca). */
int agent_credentials_node(struct agent_credentials *ac, const char *server, const char *join_token,
                           const char *shared, const char *ca_pem, const char *node,
                           const char *address, const char *saved_path, const volatile int *stop,
                           struct skiff_err **err);
/* The credential to speak for node with (the shared one when there is no per-node one). */
const char *agent_credentials_for(const struct agent_credentials *ac, const char *node);
/* Does a call to node's agent come from a server of the cluster?  authorization: the
 * request's Authorization header; compared in constant time with what the join gave.  Without
 * a join (a shared credential), the shared credential is what a server must present. */
bool agent_credentials_server_call(const struct agent_credentials *ac, const char *node,
                                   const char *authorization);
void agent_credentials_free(struct agent_credentials *ac);

#endif
