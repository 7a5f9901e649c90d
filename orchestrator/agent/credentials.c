/* credentials.c - the agent's node credentials, from a join token (see credentials.h). */
#include "credentials.h"

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
    fprintf(stderr, "skiffd agent: %s (retrying)\n", (*err)->msg);
  skiff_err_free(err);
  sleep(1);
  return true;
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
  cleanup_free char *ca = NULL;
  long status = 0;
  int tries = 0;
  while (client_join_ca(server, join_token, &ca, &status, err) < 0)
    if (*stop || !retry(status, &tries, err))
      return -1;
  client_set_default_ca(ca);
  ac->nodes = xzalloc((n + 1) * sizeof(char *));
  ac->tokens = xzalloc((n + 1) * sizeof(char *));
  ac->server_tokens = xzalloc((n + 1) * sizeof(char *));
  struct client *c = client_join_client(server, join_token, ca);
  for (size_t i = 0; i < n; i++)
    {
      while (client_join_node(c, nodes[i], &ac->tokens[i], &ac->server_tokens[i], &status, err) < 0)
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
  memset(ac, 0, sizeof(*ac));
}
