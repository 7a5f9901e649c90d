/* container_internal.h - what container.c (create, start, run) shares with monitor.c (the
 * monitor that skiff's docker-style verbs and the agent put between them and the init):
 * the create context, the init spawn and the state writes of a create. */
#ifndef SKIFF_CONTAINER_INTERNAL_H
#define SKIFF_CONTAINER_INTERNAL_H

#include "container.h"

/* Everything create and run share, resolved once. */
struct create_ctx
{
  const struct container_opts *opts;
  struct skiff_spec *owned_spec;
  const struct skiff_spec *spec;
  char *spec_text;
  char *bundle, *rootfs, *dir, *cgroup_path;
  int fifo_fd;          /* O_PATH fd of exec.fifo; -1 on a restart (the init execs at once) */
  bool release_on_sync; /* run: no exec fifo, SYNC_START on sync_fd releases */
  /* run, quick handshake: right after clone3, while the init sets itself up, write
     state.json and the pid file and queue SYNC_START (released = true), so the init
     finds it waiting at READY and execs without a round trip */
  bool early_state;
  pid_t early_monitor; /* the monitor pid state.json names (a foreground run: itself) */
  bool released;
  int sync_fd;       /* our end of the sync socket, kept for that release, or -1 */
  int lock_fd;       /* the state lock held while creating (the init closes its copy) */
  char *seccomp_key; /* cache key of the profile; bpf is the cached filter if any */
  char *overlay_data;
  int stdio_fd; /* init's stdout/stderr (the write end of the monitor's log pipe), or -1 */
  void *bpf;
  size_t bpf_len;
  char *created; /* RFC 3339 time of the create, kept across restarts */
};

/* Resolve the options, make the state dir (config copy, exec fifo) and take its lock.  A
 * failure removes what it made (never another container's dir).  foreground: a run that
 * releases the init itself, over the sync socket (no exec fifo). */
int container_ctx_setup(struct create_ctx *c, const struct container_opts *opts, bool foreground,
                        struct skiff_err **err);
void container_ctx_free(struct create_ctx *c);
/* Undo a failed create: the state dir (the cgroup is gone with container_spawn_init). */
void container_ctx_abort(struct create_ctx *c);
/* Let go of the state lock (LOCK_UN: a child may share the open file). */
void container_ctx_unlock(struct create_ctx *c);

/* Clone the init and walk it through the handshake.  On success *pid is the init,
 * waiting on the exec fifo (for SYNC_START on c->sync_fd in a foreground run; without
 * either, a restart, exec'ing), inside its cgroup.  On failure
 * nothing is left: the init is killed and reaped, the cgroup removed. */
int container_spawn_init(struct create_ctx *c, pid_t *pid_out, struct skiff_err **err);

/* A spawned init that cannot be kept (its state could not be written, its ports not
 * bound): kill and reap it, remove its cgroup (a delete may have taken the state dir). */
void container_discard_init(struct create_ctx *c, pid_t pid);

/* state.json of a created container (pid, its start time, monitor, restart count). */
int container_save_created(struct create_ctx *c, pid_t pid, pid_t monitor, int restarts,
                           struct skiff_err **err);

/* First container with this profile: store the compiled filter for the next ones. */
void container_cache_seccomp(struct create_ctx *c);

/* The monitor path of container_create (monitor.c): fork the monitor, which spawns the
 * init and stays its parent.  Returns the init's pid, or -1 with *err. */
pid_t monitor_create(struct create_ctx *c, struct skiff_err **err);

#endif
