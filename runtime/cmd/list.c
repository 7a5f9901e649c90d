/* list.c - `skiff list`: the containers under --root, as a table or JSON. */
#define _GNU_SOURCE
#include "cmd.h"
#include "state.h"

#include <jansson.h>
#include <string.h>

int cmd_list(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  static const struct option opts[]
      = {{"format", required_argument, 0, 'f'}, {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
  const char *format = "table";
  bool quiet = false;
  int c;
  while ((c = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1)
    if (c == 'f')
      format = optarg;
    else if (c == 'q')
      quiet = true;
    else
      return skiff_error(err, 0, "usage: skiff list [--format table|json] [--quiet]"), 2;
  bool json = strcmp(format, "json") == 0;
  if (!json && strcmp(format, "table") != 0)
    return skiff_error(err, 0, "--format `%s`: expected table or json", format), 2;
  char **ids = state_list_ids(g->root);
  json_t *arr = json_array();
  if (!json && !quiet)
    printf("%-24s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
           "OWNER");
  for (size_t i = 0; ids[i]; i++)
    {
      struct skiff_state *st = NULL;
      if (state_load(g->root, ids[i], &st, NULL) == 0)
        {
          enum skiff_status s = state_status(g->root, st);
          int pid = s == SKIFF_STATUS_STOPPED ? 0 : (int)st->pid;
          if (quiet)
            printf("%s\n", st->id);
          else if (json)
            json_array_append_new(arr, json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "id", st->id,
                                                 "pid", pid, "status", state_status_name(s),
                                                 "bundle", st->bundle ? st->bundle : "", "created",
                                                 st->created ? st->created : "", "owner", "root"));
          else
            printf("%-24s %-8d %-10s %-40s %-30s %s\n", st->id, pid, state_status_name(s),
                   st->bundle ? st->bundle : "", st->created ? st->created : "", "root");
          state_free(st);
        }
      free(ids[i]);
    }
  free(ids);
  if (json && !quiet)
    {
      char *text = json_dumps(arr, JSON_INDENT(2));
      printf("%s\n", text);
      free(text);
    }
  json_decref(arr);
  return 0;
}
