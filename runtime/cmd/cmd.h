/* cmd.h - the skiff CLI: one file per verb, main.c dispatches.  A verb returns the
 * process exit code; on failure it leaves the error in *err for main to print. */
#ifndef SKIFF_CMD_H
#define SKIFF_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include "util.h"

struct cmd_global
{
  const char *root; /* --root, default /run/skiff (or $SKIFF_STATE_ROOT) */
};

typedef int (*cmd_fn)(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);

int cmd_create(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_start(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_state(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_kill(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_delete(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_run(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_exec(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_list(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_ps(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_spec(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_features(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
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
int cmd_stop(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_rm(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_logs(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
int cmd_inspect(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);
/* `run` and `ps` serve both runc (bundle, ID) and docker (IMAGE, no ID) users */
bool cmd_run_is_image(int argc, char **argv, struct image_info **image);
int cmd_ps_containers(struct cmd_global *g, int argc, char **argv, struct skiff_err **err);

/* create's and run's runc options into *o, and the ID; -1 with *err on a bad flag. */
struct container_opts;
int cmd_parse_container_opts(const char *verb, int argc, char **argv, struct container_opts *o,
                             struct skiff_err **err);

/* Verbs whose only option is one switch (delete --force, rm -f, logs -f): parse it into
 * *set; min_args..max_args positional arguments must follow (max 0: no limit).  -1 with
 * *err = usage on a mistake. */
int cmd_switch_only(int argc, char **argv, const char *name, char letter, bool *set, int min_args,
                    int max_args, const char *usage, struct skiff_err **err);

/* Parse a non-negative int option value; error names the flag. */
int cmd_parse_int(const char *flag, const char *v, int *out, struct skiff_err **err);
/* Exactly one positional ID left after options. */
int cmd_one_id(const char *verb, int argc, char **argv, const char **id, struct skiff_err **err);

#endif
