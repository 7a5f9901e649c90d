/* events.c - `skiff events` (runc's): the container's cgroup accounting as JSON lines,
 * {"type":"stats","id":...,"data":{cpu, memory, pids}}; --stats prints one and exits,
 * otherwise one every --interval, with {"type":"oom"} when the kernel OOM-killed a
 * process meanwhile, until the container stops. */
#define _GNU_SOURCE
#include "cmd.h"
#include "container.h"

#include <jansson.h>
#include <poll.h>

static const struct cmd_flag events_flags[]
    = {{"stats", 's', NULL, "print the statistics once and exit"},
       {"interval", 'i', "DURATION", "time between two stats events (default 5s; 500ms, 1m)"},
       {0}};

/* runc's stats event: the fields it reads from the same cgroup files. */
static json_t *stats_json(const struct cgroup_stats *s)
{
  json_t *cpu = json_pack(
      "{s:{s:I, s:I, s:I, s:[]}, s:{s:I, s:I, s:I}}", "usage", "total", (json_int_t)s->cpu_usage_ns,
      "kernel", (json_int_t)s->cpu_system_ns, "user", (json_int_t)s->cpu_user_ns, "percpu",
      "throttling", "periods", (json_int_t)s->cpu_periods, "throttledPeriods",
      (json_int_t)s->cpu_throttled_periods, "throttledTime", (json_int_t)s->cpu_throttled_ns);
  json_t *memory = json_pack(
      "{s:I, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I}}", "cache", (json_int_t)s->memory_cache, "usage",
      "limit", (json_int_t)s->memory_limit, "usage", (json_int_t)s->memory_usage, "max",
      (json_int_t)s->memory_max_usage, "failcnt", (json_int_t)s->memory_failcnt, "raw", "rss",
      (json_int_t)s->memory_rss, "oom_kill", (json_int_t)s->oom_kills);
  json_t *pids = json_pack("{s:I, s:I}", "current", (json_int_t)s->pids_current, "limit",
                           (json_int_t)s->pids_limit);
  return json_pack("{s:o, s:o, s:o}", "cpu", cpu, "memory", memory, "pids", pids);
}

static void print_event(const char *type, const char *id, json_t *data)
{
  json_t *e = json_pack("{s:s, s:s}", "type", type, "id", id);
  if (data)
    json_object_set_new(e, "data", data);
  char *text = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
  printf("%s\n", text);
  fflush(stdout);
  free(text);
  json_decref(e);
}

static int events_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  bool once = false;
  long long interval = 5000;
  int c;
  while ((c = cmd_getopt(argc, argv, events_flags, false)) != -1)
    if (c == 's')
      once = true;
    else if (c == 'i')
      {
        if (skiff_parse_duration_ms(optarg, &interval, err) < 0)
          return skiff_err_prefix(err, "--interval"), 2;
      }
    else
      return cmd_bad_flag(&cmd_verb_events, argc, argv, err);
  if (argc - optind != 1)
    return cmd_usage_error(&cmd_verb_events, NULL, err);
  const char *id = argv[optind];
  uint64_t ooms = 0;
  for (bool first = true;; first = false)
    {
      struct cgroup_stats s;
      enum skiff_status status;
      if (container_stats(g->root, id, &s, &status, err) < 0)
        return 1;
      if (status == SKIFF_STATUS_STOPPED)
        {
          if (first)
            return skiff_error(err, 0, "container `%s`: container not running", id), 1;
          return 0; /* the stream ends with the container */
        }
      if (!first && s.oom_kills > ooms)
        print_event("oom", id, NULL);
      ooms = s.oom_kills;
      print_event("stats", id, stats_json(&s));
      if (once)
        return 0;
      poll(NULL, 0, (int)(interval > 2147483647LL ? 2147483647LL : interval));
    }
}

const struct cmd_verb cmd_verb_events
    = {.name = "events",
       .fn = events_main,
       .usage = "events [--stats] [--interval DURATION] ID",
       .summary
       = "Stream the container's resource usage (and OOM kills) as JSON lines, as runc's events.",
       .flags = events_flags};
