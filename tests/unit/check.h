/* check.h - a tiny TAP unit test harness.  Each TEST is one TAP line; CHECK records a
 * failure with file:line and goes on; tests/run counts the ok / not ok lines. */
#ifndef SKIFF_CHECK_H
#define SKIFF_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_current_failed;
static int check_total, check_failures;

#define CHECK(cond)                                                                                \
  do                                                                                               \
    {                                                                                              \
      if (!(cond))                                                                                 \
        {                                                                                          \
          printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                      \
          check_current_failed = 1;                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
  do                                                                                               \
    {                                                                                              \
      const char *_a = (a), *_b = (b);                                                             \
      if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0)                                         \
        {                                                                                          \
          printf("#   %s:%d: `%s` != `%s`\n", __FILE__, __LINE__, _a ? _a : "(null)",              \
                 _b ? _b : "(null)");                                                              \
          check_current_failed = 1;                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                                \
  do                                                                                               \
    {                                                                                              \
      const char *_h = (hay), *_n = (needle);                                                      \
      if (_h == NULL || strstr(_h, _n) == NULL)                                                    \
        {                                                                                          \
          printf("#   %s:%d: `%s` does not contain `%s`\n", __FILE__, __LINE__,                    \
                 _h ? _h : "(null)", _n);                                                          \
          check_current_failed = 1;                                                                \
        }                                                                                          \
    }                                                                                              \
  while (0)

#define RUN_TEST(fn)                                                                               \
  do                                                                                               \
    {                                                                                              \
      check_current_failed = 0;                                                                    \
      fn();                                                                                        \
      check_total++;                                                                               \
      if (check_current_failed)                                                                    \
        check_failures++;                                                                          \
      printf("%sok %d - %s\n", check_current_failed ? "not " : "", check_total, #fn);              \
      fflush(stdout);                                                                              \
    }                                                                                              \
  while (0)

#define CHECK_DONE() (printf("1..%d\n", check_total), check_failures ? 1 : 0)

#endif
