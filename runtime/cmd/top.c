/* top.c - `skiff top NAME`: the processes of a container, like `docker top`. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <string.h>

/* One process: its uid, parent, cpu time and command line, from /proc. */
static void print_process(pid_t pid)
{
  char path[64];
  cleanup_free char *status = NULL, *stat = NULL, *cmdline = NULL;
  size_t len = 0;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  if (skiff_read_file(path, &status, NULL, NULL) < 0)
    return; /* gone meanwhile */
  const char *uid = strstr(status, "\nUid:");
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  skiff_read_file(path, &stat, NULL, NULL);
  long ppid = 0;
  unsigned long long ut = 0, st = 0;
  const char *p = stat ? strrchr(stat, ')') : NULL;
  if (p)
    sscanf(p + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ppid, &ut, &st);
  unsigned long long secs = (ut + st) / (unsigned long long)sysconf(_SC_CLK_TCK);
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  if (skiff_read_file(path, &cmdline, &len, NULL) == 0)
    for (size_t i = 0; i + 1 < len; i++)
      if (cmdline[i] == '\0')
        cmdline[i] = ' ';
  printf("%-8ld %-8d %-8ld %02llu:%02llu:%02llu %s\n", uid ? strtol(uid + 5, NULL, 10) : -1L,
         (int)pid, ppid, secs / 3600, secs / 60 % 60, secs % 60, cmdline && len ? cmdline : "?");
}

static int top_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  if (cmd_no_flags(&cmd_verb_top, argc, argv, 1, 1, err))
    return 2;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (container_pids(g->root, argv[optind], &pids, &n, err) < 0)
    return 1;
  printf("%-8s %-8s %-8s %-8s %s\n", "UID", "PID", "PPID", "TIME", "CMD");
  for (size_t i = 0; i < n; i++)
    print_process(pids[i]);
  return 0;
}

const struct cmd_verb cmd_verb_top
    = {.name = "top",
       .fn = top_main,
       .usage = "top NAME",
       .summary = "The processes of a container: uid, host pid, parent, cpu time, command."};
