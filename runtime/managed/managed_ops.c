/* managed_ops.c - stop, rm, logs, inspect and network release for containers run from
 * images (see managed.h). */
#define _GNU_SOURCE
#include "managed_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

const char *managed_annotation(char **kv, const char *key)
{
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
    if (strcmp(kv[i], key) == 0)
      return kv[i + 1];
  return NULL;
}

void managed_release_network(char **annotations)
{
  const char *net = managed_annotation(annotations, "org.skiff.net");
  const char *id_dir = managed_annotation(annotations, "org.skiff.managed");
  if (net == NULL || strcmp(net, "bridge") != 0 || id_dir == NULL)
    return;
  const char *slash = strrchr(id_dir, '/');
  const char *id = slash ? slash + 1 : id_dir;
  struct net_bridge_config cfg
      = {.bridge = managed_annotation(annotations, "org.skiff.net.bridge"),
         .subnet = managed_annotation(annotations, "org.skiff.net.subnet"),
         .state_dir = managed_annotation(annotations, "org.skiff.net.state")};
  net_detach(id, NULL);
  net_ipam_release(&cfg, id, NULL);
}

int managed_stop(const char *state_root, const char *name, int timeout, struct skiff_err **err)
{
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(state_root, name, &st, err) < 0)
    return -1;
  /* first, so that the monitor restarts nothing from here on, whatever its policy */
  if (state_mark_stopped(state_root, name, false, err) < 0)
    return -1;
  enum skiff_status s = state_status(state_root, st);
  if (s == SKIFF_STATUS_STOPPED)
    return 0;
  if (s == SKIFF_STATUS_PAUSED)
    container_set_paused(state_root, name, false, NULL); /* a frozen process gets no TERM */
  if (s == SKIFF_STATUS_CREATED || container_kill(state_root, name, SIGTERM, false, NULL) < 0)
    timeout = 0;
  long long deadline = skiff_now_ms() + timeout * 1000LL;
  while (state_pid_alive(st->pid, st->start_time) && skiff_now_ms() < deadline)
    poll(NULL, 0, 20);
  if (state_pid_alive(st->pid, st->start_time))
    {
      container_kill(state_root, name, SIGKILL, true, NULL);
      kill(st->pid, SIGKILL);
      deadline = skiff_now_ms() + 5000;
      while (state_pid_alive(st->pid, st->start_time) && skiff_now_ms() < deadline)
        poll(NULL, 0, 5);
    }
  /* wait for the monitor to record the exit, so `ps -a` shows it right away */
  for (int i = 0; i < 200; i++)
    {
      cleanup_state struct skiff_state *s2 = NULL;
      if (state_load(state_root, name, &s2, NULL) < 0 || s2->has_exit)
        break;
      poll(NULL, 0, 5);
    }
  return 0;
}

int managed_remove(const char *state_root, const char *store, const char *name, bool force,
                   struct skiff_err **err)
{
  cleanup_state struct skiff_state *st = NULL;
  cleanup_free char *dir = NULL;
  if (state_load(state_root, name, &st, NULL) == 0)
    {
      const char *d = managed_annotation(st->annotations, "org.skiff.managed");
      dir = d ? xstrdup(d) : NULL;
      enum skiff_status s = state_status(state_root, st);
      if (!force && (s == SKIFF_STATUS_RUNNING || s == SKIFF_STATUS_PAUSED || st->restarting))
        return skiff_error(err, 0, "container `%s` is %s: stop it first or use rm -f", name,
                           st->restarting ? "restarting" : state_status_name(s));
      /* a monitor waiting to restart it must not bring it back under delete's feet */
      state_mark_stopped(state_root, name, false, NULL);
      if (container_delete(state_root, name, true, err) < 0)
        return -1;
    }
  else
    {
      cleanup_free char *d = xasprintf("%s/containers/%s", store, name);
      struct stat sb;
      if (state_validate_id(name, err) < 0)
        return -1;
      if (stat(d, &sb) < 0)
        return skiff_error(err, 0, "no such container `%s`", name);
      dir = steal_pointer(&d);
    }
  return dir ? skiff_rm_rf(dir, err) : 0;
}

int managed_data_dir(const char *state_root, const char *store, const char *name, char **dir,
                     struct skiff_err **err)
{
  if (state_validate_id(name, err) < 0)
    return -1;
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(state_root, name, &st, NULL) == 0)
    {
      const char *d = managed_annotation(st->annotations, "org.skiff.managed");
      if (d)
        {
          *dir = xstrdup(d);
          return 0;
        }
    }
  *dir = xasprintf("%s/containers/%s", store, name);
  struct stat sb;
  if (stat(*dir, &sb) < 0)
    {
      free(*dir);
      *dir = NULL;
      return skiff_error(err, 0, "no such container `%s`", name);
    }
  return 0;
}

int managed_logs(const char *state_root, const char *store, const char *name, bool follow, int out,
                 struct skiff_err **err)
{
  cleanup_free char *dir = NULL;
  if (managed_data_dir(state_root, store, name, &dir, err) < 0)
    return -1;
  cleanup_free char *path = xasprintf("%s/container.log", dir);
  cleanup_free char *old = xasprintf("%s.1", path);
  cleanup_close int ofd = open(old, O_RDONLY | O_CLOEXEC);
  char buf[65536];
  ssize_t n;
  while (ofd >= 0 && (n = read(ofd, buf, sizeof(buf))) > 0)
    skiff_write_all(out, buf, (size_t)n);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 0; /* a foreground container keeps no log */
      return skiff_error(err, errno, "open `%s`", path);
    }
  for (;;)
    {
      while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (skiff_write_all(out, buf, (size_t)n) < 0)
          return 0; /* reader went away */
      if (!follow)
        return 0;
      cleanup_state struct skiff_state *st = NULL;
      if (state_load(state_root, name, &st, NULL) < 0
          || state_status(state_root, st) == SKIFF_STATUS_STOPPED)
        {
          /* drain what the monitor wrote last */
          while ((n = read(fd, buf, sizeof(buf))) > 0)
            skiff_write_all(out, buf, (size_t)n);
          return 0;
        }
      struct stat a, b;
      /* rotated underneath us: switch to the new file */
      if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino != b.st_ino)
        {
          close(fd);
          fd = open(path, O_RDONLY | O_CLOEXEC);
          if (fd < 0)
            return 0;
        }
      poll(NULL, 0, 100);
    }
}

json_t *managed_load_meta(const char *dir)
{
  cleanup_free char *p = xasprintf("%s/meta.json", dir);
  return json_load_file(p, 0, NULL);
}

char *managed_inspect(const char *state_root, const char *store, const char *name,
                      struct skiff_err **err)
{
  cleanup_free char *dir = NULL;
  if (managed_data_dir(state_root, store, name, &dir, err) < 0)
    return NULL;
  json_t *m = managed_load_meta(dir);
  if (m == NULL)
    m = json_object();
  cleanup_state struct skiff_state *st = NULL;
  json_t *state = json_object();
  if (state_load(state_root, name, &st, NULL) == 0)
    {
      enum skiff_status s = state_status(state_root, st);
      json_object_set_new(state, "status", json_string(state_status_name(s)));
      json_object_set_new(state, "pid",
                          json_integer(s == SKIFF_STATUS_STOPPED ? 0 : (json_int_t)st->pid));
      if (st->has_exit)
        {
          json_object_set_new(state, "exitCode", json_integer(st->exit_code));
          json_object_set_new(state, "finished", json_string(st->finished ? st->finished : ""));
        }
      json_object_set_new(state, "cgroupPath", json_string(st->cgroup_path ? st->cgroup_path : ""));
      json_object_set_new(state, "restartCount", json_integer(st->restart_count));
      json_object_set_new(state, "restarting", json_boolean(st->restarting));
    }
  else
    json_object_set_new(state, "status", json_string("removed"));
  json_object_set_new(m, "state", state);
  json_object_set_new(m, "bundle", json_string(dir));
  cleanup_free char *log = xasprintf("%s/container.log", dir);
  json_object_set_new(m, "logPath", json_string(log));
  char *text = json_dumps(m, JSON_INDENT(2));
  json_decref(m);
  return text;
}
