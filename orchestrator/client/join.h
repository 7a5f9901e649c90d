/* join.h - trade a join token for node credentials (join.c). */
#ifndef SKIFF_JOIN_H
#define SKIFF_JOIN_H

#include "client.h"
#include "util.h"

/* Fetch the CA of server without trusting it yet and accept it only if its hash is the one in
 * join_token.  *ca_pem: the CA; *status: the HTTP status of the answer (0 when the server
 * could not be reached, so the caller may retry).  One-line errors: a malformed token, a CA
 * that is not the token's ("not the cluster this token belongs to"). */
int client_join_ca(const char *server, const char *join_token, char **ca_pem, long *status,
                   struct skiff_err **err);
/* A client for the join itself: the server verified against ca_pem, the token's credential. */
struct client *client_join_client(const char *server, const char *join_token, const char *ca_pem);
/* POST /v1/join for node through c (client_join_client): *credential is the node's own
 * id.secret, *server_token what the cluster's servers present when they call this node's
 * agent.  With address (the node's IPv4 address, or NULL) the server also signs a serving
 * certificate for the agent's endpoint (that address and the node name), *cert and *key
 * (PEM; NULL when not asked or the server made none).  *status as above (401: the token
 * expired or was revoked). */
int client_join_node(struct client *c, const char *node, const char *address, char **credential,
                     char **server_token, char **cert, char **key, long *status,
                     struct skiff_err **err);

#endif
