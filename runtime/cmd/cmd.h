/* cmd.h - the skiff CLI: one file per verb, main.c dispatches.  A verb returns the
 * process exit code; on failure it leaves the error in *err for main to print.
 *
 * Each verb describes itself in a struct cmd_verb: its usage, a summary and a table of
 * its flags.  The same table feeds getopt (cmd_getopt) and `skiff VERB --help`
 * (cmd_print_help), so the help always lists every flag the verb takes. */
#ifndef SKIFF_CMD_H
#define SKIFF_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include "util.h"

struct cmd_global
{
  const char *root; /* --root, default /run/skiff (or $SKIFF_STATE_ROOT) */
};

typedef int (*cmd_fn)(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);

/* One flag of a verb.  A table ends with an entry whose help is NULL; an entry with a
 * help but no name is a section heading in --help. */
struct cmd_flag
{
  const char *name; /* long name without "--" */
  int key;          /* its short letter, or CMD_LONG(n) for a flag with no short form */
  const char *arg;  /* NULL: a switch; else the value's name in --help ("DIR") */
  const char *help; /* one line */
};
#define CMD_LONG(n) (256 + (n))
#define CMD_HELP_KEY 255 /* what cmd_getopt returns for --help */

struct cmd_verb
{
  const char *name;
  cmd_fn fn;
  const char *usage;             /* after "skiff ", may hold several lines */
  const char *summary;           /* one line */
  const struct cmd_flag *flags;  /* NULL: no flags */
  bool permute;                  /* options may follow operands (image's sub-verbs) */
  const struct cmd_flag *flags2; /* the flags of a second form (run IMAGE, ps), or NULL */
};

/* getopt_long over a flag table ('+': options stop at the first operand, unless permute).
 * Returns the flag's key, '?' for an unknown flag or a missing value, -1 at the end. */
int cmd_getopt(int argc, char **argv, const struct cmd_flag *flags, bool permute);
/* `skiff VERB --help`: usage, summary and every flag. */
void cmd_print_help(const struct cmd_verb *v, FILE *f);
/* Does argv (a verb's) ask for --help before its first operand? */
bool cmd_wants_help(int argc, char **argv, const struct cmd_verb *v);
/* The one-line error for a bad flag or operand count: "unknown option `--x`; usage: ..."
 * (what is the failing argument or NULL).  Returns 2, the exit code for usage errors. */
int cmd_usage_error(const struct cmd_verb *v, const char *what, struct skiff_err **err);
/* cmd_usage_error for the flag cmd_getopt just refused ('?'). */
int cmd_bad_flag(const struct cmd_verb *v, int argc, char **argv, struct skiff_err **err);

/* Parse a non-negative int option value; error names the flag. */
int cmd_parse_int(const char *flag, const char *v, int *out, struct skiff_err **err);
/* Exactly one positional ID left after options. */
int cmd_one_id(const char *verb, int argc, char **argv, const char **id, struct skiff_err **err);

/* The verbs (each defined in its own file). */
extern const struct cmd_verb cmd_verb_create, cmd_verb_start, cmd_verb_state, cmd_verb_kill,
    cmd_verb_delete, cmd_verb_run, cmd_verb_exec, cmd_verb_list, cmd_verb_ps, cmd_verb_spec,
    cmd_verb_features, cmd_verb_pause, cmd_verb_resume, cmd_verb_update, cmd_verb_events,
    cmd_verb_checkpoint, cmd_verb_restore, cmd_verb_image, cmd_verb_images, cmd_verb_stop,
    cmd_verb_rm, cmd_verb_logs, cmd_verb_inspect, cmd_verb_restart, cmd_verb_stats, cmd_verb_top,
    cmd_verb_system, cmd_verb_pull, cmd_verb_push;

/* The flag tables of run's two forms (run.c, run_image.c) and of ps's (ps.c,
 * ps_containers.c). */
extern const struct cmd_flag cmd_run_bundle_flags[], cmd_run_image_flags[];
extern const struct cmd_flag cmd_ps_flags[], cmd_ps_containers_flags[];
/* image_flags.c: skiff-image parses them, skiff shows them in --help */
extern const struct cmd_flag cmd_image_flags[], cmd_images_flags[], cmd_pull_flags[],
    cmd_push_flags[];

int cmd_image(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_images(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_pull(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_push(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);

/* `skiff image ...`, `skiff images`, `skiff pull`, `skiff push` run skiff-image, installed
 * beside skiff (it links libarchive and libcurl; skiff links neither). */
int cmd_image_delegate(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
/* Path of skiff-image beside the running skiff (malloc'd), or NULL with *err. */
char *cmd_image_tool(struct skiff_err **err);
/* Before a run from an image: pull it with skiff-image when --pull says so (always, or
 * missing and it is not in the store) and the reference names a registry.  Runs before the
 * sealed re-exec of run (the memfd copy has no path to find skiff-image by).  0, -1 with
 * *err, or CMD_REPORTED when the pull failed and skiff-image printed why; the pull's progress
 * goes to stderr. */
#define CMD_REPORTED (-2)
int cmd_run_pull(int argc, char **argv, struct skiff_err **err);

struct image_info;
int cmd_run_image(struct cmd_global *g, int argc, char **argv, struct image_info *image,
                  struct skiff_err **err);
/* `run` and `ps` serve both runc (bundle, ID) and docker (IMAGE, no ID) users */
bool cmd_run_is_image(int argc, char **argv, struct image_info **image);
int cmd_ps_containers(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);

/* create's and run's runc options into *o, and the ID; -1 with *err on a bad flag. */
struct container_opts;
int cmd_parse_container_opts(const struct cmd_verb *v, int argc, char **argv,
                             struct container_opts *o, struct skiff_err **err);

/* Verbs that take no flags, only operands (start, state, pause ...): min..max operands
 * (max 0: no limit).  Returns 0 or 2 with *err = the usage line. */
int cmd_no_flags(const struct cmd_verb *v, int argc, char **argv, int min, int max,
                 struct skiff_err **err);

#endif
