/* lazylib.h - a shared library opened on first use (dlopen) instead of at program start.
 *
 * skiff-image keeps libraries it rarely calls out of the dynamic loader's start-up work:
 * libarchive (runtime/image/image_libarchive.c) and the Kerberos, p11-kit and SASL
 * libraries under its static libcurl (runtime/cmd/image_lazy.c).  One struct lazylib per
 * library, statically initialised; opening is thread-safe and happens once per process:
 * the library then stays loaded, and a failure is remembered with its cause. */
#ifndef SKIFF_LAZYLIB_H
#define SKIFF_LAZYLIB_H

#include <pthread.h>

struct lazylib
{
  const char *soname;
  pthread_mutex_t lock;
  int tried;
  void *handle;
  char error[256]; /* why it could not be opened, or the last symbol missing */
  int reported;    /* for callers that say why once (image_lazy.c) */
};

#define LAZYLIB_INIT(so)                                                                           \
  {                                                                                                \
    .soname = (so), .lock = PTHREAD_MUTEX_INITIALIZER                                              \
  }

/* The library's handle, opened on the first call; NULL with lib->error set
 * ("dlopen libfoo.so.1: <dlerror>") when it cannot be. */
void *lazylib_open(struct lazylib *lib);
/* NAME in the library, opening it if needed; NULL with lib->error naming the library and
 * the symbol when either is missing. */
void *lazylib_sym(struct lazylib *lib, const char *name);

#endif
