/* spec_json.c - typed getters for config.json fields whose errors name the JSON path
 * ("process.user.uid: expected an integer, got string").  Used by spec*.c only. */
#include "spec_json.h"

#include <stdarg.h>
#include <string.h>

/* A path longer than the buffer (only from absurdly nested or long keys) ends in "...". */
static const char *mark_truncated(char *buf, int n)
{
  if (n < 0 || n >= SPEC_PATH_MAX)
    strcpy(buf + SPEC_PATH_MAX - 4, "...");
  return buf;
}

const char *spec_json_key_path(char *buf, const char *parent, const char *key)
{
  if (parent == NULL || parent[0] == '\0')
    return mark_truncated(buf, snprintf(buf, SPEC_PATH_MAX, "%s", key));
  return mark_truncated(buf, snprintf(buf, SPEC_PATH_MAX, "%s.%s", parent, key));
}

const char *spec_json_index_path(char *buf, const char *parent, size_t index)
{
  return mark_truncated(buf, snprintf(buf, SPEC_PATH_MAX, "%s[%zu]", parent, index));
}

int spec_json_error(struct skiff_err **err, const char *path, const char *fmt, ...)
{
  va_list ap;
  char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    abort();
  va_end(ap);
  skiff_error(err, 0, "%s: %s", path, msg);
  free(msg);
  return -1;
}

int spec_json_key_error(struct skiff_err **err, const char *path, const char *key, const char *fmt,
                        ...)
{
  char p[SPEC_PATH_MAX];
  va_list ap;
  char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    abort();
  va_end(ap);
  skiff_error(err, 0, "%s: %s", spec_json_key_path(p, path, key), msg);
  free(msg);
  return -1;
}

static const char *type_name(const json_t *v)
{
  switch (json_typeof(v))
    {
      case JSON_OBJECT:
        return "object";
      case JSON_ARRAY:
        return "array";
      case JSON_STRING:
        return "string";
      case JSON_INTEGER:
        return "integer";
      case JSON_REAL:
        return "number";
      case JSON_TRUE:
      case JSON_FALSE:
        return "boolean";
      case JSON_NULL:
        return "null";
    }
  return "unknown";
}

int spec_json_type_error(struct skiff_err **err, const char *path, const json_t *value,
                         const char *what)
{
  return spec_json_error(err, path, "expected %s, got %s", what, type_name(value));
}

int spec_json_field(json_t *parent, const char *path, const char *key, bool required, json_t **out,
                    struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *v = parent ? json_object_get(parent, key) : NULL;
  if (v != NULL && json_is_null(v))
    v = NULL;
  *out = v;
  if (v == NULL && required)
    return spec_json_error(err, spec_json_key_path(p, path, key), "required");
  return v != NULL;
}

int spec_json_object(json_t *parent, const char *path, const char *key, bool required, json_t **out,
                     struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  int r = spec_json_field(parent, path, key, required, out, err);
  if (r > 0 && !json_is_object(*out))
    return spec_json_type_error(err, spec_json_key_path(p, path, key), *out, "an object");
  return r;
}

int spec_json_array(json_t *parent, const char *path, const char *key, bool required, json_t **out,
                    struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  int r = spec_json_field(parent, path, key, required, out, err);
  if (r > 0 && !json_is_array(*out))
    return spec_json_type_error(err, spec_json_key_path(p, path, key), *out, "an array");
  return r;
}

int spec_json_string(json_t *parent, const char *path, const char *key, bool required, char **out,
                     struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *v;
  int r = spec_json_field(parent, path, key, required, &v, err);
  if (r <= 0)
    return r;
  if (!json_is_string(v))
    return spec_json_type_error(err, spec_json_key_path(p, path, key), v, "a string");
  free(*out);
  *out = xstrdup(json_string_value(v));
  return 1;
}

int spec_json_bool(json_t *parent, const char *path, const char *key, bool required, bool *out,
                   struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *v;
  int r = spec_json_field(parent, path, key, required, &v, err);
  if (r <= 0)
    return r;
  if (!json_is_boolean(v))
    return spec_json_type_error(err, spec_json_key_path(p, path, key), v, "a boolean");
  *out = json_is_true(v);
  return 1;
}

int spec_json_int(json_t *parent, const char *path, const char *key, bool required, int64_t min,
                  int64_t max, int64_t *out, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *v;
  int r = spec_json_field(parent, path, key, required, &v, err);
  if (r <= 0)
    return r;
  if (!json_is_integer(v))
    return spec_json_type_error(err, spec_json_key_path(p, path, key), v, "an integer");
  int64_t n = json_integer_value(v);
  if (n < min || n > max)
    return spec_json_error(err, spec_json_key_path(p, path, key),
                           "%lld is out of range [%lld, %lld]", (long long)n, (long long)min,
                           (long long)max);
  *out = n;
  return 1;
}

int spec_json_uint(json_t *parent, const char *path, const char *key, bool required, uint64_t *out,
                   struct skiff_err **err)
{
  int64_t n = 0;
  int r = spec_json_int(parent, path, key, required, 0, INT64_MAX, &n, err);
  if (r > 0)
    *out = (uint64_t)n;
  return r;
}

static int strv_from_array(json_t *arr, const char *path, bool nonempty, char ***out,
                           struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  size_t n = json_array_size(arr);
  if (nonempty && n == 0)
    return spec_json_error(err, path, "expected a non-empty array of strings");
  char **v = xzalloc((n + 1) * sizeof(char *));
  for (size_t i = 0; i < n; i++)
    {
      json_t *s = json_array_get(arr, i);
      if (!json_is_string(s))
        {
          spec_strv_free(v);
          if (nonempty)
            return spec_json_error(err, path, "expected a non-empty array of strings");
          return spec_json_type_error(err, spec_json_index_path(p, path, i), s, "a string");
        }
      v[i] = xstrdup(json_string_value(s));
    }
  spec_strv_free(*out);
  *out = v;
  return 1;
}

int spec_json_strv(json_t *parent, const char *path, const char *key, bool required, bool nonempty,
                   char ***out, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *v;
  int r = spec_json_field(parent, path, key, required, &v, err);
  if (r <= 0)
    return r;
  spec_json_key_path(p, path, key);
  if (!json_is_array(v))
    {
      if (nonempty)
        return spec_json_error(err, p, "expected a non-empty array of strings");
      return spec_json_type_error(err, p, v, "an array of strings");
    }
  return strv_from_array(v, p, nonempty, out, err);
}

int spec_json_string_map(json_t *parent, const char *path, const char *key, char ***out,
                         struct skiff_err **err)
{
  char p[SPEC_PATH_MAX], q[SPEC_PATH_MAX];
  json_t *obj;
  int r = spec_json_object(parent, path, key, false, &obj, err);
  if (r <= 0)
    return r;
  spec_json_key_path(p, path, key);
  size_t n = json_object_size(obj), i = 0;
  char **v = xzalloc((2 * n + 1) * sizeof(char *));
  const char *k;
  json_t *val;
  json_object_foreach(obj, k, val)
  {
    if (!json_is_string(val))
      {
        spec_strv_free(v);
        return spec_json_type_error(err, spec_json_key_path(q, p, k), val, "a string");
      }
    v[i++] = xstrdup(k);
    v[i++] = xstrdup(json_string_value(val));
  }
  spec_strv_free(*out);
  *out = v;
  return 1;
}

int spec_json_abs_path(json_t *parent, const char *path, const char *key, bool required, char **out,
                       struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  int r = spec_json_string(parent, path, key, required, out, err);
  if (r > 0 && (*out)[0] != '/')
    return spec_json_error(err, spec_json_key_path(p, path, key), "must be an absolute path");
  return r;
}

void spec_strv_free(char **v)
{
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

size_t spec_strv_len(char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}
