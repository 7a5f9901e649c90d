/* stats.c - `skiff stats [--no-stream] [-a] [NAME...]`: cpu, memory, pids and network of
 * containers run from images (their cgroup and their veth), like `docker stats`. */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"
#include "managed.h"

#include <poll.h>
#include <string.h>

static const struct cmd_flag stats_flags[]
    = {{"no-stream", CMD_LONG(1), NULL, "print one table and exit (default: refresh every second)"},
       {"all", 'a', NULL, "stopped containers too (without a NAME)"},
       {0}};

static void human(unsigned long long v, char *buf, size_t n)
{
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double d = (double)v;
  size_t u = 0;
  while (d >= 1024 && u < 4)
    d /= 1024, u++;
  snprintf(buf, n, u ? "%.1f%s" : "%.0f%s", d, units[u]);
}

static void print_row(const struct managed_stats *s)
{
  char mem[16], lim[16], rx[16], tx[16], memcol[40], netcol[40], cpu[16], mempct[16];
  human(s->cgroup.memory_usage, mem, sizeof(mem));
  if (s->cgroup.memory_limit)
    human(s->cgroup.memory_limit, lim, sizeof(lim));
  else
    snprintf(lim, sizeof(lim), "-");
  human(s->net_rx, rx, sizeof(rx));
  human(s->net_tx, tx, sizeof(tx));
  snprintf(memcol, sizeof(memcol), "%s / %s", mem, lim);
  snprintf(netcol, sizeof(netcol), "%s / %s", rx, tx);
  double mem_pct = s->cgroup.memory_limit
                       ? 100.0 * (double)s->cgroup.memory_usage / (double)s->cgroup.memory_limit
                       : 0;
  snprintf(cpu, sizeof(cpu), "%.2f%%", s->cpu_percent);
  snprintf(mempct, sizeof(mempct), "%.2f%%", mem_pct);
  printf("%-24s %-9s %-10s %-22s %-8s %-22s %llu\n", s->name, s->status, cpu, memcol, mempct,
         netcol, (unsigned long long)s->cgroup.pids_current);
}

static int stats_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool stream = true, all = false;
  int c;
  while ((c = cmd_getopt(argc, argv, stats_flags, false)) != -1)
    if (c == CMD_LONG(1))
      stream = false;
    else if (c == 'a')
      all = true;
    else
      return cmd_bad_flag(&cmd_verb_stats, argc, argv, err);
  char **names = argc > optind ? argv + optind : NULL;
  for (;;)
    {
      struct managed_stats *rows = NULL;
      size_t n = 0;
      /* cpu % is the usage between two samples, 500 ms apart */
      if (managed_stats(g->root, image_store_root(NULL), names, all, 500, &rows, &n, err) < 0)
        return 1;
      if (stream)
        printf("\033[H\033[J"); /* a fresh screen each second, as docker */
      printf("%-24s %-9s %-10s %-22s %-8s %-22s %s\n", "NAME", "STATUS", "CPU %",
             "MEM USAGE / LIMIT", "MEM %", "NET I/O (RX / TX)", "PIDS");
      for (size_t i = 0; i < n; i++)
        print_row(&rows[i]);
      fflush(stdout);
      managed_stats_free(rows, n);
      if (!stream)
        return 0;
      poll(NULL, 0, 500);
    }
}

const struct cmd_verb cmd_verb_stats
    = {.name = "stats",
       .fn = stats_main,
       .usage = "stats [--no-stream] [-a] [NAME...]",
       .summary = "Resource usage of containers run from images: cpu, memory, network, pids.",
       .flags = stats_flags};
