/* ctl.h - skiffctl's own code (kubectl's part): the command line as data (ctl_args.c),
 * kubectl-style tables and ages (ctl_table.c), API objects as text (ctl_print.c).  All pure:
 * strings in, new strings out; skiffctl.c does the I/O through orchestrator/client/. */
#ifndef SKIFF_CTL_H
#define SKIFF_CTL_H

#include <stddef.h>
#include <jansson.h>
#include "util.h"

/* ---- printing (pure) -------------------------------------------------------------------- */

/* A table of strings printed like kubectl: columns left-aligned, separated by 3 spaces,
 * no trailing blanks. */
struct ctl_table
{
  size_t ncols, nrows, cap;
  char **cells; /* row-major, row 0 is the header */
};
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
/* Copies the cells; NULL cells print as "<none>". */
void ctl_table_add(struct ctl_table *t, const char *const *cells);
/* Whole table, header first (header omitted when no_header). */
char *ctl_table_format(const struct ctl_table *t, int no_header);
/* Rows [first, nrows) only, widths computed over every row so far (watch mode). */
char *ctl_table_format_rows(const struct ctl_table *t, size_t first);
void ctl_table_free(struct ctl_table *t);

/* kubectl-like short age: "42s", "3m10s", "25m", "4h12m", "20h", "3d4h", "45d", "2y". */
void ctl_format_age(long long seconds, char *buf, size_t len);

/* ---- skiffctl command line (pure) ------------------------------------------------------- */

enum ctl_output
{
  CTL_OUT_TABLE,
  CTL_OUT_WIDE,
  CTL_OUT_JSON,
};

#define CTL_MAX_ARGS 3

struct ctl_cmdline
{
  const char *server, *token, *data_dir; /* global flags, NULL when absent */
  const char *token_file, *ca_file;      /* --token-file, --ca-file */
  const char *description;               /* token create --description */
  long long ttl;                         /* token create --ttl, seconds; -1 when absent */
  const char *verb;                      /* "apply", "get", ..., NULL with --help */
  const char *args[CTL_MAX_ARGS];        /* positionals after the verb, resources normalised
                                               ("svc" -> "services", "node" -> "nodes") */
  size_t nargs;
  const char *file; /* apply -f FILE ("-" is stdin) */
  enum ctl_output output;
  int watch; /* -w */
  int help;
  int follow; /* logs -f */
  long tail;  /* logs --tail N; -1 = all */
};

/* Parse skiffctl's argv (flags may come before or after the verb).  Checks the verb, its
 * positional count and which flags it takes; the message names the offending word. */
int ctl_parse_cmdline(int argc, char **argv, struct ctl_cmdline *out, struct skiff_err **err);

/* "90s", "10m", "24h", "7d", "0" (never), a bare number of seconds -> seconds. */
int ctl_parse_duration(const char *s, long long *seconds, struct skiff_err **err);

/* `skiffctl token list`: the API's list as a table (ID, KIND, NODE, EXPIRES, DESCRIPTION);
 * ctl_token.c. */
char *ctl_tokens_table(json_t *list, long long now);

/* ---- objects as text (pure; ctl_print.c) -------------------------------------------- */

/* The empty table for "services", "replicas", "nodes" or "events" (wide adds columns). */
struct ctl_table *ctl_table_for(const char *resource, int wide);
/* One row for obj (a Service, Replica, Node or Event of the API) in a table made by
 * ctl_table_for with the same resource and wide; now gives ages. */
void ctl_table_add_object(struct ctl_table *t, const char *resource, int wide, json_t *obj,
                          long long now);
/* "2026-11-27T23:59:00Z" -> seconds since the epoch, -1 when not such a time. */
long long ctl_parse_time(const char *s);
/* `skiffctl describe`: the object, then its replicas and the events about it and them
 * (replicas and events are API list answers or NULL). */
char *ctl_describe_service(json_t *svc, json_t *replicas, json_t *events, long long now);
char *ctl_describe_node(json_t *node, json_t *replicas, json_t *events, long long now);
/* `skiffctl rollout status`: one line, e.g.
 * "service web: generation 3 Stalled: 0 of 3 ready after 60s (desired 3, updated 1, ready 2)" */
char *ctl_rollout_line(json_t *rollout);

#endif
