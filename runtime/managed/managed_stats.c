/* managed_stats.c - `skiff stats`: cpu, memory and pids from each container's cgroup
 * (container_stats), network bytes from the host side of its veth (see managed.h). */
#define _GNU_SOURCE
#include "managed_internal.h"

#include <poll.h>
#include <string.h>

/* The bytes the host side of the container's veth counted (0 without one). */
static unsigned long long veth_counter(const char *name, const char *counter)
{
  cleanup_free char *veth = net_veth_name(name);
  cleanup_free char *path = xasprintf("/sys/class/net/%s/statistics/%s", veth, counter);
  cleanup_free char *text = NULL;
  if (skiff_read_file(path, &text, NULL, NULL) < 0)
    return 0;
  return strtoull(text, NULL, 10);
}

static int sample(const char *state_root, const char *name, struct managed_stats *s,
                  struct skiff_err **err)
{
  enum skiff_status status;
  if (container_stats(state_root, name, &s->cgroup, &status, err) < 0)
    return -1;
  s->status = state_status_name(status);
  /* what leaves the host side arrived in the container, and the other way round */
  s->net_rx = veth_counter(name, "tx_bytes");
  s->net_tx = veth_counter(name, "rx_bytes");
  return 0;
}

int managed_stats(const char *state_root, const char *store, char **names, bool all, int sample_ms,
                  struct managed_stats **rows_out, size_t *n_out, struct skiff_err **err)
{
  struct managed_ps_row *ps = NULL;
  size_t nps = 0, n = 0;
  if (names == NULL && managed_list(state_root, store, all, &ps, &nps, err) < 0)
    return -1;
  size_t want = 0;
  while (names && names[want])
    want++;
  if (names == NULL)
    want = nps;
  struct managed_stats *rows = xzalloc((want + 1) * sizeof(*rows));
  unsigned long long *cpu0 = xzalloc((want + 1) * sizeof(*cpu0));
  int ret = 0;
  for (size_t i = 0; i < want; i++)
    {
      const char *name = names ? names[i] : ps[i].name;
      if (!names && strcmp(ps[i].status, "removed") == 0)
        continue;
      struct skiff_err *e = NULL;
      if (sample(state_root, name, &rows[n], &e) < 0)
        {
          if (names) /* asked by name: say why not */
            {
              skiff_error(err, 0, "%s", e->msg);
              skiff_err_free(&e);
              ret = -1;
              break;
            }
          skiff_err_free(&e);
          continue;
        }
      rows[n].name = xstrdup(name);
      cpu0[n] = rows[n].cgroup.cpu_usage_ns;
      n++;
    }
  if (ret == 0 && n > 0 && sample_ms > 0)
    {
      long long t0 = skiff_now_ms();
      poll(NULL, 0, sample_ms);
      long long dt = skiff_now_ms() - t0;
      for (size_t i = 0; i < n; i++)
        {
          if (sample(state_root, rows[i].name, &rows[i], NULL) < 0)
            continue; /* gone meanwhile: keep the first sample */
          unsigned long long used = rows[i].cgroup.cpu_usage_ns - cpu0[i];
          if (rows[i].cgroup.cpu_usage_ns >= cpu0[i] && dt > 0)
            rows[i].cpu_percent = 100.0 * (double)used / ((double)dt * 1e6);
        }
    }
  free(cpu0);
  managed_ps_rows_free(ps, nps);
  if (ret < 0)
    {
      managed_stats_free(rows, n);
      return -1;
    }
  *rows_out = rows;
  *n_out = n;
  return 0;
}

void managed_stats_free(struct managed_stats *rows, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(rows[i].name);
  free(rows);
}
