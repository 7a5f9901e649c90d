/* util.c - error values, allocation, file helpers and small parsers shared by skiff.
 * Owns nothing global; every helper reports failure through struct skiff_err. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <ctype.h>
#include <time.h>
#include <math.h>

static int verror(struct skiff_err **err, int status, const char *fmt, va_list ap)
{
  char *msg = NULL;
  if (err == NULL || *err != NULL)
    return -1;
  if (vasprintf(&msg, fmt, ap) < 0)
    abort();
  if (status)
    {
      char *full = xasprintf("%s: %s", msg, strerror(status));
      free(msg);
      msg = full;
    }
  *err = xzalloc(sizeof(**err));
  (*err)->status = status;
  (*err)->msg = msg;
  return -1;
}

int skiff_error(struct skiff_err **err, int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  verror(err, status, fmt, ap);
  va_end(ap);
  return -1;
}

int skiff_err_prefix(struct skiff_err **err, const char *fmt, ...)
{
  va_list ap;
  char *ctx = NULL;
  if (err == NULL || *err == NULL)
    return -1;
  va_start(ap, fmt);
  if (vasprintf(&ctx, fmt, ap) < 0)
    abort();
  va_end(ap);
  char *full = xasprintf("%s: %s", ctx, (*err)->msg);
  free(ctx);
  free((*err)->msg);
  (*err)->msg = full;
  return -1;
}

void skiff_err_free(struct skiff_err **err)
{
  if (err == NULL || *err == NULL)
    return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}

static skiff_reporter reporter;

void skiff_set_reporter(skiff_reporter fn)
{
  reporter = fn;
}

void skiff_report(const char *fmt, ...)
{
  if (reporter == NULL)
    return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  reporter(line);
}

void *xmalloc(size_t size)
{
  void *p = malloc(size ? size : 1);
  if (p == NULL)
    abort();
  return p;
}

void *xzalloc(size_t size)
{
  void *p = calloc(1, size ? size : 1);
  if (p == NULL)
    abort();
  return p;
}

void *xrealloc(void *p, size_t size)
{
  p = realloc(p, size ? size : 1);
  if (p == NULL)
    abort();
  return p;
}

char *xstrdup(const char *s)
{
  char *r = strdup(s ? s : "");
  if (r == NULL)
    abort();
  return r;
}

char *xasprintf(const char *fmt, ...)
{
  va_list ap;
  char *r = NULL;
  va_start(ap, fmt);
  if (vasprintf(&r, fmt, ap) < 0)
    abort();
  va_end(ap);
  return r;
}

ssize_t skiff_write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t n = write(fd, p + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      done += n;
    }
  return done;
}

ssize_t skiff_read_all(int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t done = 0;
  while (done < len)
    {
      ssize_t n = read(fd, p + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      done += n;
    }
  return done;
}

int skiff_write_file(const char *path, const void *data, size_t len, int mode,
                     struct skiff_err **err)
{
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", path);
  if (skiff_write_all(fd, data, len) < 0)
    return skiff_error(err, errno, "write `%s`", path);
  return 0;
}

static int write_replace(const char *path, const void *data, size_t len, int mode, bool durable,
                         struct skiff_err **err)
{
  /* A fresh name made with O_CREAT|O_EXCL (never follows a symlink) in the target's own
   * directory: a predictable name (path.tmp.PID) in a directory others can write, such as
   * a --pid-file in /tmp, let them plant a symlink that we, as root, followed and
   * truncated. */
  cleanup_free char *tmp = xasprintf("%s.tmp.XXXXXX", path);
  cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "create a temporary file beside `%s`", path);
  if (fchmod(fd, (mode_t)mode) < 0 || skiff_write_all(fd, data, len) < 0
      || (durable && fsync(fd) < 0))
    {
      int saved = errno;
      unlink(tmp);
      return skiff_error(err, saved, "write `%s`", tmp);
    }
  if (rename(tmp, path) < 0)
    {
      int saved = errno;
      unlink(tmp);
      return skiff_error(err, saved, "rename `%s` to `%s`", tmp, path);
    }
  return 0;
}

int skiff_write_file_atomic(const char *path, const void *data, size_t len, int mode,
                            struct skiff_err **err)
{
  return write_replace(path, data, len, mode, true, err);
}

int skiff_write_file_replace(const char *path, const void *data, size_t len, int mode,
                             struct skiff_err **err)
{
  return write_replace(path, data, len, mode, false, err);
}

int skiff_write_string_at(int dirfd, const char *name, const char *s, struct skiff_err **err)
{
  cleanup_close int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", name);
  size_t len = strlen(s);
  ssize_t n;
  do
    n = write(fd, s, len);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return skiff_error(err, errno, "write `%s` to `%s`", s, name);
  return 0;
}

static int read_fd(int fd, const char *name, char **out, size_t *len, struct skiff_err **err)
{
  size_t cap = 4096, used = 0;
  char *buf = xmalloc(cap);
  for (;;)
    {
      if (used + 1 >= cap)
        buf = xrealloc(buf, cap *= 2);
      ssize_t n = read(fd, buf + used, cap - used - 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          free(buf);
          return skiff_error(err, saved, "read `%s`", name);
        }
      if (n == 0)
        break;
      used += n;
    }
  buf[used] = '\0';
  *out = buf;
  if (len)
    *len = used;
  return 0;
}

int skiff_read_file(const char *path, char **out, size_t *len, struct skiff_err **err)
{
  return skiff_read_file_at(AT_FDCWD, path, out, len, err);
}

int skiff_read_file_at(int dirfd, const char *name, char **out, size_t *len, struct skiff_err **err)
{
  cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", name);
  return read_fd(fd, name, out, len, err);
}

int skiff_mkdir_p(const char *path, int mode, struct skiff_err **err)
{
  /* usually the parents exist (a state root on every create): one mkdir */
  if (mkdir(path, mode) == 0 || errno == EEXIST)
    return 0;
  if (errno != ENOENT)
    return skiff_error(err, errno, "mkdir `%s`", path);
  cleanup_free char *p = xstrdup(path);
  for (char *s = p + 1; *s; s++)
    {
      if (*s != '/')
        continue;
      *s = '\0';
      if (mkdir(p, mode) < 0 && errno != EEXIST)
        return skiff_error(err, errno, "mkdir `%s`", p);
      *s = '/';
    }
  if (mkdir(p, mode) < 0 && errno != EEXIST)
    return skiff_error(err, errno, "mkdir `%s`", p);
  return 0;
}

static int rm_rf_at(int parent, const char *name, dev_t dev, struct skiff_err **err)
{
  struct stat st;
  if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : skiff_error(err, errno, "stat `%s`", name);
  if (!S_ISDIR(st.st_mode))
    {
      if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
        return skiff_error(err, errno, "unlink `%s`", name);
      return 0;
    }
  if (st.st_dev != dev)
    return skiff_error(err, EBUSY, "remove `%s` (a mount point)", name);
  int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return skiff_error(err, errno, "open `%s`", name);
  DIR *d = fdopendir(fd);
  if (d == NULL)
    {
      close(fd);
      return skiff_error(err, errno, "fdopendir `%s`", name);
    }
  struct dirent *de;
  int ret = 0;
  while ((de = readdir(d)) != NULL)
    {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      if (rm_rf_at(dirfd(d), de->d_name, dev, err) < 0)
        {
          ret = -1;
          break;
        }
    }
  closedir(d);
  if (ret < 0)
    return ret;
  if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return skiff_error(err, errno, "rmdir `%s`", name);
  return 0;
}

int skiff_rm_rf(const char *path, struct skiff_err **err)
{
  struct stat st;
  if (lstat(path, &st) < 0)
    return errno == ENOENT ? 0 : skiff_error(err, errno, "stat `%s`", path);
  return rm_rf_at(AT_FDCWD, path, st.st_dev, err);
}

/* Signal names, util-linux style static table. */
static const struct
{
  const char *name;
  int sig;
} signal_table[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

const char *skiff_signal_name(int sig)
{
  for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++)
    if (signal_table[i].sig == sig)
      return signal_table[i].name;
  return NULL;
}

int skiff_parse_signal(const char *s, int *sig, struct skiff_err **err)
{
  if (s == NULL || *s == '\0')
    return skiff_error(err, 0, "invalid signal ``: empty");
  if (isdigit((unsigned char)*s))
    {
      char *end = NULL;
      errno = 0;
      long v = strtol(s, &end, 10);
      if (errno || *end || v < 1 || v > SIGRTMAX)
        return skiff_error(err, 0, "invalid signal `%s`: not a signal number", s);
      *sig = (int)v;
      return 0;
    }
  const char *name = s;
  if (strncasecmp(name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++)
    if (strcasecmp(signal_table[i].name, name) == 0)
      {
        *sig = signal_table[i].sig;
        return 0;
      }
  if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0)
    {
      int base = strncasecmp(name, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
      const char *rest = name + 5;
      long off = 0;
      if (*rest)
        {
          char *end = NULL;
          off = strtol(rest, &end, 10);
          if (*end || (base == SIGRTMIN && off < 0) || (base == SIGRTMAX && off > 0))
            return skiff_error(err, 0, "invalid signal `%s`: unknown name", s);
          /* found by tests/fuzz/fuzz_parse: "SIGRTMIN+9223372036854775807" overflowed
             base + off */
          if (off < -SIGRTMAX || off > SIGRTMAX)
            return skiff_error(err, 0, "invalid signal `%s`: out of range", s);
        }
      long v = base + off;
      if (v < SIGRTMIN || v > SIGRTMAX)
        return skiff_error(err, 0, "invalid signal `%s`: out of range", s);
      *sig = (int)v;
      return 0;
    }
  return skiff_error(err, 0, "invalid signal `%s`: unknown name", s);
}

int skiff_parse_duration_ms(const char *s, long long *ms, struct skiff_err **err)
{
  static const struct
  {
    const char *unit;
    double ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000}};
  char *end = NULL;
  errno = 0;
  double v = s && isdigit((unsigned char)*s) ? strtod(s, &end) : -1;
  if (v < 0 || errno || end == s || !isfinite(v))
    return skiff_error(err, 0, "invalid duration `%s`: expected a number and ms, s, m or h",
                       s ? s : "");
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
    if (strcmp(end, units[i].unit) == 0)
      {
        double r = v * units[i].ms;
        if (r < 1 || r > 86400000.0 * 365)
          return skiff_error(err, 0, "invalid duration `%s`: must be between 1ms and a year", s);
        *ms = (long long)r;
        return 0;
      }
  return skiff_error(err, 0, "invalid duration `%s`: unknown unit `%s` (ms, s, m or h)", s, end);
}

int skiff_parse_size(const char *s, long long *bytes, struct skiff_err **err)
{
  if (s == NULL || *s == '\0')
    return skiff_error(err, 0, "invalid size ``: empty");
  char *end = NULL;
  errno = 0;
  if (!isdigit((unsigned char)*s))
    return skiff_error(err, 0, "invalid size `%s`: expected a number with an optional unit", s);
  double v = strtod(s, &end);
  if (errno || end == s || v < 0 || !isfinite(v))
    return skiff_error(err, 0, "invalid size `%s`: expected a number with an optional unit", s);
  double mult = 1;
  if (*end)
    {
      char u = (char)tolower((unsigned char)*end);
      const char *rest = end + 1;
      switch (u)
        {
          case 'b':
            mult = 1;
            rest = end + 1;
            break;
          case 'k':
            mult = 1024.0;
            break;
          case 'm':
            mult = 1024.0 * 1024;
            break;
          case 'g':
            mult = 1024.0 * 1024 * 1024;
            break;
          case 't':
            mult = 1024.0 * 1024 * 1024 * 1024;
            break;
          default:
            return skiff_error(err, 0, "invalid size `%s`: unknown unit `%s`", s, end);
        }
      /* Accept k, kb, ki, kib (and upper case), all binary units as docker does. */
      if (u != 'b' && (*rest == 'i' || *rest == 'I'))
        rest++;
      if (u != 'b' && (*rest == 'b' || *rest == 'B'))
        rest++;
      if (*rest)
        return skiff_error(err, 0, "invalid size `%s`: unknown unit `%s`", s, end);
    }
  double r = v * mult;
  if (r > (double)LLONG_MAX / 2)
    return skiff_error(err, 0, "invalid size `%s`: too large", s);
  *bytes = (long long)r;
  return 0;
}

long long skiff_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int skiff_bearer_matches(const char *authorization, const char *token)
{
  if (authorization == NULL || token == NULL || strncmp(authorization, "Bearer ", 7) != 0)
    return 0;
  const char *t = authorization + 7;
  size_t lt = strlen(t), lk = strlen(token);
  unsigned char diff = lt != lk;
  for (size_t i = 0; i < lk; i++)
    diff |= (unsigned char)(token[i] ^ (i < lt ? t[i] : 0));
  return diff == 0;
}
