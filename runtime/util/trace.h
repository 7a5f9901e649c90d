/* trace.h - start-path trace points: where the milliseconds of a container start go.
 *
 * Off unless the program opened a trace file (skiff: SKIFF_TRACE=FILE).  Off, a trace
 * point is one load and one not-taken branch: no call, no syscall, no allocation.  On,
 * each point appends one line "<CLOCK_REALTIME in us> <pid> <point>" with a single
 * write(2) (O_APPEND), so the lines of the caller, the monitor and the container init
 * interleave whole, and line up with `strace -ttt` timestamps.  tests/bench/start-trace
 * turns a file of them into the table of where each millisecond goes. */
#ifndef SKIFF_TRACE_H
#define SKIFF_TRACE_H

extern int skiff_trace_fd;

/* Open PATH for appending trace lines (O_CLOEXEC); NULL or "" leaves tracing off. */
void skiff_trace_open(const char *path);
void skiff_trace_mark(const char *point);

#define SKIFF_TRACE(point)                                                                         \
  do                                                                                               \
    {                                                                                              \
      if (__builtin_expect(skiff_trace_fd >= 0, 0))                                                \
        skiff_trace_mark(point);                                                                   \
    }                                                                                              \
  while (0)

#endif
