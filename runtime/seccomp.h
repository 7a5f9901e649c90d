/* seccomp.h - the OCI seccomp section applied with libseccomp, and Docker's default
 * profile as data (used by `skiff spec` and by `skiff run IMAGE`). */
#ifndef SKIFF_SECCOMP_H
#define SKIFF_SECCOMP_H

#include <jansson.h>
#include "spec.h"

/* Compile the profile and load it into the calling thread (SECCOMP_FILTER_FLAG_TSYNC not
 * needed: the init is single threaded).  Unknown syscall names are skipped, as runc does
 * (a profile may name syscalls this kernel/arch does not have); unknown architectures and
 * actions are errors.  Must be called after no_new_privs, or while CAP_SYS_ADMIN is held. */
int seccomp_apply(const struct skiff_seccomp *profile, struct skiff_err **err);

/* Compile to BPF and write it to fd (for a cache of compiled filters); and load a
 * filter previously exported.  Both optional speedups used by container.c.
 * (Named seccomp_profile_export_bpf: libseccomp itself exports `seccomp_export_bpf`, and
 * a second definition would interpose on it.) */
int seccomp_profile_export_bpf(const struct skiff_seccomp *profile, int fd, struct skiff_err **err);
int seccomp_load_bpf(const void *bpf, size_t len, struct skiff_err **err);

/* Docker's default profile as the OCI "linux.seccomp" JSON object (new reference):
 * defaultAction SCMP_ACT_ERRNO (EPERM), an allow-list, and the Docker rules for syscalls
 * allowed only with capabilities (mount, umount2, unshare, setns... only with
 * CAP_SYS_ADMIN), clone without namespace flags, socket() without AF_VSOCK, personality
 * values.  caps: the capability names the container will hold (decides the
 * capability-gated rules, as Docker does); NULL means Docker's 14 defaults. */
json_t *seccomp_default_profile(const char *const *caps);

/* Additions (seccomp.c / seccomp_profile.c). */

/* Compile without loading: the checks seccomp_apply makes, for use before the fork. */
int seccomp_validate(const struct skiff_seccomp *profile, struct skiff_err **err);
/* The seccomp(2) flags (SECCOMP_FILTER_FLAG_*) the profile asks for, to load a cached
 * program with the same behaviour: seccomp_load_bpf_flags (bpf, len, flags, err). */
int seccomp_kernel_flags(const struct skiff_seccomp *profile, unsigned *flags,
                         struct skiff_err **err);
int seccomp_load_bpf_flags(const void *bpf, size_t len, unsigned flags, struct skiff_err **err);

/* Name tables shared with spec.c: "SCMP_ACT_ERRNO" <-> SKIFF_SECCOMP_ERRNO,
 * "SCMP_CMP_MASKED_EQ" <-> SKIFF_OP_MASKED_EQ; -1 / NULL when unknown. */
int seccomp_action_from_name(const char *name);
const char *seccomp_action_name(enum skiff_seccomp_action action);
int seccomp_op_from_name(const char *name);
const char *seccomp_op_name(enum skiff_seccomp_op op);
bool seccomp_arch_known(const char *name); /* "SCMP_ARCH_X86_64" */
bool seccomp_flag_known(const char *name); /* "SECCOMP_FILTER_FLAG_LOG" */

/* Docker's default profile as a struct (what seccomp_default_profile returns as JSON),
 * for callers that have no config.json (skiff run IMAGE); free with seccomp_profile_free.
 * kernel_major/minor decide the minKernel rules (ptrace needs 4.8); 0, 0 = this kernel. */
struct skiff_seccomp *seccomp_default_profile_struct(const char *const *caps, unsigned kernel_major,
                                                     unsigned kernel_minor);
void seccomp_profile_free(struct skiff_seccomp *profile);
/* Any profile as the OCI "linux.seccomp" JSON object (new reference). */
json_t *seccomp_profile_to_json(const struct skiff_seccomp *profile);

#endif
