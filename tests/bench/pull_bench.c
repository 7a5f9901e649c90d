/* pull_bench.c - warm image_pull inside one process, the way the node agent calls it: the
 * libraries are loaded once, so each pull is the registry round trips (the /v2/ ping and the
 * manifest) and the store's checks.  Built and run by tests/bench/pull against build/'s
 * libraries.  Usage: pull_bench STORE REF N; prints "N median_ms p90_ms". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "image.h"

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  if (argc != 4)
    {
      fprintf(stderr, "usage: pull_bench STORE REF N\n");
      return 2;
    }
  int n = atoi(argv[3]);
  if (n < 1)
    return 2;
  struct image_pull_opts o = {.store = argv[1], .ref = argv[2], .policy = IMAGE_PULL_ALWAYS};
  double *t = calloc((size_t)n, sizeof(double));
  for (int i = -1; i < n; i++) /* one pull first: the image is present from then on */
    {
      struct skiff_err *err = NULL;
      double t0 = now_ms();
      if (image_pull(&o, NULL, &err) < 0)
        {
          fprintf(stderr, "pull_bench: %s\n", err->msg);
          return 1;
        }
      if (i >= 0)
        t[i] = now_ms() - t0;
    }
  qsort(t, (size_t)n, sizeof(double), cmp);
  printf("%d %.1f %.1f\n", n, t[n / 2], t[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1]);
  free(t);
  return 0;
}
