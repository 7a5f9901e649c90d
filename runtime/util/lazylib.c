/* lazylib.c - a shared library opened on first use (lazylib.h). */
#include "lazylib.h"

#include <dlfcn.h>
#include <stdio.h>

void *lazylib_open(struct lazylib *lib)
{
  pthread_mutex_lock(&lib->lock);
  if (!lib->tried)
    {
      lib->tried = 1;
      lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
      if (lib->handle == NULL)
        {
          const char *why = dlerror();
          snprintf(lib->error, sizeof(lib->error), "dlopen %s: %s", lib->soname,
                   why ? why : "failed");
        }
    }
  void *h = lib->handle;
  pthread_mutex_unlock(&lib->lock);
  return h;
}

void *lazylib_sym(struct lazylib *lib, const char *name)
{
  void *h = lazylib_open(lib);
  if (h == NULL)
    return NULL;
  void *sym = dlsym(h, name);
  if (sym == NULL)
    {
      pthread_mutex_lock(&lib->lock);
      snprintf(lib->error, sizeof(lib->error), "%s: no symbol %s", lib->soname, name);
      pthread_mutex_unlock(&lib->lock);
    }
  return sym;
}
