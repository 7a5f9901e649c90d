/* cgroup.c - the one cgroup interface: layout detection, the handle, path logic.
 *
 * Owns the parsed view of /proc/self/mountinfo (read once per process and cached),
 * the choice between the v1 and v2 backends (cgroup_v1.c, cgroup_v2.c fill a struct
 * cgroup_ops), the container's directories in each hierarchy, and the pure helpers
 * that convert OCI values to cgroup v2 files.  A hybrid host (v1 controllers plus a
 * cgroup2 mount, which may even hold a controller such as hugetlb) is driven as v1;
 * the container also gets a directory in the cgroup2 hierarchy, as runc does. */
#define _GNU_SOURCE
#include "cgroup.h"
#include "cgroup_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

/* v1 controller names the parser recognises (other mount options are skipped). */
static const struct
{
  const char *name;
  unsigned mask;
} v1_controllers[] = {
    {"cpu", CGROUP_CTRL_CPU},
    {"cpuacct", 0},
    {"cpuset", CGROUP_CTRL_CPUSET},
    {"memory", CGROUP_CTRL_MEMORY},
    {"devices", CGROUP_CTRL_DEVICES},
    {"freezer", CGROUP_CTRL_FREEZER},
    {"pids", CGROUP_CTRL_PIDS},
    {"blkio", 0},
    {"net_cls", 0},
    {"net_prio", 0},
    {"perf_event", 0},
    {"hugetlb", 0},
    {"rdma", 0},
    {"misc", 0},
    {"debug", 0},
};

struct mounted_hier
{
  char *controllers;
  unsigned mask;
  bool named_only; /* only a name= hierarchy (name=systemd), no controller */
  bool whole;      /* mounted from the hierarchy's root ("/" in mountinfo) */
  char *mount;
};

/* The cached layout.  Guarded by layout_lock: the agent may create containers from
 * more than one thread. */
static struct
{
  bool loaded;
  int load_errno; /* reading /proc/self/mountinfo failed */
  enum cgroup_mode mode;
  struct mounted_hier *v1;
  size_t n_v1;
  char *unified; /* cgroup2 mount point, or NULL */
  bool unified_whole;
} layout;
static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;

static void layout_clear(void)
{
  for (size_t i = 0; i < layout.n_v1; i++)
    {
      free(layout.v1[i].controllers);
      free(layout.v1[i].mount);
    }
  free(layout.v1);
  free(layout.unified);
  memset(&layout, 0, sizeof(layout));
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_mount_path(const char *s)
{
  char *out = xmalloc(strlen(s) + 1), *o = out;
  while (*s)
    {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
          && s[3] <= '7')
        {
          *o++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
          s += 4;
        }
      else
        *o++ = *s++;
    }
  *o = '\0';
  return out;
}

/* From the super options of a v1 mount ("rw,cpu,cpuacct"), keep the controller names
 * and name=...; NULL when the mount holds none. */
static char *v1_controllers_of(const char *superopts, unsigned *mask, bool *named_only)
{
  cleanup_free char *copy = xstrdup(superopts);
  char *save = NULL, *out = NULL;
  bool has_controller = false;
  *mask = 0;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    {
      bool keep = strncmp(tok, "name=", 5) == 0;
      for (size_t i = 0; !keep && i < sizeof(v1_controllers) / sizeof(v1_controllers[0]); i++)
        if (strcmp(tok, v1_controllers[i].name) == 0)
          {
            keep = has_controller = true;
            *mask |= v1_controllers[i].mask;
          }
      if (!keep)
        continue;
      char *joined = out ? xasprintf("%s,%s", out, tok) : xstrdup(tok);
      free(out);
      out = joined;
    }
  *named_only = out != NULL && !has_controller;
  return out;
}

static void parse_mountinfo_line(char *line)
{
  char *fields[64];
  size_t n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(line, " ", &save); tok && n < 64; tok = strtok_r(NULL, " ", &save))
    fields[n++] = tok;
  /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
  size_t sep = 6;
  while (sep < n && strcmp(fields[sep], "-") != 0)
    sep++;
  if (n < 7 || sep + 1 >= n)
    return;
  const char *fstype = fields[sep + 1];
  const char *superopts = sep + 3 < n ? fields[sep + 3] : "";
  /* A hierarchy can be mounted more than once (bind mounts of a subtree show a root
   * other than "/"): the first mount of its root wins, else the first mount. */
  bool whole = strcmp(fields[3], "/") == 0;
  if (strcmp(fstype, "cgroup2") == 0)
    {
      if (layout.unified == NULL || (whole && !layout.unified_whole))
        {
          free(layout.unified);
          layout.unified = unescape_mount_path(fields[4]);
          layout.unified_whole = whole;
        }
      return;
    }
  if (strcmp(fstype, "cgroup") != 0)
    return;
  unsigned mask = 0;
  bool named_only = false;
  char *controllers = v1_controllers_of(superopts, &mask, &named_only);
  if (controllers == NULL)
    return;
  for (size_t i = 0; i < layout.n_v1; i++)
    if (strcmp(layout.v1[i].controllers, controllers) == 0)
      {
        if (whole && !layout.v1[i].whole)
          {
            free(layout.v1[i].mount);
            layout.v1[i].mount = unescape_mount_path(fields[4]);
            layout.v1[i].whole = true;
          }
        free(controllers);
        return;
      }
  layout.v1 = xrealloc(layout.v1, (layout.n_v1 + 1) * sizeof(*layout.v1));
  layout.v1[layout.n_v1++] = (struct mounted_hier){
      .controllers = controllers,
      .mask = mask,
      .named_only = named_only,
      .whole = whole,
      .mount = unescape_mount_path(fields[4]),
  };
}

/* Parse the whole text; any v1 hierarchy with a real controller makes the host v1
 * (hybrid included).  A lone name=systemd v1 mount next to cgroup2 is a v2 host. */
static void layout_parse(const char *text)
{
  cleanup_free char *copy = xstrdup(text);
  char *save = NULL;
  layout_clear();
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
    parse_mountinfo_line(line);
  bool has_v1_controller = false;
  for (size_t i = 0; i < layout.n_v1; i++)
    has_v1_controller |= !layout.v1[i].named_only;
  layout.mode = has_v1_controller ? CGROUP_MODE_V1 : CGROUP_MODE_V2;
  layout.loaded = true;
}

static void layout_load_locked(void)
{
  if (layout.loaded)
    return;
  cleanup_free char *text = NULL;
  cleanup_err struct skiff_err *err = NULL;
  if (skiff_read_file("/proc/self/mountinfo", &text, NULL, &err) < 0)
    {
      layout_clear();
      layout.loaded = true;
      layout.load_errno = err->status ? err->status : EIO;
      layout.mode = CGROUP_MODE_V2;
      return;
    }
  layout_parse(text);
}

void cgroup_set_mountinfo_for_tests(const char *mountinfo_text)
{
  pthread_mutex_lock(&layout_lock);
  layout_clear();
  if (mountinfo_text)
    layout_parse(mountinfo_text);
  pthread_mutex_unlock(&layout_lock);
}

char **cgroup_v1_mount_options(void)
{
  pthread_mutex_lock(&layout_lock);
  layout_load_locked();
  char **out = NULL;
  if (layout.load_errno == 0)
    {
      out = xzalloc((layout.n_v1 + 1) * sizeof(char *));
      for (size_t i = 0; i < layout.n_v1; i++)
        out[i] = xstrdup(layout.v1[i].controllers);
    }
  pthread_mutex_unlock(&layout_lock);
  return out;
}

enum cgroup_mode cgroup_detect_mode(void)
{
  pthread_mutex_lock(&layout_lock);
  layout_load_locked();
  enum cgroup_mode mode = layout.mode;
  pthread_mutex_unlock(&layout_lock);
  return mode;
}

/* ---- path logic (pure) ---- */

/* Validate and normalise a cgroup path: absolute, no "." or ".." component, no empty
 * components ("/a//b/" -> "/a/b"). */
static int normalize_path(const char *rel, char **out, struct skiff_err **err)
{
  if (rel == NULL || *rel == '\0')
    return skiff_error(err, EINVAL, "cgroup path ``: empty");
  if (rel[0] != '/')
    return skiff_error(err, EINVAL,
                       "cgroup path `%s`: must be absolute (relative paths and systemd "
                       "`slice:prefix:name` paths are not supported)",
                       rel);
  size_t len = strlen(rel);
  char *norm = xmalloc(len + 2), *o = norm;
  const char *p = rel;
  while (*p)
    {
      while (*p == '/')
        p++;
      const char *start = p;
      while (*p && *p != '/')
        p++;
      size_t clen = (size_t)(p - start);
      if (clen == 0)
        break;
      if ((clen == 1 && start[0] == '.') || (clen == 2 && start[0] == '.' && start[1] == '.'))
        {
          free(norm);
          return skiff_error(err, EINVAL,
                             "cgroup path `%s`: `.` and `..` components are not allowed", rel);
        }
      *o++ = '/';
      memcpy(o, start, clen);
      o += clen;
    }
  if (o == norm)
    *o++ = '/';
  *o = '\0';
  *out = norm;
  return 0;
}

int cgroup_join_path(const char *root, const char *rel, char **out, struct skiff_err **err)
{
  cleanup_free char *norm = NULL;
  if (normalize_path(rel, &norm, err) < 0)
    return -1;
  size_t rlen = strlen(root);
  while (rlen > 1 && root[rlen - 1] == '/')
    rlen--;
  if (strcmp(norm, "/") == 0)
    *out = xasprintf("%.*s", (int)rlen, root);
  else if (rlen == 1 && root[0] == '/')
    *out = xstrdup(norm);
  else
    *out = xasprintf("%.*s%s", (int)rlen, root, norm);
  return 0;
}

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
  /* runc/crun: map [2, 262144] linearly onto [1, 10000]; 0 means "not set". */
  if (shares == 0)
    return 0;
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t cgroup_swap_v2(int64_t memory_limit, int64_t memory_plus_swap)
{
  if (memory_plus_swap == -1)
    return -1;
  if (memory_plus_swap < 0 || memory_limit <= 0 || memory_plus_swap < memory_limit)
    return -2;
  return memory_plus_swap - memory_limit;
}

char *cgroup_cpu_max_string(int64_t quota, uint64_t period)
{
  char q[32];
  if (quota > 0)
    snprintf(q, sizeof(q), "%" PRId64, quota);
  else
    snprintf(q, sizeof(q), "max");
  if (period == 0)
    return xstrdup(q); /* the kernel keeps the current period */
  return xasprintf("%s %" PRIu64, q, period);
}

int cgroup_check_unified_key(const char *key, struct skiff_err **err)
{
  static const char *const forbidden[] = {
      "cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.subtree_control", "cgroup.type",
  };
  if (key == NULL || *key == '\0')
    return skiff_error(err, EINVAL, "key ``: empty");
  if (strchr(key, '/') || key[0] == '.' || strchr(key, '.') == NULL)
    return skiff_error(err, EINVAL, "key `%s`: not a cgroup control file name", key);
  for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
    if (strcmp(key, forbidden[i]) == 0)
      return skiff_error(err, EPERM,
                         "key `%s`: not allowed (it moves or kills processes "
                         "or changes the tree)",
                         key);
  return 0;
}

static const struct skiff_device_cgroup default_devices[] = {
    {true, 'c', -1, -1, (char *)"m"}, {true, 'b', -1, -1, (char *)"m"},
    {true, 'c', 1, 3, (char *)"rwm"}, {true, 'c', 1, 5, (char *)"rwm"},
    {true, 'c', 1, 7, (char *)"rwm"}, {true, 'c', 1, 8, (char *)"rwm"},
    {true, 'c', 1, 9, (char *)"rwm"}, {true, 'c', 5, 0, (char *)"rwm"},
    {true, 'c', 5, 2, (char *)"rwm"}, {true, 'c', 136, -1, (char *)"rwm"},
};

const struct skiff_device_cgroup *cgroup_default_devices(size_t *n)
{
  *n = sizeof(default_devices) / sizeof(default_devices[0]);
  return default_devices;
}

void cgroup_v1_device_rule(const struct skiff_device_cgroup *d, char *buf, size_t len)
{
  char maj[24] = "*", min[24] = "*";
  if (d->type == 'a' || d->type == '\0')
    {
      snprintf(buf, len, "a");
      return;
    }
  if (d->major >= 0)
    snprintf(maj, sizeof(maj), "%" PRId64, d->major);
  if (d->minor >= 0)
    snprintf(min, sizeof(min), "%" PRId64, d->minor);
  snprintf(buf, len, "%c %s:%s %s", d->type, maj, min, d->access && *d->access ? d->access : "rwm");
}

/* ---- the handle ---- */

int cgroup_new(const char *path, struct skiff_cgroup **out, struct skiff_err **err)
{
  cleanup_free char *norm = NULL;
  if (normalize_path(path, &norm, err) < 0)
    return -1;
  if (strcmp(norm, "/") == 0)
    return skiff_error(err, EINVAL, "cgroup path `%s`: refusing to use the root cgroup", path);

  pthread_mutex_lock(&layout_lock);
  layout_load_locked();
  if (layout.load_errno)
    {
      int e = layout.load_errno;
      pthread_mutex_unlock(&layout_lock);
      return skiff_error(err, e, "read `/proc/self/mountinfo`");
    }
  if (layout.mode == CGROUP_MODE_V2 && layout.unified == NULL)
    {
      pthread_mutex_unlock(&layout_lock);
      return skiff_error(err, ENOENT,
                         "no cgroup filesystem in /proc/self/mountinfo (mount cgroup2 at "
                         "/sys/fs/cgroup)");
    }
  struct skiff_cgroup *cg = xzalloc(sizeof(*cg));
  cg->mode = layout.mode;
  cg->ops = cg->mode == CGROUP_MODE_V1 ? &cgroup_v1_ops : &cgroup_v2_ops;
  cg->path = steal_pointer(&norm);
  if (cg->mode == CGROUP_MODE_V1)
    {
      cg->hier = xzalloc(layout.n_v1 * sizeof(*cg->hier));
      for (size_t i = 0; i < layout.n_v1; i++)
        {
          struct cgroup_hier *h = &cg->hier[cg->n_hier++];
          h->controllers = xstrdup(layout.v1[i].controllers);
          h->mask = layout.v1[i].mask;
          h->mount = xstrdup(layout.v1[i].mount);
          h->dir = xasprintf("%s%s", h->mount, cg->path);
        }
    }
  if (layout.unified)
    {
      cg->unified_mount = xstrdup(layout.unified);
      cg->unified_dir = xasprintf("%s%s", cg->unified_mount, cg->path);
    }
  pthread_mutex_unlock(&layout_lock);
  *out = cg;
  return 0;
}

void cgroup_free(struct skiff_cgroup *cg)
{
  if (cg == NULL)
    return;
  for (size_t i = 0; i < cg->n_hier; i++)
    {
      free(cg->hier[i].controllers);
      free(cg->hier[i].mount);
      free(cg->hier[i].dir);
    }
  free(cg->hier);
  free(cg->unified_mount);
  free(cg->unified_dir);
  free(cg->path);
  free(cg);
}

const struct cgroup_ops *cgroup_get_ops(const struct skiff_cgroup *cg)
{
  return cg->ops;
}

struct cgroup_hier *cgroup_find_hier(struct skiff_cgroup *cg, unsigned ctrl)
{
  for (size_t i = 0; i < cg->n_hier; i++)
    if (cg->hier[i].mask & ctrl)
      return &cg->hier[i];
  return NULL;
}

int cgroup_create(struct skiff_cgroup *cg, struct skiff_err **err)
{
  /* A delete of the last other container may remove a shared parent (/skiff, or one of a
     linux.cgroupsPath) between our mkdir of it and of our leaf: that shows as ENOENT, and
     trying again settles it. */
  for (int attempt = 0;; attempt++)
    {
      struct skiff_err *e = NULL;
      if (cg->ops->create(cg, &e) == 0)
        return 0;
      if (e == NULL || e->status != ENOENT || attempt == 4)
        {
          if (err && *err == NULL)
            *err = e;
          else
            skiff_err_free(&e);
          return -1;
        }
      skiff_err_free(&e);
    }
}

int cgroup_enter(struct skiff_cgroup *cg, pid_t pid, struct skiff_err **err)
{
  return cg->ops->enter(cg, pid, err);
}

int cgroup_apply(struct skiff_cgroup *cg, const struct skiff_resources *r, struct skiff_err **err)
{
  if (r == NULL)
    return 0;
  return cg->ops->apply(cg, r, err);
}

int cgroup_pids(struct skiff_cgroup *cg, pid_t **pids, size_t *n, struct skiff_err **err)
{
  return cg->ops->pids(cg, pids, n, err);
}

int cgroup_freeze(struct skiff_cgroup *cg, bool frozen, struct skiff_err **err)
{
  return cg->ops->freeze(cg, frozen, err);
}

bool cgroup_is_frozen(struct skiff_cgroup *cg)
{
  return cg->ops->frozen(cg) == 1;
}

int cgroup_stats(struct skiff_cgroup *cg, struct cgroup_stats *s, struct skiff_err **err)
{
  return cg->ops->stats(cg, s, err);
}

int cgroup_kill(struct skiff_cgroup *cg, int sig, struct skiff_err **err)
{
  return cg->ops->kill(cg, sig, err);
}

/* rmdir the parents of dir that are now empty, up to (not including) the mount root: the
 * delete of the last container leaves nothing behind, neither /skiff nor the parents of a
 * linux.cgroupsPath (a host must not keep cgroups of containers that are gone); a parent
 * that still holds another container fails with EBUSY/ENOTEMPTY and stays.  The price:
 * the next start on an empty host makes /skiff again (about 0.6 ms on a 9-hierarchy v1
 * host); while any container runs, /skiff stays and costs nothing. */
static void prune_parents(const char *mount, const char *dir)
{
  size_t mlen = strlen(mount);
  cleanup_free char *p = xstrdup(dir);
  for (;;)
    {
      char *slash = strrchr(p, '/');
      if (slash == NULL || (size_t)(slash - p) <= mlen)
        return;
      *slash = '\0';
      if (rmdir(p) < 0)
        return;
    }
}

int cgroup_destroy(struct skiff_cgroup *cg, struct skiff_err **err)
{
  if (cg->ops->destroy(cg, err) < 0)
    return -1;
  for (size_t i = 0; i < cg->n_hier; i++)
    prune_parents(cg->hier[i].mount, cg->hier[i].dir);
  if (cg->unified_dir && cg->unified_mount)
    prune_parents(cg->unified_mount, cg->unified_dir);
  return 0;
}

int cgroup_open_dir_fd(struct skiff_cgroup *cg, struct skiff_err **err)
{
  if (cg->mode != CGROUP_MODE_V2)
    return -1;
  int fd = open(cg->unified_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", cg->unified_dir);
  return fd;
}

int cgroup_open_clone_fd(struct skiff_cgroup *cg, struct skiff_err **err)
{
  if (cg->unified_dir == NULL)
    return -1;
  int fd = open(cg->unified_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", cg->unified_dir);
  return fd;
}

int cgroup_enter_self(struct skiff_cgroup *cg, bool born_in_cgroup2, struct skiff_err **err)
{
  /* "0" in `tasks` moves only the calling thread: the kernel skips the global
   * threadgroup lock for it (cgroup_procs_write_start: a lone thread moving itself
   * cannot exit or exec under us).  The caller is single-threaded, so the thread is
   * the whole process. */
  for (size_t i = 0; i < cg->n_hier; i++)
    if (cgroup_write_raw(cg->hier[i].dir, "tasks", "0") < 0)
      return skiff_error(err, errno, "write `0` to `%s/tasks`", cg->hier[i].dir);
  if (cg->unified_dir && !born_in_cgroup2
      && cgroup_write_raw(cg->unified_dir, "cgroup.procs", "0") < 0)
    return skiff_error(err, errno, "write `0` to `%s/cgroup.procs`", cg->unified_dir);
  return 0;
}

char **cgroup_host_dirs(struct skiff_cgroup *cg)
{
  char **dirs = xzalloc((cg->n_hier + 2) * sizeof(*dirs));
  size_t n = 0;
  for (size_t i = 0; i < cg->n_hier; i++)
    dirs[n++] = xstrdup(cg->hier[i].dir);
  if (cg->unified_dir)
    dirs[n++] = xstrdup(cg->unified_dir);
  return dirs;
}

unsigned long long cgroup_parse_oom_kill(const char *text)
{
  for (const char *line = text; line && *line;)
    {
      unsigned long long n = 0;
      if (sscanf(line, "oom_kill %llu", &n) == 1)
        return n;
      line = strchr(line, '\n');
      if (line)
        line++;
    }
  return 0;
}

int cgroup_oom_kills(struct skiff_cgroup *cg, unsigned long long *count, struct skiff_err **err)
{
  /* v2: memory.events of the unified dir; v1: memory.oom_control of the memory hierarchy.
   * Whichever dirs hold one of them; the largest count wins (only one does). */
  static const char *const files[] = {"memory.events", "memory.oom_control"};
  char **dirs = cgroup_host_dirs(cg);
  bool found = false;
  *count = 0;
  for (size_t i = 0; dirs[i]; i++)
    {
      for (size_t f = 0; f < 2; f++)
        {
          cleanup_free char *path = xasprintf("%s/%s", dirs[i], files[f]);
          cleanup_free char *text = NULL;
          if (skiff_read_file(path, &text, NULL, NULL) < 0)
            continue;
          unsigned long long n = cgroup_parse_oom_kill(text);
          found = true;
          if (n > *count)
            *count = n;
        }
      free(dirs[i]);
    }
  free(dirs);
  if (!found)
    return skiff_error(err, ENOENT, "cgroup `%s`: no memory.events or memory.oom_control",
                       cg->path);
  return 0;
}
