/* cloned_binary.h - run skiff from an executable the container cannot write (CVE-2019-5736).
 *
 * A process of the container can reach the binary of any skiff process that enters it
 * (the container init before its execve, the child of `skiff exec`, a `#!/proc/self/exe`
 * script) through /proc/PID/exe.  If that is the host's skiff file, a container root
 * holding it open can rewrite it once no skiff runs, and the next `skiff` on the host
 * runs the attacker's code.  cloned_binary_ensure() re-executes skiff through a handle
 * that cannot be written, so /proc/PID/exe of every skiff process that touches a
 * container is read-only:
 *
 *   1. a private read-only overlayfs over the binary's directory (runc#4448): a detached
 *      mount with two lower layers and no upper one, so no write can reach the lower
 *      file and no remount can make it writable; no copy, no memory;
 *   2. where that cannot be made (no overlayfs or fsopen, no privilege, an odd path), a
 *      sealed memfd copy of the binary (F_SEAL_SEAL/SHRINK/GROW/WRITE).
 *
 * Why the overlay first, and what neither stops (page-cache poisoning, runc#5272): see
 * tests/SECURITY.md, "CVE-2019-5736: overlay or copy". */
#ifndef SKIFF_CLONED_BINARY_H
#define SKIFF_CLONED_BINARY_H

#include "util.h"

/* The seals a memfd copy carries; a regular file can never have them. */
#define CLONED_BINARY_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

enum cloned_binary_kind
{
  CLONED_BINARY_NONE,    /* the host's file: not protected */
  CLONED_BINARY_OVERLAY, /* a file on a read-only overlayfs */
  CLONED_BINARY_MEMFD,   /* a sealed memfd copy */
};

/* What the running executable is (decided by the file itself, never by the environment:
 * a hook or a child inherits that), or -1 on error. */
int cloned_binary_kind(struct skiff_err **err);

/* Return 0 when the running executable is already protected; otherwise re-execute argv
 * through a protected handle (does not return on success), -1 on error.  lower_dir is
 * an existing directory, writable by root only, the overlay may use as its second
 * (dummy) lower layer; overlayfs refuses one inside the binary's directory or above it,
 * and then, as with NULL, the memfd copy is made. */
int cloned_binary_ensure(char **argv, const char *lower_dir, struct skiff_err **err);

#endif
