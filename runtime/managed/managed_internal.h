/* managed_internal.h - what the files of runtime/managed/ share: the data dir of a
 * container, its meta.json, its annotations. */
#ifndef SKIFF_MANAGED_INTERNAL_H
#define SKIFF_MANAGED_INTERNAL_H

#include <jansson.h>
#include "managed.h"

/* The value of an annotation (k0, v0, ... list), or NULL. */
const char *managed_annotation(char **kv, const char *key);
/* <dir>/meta.json parsed, or NULL. */
json_t *managed_load_meta(const char *dir);
/* The data dir of a container: from its state's annotation, else <store>/containers/NAME;
 * "no such container" when neither exists. */
int managed_data_dir(const char *state_root, const char *store, const char *name, char **dir,
                     struct skiff_err **err);

#endif
