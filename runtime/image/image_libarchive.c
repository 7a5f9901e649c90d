/* image_libarchive.c - libarchive loaded on first use (image_libarchive.h): dlopen of its
 * soname and a dlsym per function the image store calls, once per process. */
#define _GNU_SOURCE
#define IMAGE_LIBARCHIVE_IMPL
#include "image_libarchive.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the soname libarchive 3.x has kept since 3.0 (libarchive.so.13) */
#define IMAGE_LIBARCHIVE_SONAME "libarchive.so.13"

static struct image_libarchive table;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
  void *h = dlopen(IMAGE_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL)
    {
      const char *why = dlerror();
      snprintf(load_error, sizeof(load_error), "dlopen %s: %s", IMAGE_LIBARCHIVE_SONAME,
               why ? why : "failed");
      return;
    }
  struct image_libarchive t;
#define IMAGE_LIBARCHIVE_SYM(f)                                                                    \
  if ((*(void **)&t.f = dlsym(h, #f)) == NULL)                                                     \
    {                                                                                              \
      snprintf(load_error, sizeof(load_error), "%s: no symbol %s", IMAGE_LIBARCHIVE_SONAME, #f);   \
      dlclose(h);                                                                                  \
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
