/* monitor.c - the per-container parent (conmon / containerd-shim in small): it reaps
 * the init, records its exit code and time in the state dir, and exits.  It holds no
 * fd of the caller, lives in its own session and ignores terminal signals, so the
 * container outlives the skiff that created it. */
#define _GNU_SOURCE
#include "container.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

void monitor_main(const char *root, const char *id, pid_t init_pid)
{
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_NAME, "skiff-monitor");
  int status = 0;
  for (;;)
    {
      pid_t r = waitpid(-1, &status, 0);
      if (r == init_pid)
        break;
      if (r < 0 && errno == ECHILD)
        _exit(0);
    }
  state_record_exit(root, id, status, NULL);
  _exit(0);
}
