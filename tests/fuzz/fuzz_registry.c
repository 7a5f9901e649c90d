/* fuzz_registry.c - libFuzzer harness for what the registry client parses from a registry, a
 * token server, a credentials file or the command line: WWW-Authenticate challenges, token
 * answers, docker config.json `auths`, base64, registry references, platforms, indexes.
 *
 *   make fuzz-build && build/fuzz/fuzz_registry tests/fuzz/corpus/registry
 *
 * Any input either parses into values the client relies on (a Bearer challenge with an
 * http(s) realm; a header-safe token; a reference with a host, a repository and a store key
 * built from them; a valid digest picked from an index) or fails with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void need_error(struct skiff_err **err)
{
  if (*err == NULL || (*err)->msg == NULL || (*err)->msg[0] == '\0')
    abort();
  skiff_err_free(err);
}

static void challenge(const char *s)
{
  struct skiff_err *err = NULL;
  struct registry_challenge c;
  if (registry_challenge_parse(s, &c, &err) == 0)
    {
      if (c.scheme == REGISTRY_AUTH_BEARER
          && (c.realm == NULL
              || (strncmp(c.realm, "https://", 8) != 0 && strncmp(c.realm, "http://", 7) != 0)))
        abort();
      if (c.scheme != REGISTRY_AUTH_BEARER && c.scheme != REGISTRY_AUTH_BASIC)
        abort();
      registry_challenge_clear(&c);
    }
  else
    need_error(&err);
}

static void reference(const char *s)
{
  struct skiff_err *err = NULL;
  struct image_ref r;
  if (image_ref_parse(s, &r, &err) == 0)
    {
      size_t n = strlen(r.name);
      if (r.domain[0] == '\0' || r.repo[0] == '\0' || strncmp(r.key, r.name, n) != 0
          || (r.key[n] != ':' && r.key[n] != '@') || (r.digest && !digest_valid(r.digest))
          || (r.digest == NULL && r.tag == NULL) || strchr(r.repo, ':') || strchr(r.repo, '@'))
        abort();
      image_ref_clear(&r);
    }
  else
    need_error(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = strndup((const char *)data, size < 4096 ? size : 4096);
  if (s == NULL)
    return 0;
  struct skiff_err *err = NULL;
  challenge(s);
  reference(s);

  char *tok = NULL;
  if (registry_token_parse((const char *)data, size, &tok, &err) == 0)
    {
      for (const char *p = tok; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f)
          abort();
      free(tok);
    }
  else
    need_error(&err);

  char *u = NULL, *p = NULL;
  int rc = registry_auth_lookup((const char *)data, size, "127.0.0.1:5000", &u, &p, &err);
  if (rc == 1)
    {
      if (u == NULL || p == NULL || u[0] == '\0')
        abort();
      free(u);
      free(p);
    }
  else if (rc < 0)
    need_error(&err);

  char *dec = NULL;
  size_t dlen = 0;
  if (registry_base64_decode(s, &dec, &dlen) == 0)
    {
      char *again = registry_base64_encode(dec, dlen);
      free(again);
      free(dec);
    }

  struct registry_platform plat;
  if (registry_platform_parse(s, &plat, &err) == 0)
    {
      if (plat.os[0] == '\0' || plat.arch[0] == '\0')
        abort();
    }
  else
    need_error(&err);
  registry_platform_parse("linux/amd64", &plat, NULL);
  char *d = NULL;
  (void)registry_is_index(s, (const char *)data, size);
  if (registry_index_pick((const char *)data, size, &plat, &d, &err) == 0)
    {
      if (!digest_valid(d))
        abort();
      free(d);
    }
  else
    need_error(&err);
  free(s);
  return 0;
}
