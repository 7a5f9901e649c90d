/* image_libarchive.c - libarchive loaded on first use (image_libarchive.h): dlopen of its
 * soname and a dlsym per function the image store calls, once per process (lazylib.h). */
#define _GNU_SOURCE
#define IMAGE_LIBARCHIVE_IMPL
#include "image_libarchive.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "lazylib.h"

/* the soname libarchive 3.x has kept since 3.0 (libarchive.so.13) */
static struct lazylib lib = LAZYLIB_INIT("libarchive.so.13");
static struct image_libarchive table;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[sizeof(lib.error)];

static void load(void)
{
  struct image_libarchive t;
#define IMAGE_LIBARCHIVE_SYM(f)                                                                    \
  if ((*(void **)&t.f = lazylib_sym(&lib, #f)) == NULL)                                            \
    {                                                                                              \
      snprintf(load_error, sizeof(load_error), "%s", lib.error);                                   \
      return;                                                                                      \
    }
  IMAGE_LIBARCHIVE_FUNCS(IMAGE_LIBARCHIVE_SYM)
#undef IMAGE_LIBARCHIVE_SYM
  table = t; /* the library stays loaded for the life of the process */
}

int image_libarchive_load(struct skiff_err **err)
{
  pthread_once(&once, load);
  if (load_error[0])
    return skiff_error(err, 0, "%s", load_error);
  return 0;
}

const struct image_libarchive *image_libarchive(void)
{
  pthread_once(&once, load);
  if (load_error[0])
    abort();
  return &table;
}
