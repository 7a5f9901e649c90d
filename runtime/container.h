/* container.h - the container lifecycle: create, start, run, kill, delete, exec.
 *
 * The OCI verbs, as runc:
 *   skiff create ──clone3(CLONE_NEW*)──> init
 *        │  sync socket: maps/cgroup ready, hooks, ready|error │ waits on exec.fifo
 *        └─ writes state.json once, exits: the init's parent is now the caller's
 *           subreaper (conmon, containerd's shim), which reaps it
 *   skiff start: opens exec.fifo ──────────────────────────> execve(process.args)
 * `run` (foreground, or --detach without a monitor) does both in one process: no
 * exec.fifo; state.json is written and SYNC_START queued on the sync socket while the
 * init sets up (quick handshake), so the init execs at READY.
 *
 * skiff's docker-style verbs and the agent (opts->monitor):
 *   skiff run IMAGE ──fork──> monitor ──clone3──> init   (same handshake)
 * The monitor (monitor.c) is a fork of skiff, not a re-exec: one exec less per
 * container start.  It outlives the skiff that forked it, reaps the init, records its
 * exit in the state dir, restarts it by its policy.  `run` without --detach is its own
 * monitor. */
#ifndef SKIFF_CONTAINER_H
#define SKIFF_CONTAINER_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include "spec.h"
#include "state.h"
#include "net.h"
#include "proxy.h"
#include "cgroup.h"
#include "trace.h"

/* docker's --restart: what the monitor does when the init exits (restart.c). */
enum container_restart_policy
{
  CONTAINER_RESTART_NO,
  CONTAINER_RESTART_ALWAYS,
  CONTAINER_RESTART_ON_FAILURE,
  CONTAINER_RESTART_UNLESS_STOPPED,
};
struct container_restart
{
  enum container_restart_policy policy;
  int max_retries; /* on-failure:N; 0 = no limit */
};

struct container_publish
{
  char *host_ip; /* NULL: every address */
  int host_port, container_port;
};

struct container_opts
{
  const char *root; /* state root */
  const char *id;
  const char *bundle;         /* directory holding config.json (made absolute inside) */
  const char *pid_file;       /* create/run: write the init pid here */
  const char *console_socket; /* AF_UNIX socket path receiving the pty master */
  const int *console_fd;      /* or a connected AF_UNIX socket for it (run -t IMAGE) */
  int preserve_fds;           /* fds 3 .. 3+n-1 pass into the container */
  bool detach;                /* run: return once started */
  bool keep;                  /* run: keep the state after exit */
  /* set by `skiff run IMAGE` style front ends: a spec already in memory (else the
     bundle's config.json is read).  Borrowed. */
  const struct skiff_spec *spec;
  const char *spec_json; /* its JSON text, stored with the state (exec reads it) */

  /* The image front end (managed.c) adds these; all optional. */
  const char *overlay_lower; /* "top:...:bottom" layer dirs: rootfs becomes an overlay */
  const char *overlay_upper, *overlay_work;
  const struct net_bridge_config *net; /* attach eth0 on the bridge with net_ip */
  const char *net_ip;
  bool net_loopback; /* --net none: bring lo up */
  const struct container_publish *ports;
  size_t n_ports;
  const char *log_path; /* detached: stdout+stderr go through the monitor into this file */
  long long log_max;    /* rotate the log at this size; 0: SKIFF_LOG_MAX */

  /* A monitor (monitor.c) between the caller and the init: skiff's docker-style verbs and
   * the agent, where skiff is the engine.  Without one (the OCI verbs) the init's parent
   * is the caller, or its subreaper once create returns, as with runc: engines reap it.
   * A log, published ports or a restart policy imply a monitor. */
  bool monitor;
  struct container_restart restart; /* the monitor restarts the init by this policy */
};

int container_create(const struct container_opts *opts, struct skiff_err **err);
int container_start(const char *root, const char *id, struct skiff_err **err);
/* Foreground: *exit_code is the container's (128+signal if killed).  Detached: 0. */
int container_run(const struct container_opts *opts, int *exit_code, struct skiff_err **err);
int container_kill(const char *root, const char *id, int sig, bool all, struct skiff_err **err);
int container_delete(const char *root, const char *id, bool force, struct skiff_err **err);

struct container_exec_opts
{
  /* runc's `exec --process FILE`: the whole process (args, env, cwd, user, caps,
     terminal...) instead of the saved spec's with the overrides below.  Borrowed. */
  const struct skiff_process *process;
  const char *console_socket; /* process.terminal: the pty master goes there */
  char **args;                /* command and arguments */
  char **env;                 /* extra K=V, appended to the spec's */
  const char *cwd;            /* overrides process.cwd */
  const char *user;           /* "uid[:gid]" overrides process.user */
  bool detach;
  const char *pid_file;
  int preserve_fds;
  bool tty; /* a host pty as the process's terminal, proxied to our stdin/stdout */
};
/* A failure to start the process (not found, not executable, a bad cwd) is an error
 * with status ENOENT/EACCES...: `skiff exec` exits 127 or 126 for it, as docker. */
int container_exec(const char *root, const char *id, const struct container_exec_opts *eo,
                   int *exit_code, struct skiff_err **err);

/* runc's pause/resume: freeze or thaw every process of a running (paused) container;
 * `state` then says "paused". */
int container_set_paused(const char *root, const char *id, bool pause, struct skiff_err **err);
/* runc's update: apply new cgroup limits (memory, cpu, pids, unified; not devices) to a
 * live container. */
int container_update(const char *root, const char *id, const struct skiff_resources *r,
                     struct skiff_err **err);
/* The container's cgroup accounting, and its status. */
int container_stats(const char *root, const char *id, struct cgroup_stats *s,
                    enum skiff_status *status, struct skiff_err **err);

/* pids of every process of the container (host pid namespace). */
int container_pids(const char *root, const char *id, pid_t **pids, size_t *n,
                   struct skiff_err **err);

/* The config.json copy kept in the state dir (what create used). */
int container_load_saved_spec(const char *root, const char *id, struct skiff_spec **spec,
                              struct skiff_err **err);

/* Signals a foreground skiff passes on to its container: block them (and SIGCHLD) and
 * return the set; then container_wait_forwarding() relays them until pid exits and
 * returns its wait status.  Other children are reaped on the way. */
void container_block_forwarded(sigset_t *fwd, sigset_t *old);
int container_wait_forwarding(pid_t pid, const sigset_t *fwd);

/* ---- internal, shared by container.c, init.c, monitor.c, exec.c ---- */

/* Messages on the sync socket between the parent (monitor or `run`) and the init. */
enum sync_msg
{
  SYNC_MAPPED = 'M',  /* parent -> init: id maps written, cgroup joined */
  SYNC_NSREADY = 'N', /* init -> parent: namespaces joined, run the runtime hooks */
  SYNC_GO = 'G',      /* parent -> init: hooks done; payload: state JSON */
  SYNC_READY = 'R',   /* init -> parent: waiting on the exec fifo (or for SYNC_START) */
  SYNC_START = 'S',   /* parent -> init: exec now (a foreground run: no exec fifo) */
  SYNC_ERROR = 'E',   /* init -> parent: payload: the error message */
};
#define SYNC_MAX 65536

int sync_send(int fd, char type, const char *payload, struct skiff_err **err);
/* Receive one message; *payload malloc'd (may be empty string). */
int sync_recv(int fd, char *type, char **payload, struct skiff_err **err);

struct init_args
{
  const struct skiff_spec *spec;
  const char *rootfs; /* absolute */
  int sync_fd;        /* init's end */
  int fifo_fd;        /* O_PATH fd of exec.fifo, or -1 (no wait) */
  int console_fd;     /* connected console socket, or -1 */
  int preserve_fds;
  int new_cgroupns;        /* unshare CLONE_NEWCGROUP after the cgroup join */
  int new_userns;          /* cloned into a new user namespace */
  const void *seccomp_bpf; /* compiled filter from the cache, or NULL: compile */
  size_t seccomp_bpf_len;
  const char *overlay_data;    /* "lowerdir=..,upperdir=..,workdir=.." or NULL */
  int stdio_fd;                /* >= 0: stdout+stderr to it, stdin from /dev/null */
  struct skiff_cgroup *cgroup; /* v1: the init joins this cgroup itself, first thing */
  bool born_in_cgroup2;
  /* The parent has nothing to do between clone3 and READY (container_quick_handshake):
     no MAPPED / NSREADY / GO exchange, the init goes straight on. */
  bool quick;
  /* A run (foreground, or --detach without a monitor): after READY the init waits for
     SYNC_START on sync_fd, not on an exec fifo (one message instead of a fifo to make,
     open, poll and remove); with the quick handshake that message is usually queued
     already (container.c: early_state), so the init execs at once. */
  bool release_on_sync;
  bool loopback_up; /* --net none: bring lo of the new network namespace up */
  int lock_fd;      /* the creator's state lock: closed first thing (never held by the init) */
};
/* The container init: never returns (execs or _exits after reporting the error). */
void init_main(const struct init_args *a) __attribute__((noreturn));

/* Resolve argv[0] against PATH from env, as execvp would, inside the current root.
 * Returns malloc'd path or NULL with *err. */
char *init_find_executable(const char *file, char **env, struct skiff_err **err);

/* chdir to cwd resolved inside the current root (openat2 RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS); a cwd leading outside is refused (CVE-2024-21626).  Used by
 * the init and by the child of `skiff exec`. */
int init_enter_cwd(const char *cwd, struct skiff_err **err);

/* Append to a log file, rotating it to <path>.1 when it would pass max bytes.  Pure
 * arithmetic lives in monitor_log_should_rotate (unit tested). */
int monitor_log_should_rotate(long long current_size, size_t incoming, long long max);
#define SKIFF_LOG_MAX (10 * 1024 * 1024)

#endif
