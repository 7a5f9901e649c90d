/* store_open.c - `skiffd server --store`: which backend, from its value ("sqlite", the
 * default, or "etcd:URL,URL,...").  Apart from store.c so that a program may link the SQLite
 * backend alone (tests/bench/store_bench.c). */
#include <string.h>
#include "store.h"

int store_open(const char *spec, const char *data_dir, const char *etcd_prefix, struct store **out,
               struct skiff_err **err)
{
  if (spec == NULL || *spec == '\0' || strcmp(spec, "sqlite") == 0)
    return store_sqlite_open(data_dir, out, err);
  if (strncmp(spec, "etcd:", 5) == 0)
    return store_etcd_open(spec + 5, etcd_prefix ? etcd_prefix : "/skiff/", out, err);
  return skiff_error(
      err, 0, "--store `%s`: expected sqlite or etcd:http://HOST:PORT[,http://HOST:PORT...]", spec);
}
