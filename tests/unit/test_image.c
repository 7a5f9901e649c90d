/* test_image.c - the image store: reference parsing, tar entry names and whiteouts,
 * hostile layers (`../`, absolute paths, a symlink to follow, hardlinks out) built here
 * with libarchive, digest and diff_id verification, and build / export / import (OCI
 * layout and docker save) / list / resolve / remove on a temp store.  Runs as root
 * (whiteouts are device nodes, opaque dirs trusted.* xattrs). */
#include "check.h"
#include "image_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static char tmp[64];

static char *path(const char *rel)
{
  static char buf[8][512];
  static int i;
  i = (i + 1) % 8;
  snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmp, rel);
  return buf[i];
}

static void report(struct skiff_err *err)
{
  if (err)
    printf("#   error: %s\n", err->msg);
}

static bool exists(const char *p)
{
  struct stat st;
  return lstat(p, &st) == 0;
}

static int count_dir(const char *p)
{
  DIR *d = opendir(p);
  int n = 0;
  struct dirent *de;
  if (d == NULL)
    return -1;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

static void write_text(const char *p, const char *s)
{
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0)
    {
      CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
      close(fd);
    }
  CHECK(fd >= 0);
}

/* A crafted tar: 'f' file (arg = content), 'd' dir, 'l' symlink (arg = target),
 * 'h' hardlink (arg = target), 'c' character device 1:3, 'p' fifo; mtime 1000000. */
struct tentry
{
  char type;
  const char *name, *arg;
};

/* What an entry may say besides (make_tar's `at`, one per entry, or NULL for none): its
 * mode (0: the type's usual one), owner, for a file the length of arg to store (0: all
 * of it as a string), an xattr "name=value", an access ACL entry for uid 4242, a hole of
 * `hole` bytes before the data (a sparse file). */
struct tattr
{
  int mode;
  unsigned uid, gid;
  size_t len;
  const char *xattr;
  bool acl;
  size_t hole;
};

static void make_tar(const char *out, const struct tentry *ents, const struct tattr *at, size_t n,
                     bool gzip)
{
  static const struct tattr none;
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip)
    archive_write_add_filter_gzip(a);
  CHECK(archive_write_open_filename(a, out) == ARCHIVE_OK);
  for (size_t i = 0; i < n; i++)
    {
      struct archive_entry *e = archive_entry_new();
      archive_entry_set_pathname(e, ents[i].name);
      archive_entry_set_mtime(e, 1000000, 0);
      const struct tattr *t = at ? &at[i] : &none;
      archive_entry_set_uid(e, t->uid);
      archive_entry_set_gid(e, t->gid);
      size_t len = ents[i].type == 'f' ? (t->len ? t->len : strlen(ents[i].arg)) : 0;
      switch (ents[i].type)
        {
          case 'f':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, t->mode ? (mode_t)t->mode : 0644);
            archive_entry_set_size(e, (la_int64_t)len);
            break;
          case 'd':
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, t->mode ? (mode_t)t->mode : 0755);
            break;
          case 'l':
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_perm(e, 0777);
            archive_entry_set_symlink(e, ents[i].arg);
            break;
          case 'h':
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_hardlink(e, ents[i].arg);
            break;
          case 'c':
          case 'p':
            archive_entry_set_filetype(e, ents[i].type == 'c' ? AE_IFCHR : AE_IFIFO);
            archive_entry_set_perm(e, t->mode ? (mode_t)t->mode : 0600);
            archive_entry_set_rdev(e, ents[i].type == 'c' ? makedev(1, 3) : 0);
            break;
        }
      if (t->xattr)
        {
          const char *eq = strchr(t->xattr, '=');
          cleanup_free char *name = strndup(t->xattr, (size_t)(eq - t->xattr));
          archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
        }
      if (t->acl)
        {
          int acc = ARCHIVE_ENTRY_ACL_TYPE_ACCESS;
          CHECK(archive_entry_acl_add_entry(e, acc, 06, ARCHIVE_ENTRY_ACL_USER_OBJ, -1, NULL) == 0);
          CHECK(archive_entry_acl_add_entry(e, acc, 04, ARCHIVE_ENTRY_ACL_USER, 4242, "u") == 0);
          CHECK(archive_entry_acl_add_entry(e, acc, 04, ARCHIVE_ENTRY_ACL_GROUP_OBJ, -1, NULL)
                == 0);
          CHECK(archive_entry_acl_add_entry(e, acc, 04, ARCHIVE_ENTRY_ACL_MASK, -1, NULL) == 0);
          CHECK(archive_entry_acl_add_entry(e, acc, 0, ARCHIVE_ENTRY_ACL_OTHER, -1, NULL) == 0);
        }
      if (t->hole)
        {
          archive_entry_set_size(e, (la_int64_t)(t->hole + len));
          archive_entry_sparse_add_entry(e, (la_int64_t)t->hole, (la_int64_t)len);
        }
      CHECK(archive_write_header(a, e) == ARCHIVE_OK);
      if (t->hole) /* the writer takes the whole file and keeps the data of its map */
        {
          cleanup_free char *zeros = xzalloc(t->hole);
          CHECK(archive_write_data(a, zeros, t->hole) == (la_ssize_t)t->hole);
        }
      if (len > 0)
        CHECK(archive_write_data(a, ents[i].arg, len) == (la_ssize_t)len);
      archive_entry_free(e);
    }
  CHECK(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
}

/* Unpack a crafted layer into a fresh dir; returns the error (caller frees). */
static struct skiff_err *unpack_at(const struct tentry *ents, const struct tattr *at, size_t n,
                                   const char *dest)
{
  struct skiff_err *err = NULL;
  make_tar(path("layer.tar"), ents, at, n, true);
  skiff_rm_rf(dest, NULL);
  CHECK(mkdir(dest, 0755) == 0);
  image_layer_unpack(path("layer.tar"), dest, NULL, &err);
  return err;
}

static struct skiff_err *unpack(const struct tentry *ents, size_t n, const char *dest)
{
  return unpack_at(ents, NULL, n, dest);
}

static void test_parse_ref(void)
{
  static const struct
  {
    const char *in, *name, *tag;
  } ok[] = {
      {"busybox", "busybox", "latest"},
      {"web:v2", "web", "v2"},
      {"docker.io/library/nginx:1.25-alpine", "docker.io/library/nginx", "1.25-alpine"},
      {"my_app.x-1", "my_app.x-1", "latest"},
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
      char *name = NULL, *tag = NULL;
      struct skiff_err *err = NULL;
      CHECK(image_parse_ref(ok[i].in, &name, &tag, &err) == 0);
      report(err);
      CHECK_STR_EQ(name, ok[i].name);
      CHECK_STR_EQ(tag, ok[i].tag);
      free(name);
      free(tag);
      skiff_err_free(&err);
    }
  static const char *const bad[]
      = {"", "Busybox", "a b", "x:", "x:-bad", "-x", "a//b", "x/", "x@sha", "x:a/b:", "ä", "a:b:c"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      char *name = NULL, *tag = NULL;
      struct skiff_err *err = NULL;
      int r = image_parse_ref(bad[i], &name, &tag, &err);
      if (r == 0)
        printf("#   `%s` accepted\n", bad[i]);
      CHECK(r < 0);
      CHECK(err != NULL && strstr(err->msg, "invalid image reference") != NULL);
      free(name);
      free(tag);
      skiff_err_free(&err);
    }
  struct skiff_err *err = NULL;
  char *n = NULL, *t = NULL;
  CHECK(image_parse_ref("Web", &n, &t, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "`Web`");
  skiff_err_free(&err);
}

static void test_clean_path(void)
{
  static const struct
  {
    const char *in, *out;
  } ok[] = {{"./a//b/", "a/b"}, {"./", "."}, {".", "."}, {"a/./b", "a/b"}, {"a..b/c", "a..b/c"}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    {
      char *out = NULL;
      CHECK(image_layer_clean_path(ok[i].in, &out, NULL) == 0);
      CHECK_STR_EQ(out, ok[i].out);
      free(out);
    }
  static const char *const bad[] = {"../evil", "/abs", "a/../../b", "a/..", "", "./.."};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
      char *out = NULL;
      struct skiff_err *err = NULL;
      CHECK(image_layer_clean_path(bad[i], &out, &err) < 0);
      CHECK(out == NULL && err != NULL);
      skiff_err_free(&err);
    }
}

static void test_whiteout_kind(void)
{
  char *t = NULL;
  CHECK(image_whiteout_kind("a/.wh.b", &t) == IMAGE_WH_FILE);
  CHECK_STR_EQ(t, "a/b");
  free(t);
  t = NULL;
  CHECK(image_whiteout_kind(".wh.x", &t) == IMAGE_WH_FILE);
  CHECK_STR_EQ(t, "x");
  free(t);
  t = NULL;
  CHECK(image_whiteout_kind("a/b/.wh..wh..opq", &t) == IMAGE_WH_OPAQUE);
  CHECK_STR_EQ(t, "a/b");
  free(t);
  t = NULL;
  CHECK(image_whiteout_kind(".wh..wh..opq", &t) == IMAGE_WH_OPAQUE);
  CHECK_STR_EQ(t, ".");
  free(t);
  t = NULL;
  CHECK(image_whiteout_kind("a/.wh..wh.plnk", &t) == IMAGE_WH_META);
  CHECK(image_whiteout_kind("a/x.wh.b", &t) == IMAGE_WH_NONE);
  CHECK(image_whiteout_kind("a/.wh.", &t) == IMAGE_WH_META);
  CHECK(t == NULL);
}

static void test_unpack_whiteouts(void)
{
  const struct tentry ents[] = {
      {'d', "a/", NULL},     {'f', "a/keep", "k"},        {'f', "a/.wh.gone", ""},
      {'d', "d", NULL},      {'f', "d/.wh..wh..opq", ""}, {'f', "d/new", "n"},
      {'f', "./top", "top"}, {'h', "a/link", "top"},      {'f', ".wh.deleted_dir", ""},
  };
  struct skiff_err *err = unpack(ents, sizeof(ents) / sizeof(ents[0]), path("wh"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  struct stat st;
  CHECK(lstat(path("wh/a/gone"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
  CHECK(lstat(path("wh/deleted_dir"), &st) == 0 && S_ISCHR(st.st_mode));
  CHECK(!exists(path("wh/a/.wh.gone")));
  CHECK(!exists(path("wh/d/.wh..wh..opq")));
  char v[8] = {0};
  CHECK(getxattr(path("wh/d"), "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y');
  CHECK(getxattr(path("wh/a"), "trusted.overlay.opaque", v, sizeof(v)) < 0);
  struct stat a, b;
  CHECK(stat(path("wh/top"), &a) == 0 && stat(path("wh/a/link"), &b) == 0 && a.st_ino == b.st_ino);
  CHECK(stat(path("wh/d/new"), &st) == 0 && st.st_mtime == 1000000);
}

/* A layer may not steer overlayfs through trusted.overlay.* xattrs (redirect, metacopy);
 * other xattrs (file capabilities, user.*) are kept. */
static void test_overlay_xattrs_stripped(void)
{
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  CHECK(archive_write_open_filename(a, path("xattr.tar")) == ARCHIVE_OK);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, "dir");
  archive_entry_set_filetype(e, AE_IFDIR);
  archive_entry_set_perm(e, 0755);
  archive_entry_xattr_add_entry(e, "trusted.overlay.redirect", "/etc", 4);
  archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
  archive_entry_xattr_add_entry(e, "user.keep", "1", 1);
  CHECK(archive_write_header(a, e) == ARCHIVE_OK);
  archive_entry_free(e);
  CHECK(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
  struct skiff_err *err = NULL;
  skiff_rm_rf(path("xa"), NULL);
  mkdir(path("xa"), 0755);
  CHECK(image_layer_unpack(path("xattr.tar"), path("xa"), NULL, &err) == 0);
  report(err);
  skiff_err_free(&err);
  char v[16];
  CHECK(exists(path("xa/dir")));
  CHECK(getxattr(path("xa/dir"), "trusted.overlay.redirect", v, sizeof(v)) < 0);
  CHECK(getxattr(path("xa/dir"), "trusted.overlay.opaque", v, sizeof(v)) < 0);
  CHECK(getxattr(path("xa/dir"), "user.keep", v, sizeof(v)) == 1);
}

static void test_unpack_escapes(void)
{
  CHECK(mkdir(path("outside"), 0755) == 0 || errno == EEXIST);
  write_text(path("outside/secret"), "host secret");
  char abs_evil[600], link_target[600];
  snprintf(abs_evil, sizeof(abs_evil), "%s/outside/abs-evil", tmp);
  snprintf(link_target, sizeof(link_target), "%s/outside", tmp);
  struct
  {
    const char *what;
    struct tentry e[2];
    size_t n;
    const char *must_not_exist;
  } cases[] = {
      {"dotdot", {{'f', "../outside/evil", "x"}}, 1, "outside/evil"},
      {"dotdot-deep", {{'f', "a/../../outside/evil2", "x"}}, 1, "outside/evil2"},
      {"absolute", {{'f', abs_evil, "x"}}, 1, "outside/abs-evil"},
      {"symlink-then-child", {{'l', "x", link_target}, {'f', "x/evil3", "x"}}, 2, "outside/evil3"},
      {"symlink-root", {{'l', "r", "/"}, {'f', "r/tmp/skiff-image-evil4", "x"}}, 2, NULL},
      {"relative-symlink", {{'l', "up", "../outside"}, {'f', "up/evil5", "x"}}, 2, "outside/evil5"},
      {"hardlink-out", {{'h', "h", "../outside/secret"}}, 1, NULL},
      {"hardlink-via-symlink", {{'l', "s", link_target}, {'h', "h", "s/secret"}}, 2, NULL},
      {"hardlink-abs", {{'h', "h", "/etc/passwd"}}, 1, NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    {
      struct skiff_err *err = unpack(cases[i].e, cases[i].n, path("esc"));
      if (err == NULL)
        printf("#   %s: not rejected\n", cases[i].what);
      else
        printf("#   %s: %s\n", cases[i].what, err->msg);
      CHECK(err != NULL);
      skiff_err_free(&err);
      if (cases[i].must_not_exist)
        CHECK(!exists(path(cases[i].must_not_exist)));
    }
  CHECK(!exists("/tmp/skiff-image-evil4"));
  unlink("/tmp/skiff-image-evil4");
  /* the host file reached by no hardlink: its link count is still 1 */
  struct stat st;
  CHECK(stat(path("outside/secret"), &st) == 0 && st.st_nlink == 1);
  CHECK(count_dir(path("outside")) == 1);
}

/* An entry whose name holds a symlink an earlier entry made replaces the symlink: a
 * directory entry does not chmod/chown/utime the symlink's target, a file entry does not
 * write through it. */
static void test_unpack_over_symlink(void)
{
  CHECK(mkdir(path("outside2"), 0700) == 0 || errno == EEXIST);
  CHECK(chmod(path("outside2"), 0700) == 0);
  write_text(path("outside2/file"), "host file");
  char dir_target[600], file_target[600];
  snprintf(dir_target, sizeof(dir_target), "%s/outside2", tmp);
  snprintf(file_target, sizeof(file_target), "%s/outside2/file", tmp);
  const struct tentry ents[] = {{'l', "d", dir_target},
                                {'d', "d", NULL},
                                {'l', "f", file_target},
                                {'f', "f", "layer content"}};
  struct skiff_err *err = unpack(ents, 4, path("ovs"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  struct stat st;
  CHECK(lstat(path("ovs/d"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
  CHECK(lstat(path("ovs/f"), &st) == 0 && S_ISREG(st.st_mode));
  CHECK(stat(path("outside2"), &st) == 0 && (st.st_mode & 07777) == 0700);
  CHECK(st.st_mtime != 1000000);
  cleanup_free char *text = NULL;
  size_t len = 0;
  CHECK(skiff_read_file(path("outside2/file"), &text, &len, NULL) == 0);
  CHECK(text && strcmp(text, "host file") == 0);
}

/* Symlink entries are made in their parent directly (image_layer.c, write_symlink): target,
 * owner and times as the entry says, what is at the name replaced; and the parent directory
 * kept open between entries is dropped when an entry replaces it, so a child entry after
 * that meets the symlink and is refused instead of landing in the removed directory. */
static void test_unpack_symlink_entries(void)
{
  const struct tentry links[] = {{'d', "bin", NULL},
                                 {'l', "bin/sh", "busybox"},
                                 {'l', "bin/ls", "busybox"},
                                 {'l', "top", "/bin/busybox"}};
  const struct tattr owned = {.uid = 1234, .gid = 5678}, at[] = {owned, owned, owned, owned};
  struct skiff_err *err = unpack_at(links, at, 4, path("lk"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  const char *names[] = {"lk/bin/sh", "lk/bin/ls", "lk/top"};
  for (size_t i = 0; i < 3; i++)
    {
      struct stat st;
      char target[64] = {0};
      CHECK(lstat(path(names[i]), &st) == 0 && S_ISLNK(st.st_mode));
      CHECK(st.st_uid == 1234 && st.st_gid == 5678 && st.st_mtime == 1000000);
      CHECK(readlink(path(names[i]), target, sizeof(target) - 1) > 0);
      CHECK(strcmp(target, i < 2 ? "busybox" : "/bin/busybox") == 0);
    }

  /* a symlink entry replaces a file and an empty directory at its name; the directory's
   * mode and time, which libarchive sets when the archive ends, do not reach the symlink's
   * target */
  CHECK(mkdir(path("outside4"), 0700) == 0 || errno == EEXIST);
  CHECK(chmod(path("outside4"), 0700) == 0);
  char out4[600];
  snprintf(out4, sizeof(out4), "%s/outside4", tmp);
  const struct tentry repl[] = {
      {'f', "r/file", "x"}, {'l', "r/file", "t1"}, {'d', "r/empty", NULL}, {'l', "r/empty", out4}};
  err = unpack(repl, 4, path("rp"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  struct stat st;
  CHECK(lstat(path("rp/r/file"), &st) == 0 && S_ISLNK(st.st_mode));
  CHECK(lstat(path("rp/r/empty"), &st) == 0 && S_ISLNK(st.st_mode));
  CHECK(stat(path("outside4"), &st) == 0 && (st.st_mode & 07777) == 0700);
  CHECK(st.st_mtime != 1000000);

  /* p is opened for the metadata entry in it, then replaced by a symlink (or whited out)
   * by a top-level entry: p/evil must meet what is now at p, and is refused */
  CHECK(mkdir(path("outside3"), 0755) == 0 || errno == EEXIST);
  char out3[600];
  snprintf(out3, sizeof(out3), "%s/outside3", tmp);
  const struct tentry swap[]
      = {{'d', "p", NULL}, {'f', "p/.wh..wh.plnk", ""}, {'l', "p", out3}, {'f', "p/evil", "x"}};
  err = unpack(swap, 4, path("sw"));
  report(err);
  CHECK(err != NULL && strstr(err->msg, "through a symlink") != NULL);
  skiff_err_free(&err);
  CHECK(count_dir(path("outside3")) == 0);
  const struct tentry gone[]
      = {{'d', "p", NULL}, {'f', "p/.wh..wh.plnk", ""}, {'f', ".wh.p", ""}, {'f', "p/evil", "x"}};
  err = unpack(gone, 4, path("sw"));
  report(err);
  CHECK(err != NULL && strstr(err->msg, "entry `p/evil`: parent `p`") != NULL);
  skiff_err_free(&err);
}

/* Regular-file entries are written in their parent directly too (image_layer_entry.c):
 * content (a large one across many reads), owner, then a mode with setuid (which the chown
 * would clear were it set first), times; a file replaces a file and an empty directory at
 * its name, and a directory that is not empty stops the unpack with one line. */
static void test_unpack_file_entries(void)
{
  static char big[300 * 1024];
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (char)('a' + i % 23);
  const struct tentry files[] = {{'d', "bin", NULL},
                                 {'f', "bin/su", "suid"},
                                 {'f', "big", big},
                                 {'f', "bin/su", "again"},
                                 {'f', "empty", ""}};
  const struct tattr at[] = {{0},
                             {.mode = 04755, .uid = 1234, .gid = 5678},
                             {.mode = 0640, .uid = 1234, .gid = 5678, .len = sizeof(big)},
                             {.mode = 04711, .uid = 1234, .gid = 5678},
                             {.mode = 0600, .uid = 1234, .gid = 5678}};
  struct skiff_err *err = unpack_at(files, at, 5, path("fe"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  struct stat st;
  CHECK(lstat(path("fe/bin/su"), &st) == 0 && S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 04711 && st.st_uid == 1234 && st.st_gid == 5678);
  CHECK(st.st_mtim.tv_sec == 1000000 && st.st_size == 5);
  cleanup_free char *text = NULL;
  size_t len = 0;
  CHECK(skiff_read_file(path("fe/bin/su"), &text, &len, NULL) == 0 && len == 5);
  CHECK(text && memcmp(text, "again", 5) == 0);
  cleanup_free char *got = NULL;
  CHECK(skiff_read_file(path("fe/big"), &got, &len, NULL) == 0 && len == sizeof(big));
  CHECK(got && memcmp(got, big, sizeof(big)) == 0);
  CHECK(lstat(path("fe/big"), &st) == 0 && (st.st_mode & 07777) == 0640);
  CHECK(lstat(path("fe/empty"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);

  /* over an empty directory: replaced; over a directory with something in it: refused */
  const struct tentry over[] = {{'d', "d", NULL}, {'f', "d", "now a file"}};
  err = unpack(over, 2, path("fo"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  CHECK(lstat(path("fo/d"), &st) == 0 && S_ISREG(st.st_mode));
  const struct tentry full[] = {{'d', "d", NULL}, {'f', "d/x", "x"}, {'f', "d", "a file"}};
  err = unpack(full, 3, path("fo"));
  report(err);
  CHECK(err != NULL && strstr(err->msg, "entry `d`") != NULL);
  skiff_err_free(&err);
}

/* Directories (mode and times once their children are in), hard links, devices, fifos and
 * xattrs, written by skiff's own tar reader and writers. */
static void test_unpack_entry_types(void)
{
  const struct tentry ents[] = {{'d', "a", NULL},    {'f', "a/f", "data"},  {'l', "a/l", "f"},
                                {'h', "a/h", "a/f"}, {'c', "a/null", NULL}, {'p', "a/fifo", NULL},
                                {'d', "ro", NULL},   {'f', "ro/x", "x"},    {'h', "out", "../etc"}};
  const struct tattr at[] = {{.mode = 0750, .uid = 7, .gid = 8},
                             {.mode = 0644, .xattr = "user.skiff=on"},
                             {0},
                             {0},
                             {.mode = 0640, .uid = 5},
                             {.mode = 0604},
                             {.mode = 0555},
                             {0},
                             {0}};
  struct skiff_err *err = unpack_at(ents, at, 8, path("et"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  struct stat st, f;
  CHECK(lstat(path("et/a"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750);
  CHECK(st.st_uid == 7 && st.st_gid == 8 && st.st_mtim.tv_sec == 1000000);
  CHECK(lstat(path("et/ro"), &st) == 0 && (st.st_mode & 07777) == 0555);
  CHECK(st.st_mtim.tv_sec == 1000000);
  char v[8] = "";
  CHECK(getxattr(path("et/a/f"), "user.skiff", v, sizeof(v)) == 2 && memcmp(v, "on", 2) == 0);
  CHECK(lstat(path("et/a/f"), &f) == 0 && f.st_nlink == 2);
  CHECK(lstat(path("et/a/h"), &st) == 0 && st.st_ino == f.st_ino);
  CHECK(lstat(path("et/a/l"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_mtim.tv_sec == 1000000);
  CHECK(lstat(path("et/a/null"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
  CHECK((st.st_mode & 07777) == 0640 && st.st_uid == 5 && st.st_mtim.tv_sec == 1000000);
  CHECK(lstat(path("et/a/fifo"), &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0604);
  CHECK(lstat(path("et/ro/x"), &st) == 0 && S_ISREG(st.st_mode));
  /* a hard link out of the layer, or to a directory: refused, naming the entry */
  err = unpack_at(ents, at, 9, path("et"));
  CHECK(err != NULL && strstr(err->msg, "hardlink `out`") != NULL);
  report(err);
  skiff_err_free(&err);
  const struct tentry todir[] = {{'d', "a", NULL}, {'h', "b", "a"}};
  err = unpack(todir, 2, path("et"));
  CHECK(err != NULL && strstr(err->msg, "entry `b`: hardlink target `a` is not a file") != NULL);
  report(err);
  skiff_err_free(&err);
}

/* What skiff's tar reader leaves to libarchive (an ACL, a sparse file) unpacks all the
 * same: the layer is read again from its start by libarchive into an emptied dir. */
static void test_unpack_fallback(void)
{
  const struct tentry ents[] = {{'d', "d", NULL},
                                {'f', "d/first", "1"},
                                {'f', "d/acl", "acl"},
                                {'f', "d/sparse", "tail"},
                                {'f', "d/last", "2"}};
  const struct tattr at[] = {{0}, {0}, {.mode = 0640, .acl = true}, {.hole = 1 << 20}, {0}};
  struct skiff_err *err = unpack_at(ents, at, 3, path("fb"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  char acl[128];
  CHECK(getxattr(path("fb/d/acl"), "system.posix_acl_access", acl, sizeof(acl)) > 0);
  CHECK(exists(path("fb/d/first")));
  const struct tentry sparse[] = {ents[0], ents[1], ents[3], ents[4]};
  const struct tattr sat[] = {at[0], at[1], at[3], at[4]};
  err = unpack_at(sparse, sat, 4, path("fb"));
  report(err);
  CHECK(err == NULL);
  skiff_err_free(&err);
  cleanup_free char *got = NULL;
  size_t len = 0;
  CHECK(skiff_read_file(path("fb/d/sparse"), &got, &len, NULL) == 0 && len == (1 << 20) + 4);
  CHECK(got && memcmp(got + (1 << 20), "tail", 4) == 0 && got[0] == 0 && got[(1 << 20) - 1] == 0);
  CHECK(exists(path("fb/d/last")) && exists(path("fb/d/first")));
}

static void test_diffid_check(void)
{
  const struct tentry ents[] = {{'f', "hello", "world"}};
  make_tar(path("plain.tar"), ents, NULL, 1, false);
  make_tar(path("gz.tar"), ents, NULL, 1, true);
  char want[DIGEST_STR_LEN];
  int fd = open(path("plain.tar"), O_RDONLY);
  CHECK(digest_fd(fd, want, NULL, NULL) == 0);
  close(fd);
  struct skiff_err *err = NULL;
  skiff_rm_rf(path("dd"), NULL);
  mkdir(path("dd"), 0755);
  CHECK(image_layer_unpack(path("gz.tar"), path("dd"), want, &err) == 0);
  report(err);
  skiff_err_free(&err);
  skiff_rm_rf(path("dd"), NULL);
  mkdir(path("dd"), 0755);
  CHECK(image_layer_unpack(path("plain.tar"), path("dd"), want, &err) == 0);
  skiff_err_free(&err);
  skiff_rm_rf(path("dd"), NULL);
  mkdir(path("dd"), 0755);
  const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
  CHECK(image_layer_unpack(path("gz.tar"), path("dd"), wrong, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "diff_id mismatch");
  skiff_err_free(&err);
  /* a truncated gzip'd layer is an error, not a short layer */
  CHECK(truncate(path("gz.tar"), 30) == 0);
  skiff_rm_rf(path("dd"), NULL);
  mkdir(path("dd"), 0755);
  CHECK(image_layer_unpack(path("gz.tar"), path("dd"), NULL, &err) < 0);
  skiff_err_free(&err);
}

/* gzip'd layers go through ISA-L (image_gunzip.c): several members in a row make one
 * stream, zero padding after the last one ends it, a damaged member is an error */
static void test_gunzip_members(void)
{
  const struct tentry ents[] = {{'f', "a", "first file"}, {'f', "b/c", "second file"}};
  make_tar(path("m.tar"), ents, NULL, 2, false);
  char want[DIGEST_STR_LEN], cmd[2048];
  int fd = open(path("m.tar"), O_RDONLY);
  CHECK(digest_fd(fd, want, NULL, NULL) == 0);
  close(fd);
  snprintf(cmd, sizeof(cmd),
           "head -c 700 %s | gzip -n > %s && tail -c +701 %s | gzip -n >> %s && "
           "cp %s %s && head -c 16 /dev/zero >> %s",
           path("m.tar"), path("m.gz"), path("m.tar"), path("m.gz"), path("m.gz"), path("mz.gz"),
           path("mz.gz"));
  CHECK(system(cmd) == 0);
  struct skiff_err *err = NULL;
  const char *ok[] = {"m.gz", "mz.gz"};
  for (size_t i = 0; i < 2; i++)
    {
      skiff_rm_rf(path("gd"), NULL);
      mkdir(path("gd"), 0755);
      CHECK(image_layer_unpack(path(ok[i]), path("gd"), want, &err) == 0);
      report(err);
      skiff_err_free(&err);
      CHECK(exists(path("gd/b/c")));
    }
  /* one byte of the first member's deflate data changed */
  fd = open(path("m.gz"), O_RDWR);
  unsigned char b = 0;
  CHECK(pread(fd, &b, 1, 40) == 1);
  b ^= 0x55;
  CHECK(pwrite(fd, &b, 1, 40) == 1);
  close(fd);
  skiff_rm_rf(path("gd"), NULL);
  mkdir(path("gd"), 0755);
  CHECK(image_layer_unpack(path("m.gz"), path("gd"), want, &err) < 0);
  CHECK(err != NULL);
  skiff_err_free(&err);
}

static void make_rootfs(const char *root)
{
  char p[600];
  skiff_mkdir_p(root, 0755, NULL);
  snprintf(p, sizeof(p), "%s/bin", root);
  mkdir(p, 0755);
  snprintf(p, sizeof(p), "%s/bin/tool", root);
  write_text(p, "#!/bin/sh\necho tool\n");
  chmod(p, 0755);
  char q[600];
  snprintf(q, sizeof(q), "%s/bin/tool2", root);
  CHECK(link(p, q) == 0);
  snprintf(p, sizeof(p), "%s/bin/sh", root);
  CHECK(symlink("tool", p) == 0);
  snprintf(p, sizeof(p), "%s/etc", root);
  mkdir(p, 0755);
  snprintf(p, sizeof(p), "%s/etc/passwd", root);
  write_text(p, "root:x:0:0:root:/root:/bin/sh\n");
  snprintf(p, sizeof(p), "%s/tmp", root);
  mkdir(p, 01777);
  chmod(p, 01777);
  snprintf(p, sizeof(p), "%s/null", root);
  CHECK(mknod(p, S_IFCHR | 0666, makedev(1, 3)) == 0);
}

static int count_blobs(const char *store)
{
  char p[600];
  snprintf(p, sizeof(p), "%s/blobs/sha256", store);
  return count_dir(p);
}

static int count_layers(const char *store)
{
  char p[600];
  snprintf(p, sizeof(p), "%s/layers", store);
  return count_dir(p);
}

static void test_store_roundtrip(void)
{
  char store[600];
  snprintf(store, sizeof(store), "%s", path("store"));
  struct skiff_err *err = NULL;
  make_rootfs(path("rootfs"));
  setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
  const char *cfg = "{\"Entrypoint\":[\"/bin/tool\"],\"Cmd\":[\"-x\"],\"Env\":[\"A=1\"],"
                    "\"WorkingDir\":\"/tmp\",\"ExposedPorts\":{\"8080/tcp\":{},\"53/udp\":{}}}";
  CHECK(image_build(store, path("rootfs"), "test:1", cfg, &err) == 0);
  report(err);
  skiff_err_free(&err);
  CHECK(count_blobs(store) == 3 && count_layers(store) == 1);
  /* deterministic layer: the same rootfs again shares blob and layer dir */
  CHECK(image_build(store, path("rootfs"), "test:2", cfg, &err) == 0);
  skiff_err_free(&err);
  CHECK(count_blobs(store) == 3 && count_layers(store) == 1);
  CHECK(image_build(store, path("rootfs"), "test:3", "{\"Bogus\":1}", &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "unknown key `Bogus`");
  skiff_err_free(&err);

  struct image_summary *s = NULL;
  size_t n = 0;
  CHECK(image_list(store, &s, &n, &err) == 0);
  CHECK(n == 2);
  if (n == 2)
    {
      CHECK_STR_EQ(s[0].name, "test");
      CHECK_STR_EQ(s[0].tag, "1");
      CHECK_STR_EQ(s[1].tag, "2");
      CHECK(s[0].size > 0);
      CHECK_STR_EQ(s[0].created, "2023-11-14T22:13:20Z");
      CHECK(digest_valid(s[0].manifest_digest));
    }
  image_summaries_free(s, n);

  struct image_info *info = NULL;
  CHECK(image_resolve(store, "test:1", &info, &err) == 0);
  report(err);
  skiff_err_free(&err);
  if (info)
    {
      CHECK(info->layer_dirs && info->layer_dirs[0] && !info->layer_dirs[1]);
      char p[700];
      snprintf(p, sizeof(p), "%s/bin/tool", info->layer_dirs[0]);
      struct stat st, st2;
      CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755 && st.st_nlink == 2);
      snprintf(p, sizeof(p), "%s/tmp", info->layer_dirs[0]);
      CHECK(stat(p, &st2) == 0 && (st2.st_mode & 07777) == 01777);
      snprintf(p, sizeof(p), "%s/null", info->layer_dirs[0]);
      CHECK(lstat(p, &st2) == 0 && S_ISCHR(st2.st_mode) && st2.st_rdev == makedev(1, 3));
      CHECK(info->entrypoint && !strcmp(info->entrypoint[0], "/bin/tool") && !info->entrypoint[1]);
      CHECK(info->cmd && !strcmp(info->cmd[0], "-x"));
      CHECK(info->env && !strcmp(info->env[0], "A=1"));
      CHECK_STR_EQ(info->workdir, "/tmp");
      CHECK(info->user == NULL);
      CHECK(info->n_ports == 2);
      bool tcp = false, udp = false;
      for (size_t i = 0; i < info->n_ports; i++)
        {
          tcp = tcp || (info->ports[i].port == 8080 && !strcmp(info->ports[i].proto, "tcp"));
          udp = udp || (info->ports[i].port == 53 && !strcmp(info->ports[i].proto, "udp"));
        }
      CHECK(tcp && udp);
      /* by digest prefix */
      char prefix[20];
      snprintf(prefix, sizeof(prefix), "%.15s", info->manifest_digest);
      struct image_info *byd = NULL;
      CHECK(image_resolve(store, prefix, &byd, &err) == 0);
      skiff_err_free(&err);
      if (byd)
        CHECK_STR_EQ(byd->tag, "1");
      image_info_free(byd);
    }
  image_info_free(info);
  info = NULL;
  CHECK(image_resolve(store, "nope", &info, &err) < 0 && info == NULL);
  CHECK_CONTAINS(err ? err->msg : NULL, "no such image `nope`");
  skiff_err_free(&err);

  /* export, import the tar under a new name into a second store and this one */
  CHECK(image_export(store, "test:1", path("test.tar"), &err) == 0);
  report(err);
  skiff_err_free(&err);
  char *ref = NULL;
  CHECK(image_import(path("store2"), path("test.tar"), NULL, &ref, &err) == 0);
  report(err);
  skiff_err_free(&err);
  CHECK_STR_EQ(ref, "test:1");
  free(ref);
  ref = NULL;
  CHECK(count_blobs(path("store2")) == 3 && count_layers(path("store2")) == 1);
  CHECK(image_import(store, path("test.tar"), "copy:v1", &ref, &err) == 0);
  skiff_err_free(&err);
  CHECK_STR_EQ(ref, "copy:v1");
  free(ref);
  CHECK(count_blobs(store) == 3 && count_layers(store) == 1);

  /* remove: shared content stays while a name uses it */
  CHECK(image_remove(store, "test:1", &err) == 0);
  CHECK(image_remove(store, "test:2", &err) == 0);
  CHECK(count_blobs(store) == 3 && count_layers(store) == 1);
  CHECK(image_remove(store, "test:2", &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "no such image");
  skiff_err_free(&err);
  CHECK(image_remove(store, "copy:v1", &err) == 0);
  report(err);
  skiff_err_free(&err);
  CHECK(count_blobs(store) == 0 && count_layers(store) == 0);
  CHECK(count_dir(path("store/tmp")) == 0);
}

/* The layout of an exported image as a directory, one blob corrupted. */
static void test_digest_mismatch(void)
{
  struct skiff_err *err = NULL;
  char store[600];
  snprintf(store, sizeof(store), "%s", path("store3"));
  CHECK(image_build(store, path("rootfs"), "m:1", NULL, &err) == 0);
  CHECK(image_export(store, "m:1", path("m.tar"), &err) == 0);
  skiff_rm_rf(path("mlayout"), NULL);
  mkdir(path("mlayout"), 0755);
  CHECK(image_archive_extract(path("m.tar"), path("mlayout"), &err) == 0);
  report(err);
  skiff_err_free(&err);
  struct image_info *info = NULL;
  CHECK(image_resolve(store, "m:1", &info, &err) == 0);
  /* corrupt the layer blob: the largest file of the layout's blobs */
  char big[700] = "";
  off_t best = -1;
  DIR *d = opendir(path("mlayout/blobs/sha256"));
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    {
      char p[700];
      struct stat st;
      snprintf(p, sizeof(p), "%s/%s", path("mlayout/blobs/sha256"), de->d_name);
      if (de->d_name[0] != '.' && stat(p, &st) == 0 && st.st_size > best)
        {
          best = st.st_size;
          snprintf(big, sizeof(big), "%s", p);
        }
    }
  if (d)
    closedir(d);
  int fd = open(big, O_RDWR);
  CHECK(fd >= 0 && pwrite(fd, "X", 1, best / 2) == 1);
  close(fd);
  CHECK(image_import(path("store4"), path("mlayout"), "bad:1", NULL, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "digest mismatch");
  CHECK_CONTAINS(err ? err->msg : NULL, "blob sha256:");
  skiff_err_free(&err);
  CHECK(count_blobs(path("store4")) == 0 && count_layers(path("store4")) == 0);
  CHECK(count_dir(path("store4/tmp")) == 0);

  /* a blob corrupted inside the store is caught on read */
  if (info)
    {
      char *p = image_blob_path(store, info->config_digest);
      fd = open(p, O_WRONLY | O_APPEND);
      CHECK(fd >= 0 && write(fd, " ", 1) == 1);
      close(fd);
      free(p);
      struct image_info *again = NULL;
      CHECK(image_resolve(store, "m:1", &again, &err) < 0);
      CHECK_CONTAINS(err ? err->msg : NULL, "digest mismatch");
      skiff_err_free(&err);
      image_info_free(again);
    }
  image_info_free(info);
}

/* `docker save` layout: manifest.json, <hex>.json config, <id>/layer.tar. */
static void test_docker_save(void)
{
  struct skiff_err *err = NULL;
  const struct tentry ents[] = {{'d', "etc", NULL}, {'f', "etc/os-release", "ID=test\n"}};
  skiff_mkdir_p(path("docker/abc"), 0755, NULL);
  make_tar(path("docker/abc/layer.tar"), ents, NULL, 2, false);
  char diffid[DIGEST_STR_LEN], cdigest[DIGEST_STR_LEN];
  int fd = open(path("docker/abc/layer.tar"), O_RDONLY);
  CHECK(digest_fd(fd, diffid, NULL, NULL) == 0);
  close(fd);
  char *cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":"
                        "[\"cat\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                        diffid);
  digest_buffer(cfg, strlen(cfg), cdigest);
  char *cname = xasprintf("docker/%s.json", digest_hex(cdigest));
  write_text(path(cname), cfg);
  char *man = xasprintf("[{\"Config\":\"%s.json\",\"RepoTags\":[\"docker.io/library/dk:7\"],"
                        "\"Layers\":[\"abc/layer.tar\"]}]",
                        digest_hex(cdigest));
  write_text(path("docker/manifest.json"), man);
  char *ref = NULL;
  CHECK(image_import(path("store5"), path("docker"), NULL, &ref, &err) == 0);
  report(err);
  skiff_err_free(&err);
  CHECK_STR_EQ(ref, "dk:7");
  free(ref);
  struct image_info *info = NULL;
  CHECK(image_resolve(path("store5"), "dk:7", &info, &err) == 0);
  if (info)
    {
      char p[700];
      snprintf(p, sizeof(p), "%s/etc/os-release", info->layer_dirs[0]);
      CHECK(exists(p));
      CHECK(info->cmd && !strcmp(info->cmd[0], "cat"));
      CHECK(strstr(info->layer_dirs[0], digest_hex(diffid)) != NULL);
    }
  image_info_free(info);
  /* a config whose diff_id does not match the layer: nothing imported */
  char *bad = xasprintf("{\"rootfs\":{\"diff_ids\":[\"sha256:%064d\"]}}", 0);
  write_text(path("docker/bad.json"), bad);
  write_text(path("docker/manifest.json"),
             "[{\"Config\":\"bad.json\",\"RepoTags\":[\"b:1\"],\"Layers\":[\"abc/layer.tar\"]}]");
  CHECK(image_import(path("store6"), path("docker"), NULL, NULL, &err) < 0);
  CHECK_CONTAINS(err ? err->msg : NULL, "diff_id mismatch");
  skiff_err_free(&err);
  CHECK(count_blobs(path("store6")) == 0 && count_layers(path("store6")) == 0);
  free(bad);
  free(cfg);
  free(cname);
  free(man);
}

/* A writer of images.json killed before its rename leaves images.json.tmp.XXXXXX: the
 * next commit (which holds the exclusive lock, as every writer does) removes it. */
static void test_names_tmp_swept(void)
{
  char store[600];
  snprintf(store, sizeof(store), "%s", path("store7"));
  struct skiff_err *err = NULL;
  make_rootfs(path("rootfs7"));
  CHECK(image_build(store, path("rootfs7"), "t:1", NULL, &err) == 0);
  report(err);
  skiff_err_free(&err);
  char dead[700];
  snprintf(dead, sizeof(dead), "%s/images.json.tmp.AbC123", store);
  int fd = open(dead, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && write(fd, "{", 1) == 1);
  if (fd >= 0)
    close(fd);
  CHECK(image_build(store, path("rootfs7"), "t:2", NULL, &err) == 0);
  report(err);
  skiff_err_free(&err);
  CHECK(!exists(dead));
  struct image_info *info = NULL;
  CHECK(image_resolve(store, "t:1", &info, NULL) == 0);
  image_info_free(info);
}

int main(void)
{
  snprintf(tmp, sizeof(tmp), "/tmp/skiff-image-XXXXXX");
  if (mkdtemp(tmp) == NULL)
    return 1;
  RUN_TEST(test_parse_ref);
  RUN_TEST(test_clean_path);
  RUN_TEST(test_whiteout_kind);
  RUN_TEST(test_unpack_whiteouts);
  RUN_TEST(test_overlay_xattrs_stripped);
  RUN_TEST(test_unpack_escapes);
  RUN_TEST(test_unpack_over_symlink);
  RUN_TEST(test_unpack_symlink_entries);
  RUN_TEST(test_unpack_file_entries);
  RUN_TEST(test_unpack_entry_types);
  RUN_TEST(test_unpack_fallback);
  RUN_TEST(test_diffid_check);
  RUN_TEST(test_gunzip_members);
  RUN_TEST(test_store_roundtrip);
  RUN_TEST(test_digest_mismatch);
  RUN_TEST(test_docker_save);
  RUN_TEST(test_names_tmp_swept);
  skiff_rm_rf(tmp, NULL);
  return CHECK_DONE();
}
