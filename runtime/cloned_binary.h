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
 * No re-exec is needed when the host's file itself cannot be written: `make install`
 * marks the installed skiff immutable (chattr +i), and no process, root included, can
 * write, truncate, rename or link it while the flag is set.  Only a holder of
 * CAP_LINUX_IMMUTABLE in the host's user namespace can clear the flag, so a create or
 * run whose config grants that capability still re-executes (cloned_binary_defer()):
 * the decision waits for the config, before anything of the container is made.
 *
 * Why the overlay first, and what neither stops (page-cache poisoning, runc#5272): see
 * tests/SECURITY.md, "CVE-2019-5736: overlay or copy". */
#ifndef SKIFF_CLONED_BINARY_H
#define SKIFF_CLONED_BINARY_H

#include "util.h"

#include <stdbool.h>

/* The seals a memfd copy carries; a regular file can never have them. */
#define CLONED_BINARY_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

enum cloned_binary_kind
{
  CLONED_BINARY_NONE,      /* the host's file: not protected */
  CLONED_BINARY_OVERLAY,   /* a file on a read-only overlayfs */
  CLONED_BINARY_MEMFD,     /* a sealed memfd copy */
  CLONED_BINARY_IMMUTABLE, /* the host's file, immutable: protected unless the container
                              holds CAP_LINUX_IMMUTABLE (cloned_binary_defer) */
};

struct skiff_process;

/* What the running executable is (decided by the file itself, never by the environment:
 * a hook or a child inherits that), or -1 on error. */
int cloned_binary_kind(struct skiff_err **err);

/* True when the kind is a handle made by a re-exec (overlay or copy). */
bool cloned_binary_reexecuted(int kind);

/* Return 0 when the running executable is already protected (an immutable file counts
 * only with immutable_enough); otherwise re-execute argv through a protected handle
 * (does not return on success), -1 on error.  lower_dir is an existing directory,
 * writable by root only, the overlay may use as its second (dummy) lower layer;
 * overlayfs refuses one inside the binary's directory or above it, and then, as with
 * NULL, the memfd copy is made. */
int cloned_binary_ensure(char **argv, const char *lower_dir, bool immutable_enough,
                         struct skiff_err **err);

/* For create and run of an immutable binary: keep argv and lower_dir (borrowed: they
 * must outlive the verb) so cloned_binary_check_process() can still re-execute once
 * the container's process is known.  Nothing happens until then. */
void cloned_binary_defer(char **argv, const char *lower_dir);

/* Whether the process could clear the immutable flag of a file it reaches: it may hold
 * CAP_LINUX_IMMUTABLE (in any of its sets, or no capabilities given: all of root's are
 * kept).  A user namespace would confine the capability; not counted (the answer only
 * errs towards the re-exec). */
bool cloned_binary_may_unlock(const struct skiff_process *p);

/* With a deferred decision (cloned_binary_defer) and a process that may unlock the
 * file, re-execute through the overlay or the copy now (does not return on success);
 * otherwise 0.  Called before anything of the container is made. */
int cloned_binary_check_process(const struct skiff_process *p, struct skiff_err **err);

#endif
