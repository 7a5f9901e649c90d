/* net_etc.c - /etc/hosts, /etc/hostname and /etc/resolv.conf for a container. */
#define _GNU_SOURCE
#include "net.h"

#include <string.h>

int net_write_etc_files(const char *dir, const char *hostname, const char *ip,
                        struct skiff_err **err)
{
  cleanup_free char *hosts
      = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s%s%s%s",
                  ip ? ip : "", ip ? "\t" : "", ip ? hostname : "", ip ? "\n" : "");
  cleanup_free char *hp = xasprintf("%s/hosts", dir);
  if (skiff_write_file(hp, hosts, strlen(hosts), 0644, err) < 0)
    return -1;
  cleanup_free char *hn = xasprintf("%s\n", hostname);
  cleanup_free char *hnp = xasprintf("%s/hostname", dir);
  if (skiff_write_file(hnp, hn, strlen(hn), 0644, err) < 0)
    return -1;
  /* the host's nameservers, except loopback ones: 127.0.0.53 in the host is not
     reachable from the container's network namespace */
  cleanup_free char *host = NULL;
  size_t cap = 256, used = 0;
  cleanup_free char *out = xzalloc(cap);
  if (skiff_read_file("/etc/resolv.conf", &host, NULL, NULL) == 0)
    {
      char *save = NULL;
      for (char *line = strtok_r(host, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        {
          if (strncmp(line, "nameserver", 10) == 0
              && (strstr(line, " 127.") || strstr(line, " ::1") || strstr(line, "\t127.")))
            continue;
          if (strncmp(line, "nameserver", 10) && strncmp(line, "search", 6)
              && strncmp(line, "options", 7))
            continue;
          size_t len = strlen(line);
          if (used + len + 2 > cap)
            out = xrealloc(out, cap = (used + len + 2) * 2);
          memcpy(out + used, line, len);
          used += len;
          out[used++] = '\n';
          out[used] = '\0';
        }
    }
  cleanup_free char *rp = xasprintf("%s/resolv.conf", dir);
  return skiff_write_file(rp, out, used, 0644, err);
}
