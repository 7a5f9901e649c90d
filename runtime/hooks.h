/* hooks.h - OCI hooks: run each hook of a kind with the container state JSON on stdin. */
#ifndef SKIFF_HOOKS_H
#define SKIFF_HOOKS_H

#include "spec.h"

/* Run the hooks of `kind` in order; the first failing one (non-zero exit, signal,
 * timeout, exec failure) stops the run with an error naming the hook kind and path.
 * state_json goes to each hook's stdin. */
int hooks_run(const struct skiff_spec *spec, enum skiff_hook_kind kind, const char *state_json,
              struct skiff_err **err);

#endif
