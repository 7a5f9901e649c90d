/* skiffctl.c - the cluster CLI (kubectl's counterpart): parses the command line
 * (ctl_parse_cmdline), talks to `skiffd server` over its JSON API (orchestrator/API.md) and
 * prints tables.  The only place of the client that prints or exits. */
#include "client.h"
#include "ctl.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct client *cli;
static struct client_target target;
static const struct ctl_cmdline *cmd;

static const char usage_text[]
    = "usage: skiffctl [--server URL] [--token-file F] [--ca-file F] [--data DIR] COMMAND ...\n"
      "\n"
      "  apply -f FILE                          create or update the services in FILE (- = stdin)\n"
      "  get services|replicas|nodes [NAME] [-o json|wide] [-w]\n"
      "  get servers                            the API servers, which one leads\n"
      "  describe service|node NAME\n"
      "  scale SERVICE N\n"
      "  delete service NAME\n"
      "  cordon|uncordon|drain NODE\n"
      "  events [-o json] [-w]\n"
      "  rollout status SERVICE [-w]            -w waits until Complete (exit 0) or Stalled (exit "
      "1)\n"
      "  rollout undo SERVICE\n"
      "  logs REPLICA [-f] [--tail N]\n"
      "  token create [--ttl 24h] [--description TEXT]   a join token (printed, one line)\n"
      "  token list [-o json]                   admin, node and join credentials\n"
      "  token delete ID                        revoke one\n"
      "  --version\n"
      "\n"
      "The server is --server, else $SKIFF_SERVER, else " CLIENT_DEFAULT_SERVER ".\n"
      "The credential is read from --token-file F, else $SKIFF_TOKEN, else the file DIR/token of\n"
      "the server's data dir (--data DIR, default " CLIENT_DEFAULT_DATA_DIR "); --token T works\n"
      "too but shows in ps.  The server's certificate is verified against the cluster CA:\n"
      "--ca-file F, else $SKIFF_CA_FILE, else DIR/ca.crt.\n";

static int fail(const char *what, struct skiff_err *err)
{
  if (what)
    fprintf(stderr, "skiffctl: %s: %s\n", what, err ? err->msg : "failed");
  else
    fprintf(stderr, "skiffctl: %s\n", err ? err->msg : "failed");
  skiff_err_free(&err);
  return 1;
}

static long long now_epoch(void)
{
  return (long long)time(NULL);
}

static void print_json(json_t *v)
{
  char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  if (s)
    printf("%s\n", s);
  free(s);
}

/* ---- get ------------------------------------------------------------------------------ */

static const char *singular(const char *resource)
{
  if (strcmp(resource, "services") == 0)
    return "service";
  if (strcmp(resource, "replicas") == 0)
    return "replica";
  if (strcmp(resource, "nodes") == 0)
    return "node";
  return "event";
}

struct watch_print
{
  const char *resource, *name;
  struct ctl_table *table;
  struct client *lookup; /* second connection: re-read derived fields of services/nodes */
};

static int print_watch_event(json_t *ev, void *data)
{
  struct watch_print *w = data;
  const char *type = json_string_value(json_object_get(ev, "type"));
  const char *kind = json_string_value(json_object_get(ev, "kind"));
  json_t *obj = json_object_get(ev, "object"), *fresh = NULL;
  const char *name = json_string_value(json_object_get(obj, "name"));

  if (type == NULL || strcmp(type, "BOOKMARK") == 0 || obj == NULL)
    return 0;
  if (kind && strcmp(kind, singular(w->resource)) != 0)
    return 0;
  if (w->name && (name == NULL || strcmp(name, w->name) != 0))
    return 0;
  if (cmd->output == CTL_OUT_JSON)
    {
      char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
      printf("%s\n", s ? s : "{}");
      free(s);
      fflush(stdout);
      return 0;
    }
  /* Watch objects of services and nodes lack derived fields (status, allocated): read the
   * object again unless it is gone. */
  if (strcmp(type, "DELETED") != 0 && name
      && (strcmp(w->resource, "services") == 0 || strcmp(w->resource, "nodes") == 0))
    {
      cleanup_free char *path = xasprintf("/v1/%s/%s", w->resource, name);
      struct skiff_err *err = NULL;
      if (client_call(w->lookup, "GET", path, NULL, NULL, &fresh, &err) < 0)
        skiff_err_free(&err);
    }
  ctl_table_add_object(w->table, w->resource, cmd->output == CTL_OUT_WIDE, fresh ? fresh : obj,
                       now_epoch());
  json_decref(fresh);
  {
    cleanup_free char *row = ctl_table_format_rows(w->table, w->table->nrows - 1);
    fputs(row, stdout);
    fflush(stdout);
  }
  return 0;
}

/* List then watch from the list's revision: nothing is missed between the two. */
static int watch_from(const char *resource, const char *name, struct ctl_table *table,
                      json_int_t revision)
{
  struct watch_print w = {resource, name, table, NULL};
  cleanup_free char *path = NULL;
  struct skiff_err *err = NULL;
  int ret;

  w.lookup = client_new(target.server, target.token, 0);
  path = xasprintf("/v1/watch?from=%lld&kind=%s", (long long)revision, resource);
  ret = client_stream(cli, path, print_watch_event, &w, &err);
  client_free(w.lookup);
  if (ret < 0)
    return fail("watch", err);
  return 0;
}

static int cmd_get(const char *resource, const char *name)
{
  struct skiff_err *err = NULL;
  cleanup_free char *path = NULL;
  json_t *resp = NULL, *items;
  struct ctl_table *table;
  json_int_t revision;
  int wide = cmd->output == CTL_OUT_WIDE;
  size_t i;
  json_t *o;

  path = name ? xasprintf("/v1/%s/%s", resource, name) : xasprintf("/v1/%s", resource);
  if (client_call(cli, "GET", path, NULL, NULL, &resp, &err) < 0)
    return fail(NULL, err);
  if (cmd->output == CTL_OUT_JSON && !cmd->watch)
    {
      print_json(resp);
      json_decref(resp);
      return 0;
    }
  table = ctl_table_for(resource, wide);
  if (name)
    {
      revision = json_integer_value(json_object_get(resp, "revision"));
      ctl_table_add_object(table, resource, wide, resp, now_epoch());
    }
  else
    {
      revision = json_integer_value(json_object_get(resp, "revision"));
      items = json_object_get(resp, "items");
      json_array_foreach(items, i, o) ctl_table_add_object(table, resource, wide, o, now_epoch());
    }
  json_decref(resp);
  if (cmd->output != CTL_OUT_JSON)
    {
      if (table->nrows == 1 && !cmd->watch)
        fprintf(stderr, "No %s found.\n", resource);
      else
        {
          cleanup_free char *text = ctl_table_format(table, 0);
          fputs(text, stdout);
          fflush(stdout);
        }
    }
  if (cmd->watch)
    {
      int ret = watch_from(resource, name, table, revision);
      ctl_table_free(table);
      return ret;
    }
  ctl_table_free(table);
  return 0;
}

static int cmd_events(void)
{
  struct skiff_err *err = NULL;
  json_t *resp = NULL, *o;
  struct ctl_table *table;
  json_int_t revision;
  size_t i;
  int ret = 0;

  if (client_call(cli, "GET", "/v1/events", NULL, NULL, &resp, &err) < 0)
    return fail(NULL, err);
  if (cmd->output == CTL_OUT_JSON && !cmd->watch)
    {
      print_json(resp);
      json_decref(resp);
      return 0;
    }
  table = ctl_table_for("events", 0);
  revision = json_integer_value(json_object_get(resp, "revision"));
  json_array_foreach(json_object_get(resp, "items"), i, o)
      ctl_table_add_object(table, "events", 0, o, now_epoch());
  json_decref(resp);
  if (cmd->output != CTL_OUT_JSON)
    {
      cleanup_free char *text = ctl_table_format(table, 0);
      if (table->nrows == 1 && !cmd->watch)
        fprintf(stderr, "No events found.\n");
      else
        fputs(text, stdout);
      fflush(stdout);
    }
  if (cmd->watch)
    ret = watch_from("events", NULL, table, revision);
  ctl_table_free(table);
  return ret;
}

/* ---- apply ---------------------------------------------------------------------------- */

static int cmd_apply(const char *file)
{
  struct skiff_err *err = NULL;
  json_error_t jerr;
  json_t *doc, *existing = NULL, *resp = NULL, *items, *o, *changed;
  size_t i, j;

  if (strcmp(file, "-") == 0)
    doc = json_loadf(stdin, 0, &jerr);
  else
    doc = json_load_file(file, 0, &jerr);
  if (doc == NULL)
    {
      if (jerr.line < 0 || strstr(jerr.text, "unable to open"))
        fprintf(stderr, "skiffctl: apply: %s\n", jerr.text);
      else
        fprintf(stderr, "skiffctl: apply: %s:%d:%d: %s\n", file, jerr.line, jerr.column, jerr.text);
      return 1;
    }
  /* names that exist before: to say "created" or "configured" like kubectl */
  if (client_call(cli, "GET", "/v1/services", NULL, NULL, &existing, &err) < 0)
    {
      json_decref(doc);
      return fail(NULL, err);
    }
  if (client_call(cli, "POST", "/v1/apply", doc, NULL, &resp, &err) < 0)
    {
      json_decref(doc);
      json_decref(existing);
      return fail(file, err);
    }
  items = json_object_get(resp, "items");
  changed = json_object_get(resp, "changed");
  json_array_foreach(items, i, o)
  {
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *what = "unchanged";
    json_t *c, *e;
    size_t k;
    json_array_foreach(changed, j, c)
    {
      if (name && json_string_value(c) && strcmp(json_string_value(c), name) == 0)
        what = "created";
    }
    if (strcmp(what, "created") == 0)
      json_array_foreach(json_object_get(existing, "items"), k, e)
      {
        const char *en = json_string_value(json_object_get(e, "name"));
        if (en && name && strcmp(en, name) == 0)
          what = "configured";
      }
    printf("service/%s %s\n", name ? name : "?", what);
  }
  json_decref(doc);
  json_decref(existing);
  json_decref(resp);
  return 0;
}

/* ---- describe ------------------------------------------------------------------------- */

static int cmd_describe(const char *resource, const char *name)
{
  struct skiff_err *err = NULL;
  cleanup_free char *path = xasprintf("/v1/%s/%s", resource, name);
  cleanup_free char *rpath = NULL, *text = NULL;
  json_t *obj = NULL, *replicas = NULL, *events = NULL;
  int is_service = strcmp(resource, "services") == 0;

  if (client_call(cli, "GET", path, NULL, NULL, &obj, &err) < 0)
    return fail(NULL, err);
  rpath = xasprintf("/v1/replicas?%s=%s", is_service ? "service" : "node", name);
  if (client_call(cli, "GET", rpath, NULL, NULL, &replicas, &err) < 0
      || client_call(cli, "GET", "/v1/events", NULL, NULL, &events, &err) < 0)
    {
      json_decref(obj);
      json_decref(replicas);
      return fail(NULL, err);
    }
  text = is_service ? ctl_describe_service(obj, replicas, events, now_epoch())
                    : ctl_describe_node(obj, replicas, events, now_epoch());
  fputs(text, stdout);
  json_decref(obj);
  json_decref(replicas);
  json_decref(events);
  return 0;
}

/* ---- verbs that change one object ------------------------------------------------------ */

static int simple_post(const char *path, json_t *body, const char *done)
{
  struct skiff_err *err = NULL;
  if (client_call(cli, "POST", path, body, NULL, NULL, &err) < 0)
    return fail(NULL, err);
  printf("%s\n", done);
  return 0;
}

static int cmd_scale(const char *name, const char *n)
{
  cleanup_free char *path = xasprintf("/v1/services/%s/scale", name);
  cleanup_free char *done = xasprintf("service/%s scaled to %s", name, n);
  json_t *body = json_pack("{s:I}", "replicas", (json_int_t)strtoll(n, NULL, 10));
  int ret = simple_post(path, body, done);
  json_decref(body);
  return ret;
}

static int cmd_node_action(const char *verb, const char *node)
{
  cleanup_free char *path = xasprintf("/v1/nodes/%s/%s", node, verb);
  cleanup_free char *done = xasprintf("node/%s %sed", node, verb);
  return simple_post(path, NULL, done);
}

static int cmd_delete(const char *name)
{
  struct skiff_err *err = NULL;
  cleanup_free char *path = xasprintf("/v1/services/%s", name);
  if (client_call(cli, "DELETE", path, NULL, NULL, NULL, &err) < 0)
    return fail(NULL, err);
  printf("service/%s deleted\n", name);
  return 0;
}

static int rollout_state_is(json_t *ro, const char *state)
{
  const char *s = json_string_value(json_object_get(ro, "state"));
  return s && strcmp(s, state) == 0;
}

static int cmd_rollout(const char *action, const char *name)
{
  struct skiff_err *err = NULL;
  json_t *resp = NULL;

  if (strcmp(action, "undo") == 0)
    {
      cleanup_free char *path = xasprintf("/v1/services/%s/rollout/undo", name);
      json_t *body = json_object();
      int ret = client_call(cli, "POST", path, body, NULL, &resp, &err);
      json_decref(body);
      if (ret < 0)
        return fail(NULL, err);
      printf("service/%s rolled back to generation %lld\n", name,
             (long long)json_integer_value(json_object_get(resp, "generation")));
      json_decref(resp);
      return 0;
    }

  cleanup_free char *path = xasprintf("/v1/services/%s/rollout", name);
  cleanup_free char *last = NULL;
  for (;;)
    {
      cleanup_free char *line = NULL;
      int done;
      if (client_call(cli, "GET", path, NULL, NULL, &resp, &err) < 0)
        return fail(NULL, err);
      line = ctl_rollout_line(resp);
      if (last == NULL || strcmp(last, line) != 0)
        {
          printf("%s\n", line);
          fflush(stdout);
          free(last);
          last = xstrdup(line);
        }
      done = !rollout_state_is(resp, "Progressing");
      if (rollout_state_is(resp, "Stalled"))
        {
          json_decref(resp);
          return 1;
        }
      json_decref(resp);
      if (!cmd->watch || done)
        return 0;
      usleep(500 * 1000);
    }
}

static int logs_out(const char *buf, size_t len, void *arg)
{
  (void)arg;
  return skiff_write_all(STDOUT_FILENO, buf, len) < 0 ? 1 : 0; /* reader gone: stop */
}

/* The server streams the log from the agent of the replica's node (API.md). */
static int cmd_logs(const char *replica, int follow, long tail)
{
  struct skiff_err *err = NULL;
  cleanup_free char *path
      = tail >= 0 ? xasprintf("/v1/replicas/%s/logs?follow=%d&tail=%ld", replica, follow, tail)
                  : xasprintf("/v1/replicas/%s/logs?follow=%d", replica, follow);
  struct client_raw_cbs cbs = {.data = logs_out};
  if (client_stream_raw(cli, path, &cbs, NULL, &err) < 0)
    return fail(NULL, err);
  return 0;
}

/* ---- token ----------------------------------------------------------------------------- */

static int cmd_token(const char *action, const char *id)
{
  struct skiff_err *err = NULL;
  json_t *resp = NULL;
  if (strcmp(action, "create") == 0)
    {
      json_t *body = json_pack("{s:s}", "description", cmd->description ? cmd->description : "");
      if (cmd->ttl >= 0)
        json_object_set_new(body, "ttl", json_integer(cmd->ttl));
      int r = client_call(cli, "POST", "/v1/tokens", body, NULL, &resp, &err);
      json_decref(body);
      if (r < 0)
        return fail("token create", err);
      /* the join token, alone on stdout: `skiffctl token create > FILE` */
      printf("%s\n", json_string_value(json_object_get(resp, "token")));
      json_decref(resp);
      return 0;
    }
  if (strcmp(action, "list") == 0)
    {
      if (client_call(cli, "GET", "/v1/tokens", NULL, NULL, &resp, &err) < 0)
        return fail("token list", err);
      if (cmd->output == CTL_OUT_JSON)
        print_json(resp);
      else
        {
          char *t = ctl_tokens_table(resp, now_epoch());
          fputs(t, stdout);
          free(t);
        }
      json_decref(resp);
      return 0;
    }
  cleanup_free char *path = xasprintf("/v1/tokens/%s", id);
  if (client_call(cli, "DELETE", path, NULL, NULL, NULL, &err) < 0)
    return fail("token delete", err);
  printf("token %s deleted\n", id);
  return 0;
}

int main(int argc, char **argv)
{
  struct ctl_cmdline c;
  struct skiff_err *err = NULL;
  int ret = 1;

  if (argc == 2 && strcmp(argv[1], "--version") == 0)
    {
      printf("skiffctl version %s\n", SKIFF_VERSION);
      return 0;
    }
  if (ctl_parse_cmdline(argc, argv, &c, &err) < 0)
    return fail(NULL, err) + 1; /* usage errors: 2 */
  if (c.help)
    {
      fputs(usage_text, stdout);
      return 0;
    }
  cmd = &c;
  cleanup_free char *file_token = NULL, *ca = NULL;
  if (c.token_file && client_read_token_file(c.token_file, &file_token, &err) < 0)
    return fail("--token-file", err);
  if (client_load_target(c.server, c.token ? c.token : file_token, c.data_dir, &target, &err) < 0
      || client_load_ca(c.ca_file, c.data_dir, &ca, &err) < 0)
    return fail(NULL, err);
  client_set_default_ca(ca);
  signal(SIGPIPE, SIG_IGN);
  if (c.watch)
    setvbuf(stdout, NULL, _IOLBF, 0);
  cli = client_new(target.server, target.token, 0);

  if (strcmp(c.verb, "apply") == 0)
    ret = cmd_apply(c.file);
  else if (strcmp(c.verb, "get") == 0)
    ret = cmd_get(c.args[0], c.nargs > 1 ? c.args[1] : NULL);
  else if (strcmp(c.verb, "describe") == 0)
    ret = cmd_describe(c.args[0], c.args[1]);
  else if (strcmp(c.verb, "scale") == 0)
    ret = cmd_scale(c.args[0], c.args[1]);
  else if (strcmp(c.verb, "delete") == 0)
    ret = cmd_delete(c.args[1]);
  else if (strcmp(c.verb, "cordon") == 0 || strcmp(c.verb, "uncordon") == 0
           || strcmp(c.verb, "drain") == 0)
    ret = cmd_node_action(c.verb, c.args[0]);
  else if (strcmp(c.verb, "events") == 0)
    ret = cmd_events();
  else if (strcmp(c.verb, "rollout") == 0)
    ret = cmd_rollout(c.args[0], c.args[1]);
  else if (strcmp(c.verb, "logs") == 0)
    ret = cmd_logs(c.args[0], c.follow, c.tail);
  else if (strcmp(c.verb, "token") == 0)
    ret = cmd_token(c.args[0], c.nargs > 1 ? c.args[1] : NULL);

  client_free(cli);
  client_target_clear(&target);
  client_set_default_ca(NULL);
  return ret;
}
