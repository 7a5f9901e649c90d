/* fuzz_model.c - libFuzzer harness for the orchestrator's desired-state parser and API
 * request bodies (orchestrator/core/model.h): `skiffctl apply` documents (one Service or an
 * array), PUT /services/NAME bodies, node registration and agent status reports.
 *
 * The first byte picks the parser, the rest is the JSON body.  Each parser must accept
 * with a normalized object that survives re-serialization, or fail with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int rc, struct skiff_err **err)
{
  if (rc < 0)
    {
      if (*err == NULL || (*err)->msg == NULL || (*err)->msg[0] == '\0')
        abort();
      skiff_err_free(err);
    }
  else if (*err != NULL)
    abort();
}

/* A parsed object must serialize (no NaN, no cycles). */
static void check_dump(json_t *v)
{
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (s == NULL)
    abort();
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  unsigned which = data[0] % 4;
  json_error_t jerr;
  json_t *doc = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, &jerr);
  if (doc == NULL)
    return 0;
  struct skiff_err *err = NULL;
  json_t *out = NULL;
  int rc;
  switch (which)
    {
      case 0:
        {
          int64_t *revs = NULL;
          rc = model_apply_parse(doc, &out, &revs, &err);
          if (rc == 0)
            {
              if (!json_is_array(out))
                abort();
              for (size_t i = 0; i < json_array_size(out); i++)
                {
                  json_t *tmpl = model_service_template(json_array_get(out, i));
                  check_dump(tmpl);
                  json_decref(tmpl);
                }
            }
          free(revs);
          break;
        }
      case 1:
        {
          int64_t rev = 0;
          rc = model_service_parse(doc, "service", &out, &rev, &err);
          if (rc == 0)
            {
              if (!model_name_valid(model_str(out, "name", ""), MODEL_NAME_MAX))
                abort();
              (void)model_memory_bytes(json_object_get(out, "memory"));
              (void)model_cpu_milli(json_object_get(out, "cpu"));
            }
          break;
        }
      case 2:
        rc = model_node_parse(doc, &out, &err);
        break;
      default:
        rc = model_status_parse(doc, &err);
        break;
    }
  check_err(rc, &err);
  if (out)
    {
      check_dump(out);
      json_decref(out);
    }
  json_decref(doc);
  return 0;
}
