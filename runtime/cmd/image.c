/* image.c - `skiff image import|build|rm|export|ls|inspect` and `skiff images`: the
 * image store from the command line.  The store is --store DIR, else
 * $SKIFF_IMAGE_ROOT, else /var/lib/skiff (the global --root is the container state). */
#define _GNU_SOURCE
#include "cmd.h"
#include "image.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* one line, as every error of skiff; `skiff --help` lists the full forms */
#define IMAGE_USAGE                                                                                \
  "usage: skiff image [--store DIR] import|build|rm|export|ls|inspect ... (see skiff --help)"

/* "1.4MiB" */
static void human_size(long long n, char *buf, size_t len)
{
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (n < 0)
    {
      snprintf(buf, len, "?");
      return;
    }
  double v = (double)n;
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
    {
      v /= 1024;
      u++;
    }
  if (u == 0)
    snprintf(buf, len, "%lldB", n);
  else
    snprintf(buf, len, "%.1f%s", v, units[u]);
}

static int list_images(const char *store, bool quiet, struct skiff_err **err)
{
  struct image_summary *s = NULL;
  size_t n = 0;
  if (image_list(store, &s, &n, err) < 0)
    return 1;
  if (!quiet)
    printf("%-30s %-16s %-12s %9s  %s\n", "NAME", "TAG", "DIGEST", "SIZE", "CREATED");
  for (size_t i = 0; i < n; i++)
    {
      char size[32];
      human_size(s[i].size, size, sizeof(size));
      const char *hex = strncmp(s[i].manifest_digest, "sha256:", 7) == 0 ? s[i].manifest_digest + 7
                                                                         : s[i].manifest_digest;
      if (quiet)
        printf("%s:%s\n", s[i].name, s[i].tag);
      else
        printf("%-30s %-16s %-12.12s %9s  %s\n", s[i].name, s[i].tag, hex, size,
               s[i].created ? s[i].created : "");
    }
  image_summaries_free(s, n);
  return 0;
}

static json_t *strv_json(char **v)
{
  if (v == NULL)
    return json_null();
  json_t *a = json_array();
  for (size_t i = 0; v[i]; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

static int inspect_image(const char *store, const char *ref, struct skiff_err **err)
{
  struct image_info *info = NULL;
  if (image_resolve(store, ref, &info, err) < 0)
    return 1;
  json_t *ports = json_array();
  for (size_t i = 0; i < info->n_ports; i++)
    json_array_append_new(ports, json_sprintf("%d/%s", info->ports[i].port, info->ports[i].proto));
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s?, s:s?, s:o}", "name",
                        info->name, "tag", info->tag, "manifest", info->manifest_digest, "config",
                        info->config_digest, "layers", strv_json(info->layer_dirs), "entrypoint",
                        strv_json(info->entrypoint), "cmd", strv_json(info->cmd), "env",
                        strv_json(info->env), "workdir", info->workdir, "user", info->user, "ports",
                        ports);
  char *text = json_dumps(o, JSON_INDENT(2));
  printf("%s\n", text);
  free(text);
  json_decref(o);
  image_info_free(info);
  return 0;
}

int cmd_images(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  const char *store = NULL;
  bool quiet = false;
  int c;
  while ((c = cmd_getopt(argc, argv, cmd_images_flags, false)) != -1)
    if (c == 's')
      store = optarg;
    else if (c == 'q')
      quiet = true;
    else
      return skiff_error(err, 0, "usage: skiff images [--store DIR] [--quiet]"), 2;
  if (optind != argc)
    return skiff_error(err, 0, "usage: skiff images [--store DIR] [--quiet]"), 2;
  return list_images(image_store_root(store), quiet, err);
}

int cmd_image(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  const char *store = NULL, *name = NULL, *rootfs = NULL, *config = NULL;
  bool quiet = false;
  int c;
  /* GNU getopt permutes: flags may come before or after the sub-verb */
  while ((c = cmd_getopt(argc, argv, cmd_image_flags, true)) != -1)
    switch (c)
      {
        case 's':
          store = optarg;
          break;
        case 'n':
          name = optarg;
          break;
        case 'r':
          rootfs = optarg;
          break;
        case 'c':
          config = optarg;
          break;
        case 'q':
          quiet = true;
          break;
        default:
          return skiff_error(err, 0, IMAGE_USAGE), 2;
      }
  if (optind >= argc)
    return skiff_error(err, 0, IMAGE_USAGE), 2;
  const char *sub = argv[optind];
  char **args = argv + optind + 1;
  int nargs = argc - optind - 1;
  store = image_store_root(store);
  if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
    return nargs == 0 ? list_images(store, quiet, err)
                      : (skiff_error(err, 0, "usage: skiff image ls"), 2);
  if (strcmp(sub, "import") == 0)
    {
      if (nargs != 1)
        return skiff_error(err, 0, "usage: skiff image import PATH [--name NAME[:TAG]]"), 2;
      char *ref = NULL;
      if (image_import(store, args[0], name, &ref, err) < 0)
        return 1;
      printf("%s\n", ref);
      free(ref);
      return 0;
    }
  if (strcmp(sub, "build") == 0)
    {
      if (nargs != 0 || rootfs == NULL || name == NULL)
        return skiff_error(err, 0,
                           "usage: skiff image build --rootfs DIR --name NAME[:TAG] "
                           "[--config JSON|@FILE]"),
               2;
      char *text = NULL;
      if (config && config[0] == '@' && skiff_read_file(config + 1, &text, NULL, err) < 0)
        return skiff_err_prefix(err, "--config"), 1;
      int rc = image_build(store, rootfs, name, text ? text : config, err);
      free(text);
      if (rc < 0)
        return 1;
      printf("%s\n", name);
      return 0;
    }
  if (strcmp(sub, "rm") == 0 || strcmp(sub, "remove") == 0)
    {
      if (nargs < 1)
        return skiff_error(err, 0, "usage: skiff image rm NAME[:TAG]..."), 2;
      for (int i = 0; i < nargs; i++)
        if (image_remove(store, args[i], err) < 0)
          return 1;
      return 0;
    }
  if (strcmp(sub, "export") == 0)
    {
      if (nargs != 2)
        return skiff_error(err, 0, "usage: skiff image export NAME[:TAG] PATH"), 2;
      return image_export(store, args[0], args[1], err) < 0 ? 1 : 0;
    }
  if (strcmp(sub, "inspect") == 0)
    {
      if (nargs != 1)
        return skiff_error(err, 0, "usage: skiff image inspect NAME[:TAG]"), 2;
      return inspect_image(store, args[0], err);
    }
  return skiff_error(err, 0, "unknown sub-command `%s`; %s", sub, IMAGE_USAGE), 2;
}
