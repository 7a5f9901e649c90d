/* ctl_token.c - `skiffctl token list` as a table (kubeadm token list's columns): ID, KIND,
 * NODE, EXPIRES (never, expired, or in how long), DESCRIPTION.  Pure. */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

char *ctl_tokens_table(json_t *list, long long now)
{
  static const char *const head[] = {"ID", "KIND", "NODE", "EXPIRES", "DESCRIPTION"};
  struct ctl_table *t = ctl_table_new(5, head);
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(list, "items"), i, o)
  {
    const char *exp = json_string_value(json_object_get(o, "expires"));
    const char *node = json_string_value(json_object_get(o, "node"));
    char when[48];
    long long at = exp ? ctl_parse_time(exp) : -1;
    if (exp == NULL)
      snprintf(when, sizeof(when), "never");
    else if (at < 0 || at <= now)
      snprintf(when, sizeof(when), "expired");
    else
      {
        char age[24];
        ctl_format_age(at - now, age, sizeof(age));
        snprintf(when, sizeof(when), "in %s", age);
      }
    const char *cells[] = {json_string_value(json_object_get(o, "id")),
                           json_string_value(json_object_get(o, "kind")), node ? node : "-", when,
                           json_string_value(json_object_get(o, "description"))};
    ctl_table_add(t, cells);
  }
  char *s = ctl_table_format(t, 0);
  ctl_table_free(t);
  return s;
}
