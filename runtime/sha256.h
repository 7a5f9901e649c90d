/* sha256.h - SHA-256 (FIPS 180-4), small and dependency free: linking OpenSSL for one hash
 * cost every container start ~2 MB of memory and its library initialisation. */
#ifndef SKIFF_SHA256_H
#define SKIFF_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sha256
{
  uint32_t h[8];
  uint64_t len; /* bytes hashed so far */
  unsigned char buf[64];
  size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[32]);

/* Whether the CPU's SHA extensions do the rounds (x86-64, detected once). */
bool sha256_accelerated(void);
/* Tests: false forces the portable rounds, true detects again. */
void sha256_use_accel(bool on);

#endif
