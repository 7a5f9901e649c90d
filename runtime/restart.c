/* restart.c - the restart policies and their back-off (see restart.h). */
#define _GNU_SOURCE
#include "restart.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int restart_parse_policy(const char *s, struct container_restart *r, struct skiff_err **err)
{
  static const struct
  {
    const char *name;
    enum container_restart_policy policy;
  } names[] = {{"no", CONTAINER_RESTART_NO},
               {"always", CONTAINER_RESTART_ALWAYS},
               {"unless-stopped", CONTAINER_RESTART_UNLESS_STOPPED},
               {"on-failure", CONTAINER_RESTART_ON_FAILURE}};
  r->max_retries = 0;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(s, names[i].name) == 0)
      {
        r->policy = names[i].policy;
        return 0;
      }
  if (strncmp(s, "on-failure:", 11) == 0)
    {
      char *end = NULL;
      errno = 0;
      long n = strtol(s + 11, &end, 10);
      if (errno == 0 && end != s + 11 && *end == '\0' && n > 0 && n <= INT_MAX)
        {
          r->policy = CONTAINER_RESTART_ON_FAILURE;
          r->max_retries = (int)n;
          return 0;
        }
      return skiff_error(err, 0, "--restart `%s`: the retry count must be a positive integer", s);
    }
  return skiff_error(err, 0,
                     "--restart `%s`: expected no, always, unless-stopped or on-failure[:N]", s);
}

char *restart_policy_string(const struct container_restart *r)
{
  switch (r->policy)
    {
      case CONTAINER_RESTART_ALWAYS:
        return xstrdup("always");
      case CONTAINER_RESTART_UNLESS_STOPPED:
        return xstrdup("unless-stopped");
      case CONTAINER_RESTART_ON_FAILURE:
        return r->max_retries ? xasprintf("on-failure:%d", r->max_retries) : xstrdup("on-failure");
      default:
        return xstrdup("no");
    }
}

bool restart_should(const struct container_restart *r, int exit_code, int restarts,
                    bool stopped_by_user)
{
  if (stopped_by_user)
    return false;
  switch (r->policy)
    {
      case CONTAINER_RESTART_ALWAYS:
      case CONTAINER_RESTART_UNLESS_STOPPED:
        return true;
      case CONTAINER_RESTART_ON_FAILURE:
        return exit_code != 0 && (r->max_retries == 0 || restarts < r->max_retries);
      default:
        return false;
    }
}

long long restart_delay_ms(int consecutive)
{
  long long d = RESTART_FIRST_DELAY_MS;
  for (int i = 0; i < consecutive && d < RESTART_MAX_DELAY_MS; i++)
    d *= 2;
  return d < RESTART_MAX_DELAY_MS ? d : RESTART_MAX_DELAY_MS;
}
