/* spec_json.h - typed access to config.json fields with errors that name the JSON path.
 *
 * Internal to spec.c, spec_linux.c and spec_gen.c; other modules read struct skiff_spec.
 * Every getter takes the parent object, the parent's path ("linux.resources") and the
 * key, and reports "linux.resources.memory.limit: expected an integer, got string".
 * JSON null counts as absent, as in Go's encoding/json that runc uses.  Getters return
 * 1 when the field is present, 0 when absent (and not required), -1 on error. */
#ifndef SKIFF_SPEC_JSON_H
#define SKIFF_SPEC_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "spec.h"

#define SPEC_PATH_MAX 256

static inline void spec_json_decrefp(json_t **j)
{
  if (*j)
    json_decref(*j);
}
#define cleanup_spec_json __attribute__((cleanup(spec_json_decrefp)))

/* "linux" + "namespaces" -> "linux.namespaces"; "" + "root" -> "root". */
const char *spec_json_key_path(char *buf, const char *parent, const char *key);
/* "linux.namespaces" + 2 -> "linux.namespaces[2]". buf holds SPEC_PATH_MAX bytes. */
const char *spec_json_index_path(char *buf, const char *parent, size_t index);

/* "path: message" in *err; returns -1. */
int spec_json_error(struct skiff_err **err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "path.key: message"; returns -1. */
int spec_json_key_error(struct skiff_err **err, const char *path, const char *key, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
/* "path: expected <what>, got <json type>"; returns -1. */
int spec_json_type_error(struct skiff_err **err, const char *path, const json_t *value,
                         const char *what);

/* Field lookup: *out is the value or NULL (absent / null). */
int spec_json_field(json_t *parent, const char *path, const char *key, bool required, json_t **out,
                    struct skiff_err **err);
int spec_json_object(json_t *parent, const char *path, const char *key, bool required, json_t **out,
                     struct skiff_err **err);
int spec_json_array(json_t *parent, const char *path, const char *key, bool required, json_t **out,
                    struct skiff_err **err);
/* *out is a malloc'd copy. */
int spec_json_string(json_t *parent, const char *path, const char *key, bool required, char **out,
                     struct skiff_err **err);
int spec_json_bool(json_t *parent, const char *path, const char *key, bool required, bool *out,
                   struct skiff_err **err);
/* Integer in [min, max]. */
int spec_json_int(json_t *parent, const char *path, const char *key, bool required, int64_t min,
                  int64_t max, int64_t *out, struct skiff_err **err);
/* Non-negative integer (jansson holds integers as int64, so at most INT64_MAX). */
int spec_json_uint(json_t *parent, const char *path, const char *key, bool required, uint64_t *out,
                   struct skiff_err **err);
/* Array of strings -> NULL-terminated vector.  nonempty: at least one element. */
int spec_json_strv(json_t *parent, const char *path, const char *key, bool required, bool nonempty,
                   char ***out, struct skiff_err **err);
/* Object of strings -> k0, v0, k1, v1, ..., NULL. */
int spec_json_string_map(json_t *parent, const char *path, const char *key, char ***out,
                         struct skiff_err **err);

/* A string that must be an absolute path; message "must be an absolute path". */
int spec_json_abs_path(json_t *parent, const char *path, const char *key, bool required, char **out,
                       struct skiff_err **err);

void spec_strv_free(char **v);
size_t spec_strv_len(char *const *v);

/* spec_linux.c: the "linux" object.  The caller frees *out with spec_linux_free even
 * after an error (a half-filled struct is always freeable). */
int spec_parse_linux(json_t *linux_obj, struct skiff_linux *out, struct skiff_err **err);
void spec_linux_free(struct skiff_linux *l);

/* Mount options spec.c translates (spec_gen.c lists them in the features document). */
const char *spec_mount_option_name(size_t i); /* NULL past the end */

#endif
