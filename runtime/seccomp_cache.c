/* seccomp_cache.c - compiled seccomp filters on disk (see seccomp_cache.h). */
#define _GNU_SOURCE
#include "seccomp_cache.h"
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include "digest.h"
#include <libseccomp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

char *seccomp_cache_key(const struct skiff_seccomp *profile)
{
  if (profile->canonical == NULL)
    return NULL;
  const struct scmp_version *v = seccomp_version();
  struct utsname u;
  uname(&u);
  cleanup_free char *salt = xasprintf("skiff-seccomp-1 %u.%u.%u %s %s\n", v->major, v->minor,
                                      v->micro, u.machine, u.release);
  struct digest_ctx *ctx = digest_new();
  digest_update(ctx, salt, strlen(salt));
  digest_update(ctx, profile->canonical, strlen(profile->canonical));
  char *hex = xmalloc(DIGEST_STR_LEN);
  digest_final(ctx, hex);
  digest_free(ctx);
  memmove(hex, hex + 7, strlen(hex + 7) + 1); /* the hex part names the file */
  return hex;
}

int seccomp_cache_load(const char *root, const char *key, void **bpf, size_t *len)
{
  cleanup_free char *path = xasprintf("%s/.seccomp/%s.bpf", root, key);
  char *buf = NULL;
  size_t n = 0;
  if (skiff_read_file(path, &buf, &n, NULL) < 0)
    return -1;
  /* a BPF program is a whole number of 8-byte instructions */
  if (n == 0 || n % 8 != 0)
    {
      free(buf);
      return -1;
    }
  *bpf = buf;
  *len = n;
  return 0;
}

void seccomp_cache_store(const char *root, const char *key, const struct skiff_seccomp *profile)
{
  cleanup_free char *dir = xasprintf("%s/.seccomp", root);
  if (skiff_mkdir_p(dir, 0700, NULL) < 0)
    return;
  cleanup_free char *path = xasprintf("%s/%s.bpf", dir, key);
  /* a fresh O_EXCL name, never a predictable one a planted symlink could redirect */
  cleanup_free char *tmp = xasprintf("%s.tmp.XXXXXX", path);
  cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return;
  if (seccomp_profile_export_bpf(profile, fd, NULL) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0)
    unlink(tmp);
}
