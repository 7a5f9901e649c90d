/* managed_restart.c - `skiff restart`: stop a container run from an image and create it
 * again from its data dir (config.json, meta.json, the overlay's upper dir), under a new
 * monitor, with a new address lease on the same bridge (see managed.h). */
#define _GNU_SOURCE
#include "managed_internal.h"
#include "restart.h"

#include <string.h>

/* The spec text with org.skiff.net.ip set to ip (the address is leased again). */
static char *spec_with_ip(const char *text, const char *ip)
{
  json_t *doc = json_loads(text, 0, NULL);
  json_t *ann = json_object_get(doc, "annotations");
  if (!json_is_object(ann))
    {
      json_decref(doc);
      return NULL;
    }
  json_object_set_new(ann, "org.skiff.net.ip", json_string(ip));
  char *out = json_dumps(doc, JSON_INDENT(2));
  json_decref(doc);
  return out;
}

/* Everything the create needs, from the data dir; freed by restart_free. */
struct restart_plan
{
  char *dir, *spec_text, *lower, *upper, *work, *log_path, *ip, *net_state;
  const char *net, *hostname;
  json_t *meta;
  struct net_bridge_config bridge;
  struct container_publish *ports;
  size_t n_ports;
  struct container_restart policy;
  bool leased;
};

static void restart_free(struct restart_plan *p, const char *name)
{
  if (p->leased)
    net_ipam_release(&p->bridge, name, NULL);
  for (size_t i = 0; i < p->n_ports; i++)
    free(p->ports[i].host_ip);
  free(p->ports);
  free(p->dir);
  free(p->spec_text);
  free(p->lower);
  free(p->upper);
  free(p->work);
  free(p->log_path);
  free(p->ip);
  free(p->net_state);
  json_decref(p->meta);
}

static int plan(const char *state_root, const char *store, const char *name, struct restart_plan *p,
                struct skiff_err **err)
{
  if (managed_data_dir(state_root, store, name, &p->dir, err) < 0)
    return -1;
  p->meta = managed_load_meta(p->dir);
  const char *lower = json_string_value(json_object_get(p->meta, "lower"));
  if (lower == NULL)
    return skiff_error(err, 0,
                       "container `%s`: %s/meta.json has no layers (made by an older "
                       "skiff): remove it and run it again",
                       name, p->dir);
  if (json_is_true(json_object_get(p->meta, "autoremove")))
    return skiff_error(err, 0,
                       "container `%s` was run with --rm: it is removed when it stops, "
                       "so it cannot be restarted",
                       name);
  cleanup_free char *cfg = xasprintf("%s/config.json", p->dir);
  if (skiff_read_file(cfg, &p->spec_text, NULL, err) < 0)
    return -1;
  p->lower = xstrdup(lower);
  p->upper = xasprintf("%s/upper", p->dir);
  p->work = xasprintf("%s/work", p->dir);
  /* a restarted container runs detached: its output goes to its log */
  p->log_path = xasprintf("%s/container.log", p->dir);
  p->net = json_string_value(json_object_get(p->meta, "net"));
  if (p->net == NULL)
    p->net = "bridge";
  const char *policy = json_string_value(json_object_get(p->meta, "restart"));
  if (policy && restart_parse_policy(policy, &p->policy, err) < 0)
    return -1;
  json_t *ports = json_object_get(p->meta, "ports"), *port;
  size_t i;
  p->ports = xzalloc((json_array_size(ports) + 1) * sizeof(*p->ports));
  json_array_foreach(ports, i, port)
  {
    const char *hip = json_string_value(json_object_get(port, "hostIp"));
    p->ports[p->n_ports++] = (struct container_publish){
        .host_ip = hip && strcmp(hip, "0.0.0.0") ? xstrdup(hip) : NULL,
        .host_port = (int)json_integer_value(json_object_get(port, "hostPort")),
        .container_port = (int)json_integer_value(json_object_get(port, "containerPort"))};
  }
  return 0;
}

/* A new lease on the bridge, written into the spec, /etc/hosts and meta.json. */
static int lease_again(const char *store, const char *name, struct restart_plan *p,
                       struct skiff_err **err)
{
  managed_net_config(store, &p->bridge, &p->net_state);
  if (net_ipam_allocate(&p->bridge, name, &p->ip, err) < 0)
    return -1;
  p->leased = true;
  char *spec = spec_with_ip(p->spec_text, p->ip);
  if (spec == NULL)
    return skiff_error(err, 0, "%s/config.json: no annotations", p->dir);
  free(p->spec_text);
  p->spec_text = spec;
  json_t *doc = json_loads(spec, 0, NULL);
  const char *hostname = json_string_value(json_object_get(doc, "hostname"));
  cleanup_free char *etc = xasprintf("%s/etc", p->dir);
  int r = net_write_etc_files(etc, hostname ? hostname : name, p->ip, err);
  json_decref(doc);
  if (r < 0)
    return -1;
  cleanup_free char *cfg = xasprintf("%s/config.json", p->dir);
  json_object_set_new(p->meta, "ip", json_string(p->ip));
  cleanup_free char *meta = json_dumps(p->meta, JSON_INDENT(2));
  cleanup_free char *meta_path = xasprintf("%s/meta.json", p->dir);
  if (skiff_write_file_atomic(cfg, spec, strlen(spec), 0600, err) < 0
      || skiff_write_file_atomic(meta_path, meta, strlen(meta), 0600, err) < 0)
    return -1;
  return 0;
}

int managed_restart(const char *state_root, const char *store, const char *name, int timeout,
                    struct skiff_err **err)
{
  struct restart_plan p = {0};
  int ret = -1;
  cleanup_state struct skiff_state *st = NULL;
  if (state_validate_id(name, err) < 0 || plan(state_root, store, name, &p, err) < 0)
    goto out;
  /* stop it (the monitor restarts nothing meanwhile), then drop the old OCI container:
     its veth and lease go with it */
  if (state_load(state_root, name, &st, NULL) == 0)
    {
      if (managed_stop(state_root, name, timeout, err) < 0
          || container_delete(state_root, name, true, err) < 0)
        goto out;
    }
  if (strcmp(p.net, "bridge") == 0 && lease_again(store, name, &p, err) < 0)
    goto out;
  struct skiff_spec *spec = NULL;
  if (spec_parse(p.spec_text, strlen(p.spec_text), &spec, err) < 0)
    goto out;
  struct container_opts co = {.root = state_root,
                              .id = name,
                              .bundle = p.dir,
                              .spec = spec,
                              .spec_json = p.spec_text,
                              .overlay_lower = p.lower,
                              .overlay_upper = p.upper,
                              .overlay_work = p.work,
                              .net = p.ip ? &p.bridge : NULL,
                              .net_ip = p.ip,
                              .net_loopback = strcmp(p.net, "none") == 0,
                              .ports = p.ports,
                              .n_ports = p.n_ports,
                              .log_path = p.log_path,
                              .detach = true,
                              .monitor = true,
                              .restart = p.policy};
  int r = container_create(&co, err);
  spec_free(spec);
  if (r < 0)
    goto out;
  if (container_start(state_root, name, err) < 0)
    {
      container_delete(state_root, name, true, NULL);
      goto out;
    }
  p.leased = false; /* the container holds it now */
  ret = 0;
out:
  restart_free(&p, name);
  return ret;
}
