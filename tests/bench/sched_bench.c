/* sched_bench.c - placements per second of the pure scheduler (scheduler.c): NODES nodes,
 * REPLICAS replicas in SERVICES services, placed one by one (per service: reset the spread
 * counts, then pick + assume for each replica: a scan of every node per replica) and as the
 * controller does now (sched_place_many: one heap per service), in the same run.  Built and
 * run by tests/bench/scheduler.  Prints the median of ROUNDS runs of each and checks the
 * result: every replica placed, each service spread within one replica per node, both ways
 * giving the same nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "scheduler.h"
#include "util.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static long env_long(const char *name, long dflt)
{
  const char *s = getenv(name);
  return s && *s ? strtol(s, NULL, 10) : dflt;
}

int main(void)
{
  long nnodes = env_long("NODES", 1000), nrep = env_long("REPLICAS", 10000);
  long nsvc = env_long("SERVICES", 10), rounds = env_long("ROUNDS", 5);
  if (nnodes <= 0 || nrep <= 0 || nsvc <= 0 || rounds <= 0)
    {
      fprintf(stderr, "sched_bench: NODES, REPLICAS, SERVICES, ROUNDS must be > 0\n");
      return 2;
    }
  char(*names)[32] = xmalloc((size_t)nnodes * sizeof(*names));
  char(*svc)[32] = xmalloc((size_t)nsvc * sizeof(*svc));
  struct sched_node *nodes = xzalloc((size_t)nnodes * sizeof(*nodes));
  int *per_node = xmalloc((size_t)nnodes * sizeof(int));
  struct sched_label zone[3] = {{"zone", "a"}, {"zone", "b"}, {"zone", "c"}};
  double *secs = xmalloc((size_t)rounds * sizeof(double));
  int ok = 1;
  for (long i = 0; i < nnodes; i++)
    snprintf(names[i], sizeof(names[i]), "node-%05ld", i);
  for (long s = 0; s < nsvc; s++)
    snprintf(svc[s], sizeof(svc[s]), "svc-%ld", s);

  double *bsecs = xmalloc((size_t)rounds * sizeof(double));
  long *first = xmalloc((size_t)nrep * sizeof(long)), *out = xmalloc((size_t)nrep * sizeof(long));
  for (long r = 0; r < 2 * rounds; r++)
    {
      int batch = r % 2; /* interleaved, so a change of the machine's load hits both */
      for (long i = 0; i < nnodes; i++)
        {
          sched_node_release(&nodes[i]);
          nodes[i] = (struct sched_node){.name = names[i],
                                         .ready = true,
                                         .cpu_cap = 64000,
                                         .mem_cap = 256LL << 30,
                                         .labels = &zone[i % 3],
                                         .nlabels = 1};
        }
      long placed = 0, per_svc = nrep / nsvc;
      double t0 = now();
      for (long s = 0; s < nsvc; s++)
        {
          int port = 30000 + (int)s;
          struct sched_request req = {.cpu = 100,
                                      .mem = 64LL << 20,
                                      .owner = svc[s],
                                      .node_ports = &port,
                                      .nnode_ports = 1,
                                      .spread = true};
          for (long i = 0; i < nnodes; i++)
            nodes[i].svc_count = 0;
          long count = per_svc + (s < nrep % nsvc ? 1 : 0);
          if (batch)
            placed += (long)sched_place_many(nodes, (size_t)nnodes, &req, (size_t)count,
                                             out + placed, NULL);
          else
            for (long k = 0; k < count; k++)
              {
                long best = sched_pick_node(nodes, (size_t)nnodes, &req, NULL);
                if (best < 0)
                  break;
                sched_assume(&nodes[best], &req);
                out[placed++] = best;
              }
          if (r < 2)
            {
              int lo = 1 << 30, hi = 0;
              for (long i = 0; i < nnodes; i++)
                {
                  per_node[i] = nodes[i].svc_count;
                  lo = per_node[i] < lo ? per_node[i] : lo;
                  hi = per_node[i] > hi ? per_node[i] : hi;
                }
              if (hi - lo > 1)
                {
                  fprintf(stderr, "sched_bench: %s spread %d..%d per node\n", svc[s], lo, hi);
                  ok = 0;
                }
            }
        }
      (batch ? bsecs : secs)[r / 2] = now() - t0;
      if (placed != nrep)
        {
          fprintf(stderr, "sched_bench: placed %ld of %ld\n", placed, nrep);
          ok = 0;
        }
      if (r == 0)
        memcpy(first, out, (size_t)nrep * sizeof(long));
      else if (r == 1 && memcmp(first, out, (size_t)nrep * sizeof(long)) != 0)
        {
          fprintf(stderr, "sched_bench: the batch placed differently from one by one\n");
          ok = 0;
        }
    }
  qsort(secs, (size_t)rounds, sizeof(double), cmp_double);
  qsort(bsecs, (size_t)rounds, sizeof(double), cmp_double);
  double med = secs[rounds / 2], bmed = bsecs[rounds / 2];
  printf("scheduler (pure function): %ld nodes, %ld replicas in %ld services, median of %ld "
         "runs\n",
         nnodes, nrep, nsvc, rounds);
  printf("  one by one (a scan of every node per replica): %.3f s = %.0f placements/s "
         "(min %.3f s, max %.3f s)\n",
         med, (double)nrep / med, secs[0], secs[rounds - 1]);
  printf("  a batch per service (sched_place_many, heap):  %.3f s = %.0f placements/s "
         "(min %.3f s, max %.3f s), same nodes\n",
         bmed, (double)nrep / bmed, bsecs[0], bsecs[rounds - 1]);
  printf("  reference: kube-scheduler ~100 pods/s at 5,000 nodes\n");
  free(bsecs);
  free(first);
  free(out);
  for (long i = 0; i < nnodes; i++)
    sched_node_release(&nodes[i]);
  free(nodes);
  free(names);
  free(svc);
  free(per_node);
  free(secs);
  return ok ? 0 : 1;
}
