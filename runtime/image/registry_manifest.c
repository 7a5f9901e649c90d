/* registry_manifest.c - which manifest of a registry to pull, pure: platforms
 * (`linux/arm64/v8`, this machine's from uname), telling an index (OCI image index, docker
 * manifest list) from a manifest, and picking the platform's manifest from an index. */
#define _GNU_SOURCE
#include "registry.h"

#include <string.h>
#include <sys/utsname.h>

/* uname machine -> OCI architecture and variant (the Go names registries use) */
static const struct
{
  const char *machine, *arch, *variant;
} machines[] = {
    {"x86_64", "amd64", ""},
    {"aarch64", "arm64", ""},
    {"armv7l", "arm", "v7"},
    {"armv6l", "arm", "v6"},
    {"i686", "386", ""},
    {"i386", "386", ""},
    {"ppc64le", "ppc64le", ""},
    {"s390x", "s390x", ""},
    {"riscv64", "riscv64", ""},
    {"mips64", "mips64le", ""},
    {"loongarch64", "loong64", ""},
};

static bool field_ok(const char *s, size_t n, size_t max)
{
  if (n == 0 || n >= max)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return false;
  return true;
}

int registry_platform_parse(const char *s, struct registry_platform *p, struct skiff_err **err)
{
  memset(p, 0, sizeof(*p));
  if (s == NULL || *s == '\0')
    {
      struct utsname u;
      const char *arch = "amd64", *variant = "";
      if (uname(&u) == 0)
        for (size_t i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
          if (strcmp(u.machine, machines[i].machine) == 0)
            {
              arch = machines[i].arch;
              variant = machines[i].variant;
            }
      snprintf(p->os, sizeof(p->os), "linux");
      snprintf(p->arch, sizeof(p->arch), "%s", arch);
      snprintf(p->variant, sizeof(p->variant), "%s", variant);
      return 0;
    }
  const char *a = strchr(s, '/');
  const char *v = a ? strchr(a + 1, '/') : NULL;
  size_t olen = a ? (size_t)(a - s) : 0;
  size_t alen = a ? (v ? (size_t)(v - a - 1) : strlen(a + 1)) : 0;
  size_t vlen = v ? strlen(v + 1) : 0;
  if (a == NULL || !field_ok(s, olen, sizeof(p->os)) || !field_ok(a + 1, alen, sizeof(p->arch))
      || (v && !field_ok(v + 1, vlen, sizeof(p->variant))))
    return skiff_error(err, 0, "platform `%s`: expected OS/ARCH[/VARIANT], e.g. linux/arm64", s);
  memcpy(p->os, s, olen);
  memcpy(p->arch, a + 1, alen);
  if (v)
    memcpy(p->variant, v + 1, vlen);
  return 0;
}

bool registry_is_index(const char *content_type, const char *body, size_t len)
{
  if (content_type && *content_type)
    {
      size_t n = strcspn(content_type, "; ");
      if ((n == strlen(IMAGE_MT_INDEX) && strncmp(content_type, IMAGE_MT_INDEX, n) == 0)
          || (n == strlen(IMAGE_MT_DOCKER_LIST)
              && strncmp(content_type, IMAGE_MT_DOCKER_LIST, n) == 0))
        return true;
      if ((n == strlen(IMAGE_MT_MANIFEST) && strncmp(content_type, IMAGE_MT_MANIFEST, n) == 0)
          || (n == strlen(IMAGE_MT_DOCKER_MANIFEST)
              && strncmp(content_type, IMAGE_MT_DOCKER_MANIFEST, n) == 0))
        return false;
    }
  json_t *o = json_loadb(body, len, 0, NULL);
  const char *mt = json_string_value(json_object_get(o, "mediaType"));
  bool res = mt ? strcmp(mt, IMAGE_MT_INDEX) == 0 || strcmp(mt, IMAGE_MT_DOCKER_LIST) == 0
                : json_is_array(json_object_get(o, "manifests"));
  json_decref(o);
  return res;
}

static bool variant_matches(const struct registry_platform *p, const char *variant)
{
  if (p->variant[0] == '\0')
    return true;
  if (variant == NULL || *variant == '\0')
    return strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0;
  return strcmp(p->variant, variant) == 0;
}

int registry_index_pick(const char *body, size_t len, const struct registry_platform *p,
                        char **digest, struct skiff_err **err)
{
  json_error_t je;
  json_t *o = json_loadb(body, len, 0, &je);
  if (o == NULL)
    return skiff_error(err, 0, "index: invalid JSON: %s (line %d)", je.text, je.line);
  json_t *ms = json_object_get(o, "manifests");
  if (!json_is_array(ms))
    {
      json_decref(o);
      return skiff_error(err, 0, "index: manifests: expected an array");
    }
  size_t i;
  json_t *d;
  const char *found = NULL;
  char seen[256] = "";
  size_t seen_len = 0;
  json_array_foreach(ms, i, d)
  {
    json_t *plat = json_object_get(d, "platform");
    const char *os = json_string_value(json_object_get(plat, "os"));
    const char *arch = json_string_value(json_object_get(plat, "architecture"));
    const char *variant = json_string_value(json_object_get(plat, "variant"));
    const char *dg = json_string_value(json_object_get(d, "digest"));
    const char *mt = json_string_value(json_object_get(d, "mediaType"));
    if (os == NULL || arch == NULL || !digest_valid(dg))
      continue; /* attestations and artifacts carry no platform */
    if (mt && strcmp(mt, IMAGE_MT_MANIFEST) != 0 && strcmp(mt, IMAGE_MT_DOCKER_MANIFEST) != 0)
      continue;
    if (seen_len + 1 < sizeof(seen))
      seen_len += (size_t)snprintf(seen + seen_len, sizeof(seen) - seen_len, "%s%s/%s%s%s",
                                   seen_len ? ", " : "", os, arch, variant && *variant ? "/" : "",
                                   variant ? variant : "");
    if (seen_len >= sizeof(seen))
      seen_len = sizeof(seen) - 1;
    if (found == NULL && strcmp(os, p->os) == 0 && strcmp(arch, p->arch) == 0
        && variant_matches(p, variant))
      found = dg;
  }
  int ret = 0;
  if (found)
    *digest = xstrdup(found);
  else
    ret = skiff_error(err, 0, "no manifest for %s/%s%s%s in the index (it has: %s)", p->os, p->arch,
                      p->variant[0] ? "/" : "", p->variant, seen_len ? seen : "none");
  json_decref(o);
  return ret;
}
