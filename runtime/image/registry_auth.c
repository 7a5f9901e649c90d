/* registry_auth.c - what the registry client needs to authenticate, pure but for reading
 * the credentials file: WWW-Authenticate challenges (RFC 7235 auth-params: `Basic
 * realm=...`, `Bearer realm=...,service=...,scope=...`), the token endpoint's answer,
 * base64, `--creds USER:PASS`, and docker's config.json `auths` (the format docker login,
 * podman login and skopeo write).  No secret ever enters an error message. */
#define _GNU_SOURCE
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

void registry_challenge_clear(struct registry_challenge *c)
{
  free(c->realm);
  free(c->service);
  free(c->scope);
  memset(c, 0, sizeof(*c));
}

static const char *skip_space(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static bool is_token_char(char c)
{
  return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~/:", c) != NULL;
}

/* token or quoted-string at *pp; returns a malloc'd value or NULL on bad syntax */
static char *param_value(const char **pp)
{
  const char *p = *pp;
  if (*p != '"')
    {
      const char *s = p;
      while (*p && is_token_char(*p))
        p++;
      if (p == s)
        return NULL;
      *pp = p;
      return strndup(s, (size_t)(p - s));
    }
  p++;
  size_t cap = strlen(p) + 1, n = 0;
  char *out = xmalloc(cap);
  for (; *p && *p != '"'; p++)
    {
      if (*p == '\\' && p[1])
        p++;
      out[n++] = *p;
    }
  if (*p != '"')
    {
      free(out);
      return NULL;
    }
  out[n] = '\0';
  *pp = p + 1;
  return out;
}

int registry_challenge_parse(const char *header, struct registry_challenge *c,
                             struct skiff_err **err)
{
  memset(c, 0, sizeof(*c));
  const char *p = skip_space(header ? header : "");
  size_t slen = strcspn(p, " \t");
  if (slen == 5 && strncasecmp(p, "basic", 5) == 0)
    c->scheme = REGISTRY_AUTH_BASIC;
  else if (slen == 6 && strncasecmp(p, "bearer", 6) == 0)
    c->scheme = REGISTRY_AUTH_BEARER;
  else
    return skiff_error(err, 0, "WWW-Authenticate `%.*s`: unsupported scheme (Basic or Bearer)",
                       (int)(slen > 40 ? 40 : slen), p);
  p = skip_space(p + slen);
  while (*p)
    {
      const char *name = p;
      while (*p && *p != '=' && *p != ',' && *p != ' ')
        p++;
      size_t nlen = (size_t)(p - name);
      p = skip_space(p);
      if (*p != '=' || nlen == 0)
        {
          registry_challenge_clear(c);
          return skiff_error(err, 0, "WWW-Authenticate: expected name=value at `%.40s`", name);
        }
      p = skip_space(p + 1);
      char *v = param_value(&p);
      if (v == NULL)
        {
          registry_challenge_clear(c);
          return skiff_error(err, 0, "WWW-Authenticate: bad value of `%.*s`", (int)nlen, name);
        }
      char **slot = NULL;
      if (nlen == 5 && strncasecmp(name, "realm", 5) == 0)
        slot = &c->realm;
      else if (nlen == 7 && strncasecmp(name, "service", 7) == 0)
        slot = &c->service;
      else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0)
        slot = &c->scope;
      if (slot)
        {
          free(*slot);
          *slot = v;
        }
      else
        free(v); /* error=, error_description=, charset=: not needed */
      p = skip_space(p);
      if (*p == ',')
        p = skip_space(p + 1);
      else if (*p)
        {
          registry_challenge_clear(c);
          return skiff_error(err, 0, "WWW-Authenticate: expected `,` at `%.40s`", p);
        }
    }
  if (c->scheme == REGISTRY_AUTH_BEARER
      && (c->realm == NULL
          || (strncmp(c->realm, "https://", 8) != 0 && strncmp(c->realm, "http://", 7) != 0)))
    {
      registry_challenge_clear(c);
      return skiff_error(err, 0, "WWW-Authenticate: Bearer without an http(s) realm");
    }
  return 0;
}

int registry_token_parse(const char *text, size_t len, char **token, struct skiff_err **err)
{
  json_error_t je;
  json_t *o = json_loadb(text, len, 0, &je);
  const char *t = json_string_value(json_object_get(o, "token"));
  if (t == NULL || *t == '\0')
    t = json_string_value(json_object_get(o, "access_token"));
  int ret = 0;
  if (o == NULL)
    ret = skiff_error(err, 0, "token server: invalid JSON: %s", je.text);
  else if (t == NULL || *t == '\0')
    ret = skiff_error(err, 0, "token server: no `token` in the answer");
  else
    {
      /* it goes into a header line: no control characters */
      for (const char *q = t; *q && ret == 0; q++)
        if ((unsigned char)*q < 0x21 || *q == 0x7f)
          ret = skiff_error(err, 0, "token server: the token holds a control character");
      if (ret == 0)
        *token = xstrdup(t);
    }
  json_decref(o);
  return ret;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *registry_base64_encode(const void *data, size_t len)
{
  const unsigned char *s = data;
  char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
  for (size_t i = 0; i < len; i += 3)
    {
      unsigned v = (unsigned)s[i] << 16 | (i + 1 < len ? (unsigned)s[i + 1] << 8 : 0)
                   | (i + 2 < len ? s[i + 2] : 0);
      *o++ = b64[v >> 18 & 63];
      *o++ = b64[v >> 12 & 63];
      *o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
      *o++ = i + 2 < len ? b64[v & 63] : '=';
    }
  *o = '\0';
  return out;
}

int registry_base64_decode(const char *s, char **out, size_t *len)
{
  size_t n = strlen(s);
  char *res = xmalloc(n / 4 * 3 + 4);
  size_t o = 0;
  unsigned acc = 0;
  int bits = 0, pad = 0;
  for (size_t i = 0; i < n; i++)
    {
      const char *c = s[i] ? strchr(b64, s[i]) : NULL;
      if (s[i] == '=')
        {
          pad++;
          continue;
        }
      if (c == NULL || pad)
        {
          free(res);
          return -1;
        }
      acc = acc << 6 | (unsigned)(c - b64);
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          res[o++] = (char)(acc >> bits & 0xff);
        }
    }
  if (pad > 2 || bits >= 6)
    {
      free(res);
      return -1;
    }
  res[o] = '\0';
  *out = res;
  if (len)
    *len = o;
  return 0;
}

int registry_creds_split(const char *creds, char **user, char **pass, struct skiff_err **err)
{
  const char *colon = strchr(creds, ':');
  if (colon == NULL || colon == creds)
    return skiff_error(err, 0, "--creds: expected USER:PASS");
  *user = strndup(creds, (size_t)(colon - creds));
  *pass = xstrdup(colon + 1);
  if (*user == NULL)
    abort();
  return 0;
}

/* "https://host:5000/v1/" -> does it name domain? */
static bool auth_key_matches(const char *key, const char *domain)
{
  if (strncmp(key, "https://", 8) == 0)
    key += 8;
  else if (strncmp(key, "http://", 7) == 0)
    key += 7;
  size_t n = strcspn(key, "/");
  if (strlen(domain) == n && strncmp(key, domain, n) == 0)
    return true;
  static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
  bool key_hub = false, dom_hub = false;
  for (size_t i = 0; i < 3; i++)
    {
      key_hub |= strlen(hub[i]) == n && strncmp(key, hub[i], n) == 0;
      dom_hub |= strcmp(domain, hub[i]) == 0;
    }
  return key_hub && dom_hub;
}

int registry_auth_lookup(const char *text, size_t len, const char *domain, char **user, char **pass,
                         struct skiff_err **err)
{
  json_error_t je;
  json_t *root = json_loadb(text, len, 0, &je);
  if (root == NULL)
    return skiff_error(err, 0, "invalid JSON: %s (line %d)", je.text, je.line);
  json_t *auths = json_object_get(root, "auths");
  const char *key;
  json_t *e;
  int ret = 0;
  if (auths && !json_is_object(auths))
    ret = skiff_error(err, 0, "auths: expected an object");
  json_object_foreach(auths, key, e)
  {
    if (ret != 0 || !auth_key_matches(key, domain))
      continue;
    const char *a = json_string_value(json_object_get(e, "auth"));
    const char *u = json_string_value(json_object_get(e, "username"));
    const char *p = json_string_value(json_object_get(e, "password"));
    cleanup_free char *plain = NULL;
    if (a && *a)
      {
        if (registry_base64_decode(a, &plain, NULL) < 0 || strchr(plain, ':') == NULL
            || plain[0] == ':')
          ret = skiff_error(err, 0, "auths.`%s`.auth: not the base64 of USER:PASS", key);
        else if (registry_creds_split(plain, user, pass, NULL) == 0)
          ret = 1;
      }
    else if (u && p && *u)
      {
        *user = xstrdup(u);
        *pass = xstrdup(p);
        ret = 1;
      }
  }
  json_decref(root);
  return ret;
}

char *registry_auth_default_path(const char *registry_auth_file, const char *docker_config,
                                 const char *home)
{
  if (registry_auth_file && *registry_auth_file)
    return xstrdup(registry_auth_file);
  if (docker_config && *docker_config)
    return xasprintf("%s/config.json", docker_config);
  if (home && *home)
    return xasprintf("%s/.docker/config.json", home);
  return NULL;
}

int registry_creds_resolve(const char *creds, const char *authfile, const char *domain, char **user,
                           char **pass, struct skiff_err **err)
{
  *user = *pass = NULL;
  if (creds)
    return registry_creds_split(creds, user, pass, err);
  cleanup_free char *path
      = authfile ? xstrdup(authfile)
                 : registry_auth_default_path(getenv("REGISTRY_AUTH_FILE"), getenv("DOCKER_CONFIG"),
                                              getenv("HOME"));
  if (path == NULL)
    return 0;
  cleanup_free char *text = NULL;
  size_t len = 0;
  struct skiff_err *rerr = NULL;
  if (skiff_read_file(path, &text, &len, &rerr) < 0)
    {
      int e = rerr->status;
      skiff_err_free(&rerr);
      if (e == ENOENT && authfile == NULL)
        return 0; /* no default file: anonymous */
      return skiff_error(err, e, "authfile `%s`", path);
    }
  if (registry_auth_lookup(text, len, domain, user, pass, err) < 0)
    return skiff_err_prefix(err, "authfile `%s`", path);
  return 0;
}
