/* fuzz_spec.c - libFuzzer harness for the config.json parser (outside input).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iruntime \
 *     tests/fuzz/fuzz_spec.c runtime/spec*.c runtime/util/util.c runtime/caps.c \
 *     runtime/seccomp*.c -ljansson -lcap -lseccomp -o build/fuzz_spec
 *   build/fuzz_spec tests/fuzz/corpus/spec
 *
 * Any input must either parse into a struct that spec_free releases completely, or fail
 * with a message; never crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct skiff_spec *spec = NULL;
  struct skiff_err *err = NULL;
  if (spec_parse((const char *)data, size, &spec, &err) == 0)
    {
      /* A parsed spec must satisfy what the rest of skiff relies on. */
      if (spec->root_path == NULL || spec->oci_version == NULL)
        abort();
      if (spec->has_process
          && (spec->process.args == NULL || spec->process.args[0] == NULL
              || spec->process.cwd == NULL || spec->process.cwd[0] != '/'))
        abort();
      for (size_t i = 0; i < spec->n_mounts; i++)
        if (spec->mounts[i].destination[0] != '/')
          abort();
      spec_free(spec);
    }
  else
    {
      if (err == NULL || err->msg == NULL || err->msg[0] == '\0')
        abort();
      skiff_err_free(&err);
    }
  return 0;
}
