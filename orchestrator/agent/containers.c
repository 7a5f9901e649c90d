/* containers.c - the runtime side of the sync loop (the kubelet's PLEG and runtime manager, in
 * small): at start, a record for every container left in --root (adoption: running ones are
 * watched again, dead ones removed or restarted, leftovers of a killed create cleaned);
 * exits seen through a pidfd of each container's monitor, read from the state dir with the
 * cgroup's OOM count; the runtime helper's answers to run and remove; a new helper when the
 * old one dies; and the removal of logs past their retention. */
#include "sync.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "cgroup.h"
#include "model.h"
#include "net.h"
#include "state.h"

static int pidfd_of(pid_t pid)
{
  return pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
}

/* Is pid still the monitor of the container?  (It has no start time in the state.)  A fresh
 * monitor is a fork of the runtime helper and carries its name until it renames itself. */
static bool is_monitor(pid_t pid)
{
  char path[64], comm[32] = "";
  snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
  cleanup_file FILE *f = fopen(path, "re");
  return f && fgets(comm, sizeof(comm), f)
         && (strncmp(comm, "skiff-monitor", 13) == 0 || strncmp(comm, "skiff-runtime", 13) == 0);
}

bool containers_watch(struct replica *r)
{
  if (r->pidfd >= 0)
    close(r->pidfd);
  r->pidfd = -1;
  r->watching_init = false;
  /* the monitor exits after it recorded the exit and let go of the veth and the lease:
   * only then may the same name be created again */
  if (r->monitor_pid > 0)
    {
      int fd = pidfd_of(r->monitor_pid);
      if (fd >= 0 && is_monitor(r->monitor_pid))
        {
          r->pidfd = fd;
          return true;
        }
      if (fd >= 0)
        close(fd);
    }
  int fd = pidfd_of(r->init_pid);
  if (fd >= 0 && state_pid_alive(r->init_pid, r->init_start))
    {
      r->pidfd = fd;
      r->watching_init = true;
      return true;
    }
  if (fd >= 0)
    close(fd);
  return false;
}

static const char *annotation(char **kv, const char *key)
{
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
    if (strcmp(kv[i], key) == 0)
      return kv[i + 1];
  return NULL;
}

/* Read the exit the monitor recorded, and whether the OOM killer did it. */
static void read_exit(struct sync_loop *l, struct replica *r)
{
  cleanup_state struct skiff_state *st = NULL;
  memset(&r->exit, 0, sizeof(r->exit));
  r->exit.code = -1;
  if (state_load(l->node->state_root, r->name, &st, NULL) == 0)
    {
      if (st->has_exit)
        {
          r->exit.known = true;
          r->exit.code = st->exit_code;
        }
      struct skiff_cgroup *cg = NULL;
      unsigned long long ooms = 0;
      if (st->cgroup_path && cgroup_new(st->cgroup_path, &cg, NULL) == 0)
        {
          r->exit.oom = cgroup_oom_kills(cg, &ooms, NULL) == 0 && ooms > 0;
          cgroup_free(cg);
        }
    }
  r->exit.liveness = r->liveness_failed;
  r->has_exit = true;
  long long mem = model_memory_bytes(
      json_object_get(json_object_get(json_object_get(r->obj, "spec"), "resources"), "memory"));
  free(r->exit_reason);
  r->exit_reason = agent_exit_reason(&r->exit, mem, r->liveness_failed ? r->live_msg : NULL);
}

void containers_exited(struct sync_loop *l, struct replica *r, double now)
{
  close(r->pidfd);
  r->pidfd = -1;
  if (!r->watching_init && state_pid_alive(r->init_pid, r->init_start))
    {
      /* the monitor alone died (killed): watch the init itself; nobody records its exit */
      int fd = pidfd_of(r->init_pid);
      if (fd >= 0)
        {
          r->pidfd = fd;
          r->watching_init = true;
          return;
        }
    }
  if (r->phase != AGENT_RUNNING && r->phase != AGENT_STOPPING)
    return;
  read_exit(l, r);
  r->phase = AGENT_EXITED;
  r->exit_decided = false;
  r->leftover = false;
  r->ready.ok = false;
  (void)now;
}

static void now_running(struct replica *r, double now, bool adopted)
{
  r->phase = AGENT_RUNNING;
  r->started = now;
  r->instance++;
  r->state = "Running";
  r->liveness_failed = false;
  r->probe_req[0] = r->probe_req[1] = 0;
  if (r->has_live)
    agent_probe_start(&r->live, &r->live_spec, false, now, adopted, true);
  if (r->has_ready)
    agent_probe_start(&r->ready, &r->ready_spec, true, now, adopted, false);
}

void containers_answer(struct sync_loop *l, struct replica *r, json_t *reply, double now)
{
  bool ok = json_is_true(json_object_get(reply, "ok"));
  const char *error = model_str(reply, "error", "failed");
  r->req = 0;
  if (r->phase == AGENT_STARTING && r->pulling)
    {
      const char *image = model_str(json_object_get(r->obj, "spec"), "image", "");
      r->pulling = false;
      if (ok)
        {
          sync_set_reason(r, xstrdup(""));
          sync_run(l, r); /* pulled: on to the run (the helper gone: re-read at its loss) */
          return;
        }
      r->phase = AGENT_DONE;
      r->state = "Failed";
      sync_set_reason(r,
                      xasprintf("pull image \"%s\" on node %s: %s", image, l->node->name, error));
      agent_log("replica %s: %s", r->name, r->reason);
      return;
    }
  if (r->phase == AGENT_STARTING)
    {
      if (!ok)
        {
          /* could not start (no such image, command not found...): Failed, and the server
           * replaces it with back-off (API.md); the agent never retries a bad replica alone */
          r->phase = AGENT_DONE;
          r->state = "Failed";
          sync_set_reason(r, xstrdup(error));
          agent_log("replica %s: %s", r->name, error);
          return;
        }
      r->init_pid = (pid_t)json_integer_value(json_object_get(reply, "pid"));
      r->monitor_pid = (pid_t)json_integer_value(json_object_get(reply, "monitor"));
      r->init_start = state_proc_start_time(r->init_pid);
      free(r->ip);
      r->ip = xstrdup(model_str(reply, "ip", ""));
      now_running(r, now, false);
      sync_running_reason(r);
      if (!containers_watch(r))
        {
          /* it ended before we looked: the exit is in its state dir */
          read_exit(l, r);
          r->phase = AGENT_EXITED;
          r->exit_decided = false;
        }
      return;
    }
  if (r->phase == AGENT_REMOVING)
    {
      if (!ok)
        agent_log("remove replica %s: %s", r->name, error);
      r->phase = AGENT_NONE;
      r->exit_decided = false;
      if (r->after == AFTER_DONE)
        r->phase = AGENT_DONE;
      else if (r->after != AFTER_RESTART)
        r->not_before = 0;
      r->after = AFTER_NOTHING;
    }
}

/* One container found in --root at start (or re-read after the helper died). */
static void adopt_one(struct sync_loop *l, const char *name, double now)
{
  struct replica *r = sync_find(l, name);
  if (r == NULL)
    r = sync_add(l, name);
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(l->node->state_root, name, &st, NULL) < 0)
    {
      /* only a data dir or a lease: a create killed half-way; remove what is left */
      r->phase = AGENT_EXITED;
      r->leftover = true;
      r->has_exit = false;
      r->exit_decided = false;
      return;
    }
  enum skiff_status s = state_status(l->node->state_root, st);
  const char *ip = annotation(st->annotations, "org.skiff.net.ip");
  free(r->ip);
  r->ip = ip ? xstrdup(ip) : NULL;
  r->init_pid = st->pid;
  r->init_start = st->start_time;
  r->monitor_pid = st->monitor_pid;
  if (s == SKIFF_STATUS_RUNNING && containers_watch(r))
    {
      now_running(r, now, true);
      return;
    }
  r->phase = AGENT_EXITED;
  r->leftover = true;
  r->exit_decided = false;
  if (s == SKIFF_STATUS_STOPPED && st->has_exit)
    read_exit(l, r); /* it died while no agent watched: an exit like any other */
  else
    r->has_exit = false; /* created, never started: start it afresh */
}

void containers_adopt(struct sync_loop *l)
{
  double now = agent_now();
  size_t running = 0;
  char **ids = state_list_ids(l->node->state_root);
  for (size_t i = 0; ids && ids[i]; i++)
    {
      adopt_one(l, ids[i], now);
      free(ids[i]);
    }
  free(ids);
  /* data dirs and leases without a container: what a create killed half-way left */
  cleanup_free char *base = xasprintf("%s/containers", l->node->data_root);
  cleanup_dir DIR *d = opendir(base);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    if (de->d_name[0] != '.' && sync_find(l, de->d_name) == NULL
        && state_validate_id(de->d_name, NULL) == 0)
      adopt_one(l, de->d_name, now);
  struct net_bridge_config net
      = {.bridge = l->node->bridge, .subnet = l->node->pod_cidr, .state_dir = l->node->net_dir};
  char **owners = NULL;
  if (net_ipam_owners(&net, &owners, NULL) == 0)
    {
      for (size_t i = 0; owners[i]; i++)
        {
          if (sync_find(l, owners[i]) == NULL && state_validate_id(owners[i], NULL) == 0)
            adopt_one(l, owners[i], now);
          free(owners[i]);
        }
      free(owners);
    }
  for (size_t i = 0; i < l->n; i++)
    running += l->reps[i]->phase == AGENT_RUNNING;
  if (l->n)
    agent_log("adopted %zu container%s (%zu running) from %s", l->n, l->n == 1 ? "" : "s", running,
              l->node->root);
}

void containers_helper_lost(struct sync_loop *l, double now)
{
  rt_free(l->rt);
  l->rt = NULL;
  l->rt_retry = now + 1;
  for (size_t i = 0; i < l->n; i++)
    {
      struct replica *r = l->reps[i];
      r->probe_req[0] = r->probe_req[1] = 0;
      r->live.in_flight = r->ready.in_flight = false;
      if (r->phase != AGENT_STARTING && r->phase != AGENT_REMOVING)
        continue;
      /* what became of the request: read the state dir again */
      enum agent_phase was = r->phase;
      r->req = 0;
      cleanup_free char *sd = state_dir(l->node->state_root, r->name);
      cleanup_free char *dd = xasprintf("%s/containers/%s", l->node->data_root, r->name);
      struct stat sb;
      if (stat(sd, &sb) == 0 || stat(dd, &sb) == 0)
        adopt_one(l, r->name, now);
      else if (was == AGENT_STARTING)
        r->phase = AGENT_NONE; /* never made: start again */
      else
        {
          r->phase = r->after == AFTER_DONE ? AGENT_DONE : AGENT_NONE;
          r->after = AFTER_NOTHING;
        }
    }
}

/* REPLICA.log or REPLICA.log.1 -> REPLICA (in buf); false for other names. */
static bool log_owner(const char *file, char *buf, size_t len)
{
  const char *dot = strstr(file, ".log");
  if (dot == NULL || dot == file || (strcmp(dot, ".log") != 0 && strcmp(dot, ".log.1") != 0))
    return false;
  snprintf(buf, len, "%.*s", (int)(dot - file), file);
  return true;
}

void containers_sweep_logs(struct sync_loop *l)
{
  cleanup_dir DIR *d = opendir(l->node->log_dir);
  struct dirent *de;
  time_t now = time(NULL);
  while (d && (de = readdir(d)) != NULL)
    {
      char owner[256];
      struct stat st;
      if (!log_owner(de->d_name, owner, sizeof(owner)) || sync_find(l, owner) != NULL)
        continue;
      if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
          && (double)(now - st.st_mtime) >= l->node->log_retention)
        unlinkat(dirfd(d), de->d_name, 0);
    }
}
