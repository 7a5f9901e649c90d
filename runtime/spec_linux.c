/* spec_linux.c - the "linux" object of config.json: namespaces, id mappings, devices,
 * cgroup resources, propagation, masked/readonly paths, sysctl and the seccomp section.
 * Parsing and validation only; ns.c, mount.c, cgroup*.c and seccomp.c apply them. */
#include "spec_json.h"
#include "seccomp.h"

#include <string.h>

static const char *const propagation_names[] = {
    "private", "rprivate",   "slave",       "rslave", "shared",
    "rshared", "unbindable", "runbindable", NULL,
};

static int name_index(const char *const *table, const char *name)
{
  for (int i = 0; table[i]; i++)
    if (strcmp(table[i], name) == 0)
      return i;
  return -1;
}

/* Check each string of v (at parent.key) is a name known() accepts: the names seccomp.c
 * can apply, so nothing passes validation that would fail later in the container. */
static int check_names(char **v, const char *path, const char *key, bool (*known)(const char *),
                       const char *what, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX], q[SPEC_PATH_MAX];
  spec_json_key_path(p, path, key);
  for (size_t i = 0; v && v[i]; i++)
    if (!known(v[i]))
      return spec_json_error(err, spec_json_index_path(q, p, i), "unknown %s \"%s\"", what, v[i]);
  return 0;
}

static int check_abs_paths(char **v, const char *key, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX], q[SPEC_PATH_MAX];
  spec_json_key_path(p, "linux", key);
  for (size_t i = 0; v && v[i]; i++)
    if (v[i][0] != '/')
      return spec_json_error(err, spec_json_index_path(q, p, i), "must be an absolute path");
  return 0;
}

/* Each element of parent.key must be an object: returns the array (or NULL) and count. */
static int object_array(json_t *parent, const char *path, const char *key, json_t **arr, size_t *n,
                        struct skiff_err **err)
{
  char p[SPEC_PATH_MAX], q[SPEC_PATH_MAX];
  int r = spec_json_array(parent, path, key, false, arr, err);
  *n = 0;
  if (r <= 0)
    return r;
  spec_json_key_path(p, path, key);
  for (size_t i = 0; i < json_array_size(*arr); i++)
    if (!json_is_object(json_array_get(*arr, i)))
      return spec_json_type_error(err, spec_json_index_path(q, p, i), json_array_get(*arr, i),
                                  "an object");
  *n = json_array_size(*arr);
  return 1;
}

static int parse_namespaces(json_t *lx, struct skiff_linux *l, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr;
  size_t n;
  int r;
  if ((r = object_array(lx, "linux", "namespaces", &arr, &n, err)) <= 0)
    return r;
  l->namespaces = xzalloc((n + 1) * sizeof(*l->namespaces));
  for (size_t i = 0; i < n; i++)
    {
      json_t *e = json_array_get(arr, i);
      cleanup_free char *type = NULL;
      spec_json_index_path(p, "linux.namespaces", i);
      if (spec_json_string(e, p, "type", true, &type, err) < 0)
        return -1;
      int t = spec_ns_type_from_name(type);
      /* Only the OCI spellings; "net"/"mnt" are for /proc/<pid>/ns callers. */
      if (t < 0 || strcmp(spec_ns_type_name(t), type) != 0)
        return spec_json_key_error(err, p, "type", "unknown namespace \"%s\"", type);
      /* The spec: duplicated types MUST be an error. */
      for (size_t j = 0; j < l->n_namespaces; j++)
        if ((int)l->namespaces[j].type == t)
          return spec_json_key_error(err, p, "type", "duplicate namespace \"%s\"", type);
      l->namespaces[i].type = t;
      l->n_namespaces = i + 1;
      if (spec_json_abs_path(e, p, "path", false, &l->namespaces[i].path, err) < 0)
        return -1;
    }
  return 0;
}

static int parse_idmaps(json_t *lx, const char *key, struct skiff_idmap **out, size_t *n_out,
                        struct skiff_err **err)
{
  char p[SPEC_PATH_MAX], q[SPEC_PATH_MAX];
  json_t *arr;
  size_t n;
  int r;
  if ((r = object_array(lx, "linux", key, &arr, &n, err)) <= 0)
    return r;
  spec_json_key_path(q, "linux", key);
  *out = xzalloc((n + 1) * sizeof(**out));
  *n_out = n;
  for (size_t i = 0; i < n; i++)
    {
      json_t *e = json_array_get(arr, i);
      int64_t c = 0, h = 0, s = 0;
      spec_json_index_path(p, q, i);
      if (spec_json_int(e, p, "containerID", true, 0, UINT32_MAX, &c, err) < 0
          || spec_json_int(e, p, "hostID", true, 0, UINT32_MAX, &h, err) < 0
          || spec_json_int(e, p, "size", true, 1, UINT32_MAX, &s, err) < 0)
        return -1;
      if (c + s > (int64_t)UINT32_MAX + 1 || h + s > (int64_t)UINT32_MAX + 1)
        return spec_json_error(err, p, "range overflows 32-bit ids");
      (*out)[i] = (struct skiff_idmap){(uint32_t)c, (uint32_t)h, (uint32_t)s};
    }
  return 0;
}

static int parse_devices(json_t *lx, struct skiff_linux *l, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr;
  size_t n;
  int64_t v = 0;
  int r;
  if ((r = object_array(lx, "linux", "devices", &arr, &n, err)) <= 0)
    return r;
  l->devices = xzalloc((n + 1) * sizeof(*l->devices));
  l->n_devices = n;
  for (size_t i = 0; i < n; i++)
    {
      struct skiff_device *d = &l->devices[i];
      json_t *e = json_array_get(arr, i);
      cleanup_free char *type = NULL;
      spec_json_index_path(p, "linux.devices", i);
      if (spec_json_abs_path(e, p, "path", true, &d->path, err) < 0
          || spec_json_string(e, p, "type", true, &type, err) < 0)
        return -1;
      if (strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
        return spec_json_key_error(err, p, "type", "unknown device type \"%s\" (c, b, u or p)",
                                   type);
      d->type = type[0];
      /* Major and minor are required except for fifos. */
      bool need = d->type != 'p';
      if ((r = spec_json_int(e, p, "major", need, 0, UINT32_MAX, &d->major, err)) < 0
          || (r = spec_json_int(e, p, "minor", need, 0, UINT32_MAX, &d->minor, err)) < 0)
        return -1;
      if ((r = spec_json_int(e, p, "fileMode", false, 0, 07777, &v, err)) < 0)
        return -1;
      d->has_mode = r > 0;
      d->file_mode = (mode_t)v;
      if ((r = spec_json_int(e, p, "uid", false, 0, 4294967294LL, &v, err)) < 0)
        return -1;
      d->has_uid = r > 0;
      d->uid = (uid_t)v;
      if ((r = spec_json_int(e, p, "gid", false, 0, 4294967294LL, &v, err)) < 0)
        return -1;
      d->has_gid = r > 0;
      d->gid = (gid_t)v;
    }
  return 0;
}

static int parse_device_cgroup(json_t *res, struct skiff_resources *rs, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  json_t *arr;
  size_t n;
  int r;
  if ((r = object_array(res, "linux.resources", "devices", &arr, &n, err)) <= 0)
    return r;
  rs->devices = xzalloc((n + 1) * sizeof(*rs->devices));
  rs->n_devices = n;
  for (size_t i = 0; i < n; i++)
    {
      struct skiff_device_cgroup *d = &rs->devices[i];
      json_t *e = json_array_get(arr, i);
      cleanup_free char *type = NULL;
      spec_json_index_path(p, "linux.resources.devices", i);
      d->major = d->minor = -1;
      if (spec_json_bool(e, p, "allow", true, &d->allow, err) < 0
          || spec_json_string(e, p, "type", false, &type, err) < 0
          || spec_json_int(e, p, "major", false, -1, UINT32_MAX, &d->major, err) < 0
          || spec_json_int(e, p, "minor", false, -1, UINT32_MAX, &d->minor, err) < 0
          || spec_json_string(e, p, "access", false, &d->access, err) < 0)
        return -1;
      d->type = type ? type[0] : 'a';
      if (type && (strlen(type) != 1 || strchr("acb", type[0]) == NULL))
        return spec_json_key_error(err, p, "type", "unknown device type \"%s\" (a, c or b)", type);
      if (d->access == NULL)
        d->access = xstrdup("rwm");
      if (d->access[0] == '\0' || strspn(d->access, "rwm") != strlen(d->access))
        return spec_json_key_error(err, p, "access", "\"%s\" is not a combination of r, w and m",
                                   d->access);
    }
  return 0;
}

static int parse_resources(json_t *lx, struct skiff_linux *l, struct skiff_err **err)
{
  struct skiff_resources *rs = &l->resources;
  json_t *res, *mem, *cpu, *pids;
  int r;
  if ((r = spec_json_object(lx, "linux", "resources", false, &res, err)) <= 0)
    return r;
  l->has_resources = true;
  /* Ignored, as runc does when the controller is absent: blockIO, hugepageLimits,
   * network, rdma; memory.kernel/kernelTCP/swappiness/disableOOMKiller; cpu.realtime*. */
  if ((r = spec_json_object(res, "linux.resources", "memory", false, &mem, err)) < 0)
    return -1;
  if (r > 0)
    {
      const char *mp = "linux.resources.memory";
      if ((r = spec_json_int(mem, mp, "limit", false, -1, INT64_MAX, &rs->memory_limit, err)) < 0)
        return -1;
      rs->has_memory_limit = r > 0;
      if ((r = spec_json_int(mem, mp, "reservation", false, -1, INT64_MAX, &rs->memory_reservation,
                             err))
          < 0)
        return -1;
      rs->has_memory_reservation = r > 0;
      if ((r = spec_json_int(mem, mp, "swap", false, -1, INT64_MAX, &rs->memory_swap, err)) < 0)
        return -1;
      rs->has_memory_swap = r > 0;
      /* swap is memory+swap (v1 memsw): below the limit the kernel would refuse it. */
      if (rs->has_memory_swap && rs->has_memory_limit && rs->memory_swap >= 0
          && rs->memory_limit >= 0 && rs->memory_swap < rs->memory_limit)
        return spec_json_error(err, "linux.resources.memory.swap",
                               "%lld is below memory.limit %lld (swap counts memory + swap)",
                               (long long)rs->memory_swap, (long long)rs->memory_limit);
    }
  if ((r = spec_json_object(res, "linux.resources", "cpu", false, &cpu, err)) < 0)
    return -1;
  if (r > 0)
    {
      const char *cp = "linux.resources.cpu";
      if ((r = spec_json_uint(cpu, cp, "shares", false, &rs->cpu_shares, err)) < 0)
        return -1;
      rs->has_cpu_shares = r > 0;
      if ((r = spec_json_int(cpu, cp, "quota", false, -1, INT64_MAX, &rs->cpu_quota, err)) < 0)
        return -1;
      rs->has_cpu_quota = r > 0;
      if ((r = spec_json_uint(cpu, cp, "period", false, &rs->cpu_period, err)) < 0)
        return -1;
      rs->has_cpu_period = r > 0;
      if (spec_json_string(cpu, cp, "cpus", false, &rs->cpuset_cpus, err) < 0
          || spec_json_string(cpu, cp, "mems", false, &rs->cpuset_mems, err) < 0)
        return -1;
    }
  if ((r = spec_json_object(res, "linux.resources", "pids", false, &pids, err)) < 0)
    return -1;
  if (r > 0)
    {
      if (spec_json_int(pids, "linux.resources.pids", "limit", true, -1, INT64_MAX, &rs->pids_limit,
                        err)
          < 0)
        return -1;
      rs->has_pids_limit = true;
    }
  if (parse_device_cgroup(res, rs, err) < 0)
    return -1;
  return spec_json_string_map(res, "linux.resources", "unified", &rs->unified, err) < 0 ? -1 : 0;
}

static int seccomp_action(json_t *obj, const char *path, const char *key,
                          enum skiff_seccomp_action *out, struct skiff_err **err)
{
  char p[SPEC_PATH_MAX];
  cleanup_free char *name = NULL;
  if (spec_json_string(obj, path, key, true, &name, err) < 0)
    return -1;
  int a = seccomp_action_from_name(name);
  if (a >= 0)
    {
      *out = (enum skiff_seccomp_action)a;
      return 0;
    }
  return spec_json_error(err, spec_json_key_path(p, path, key), "unknown seccomp action \"%s\"",
                         name);
}

static int parse_seccomp_args(json_t *e, const char *path, struct skiff_seccomp_rule *rule,
                              struct skiff_err **err)
{
  char p[SPEC_PATH_MAX], q[SPEC_PATH_MAX];
  json_t *arr;
  size_t n;
  int r;
  if ((r = object_array(e, path, "args", &arr, &n, err)) <= 0)
    return r;
  spec_json_key_path(q, path, "args");
  rule->args = xzalloc((n + 1) * sizeof(*rule->args));
  rule->n_args = n;
  for (size_t i = 0; i < n; i++)
    {
      struct skiff_seccomp_arg *a = &rule->args[i];
      json_t *ae = json_array_get(arr, i);
      cleanup_free char *op = NULL;
      int64_t index = 0;
      spec_json_index_path(p, q, i);
      /* A syscall has at most 6 arguments. */
      if (spec_json_int(ae, p, "index", true, 0, 5, &index, err) < 0
          || spec_json_uint(ae, p, "value", true, &a->value, err) < 0
          || spec_json_uint(ae, p, "valueTwo", false, &a->value_two, err) < 0
          || spec_json_string(ae, p, "op", true, &op, err) < 0)
        return -1;
      a->index = (unsigned)index;
      int o = seccomp_op_from_name(op);
      if (o < 0)
        return spec_json_key_error(err, p, "op", "unknown seccomp operator \"%s\"", op);
      a->op = (enum skiff_seccomp_op)o;
    }
  return 0;
}

static int parse_seccomp(json_t *lx, struct skiff_linux *l, struct skiff_err **err)
{
  const char *sp = "linux.seccomp";
  char p[SPEC_PATH_MAX];
  struct skiff_seccomp *sc = &l->seccomp;
  json_t *obj, *arr;
  size_t n;
  int64_t v = 0;
  int r;
  if ((r = spec_json_object(lx, "linux", "seccomp", false, &obj, err)) <= 0)
    return r;
  l->has_seccomp = true;
  sc->canonical = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  if (seccomp_action(obj, sp, "defaultAction", &sc->default_action, err) < 0)
    return -1;
  if ((r = spec_json_int(obj, sp, "defaultErrnoRet", false, 0, UINT32_MAX, &v, err)) < 0)
    return -1;
  sc->has_default_errno = r > 0;
  sc->default_errno_ret = (unsigned)v;
  if (spec_json_strv(obj, sp, "architectures", false, false, &sc->architectures, err) < 0
      || check_names(sc->architectures, sp, "architectures", seccomp_arch_known, "architecture",
                     err)
             < 0
      || spec_json_strv(obj, sp, "flags", false, false, &sc->flags, err) < 0
      || check_names(sc->flags, sp, "flags", seccomp_flag_known, "seccomp flag", err) < 0)
    return -1;
  /* listenerPath and listenerMetadata (SCMP_ACT_NOTIFY agents) are accepted, unused. */
  if (object_array(obj, sp, "syscalls", &arr, &n, err) < 0)
    return -1;
  sc->syscalls = xzalloc((n + 1) * sizeof(*sc->syscalls));
  sc->n_syscalls = n;
  for (size_t i = 0; i < n; i++)
    {
      struct skiff_seccomp_rule *rule = &sc->syscalls[i];
      json_t *e = json_array_get(arr, i);
      spec_json_index_path(p, "linux.seccomp.syscalls", i);
      if (spec_json_strv(e, p, "names", true, true, &rule->names, err) < 0
          || seccomp_action(e, p, "action", &rule->action, err) < 0)
        return -1;
      if ((r = spec_json_int(e, p, "errnoRet", false, 0, UINT32_MAX, &v, err)) < 0)
        return -1;
      rule->has_errno = r > 0;
      rule->errno_ret = (unsigned)v;
      if (parse_seccomp_args(e, p, rule, err) < 0)
        return -1;
    }
  return 0;
}

int spec_parse_linux(json_t *lx, struct skiff_linux *l, struct skiff_err **err)
{
  int r;
  if (lx == NULL)
    return 0;
  /* Ignored (not implemented): intelRdt, personality, timeOffsets. */
  if (parse_namespaces(lx, l, err) < 0
      || parse_idmaps(lx, "uidMappings", &l->uid_mappings, &l->n_uid_mappings, err) < 0
      || parse_idmaps(lx, "gidMappings", &l->gid_mappings, &l->n_gid_mappings, err) < 0)
    return -1;
  bool has_user = false, new_user = false;
  for (size_t i = 0; i < l->n_namespaces; i++)
    if (l->namespaces[i].type == SKIFF_NS_USER)
      {
        has_user = true;
        new_user = l->namespaces[i].path == NULL;
      }
  if (!has_user && l->n_uid_mappings)
    return spec_json_error(err, "linux.uidMappings",
                           "user namespace mappings without a user namespace");
  if (!has_user && l->n_gid_mappings)
    return spec_json_error(err, "linux.gidMappings",
                           "user namespace mappings without a user namespace");
  /* runc: "user namespaces enabled, but no uid mappings found". */
  if (new_user && l->n_uid_mappings == 0)
    return spec_json_error(err, "linux.uidMappings", "required with a new user namespace");
  if (new_user && l->n_gid_mappings == 0)
    return spec_json_error(err, "linux.gidMappings", "required with a new user namespace");
  if (parse_devices(lx, l, err) < 0
      || spec_json_string(lx, "linux", "cgroupsPath", false, &l->cgroups_path, err) < 0
      || parse_resources(lx, l, err) < 0)
    return -1;
  if ((r = spec_json_string(lx, "linux", "rootfsPropagation", false, &l->rootfs_propagation, err))
      < 0)
    return -1;
  if (r > 0 && name_index(propagation_names, l->rootfs_propagation) < 0)
    return spec_json_error(err, "linux.rootfsPropagation", "unknown propagation \"%s\"",
                           l->rootfs_propagation);
  if (spec_json_strv(lx, "linux", "maskedPaths", false, false, &l->masked_paths, err) < 0
      || check_abs_paths(l->masked_paths, "maskedPaths", err) < 0
      || spec_json_strv(lx, "linux", "readonlyPaths", false, false, &l->readonly_paths, err) < 0
      || check_abs_paths(l->readonly_paths, "readonlyPaths", err) < 0
      || spec_json_string(lx, "linux", "mountLabel", false, &l->mount_label, err) < 0
      || spec_json_string_map(lx, "linux", "sysctl", &l->sysctl, err) < 0)
    return -1;
  return parse_seccomp(lx, l, err);
}

int spec_parse_resources(const char *json_text, size_t len, struct skiff_resources *out,
                         struct skiff_err **err)
{
  json_error_t jerr;
  memset(out, 0, sizeof(*out));
  json_t *res = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (res == NULL)
    return skiff_error(err, 0, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text);
  cleanup_spec_json json_t *lx = json_pack("{s:o}", "resources", res);
  struct skiff_linux l;
  memset(&l, 0, sizeof(l));
  if (lx == NULL || parse_resources(lx, &l, err) < 0)
    {
      spec_resources_free(&l.resources);
      return -1;
    }
  *out = l.resources;
  return 0;
}

void spec_resources_free(struct skiff_resources *r)
{
  free(r->cpuset_cpus);
  free(r->cpuset_mems);
  for (size_t i = 0; i < r->n_devices; i++)
    free(r->devices[i].access);
  free(r->devices);
  spec_strv_free(r->unified);
  memset(r, 0, sizeof(*r));
}

void spec_linux_free(struct skiff_linux *l)
{
  for (size_t i = 0; i < l->n_namespaces; i++)
    free(l->namespaces[i].path);
  free(l->namespaces);
  free(l->uid_mappings);
  free(l->gid_mappings);
  for (size_t i = 0; i < l->n_devices; i++)
    free(l->devices[i].path);
  free(l->devices);
  free(l->cgroups_path);
  spec_resources_free(&l->resources);
  free(l->rootfs_propagation);
  spec_strv_free(l->masked_paths);
  spec_strv_free(l->readonly_paths);
  free(l->mount_label);
  spec_strv_free(l->sysctl);
  spec_strv_free(l->seccomp.architectures);
  spec_strv_free(l->seccomp.flags);
  for (size_t i = 0; i < l->seccomp.n_syscalls; i++)
    {
      spec_strv_free(l->seccomp.syscalls[i].names);
      free(l->seccomp.syscalls[i].args);
    }
  free(l->seccomp.syscalls);
  free(l->seccomp.canonical);
}
