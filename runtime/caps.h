/* caps.h - identity and privileges of the container process: capability sets (libcap),
 * user/groups switch, no_new_privs.  util-linux style static table of cap names. */
#ifndef SKIFF_CAPS_H
#define SKIFF_CAPS_H

#include "spec.h"

/* Docker's 14 default capabilities, NULL-terminated ("CAP_CHOWN", ...). */
extern const char *const caps_docker_default[];

/* "CAP_SYS_ADMIN" -> 21; -1 if unknown (case-insensitive, "CAP_" prefix required). */
int caps_from_name(const char *name);

/* Validate that every name in every set is a capability this libcap knows. */
int caps_validate(const struct skiff_caps *caps, struct skiff_err **err);

/* Apply the process identity and privileges, in the order runc uses:
 *   1. drop every capability not in caps.bounding from the bounding set;
 *   2. PR_SET_KEEPCAPS, setgroups(additionalGids), setresgid, setresuid (user.uid/gid);
 *   3. set effective, permitted, inheritable (inheritable empty unless listed:
 *      CVE-2022-29162), then raise ambient;
 *   4. no_new_privs when proc->no_new_privileges.
 * If proc->has_caps is false the capability sets are left as they are (only the
 * identity switch happens).  Called in the container init just before exec. */
int caps_apply_process(const struct skiff_process *proc, struct skiff_err **err);

/* The ambient capabilities of caps that the kernel will not raise (each must be both
 * permitted and inheritable), as "CAP_KILL, CAP_NET_BIND_SERVICE" (malloc'd), or NULL
 * when there are none.  caps_apply_process leaves them out: runc and crun warn and run
 * such a config (`runc spec` writes one), and so does create. */
char *caps_unraisable_ambient(const struct skiff_caps *caps);

/* Additions. */
/* 21 -> "CAP_SYS_ADMIN"; NULL if unknown. */
const char *caps_name(int cap);
/* A NULL-terminated list of names as a bit mask (bit n = capability n). */
int caps_mask(char *const *names, uint64_t *mask, struct skiff_err **err);

#endif
