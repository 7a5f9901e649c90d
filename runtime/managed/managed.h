/* managed.h - containers run from images, the way docker and podman users expect:
 * a name, an image, a private overlay rootfs, a network, published ports, logs.
 *
 * Each managed container is an ordinary OCI container (state in the state root, so
 * `skiff state NAME` works) whose bundle lives in <store>/containers/<name>/ (or under
 * opts.data_root, which the node agent points into its --root):
 *   config.json   the spec generated from the image and the flags
 *   rootfs/       mount point: the overlay (image layers + upper/) is mounted here
 *                 inside the container's own mount namespace only
 *   upper/ work/  the container's private overlay dirs
 *   etc/          hosts, hostname, resolv.conf (bind-mounted into /etc)
 *   container.log stdout+stderr of a detached container (rotated at 10 MiB)
 *   meta.json     name, image, command, ports, network, created
 * The spec's annotations (org.skiff.*) let delete release the network resources. */
#ifndef SKIFF_MANAGED_H
#define SKIFF_MANAGED_H

#include <stdbool.h>
#include "container.h"

struct managed_run_opts
{
  const char *state_root, *store;
  const char *name; /* NULL: <image>-<6 hex> */
  const char *image;
  struct image_info *resolved; /* the image already looked up, or NULL (borrowed) */
  char **cmd;                  /* NULL: the image's Cmd */
  const char *entrypoint;
  char **env;     /* K=V, override the image's */
  char **volumes; /* HOST:CTR[:ro] */
  struct container_publish *ports;
  size_t n_ports;
  long long memory; /* bytes, 0 = none */
  double cpus;      /* 0 = none */
  long long pids_limit;
  const char *hostname, *user, *workdir;
  bool read_only, detach, autoremove;
  const char *net; /* bridge (default) | none | host */
  /* added for docker's flags; all optional (zero: as before) */
  char **labels;                    /* KEY=VALUE (or KEY), shown by inspect, ps --filter */
  struct container_restart restart; /* the monitor restarts the container by this policy */
  bool tty;                         /* foreground: a pty for the process, proxied to ours */
  /* set by the node agent (orchestrator/agent), all optional: */
  const char *data_root;                  /* <data_root>/containers/<name>/; NULL: store */
  const struct net_bridge_config *netcfg; /* bridge, subnet, IPAM dir; NULL: from the env */
  const char *log_path;                   /* detached output; NULL: <dir>/container.log */
  long long log_max;                      /* rotate the log at this size; 0: 10 MiB */
};

/* Net settings from the environment: SKIFF_BRIDGE, SKIFF_SUBNET (defaults skiff0,
 * 10.88.0.0/16), state in <store>/net (*state_dir, malloc'd, owns cfg->state_dir). */
void managed_net_config(const char *store, struct net_bridge_config *cfg, char **state_dir);

/* Foreground: waits, forwards signals, *exit_code = the container's.  Detached: returns
 * when started.  *name_out (may be NULL) gets the container's name (malloc'd).  Any
 * failure leaves nothing behind. */
int managed_run(const struct managed_run_opts *o, int *exit_code, char **name_out,
                struct skiff_err **err);
/* SIGTERM, wait up to timeout seconds, then SIGKILL.  The monitor does not restart a
 * container stopped this way (whatever its --restart policy). */
int managed_stop(const char *state_root, const char *name, int timeout, struct skiff_err **err);
/* Stop (if running), then start again from its bundle: the same name, image, data,
 * network (a new address lease) and ports, under a new monitor; restart policy kept. */
int managed_restart(const char *state_root, const char *store, const char *name, int timeout,
                    struct skiff_err **err);
/* Remove container (running only with force) and its data dir. */
int managed_remove(const char *state_root, const char *store, const char *name, bool force,
                   struct skiff_err **err);
/* Print the log (follow: keep printing until the container stops). */
int managed_logs(const char *state_root, const char *store, const char *name, bool follow, int out,
                 struct skiff_err **err);
/* JSON text describing the container (malloc'd). */
char *managed_inspect(const char *state_root, const char *store, const char *name,
                      struct skiff_err **err);
/* One row of `skiff ps` (every field malloc'd). */
struct managed_ps_row
{
  char *name, *image, *command, *status, *ip, *ports;
  char **labels; /* KEY=VALUE, NULL-terminated */
  int restarts;  /* times the monitor restarted it */
};
/* Does a row match one `ps --filter` (name=, label=KEY[=VALUE], status=, ancestor=)?
 * -1 with *err naming an unknown filter. */
int managed_ps_match(const struct managed_ps_row *row, const char *filter, bool *match,
                     struct skiff_err **err);
/* The image containers of the store; all: stopped ones too. */
int managed_list(const char *state_root, const char *store, bool all, struct managed_ps_row **rows,
                 size_t *n, struct skiff_err **err);
void managed_ps_rows_free(struct managed_ps_row *rows, size_t n);

/* `skiff stats`: the named containers (NULL: every running one, all: stopped too), each
 * sampled twice sample_ms apart for its cpu %. */
struct managed_stats
{
  char *name;
  const char *status;
  double cpu_percent; /* of one CPU */
  struct cgroup_stats cgroup;
  unsigned long long net_rx, net_tx; /* bytes, as the container sees them (its veth) */
};
int managed_stats(const char *state_root, const char *store, char **names, bool all, int sample_ms,
                  struct managed_stats **rows, size_t *n, struct skiff_err **err);
void managed_stats_free(struct managed_stats *rows, size_t n);

/* `skiff system prune`: remove stopped image containers with their data, and data dirs
 * and leases of containers that no longer exist.  *removed: their names (malloc'd,
 * NULL-terminated), *bytes: the disk space their data used. */
int managed_prune(const char *state_root, const char *store, char ***removed,
                  unsigned long long *bytes, struct skiff_err **err);

/* Called by container_delete: release what the annotations say the container holds
 * (veth, address lease).  Best effort, idempotent. */
void managed_release_network(char **annotations);

/* Pure helpers (unit tested). */
/* "HOST:CTR[:ro|rw]" -> parts; errors name the value. */
int managed_parse_volume(const char *spec, char **host, char **ctr, bool *ro,
                         struct skiff_err **err);
/* "1000", "1000:1000", "root" -> ids; names other than root are not resolved. */
int managed_parse_user(const char *spec, unsigned *uid, unsigned *gid, bool *has_gid,
                       struct skiff_err **err);
/* "0.5" -> quota 50000 for period 100000; errors for <= 0 or > 1024. */
int managed_parse_cpus(const char *s, double *cpus, struct skiff_err **err);
/* docker's container names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters; else
 * "invalid container name". */
int managed_validate_name(const char *name, struct skiff_err **err);
/* An --env-file's text: KEY=VALUE lines, blank lines and # comments skipped, KEY alone
 * kept as is (the caller's value then).  *lines: malloc'd strings, NULL-terminated. */
int managed_parse_env_file(const char *text, const char *path, char ***lines,
                           struct skiff_err **err);

/* --user as docker resolves it (managed_user.c): USER and GROUP are names (looked up in
 * the image's passwd and group texts, which may be NULL) or ids; a numeric uid takes its
 * gid from passwd when listed there, else 0; a user's supplementary groups come from
 * group (unless GROUP is given). */
#define MANAGED_MAX_GROUPS 32
struct managed_user
{
  unsigned uid, gid;
  unsigned groups[MANAGED_MAX_GROUPS];
  size_t n_groups;
};
int managed_resolve_user(const char *spec, const char *passwd, const char *group,
                         struct managed_user *u, struct skiff_err **err);
/* A small file of an image (etc/passwd), from its top layer down (a whiteout hides it),
 * resolved inside each layer; malloc'd text or NULL. */
char *managed_image_file(char **layer_dirs, const char *rel);

#endif
