/* opts.c - the CLI's flag tables turned into getopt tables and into --help (cmd.h), and
 * the small parsers every verb shares.  Linked into skiff and skiff-image. */
#define _GNU_SOURCE
#include "cmd.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define MAX_FLAGS 64

static size_t count_flags(const struct cmd_flag *flags)
{
  size_t n = 0;
  for (; flags && flags[n].help; n++)
    ;
  return n;
}

/* getopt's tables for a flag table, rebuilt only when the table changes. */
static const struct option *long_options(const struct cmd_flag *flags, bool permute,
                                         const char **shortopts)
{
  static const struct cmd_flag *cached;
  static bool cached_permute;
  static struct option longopts[MAX_FLAGS + 2];
  static char shorts[2 * MAX_FLAGS + 2];
  if (cached == flags && cached_permute == permute && flags)
    {
      *shortopts = shorts;
      return longopts;
    }
  size_t n = count_flags(flags), o = 0, s = 0;
  if (!permute)
    shorts[s++] = '+';
  for (size_t i = 0; i < n && o < MAX_FLAGS; i++)
    {
      if (flags[i].name == NULL)
        continue;
      longopts[o++] = (struct option){flags[i].name, flags[i].arg ? required_argument : no_argument,
                                      NULL, flags[i].key};
      if (flags[i].key > 0 && flags[i].key < 128)
        {
          shorts[s++] = (char)flags[i].key;
          if (flags[i].arg)
            shorts[s++] = ':';
        }
    }
  longopts[o++] = (struct option){"help", no_argument, NULL, CMD_HELP_KEY};
  longopts[o] = (struct option){0, 0, 0, 0};
  shorts[s] = '\0';
  cached = flags;
  cached_permute = permute;
  *shortopts = shorts;
  return longopts;
}

int cmd_getopt(int argc, char **argv, const struct cmd_flag *flags, bool permute)
{
  const char *shortopts;
  const struct option *longopts = long_options(flags, permute, &shortopts);
  return getopt_long(argc, argv, shortopts, longopts, NULL);
}

static void print_flags(const struct cmd_flag *flags, FILE *f)
{
  size_t n = count_flags(flags);
  for (size_t i = 0; i < n; i++)
    {
      const struct cmd_flag *fl = &flags[i];
      if (fl->name == NULL)
        {
          fprintf(f, "\n%s\n", fl->help);
          continue;
        }
      char left[64];
      bool has_short = fl->key > 0 && fl->key < 128;
      snprintf(left, sizeof(left), "%c%c%s--%s%s%s", has_short ? '-' : ' ',
               has_short ? fl->key : ' ', has_short ? ", " : "  ", fl->name, fl->arg ? " " : "",
               fl->arg ? fl->arg : "");
      fprintf(f, "  %-30s %s\n", left, fl->help);
    }
}

void cmd_print_help(const struct cmd_verb *v, FILE *f)
{
  fprintf(f, "usage: skiff %s\n\n%s\n", v->usage, v->summary);
  /* a table that starts with a section heading names its options itself */
  if (count_flags(v->flags) == 0 || v->flags[0].name)
    fprintf(f, "\noptions:\n");
  print_flags(v->flags, f);
  print_flags(v->flags2, f);
  fprintf(f, "%s  %-30s %s\n", v->flags2 ? "\n" : "", "    --help", "show this help");
}

static bool help_in(int argc, char **argv, const struct cmd_flag *flags, bool permute)
{
  int c;
  bool help = false;
  optind = 0;
  while ((c = cmd_getopt(argc, argv, flags, permute)) != -1)
    if (c == CMD_HELP_KEY)
      help = true;
  optind = 0;
  return help;
}

bool cmd_wants_help(int argc, char **argv, const struct cmd_verb *v)
{
  int saved = opterr;
  opterr = 0;
  bool help = help_in(argc, argv, v->flags, v->permute)
              || (v->flags2 && help_in(argc, argv, v->flags2, v->permute));
  opterr = saved;
  return help;
}

int cmd_usage_error(const struct cmd_verb *v, const char *what, struct skiff_err **err)
{
  /* the first line of the usage is enough for one line; --help has the rest */
  const char *nl = strchr(v->usage, '\n');
  int len = nl ? (int)(nl - v->usage) : (int)strlen(v->usage);
  if (what)
    skiff_error(err, 0, "%s; usage: skiff %.*s (see skiff %s --help)", what, len, v->usage,
                v->name);
  else
    skiff_error(err, 0, "usage: skiff %.*s (see skiff %s --help)", len, v->usage, v->name);
  return 2;
}

/* The argument getopt just refused, for the error line. */
static char *bad_flag(int argc, char **argv)
{
  const char *a = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
  if (optopt && optopt < 128 && !(a[0] == '-' && a[1] == '-'))
    return xasprintf("unknown option or missing value `-%c`", optopt);
  return xasprintf("unknown option or missing value `%s`", a);
}

int cmd_no_flags(const struct cmd_verb *v, int argc, char **argv, int min, int max,
                 struct skiff_err **err)
{
  optind = 0;
  if (cmd_getopt(argc, argv, v->flags, false) != -1)
    {
      cleanup_free char *what = bad_flag(argc, argv);
      return cmd_usage_error(v, what, err);
    }
  int n = argc - optind;
  if (n < min || (max > 0 && n > max))
    return cmd_usage_error(v, NULL, err);
  return 0;
}

int cmd_parse_int(const char *flag, const char *v, int *out, struct skiff_err **err)
{
  char *end = NULL;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < 0 || n > INT_MAX)
    return skiff_error(err, 0, "%s `%s`: expected a non-negative integer", flag, v);
  *out = (int)n;
  return 0;
}

int cmd_one_id(const char *verb, int argc, char **argv, const char **id, struct skiff_err **err)
{
  if (argc - optind != 1)
    return skiff_error(err, 0, "%s: expected exactly one container id (got %d arguments)", verb,
                       argc - optind);
  *id = argv[optind];
  return 0;
}

/* For verbs: the refused flag as a usage error. */
int cmd_bad_flag(const struct cmd_verb *v, int argc, char **argv, struct skiff_err **err)
{
  cleanup_free char *what = bad_flag(argc, argv);
  return cmd_usage_error(v, what, err);
}
