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
  /* Set by the node agent (orchestrator/agent), all optional: */
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
/* SIGTERM, wait up to timeout seconds, then SIGKILL. */
int managed_stop(const char *state_root, const char *name, int timeout, struct skiff_err **err);
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
};
/* The image containers of the store; all: stopped ones too. */
int managed_list(const char *state_root, const char *store, bool all, struct managed_ps_row **rows,
                 size_t *n, struct skiff_err **err);
void managed_ps_rows_free(struct managed_ps_row *rows, size_t n);

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

#endif
