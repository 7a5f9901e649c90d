/* ctl_table.c - pure text formatting for skiffctl: kubectl-style aligned tables and short
 * ages.  No I/O: every function returns a new string the caller prints. */
#include "ctl.h"

#include <string.h>

#define COL_GAP 3

struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers)
{
  struct ctl_table *t = xzalloc(sizeof(*t));
  t->ncols = ncols;
  ctl_table_add(t, headers);
  return t;
}

void ctl_table_add(struct ctl_table *t, const char *const *cells)
{
  size_t i;
  if (t->nrows == t->cap)
    {
      t->cap = t->cap ? t->cap * 2 : 8;
      t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
    }
  for (i = 0; i < t->ncols; i++)
    t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "<none>");
  t->nrows++;
}

void ctl_table_free(struct ctl_table *t)
{
  size_t i;
  if (t == NULL)
    return;
  for (i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}

struct strbuf
{
  char *s;
  size_t len, cap;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      b->cap = (b->len + n + 1) * 2;
      b->s = xrealloc(b->s, b->cap);
    }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void sb_pad(struct strbuf *b, size_t n)
{
  while (n-- > 0)
    sb_add(b, " ", 1);
}

static void format_range(const struct ctl_table *t, size_t first, struct strbuf *b)
{
  cleanup_free size_t *width = xzalloc(t->ncols * sizeof(size_t));
  size_t r, c;

  for (r = 0; r < t->nrows; r++)
    for (c = 0; c < t->ncols; c++)
      {
        size_t w = strlen(t->cells[r * t->ncols + c]);
        if (w > width[c])
          width[c] = w;
      }
  for (r = first; r < t->nrows; r++)
    {
      for (c = 0; c < t->ncols; c++)
        {
          const char *cell = t->cells[r * t->ncols + c];
          size_t w = strlen(cell);
          sb_add(b, cell, w);
          if (c + 1 < t->ncols)
            sb_pad(b, width[c] - w + COL_GAP);
        }
      /* no trailing blanks even when the last cells are short */
      while (b->len > 0 && b->s[b->len - 1] == ' ')
        b->s[--b->len] = '\0';
      sb_add(b, "\n", 1);
    }
}

char *ctl_table_format(const struct ctl_table *t, int no_header)
{
  struct strbuf b = {NULL, 0, 0};
  sb_add(&b, "", 0);
  format_range(t, no_header ? 1 : 0, &b);
  return b.s;
}

char *ctl_table_format_rows(const struct ctl_table *t, size_t first)
{
  struct strbuf b = {NULL, 0, 0};
  sb_add(&b, "", 0);
  format_range(t, first, &b);
  return b.s;
}

/* Thresholds after k8s.io/apimachinery duration.HumanDuration. */
void ctl_format_age(long long s, char *buf, size_t len)
{
  long long m = s / 60, h = s / 3600, d = s / 86400;

  if (s < 0)
    s = 0, m = h = d = 0;
  if (s < 120)
    snprintf(buf, len, "%llds", s);
  else if (m < 10)
    {
      if (s % 60 == 0)
        snprintf(buf, len, "%lldm", m);
      else
        snprintf(buf, len, "%lldm%llds", m, s % 60);
    }
  else if (m < 180)
    snprintf(buf, len, "%lldm", m);
  else if (h < 8)
    {
      if (m % 60 == 0)
        snprintf(buf, len, "%lldh", h);
      else
        snprintf(buf, len, "%lldh%lldm", h, m % 60);
    }
  else if (h < 48)
    snprintf(buf, len, "%lldh", h);
  else if (h < 24 * 8)
    {
      if (h % 24 == 0)
        snprintf(buf, len, "%lldd", d);
      else
        snprintf(buf, len, "%lldd%lldh", d, h % 24);
    }
  else if (d < 365 * 2)
    snprintf(buf, len, "%lldd", d);
  else
    snprintf(buf, len, "%lldy", d / 365);
}
