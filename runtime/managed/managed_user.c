/* managed_user.c - `run --user NAME[:GROUP]` as docker resolves it: names through the
 * image's /etc/passwd and /etc/group (read from its layers, top layer first), ids as
 * they are, the user's supplementary groups from /etc/group.  The parsing is pure
 * (unit tested); only managed_image_file touches the layers. */
#define _GNU_SOURCE
#include "managed.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* A decimal id in 0..4294967294 (-1 means "no change" to the kernel). */
static bool parse_id(const char *s, size_t len, unsigned *out)
{
  if (len == 0 || len > 10)
    return false;
  unsigned long long v = 0;
  for (size_t i = 0; i < len; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return false;
      v = v * 10 + (unsigned)(s[i] - '0');
    }
  if (v > 4294967294ULL)
    return false;
  *out = (unsigned)v;
  return true;
}

/* Field f (0-based) of a ':'-separated line [line, end), as pointer + length. */
static bool field(const char *line, const char *end, int f, const char **out, size_t *len)
{
  const char *p = line;
  for (int i = 0; i < f; i++)
    {
      p = memchr(p, ':', (size_t)(end - p));
      if (p == NULL)
        return false;
      p++;
    }
  const char *q = memchr(p, ':', (size_t)(end - p));
  *out = p;
  *len = (size_t)((q ? q : end) - p);
  return true;
}

/* The line of a passwd/group text whose field key_field equals key (by name) or whose id
 * field equals id (when by_id); [*line, *end) on success. */
static bool find_entry(const char *text, const char *key, size_t key_len, bool by_id, unsigned id,
                       const char **line, const char **end)
{
  for (const char *p = text; p && *p;)
    {
      const char *e = strchr(p, '\n');
      if (e == NULL)
        e = p + strlen(p);
      const char *f;
      size_t n;
      unsigned v;
      if (*p != '#')
        {
          if (by_id && field(p, e, 2, &f, &n) && parse_id(f, n, &v) && v == id)
            goto found;
          if (!by_id && field(p, e, 0, &f, &n) && n == key_len && memcmp(f, key, n) == 0)
            goto found;
        }
      p = *e ? e + 1 : NULL;
      continue;
    found:
      *line = p;
      *end = e;
      return true;
    }
  return false;
}

/* Is name in the comma separated member list [m, m+n)? */
static bool is_member(const char *m, size_t n, const char *name, size_t name_len)
{
  const char *end = m + n;
  while (m < end)
    {
      const char *c = memchr(m, ',', (size_t)(end - m));
      size_t len = (size_t)((c ? c : end) - m);
      if (len == name_len && memcmp(m, name, len) == 0)
        return true;
      m = c ? c + 1 : end;
    }
  return false;
}

int managed_resolve_user(const char *spec, const char *passwd, const char *group,
                         struct managed_user *u, struct skiff_err **err)
{
  memset(u, 0, sizeof(*u));
  const char *colon = strchr(spec, ':');
  size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *gspec = colon ? colon + 1 : NULL;
  if (ulen == 0 || (gspec && *gspec == '\0') || (gspec && strchr(gspec, ':')))
    return skiff_error(err, 0, "--user `%s`: expected USER[:GROUP] (a name or an id each)", spec);
  const char *line = NULL, *end = NULL, *f = NULL;
  size_t n = 0;
  const char *uname = NULL; /* the user's name, for the supplementary groups */
  size_t uname_len = 0;
  if (parse_id(spec, ulen, &u->uid))
    {
      if (passwd && find_entry(passwd, NULL, 0, true, u->uid, &line, &end))
        {
          if (field(line, end, 3, &f, &n))
            parse_id(f, n, &u->gid);
          field(line, end, 0, &uname, &uname_len);
        }
    }
  else if (passwd && find_entry(passwd, spec, ulen, false, 0, &line, &end))
    {
      if (!field(line, end, 2, &f, &n) || !parse_id(f, n, &u->uid) || !field(line, end, 3, &f, &n)
          || !parse_id(f, n, &u->gid))
        return skiff_error(err, 0, "--user `%s`: the image's /etc/passwd entry is malformed", spec);
      uname = spec;
      uname_len = ulen;
    }
  else
    return skiff_error(err, 0, "--user `%s`: no user `%.*s` in the image's /etc/passwd%s", spec,
                       (int)ulen, spec, passwd ? "" : " (the image has none)");
  if (gspec && !parse_id(gspec, strlen(gspec), &u->gid))
    {
      if (!group || !find_entry(group, gspec, strlen(gspec), false, 0, &line, &end)
          || !field(line, end, 2, &f, &n) || !parse_id(f, n, &u->gid))
        return skiff_error(err, 0, "--user `%s`: no group `%s` in the image's /etc/group%s", spec,
                           gspec, group ? "" : " (the image has none)");
    }
  /* supplementary groups: every group that lists the user (not with an explicit group) */
  for (const char *p = group; !gspec && uname && p && *p;)
    {
      const char *e = strchr(p, '\n');
      if (e == NULL)
        e = p + strlen(p);
      unsigned gid;
      const char *gf;
      size_t gn;
      if (*p != '#' && field(p, e, 3, &f, &n) && is_member(f, n, uname, uname_len)
          && field(p, e, 2, &gf, &gn) && parse_id(gf, gn, &gid) && gid != u->gid
          && u->n_groups < MANAGED_MAX_GROUPS)
        u->groups[u->n_groups++] = gid;
      p = *e ? e + 1 : NULL;
    }
  return 0;
}

char *managed_image_file(char **layer_dirs, const char *rel)
{
  size_t n = 0;
  while (layer_dirs && layer_dirs[n])
    n++;
  for (size_t i = n; i-- > 0;)
    {
      cleanup_close int dir = open(layer_dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (dir < 0)
        continue;
      /* resolved inside the layer: an image's `etc -> /etc` must not reach the host's */
      struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                             .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
      cleanup_close int fd = (int)syscall(SYS_openat2, dir, rel, &how, sizeof(how));
      if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
        continue; /* not in this layer: look below */
      struct stat st;
      if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20))
        return NULL; /* a whiteout (0:0 device), not a file, or absurd: the image has none */
      char *text = xmalloc((size_t)st.st_size + 1);
      ssize_t r = skiff_read_all(fd, text, (size_t)st.st_size);
      if (r < 0)
        {
          free(text);
          return NULL;
        }
      text[r] = '\0';
      return text;
    }
  return NULL;
}
