/* nodeipam.h - the podCIDR of a registering node: Kubernetes' node IPAM controller (range
 * allocator), done inside the registration request so the answer carries the node's subnet.
 * The decision is cidr_assign() (../core/cidr.h); this part feeds it the other nodes of the
 * view and writes the result into the node object, which the store keeps across restarts. */
#ifndef SKIFF_NODEIPAM_H
#define SKIFF_NODEIPAM_H

#include <jansson.h>
#include "cidr.h"
#include "recorder.h"
#include "view.h"

/* Set obj's "podCIDR" for node `name` registering with the normalized body reg (old: the
 * stored node or NULL; pool NULL: no allocation).  Returns 0, or the HTTP status to answer
 * (400, 409) with *err.  An exhausted pool registers the node with podCIDR "" and records a
 * CIDRNotAvailable event. */
int nodeipam_assign(const struct cidr_pool *pool, struct view *v, struct recorder *events,
                    const char *name, json_t *reg, json_t *old, json_t *obj,
                    struct skiff_err **err);

#endif
