/* state.c - container state on disk (see state.h): state.json, exit.json, the lock. */
#define _GNU_SOURCE
#include "state.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

int state_validate_id(const char *id, struct skiff_err **err)
{
  size_t len = id ? strlen(id) : 0;
  if (len == 0 || len > 1024)
    return skiff_error(err, 0, "invalid container id `%s`: must be 1 to 1024 characters",
                       id ? id : "");
  if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
    return skiff_error(err, 0, "invalid container id `%s`", id);
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
          || *p == '_' || *p == '-' || *p == '.' || *p == '+'))
      return skiff_error(err, 0, "invalid container id `%s`: only [A-Za-z0-9_.+-] allowed", id);
  return 0;
}

char *state_dir(const char *root, const char *id)
{
  return xasprintf("%s/%s", root, id);
}

int state_create_dir(const char *root, const char *id, struct skiff_err **err)
{
  if (skiff_mkdir_p(root, 0700, err) < 0)
    return -1;
  cleanup_free char *dir = state_dir(root, id);
  if (mkdir(dir, 0700) < 0)
    {
      if (errno == EEXIST)
        return skiff_error(err, 0, "container `%s` already exists", id);
      return skiff_error(err, errno, "mkdir `%s`", dir);
    }
  return 0;
}

static json_t *strv_pairs_to_object(char **kv)
{
  json_t *o = json_object();
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
    json_object_set_new(o, kv[i], json_string(kv[i + 1]));
  return o;
}

static char **object_to_strv_pairs(json_t *o)
{
  size_t n = json_is_object(o) ? json_object_size(o) : 0, i = 0;
  char **r = xzalloc((2 * n + 1) * sizeof(char *));
  const char *k;
  json_t *v;
  if (n)
    json_object_foreach(o, k, v)
    {
      if (!json_is_string(v))
        continue;
      r[i++] = xstrdup(k);
      r[i++] = xstrdup(json_string_value(v));
    }
  return r;
}

int state_save(const char *root, const struct skiff_state *st, struct skiff_err **err)
{
  json_t *o
      = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b}", "id", st->id, "bundle",
                  st->bundle ? st->bundle : "", "rootfs", st->rootfs ? st->rootfs : "",
                  "cgroupPath", st->cgroup_path ? st->cgroup_path : "", "created",
                  st->created ? st->created : "", "owner", st->owner ? st->owner : "", "pid",
                  (json_int_t)st->pid, "startTime", (json_int_t)st->start_time, "monitorPid",
                  (json_int_t)st->monitor_pid, "createdDone", st->created_done);
  if (o && st->restart_count)
    json_object_set_new(o, "restartCount", json_integer(st->restart_count));
  if (o && st->restarting)
    json_object_set_new(o, "restarting", json_true());
  if (o == NULL)
    return skiff_error(err, 0, "encode state of `%s`", st->id);
  json_object_set_new(o, "annotations", strv_pairs_to_object(st->annotations));
  if (st->hooks_known)
    {
      json_object_set_new(o, "poststartHooks", json_integer(st->poststart_hooks));
      json_object_set_new(o, "poststopHooks", json_integer(st->poststop_hooks));
    }
  cleanup_free char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  cleanup_free char *path = xasprintf("%s/%s/state.json", root, st->id);
  return skiff_write_file_replace(path, text, strlen(text), 0600, err);
}

static char *dup_str(json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s && *s ? xstrdup(s) : NULL;
}

int state_load(const char *root, const char *id, struct skiff_state **out, struct skiff_err **err)
{
  if (state_validate_id(id, err) < 0)
    return -1;
  cleanup_free char *path = xasprintf("%s/%s/state.json", root, id);
  cleanup_free char *text = NULL;
  if (skiff_read_file(path, &text, NULL, NULL) < 0)
    {
      cleanup_free char *dir = state_dir(root, id);
      struct stat sb;
      if (stat(dir, &sb) < 0)
        return skiff_error(err, 0, "container `%s` does not exist", id);
      /* the dir exists but state.json not yet: a create in its first steps, or one
       * killed there.  Report it as creating so delete can clean it up; its cgroup is
       * the one the config copy names. */
      struct skiff_state *st = xzalloc(sizeof(*st));
      st->id = xstrdup(id);
      st->annotations = xzalloc(sizeof(char *));
      cleanup_free char *cfg = xasprintf("%s/config.json", dir);
      json_t *doc = json_load_file(cfg, 0, NULL);
      const char *cg
          = json_string_value(json_object_get(json_object_get(doc, "linux"), "cgroupsPath"));
      if (cg && *cg && !strchr(cg, ':'))
        st->cgroup_path = cg[0] == '/' ? xstrdup(cg) : xasprintf("/%s", cg);
      json_decref(doc);
      *out = st;
      return 0;
    }
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  if (o == NULL)
    return skiff_error(err, 0, "parse `%s`: %s", path, jerr.text);
  struct skiff_state *st = xzalloc(sizeof(*st));
  st->id = xstrdup(id);
  st->bundle = dup_str(o, "bundle");
  st->rootfs = dup_str(o, "rootfs");
  st->cgroup_path = dup_str(o, "cgroupPath");
  st->created = dup_str(o, "created");
  st->owner = dup_str(o, "owner");
  st->pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
  st->start_time = (unsigned long long)json_integer_value(json_object_get(o, "startTime"));
  st->monitor_pid = (pid_t)json_integer_value(json_object_get(o, "monitorPid"));
  st->restart_count = (int)json_integer_value(json_object_get(o, "restartCount"));
  st->restarting = json_is_true(json_object_get(o, "restarting"));
  st->created_done = json_is_true(json_object_get(o, "createdDone"));
  json_t *pre = json_object_get(o, "poststartHooks"), *post = json_object_get(o, "poststopHooks");
  st->hooks_known = json_is_integer(pre) && json_is_integer(post);
  st->poststart_hooks = st->hooks_known ? (int)json_integer_value(pre) : -1;
  st->poststop_hooks = st->hooks_known ? (int)json_integer_value(post) : -1;
  st->annotations = object_to_strv_pairs(json_object_get(o, "annotations"));
  json_decref(o);

  cleanup_free char *epath = xasprintf("%s/%s/exit.json", root, id);
  cleanup_free char *etext = NULL;
  if (skiff_read_file(epath, &etext, NULL, NULL) == 0)
    {
      json_t *e = json_loads(etext, 0, &jerr);
      if (e)
        {
          st->has_exit = true;
          st->exit_code = (int)json_integer_value(json_object_get(e, "exitCode"));
          st->finished = dup_str(e, "finished");
          json_decref(e);
        }
    }
  *out = st;
  return 0;
}

void state_free(struct skiff_state *st)
{
  if (st == NULL)
    return;
  free(st->id);
  free(st->bundle);
  free(st->rootfs);
  free(st->cgroup_path);
  free(st->created);
  free(st->owner);
  free(st->finished);
  for (size_t i = 0; st->annotations && st->annotations[i]; i++)
    free(st->annotations[i]);
  free(st->annotations);
  free(st);
}

unsigned long long state_proc_start_time(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* comm may contain spaces and parens: skip to the last ')' */
  char *p = strrchr(buf, ')');
  if (p == NULL)
    return 0;
  p += 2; /* field 3, state */
  if (*p == 'Z' || *p == 'X')
    return 0; /* a zombie is not alive */
  for (int field = 3; field < 22 && p; field++)
    {
      p = strchr(p, ' ');
      if (p)
        p++;
    }
  return p ? strtoull(p, NULL, 10) : 0;
}

bool state_pid_alive(pid_t pid, unsigned long long start_time)
{
  if (pid <= 0)
    return false;
  unsigned long long now = state_proc_start_time(pid);
  if (now == 0)
    return false;
  return start_time == 0 || now == start_time;
}

enum skiff_status state_status(const char *root, const struct skiff_state *st)
{
  if (!st->created_done)
    return st->pid > 0 && !state_pid_alive(st->pid, st->start_time) ? SKIFF_STATUS_STOPPED
                                                                    : SKIFF_STATUS_CREATING;
  if (!state_pid_alive(st->pid, st->start_time))
    return SKIFF_STATUS_STOPPED;
  cleanup_free char *fifo = xasprintf("%s/%s/exec.fifo", root, st->id);
  if (access(fifo, F_OK) == 0)
    return SKIFF_STATUS_CREATED;
  struct skiff_cgroup *cg = NULL;
  bool frozen
      = st->cgroup_path && cgroup_new(st->cgroup_path, &cg, NULL) == 0 && cgroup_is_frozen(cg);
  cgroup_free(cg);
  return frozen ? SKIFF_STATUS_PAUSED : SKIFF_STATUS_RUNNING;
}

const char *state_status_name(enum skiff_status s)
{
  static const char *const names[] = {"creating", "created", "running", "stopped", "paused"};
  return names[s];
}

char *state_now_rfc3339(void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ts.tv_nsec);
  return xstrdup(buf);
}

int state_record_exit(const char *root, const char *id, int wait_status, struct skiff_err **err)
{
  int code = WIFEXITED(wait_status)     ? WEXITSTATUS(wait_status)
             : WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status)
                                        : 255;
  cleanup_free char *now = state_now_rfc3339();
  cleanup_free char *text = xasprintf("{\"exitCode\":%d,\"finished\":\"%s\"}", code, now);
  cleanup_free char *path = xasprintf("%s/%s/exit.json", root, id);
  return skiff_write_file_replace(path, text, strlen(text), 0600, err);
}

char *state_oci_json(const char *root, const struct skiff_state *st)
{
  enum skiff_status s = state_status(root, st);
  json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "ociVersion", SKIFF_OCI_VERSION, "id", st->id,
                        "status", state_status_name(s), "pid",
                        (json_int_t)(s == SKIFF_STATUS_STOPPED ? 0 : st->pid), "bundle",
                        st->bundle ? st->bundle : "");
  json_object_set_new(o, "rootfs", json_string(st->rootfs ? st->rootfs : ""));
  json_object_set_new(o, "created", json_string(st->created ? st->created : ""));
  json_object_set_new(o, "owner", json_string(st->owner ? st->owner : "root"));
  json_object_set_new(o, "annotations", strv_pairs_to_object(st->annotations));
  if (st->has_exit)
    json_object_set_new(o, "exitCode", json_integer(st->exit_code));
  char *text = json_dumps(o, JSON_INDENT(2));
  json_decref(o);
  return text;
}

const char *state_hook_status(enum skiff_hook_kind kind)
{
  switch (kind)
    {
      case SKIFF_HOOK_START_CONTAINER:
        return "created";
      case SKIFF_HOOK_POSTSTART:
        return "running";
      case SKIFF_HOOK_POSTSTOP:
        return "stopped";
      default:
        return "creating";
    }
}

char *state_hook_json(const struct skiff_state *st, enum skiff_hook_kind kind)
{
  /* one field at a time: a bundle path that is not UTF-8 is left out, not fatal */
  json_t *o = json_object();
  json_object_set_new(o, "ociVersion", json_string(SKIFF_OCI_VERSION));
  json_object_set_new(o, "id", json_string(st->id));
  json_object_set_new(o, "status", json_string(state_hook_status(kind)));
  if (kind != SKIFF_HOOK_POSTSTOP && st->pid > 0)
    json_object_set_new(o, "pid", json_integer(st->pid));
  json_object_set_new(o, "bundle", json_string(st->bundle ? st->bundle : ""));
  json_object_set_new(o, "annotations", strv_pairs_to_object(st->annotations));
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

char *state_json_with_status(const char *json, const char *status)
{
  json_t *o = json_loads(json, 0, NULL);
  if (!json_is_object(o))
    {
      json_decref(o);
      return NULL;
    }
  json_object_set_new(o, "status", json_string(status));
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

int state_lock(const char *root, const char *id, struct skiff_err **err)
{
  cleanup_free char *dir = state_dir(root, id);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return skiff_error(err, 0, "container `%s` does not exist", id);
      return skiff_error(err, errno, "open `%s`", dir);
    }
  if (flock(fd, LOCK_EX) < 0)
    {
      int saved = errno;
      close(fd);
      return skiff_error(err, saved, "lock `%s`", dir);
    }
  /* a delete that held the lock before us removed the dir: nothing left to lock */
  struct stat sb;
  if (fstat(fd, &sb) == 0 && sb.st_nlink == 0)
    {
      close(fd);
      return skiff_error(err, 0, "container `%s` does not exist", id);
    }
  return fd;
}

int state_mark_stopped(const char *root, const char *id, bool clear, struct skiff_err **err)
{
  cleanup_free char *path = xasprintf("%s/%s/stopped-by-user", root, id);
  if (clear)
    return unlink(path) < 0 && errno != ENOENT ? skiff_error(err, errno, "unlink `%s`", path) : 0;
  return skiff_write_file_atomic(path, "", 0, 0600, err);
}

bool state_stopped_by_user(const char *root, const char *id)
{
  cleanup_free char *path = xasprintf("%s/%s/stopped-by-user", root, id);
  return access(path, F_OK) == 0;
}

void state_set_restarting(const char *root, const char *id, bool restarting)
{
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, NULL) < 0 || st->restarting == restarting || !st->created_done)
    return;
  st->restarting = restarting;
  state_save(root, st, NULL);
}

int state_remove(const char *root, const char *id, struct skiff_err **err)
{
  cleanup_free char *dir = state_dir(root, id);
  /* a monitor that is just recording the exit may add exit.json while we remove the
     dir: try again briefly rather than leave a half-removed container */
  for (int attempt = 0; attempt < 50; attempt++)
    {
      struct skiff_err *tmp = NULL;
      if (skiff_rm_rf(dir, &tmp) == 0)
        return 0;
      if (tmp->status != ENOTEMPTY || attempt == 49)
        {
          *err = tmp;
          return -1;
        }
      skiff_err_free(&tmp);
      usleep(10000);
    }
  return 0;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char **state_list_ids(const char *root)
{
  size_t n = 0, cap = 16;
  char **r = xmalloc(cap * sizeof(char *));
  cleanup_dir DIR *d = opendir(root);
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    {
      if (de->d_name[0] == '.' || state_validate_id(de->d_name, NULL) < 0)
        continue;
      if (n + 2 > cap)
        r = xrealloc(r, (cap *= 2) * sizeof(char *));
      r[n++] = xstrdup(de->d_name);
    }
  qsort(r, n, sizeof(char *), cmp_str);
  r[n] = NULL;
  return r;
}
