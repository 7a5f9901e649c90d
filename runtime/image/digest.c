/* digest.c - sha256 digests in the OCI form, over sha256.c. */
#define _GNU_SOURCE
#include "digest.h"

#include <errno.h>
#include <string.h>
#include "sha256.h"

struct digest_ctx
{
  struct sha256 s;
};

struct digest_ctx *digest_new(void)
{
  struct digest_ctx *ctx = xzalloc(sizeof(*ctx));
  sha256_init(&ctx->s);
  return ctx;
}

void digest_update(struct digest_ctx *ctx, const void *buf, size_t len)
{
  sha256_update(&ctx->s, buf, len);
}

void digest_final(struct digest_ctx *ctx, char out[DIGEST_STR_LEN])
{
  unsigned char md[32];
  static const char hex[] = "0123456789abcdef";
  sha256_final(&ctx->s, md);
  memcpy(out, "sha256:", 7);
  for (unsigned int i = 0; i < 32; i++)
    {
      out[7 + 2 * i] = hex[md[i] >> 4];
      out[8 + 2 * i] = hex[md[i] & 0xf];
    }
  out[7 + 64] = '\0';
}

void digest_free(struct digest_ctx *ctx)
{
  free(ctx);
}

void digest_buffer(const void *buf, size_t len, char out[DIGEST_STR_LEN])
{
  struct digest_ctx *ctx = digest_new();
  digest_update(ctx, buf, len);
  digest_final(ctx, out);
  digest_free(ctx);
}

int digest_fd(int fd, char out[DIGEST_STR_LEN], long long *size, struct skiff_err **err)
{
  struct digest_ctx *ctx = digest_new();
  char buf[65536];
  long long total = 0;
  for (;;)
    {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          digest_free(ctx);
          return skiff_error(err, e, "read");
        }
      if (n == 0)
        break;
      digest_update(ctx, buf, (size_t)n);
      total += n;
    }
  digest_final(ctx, out);
  digest_free(ctx);
  if (size)
    *size = total;
  return 0;
}

bool digest_valid(const char *d)
{
  if (d == NULL || strncmp(d, "sha256:", 7) != 0)
    return false;
  size_t i = 0;
  for (; d[7 + i]; i++)
    if (!((d[7 + i] >= '0' && d[7 + i] <= '9') || (d[7 + i] >= 'a' && d[7 + i] <= 'f')))
      return false;
  return i == 64;
}
