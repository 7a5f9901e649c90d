/* main.c - the skiff CLI entry: global flags, verb dispatch, --help, and the only place
 * that prints an error.  Verbs and flags follow runc's so tools written for it drive
 * skiff; errors also go to `--log FILE` in runc's format (`--log-format json`: one
 * {"level","msg","time"} object a line), where engines read them. */
#define _GNU_SOURCE
#include "cmd.h"
#include "cloned_binary.h"
#include "image.h"
#include "state.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct cmd_verb *const verbs[] = {
    /* OCI (runc's verbs) */
    &cmd_verb_create, &cmd_verb_start, &cmd_verb_state, &cmd_verb_kill, &cmd_verb_delete,
    &cmd_verb_run, &cmd_verb_exec, &cmd_verb_list, &cmd_verb_ps, &cmd_verb_pause, &cmd_verb_resume,
    &cmd_verb_update, &cmd_verb_events, &cmd_verb_spec, &cmd_verb_features, &cmd_verb_checkpoint,
    &cmd_verb_restore,
    /* docker-style */
    &cmd_verb_stop, &cmd_verb_restart, &cmd_verb_rm, &cmd_verb_logs, &cmd_verb_inspect,
    &cmd_verb_stats, &cmd_verb_top, &cmd_verb_system, &cmd_verb_image, &cmd_verb_images,
    &cmd_verb_pull, &cmd_verb_push};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void usage(FILE *f)
{
  fprintf(f, "usage: skiff [GLOBAL OPTIONS] VERB [OPTIONS] ...\n\nverbs:\n");
  for (size_t i = 0; i < N_VERBS; i++)
    fprintf(f, "  %-11s %s\n", verbs[i]->name, verbs[i]->summary);
  fprintf(f, "\nglobal options:\n"
             "  --root DIR              state root (default /run/skiff, or $SKIFF_STATE_ROOT)\n"
             "  --log FILE              also write errors and warnings to FILE\n"
             "  --log-format text|json  format of --log (json: runc's, one object a line)\n"
             "  --debug                 accepted (runc's)\n"
             "  --systemd-cgroup        refused: skiff drives cgroupfs only\n"
             "  --version, --help\n"
             "\n`skiff VERB --help` lists every flag of a verb.\n");
}

/* ---- --log FILE: runc's log, where engines read the runtime's error ---------------- */

static int log_fd = -1;
static bool log_json;

static void log_line(const char *level, const char *msg)
{
  if (log_fd < 0)
    return;
  cleanup_free char *now = state_now_rfc3339();
  cleanup_free char *line = NULL;
  if (log_json)
    {
      json_t *o = json_object();
      json_object_set_new(o, "level", json_string(level));
      json_object_set_new(o, "msg", json_string(msg));
      json_object_set_new(o, "time", json_string(now));
      if (json_object_get(o, "msg") == NULL) /* not UTF-8: keep the line, lose the bytes */
        json_object_set_new(o, "msg", json_string("(message is not valid UTF-8)"));
      char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
      json_decref(o);
      line = xasprintf("%s\n", text ? text : "{}");
      free(text);
    }
  else
    line = xasprintf("time=\"%s\" level=%s msg=\"%s\"\n", now, level, msg);
  /* one write per line: O_APPEND keeps lines of concurrent skiffs whole */
  skiff_write_all(log_fd, line, strlen(line));
}

/* The library's warnings and a child's last words (util.h: skiff_report). */
static void report(const char *line)
{
  fprintf(stderr, "skiff: %s\n", line);
  if (strncmp(line, "warning: ", 9) == 0)
    log_line("warning", line + 9);
  else
    log_line("error", line);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *msg = NULL;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    abort();
  va_end(ap);
  fprintf(stderr, "skiff: %s\n", msg);
  log_line("error", msg);
  return 2;
}

static const struct cmd_verb *find_verb(const char *name)
{
  for (size_t v = 0; v < N_VERBS; v++)
    if (strcmp(name, verbs[v]->name) == 0)
      return verbs[v];
  return NULL;
}

/* Global flags up to the verb; returns the index of the verb, or -1 with *rc set. */
static int parse_globals(int argc, char **argv, struct cmd_global *g, int *rc)
{
  const char *log_path = NULL, *log_format = "text";
  int i = 1;
  *rc = 0;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *a = argv[i];
      const char *val = NULL;
      if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0)
        {
          printf("skiff version %s\nspec: %s\n", SKIFF_VERSION, SKIFF_OCI_VERSION);
          return -1;
        }
      if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
        {
          usage(stdout);
          return -1;
        }
      if (strcmp(a, "--debug") == 0)
        continue;
      if (strcmp(a, "--systemd-cgroup") == 0)
        {
          *rc = fail("--systemd-cgroup: not supported: skiff manages cgroups through cgroupfs "
                     "only (configure the engine's cgroupfs driver)");
          return -1;
        }
      static const char *const with_value[]
          = {"--root", "--log", "--log-format", "--criu", "--rootless"};
      const char *name = NULL;
      for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
        {
          size_t n = strlen(with_value[k]);
          if (strncmp(a, with_value[k], n) == 0 && (a[n] == '=' || a[n] == '\0'))
            {
              name = with_value[k];
              val = a[n] == '=' ? a + n + 1 : (i + 1 < argc ? argv[++i] : NULL);
            }
        }
      if (name == NULL)
        {
          *rc = fail("unknown global option `%s` (see skiff --help)", a);
          return -1;
        }
      if (val == NULL)
        {
          *rc = fail("%s: a value is required", name);
          return -1;
        }
      if (strcmp(name, "--root") == 0)
        g->root = val;
      else if (strcmp(name, "--log") == 0)
        log_path = val;
      else if (strcmp(name, "--log-format") == 0)
        log_format = val;
      else if (strcmp(name, "--rootless") == 0 && strcmp(val, "false") && strcmp(val, "auto"))
        {
          *rc = fail("--rootless `%s`: not supported (skiff runs as root)", val);
          return -1;
        }
    }
  if (strcmp(log_format, "json") && strcmp(log_format, "text"))
    {
      *rc = fail("--log-format `%s`: expected text or json", log_format);
      return -1;
    }
  log_json = strcmp(log_format, "json") == 0;
  if (log_path)
    {
      log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0)
        {
          *rc = fail("--log `%s`: %s", log_path, strerror(errno));
          return -1;
        }
    }
  if (i >= argc)
    {
      usage(stderr);
      *rc = 2;
      return -1;
    }
  if (g->root[0] != '/')
    {
      *rc = fail("--root `%s`: must be an absolute path", g->root);
      return -1;
    }
  return i;
}

/* create, and run of a bundle (not docker's run of an image, whose front end makes its
 * rootfs and network before the config exists): the verbs that may defer. */
static bool may_defer(const struct cmd_verb *v, int argc, char **argv)
{
  if (v == &cmd_verb_create)
    return true;
  if (v != &cmd_verb_run)
    return false;
  struct image_info *image = NULL;
  bool is_image = cmd_run_is_image(argc, argv, &image);
  image_info_free(image);
  return !is_image;
}

/* CVE-2019-5736 (cloned_binary.h): re-execute through a read-only overlay of our directory
 * whose second, dummy, lower layer is the state root (root's own, as runc uses its state
 * dir; only a lookup of our binary's name ever goes through the overlay, and the top
 * layer answers it). */
static int protect_binary(const char *root, char **argv, const struct cmd_verb *v, int vargc,
                          char **vargv, struct skiff_err **err)
{
  struct stat st;
  bool have_root
      = stat(root, &st) == 0 ? S_ISDIR(st.st_mode) : skiff_mkdir_p(root, 0700, NULL) == 0;
  /* an immutable binary needs no re-exec unless the config grants the capability that
     clears the flag: decided when the config is read (container.c) */
  if (cloned_binary_kind(NULL) == CLONED_BINARY_IMMUTABLE && may_defer(v, vargc, vargv))
    {
      cloned_binary_defer(argv, have_root ? root : NULL);
      return 0;
    }
  return cloned_binary_ensure(argv, have_root ? root : NULL, false, err);
}

int main(int argc, char **argv)
{
  skiff_trace_open(getenv("SKIFF_TRACE"));
  SKIFF_TRACE("main");
  skiff_set_reporter(report);
  struct cmd_global g = {.root = getenv("SKIFF_STATE_ROOT")};
  if (g.root == NULL || *g.root == '\0')
    g.root = "/run/skiff";
  int rc, i = parse_globals(argc, argv, &g, &rc);
  if (i < 0)
    return rc;
  const struct cmd_verb *v = find_verb(argv[i]);
  if (v == NULL)
    return fail("unknown verb `%s` (see skiff --help)", argv[i]);
  int vargc = argc - i;
  char **vargv = argv + i;
  if (cmd_wants_help(vargc, vargv, v))
    {
      cmd_print_help(v, stdout);
      return 0;
    }
  struct skiff_err *err = NULL;
  /* an image run pulls first, with the real binary's path at hand (see cmd.h) */
  if (v == &cmd_verb_run && !cloned_binary_reexecuted(cloned_binary_kind(NULL))
      && cmd_run_pull(vargc, vargv, &err) < 0)
    {
      if (err)
        {
          cleanup_free char *msg = xasprintf("skiff run: %s", err->msg);
          fprintf(stderr, "%s\n", msg);
          log_line("error", msg);
        }
      skiff_err_free(&err);
      return 125; /* docker's code for a run that failed before the container */
    }
  /* CVE-2019-5736: the verbs that put skiff code into a container run from a read-only
   * overlay of the binary (or a sealed memfd copy), or from an immutable installed file,
   * so /proc/PID/exe never leads the container to a host file it could write. */
  if ((v == &cmd_verb_create || v == &cmd_verb_run || v == &cmd_verb_exec)
      && protect_binary(g.root, argv, v, vargc, vargv, &err) < 0)
    {
      fprintf(stderr, "skiff %s: %s\n", v->name, err->msg);
      skiff_err_free(&err);
      return 1;
    }
  optind = 0; /* GNU getopt: reinitialise for the verb's own argv */
  opterr = 0; /* bad flags are reported by the verb, in its one line */
  rc = v->fn(&g, vargc, vargv, &err);
  if (err)
    {
      cleanup_free char *msg = xasprintf("skiff %s: %s", v->name, err->msg);
      fprintf(stderr, "%s\n", msg);
      log_line("error", msg);
      skiff_err_free(&err);
      return rc ? rc : 1;
    }
  return rc;
}
