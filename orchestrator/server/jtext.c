/* jtext.c - hand-written JSON text (see jtext.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "jtext.h"
#include "util.h"

static void reserve(struct jtext *t, size_t more)
{
  if (t->len + more + 1 <= t->cap)
    return;
  size_t cap = t->cap ? t->cap : 1024; /* a replica fits: no realloc on the hot path */
  while (cap < t->len + more + 1)
    cap *= 2;
  t->s = xrealloc(t->s, cap);
  t->cap = cap;
}

void jtext_raw(struct jtext *t, const char *s, size_t len)
{
  reserve(t, len);
  memcpy(t->s + t->len, s, len);
  t->len += len;
  t->s[t->len] = '\0';
}

void jtext_str(struct jtext *t, const char *s)
{
  jtext_raw(t, s, strlen(s));
}

void jtext_int(struct jtext *t, int64_t v)
{
  char buf[24];
  int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
  jtext_raw(t, buf, (size_t)n);
}

void jtext_quote(struct jtext *t, const char *s)
{
  size_t n = strlen(s);
  reserve(t, n + 2);
  t->s[t->len++] = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    {
      const char *esc = NULL;
      char buf[8];
      switch (*p)
        {
          case '"':
            esc = "\\\"";
            break;
          case '\\':
            esc = "\\\\";
            break;
          case '\n':
            esc = "\\n";
            break;
          case '\r':
            esc = "\\r";
            break;
          case '\t':
            esc = "\\t";
            break;
          case '\b':
            esc = "\\b";
            break;
          case '\f':
            esc = "\\f";
            break;
          default:
            if (*p < 0x20)
              {
                snprintf(buf, sizeof(buf), "\\u%04x", *p);
                esc = buf;
              }
        }
      if (esc)
        jtext_str(t, esc);
      else
        {
          reserve(t, 1);
          t->s[t->len++] = (char)*p;
        }
    }
  reserve(t, 1);
  t->s[t->len++] = '"';
  t->s[t->len] = '\0';
}

char *jtext_take(struct jtext *t, size_t *len)
{
  if (t->s == NULL)
    jtext_raw(t, "", 0);
  char *s = t->s;
  if (len)
    *len = t->len;
  memset(t, 0, sizeof(*t));
  return s;
}

char *jtext_copy(struct jtext *t, size_t *len)
{
  char *s = xmalloc(t->len + 1);
  memcpy(s, t->s ? t->s : "", t->len);
  s[t->len] = '\0';
  if (len)
    *len = t->len;
  t->len = 0;
  return s;
}

void jtext_free(struct jtext *t)
{
  free(t->s);
  memset(t, 0, sizeof(*t));
}
