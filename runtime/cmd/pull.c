/* pull.c - `skiff pull REF` and `skiff push NAME REF` (in skiff-image, which links libcurl;
 * skiff execs it): flags, credentials and the progress display.  On a terminal a line per
 * layer redrawn in place (state, bytes, rate, like docker's); otherwise one line per layer
 * when it is done; nothing with -q. */
#define _GNU_SOURCE
#include "cmd.h"
#include "digest.h"
#include "image.h"

#include <string.h>
#include <unistd.h>

#define PULL_USAGE                                                                                 \
  "usage: skiff pull [--store DIR] [--authfile F] [--creds USER:PASS] [--insecure] "               \
  "[--platform OS/ARCH[/VARIANT]] [-q] REF"
#define PUSH_USAGE                                                                                 \
  "usage: skiff push [--store DIR] [--authfile F] [--creds USER:PASS] [--insecure] [-q] "          \
  "NAME [REF]"

struct row
{
  char id[13];
  enum image_progress_state state;
  long long done, total, resumed;
  double seconds; /* of the transfer, kept once it ends */
  bool final_printed, seen;
};

struct display
{
  FILE *out;
  bool tty, push, any_moved;
  size_t n, drawn;
  struct row *rows;
  long long last_draw_ms;
};

static void human(long long n, char *buf, size_t len)
{
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)(n < 0 ? 0 : n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
    {
      v /= 1024;
      u++;
    }
  snprintf(buf, len, u ? "%.1f%s" : "%.0f%s", v, units[u]);
}

/* "4.8MiB in 0.12s (40.1MiB/s)" */
static void moved(const struct row *r, char *buf, size_t len)
{
  char sz[32], rate[32];
  human(r->total, sz, sizeof(sz));
  double s = r->seconds > 0.0005 ? r->seconds : 0.0005;
  human((long long)((double)(r->done - r->resumed) / s), rate, sizeof(rate));
  snprintf(buf, len, "%s in %.2fs (%s/s)", sz, r->seconds, rate);
}

static void row_text(const struct display *d, const struct row *r, char *buf, size_t len)
{
  char a[32], b[32], m[96];
  switch (r->state)
    {
      case IMAGE_PROGRESS_WAITING:
        snprintf(buf, len, "%s: waiting", r->id);
        break;
      case IMAGE_PROGRESS_EXISTS:
        snprintf(buf, len, "%s: already exists", r->id);
        break;
      case IMAGE_PROGRESS_DOWNLOADING:
      case IMAGE_PROGRESS_UPLOADING:
        human(r->done, a, sizeof(a));
        human(r->total, b, sizeof(b));
        {
          double s = r->seconds > 0.001 ? r->seconds : 0.001;
          char rate[32];
          human((long long)((double)(r->done - r->resumed) / s), rate, sizeof(rate));
          snprintf(buf, len, "%s: %s %s / %s  %s/s%s", r->id, d->push ? "pushing" : "downloading",
                   a, b, rate, r->resumed ? "  (resumed)" : "");
        }
        break;
      case IMAGE_PROGRESS_EXTRACTING:
        moved(r, m, sizeof(m));
        snprintf(buf, len, "%s: extracting (downloaded %s)", r->id, m);
        break;
      case IMAGE_PROGRESS_MOUNTED:
        snprintf(buf, len, "%s: mounted from another repository", r->id);
        break;
      case IMAGE_PROGRESS_DONE:
        moved(r, m, sizeof(m));
        snprintf(buf, len, "%s: %s %s%s", r->id, d->push ? "pushed" : "pulled", m,
                 r->resumed ? " (resumed)" : "");
        break;
    }
}

static void redraw(struct display *d)
{
  if (d->drawn)
    fprintf(d->out, "\033[%zuA", d->drawn);
  d->drawn = 0;
  for (size_t i = 0; i < d->n; i++)
    {
      char line[256];
      if (!d->rows[i].seen)
        snprintf(line, sizeof(line), "%s: waiting", d->rows[i].id[0] ? d->rows[i].id : "layer");
      else
        row_text(d, &d->rows[i], line, sizeof(line));
      fprintf(d->out, "\033[2K%s\n", line);
      d->drawn++;
    }
  fflush(d->out);
}

static int on_progress(const struct image_progress *p, void *arg)
{
  struct display *d = arg;
  if (d->rows == NULL)
    {
      d->n = p->count;
      d->rows = xzalloc((p->count + 1) * sizeof(*d->rows));
    }
  if (p->index >= d->n)
    return 0;
  struct row *r = &d->rows[p->index];
  bool changed = !r->seen || r->state != p->state;
  snprintf(r->id, sizeof(r->id), "%.12s", digest_valid(p->digest) ? p->digest + 7 : p->digest);
  r->seen = true;
  r->state = p->state;
  r->done = p->done;
  r->total = p->total;
  if (p->state == IMAGE_PROGRESS_DOWNLOADING || p->state == IMAGE_PROGRESS_UPLOADING)
    {
      r->seconds = p->seconds;
      r->resumed = p->resumed;
      d->any_moved = true;
    }
  else if (p->state == IMAGE_PROGRESS_DONE && d->push)
    r->seconds = p->seconds;
  if (d->tty)
    {
      long long now = skiff_now_ms();
      if (changed || now - d->last_draw_ms >= 100)
        {
          redraw(d);
          d->last_draw_ms = now;
        }
      return 0;
    }
  bool final = p->state == IMAGE_PROGRESS_EXISTS || p->state == IMAGE_PROGRESS_DONE
               || p->state == IMAGE_PROGRESS_MOUNTED;
  if (final && !r->final_printed)
    {
      char line[256];
      row_text(d, r, line, sizeof(line));
      fprintf(d->out, "%s\n", line);
      fflush(d->out);
      r->final_printed = true;
    }
  return 0;
}

struct reg_flags
{
  char *creds; /* --creds, copied: the argv copy is blanked */
  const char *store;
  bool quiet;
  const char *platform;
  struct image_registry_opts ro;
};

static void reg_flags_clear(struct reg_flags *f)
{
  free(f->creds);
}
#define cleanup_reg_flags __attribute__((cleanup(reg_flags_clear)))

static int parse_flags(int argc, char **argv, bool pull, struct reg_flags *f, const char *usage,
                       struct skiff_err **err)
{
  memset(f, 0, sizeof(*f));
  f->ro.insecure_registries = getenv("SKIFF_INSECURE_REGISTRIES");
  int c;
  while ((c = cmd_getopt(argc, argv, pull ? cmd_pull_flags : cmd_push_flags, false)) != -1)
    switch (c)
      {
        case CMD_LONG(1):
          f->store = optarg;
          break;
        case CMD_LONG(2):
          f->ro.authfile = optarg;
          break;
        case CMD_LONG(3):
          if (strchr(optarg, ':') == NULL || optarg[0] == ':')
            return skiff_error(err, 0, "--creds: expected USER:PASS"), 2;
          free(f->creds);
          f->ro.creds = f->creds = xstrdup(optarg);
          /* out of /proc/PID/cmdline from now on (ps shows "USER:***") */
          for (char *p = strchr(optarg, ':') + 1; *p; p++)
            *p = '*';
          break;
        case CMD_LONG(4):
          f->ro.insecure = true;
          break;
        case CMD_LONG(5):
          f->platform = optarg;
          break;
        case 'q':
          f->quiet = true;
          break;
        default:
          return skiff_error(err, 0, "%s", usage), 2;
      }
  return 0;
}

int cmd_pull(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  cleanup_reg_flags struct reg_flags f;
  int rc = parse_flags(argc, argv, true, &f, PULL_USAGE, err);
  if (rc)
    return rc;
  if (argc - optind != 1)
    return skiff_error(err, 0, PULL_USAGE), 2;
  struct display d = {.out = stdout, .tty = isatty(STDOUT_FILENO) == 1};
  if (!f.quiet)
    {
      f.ro.progress = on_progress;
      f.ro.progress_arg = &d;
    }
  struct image_pull_opts o = {.store = image_store_root(f.store),
                              .ref = argv[optind],
                              .policy = IMAGE_PULL_ALWAYS,
                              .platform = f.platform,
                              .registry = f.ro};
  struct image_info *info = NULL;
  int ret = image_pull(&o, &info, err);
  if (ret == 0 && !f.quiet)
    {
      printf("Digest: %s\n", info->manifest_digest);
      printf("Status: %s for %s\n", d.any_moved ? "Downloaded newer image" : "Image is up to date",
             argv[optind]);
    }
  free(d.rows);
  image_info_free(info);
  return ret < 0 ? 1 : 0;
}

int cmd_push(struct cmd_global *g, int argc, char **argv, struct skiff_err **err)
{
  (void)g;
  cleanup_reg_flags struct reg_flags f;
  int rc = parse_flags(argc, argv, false, &f, PUSH_USAGE, err);
  if (rc)
    return rc;
  int n = argc - optind;
  if (n != 1 && n != 2)
    return skiff_error(err, 0, PUSH_USAGE), 2;
  struct display d = {.out = stdout, .tty = isatty(STDOUT_FILENO) == 1, .push = true};
  if (!f.quiet)
    {
      f.ro.progress = on_progress;
      f.ro.progress_arg = &d;
    }
  const char *ref = argv[optind + n - 1];
  struct image_push_opts o
      = {.store = image_store_root(f.store), .name = argv[optind], .ref = ref, .registry = f.ro};
  char *digest = NULL;
  int ret = image_push(&o, &digest, err);
  if (ret == 0 && !f.quiet)
    printf("%s: digest: %s\n", ref, digest);
  free(digest);
  free(d.rows);
  return ret < 0 ? 1 : 0;
}
