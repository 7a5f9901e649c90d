/* image_ref.c - image references, pure: local names (`busybox`, `web:v2`) and registry
 * references (`[HOST[:PORT]/]REPO[:TAG|@sha256:DIGEST]`), the registry a reference names, the
 * key the store files a pulled image under, and whether a registry is on loopback.
 *
 * Grammar (docker's reference grammar, lower case only): a name is components of
 * [a-z0-9] separated by `.`, `_` or `-`, joined by `/`.  Its first component is a registry
 * host when a `/` follows it and it holds a `.` or a `:`, is `localhost` or is a bracketed
 * IPv6 address: `127.0.0.1:5000/webapp`, `registry.example/team/app`, `[::1]:5000/x`.  A
 * name without a host is a local image to the store; `skiff pull` sends it to docker.io
 * (`busybox` -> docker.io/library/busybox) as docker does. */
#define _GNU_SOURCE
#include "image_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#define REF_MAX 255

static bool name_component_ok(const char *s, size_t n)
{
  if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '.' || s[i] == '_'
          || s[i] == '-'))
      return false;
  return true;
}

/* Length of the registry host that starts ref (0 when the first component is not one). */
static size_t domain_len(const char *ref, size_t len)
{
  const char *slash = memchr(ref, '/', len);
  if (slash == NULL)
    return 0;
  size_t n = (size_t)(slash - ref);
  if (n == 0)
    return 0;
  if (memchr(ref, '.', n) || memchr(ref, ':', n) || ref[0] == '['
      || (n == 9 && strncmp(ref, "localhost", 9) == 0))
    return n;
  return 0;
}

static bool port_ok(const char *p, size_t n)
{
  if (n == 0 || n > 5)
    return false;
  long v = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (!isdigit((unsigned char)p[i]))
        return false;
      v = v * 10 + (p[i] - '0');
    }
  return v >= 1 && v <= 65535;
}

/* host := label ('.' label)* | '[' ipv6 ']', then an optional ':' port; lower case. */
static bool domain_ok(const char *d, size_t n)
{
  size_t hlen = n;
  if (d[0] == '[')
    {
      const char *close = memchr(d, ']', n);
      if (close == NULL || close == d + 1)
        return false;
      hlen = (size_t)(close - d) + 1;
      char addr[INET6_ADDRSTRLEN];
      unsigned char bin[16];
      if (hlen - 2 >= sizeof(addr))
        return false;
      memcpy(addr, d + 1, hlen - 2);
      addr[hlen - 2] = '\0';
      for (size_t i = 0; addr[i]; i++)
        if (isupper((unsigned char)addr[i]))
          return false;
      if (inet_pton(AF_INET6, addr, bin) != 1)
        return false;
    }
  else
    {
      const char *colon = memchr(d, ':', n);
      hlen = colon ? (size_t)(colon - d) : n;
      for (size_t s = 0; s <= hlen;)
        {
          const char *dot = memchr(d + s, '.', hlen - s);
          size_t l = dot ? (size_t)(dot - (d + s)) : hlen - s;
          if (l == 0 || l > 63 || !isalnum((unsigned char)d[s])
              || !isalnum((unsigned char)d[s + l - 1]))
            return false;
          for (size_t i = s; i < s + l; i++)
            if (!(islower((unsigned char)d[i]) || isdigit((unsigned char)d[i]) || d[i] == '-'))
              return false;
          s += l + 1;
        }
    }
  if (hlen == n)
    return true;
  return d[hlen] == ':' && port_ok(d + hlen + 1, n - hlen - 1);
}

bool image_ref_has_registry(const char *ref)
{
  return ref && domain_len(ref, strlen(ref)) > 0;
}

int image_parse_ref(const char *ref, char **name, char **tag, struct skiff_err **err)
{
  if (ref == NULL || *ref == '\0')
    return skiff_error(err, 0, "invalid image reference ``: empty");
  size_t len = strlen(ref);
  if (len > REF_MAX)
    return skiff_error(err, 0, "invalid image reference `%s`: longer than %d characters", ref,
                       REF_MAX);
  if (strchr(ref, '@'))
    return skiff_error(err, 0, "invalid image reference `%s`: digest references are not names",
                       ref);
  size_t dlen = domain_len(ref, len);
  if (dlen && !domain_ok(ref, dlen))
    return skiff_error(err, 0, "invalid image reference `%s`: bad registry host `%.*s`", ref,
                       (int)dlen, ref);
  const char *path = dlen ? ref + dlen + 1 : ref;
  const char *colon = strrchr(path, ':');
  if (colon && strchr(colon, '/'))
    colon = NULL;
  size_t nlen = colon ? (size_t)(colon - ref) : len;
  const char *t = colon ? colon + 1 : "latest";
  size_t tlen = strlen(t);
  if (tlen == 0 || tlen > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
    return skiff_error(err, 0, "invalid image reference `%s`: bad tag `%s`", ref, t);
  for (size_t i = 0; i < tlen; i++)
    if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
      return skiff_error(err, 0, "invalid image reference `%s`: bad character `%c` in tag", ref,
                         t[i]);
  for (size_t i = 0; i < nlen; i++)
    if (isupper((unsigned char)ref[i]))
      return skiff_error(err, 0, "invalid image reference `%s`: name must be lower case", ref);
  size_t start = (size_t)(path - ref);
  for (size_t s = start; s <= nlen;)
    {
      const char *e = memchr(ref + s, '/', nlen - s);
      size_t clen = e ? (size_t)(e - (ref + s)) : nlen - s;
      if (!name_component_ok(ref + s, clen))
        return skiff_error(err, 0,
                           "invalid image reference `%s`: name components are [a-z0-9] "
                           "separated by one of `._-`, joined by `/`",
                           ref);
      s += clen + 1;
    }
  *name = strndup(ref, nlen);
  *tag = xstrdup(t);
  if (*name == NULL)
    abort();
  return 0;
}

void image_ref_clear(struct image_ref *r)
{
  free(r->domain);
  free(r->repo);
  free(r->tag);
  free(r->digest);
  free(r->name);
  free(r->key);
  memset(r, 0, sizeof(*r));
}

static bool is_docker_hub(const char *domain)
{
  return strcmp(domain, "docker.io") == 0 || strcmp(domain, "index.docker.io") == 0
         || strcmp(domain, "registry-1.docker.io") == 0;
}

int image_ref_parse(const char *ref, struct image_ref *r, struct skiff_err **err)
{
  memset(r, 0, sizeof(*r));
  if (ref == NULL)
    ref = "";
  const char *at = strchr(ref, '@');
  cleanup_free char *namepart = at ? strndup(ref, (size_t)(at - ref)) : xstrdup(ref);
  if (namepart == NULL)
    abort();
  if (at && !digest_valid(at + 1))
    return skiff_error(err, 0, "invalid image reference `%s`: the digest must be sha256:<64 hex>",
                       ref);
  cleanup_free char *name = NULL, *tag = NULL;
  if (image_parse_ref(namepart, &name, &tag, err) < 0)
    return -1;
  size_t dlen = domain_len(name, strlen(name));
  bool explicit_tag = strlen(name) != strlen(namepart);
  r->domain = dlen ? strndup(name, dlen) : xstrdup("docker.io");
  if (r->domain == NULL)
    abort();
  const char *path = dlen ? name + dlen + 1 : name;
  bool hub = is_docker_hub(r->domain);
  if (hub)
    {
      free(r->domain);
      r->domain = xstrdup("docker.io");
    }
  r->repo = hub && strchr(path, '/') == NULL ? xasprintf("library/%s", path) : xstrdup(path);
  if (hub)
    r->name = xstrdup(strncmp(r->repo, "library/", 8) == 0 ? r->repo + 8 : r->repo);
  else
    r->name = xasprintf("%s/%s", r->domain, r->repo);
  if (at)
    r->digest = xstrdup(at + 1);
  if (!at || explicit_tag)
    r->tag = steal_pointer(&tag);
  /* a digest pins the image: the tag beside it is informative, as for docker */
  r->key = at ? xasprintf("%s@%s", r->name, r->digest) : xasprintf("%s:%s", r->name, r->tag);
  return 0;
}

const char *image_ref_api_host(const struct image_ref *r)
{
  return strcmp(r->domain, "docker.io") == 0 ? "registry-1.docker.io" : r->domain;
}

bool image_ref_domain_is_loopback(const char *domain)
{
  if (domain == NULL)
    return false;
  size_t n = strlen(domain);
  if (domain[0] == '[')
    {
      const char *close = strchr(domain, ']');
      return close && close - domain == 4 && strncmp(domain, "[::1]", 5) == 0;
    }
  const char *colon = strchr(domain, ':');
  size_t hlen = colon ? (size_t)(colon - domain) : n;
  if (hlen == 9 && strncmp(domain, "localhost", 9) == 0)
    return true;
  char host[INET_ADDRSTRLEN];
  struct in_addr a;
  if (hlen >= sizeof(host))
    return false;
  memcpy(host, domain, hlen);
  host[hlen] = '\0';
  return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}
