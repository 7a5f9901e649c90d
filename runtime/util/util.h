/* util.h - errors, cleanup attributes and allocation helpers shared by all of skiff.
 *
 * Error contract (DESIGN.md): a function that can fail takes `struct skiff_err **err`,
 * returns a negative value and fills *err with errno and a message that names the call
 * and the path.  Callers add context with skiff_err_prefix().  Only main() prints. */
#ifndef SKIFF_UTIL_H
#define SKIFF_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

/* The release of every skiff binary, and the OCI runtime-spec version it implements. */
#define SKIFF_VERSION "0.1.0"
#define SKIFF_OCI_VERSION "1.2.0"

struct skiff_err
{
  int status; /* errno value, 0 when the error is not a system call failure */
  char *msg;
};

/* Fill *err (if err != NULL and *err is empty) and return -1 (or -status if status > 0
 * would be confusing: always -1).  When status != 0 ": strerror(status)" is appended. */
int skiff_error(struct skiff_err **err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepend "context: " to an existing error; returns -1. */
int skiff_err_prefix(struct skiff_err **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void skiff_err_free(struct skiff_err **err);

/* What the library cannot return as an error: a warning about a lifecycle that goes on (a
 * failing poststart hook), or the last words of a child after fork (exec failed).  The
 * library hands such a line to the reporter the program installed (main() prints it); with
 * none installed the line is dropped.  The library itself never writes to stdout/stderr. */
typedef void (*skiff_reporter)(const char *line);
void skiff_set_reporter(skiff_reporter fn);
void skiff_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation never returns NULL: abort on OOM (small allocations). */
void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Cleanup attributes, crun style. Variables start at NULL / -1. */
static inline void cleanup_freep(void *p)
{
  free(*(void **)p);
}
static inline void cleanup_closep(int *fd)
{
  if (*fd >= 0)
    close(*fd);
}
static inline void cleanup_filep(FILE **f)
{
  if (*f)
    fclose(*f);
}
static inline void cleanup_dirp(DIR **d)
{
  if (*d)
    closedir(*d);
}
static inline void cleanup_errp(struct skiff_err **e)
{
  skiff_err_free(e);
}
#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_file __attribute__((cleanup(cleanup_filep)))
#define cleanup_dir __attribute__((cleanup(cleanup_dirp)))
#define cleanup_err __attribute__((cleanup(cleanup_errp)))

/* Steal ownership out of a cleanup variable. */
#define steal_pointer(pp)                                                                          \
  ({                                                                                               \
    __typeof__(*(pp)) _p = *(pp);                                                                  \
    *(pp) = NULL;                                                                                  \
    _p;                                                                                            \
  })
#define steal_fd(fdp)                                                                              \
  ({                                                                                               \
    int _fd = *(fdp);                                                                              \
    *(fdp) = -1;                                                                                   \
    _fd;                                                                                           \
  })

/* File helpers. */
int skiff_write_file(const char *path, const void *data, size_t len, int mode,
                     struct skiff_err **err);
/* Write atomically: a new temp file (random name, O_EXCL) in the same directory, fsync,
 * rename.  A symlink at the path is replaced, never followed. */
int skiff_write_file_atomic(const char *path, const void *data, size_t len, int mode,
                            struct skiff_err **err);
/* The same without the fsync: readers see the old or the new content, never a mix, but
 * a power cut may lose the write.  For state that does not outlive a reboot (the
 * runtime's state.json, exit.json: their containers die with the machine); an fsync of
 * each on a disk-backed state root cost 1-6 ms per container start. */
int skiff_write_file_replace(const char *path, const void *data, size_t len, int mode,
                             struct skiff_err **err);
/* Write a string to an existing file (cgroupfs, /proc); no O_CREAT. */
int skiff_write_string_at(int dirfd, const char *name, const char *s, struct skiff_err **err);
/* Read a whole file (NUL-terminated); *len may be NULL. */
int skiff_read_file(const char *path, char **out, size_t *len, struct skiff_err **err);
int skiff_read_file_at(int dirfd, const char *name, char **out, size_t *len,
                       struct skiff_err **err);
/* mkdir -p with mode; existing directories are fine. */
int skiff_mkdir_p(const char *path, int mode, struct skiff_err **err);
/* rm -rf that does not cross mount points; missing path is success. */
int skiff_rm_rf(const char *path, struct skiff_err **err);
/* Full write/read loops retrying on EINTR. */
ssize_t skiff_write_all(int fd, const void *buf, size_t len);
ssize_t skiff_read_all(int fd, void *buf, size_t len);

/* Close every fd >= lowfd except the n_keep in keep (at most 16), before a program of the
 * container or of a hook runs (CVE-2024-21626).  close_range(2), else each fd that
 * /proc/self/fd lists; -1 with *err when neither works (the caller must not run it). */
int skiff_close_fds_from(int lowfd, const int *keep, size_t n_keep, struct skiff_err **err);

/* Does an HTTP Authorization header carry "Bearer <token>"?  Compared in constant time over
 * the token's length (no timing oracle on a prefix).  1 yes, 0 no (also for NULLs). */
int skiff_bearer_matches(const char *authorization, const char *token);

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long long skiff_now_ms(void);

/* Parsing helpers for outside input.  Return 0 or -1 with *err naming the value. */
int skiff_parse_signal(const char *s, int *sig, struct skiff_err **err);
const char *skiff_signal_name(int sig); /* "TERM" or NULL */
/* "5s", "500ms", "1m", "1.5s", "2" (seconds) -> milliseconds (> 0), as Go durations. */
int skiff_parse_duration_ms(const char *s, long long *ms, struct skiff_err **err);
/* "64m", "1g", "512k", "1024", "64Mi", "1.5G" -> bytes. */
int skiff_parse_size(const char *s, long long *bytes, struct skiff_err **err);

#endif
