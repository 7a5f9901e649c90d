/* checkpoint.c - `skiff checkpoint` and `skiff restore`: refused with the reason.  runc
 * does them with CRIU; skiff has no CRIU integration, and an engine that asks must learn
 * that at once, whatever flags it passed. */
#define _GNU_SOURCE
#include "cmd.h"

static int refuse(const char *verb, struct skiff_err **err)
{
  skiff_error(err, 0,
              "%s: not supported: skiff cannot checkpoint or restore containers (no CRIU "
              "support; see `skiff features`, org.skiff.checkpoint.enabled)",
              verb);
  return 1;
}

static int checkpoint_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g, (void)argc, (void)argv;
  return refuse("checkpoint", err);
}

static int restore_main(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g, (void)argc, (void)argv;
  return refuse("restore", err);
}

const struct cmd_verb cmd_verb_checkpoint
    = {.name = "checkpoint",
       .fn = checkpoint_main,
       .usage = "checkpoint [OPTIONS] ID",
       .summary
       = "Not supported (runc's CRIU checkpoint): refused with the reason, whatever the flags."};
const struct cmd_verb cmd_verb_restore = {
    .name = "restore",
    .fn = restore_main,
    .usage = "restore [OPTIONS] ID",
    .summary = "Not supported (runc's CRIU restore): refused with the reason, whatever the flags."};
