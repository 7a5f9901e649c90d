/* digest.h - sha256 content digests in the OCI form "sha256:<64 lowercase hex>"
 * (sha256.c), for the image store's content addressing and verification. */
#ifndef SKIFF_DIGEST_H
#define SKIFF_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

/* "sha256:" + 64 hex + NUL */
#define DIGEST_STR_LEN 72

struct digest_ctx;

struct digest_ctx *digest_new(void);
void digest_update(struct digest_ctx *ctx, const void *buf, size_t len);
/* Writes "sha256:<hex>" to out; the context may not be updated afterwards. */
void digest_final(struct digest_ctx *ctx, char out[DIGEST_STR_LEN]);
void digest_free(struct digest_ctx *ctx);

void digest_buffer(const void *buf, size_t len, char out[DIGEST_STR_LEN]);

/* A digest hashed by a thread beside its producer (digest_pipe.c).  In turn: take a buffer
 * (digest_pipe_buffer: DIGEST_PIPE_BUF bytes; waits while the ring is full), fill it, hand
 * it over with its length (digest_pipe_commit, 0 < len <= DIGEST_PIPE_BUF).  A buffer
 * handed over may still be read until the next-but-two digest_pipe_buffer.  final waits
 * for the thread; the pipe may not be used afterwards except to free it. */
#define DIGEST_PIPE_BUF (64 * 1024) /* 256 KiB measured no faster, 4x the memory */
struct digest_pipe;
struct digest_pipe *digest_pipe_new(void);
void *digest_pipe_buffer(struct digest_pipe *p);
void digest_pipe_commit(struct digest_pipe *p, size_t len);
void digest_pipe_final(struct digest_pipe *p, char out[DIGEST_STR_LEN]);
void digest_pipe_free(struct digest_pipe *p);
/* Digest of everything readable from fd (from its current offset); *size (may be NULL)
 * gets the byte count. */
int digest_fd(int fd, char out[DIGEST_STR_LEN], long long *size, struct skiff_err **err);

/* "sha256:" followed by exactly 64 lowercase hex digits.  Pure. */
bool digest_valid(const char *d);
/* The hex part of a valid digest. */
static inline const char *digest_hex(const char *d)
{
  return d + 7;
}

#endif
