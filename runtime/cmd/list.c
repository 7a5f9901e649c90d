/* list.c - `skiff list`: the containers under --root, as a table or JSON. */
#define _GNU_SOURCE
#include "cmd.h"
#include "state.h"

#include <jansson.h>
#include <string.h>

static const struct cmd_flag list_flags[]
    = {{"format", 'f', "table|json", "output format (default table)"},
       {"quiet", 'q', NULL, "only the ids"},
       {0}};

static int list_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  const char *format = "table";
  bool quiet = false;
  int c;
  while ((c = cmd_getopt(argc, argv, list_flags, false)) != -1)
    if (c == 'f')
      format = optarg;
    else if (c == 'q')
      quiet = true;
    else
      return cmd_bad_flag(&cmd_verb_list, argc, argv, err);
  if (optind != argc)
    return cmd_usage_error(&cmd_verb_list, NULL, err);
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

const struct cmd_verb cmd_verb_list = {.name = "list",
                                       .fn = list_main,
                                       .usage = "list [--format table|json] [--quiet]",
                                       .summary = "List the containers of the state root.",
                                       .flags = list_flags};
