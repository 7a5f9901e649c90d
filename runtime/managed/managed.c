/* managed.c - `skiff run IMAGE`: build the spec from an image and docker-style flags,
 * prepare the bundle dir, attach the network, run (see managed.h). */
#define _GNU_SOURCE
#include "managed.h"
#include "image.h"
#include "restart.h"
#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

int managed_parse_volume(const char *spec, char **host, char **ctr, bool *ro,
                         struct skiff_err **err)
{
  cleanup_free char *s = xstrdup(spec);
  char *c1 = strchr(s, ':');
  if (c1 == NULL)
    return skiff_error(err, 0, "-v `%s`: expected HOST:CONTAINER[:ro]", spec);
  *c1 = '\0';
  char *rest = c1 + 1, *c2 = strchr(rest, ':');
  *ro = false;
  if (c2)
    {
      *c2 = '\0';
      if (strcmp(c2 + 1, "ro") == 0)
        *ro = true;
      else if (strcmp(c2 + 1, "rw") != 0)
        return skiff_error(err, 0, "-v `%s`: unknown option `%s` (ro or rw)", spec, c2 + 1);
    }
  if (s[0] != '/' || rest[0] != '/')
    return skiff_error(err, 0, "-v `%s`: both paths must be absolute", spec);
  *host = xstrdup(s);
  *ctr = xstrdup(rest);
  return 0;
}

int managed_parse_user(const char *spec, unsigned *uid, unsigned *gid, bool *has_gid,
                       struct skiff_err **err)
{
  *has_gid = false;
  if (strcmp(spec, "root") == 0)
    {
      *uid = 0;
      *gid = 0;
      *has_gid = true;
      return 0;
    }
  char *end = NULL;
  errno = 0;
  unsigned long u = strtoul(spec, &end, 10);
  if (errno || end == spec || (*end && *end != ':') || u > 0xfffffffeUL)
    return skiff_error(err, 0, "--user `%s`: expected UID[:GID] (numeric) or root", spec);
  *uid = (unsigned)u;
  if (*end == ':')
    {
      const char *g = end + 1;
      unsigned long v = strtoul(g, &end, 10);
      if (end == g || *end || v > 0xfffffffeUL)
        return skiff_error(err, 0, "--user `%s`: expected UID[:GID] (numeric) or root", spec);
      *gid = (unsigned)v;
      *has_gid = true;
    }
  return 0;
}

int managed_parse_cpus(const char *s, double *cpus, struct skiff_err **err)
{
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v > 0) || v > 1024 || !isfinite(v))
    return skiff_error(err, 0, "--cpus `%s`: expected a number of CPUs above 0", s);
  *cpus = v;
  return 0;
}

int managed_validate_name(const char *name, struct skiff_err **err)
{
  size_t n = strlen(name);
  bool ok = n > 0 && n <= 128
            && ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')
                || (name[0] >= '0' && name[0] <= '9'));
  for (size_t i = 1; ok && i < n; i++)
    ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z')
         || (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '.'
         || name[i] == '-';
  if (!ok)
    return skiff_error(err, 0,
                       "invalid container name `%s`: only [a-zA-Z0-9][a-zA-Z0-9_.-], at most 128 "
                       "characters",
                       name);
  return 0;
}

int managed_parse_env_file(const char *text, const char *path, char ***lines_out,
                           struct skiff_err **err)
{
  size_t n = 0, cap = 8, lineno = 0;
  char **lines = xzalloc(cap * sizeof(char *));
  for (const char *p = text; p && *p;)
    {
      const char *e = strchr(p, '\n');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      lineno++;
      /* trim leading blanks and a trailing \r (a file written on Windows) */
      while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
      if (len && p[len - 1] == '\r')
        len--;
      if (len && *p != '#')
        {
          if (*p == '=' || memchr(p, ' ', strcspn(p, "=\n") < len ? strcspn(p, "=\n") : len))
            {
              for (size_t i = 0; i < n; i++)
                free(lines[i]);
              free(lines);
              return skiff_error(err, 0, "--env-file `%s` line %zu: expected KEY=VALUE, got `%.*s`",
                                 path, lineno, (int)len, p);
            }
          if (n + 2 > cap)
            lines = xrealloc(lines, (cap *= 2) * sizeof(char *));
          lines[n++] = xasprintf("%.*s", (int)len, p);
          lines[n] = NULL;
        }
      p = e ? e + 1 : NULL;
    }
  *lines_out = lines;
  return 0;
}

void managed_net_config(const char *store, struct net_bridge_config *cfg, char **state_dir)
{
  *state_dir = xasprintf("%s/net", store);
  cfg->bridge = getenv("SKIFF_BRIDGE") && *getenv("SKIFF_BRIDGE") ? getenv("SKIFF_BRIDGE")
                                                                  : SKIFF_DEFAULT_BRIDGE;
  cfg->subnet = getenv("SKIFF_SUBNET") && *getenv("SKIFF_SUBNET") ? getenv("SKIFF_SUBNET")
                                                                  : SKIFF_DEFAULT_SUBNET;
  cfg->state_dir = *state_dir;
}

/* env entries: image first, then -e; a later KEY= replaces an earlier one */
static json_t *merge_env(char **image_env, char **flags)
{
  json_t *a = json_array();
  char **lists[2] = {image_env, flags};
  bool has_path = false;
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; lists[l] && lists[l][i]; i++)
      {
        const char *kv = lists[l][i], *eq = strchr(kv, '=');
        size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
        size_t idx;
        json_t *v;
        json_array_foreach(a, idx, v)
        {
          const char *o = json_string_value(v);
          if (strncmp(o, kv, klen) == 0 && o[klen] == '=')
            {
              json_array_remove(a, idx);
              break;
            }
        }
        json_array_append_new(a, json_string(kv));
        if (strncmp(kv, "PATH=", 5) == 0)
          has_path = true;
      }
  if (!has_path)
    json_array_insert_new(
        a, 0, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  return a;
}

static json_t *bind_mount(const char *src, const char *dst, bool ro)
{
  return json_pack("{s:s, s:s, s:s, s:[s, s, s]}", "destination", dst, "type", "bind", "source",
                   src, "options", "rbind", "rprivate", ro ? "ro" : "rw");
}

struct run_ctx
{
  const struct managed_run_opts *o;
  char *name, *dir, *ip, *lower, *upper, *work, *spec_text, *log_path;
  struct image_info *img;
  struct net_bridge_config net;
  char *net_state; /* owns net.state_dir */
  bool leased;
};

static int build_spec(struct run_ctx *r, struct skiff_err **err)
{
  const struct managed_run_opts *o = r->o;
  cleanup_free char *def = spec_default_json();
  json_t *spec = json_loads(def, 0, NULL);
  json_t *proc = json_object_get(spec, "process");
  json_t *lnx = json_object_get(spec, "linux");

  json_t *args = json_array();
  if (o->entrypoint)
    json_array_append_new(args, json_string(o->entrypoint));
  else
    for (size_t i = 0; r->img->entrypoint && r->img->entrypoint[i]; i++)
      json_array_append_new(args, json_string(r->img->entrypoint[i]));
  char **cmd = o->cmd && o->cmd[0] ? o->cmd : (o->entrypoint ? NULL : r->img->cmd);
  for (size_t i = 0; cmd && cmd[i]; i++)
    json_array_append_new(args, json_string(cmd[i]));
  if (json_array_size(args) == 0)
    {
      json_decref(args);
      json_decref(spec);
      return skiff_error(err, 0, "image `%s` has no command: give one after the image name",
                         o->image);
    }
  json_object_set_new(proc, "args", args);
  json_object_set_new(proc, "env", merge_env(r->img->env, o->env));
  const char *cwd = o->workdir                            ? o->workdir
                    : r->img->workdir && *r->img->workdir ? r->img->workdir
                                                          : "/";
  json_object_set_new(proc, "cwd", json_string(cwd));
  const char *user = o->user ? o->user : r->img->user && *r->img->user ? r->img->user : NULL;
  if (user)
    {
      struct managed_user u;
      cleanup_free char *passwd = managed_image_file(r->img->layer_dirs, "etc/passwd");
      cleanup_free char *group = managed_image_file(r->img->layer_dirs, "etc/group");
      if (managed_resolve_user(user, passwd, group, &u, err) < 0)
        {
          json_decref(spec);
          return -1;
        }
      json_t *ju = json_pack("{s:I, s:I}", "uid", (json_int_t)u.uid, "gid", (json_int_t)u.gid);
      if (u.n_groups)
        {
          json_t *g = json_array();
          for (size_t i = 0; i < u.n_groups; i++)
            json_array_append_new(g, json_integer(u.groups[i]));
          json_object_set_new(ju, "additionalGids", g);
        }
      json_object_set_new(proc, "user", ju);
    }
  json_object_set_new(proc, "terminal", json_boolean(o->tty));
  json_object_set_new(spec, "hostname", json_string(o->hostname ? o->hostname : r->name));
  json_object_set_new(spec, "root",
                      json_pack("{s:s, s:b}", "path", "rootfs", "readonly", o->read_only));

  json_t *mounts = json_object_get(spec, "mounts");
  for (size_t i = 0; o->volumes && o->volumes[i]; i++)
    {
      cleanup_free char *host = NULL, *ctr = NULL;
      bool ro = false;
      struct stat st;
      if (managed_parse_volume(o->volumes[i], &host, &ctr, &ro, err) < 0)
        goto fail;
      if (stat(host, &st) < 0)
        {
          skiff_error(err, errno, "volume source `%s`", host);
          goto fail;
        }
      json_array_append_new(mounts, bind_mount(host, ctr, ro));
    }
  const char *files[] = {"hosts", "hostname", "resolv.conf"};
  for (size_t i = 0; i < 3; i++)
    {
      cleanup_free char *src = xasprintf("%s/etc/%s", r->dir, files[i]);
      cleanup_free char *dst = xasprintf("/etc/%s", files[i]);
      json_array_append_new(mounts, bind_mount(src, dst, false));
    }

  json_t *res = json_object_get(lnx, "resources");
  if (!json_is_object(res))
    json_object_set_new(lnx, "resources", res = json_object());
  if (o->memory > 0)
    json_object_set_new(res, "memory", json_pack("{s:I}", "limit", (json_int_t)o->memory));
  if (o->cpus > 0)
    json_object_set_new(res, "cpu",
                        json_pack("{s:I, s:I}", "quota", (json_int_t)llround(o->cpus * 100000),
                                  "period", (json_int_t)100000));
  if (o->pids_limit > 0)
    json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)o->pids_limit));

  if (strcmp(o->net, "host") == 0)
    {
      json_t *nss = json_object_get(lnx, "namespaces"), *v;
      size_t idx;
      json_array_foreach(nss, idx, v)
      {
        if (strcmp(json_string_value(json_object_get(v, "type")), "network") == 0)
          {
            json_array_remove(nss, idx);
            break;
          }
      }
    }
  json_t *ann = json_object();
  json_object_set_new(ann, "org.skiff.managed", json_string(r->dir));
  json_object_set_new(ann, "org.skiff.image", json_string(o->image));
  json_object_set_new(ann, "org.skiff.net", json_string(o->net));
  if (r->ip)
    {
      json_object_set_new(ann, "org.skiff.net.ip", json_string(r->ip));
      json_object_set_new(ann, "org.skiff.net.bridge", json_string(r->net.bridge));
      json_object_set_new(ann, "org.skiff.net.subnet", json_string(r->net.subnet));
      json_object_set_new(ann, "org.skiff.net.state", json_string(r->net.state_dir));
    }
  if (o->autoremove && o->detach) /* the monitor removes it; in the foreground we do */
    json_object_set_new(ann, "org.skiff.autoremove", json_string("true"));
  for (size_t i = 0; o->labels && o->labels[i]; i++)
    {
      const char *eq = strchr(o->labels[i], '=');
      cleanup_free char *key
          = xasprintf("org.skiff.label.%.*s",
                      (int)(eq ? (size_t)(eq - o->labels[i]) : strlen(o->labels[i])), o->labels[i]);
      json_object_set_new(ann, key, json_string(eq ? eq + 1 : ""));
    }
  json_object_set_new(spec, "annotations", ann);
  r->spec_text = json_dumps(spec, JSON_INDENT(2));
  json_decref(spec);
  return 0;
fail:
  json_decref(spec);
  return -1;
}

static void random_suffix(char *buf, size_t n)
{
  unsigned char raw[8];
  if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
    memset(raw, 0x5a ^ (int)getpid(), sizeof(raw));
  for (size_t i = 0; i + 1 < n && i < 2 * sizeof(raw); i++)
    buf[i] = "0123456789abcdef"[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
  buf[n - 1] = '\0';
}

static void ctx_cleanup(struct run_ctx *r, bool remove_all)
{
  if (remove_all)
    {
      if (r->leased)
        net_ipam_release(&r->net, r->name, NULL);
      if (r->dir)
        skiff_rm_rf(r->dir, NULL);
    }
  free(r->name);
  free(r->dir);
  free(r->ip);
  free(r->lower);
  free(r->upper);
  free(r->work);
  free(r->spec_text);
  free(r->log_path);
  free(r->net_state);
  if (r->img && r->img != r->o->resolved)
    image_info_free(r->img);
}

/* The signals a foreground run forwards to the container. */
static void forwarded_signals(sigset_t *set)
{
  int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  sigemptyset(set);
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    sigaddset(set, sigs[i]);
}

/* Copy what the log file gained since the last call to our stdout. */
static void copy_log(int fd)
{
  char buf[65536];
  ssize_t n;
  while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
    if (skiff_write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
      break;
}

/* Wait for a started container we are not the parent of: poll its pidfd, forward our
 * signals to it (or proxy its terminal: master >= 0; or copy its log: log_path), then read
 * the exit code the monitor recorded. */
static int wait_foreground(const char *root, const char *id, int master, const char *log_path,
                           int *exit_code, struct skiff_err **err)
{
  cleanup_state struct skiff_state *st = NULL;
  if (state_load(root, id, &st, err) < 0)
    return -1;
  int pfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
  cleanup_close int log = log_path ? open(log_path, O_RDONLY | O_CLOEXEC) : -1;
  if (master >= 0)
    tty_proxy(master, pfd); /* the terminal carries ^C and friends */
  sigset_t fwd, old;
  forwarded_signals(&fwd);
  sigprocmask(SIG_BLOCK, &fwd, &old);
  while (state_pid_alive(st->pid, st->start_time))
    {
      struct pollfd p = {.fd = pfd, .events = POLLIN};
      poll(&p, pfd >= 0 ? 1 : 0, 50);
      struct timespec zero = {0, 0};
      int sig;
      while ((sig = sigtimedwait(&fwd, NULL, &zero)) > 0)
        kill(st->pid, sig);
      copy_log(log);
    }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (pfd >= 0)
    close(pfd);
  /* the monitor writes exit.json right after reaping (and drains the output first) */
  for (int i = 0; i < 400; i++)
    {
      cleanup_state struct skiff_state *s2 = NULL;
      if (state_load(root, id, &s2, NULL) == 0 && s2->has_exit)
        {
          copy_log(log);
          *exit_code = s2->exit_code;
          return 0;
        }
      poll(NULL, 0, 5);
    }
  copy_log(log);
  *exit_code = 255;
  return 0;
}

int managed_run(const struct managed_run_opts *o, int *exit_code, char **name_out,
                struct skiff_err **err)
{
  struct run_ctx r = {.o = o};
  int ret = -1;
  /* freed at out: (no cleanup attributes here, the gotos would jump over them) */
  char *etc = NULL, *cfg = NULL, *meta = NULL, *meta_path = NULL, *sd = NULL;
  bool created = false, masked = false;
  sigset_t fwd, old_mask;
  *exit_code = 0;
  int console[2] = {-1, -1}, master = -1;
  bool restarts = o->restart.policy != CONTAINER_RESTART_NO;
  if (strcmp(o->net, "bridge") && strcmp(o->net, "none") && strcmp(o->net, "host"))
    return skiff_error(err, 0, "--net `%s`: expected bridge, none or host", o->net);
  if (o->name && managed_validate_name(o->name, err) < 0)
    return -1;
  if (o->tty && (o->detach || restarts))
    return skiff_error(err, 0,
                       "-t works in the foreground without --restart: a detached or "
                       "restarting container's output goes to its log");
  r.img = o->resolved;
  if (r.img == NULL && image_resolve(o->store, o->image, &r.img, err) < 0)
    return -1;
  if (o->name)
    r.name = xstrdup(o->name);
  else
    {
      char sfx[7];
      random_suffix(sfx, sizeof(sfx));
      /* the last component of the name: 127.0.0.1:5000/team/web -> web-1a2b3c */
      const char *base = strrchr(r.img->name, '/');
      r.name = xasprintf("%s-%s", base ? base + 1 : r.img->name, sfx);
    }
  if (managed_validate_name(r.name, err) < 0)
    goto out;
  sd = state_dir(o->state_root, r.name);
  struct stat sdst;
  if (stat(sd, &sdst) == 0)
    {
      skiff_error(err, 0, "container name `%s` is already in use", r.name);
      goto out;
    }
  r.dir = xasprintf("%s/containers/%s", o->data_root ? o->data_root : o->store, r.name);
  if (mkdir(r.dir, 0700) < 0)
    {
      if (errno == EEXIST)
        skiff_error(err, 0, "container name `%s` is already in use (%s exists)", r.name, r.dir);
      else if (errno == ENOENT && skiff_mkdir_p(r.dir, 0700, err) == 0)
        goto made;
      else
        skiff_error(err, errno, "mkdir `%s`", r.dir);
      free(r.dir);
      r.dir = NULL;
      goto out;
    }
made:;
  const char *subdirs[] = {"rootfs", "upper", "work", "etc"};
  for (size_t i = 0; i < 4; i++)
    {
      char *d = xasprintf("%s/%s", r.dir, subdirs[i]);
      int rc = mkdir(d, 0755);
      if (rc < 0)
        skiff_error(err, errno, "mkdir `%s`", d);
      free(d);
      if (rc < 0)
        goto out;
    }
  if (o->netcfg)
    r.net = *o->netcfg;
  else
    managed_net_config(o->store, &r.net, &r.net_state);
  if (strcmp(o->net, "bridge") == 0)
    {
      if (net_ipam_allocate(&r.net, r.name, &r.ip, err) < 0)
        goto out;
      r.leased = true;
    }
  etc = xasprintf("%s/etc", r.dir);
  if (net_write_etc_files(etc, o->hostname ? o->hostname : r.name, r.ip, err) < 0)
    goto out;
  if (build_spec(&r, err) < 0)
    goto out;
  cfg = xasprintf("%s/config.json", r.dir);
  if (skiff_write_file(cfg, r.spec_text, strlen(r.spec_text), 0600, err) < 0)
    goto out;
  /* overlay wants the top layer first */
  size_t nl = 0, len = 0;
  while (r.img->layer_dirs && r.img->layer_dirs[nl])
    len += strlen(r.img->layer_dirs[nl++]) + 1;
  if (nl == 0)
    {
      skiff_error(err, 0, "image `%s` has no layers", o->image);
      goto out;
    }
  r.lower = xzalloc(len + 1);
  for (size_t i = nl; i-- > 0;)
    {
      strcat(r.lower, r.img->layer_dirs[i]);
      if (i)
        strcat(r.lower, ":");
    }
  r.upper = xasprintf("%s/upper", r.dir);
  r.work = xasprintf("%s/work", r.dir);
  /* a restarting container's output goes to its log in the foreground too (the first
     run's is copied to us): its later runs have nobody else to write to */
  if (o->detach || restarts)
    r.log_path = o->log_path ? xstrdup(o->log_path) : xasprintf("%s/container.log", r.dir);
  {
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", r.name, "image", o->image, "digest",
                          r.img->manifest_digest ? r.img->manifest_digest : "", "net", o->net,
                          "ports", json_array());
    cleanup_free char *now = state_now_rfc3339();
    json_object_set_new(m, "created", json_string(now));
    if (r.ip)
      json_object_set_new(m, "ip", json_string(r.ip));
    for (size_t i = 0; i < o->n_ports; i++)
      json_array_append_new(json_object_get(m, "ports"),
                            json_pack("{s:s, s:i, s:i}", "hostIp",
                                      o->ports[i].host_ip ? o->ports[i].host_ip : "0.0.0.0",
                                      "hostPort", o->ports[i].host_port, "containerPort",
                                      o->ports[i].container_port));
    json_t *doc = json_loads(r.spec_text, 0, NULL);
    json_object_set(m, "command", json_object_get(json_object_get(doc, "process"), "args"));
    json_decref(doc);
    /* what `skiff restart` needs to create it again */
    json_object_set_new(m, "lower", json_string(r.lower));
    cleanup_free char *policy = restart_policy_string(&o->restart);
    json_object_set_new(m, "restart", json_string(policy));
    json_object_set_new(m, "autoremove", json_boolean(o->autoremove));
    json_t *labels = json_object();
    for (size_t i = 0; o->labels && o->labels[i]; i++)
      {
        const char *eq = strchr(o->labels[i], '=');
        cleanup_free char *key = xasprintf(
            "%.*s", (int)(eq ? (size_t)(eq - o->labels[i]) : strlen(o->labels[i])), o->labels[i]);
        json_object_set_new(labels, key, json_string(eq ? eq + 1 : ""));
      }
    json_object_set_new(m, "labels", labels);
    meta = json_dumps(m, JSON_INDENT(2));
    json_decref(m);
  }
  meta_path = xasprintf("%s/meta.json", r.dir);
  if (skiff_write_file(meta_path, meta, strlen(meta), 0600, err) < 0)
    goto out;

  struct skiff_spec *spec = NULL;
  if (spec_parse(r.spec_text, strlen(r.spec_text), &spec, err) < 0)
    goto out;
  struct container_opts co = {.root = o->state_root,
                              .id = r.name,
                              .bundle = r.dir,
                              .spec = spec,
                              .spec_json = r.spec_text,
                              .overlay_lower = r.lower,
                              .overlay_upper = r.upper,
                              .overlay_work = r.work,
                              .net = r.ip ? &r.net : NULL,
                              .net_ip = r.ip,
                              .net_loopback = strcmp(o->net, "none") == 0,
                              .ports = o->ports,
                              .n_ports = o->n_ports,
                              .log_path = r.log_path,
                              .log_max = o->log_max,
                              .detach = true,
                              .monitor = true,
                              .restart = o->restart};
  if (o->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0)
    {
      spec_free(spec);
      skiff_error(err, errno, "socketpair");
      goto out;
    }
  if (o->tty)
    co.console_fd = &console[1];
  int rc = container_create(&co, err);
  spec_free(spec);
  if (rc < 0)
    goto out;
  created = true;
  if (o->tty)
    {
      /* the init sent the pty master over the socket before it was ready */
      close(console[1]);
      console[1] = -1;
      if (tty_recv_fd(console[0], &master, err) < 0)
        goto out;
      struct winsize ws;
      if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        ioctl(master, TIOCSWINSZ, &ws);
    }
  /* block the forwarded signals before the container can run: a SIGTERM that arrives
     between start and the wait must reach the container, not kill us and orphan it
     (the init resets its mask; the monitor was forked by create, before this) */
  if (!o->detach)
    {
      forwarded_signals(&fwd);
      sigprocmask(SIG_BLOCK, &fwd, &old_mask);
      masked = true;
    }
  if (container_start(o->state_root, r.name, err) < 0)
    goto out;
  if (name_out)
    *name_out = xstrdup(r.name);
  if (o->detach)
    {
      ret = 0;
      goto out;
    }
  if (wait_foreground(o->state_root, r.name, master, r.log_path, exit_code, err) < 0)
    goto out;
  if (o->autoremove)
    managed_remove(o->state_root, o->store, r.name, true, NULL);
  ret = 0;
out:
  if (ret < 0 && created)
    container_delete(o->state_root, r.name, true, NULL);
  if (masked)
    {
      /* what came after the container exited had no one to go to */
      struct timespec zero = {0, 0};
      while (sigtimedwait(&fwd, NULL, &zero) > 0)
        ;
      sigprocmask(SIG_SETMASK, &old_mask, NULL);
    }
  ctx_cleanup(&r, ret < 0 && r.dir != NULL);
  for (int i = 0; i < 2; i++)
    if (console[i] >= 0)
      close(console[i]);
  if (master >= 0)
    close(master);
  free(etc);
  free(cfg);
  free(meta);
  free(meta_path);
  free(sd);
  return ret;
}
