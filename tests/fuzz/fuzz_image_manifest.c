/* fuzz_image_manifest.c - libFuzzer harness for what the image store parses from an
 * archive: manifests, image configs' rootfs.diff_ids, image references.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE= -Iruntime \
 *     tests/fuzz/fuzz_image_manifest.c runtime/image/*.c runtime/util/util.c \
 *     -ljansson -larchive -lcrypto -o build/fuzz_image_manifest
 *   build/fuzz_image_manifest tests/fuzz/corpus/image_manifest
 *
 * Any input either parses into values the store relies on (valid sha256 digests, known
 * layer media types, at least one layer; a name and a tag) or fails with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void need_error(struct skiff_err **err)
{
  if (*err == NULL || (*err)->msg == NULL || (*err)->msg[0] == '\0')
    abort();
  skiff_err_free(err);
}

/* A path component that is exactly "..". */
static bool has_dotdot(const char *p)
{
  for (const char *c = p; *c;)
    {
      size_t n = strcspn(c, "/");
      if (n == 2 && c[0] == '.' && c[1] == '.')
        return true;
      c += n;
      if (*c == '/')
        c++;
    }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct skiff_err *err = NULL;
  struct image_manifest m;
  if (image_manifest_parse((const char *)data, size, &m, &err) == 0)
    {
      if (!digest_valid(m.config_digest) || m.n_layers == 0)
        abort();
      for (size_t i = 0; i < m.n_layers; i++)
        if (!digest_valid(m.layer_digests[i]) || !image_layer_media_type_ok(m.layer_media_types[i])
            || m.layer_sizes[i] < 0)
          abort();
      image_manifest_clear(&m);
    }
  else
    need_error(&err);

  char **ids = NULL;
  if (image_config_diff_ids((const char *)data, size, &ids, &err) == 0)
    {
      for (size_t i = 0; ids[i]; i++)
        {
          if (!digest_valid(ids[i]))
            abort();
          free(ids[i]);
        }
      free(ids);
    }
  else
    need_error(&err);

  char *ref = strndup((const char *)data, size < 300 ? size : 300);
  char *name = NULL, *tag = NULL;
  if (image_parse_ref(ref, &name, &tag, &err) == 0)
    {
      /* a ':' only in a registry host (before the first '/') */
      const char *slash = strchr(name, '/');
      if (name[0] == '\0' || tag[0] == '\0' || strchr(slash ? slash : name, ':')
          || strchr(tag, '/'))
        abort();
      free(name);
      free(tag);
    }
  else
    need_error(&err);
  free(ref);

  char *clean = NULL;
  if (image_layer_clean_path(ref = strndup((const char *)data, size < 300 ? size : 300), &clean,
                             &err)
      == 0)
    {
      if (clean[0] == '/' || has_dotdot(clean))
        abort();
      free(clean);
    }
  else
    need_error(&err);
  free(ref);
  return 0;
}
