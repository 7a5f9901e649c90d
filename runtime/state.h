/* state.h - container state on disk: <root>/<id>/state.json, exit.json, the exec fifo,
 * a copy of config.json, and the lock that serialises verbs on one container.
 *
 * The stored status is only "creating" or "created"; running/stopped are derived
 * from the init process (alive? exec fifo still there?) so `state` stays right after
 * the process died without anyone telling us. */
#ifndef SKIFF_STATE_H
#define SKIFF_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "util.h"
#include "spec.h"

#define SKIFF_DEFAULT_ROOT "/run/skiff"

enum skiff_status
{
  SKIFF_STATUS_CREATING,
  SKIFF_STATUS_CREATED,
  SKIFF_STATUS_RUNNING,
  SKIFF_STATUS_STOPPED,
  SKIFF_STATUS_PAUSED, /* running, every process frozen by `skiff pause` */
};

struct skiff_state
{
  char *id;
  char *bundle;
  char *rootfs;
  char *cgroup_path; /* relative cgroup path, "/skiff/<id>" */
  char *created;     /* RFC 3339 */
  char *owner;
  pid_t pid;                     /* init pid in the host pid namespace, 0 before clone */
  unsigned long long start_time; /* /proc/<pid>/stat field 22, guards against pid reuse */
  pid_t monitor_pid;
  int restart_count;  /* times the monitor restarted the init (--restart) */
  bool restarting;    /* the init exited and the monitor waits to restart it */
  bool created_done;  /* stored status: false = creating, true = created */
  char **annotations; /* k0, v0, ..., NULL */
  /* How many poststart and poststop hooks the saved config holds, so that start and
     delete parse it (jansson: ~0.3 ms for Docker's seccomp profile) only when there
     are some.  hooks_known is false for a state.json that does not say: read the config. */
  bool hooks_known;
  int poststart_hooks, poststop_hooks;
  /* from exit.json, when the monitor recorded an exit */
  bool has_exit;
  int exit_code; /* shell-style: 128+signal for a signal death */
  char *finished;
};

/* Container ids: 1..1024 chars of [A-Za-z0-9_.-+], not "." or "..". */
int state_validate_id(const char *id, struct skiff_err **err);

char *state_dir(const char *root, const char *id);

/* mkdir <root>/<id>; EEXIST -> "container `id` already exists". */
int state_create_dir(const char *root, const char *id, struct skiff_err **err);
int state_save(const char *root, const struct skiff_state *st, struct skiff_err **err);
/* ENOENT -> "container `id` does not exist". */
int state_load(const char *root, const char *id, struct skiff_state **out, struct skiff_err **err);
void state_free(struct skiff_state *st);
static inline void cleanup_statep(struct skiff_state **s)
{
  if (*s)
    state_free(*s);
}
#define cleanup_state __attribute__((cleanup(cleanup_statep)))

/* Derived status (see the top of this file); paused is read from the cgroup's freezer. */
enum skiff_status state_status(const char *root, const struct skiff_state *st);
const char *state_status_name(enum skiff_status s);
/* Is pid alive and still the process that started at start_time? */
bool state_pid_alive(pid_t pid, unsigned long long start_time);
unsigned long long state_proc_start_time(pid_t pid);

/* Record the exit of the init: exit.json with exitCode and finished time. */
int state_record_exit(const char *root, const char *id, int wait_status, struct skiff_err **err);

/* The OCI state JSON (malloc'd text): ociVersion, id, status, pid, bundle, annotations. */
char *state_oci_json(const char *root, const struct skiff_state *st);
/* The state a hook of `kind` gets on stdin (runtime-spec "State"): ociVersion, id, pid,
 * bundle, the spec's annotations and the status the spec names for that hook: creating
 * (prestart, createRuntime, createContainer), created (startContainer), running
 * (poststart), stopped (poststop). */
char *state_hook_json(const struct skiff_state *st, enum skiff_hook_kind kind);
const char *state_hook_status(enum skiff_hook_kind kind);
/* The same state JSON text with another status (NULL if json is not an object). */
char *state_json_with_status(const char *json, const char *status);

/* Exclusive lock on the container dir (flock); returns the fd to close. */
int state_lock(const char *root, const char *id, struct skiff_err **err);

/* `skiff stop` tells the monitor not to restart the container: a marker in the state dir
 * (gone with it).  clear: a `skiff start`/`restart` that wants the policy back. */
int state_mark_stopped(const char *root, const char *id, bool clear, struct skiff_err **err);
bool state_stopped_by_user(const char *root, const char *id);
/* The monitor's "waiting to restart" flag in state.json (best effort). */
void state_set_restarting(const char *root, const char *id, bool restarting);

/* Remove the state dir. */
int state_remove(const char *root, const char *id, struct skiff_err **err);

/* List container ids under root (malloc'd NULL-terminated array). */
char **state_list_ids(const char *root);

char *state_now_rfc3339(void);

#endif
