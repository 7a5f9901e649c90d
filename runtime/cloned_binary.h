/* cloned_binary.h - run skiff from a sealed in-memory copy of itself (CVE-2019-5736).
 *
 * A process of the container can reach the binary of any skiff process that enters it
 * (the container init before its execve, the child of `skiff exec`, a `#!/proc/self/exe`
 * script) through /proc/PID/exe.  If that is the host's skiff file, a container root
 * holding it open can rewrite it once no skiff runs, and the next `skiff` on the host
 * runs the attacker's code.  cloned_binary_ensure() copies /proc/self/exe into a memfd,
 * seals it against every change and re-executes from it, so /proc/PID/exe of every
 * skiff process that touches a container is a read-only anonymous file. */
#ifndef SKIFF_CLONED_BINARY_H
#define SKIFF_CLONED_BINARY_H

#include "util.h"

/* The seals a cloned binary carries; a regular file can never have them. */
#define CLONED_BINARY_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* 1 if the running executable is the sealed copy, 0 if not, -1 on error. */
int cloned_binary_is_sealed(struct skiff_err **err);

/* Return 0 when already running from the sealed copy; otherwise make one and fexecve it
 * with the same argv and environment (does not return on success).  -1 on error. */
int cloned_binary_ensure(int argc, char **argv, struct skiff_err **err);

#endif
