/* fuzz_parse.c - libFuzzer harness for the small parsers of outside input:
 * skiff_parse_signal (`skiff kill ID SIGNAL`) and skiff_parse_size (sizes in flags and
 * specs: "64m", "1.5G", "512Ki").
 *
 * The input is one string; both parsers see it.  Either they succeed with a value in
 * range or fail with a message; never crash, leak or overflow (UBSan catches signed
 * overflow in the size arithmetic). */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';

  struct skiff_err *err = NULL;
  int sig = -1;
  if (skiff_parse_signal(s, &sig, &err) == 0)
    {
      if (sig <= 0 || sig >= _NSIG)
        abort();
      const char *name = skiff_signal_name(sig);
      if (name != NULL && name[0] == '\0')
        abort();
    }
  else
    {
      if (err == NULL || err->msg == NULL || err->msg[0] == '\0')
        abort();
      skiff_err_free(&err);
    }

  long long bytes = -1;
  if (skiff_parse_size(s, &bytes, &err) == 0)
    {
      if (bytes < 0)
        abort();
    }
  else
    {
      if (err == NULL || err->msg == NULL || err->msg[0] == '\0')
        abort();
      skiff_err_free(&err);
    }
  free(s);
  return 0;
}
