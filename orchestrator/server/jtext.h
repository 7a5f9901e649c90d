/* jtext.h - an append-only text buffer for writing JSON by hand on the hot paths (replica
 * values, watch lines, long lists), where building a jansson tree only to dump it costs
 * more than the work itself.  Strings are escaped as jansson writes them (UTF-8 kept). */
#ifndef SKIFF_JTEXT_H
#define SKIFF_JTEXT_H

#include <stddef.h>
#include <stdint.h>

struct jtext
{
  char *s;
  size_t len, cap;
};

void jtext_raw(struct jtext *t, const char *s, size_t len);
void jtext_str(struct jtext *t, const char *s); /* raw, NUL-terminated */
void jtext_int(struct jtext *t, int64_t v);
/* A JSON string literal of s (quotes and escapes). */
void jtext_quote(struct jtext *t, const char *s);
/* The buffer as a NUL-terminated string the caller owns (*len when not NULL); t is reset. */
char *jtext_take(struct jtext *t, size_t *len);
/* A copy of exactly the text (caller frees); t is emptied but keeps its buffer for reuse. */
char *jtext_copy(struct jtext *t, size_t *len);
void jtext_free(struct jtext *t);

#endif
