/* ns.h - namespaces: the static table of kinds, clone flags from the spec, joining
 * namespaces by path or by pid (exec), and writing uid/gid maps. */
#ifndef SKIFF_NS_H
#define SKIFF_NS_H

#include <sys/types.h>
#include "spec.h"

/* CLONE_NEW* flags for the namespaces the spec asks to create (no path).  The cgroup
 * namespace is left out: the init unshares it after it joined its cgroup. */
int ns_clone_flags(const struct skiff_spec *spec);

/* setns() into every namespace of the spec that has a path, in a safe order (user
 * first), skipping the kinds in skip_mask (CLONE_NEW* bits). */
int ns_join_spec_paths(const struct skiff_spec *spec, int skip_mask, struct skiff_err **err);

/* Join the namespaces of a running process (for exec): those in flags (CLONE_NEW*) that
 * differ from ours.  The pid namespace applies to our children. */
int ns_join_pid(pid_t pid, int flags, struct skiff_err **err);

/* Write /proc/<pid>/uid_map and gid_map from the spec (setgroups left allowed: the
 * writer is root in the parent namespace). */
int ns_write_id_maps(pid_t pid, const struct skiff_spec *spec, struct skiff_err **err);

/* Pure: format a map as the kernel wants it ("0 1000 1\n..."), malloc'd. */
char *ns_format_id_map(const struct skiff_idmap *maps, size_t n);

#endif
