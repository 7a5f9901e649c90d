/* join.c - a host joins the cluster with a join token (kubeadm join's discovery + TLS
 * bootstrap in small): it fetches the server's CA without trusting anything yet, accepts it
 * only if its hash is the one the token carries (so a server that is not the cluster's is
 * refused on first contact, without copying any file), then, verifying the server against
 * that CA, trades the token for each node's own credential. */
#include "join.h"

#include <string.h>
#include "trust.h"

int client_join_ca(const char *server, const char *join_token, char **ca_pem, long *status,
                   struct skiff_err **err)
{
  char want[72], got[72];
  const char *cred = NULL;
  *ca_pem = NULL;
  *status = 0;
  if (trust_join_parse(join_token, want, &cred, err) < 0)
    return -1;
  /* first contact: nothing is trusted yet; what vouches for the CA is its hash */
  struct client *c = client_new(server, NULL, 10000);
  client_set_ca(c, NULL, 0);
  json_t *resp = NULL;
  int r = client_call(c, "GET", "/v1/ca", NULL, status, &resp, err);
  const char *pem = json_string_value(json_object_get(resp, "certificate"));
  if (r == 0 && pem == NULL)
    r = skiff_error(err, 0, "GET %s/v1/ca: no certificate in the answer", server);
  if (r == 0 && trust_ca_hash(pem, got, err) < 0)
    r = -1;
  if (r == 0 && strcmp(got, want) != 0)
    r = skiff_error(err, 0,
                    "server %s presents CA %s, the join token expects %s: not the cluster this "
                    "token belongs to",
                    server, got, want);
  if (r == 0)
    *ca_pem = xstrdup(pem);
  json_decref(resp);
  client_free(c);
  return r < 0 ? skiff_err_prefix(err, "join") : 0;
}

struct client *client_join_client(const char *server, const char *join_token, const char *ca_pem)
{
  char hash[72];
  const char *cred = NULL;
  struct client *c = client_new(server, NULL, 10000);
  if (trust_join_parse(join_token, hash, &cred, NULL) == 0)
    client_set_token(c, cred);
  client_set_ca(c, ca_pem, 1);
  return c;
}

int client_join_node(struct client *c, const char *node, const char *address, char **credential,
                     char **server_token, char **cert, char **key, long *status,
                     struct skiff_err **err)
{
  json_t *resp = NULL, *body = json_pack("{s:s}", "node", node);
  if (address)
    json_object_set_new(body, "address", json_string(address));
  *credential = *server_token = NULL;
  if (cert)
    *cert = *key = NULL;
  *status = 0;
  int r = client_call(c, "POST", "/v1/join", body, status, &resp, err);
  json_decref(body);
  const char *tok = json_string_value(json_object_get(resp, "token"));
  const char *call = json_string_value(json_object_get(resp, "serverToken"));
  if (r == 0 && (tok == NULL || call == NULL))
    r = skiff_error(err, 0, "POST %s/v1/join: no credential in the answer", client_server(c));
  if (r == 0)
    {
      *credential = xstrdup(tok);
      *server_token = xstrdup(call);
      const char *sc = json_string_value(json_object_get(resp, "servingCert"));
      const char *sk = json_string_value(json_object_get(resp, "servingKey"));
      if (cert && sc && sk)
        {
          *cert = xstrdup(sc);
          *key = xstrdup(sk);
        }
    }
  json_decref(resp);
  return r < 0 ? skiff_err_prefix(err, "join as node `%s`", node) : 0;
}
