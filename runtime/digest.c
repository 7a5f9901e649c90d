/* digest.c - sha256 digests through OpenSSL's EVP interface. */
#define _GNU_SOURCE
#include "digest.h"

#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

struct digest_ctx
{
  EVP_MD_CTX *md;
};

struct digest_ctx *digest_new(void)
{
  struct digest_ctx *ctx = xzalloc(sizeof(*ctx));
  ctx->md = EVP_MD_CTX_new();
  if (ctx->md == NULL || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1)
    abort(); /* only allocation failure can make sha256 initialisation fail */
  return ctx;
}

void digest_update(struct digest_ctx *ctx, const void *buf, size_t len)
{
  if (len > 0 && EVP_DigestUpdate(ctx->md, buf, len) != 1)
    abort();
}

void digest_final(struct digest_ctx *ctx, char out[DIGEST_STR_LEN])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  static const char hex[] = "0123456789abcdef";
  if (EVP_DigestFinal_ex(ctx->md, md, &n) != 1 || n != 32)
    abort();
  memcpy(out, "sha256:", 7);
  for (unsigned int i = 0; i < n; i++)
    {
      out[7 + 2 * i] = hex[md[i] >> 4];
      out[8 + 2 * i] = hex[md[i] & 0xf];
    }
  out[7 + 2 * n] = '\0';
}

void digest_free(struct digest_ctx *ctx)
{
  if (ctx == NULL)
    return;
  EVP_MD_CTX_free(ctx->md);
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
