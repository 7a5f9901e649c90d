/* ipam.c - address leases for the bridge network (see net.h): a JSON file per bridge
 * under flock, {"subnet": "...", "leases": {"<id>": "10.88.0.5", ...}}.  The pick of a
 * free address is a pure function (net_ipam_pick) so it is unit tested. */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

int net_ipam_pick(uint32_t network, int prefix, const uint32_t *used, size_t n_used, uint32_t *out)
{
  uint32_t size = 1U << (32 - prefix);
  /* .0 network, .1 gateway, last broadcast */
  for (uint32_t off = 2; off < size - 1; off++)
    {
      uint32_t cand = network + off;
      bool taken = false;
      for (size_t i = 0; i < n_used && !taken; i++)
        taken = used[i] == cand;
      if (!taken)
        {
          *out = cand;
          return 0;
        }
    }
  return -1;
}

static char *ipam_path(const struct net_bridge_config *cfg)
{
  const char *dir = cfg && cfg->state_dir ? cfg->state_dir : "/var/lib/skiff/net";
  return xasprintf("%s/ipam-%s.json", dir, cfg && cfg->bridge ? cfg->bridge : SKIFF_DEFAULT_BRIDGE);
}

/* Open + lock the lease file and load it into *doc (an empty one when new); returns the
 * locked fd. */
static int ipam_open(const struct net_bridge_config *cfg, json_t **doc_out, struct skiff_err **err)
{
  const char *dir = cfg && cfg->state_dir ? cfg->state_dir : "/var/lib/skiff/net";
  if (skiff_mkdir_p(dir, 0700, err) < 0)
    return -1;
  cleanup_free char *path = ipam_path(cfg);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", path);
  if (flock(fd, LOCK_EX) < 0)
    {
      close(fd);
      return skiff_error(err, errno, "lock `%s`", path);
    }
  json_error_t jerr = {.text = "not a JSON object"};
  struct stat st;
  json_t *doc = fstat(fd, &st) == 0 && st.st_size == 0
                    ? json_object() /* a new file */
                    : json_loadfd(fd, JSON_DISABLE_EOF_CHECK, &jerr);
  if (!json_is_object(doc))
    {
      /* forgetting the leases would hand out addresses twice: refuse instead */
      skiff_error(err, 0, "lease file `%s` is corrupt (%s): fix or remove it", path, jerr.text);
      json_decref(doc);
      close(fd);
      return -1;
    }
  if (!json_is_object(json_object_get(doc, "leases")))
    json_object_set_new(doc, "leases", json_object());
  *doc_out = doc;
  return fd;
}

static int ipam_save(int fd, const struct net_bridge_config *cfg, json_t *doc,
                     struct skiff_err **err)
{
  cleanup_free char *path = ipam_path(cfg);
  cleanup_free char *text = json_dumps(doc, JSON_INDENT(2));
  /* rewrite in place under the lock (a rename would drop the lock's inode) */
  if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0 || fsync(fd) < 0)
    return skiff_error(err, errno, "write `%s`", path);
  return 0;
}

int net_ipam_allocate(const struct net_bridge_config *cfg, const char *owner, char **ip,
                      struct skiff_err **err)
{
  uint32_t network;
  int prefix;
  if (net_parse_subnet(cfg && cfg->subnet ? cfg->subnet : SKIFF_DEFAULT_SUBNET, &network, &prefix,
                       err)
      < 0)
    return -1;
  json_t *doc = NULL;
  int fd = ipam_open(cfg, &doc, err);
  if (fd < 0)
    return -1;
  json_t *leases = json_object_get(doc, "leases");
  int ret = -1;
  const char *have = json_string_value(json_object_get(leases, owner));
  if (have)
    {
      *ip = xstrdup(have);
      ret = 0;
      goto out;
    }
  size_t n = json_object_size(leases), i = 0;
  uint32_t *used = xzalloc((n + 1) * sizeof(uint32_t));
  const char *k;
  json_t *v;
  json_object_foreach(leases, k, v)
  {
    struct in_addr a;
    if (json_is_string(v) && inet_pton(AF_INET, json_string_value(v), &a) == 1)
      used[i++] = ntohl(a.s_addr);
  }
  uint32_t pick;
  if (net_ipam_pick(network, prefix, used, i, &pick) < 0)
    {
      free(used);
      skiff_error(err, 0, "no free address left in subnet %s",
                  cfg && cfg->subnet ? cfg->subnet : SKIFF_DEFAULT_SUBNET);
      goto out;
    }
  free(used);
  struct in_addr a = {.s_addr = htonl(pick)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  json_object_set_new(leases, owner, json_string(buf));
  json_object_set_new(doc, "subnet",
                      json_string(cfg && cfg->subnet ? cfg->subnet : SKIFF_DEFAULT_SUBNET));
  if (ipam_save(fd, cfg, doc, err) < 0)
    goto out;
  *ip = xstrdup(buf);
  ret = 0;
out:
  json_decref(doc);
  close(fd);
  return ret;
}

int net_ipam_release(const struct net_bridge_config *cfg, const char *owner, struct skiff_err **err)
{
  json_t *doc = NULL;
  int fd = ipam_open(cfg, &doc, err);
  if (fd < 0)
    return -1;
  json_t *leases = json_object_get(doc, "leases");
  int ret = 0;
  if (json_object_get(leases, owner))
    {
      json_object_del(leases, owner);
      ret = ipam_save(fd, cfg, doc, err);
    }
  json_decref(doc);
  close(fd);
  return ret;
}

int net_ipam_owners(const struct net_bridge_config *cfg, char ***owners, struct skiff_err **err)
{
  json_t *doc = NULL;
  int fd = ipam_open(cfg, &doc, err);
  if (fd < 0)
    return -1;
  json_t *leases = json_object_get(doc, "leases");
  char **v = xzalloc((json_object_size(leases) + 1) * sizeof(char *));
  size_t n = 0;
  const char *k;
  json_t *ip;
  json_object_foreach(leases, k, ip)
  {
    v[n++] = xstrdup(k);
  }
  json_decref(doc);
  close(fd);
  *owners = v;
  return 0;
}
