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
};

/* join_token NULL: every node uses `shared`.  Otherwise join each of nodes[0..n) (retrying
 * while the server cannot be reached; a refusal - wrong CA, expired or revoked token - is an
 * error) and make the cluster CA the process's default (client_set_default_ca). */
int agent_credentials_obtain(struct agent_credentials *ac, const char *server,
                             const char *join_token, const char *shared, char *const *nodes,
                             size_t n, const volatile int *stop, struct skiff_err **err);
/* The credential to speak for node with (the shared one when there is no per-node one). */
const char *agent_credentials_for(const struct agent_credentials *ac, const char *node);
/* Does a call to node's agent come from a server of the cluster?  authorization: the
 * request's Authorization header; compared in constant time with what the join gave.  Without
 * a join (a shared credential), the shared credential is what a server must present. */
bool agent_credentials_server_call(const struct agent_credentials *ac, const char *node,
                                   const char *authorization);
void agent_credentials_free(struct agent_credentials *ac);

#endif
