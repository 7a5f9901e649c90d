/* managed_list.c - the store's containers as `skiff ps` shows them, `ps --filter`, and
 * `skiff system prune` (see managed.h). */
#define _GNU_SOURCE
#include "managed_internal.h"

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>

static void format_ports(json_t *ports, char *buf, size_t n)
{
  size_t used = 0, i;
  json_t *p;
  buf[0] = '\0';
  json_array_foreach(ports, i, p)
  {
    int w = snprintf(buf + used, n - used, "%s%s:%d->%d/tcp", i ? ", " : "",
                     json_string_value(json_object_get(p, "hostIp")),
                     (int)json_integer_value(json_object_get(p, "hostPort")),
                     (int)json_integer_value(json_object_get(p, "containerPort")));
    if (w < 0 || (size_t)w >= n - used)
      break;
    used += (size_t)w;
  }
}

/* The containers of the store's containers/ dir, as `skiff ps` lists them. */
static char **labels_of(json_t *m)
{
  json_t *labels = json_object_get(m, "labels");
  size_t n = json_is_object(labels) ? json_object_size(labels) : 0, i = 0;
  char **v = xzalloc((n + 1) * sizeof(char *));
  const char *k;
  json_t *val;
  if (n)
    json_object_foreach(labels, k, val)
    {
      v[i++] = xasprintf("%s=%s", k, json_string_value(val) ? json_string_value(val) : "");
    }
  return v;
}

/* The containers of the store's containers/ dir, as `skiff ps` lists them. */
int managed_list(const char *state_root, const char *store, bool all,
                 struct managed_ps_row **rows_out, size_t *n_out, struct skiff_err **err)
{
  (void)err;
  cleanup_free char *base = xasprintf("%s/containers", store);
  cleanup_dir DIR *d = opendir(base);
  struct managed_ps_row *rows = NULL;
  size_t n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    {
      if (de->d_name[0] == '.' || state_validate_id(de->d_name, NULL) < 0)
        continue;
      cleanup_state struct skiff_state *st = NULL;
      const char *status = "removed";
      char exited[32];
      int restarts = 0;
      if (state_load(state_root, de->d_name, &st, NULL) == 0)
        {
          enum skiff_status s = state_status(state_root, st);
          status = state_status_name(s);
          restarts = st->restart_count;
          if (s == SKIFF_STATUS_STOPPED && st->restarting)
            status = "restarting";
          else if (s == SKIFF_STATUS_STOPPED && st->has_exit)
            {
              snprintf(exited, sizeof(exited), "exited(%d)", st->exit_code);
              status = exited;
            }
          if (s == SKIFF_STATUS_STOPPED && !st->restarting && !all)
            continue;
        }
      else if (!all)
        continue;
      cleanup_free char *dir = xasprintf("%s/%s", base, de->d_name);
      json_t *m = managed_load_meta(dir);
      char cmd[256] = "", ports[256] = "";
      size_t i;
      json_t *a;
      json_array_foreach(json_object_get(m, "command"), i, a)
      {
        size_t used = strlen(cmd);
        snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "", json_string_value(a));
      }
      format_ports(json_object_get(m, "ports"), ports, sizeof(ports));
      const char *ip = json_string_value(json_object_get(m, "ip"));
      const char *image = json_string_value(json_object_get(m, "image"));
      rows = xrealloc(rows, (n + 1) * sizeof(*rows));
      rows[n++] = (struct managed_ps_row){
          .name = xstrdup(de->d_name),
          .image = xstrdup(image ? image : "?"),
          .command = xstrdup(cmd),
          .status = xstrdup(status),
          .ip = xstrdup(ip ? ip : "-"),
          .ports = xstrdup(ports),
          .labels = labels_of(m),
          .restarts = restarts,
      };
      json_decref(m);
    }
  *rows_out = rows;
  *n_out = n;
  return 0;
}

void managed_ps_rows_free(struct managed_ps_row *rows, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free(rows[i].name);
      free(rows[i].image);
      free(rows[i].command);
      free(rows[i].status);
      free(rows[i].ip);
      free(rows[i].ports);
      for (size_t j = 0; rows[i].labels && rows[i].labels[j]; j++)
        free(rows[i].labels[j]);
      free(rows[i].labels);
    }
  free(rows);
}

/* "busybox" and "busybox:latest" name the same image. */
static bool same_image(const char *a, const char *b)
{
  size_t la = strcspn(a, ":"), lb = strcspn(b, ":");
  const char *ta = a[la] ? a + la + 1 : "latest", *tb = b[lb] ? b + lb + 1 : "latest";
  return la == lb && strncmp(a, b, la) == 0 && strcmp(ta, tb) == 0;
}

int managed_ps_match(const struct managed_ps_row *row, const char *filter, bool *match,
                     struct skiff_err **err)
{
  const char *eq = strchr(filter, '=');
  const char *v = eq ? eq + 1 : "";
  size_t klen = eq ? (size_t)(eq - filter) : strlen(filter);
  if (eq && klen == 4 && strncmp(filter, "name", 4) == 0)
    *match = strstr(row->name, v) != NULL;
  else if (eq && klen == 8 && strncmp(filter, "ancestor", 8) == 0)
    *match = same_image(row->image, v);
  else if (eq && klen == 6 && strncmp(filter, "status", 6) == 0)
    {
      static const char *const known[]
          = {"created", "restarting", "running", "paused", "exited", "removed", NULL};
      bool ok = false;
      for (size_t i = 0; known[i]; i++)
        ok |= strcmp(v, known[i]) == 0;
      if (!ok)
        return skiff_error(err, 0,
                           "--filter `%s`: unknown status (created, restarting, running, paused, "
                           "exited, removed)",
                           filter);
      *match = strncmp(row->status, v, strlen(v)) == 0;
    }
  else if (eq && klen == 5 && strncmp(filter, "label", 5) == 0 && *v)
    {
      /* label=KEY (the key is there) or label=KEY=VALUE (with that value) */
      bool with_value = strchr(v, '=') != NULL;
      *match = false;
      for (size_t i = 0; row->labels && row->labels[i]; i++)
        {
          const char *l = row->labels[i];
          size_t lk = strcspn(l, "=");
          if (with_value ? strcmp(l, v) == 0 : lk == strlen(v) && strncmp(l, v, lk) == 0)
            *match = true;
        }
    }
  else
    return skiff_error(
        err, 0, "--filter `%s`: expected name=, label=KEY[=VALUE], status= or ancestor=", filter);
  return 0;
}

/* Disk use of a data dir (this filesystem only: never into a mount).  nftw takes no
 * context pointer: the sum lives here, used by one prune at a time (no threads). */
static unsigned long long du_total;
static int du_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)path, (void)type, (void)ftw;
  du_total += (unsigned long long)st->st_blocks * 512;
  return 0;
}

int managed_prune(const char *state_root, const char *store, char ***removed_out,
                  unsigned long long *bytes, struct skiff_err **err)
{
  struct managed_ps_row *rows = NULL;
  size_t n = 0, nr = 0;
  *bytes = 0;
  if (managed_list(state_root, store, true, &rows, &n, err) < 0)
    return -1;
  char **removed = xzalloc((n + 1) * sizeof(char *));
  int ret = 0;
  for (size_t i = 0; i < n; i++)
    {
      const char *s = rows[i].status;
      if (strncmp(s, "exited", 6) && strcmp(s, "stopped") && strcmp(s, "removed"))
        continue; /* running, paused, created, restarting: kept */
      cleanup_free char *dir = xasprintf("%s/containers/%s", store, rows[i].name);
      du_total = 0;
      nftw(dir, du_one, 16, FTW_PHYS | FTW_MOUNT);
      if (managed_remove(state_root, store, rows[i].name, true, err) < 0)
        {
          ret = -1;
          break;
        }
      *bytes += du_total;
      removed[nr++] = xstrdup(rows[i].name);
    }
  managed_ps_rows_free(rows, n);
  *removed_out = removed;
  return ret;
}
