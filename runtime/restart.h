/* restart.h - docker's --restart policies as pure functions: parse the flag, decide
 * whether the monitor restarts an init that exited, and the back-off before it does.
 * The monitor (monitor.c) does the I/O; unit tests drive these. */
#ifndef SKIFF_RESTART_H
#define SKIFF_RESTART_H

#include <stdbool.h>
#include "container.h"

/* The first restart waits this long; each next one twice as long, up to the max.  A run
 * that lasted RESTART_RESET_MS or more starts the back-off again (docker's numbers). */
#define RESTART_FIRST_DELAY_MS 100
#define RESTART_MAX_DELAY_MS 60000
#define RESTART_RESET_MS 10000

/* "no", "always", "unless-stopped", "on-failure" or "on-failure:N" (N > 0).  -1 with
 * *err naming the value otherwise. */
int restart_parse_policy(const char *s, struct container_restart *r, struct skiff_err **err);
/* "no", "always", "on-failure:3", ... (malloc'd) */
char *restart_policy_string(const struct container_restart *r);

/* Restart an init that exited with exit_code (shell style) after `restarts` restarts?
 * Never once the user stopped the container. */
bool restart_should(const struct container_restart *r, int exit_code, int restarts,
                    bool stopped_by_user);

/* The wait before the next restart, given how many restarts in a row came before it
 * without a run of RESTART_RESET_MS (0 for the first). */
long long restart_delay_ms(int consecutive);

#endif
