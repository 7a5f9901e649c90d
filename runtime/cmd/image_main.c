/* image_main.c - skiff-image: the image verbs (`skiff image ...`, `skiff images`, `skiff pull`,
 * `skiff push`) as their own binary; skiff execs it.  Prints errors like skiff does. */
#define _GNU_SOURCE
#include "cmd.h"
#include "trace.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct
{
  const char *name;
  cmd_fn fn;
} verbs[] = {
    {"image", cmd_image},
    {"images", cmd_images},
    {"pull", cmd_pull},
    {"push", cmd_push},
};

/* The verb is done and its files are closed, renamed and synced: exit without running the
 * libraries' exit handlers and destructors (OpenSSL's, GnuTLS's, p11-kit's and the other
 * libraries libcurl brings, ~2 ms of a warm `skiff pull`, measured).  The sanitizer build
 * exits normally: LeakSanitizer runs at exit. */
static int image_main_exit(int rc)
{
#if defined(__SANITIZE_ADDRESS__)
  return rc;
#else
  fflush(NULL);
  _exit(rc);
#endif
}

int main(int argc, char **argv)
{
  skiff_trace_open(getenv("SKIFF_TRACE"));
  SKIFF_TRACE("skiff-image: main");
  struct cmd_global g = {.root = "/run/skiff"};
  for (size_t v = 0; argc >= 2 && v < sizeof(verbs) / sizeof(verbs[0]); v++)
    {
      if (strcmp(argv[1], verbs[v].name) != 0)
        continue;
      struct skiff_err *err = NULL;
      optind = 0;
      opterr = 0; /* bad flags are reported in the verb's one line */
      int rc = verbs[v].fn(&g, argc - 1, argv + 1, &err);
      SKIFF_TRACE("skiff-image: verb done");
      if (err)
        {
          /* pull and push errors start with "pull REF: " already */
          bool named = verbs[v].fn == cmd_pull || verbs[v].fn == cmd_push;
          fprintf(stderr, "skiff%s%s: %s\n", named ? "" : " ", named ? "" : argv[1], err->msg);
          skiff_err_free(&err);
          return rc ? rc : 1;
        }
      return image_main_exit(rc);
    }
  fprintf(stderr, "usage: skiff-image image VERB ... | images | pull REF | push NAME REF\n");
  return 2;
}
