/* credentials.c - the agent's node credentials, from a join token (see credentials.h). */
#include "credentials.h"
#include "agent_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "client.h"
#include "join.h"
#include "trust.h"

/* Retry a step while the server cannot be reached (no HTTP answer), like the kubelet does
 * at boot; say so once. */
static bool retry(long status, int *tries, struct skiff_err **err)
{
  if (status != 0 || *err == NULL)
    return false;
  if ((*tries)++ == 0)
    agent_log("%s (retrying)", (*err)->msg);
  skiff_err_free(err);
  sleep(1);
  return true;
}

/* Join nodes[0..n) with join_token; with address (one node), its endpoint's serving
 * certificate too. */
static int join_nodes(struct agent_credentials *ac, const char *server, const char *join_token,
                      char *const *nodes, size_t n, const char *address, const volatile int *stop,
                      struct skiff_err **err)
{
  cleanup_free char *ca = NULL;
  long status = 0;
  int tries = 0;
  while (client_join_ca(server, join_token, &ca, &status, err) < 0)
    if (*stop || !retry(status, &tries, err))
      return -1;
  client_set_default_ca(ca);
  ac->ca = xstrdup(ca);
  ac->nodes = xzalloc((n + 1) * sizeof(char *));
  ac->tokens = xzalloc((n + 1) * sizeof(char *));
  ac->server_tokens = xzalloc((n + 1) * sizeof(char *));
  struct client *c = client_join_client(server, join_token, ca);
  for (size_t i = 0; i < n; i++)
    {
      while (client_join_node(c, nodes[i], address, &ac->tokens[i], &ac->server_tokens[i],
                              address ? &ac->serving_cert : NULL, address ? &ac->serving_key : NULL,
                              &status, err)
             < 0)
        if (*stop || !retry(status, &tries, err))
          {
            client_free(c);
            return -1;
          }
      ac->nodes[i] = xstrdup(nodes[i]);
      ac->n = i + 1;
    }
  client_free(c);
  return 0;
}

int agent_credentials_obtain(struct agent_credentials *ac, const char *server,
                             const char *join_token, const char *shared, char *const *nodes,
                             size_t n, const volatile int *stop, struct skiff_err **err)
{
  memset(ac, 0, sizeof(*ac));
  if (join_token == NULL)
    {
      ac->shared = shared ? xstrdup(shared) : NULL;
      return 0;
    }
  return join_nodes(ac, server, join_token, nodes, n, NULL, stop, err);
}

static void set_one(struct agent_credentials *ac, const char *node, const char *token,
                    const char *server_token, const char *ca)
{
  ac->nodes = xzalloc(2 * sizeof(char *));
  ac->tokens = xzalloc(2 * sizeof(char *));
  ac->server_tokens = xzalloc(2 * sizeof(char *));
  ac->nodes[0] = xstrdup(node);
  ac->tokens[0] = xstrdup(token);
  ac->server_tokens[0] = xstrdup(server_token);
  ac->ca = ca ? xstrdup(ca) : NULL;
  ac->n = 1;
}

/* The saved credential of node at server, or NULL (none, another node's, unreadable). */
static json_t *saved_load(const char *path, const char *server, const char *node)
{
  json_t *j = json_load_file(path, 0, NULL);
  const char *n = json_string_value(json_object_get(j, "node"));
  const char *s = json_string_value(json_object_get(j, "server"));
  if (n == NULL || s == NULL || strcmp(n, node) != 0 || strcmp(s, server) != 0
      || !json_is_string(json_object_get(j, "token"))
      || !json_is_string(json_object_get(j, "serverToken"))
      || !json_is_string(json_object_get(j, "ca")))
    {
      json_decref(j);
      return NULL;
    }
  return j;
}

static void saved_use(struct agent_credentials *ac, json_t *saved, const char *address)
{
  const char *ca = json_string_value(json_object_get(saved, "ca"));
  const char *cert = json_string_value(json_object_get(saved, "servingCert"));
  const char *key = json_string_value(json_object_get(saved, "servingKey"));
  const char *for_addr = json_string_value(json_object_get(saved, "servingAddress"));
  set_one(ac, json_string_value(json_object_get(saved, "node")),
          json_string_value(json_object_get(saved, "token")),
          json_string_value(json_object_get(saved, "serverToken")), ca);
  /* a certificate for another address would fail the server's check: plain HTTP instead */
  if (cert && key && for_addr && address && strcmp(for_addr, address) == 0)
    {
      ac->serving_cert = xstrdup(cert);
      ac->serving_key = xstrdup(key);
    }
  client_set_default_ca(ca);
}

static int saved_write(const struct agent_credentials *ac, const char *server, const char *address,
                       const char *path, struct skiff_err **err)
{
  json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "node", ac->nodes[0], "server", server, "token",
                        ac->tokens[0], "serverToken", ac->server_tokens[0], "ca", ac->ca);
  if (ac->serving_cert && address)
    {
      json_object_set_new(j, "servingCert", json_string(ac->serving_cert));
      json_object_set_new(j, "servingKey", json_string(ac->serving_key));
      json_object_set_new(j, "servingAddress", json_string(address));
    }
  cleanup_free char *text = json_dumps(j, JSON_INDENT(2));
  json_decref(j);
  return skiff_write_file_atomic(path, text, strlen(text), 0600, err);
}

int agent_credentials_node(struct agent_credentials *ac, const char *server, const char *join_token,
                           const char *shared, const char *ca_pem, const char *node,
                           const char *address, const char *saved_path, const volatile int *stop,
                           struct skiff_err **err)
{
  memset(ac, 0, sizeof(*ac));
  json_t *saved = saved_load(saved_path, server, node);
  int ret = 0;
  if (join_token)
    {
      char *nodes[] = {(char *)node, NULL};
      memset(ac, 0, sizeof(*ac));
      ret = join_nodes(ac, server, join_token, nodes, 1, address, stop, err);
      if (ret < 0 && saved && !*stop)
        {
          agent_log("%s; using the credential node %s got at an earlier join (%s)", (*err)->msg,
                    node, saved_path);
          skiff_err_free(err);
          agent_credentials_free(ac);
          saved_use(ac, saved, address);
          ret = 0;
        }
      else if (ret == 0)
        ret = saved_write(ac, server, address, saved_path, err);
    }
  else if (saved)
    saved_use(ac, saved, address);
  else if (shared)
    {
      /* an admin's credential on a node: it joins the node, which then speaks with a
         credential that can touch only itself */
      client_set_default_ca(ca_pem);
      struct client *c = client_new(server, shared, 10000);
      cleanup_free char *tok = NULL, *call = NULL, *cert = NULL, *key = NULL;
      long status = 0;
      int tries = 0;
      while ((ret = client_join_node(c, node, address, &tok, &call, &cert, &key, &status, err)) < 0)
        if (*stop || !retry(status, &tries, err))
          break;
      client_free(c);
      if (ret == 0)
        {
          set_one(ac, node, tok, call, ca_pem);
          ac->serving_cert = cert;
          ac->serving_key = key;
          cert = key = NULL;
          ret = saved_write(ac, server, address, saved_path, err);
        }
      else if (status == 403 || status == 401)
        {
          /* a node's credential (it cannot join) serves as it is; an unknown one too: the
             registration then fails (401) and is retried, logged per back-off step, until
             the credential is fixed */
          skiff_err_free(err);
          ac->shared = xstrdup(shared);
          ret = 0;
        }
    }
  else
    ret = skiff_error(err, 0,
                      "no credential: give a join token (--token-file F holding the line `skiffd "
                      "server` printed, or $SKIFF_JOIN_TOKEN) or a credential");
  json_decref(saved);
  return ret;
}

const char *agent_credentials_for(const struct agent_credentials *ac, const char *node)
{
  for (size_t i = 0; node && i < ac->n; i++)
    if (strcmp(ac->nodes[i], node) == 0)
      return ac->tokens[i];
  return ac->n ? ac->tokens[0] : ac->shared;
}

bool agent_credentials_server_call(const struct agent_credentials *ac, const char *node,
                                   const char *authorization)
{
  const char *want = ac->shared;
  for (size_t i = 0; i < ac->n; i++)
    if (node && strcmp(ac->nodes[i], node) == 0)
      want = ac->server_tokens[i];
  if (want == NULL || authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0)
    return false;
  return trust_equal(authorization + 7, want);
}

void agent_credentials_free(struct agent_credentials *ac)
{
  for (size_t i = 0; i < ac->n; i++)
    {
      free(ac->nodes[i]);
      free(ac->tokens[i]);
      free(ac->server_tokens[i]);
    }
  free(ac->nodes);
  free(ac->tokens);
  free(ac->server_tokens);
  free(ac->shared);
  free(ac->ca);
  free(ac->serving_cert);
  free(ac->serving_key);
  memset(ac, 0, sizeof(*ac));
}
