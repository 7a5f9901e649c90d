/* store_bench.c - the floor under the control plane's figures: how fast the store itself
 * takes REPLICAS writes of replica-sized values (VALUE bytes, default 420: what a replica of
 * scheduler_e2e weighs) in transactions of 128 ops, the way the controller writes them
 * (create-if-absent, then an update of each, as the agents' reports do).
 * No server, no HTTP, no JSON (on SQLite; on etcd, STORE_SPEC=etcd:URL, its gateway's).
 * Built and run by tests/bench/scheduler_e2e beside its end-to-end figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store.h"
#include "util.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf(stderr, "usage: store_bench DIR\n");
      return 2;
    }
  long n = getenv("REPLICAS") ? strtol(getenv("REPLICAS"), NULL, 10) : 10000;
  long vlen = getenv("VALUE") ? strtol(getenv("VALUE"), NULL, 10) : 420;
  struct store *s = NULL;
  struct skiff_err *err = NULL;
  /* STORE_SPEC: as `skiffd server --store` (sqlite in DIR, or etcd:URL under /bench-floor/) */
  if (n <= 0 || vlen <= 0
      || store_open(getenv("STORE_SPEC"), argv[1], "/bench-floor/", &s, &err) < 0)
    {
      fprintf(stderr, "store_bench: %s\n", err ? err->msg : "REPLICAS and VALUE must be > 0");
      return 1;
    }
  char *val = xmalloc((size_t)vlen + 1);
  memset(val, 'x', (size_t)vlen);
  val[vlen] = '\0';
  struct store_op *ops = xzalloc((size_t)n * sizeof(*ops));
  for (long i = 0; i < n; i++)
    ops[i] = (struct store_op){STORE_PUT, xasprintf("/replicas/bench-1-%07ld", i), val,
                               (size_t)vlen, STORE_ABSENT};
  double phase[2][2];
  for (int p = 0; p < 2; p++)
    {
      double t0 = now(), c0 = cpu();
      for (long i = 0; i < n; i += 128)
        {
          size_t m = (size_t)(n - i < 128 ? n - i : 128);
          if (store_txn(s, ops + i, m, NULL, NULL, &err) != 0)
            {
              fprintf(stderr, "store_bench: %s\n", err ? err->msg : "conflict");
              return 1;
            }
        }
      phase[p][0] = now() - t0;
      phase[p][1] = cpu() - c0;
      for (long i = 0; i < n; i++)
        ops[i].expect_rev = STORE_ANY_REV;
    }
  printf("store floor (%s, no server): %ld creates of %ld bytes in txns of 128: %.0f ms "
         "(%.0f ms CPU here) = %.0f writes/s; %ld updates: %.0f ms (%.0f ms CPU)\n",
         store_backend(s), n, vlen, phase[0][0] * 1e3, phase[0][1] * 1e3, (double)n / phase[0][0],
         n, phase[1][0] * 1e3, phase[1][1] * 1e3);
  for (long i = 0; i < n; i++)
    free((char *)ops[i].key);
  free(ops);
  free(val);
  store_close(s);
  return 0;
}
