/* seccomp_cache.h - compiled seccomp filters kept on disk, keyed by the profile.
 *
 * Compiling Docker's profile with libseccomp costs ~20 ms per container start; the
 * BPF it produces depends only on the profile text, the architecture and the
 * libseccomp version.  The first container with a profile compiles it in its init as
 * usual, and its monitor (idle at that point) stores the BPF in
 * <root>/.seccomp/<sha256>.bpf; later containers load that BPF directly. */
#ifndef SKIFF_SECCOMP_CACHE_H
#define SKIFF_SECCOMP_CACHE_H

#include <stddef.h>
#include "spec.h"

/* Hex key for a parsed profile (its canonical JSON, the libseccomp version, the arch and
 * the kernel), or NULL when the profile has no canonical text. */
char *seccomp_cache_key(const struct skiff_seccomp *profile);
/* Read a cached filter; 0 and *bpf malloc'd, or -1 when absent or unreadable. */
int seccomp_cache_load(const char *root, const char *key, void **bpf, size_t *len);
/* Compile and store (best effort, atomic rename). */
void seccomp_cache_store(const char *root, const char *key, const struct skiff_seccomp *profile);

#endif
