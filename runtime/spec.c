/* spec.c - config.json -> struct skiff_spec: parsing and validation of the OCI runtime
 * configuration (root, process, mounts, hooks, annotations; the "linux" object is in
 * spec_linux.c), mount option translation, and the namespace/hook name tables.
 *
 * Fields the OCI spec defines but skiff does not implement are accepted and ignored,
 * as runc does, so newer configs keep working.  Everything skiff reads is checked for
 * type and value, and an error names the JSON path and the reason.  Pure: no I/O but
 * spec_load's read of config.json. */
#include "spec.h"
#include "spec_json.h"
#include "caps.h"

#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* util-linux style tables: OCI name, /proc/<pid>/ns name, clone flag. */
static const struct
{
  const char *name, *proc_name;
  int flag;
} ns_table[SKIFF_NS_COUNT] = {
    [SKIFF_NS_PID] = {"pid", "pid", CLONE_NEWPID},
    [SKIFF_NS_NETWORK] = {"network", "net", CLONE_NEWNET},
    [SKIFF_NS_MOUNT] = {"mount", "mnt", CLONE_NEWNS},
    [SKIFF_NS_IPC] = {"ipc", "ipc", CLONE_NEWIPC},
    [SKIFF_NS_UTS] = {"uts", "uts", CLONE_NEWUTS},
    [SKIFF_NS_USER] = {"user", "user", CLONE_NEWUSER},
    [SKIFF_NS_CGROUP] = {"cgroup", "cgroup", CLONE_NEWCGROUP},
    [SKIFF_NS_TIME] = {"time", "time", CLONE_NEWTIME},
};

static const char *const hook_names[SKIFF_HOOK_KINDS] = {
    [SKIFF_HOOK_PRESTART] = "prestart",
    [SKIFF_HOOK_CREATE_RUNTIME] = "createRuntime",
    [SKIFF_HOOK_CREATE_CONTAINER] = "createContainer",
    [SKIFF_HOOK_START_CONTAINER] = "startContainer",
    [SKIFF_HOOK_POSTSTART] = "poststart",
    [SKIFF_HOOK_POSTSTOP] = "poststop",
};

static const struct
{
  const char *name;
  int resource;
} rlimit_table[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

/* Mount options.  Flags set or cleared, or a propagation type (runc's table). */
enum opt_kind
{
  OPT_SET,
  OPT_CLEAR,
  OPT_PROPAGATION
};
static const struct
{
  const char *name;
  enum opt_kind kind;
  unsigned long flags;
} mount_opts[] = {
    {"ro", OPT_SET, MS_RDONLY},
    {"rw", OPT_CLEAR, MS_RDONLY},
    {"nosuid", OPT_SET, MS_NOSUID},
    {"suid", OPT_CLEAR, MS_NOSUID},
    {"nodev", OPT_SET, MS_NODEV},
    {"dev", OPT_CLEAR, MS_NODEV},
    {"noexec", OPT_SET, MS_NOEXEC},
    {"exec", OPT_CLEAR, MS_NOEXEC},
    {"bind", OPT_SET, MS_BIND},
    {"rbind", OPT_SET, MS_BIND | MS_REC},
    {"remount", OPT_SET, MS_REMOUNT},
    {"sync", OPT_SET, MS_SYNCHRONOUS},
    {"async", OPT_CLEAR, MS_SYNCHRONOUS},
    {"dirsync", OPT_SET, MS_DIRSYNC},
    {"mand", OPT_SET, MS_MANDLOCK},
    {"nomand", OPT_CLEAR, MS_MANDLOCK},
    {"atime", OPT_CLEAR, MS_NOATIME},
    {"noatime", OPT_SET, MS_NOATIME},
    {"diratime", OPT_CLEAR, MS_NODIRATIME},
    {"nodiratime", OPT_SET, MS_NODIRATIME},
    {"relatime", OPT_SET, MS_RELATIME},
    {"norelatime", OPT_CLEAR, MS_RELATIME},
    {"strictatime", OPT_SET, MS_STRICTATIME},
    {"nostrictatime", OPT_CLEAR, MS_STRICTATIME},
    {"private", OPT_PROPAGATION, MS_PRIVATE},
    {"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC},
    {"shared", OPT_PROPAGATION, MS_SHARED},
    {"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC},
    {"slave", OPT_PROPAGATION, MS_SLAVE},
    {"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC},
    {"unbindable", OPT_PROPAGATION, MS_UNBINDABLE},
    {"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC},
};
#define N_MOUNT_OPTS (sizeof(mount_opts) / sizeof(mount_opts[0]))

const char *spec_mount_option_name(size_t i)
{
  return i < N_MOUNT_OPTS ? mount_opts[i].name : NULL;
}

int spec_ns_type_from_name(const char *name)
{
  if (name == NULL)
    return -1;
  for (int i = 0; i < SKIFF_NS_COUNT; i++)
    if (strcmp(name, ns_table[i].name) == 0)
      return i;
  /* The /proc/<pid>/ns spellings, for callers that start from there (exec, nsenter). */
  if (strcmp(name, "net") == 0)
    return SKIFF_NS_NETWORK;
  if (strcmp(name, "mnt") == 0)
    return SKIFF_NS_MOUNT;
  return -1;
}

const char *spec_ns_type_name(enum skiff_ns_type type)
{
  return (unsigned)type < SKIFF_NS_COUNT ? ns_table[type].name : NULL;
}

const char *spec_ns_proc_name(enum skiff_ns_type type)
{
  return (unsigned)type < SKIFF_NS_COUNT ? ns_table[type].proc_name : NULL;
}

int spec_ns_clone_flag(enum skiff_ns_type type)
{
  return (unsigned)type < SKIFF_NS_COUNT ? ns_table[type].flag : 0;
}

const char *spec_hook_kind_name(enum skiff_hook_kind kind)
{
  return (unsigned)kind < SKIFF_HOOK_KINDS ? hook_names[kind] : NULL;
}

const struct skiff_namespace *spec_find_namespace(const struct skiff_spec *spec,
                                                  enum skiff_ns_type type)
{
  for (size_t i = 0; spec && i < spec->linux.n_namespaces; i++)
    if (spec->linux.namespaces[i].type == type)
      return &spec->linux.namespaces[i];
  return NULL;
}

int spec_rlimit_from_name(const char *name)
{
  for (size_t i = 0; name && i < sizeof(rlimit_table) / sizeof(rlimit_table[0]); i++)
    if (strcmp(name, rlimit_table[i].name) == 0)
      return rlimit_table[i].resource;
  return -1;
}

void spec_mount_apply_options(struct skiff_mount *m)
{
  size_t datalen = 0;
  free(m->data);
  m->data = NULL;
  m->flags = m->clear_flags = m->propagation = 0;
  for (char **o = m->options; o && *o; o++)
    {
      size_t i;
      /* crun's "copy the image's content into the tmpfs": not implemented; accepted so
       * configs written for crun/podman run, and not listed in the features document. */
      if (strcmp(*o, "tmpcopyup") == 0)
        continue;
      for (i = 0; i < N_MOUNT_OPTS; i++)
        if (strcmp(*o, mount_opts[i].name) == 0)
          break;
      if (i == N_MOUNT_OPTS)
        {
          /* fs-specific ("mode=755", "size=64k", "newinstance"): handed to mount(2). */
          size_t n = strlen(*o);
          m->data = xrealloc(m->data, datalen + n + 2);
          if (datalen)
            m->data[datalen++] = ',';
          memcpy(m->data + datalen, *o, n + 1);
          datalen += n;
          continue;
        }
      /* The last of contradicting options wins ("ro" then "rw" is read-write). */
      switch (mount_opts[i].kind)
        {
          case OPT_SET:
            m->flags |= mount_opts[i].flags;
            m->clear_flags &= ~mount_opts[i].flags;
            break;
          case OPT_CLEAR:
            m->clear_flags |= mount_opts[i].flags;
            m->flags &= ~mount_opts[i].flags;
            break;
          case OPT_PROPAGATION:
            m->propagation = mount_opts[i].flags;
            break;
        }
    }
  /* "type": "bind" is a bind mount even without the option (runc, crun). */
  m->is_bind = (m->flags & MS_BIND) || (m->type && strcmp(m->type, "bind") == 0);
  if (m->is_bind)
    m->flags |= MS_BIND;
}

static int parse_root(json_t *doc, struct skiff_spec *s, struct skiff_err **err)
{
  json_t *root;
  if (spec_json_object(doc, "", "root", true, &root, err) < 0)
    return -1;
  if (spec_json_string(root, "root", "path", true, &s->root_path, err) < 0)
    return -1;
  if (s->root_path[0] == '\0')
    return spec_json_error(err, "root.path", "must not be empty");
  return spec_json_bool(root, "root", "readonly", false, &s->root_readonly, err) < 0 ? -1 : 0;
}

static int validate_cap_list(char **names, const char *path, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  for (size_t i = 0; names && names[i]; i++)
    if (caps_from_name(names[i]) < 0)
      return spec_json_error(err, spec_json_index_path(p, path, i), "unknown capability \"%s\"",
                             names[i]);
  return 0;
}

static int parse_caps(json_t *proc, struct skiff_process *out, struct skiff_err **err)
{
  static const char *const keys[]
      = {"bounding", "effective", "permitted", "inheritable", "ambient"};
  char ***sets[] = {&out->caps.bounding, &out->caps.effective, &out->caps.permitted,
                    &out->caps.inheritable, &out->caps.ambient};
  char p[SPEC_PATH_MAX];
  json_t *caps;
  int r = spec_json_object(proc, "process", "capabilities", false, &caps, err);
  if (r <= 0)
    return r;
  out->has_caps = true;
  for (size_t i = 0; i < 5; i++)
    {
      if (spec_json_strv(caps, "process.capabilities", keys[i], false, false, sets[i], err) < 0)
        return -1;
      spec_json_key_path(p, "process.capabilities", keys[i]);
      if (validate_cap_list(*sets[i], p, err) < 0)
        return -1;
    }
  return 0;
}

static int parse_rlimits(json_t *proc, struct skiff_process *out, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr;
  int r = spec_json_array(proc, "process", "rlimits", false, &arr, err);
  if (r <= 0)
    return r;
  out->n_rlimits = json_array_size(arr);
  out->rlimits = xzalloc((out->n_rlimits + 1) * sizeof(*out->rlimits));
  for (size_t i = 0; i < out->n_rlimits; i++)
    {
      struct skiff_rlimit *rl = &out->rlimits[i];
      json_t *e = json_array_get(arr, i);
      spec_json_index_path(p, "process.rlimits", i);
      if (!json_is_object(e))
        return spec_json_type_error(err, p, e, "an object");
      if (spec_json_string(e, p, "type", true, &rl->type, err) < 0
          || spec_json_uint(e, p, "soft", true, &rl->soft, err) < 0
          || spec_json_uint(e, p, "hard", true, &rl->hard, err) < 0)
        return -1;
      rl->resource = spec_rlimit_from_name(rl->type);
      if (rl->resource < 0)
        return spec_json_key_error(err, p, "type", "unknown rlimit \"%s\"", rl->type);
      if (rl->soft > rl->hard)
        return spec_json_error(err, p, "soft limit %llu exceeds hard limit %llu",
                               (unsigned long long)rl->soft, (unsigned long long)rl->hard);
      /* The spec: duplicated types MUST be an error. */
      for (size_t j = 0; j < i; j++)
        if (out->rlimits[j].resource == rl->resource)
          return spec_json_key_error(err, p, "type", "duplicate rlimit \"%s\"", rl->type);
    }
  return 0;
}

static int parse_user(json_t *proc, struct skiff_user *u, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *user, *gids;
  int64_t n = 0;
  const int64_t id_max = 4294967294LL; /* (uid_t) -1 means "no change" to the kernel */
  if (spec_json_object(proc, "process", "user", true, &user, err) < 0)
    return -1;
  if (spec_json_int(user, "process.user", "uid", true, 0, id_max, &n, err) < 0)
    return -1;
  u->uid = (uid_t)n;
  if (spec_json_int(user, "process.user", "gid", true, 0, id_max, &n, err) < 0)
    return -1;
  u->gid = (gid_t)n;
  int r = spec_json_int(user, "process.user", "umask", false, 0, 0777, &n, err);
  if (r < 0)
    return -1;
  u->has_umask = r > 0;
  u->umask = (mode_t)n;
  if ((r = spec_json_array(user, "process.user", "additionalGids", false, &gids, err)) <= 0)
    return r;
  u->n_additional_gids = json_array_size(gids);
  u->additional_gids = xzalloc((u->n_additional_gids + 1) * sizeof(gid_t));
  for (size_t i = 0; i < u->n_additional_gids; i++)
    {
      json_t *g = json_array_get(gids, i);
      spec_json_index_path(p, "process.user.additionalGids", i);
      if (!json_is_integer(g))
        return spec_json_type_error(err, p, g, "an integer");
      if (json_integer_value(g) < 0 || json_integer_value(g) > id_max)
        return spec_json_error(err, p, "%lld is not a valid gid", (long long)json_integer_value(g));
      u->additional_gids[i] = (gid_t)json_integer_value(g);
    }
  return 0;
}

static int parse_process(json_t *doc, struct skiff_spec *s, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  struct skiff_process *pr = &s->process;
  json_t *proc, *console;
  int64_t n = 0;
  int r = spec_json_object(doc, "", "process", false, &proc, err);
  if (r <= 0)
    return r;
  s->has_process = true;
  if (spec_json_bool(proc, "process", "terminal", false, &pr->terminal, err) < 0)
    return -1;
  if ((r = spec_json_object(proc, "process", "consoleSize", false, &console, err)) < 0)
    return -1;
  if (r > 0)
    {
      if (spec_json_int(console, "process.consoleSize", "height", true, 0, UINT16_MAX, &n, err) < 0)
        return -1;
      pr->console_height = (unsigned)n;
      if (spec_json_int(console, "process.consoleSize", "width", true, 0, UINT16_MAX, &n, err) < 0)
        return -1;
      pr->console_width = (unsigned)n;
    }
  if (parse_user(proc, &pr->user, err) < 0)
    return -1;
  if (spec_json_strv(proc, "process", "args", true, true, &pr->args, err) < 0)
    return -1;
  if (spec_json_strv(proc, "process", "env", false, false, &pr->env, err) < 0)
    return -1;
  for (size_t i = 0; pr->env && pr->env[i]; i++)
    if (strchr(pr->env[i], '=') == NULL)
      return spec_json_error(err, spec_json_index_path(p, "process.env", i),
                             "expected KEY=VALUE, got \"%s\"", pr->env[i]);
  if (spec_json_string(proc, "process", "cwd", true, &pr->cwd, err) < 0)
    return -1;
  if (pr->cwd[0] != '/')
    return spec_json_error(err, "process.cwd", "must be an absolute path");
  if (parse_caps(proc, pr, err) < 0 || parse_rlimits(proc, pr, err) < 0)
    return -1;
  if (spec_json_bool(proc, "process", "noNewPrivileges", false, &pr->no_new_privileges, err) < 0
      || spec_json_string(proc, "process", "apparmorProfile", false, &pr->apparmor_profile, err) < 0
      || spec_json_string(proc, "process", "selinuxLabel", false, &pr->selinux_label, err) < 0)
    return -1;
  if ((r = spec_json_int(proc, "process", "oomScoreAdj", false, -1000, 1000, &n, err)) < 0)
    return -1;
  pr->has_oom_score_adj = r > 0;
  pr->oom_score_adj = (int)n;
  return 0;
}

static int parse_mounts(json_t *doc, struct skiff_spec *s, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr;
  int r = spec_json_array(doc, "", "mounts", false, &arr, err);
  if (r <= 0)
    return r;
  s->n_mounts = json_array_size(arr);
  s->mounts = xzalloc((s->n_mounts + 1) * sizeof(*s->mounts));
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      struct skiff_mount *m = &s->mounts[i];
      json_t *e = json_array_get(arr, i);
      spec_json_index_path(p, "mounts", i);
      if (!json_is_object(e))
        return spec_json_type_error(err, p, e, "an object");
      if (spec_json_string(e, p, "destination", true, &m->destination, err) < 0)
        return -1;
      if (m->destination[0] != '/')
        return spec_json_key_error(err, p, "destination", "must be absolute, got \"%s\"",
                                   m->destination);
      if (spec_json_string(e, p, "type", false, &m->type, err) < 0
          || spec_json_string(e, p, "source", false, &m->source, err) < 0
          || spec_json_strv(e, p, "options", false, false, &m->options, err) < 0)
        return -1;
      spec_mount_apply_options(m);
    }
  return 0;
}

static int parse_hooks(json_t *doc, struct skiff_spec *s, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX], q[SPEC_PATH_MAX];
  json_t *hooks, *arr;
  int64_t n = 0;
  int r = spec_json_object(doc, "", "hooks", false, &hooks, err);
  if (r <= 0)
    return r;
  for (int k = 0; k < SKIFF_HOOK_KINDS; k++)
    {
      if ((r = spec_json_array(hooks, "hooks", hook_names[k], false, &arr, err)) < 0)
        return -1;
      if (r == 0)
        continue;
      s->n_hooks[k] = json_array_size(arr);
      s->hooks[k] = xzalloc((s->n_hooks[k] + 1) * sizeof(struct skiff_hook));
      spec_json_key_path(q, "hooks", hook_names[k]);
      for (size_t i = 0; i < s->n_hooks[k]; i++)
        {
          struct skiff_hook *h = &s->hooks[k][i];
          json_t *e = json_array_get(arr, i);
          spec_json_index_path(p, q, i);
          if (!json_is_object(e))
            return spec_json_type_error(err, p, e, "an object");
          if (spec_json_abs_path(e, p, "path", true, &h->path, err) < 0
              || spec_json_strv(e, p, "args", false, false, &h->args, err) < 0
              || spec_json_strv(e, p, "env", false, false, &h->env, err) < 0)
            return -1;
          if ((r = spec_json_int(e, p, "timeout", false, 1, INT32_MAX, &n, err)) < 0)
            return -1;
          h->has_timeout = r > 0;
          h->timeout = (int)n;
        }
    }
  return 0;
}

static int parse_version(json_t *doc, struct skiff_spec *s, struct skiff_err **err)
{
  if (spec_json_string(doc, "", "ociVersion", true, &s->oci_version, err) < 0)
    return -1;
  /* Compatible within a major version (the spec's promise): any 1.x is read.  Another
     version may mean anything: it is read as 1.x too, and create warns (runc and crun do
     the same rather than refuse). */
  s->oci_version_unknown = strncmp(s->oci_version, "1.", 2) != 0;
  return 0;
}

/* Checks that span sections. */
static int validate_cross(struct skiff_spec *s, struct skiff_err **err)
{
  /* runc: "unable to set hostname without a private UTS namespace". */
  if (s->hostname && s->hostname[0] && !spec_find_namespace(s, SKIFF_NS_UTS))
    return spec_json_error(err, "hostname", "needs a uts namespace in linux.namespaces");
  if (s->domainname && s->domainname[0] && !spec_find_namespace(s, SKIFF_NS_UTS))
    return spec_json_error(err, "domainname", "needs a uts namespace in linux.namespaces");
  return 0;
}

static int parse_document(json_t *doc, struct skiff_spec *s, struct skiff_err **err)
{
  json_t *linux_obj;
  if (!json_is_object(doc))
    /* jansson only decodes an object or an array at the top level (no JSON_DECODE_ANY). */
    return skiff_error(err, 0, "expected a JSON object at the top level, got an array");
  if (parse_version(doc, s, err) < 0 || parse_root(doc, s, err) < 0
      || spec_json_string(doc, "", "hostname", false, &s->hostname, err) < 0
      || spec_json_string(doc, "", "domainname", false, &s->domainname, err) < 0
      || parse_process(doc, s, err) < 0 || parse_mounts(doc, s, err) < 0
      || parse_hooks(doc, s, err) < 0
      || spec_json_string_map(doc, "", "annotations", &s->annotations, err) < 0)
    return -1;
  if (spec_json_object(doc, "", "linux", false, &linux_obj, err) < 0)
    return -1;
  if (spec_parse_linux(linux_obj, &s->linux, err) < 0)
    return -1;
  return validate_cross(s, err);
}

int spec_parse(const char *json_text, size_t len, struct skiff_spec **out, struct skiff_err **err)
{
  json_error_t jerr;
  /* Duplicate keys are refused: two parsers reading different values from one file is
   * how policy checks get bypassed.  Without JSON_ALLOW_NUL jansson also refuses "\u0000",
   * so no string we copy can be cut short by an embedded NUL. */
  cleanup_spec_json json_t *doc = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc == NULL)
    return skiff_error(err, 0, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text);
  struct skiff_spec *s = xzalloc(sizeof(*s));
  if (parse_document(doc, s, err) < 0)
    {
      spec_free(s);
      return -1;
    }
  *out = s;
  return 0;
}

int spec_load(const char *bundle, struct skiff_spec **out, struct skiff_err **err)
{
  cleanup_free char *path = xasprintf("%s/config.json", bundle);
  cleanup_free char *text = NULL;
  size_t len = 0;
  if (skiff_read_file(path, &text, &len, err) < 0)
    return -1;
  if (spec_parse(text, len, out, err) < 0)
    return skiff_err_prefix(err, "%s", path);
  return 0;
}

int spec_parse_process(const char *json_text, size_t len, struct skiff_process **out,
                       struct skiff_err **err)
{
  json_error_t jerr;
  json_t *proc = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (proc == NULL)
    return skiff_error(err, 0, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text);
  cleanup_spec_json json_t *doc = json_pack("{s:o}", "process", proc);
  struct skiff_spec *s = xzalloc(sizeof(*s));
  if (doc == NULL || parse_process(doc, s, err) < 0 || !s->has_process)
    {
      if (!s->has_process && doc)
        spec_json_type_error(err, "process", proc, "an object");
      spec_free(s);
      return -1;
    }
  *out = xmalloc(sizeof(**out));
  **out = s->process;
  memset(&s->process, 0, sizeof(s->process));
  spec_free(s);
  return 0;
}

static void process_free(struct skiff_process *p)
{
  free(p->user.additional_gids);
  spec_strv_free(p->args);
  spec_strv_free(p->env);
  free(p->cwd);
  spec_strv_free(p->caps.bounding);
  spec_strv_free(p->caps.effective);
  spec_strv_free(p->caps.permitted);
  spec_strv_free(p->caps.inheritable);
  spec_strv_free(p->caps.ambient);
  for (size_t i = 0; i < p->n_rlimits; i++)
    free(p->rlimits[i].type);
  free(p->rlimits);
  free(p->apparmor_profile);
  free(p->selinux_label);
}

void spec_process_free(struct skiff_process *p)
{
  if (p == NULL)
    return;
  process_free(p);
  free(p);
}

void spec_free(struct skiff_spec *s)
{
  if (s == NULL)
    return;
  free(s->oci_version);
  free(s->root_path);
  free(s->hostname);
  free(s->domainname);
  process_free(&s->process);
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      free(s->mounts[i].destination);
      free(s->mounts[i].type);
      free(s->mounts[i].source);
      spec_strv_free(s->mounts[i].options);
      free(s->mounts[i].data);
    }
  free(s->mounts);
  for (int k = 0; k < SKIFF_HOOK_KINDS; k++)
    {
      for (size_t i = 0; i < s->n_hooks[k]; i++)
        {
          free(s->hooks[k][i].path);
          spec_strv_free(s->hooks[k][i].args);
          spec_strv_free(s->hooks[k][i].env);
        }
      free(s->hooks[k]);
    }
  spec_strv_free(s->annotations);
  spec_linux_free(&s->linux);
  free(s);
}
