/* app.c - routing and rendering of the sample web app's endpoints.  No sockets and no
 * global state: main.c passes each request in and sends the response this file builds. */
#include "app.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row per endpoint: the methods it answers (HEAD goes with GET). */
struct route_entry
{
  const char *path;
  enum webapp_route route;
  const char *method; /* "GET" (also HEAD) or "POST" */
  const char *allow;  /* Allow header sent with 405 */
};

static const struct route_entry routes[] = {
    {"/", WEBAPP_ROUTE_INDEX, "GET", "GET, HEAD"},
    {"/api/info", WEBAPP_ROUTE_INFO, "GET", "GET, HEAD"},
    {"/healthz", WEBAPP_ROUTE_HEALTHZ, "GET", "GET, HEAD"},
    {"/readyz", WEBAPP_ROUTE_READYZ, "GET", "GET, HEAD"},
    {"/work", WEBAPP_ROUTE_WORK, "GET", "GET, HEAD"},
    {"/crash", WEBAPP_ROUTE_CRASH, "POST", "POST"},
    {"/metrics", WEBAPP_ROUTE_METRICS, "GET", "GET, HEAD"},
};

static const struct route_entry *find_route(const char *path)
{
  if (path == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    if (strcmp(routes[i].path, path) == 0)
      return &routes[i];
  return NULL;
}

enum webapp_route webapp_route_lookup(const char *path)
{
  const struct route_entry *r = find_route(path);
  return r ? r->route : WEBAPP_ROUTE_NONE;
}

void webapp_state_init(struct webapp_state *st, const struct webapp_config *cfg,
                       const struct webapp_identity *id, uint64_t started_ms)
{
  memset(st, 0, sizeof(*st));
  st->cfg = cfg;
  st->id = *id;
  webapp_metrics_init(&st->metrics);
  st->started_ms = started_ms;
  atomic_init(&st->draining, 0);
}

int webapp_state_ready(const struct webapp_state *st, uint64_t now_ms)
{
  if (atomic_load(&st->draining))
    return 0;
  uint64_t up = now_ms >= st->started_ms ? now_ms - st->started_ms : 0;
  return up >= (uint64_t)st->cfg->ready_after_s * 1000;
}

char *webapp_html_escape(const char *s)
{
  size_t n = 1;
  for (const char *p = s; *p; p++)
    n += strchr("<>&\"'", *p) ? 6 : 1;
  char *out = xmalloc(n), *o = out;
  for (const char *p = s; *p; p++)
    {
      const char *rep = NULL;
      switch (*p)
        {
          case '<':
            rep = "&lt;";
            break;
          case '>':
            rep = "&gt;";
            break;
          case '&':
            rep = "&amp;";
            break;
          case '"':
            rep = "&quot;";
            break;
          case '\'':
            rep = "&#39;";
            break;
        }
      if (rep)
        o = stpcpy(o, rep);
      else
        *o++ = *p;
    }
  *o = '\0';
  return out;
}

/* A hue per version string, so a rolling update visibly changes the page colour. */
static unsigned version_hue(const char *v)
{
  unsigned h = 2166136261u; /* FNV-1a */
  for (; *v; v++)
    h = (h ^ (unsigned char)*v) * 16777619u;
  return h % 360;
}

static uint64_t uptime_s(const struct webapp_state *st, uint64_t now_ms)
{
  return now_ms >= st->started_ms ? (now_ms - st->started_ms) / 1000 : 0;
}

char *webapp_render_page(const struct webapp_state *st, uint64_t requests, int refresh_s,
                         uint64_t now_ms, size_t *len)
{
  cleanup_free char *replica = webapp_html_escape(st->id.replica);
  cleanup_free char *node = webapp_html_escape(st->id.node);
  cleanup_free char *host = webapp_html_escape(st->id.hostname);
  cleanup_free char *version = webapp_html_escape(st->id.version);
  cleanup_free char *meta
      = refresh_s > 0 ? xasprintf("<meta http-equiv=\"refresh\" content=\"%d\">\n", refresh_s)
                      : xstrdup("");
  int ready = webapp_state_ready(st, now_ms);
  char *page = xasprintf(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n%s"
      "<title>%s on %s</title>\n"
      "<style>\n"
      "body{font-family:sans-serif;margin:2em;background:hsl(%u,60%%,95%%);color:#222}\n"
      "h1{margin:0 0 .2em;color:hsl(%u,60%%,30%%)}\n"
      "table{border-collapse:collapse}td{padding:.25em 1em .25em 0}td:first-child{color:#666}\n"
      "</style>\n</head>\n<body>\n"
      "<h1>%s</h1>\n<p>answered by replica <b>%s</b> on node <b>%s</b></p>\n"
      "<table>\n"
      "<tr><td>replica</td><td id=\"replica\">%s</td></tr>\n"
      "<tr><td>node</td><td id=\"node\">%s</td></tr>\n"
      "<tr><td>hostname</td><td id=\"hostname\">%s</td></tr>\n"
      "<tr><td>version</td><td id=\"version\">%s</td></tr>\n"
      "<tr><td>started</td><td id=\"started\">%s</td></tr>\n"
      "<tr><td>uptime</td><td id=\"uptime\">%llu s</td></tr>\n"
      "<tr><td>requests served</td><td id=\"requests\">%llu</td></tr>\n"
      "<tr><td>pid</td><td id=\"pid\">%ld</td></tr>\n"
      "<tr><td>ready</td><td id=\"ready\">%s</td></tr>\n"
      "</table>\n"
      "<p>auto-refresh: <a href=\"/?refresh=1\">1 s</a> | <a href=\"/?refresh=5\">5 s</a> | "
      "<a href=\"/\">off</a>%s</p>\n"
      "<p><a href=\"/api/info\">/api/info</a> | <a href=\"/metrics\">/metrics</a> | "
      "<a href=\"/healthz\">/healthz</a> | <a href=\"/readyz\">/readyz</a></p>\n"
      "</body>\n</html>\n",
      meta, replica, node, version_hue(st->id.version), version_hue(st->id.version), replica,
      replica, node, replica, node, host, version, st->id.started,
      (unsigned long long)uptime_s(st, now_ms), (unsigned long long)requests, st->id.pid,
      ready ? "yes" : "no", refresh_s > 0 ? " (on)" : "");
  if (len)
    *len = strlen(page);
  return page;
}

char *webapp_render_info(const struct webapp_state *st, uint64_t requests, uint64_t now_ms,
                         size_t *len)
{
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "replica",
                        st->id.replica, "node", st->id.node, "hostname", st->id.hostname, "version",
                        st->id.version, "started", st->id.started, "started_unix",
                        (json_int_t)st->id.started_unix, "uptime_seconds",
                        (json_int_t)uptime_s(st, now_ms), "requests", (json_int_t)requests, "pid",
                        (json_int_t)st->id.pid, "ready", webapp_state_ready(st, now_ms));
  /* json_pack fails only on invalid UTF-8 in the names (they come from the environment). */
  char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  if (s == NULL)
    s = xstrdup("{\"error\":\"identity is not valid UTF-8\"}");
  size_t n = strlen(s);
  char *out = xmalloc(n + 2);
  memcpy(out, s, n);
  out[n] = '\n';
  out[n + 1] = '\0';
  free(s);
  if (len)
    *len = n + 1;
  return out;
}

uint64_t webapp_burn_cpu(int ms)
{
  struct timespec start, now;
  volatile uint64_t acc = 1;
  uint64_t rounds = 0;
  if (ms <= 0 || clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start) < 0)
    return 0;
  int64_t budget_ns = (int64_t)ms * 1000000;
  for (;;)
    {
      for (int i = 0; i < 4096; i++)
        acc = acc * 6364136223846793005ULL + 1442695040888963407ULL;
      rounds++;
      if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) < 0)
        break;
      int64_t spent
          = (int64_t)(now.tv_sec - start.tv_sec) * 1000000000 + (now.tv_nsec - start.tv_nsec);
      if (spent >= budget_ns)
        break;
    }
  return rounds;
}

static void set_static(struct webapp_response *resp, int status, const char *type, const char *body)
{
  resp->status = status;
  resp->content_type = type;
  resp->body = (char *)body;
  resp->body_len = strlen(body);
  resp->body_static = 1;
}

static void set_owned(struct webapp_response *resp, int status, const char *type, char *body,
                      size_t len)
{
  resp->status = status;
  resp->content_type = type;
  resp->body = body;
  resp->body_len = len;
  resp->body_static = 0;
}

#define TEXT "text/plain; charset=utf-8"
#define JSON "application/json"

static const char *query_arg(const struct webapp_request *req, const char *key)
{
  return req->arg ? req->arg(req->arg_ctx, key) : NULL;
}

static void handle_work(struct webapp_state *st, const struct webapp_request *req,
                        struct webapp_response *resp)
{
  const char *ms_s = query_arg(req, "ms");
  long ms = 100;
  if (ms_s && webapp_parse_bounded(ms_s, 0, st->cfg->max_work_ms, &ms) < 0)
    {
      char *msg
          = xasprintf("invalid ms `%.32s`: want an integer 0..%d\n", ms_s, st->cfg->max_work_ms);
      set_owned(resp, 400, TEXT, msg, strlen(msg));
      return;
    }
  uint64_t rounds = webapp_burn_cpu((int)ms);
  json_t *o = json_pack("{s:I, s:I, s:s}", "ms", (json_int_t)ms, "rounds", (json_int_t)rounds,
                        "replica", st->id.replica);
  char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  char *body = xasprintf("%s\n", s ? s : "{}");
  free(s);
  set_owned(resp, 200, JSON, body, strlen(body));
}

void webapp_handle(struct webapp_state *st, const struct webapp_request *req,
                   struct webapp_response *resp)
{
  memset(resp, 0, sizeof(*resp));
  const struct route_entry *r = find_route(req->path);
  if (r == NULL)
    {
      set_static(resp, 404, TEXT, "not found\n");
      return;
    }
  int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
  if (strcmp(r->method, "GET") == 0 ? !is_get : strcmp(req->method, r->method) != 0)
    {
      set_static(resp, 405, TEXT, "method not allowed\n");
      resp->allow = r->allow;
      return;
    }

  switch (r->route)
    {
      case WEBAPP_ROUTE_INDEX:
        {
          const char *refresh_s = query_arg(req, "refresh");
          long refresh = 0;
          if (refresh_s && *refresh_s && webapp_parse_bounded(refresh_s, 0, 3600, &refresh) < 0)
            {
              set_static(resp, 400, TEXT, "invalid refresh: want an integer 0..3600 (seconds)\n");
              return;
            }
          size_t len;
          char *page = webapp_render_page(st, req->sequence, (int)refresh, req->now_ms, &len);
          set_owned(resp, 200, "text/html; charset=utf-8", page, len);
          return;
        }
      case WEBAPP_ROUTE_INFO:
        {
          size_t len;
          char *s = webapp_render_info(st, req->sequence, req->now_ms, &len);
          set_owned(resp, 200, JSON, s, len);
          return;
        }
      case WEBAPP_ROUTE_HEALTHZ:
        set_static(resp, 200, TEXT, "ok\n");
        return;
      case WEBAPP_ROUTE_READYZ:
        if (webapp_state_ready(st, req->now_ms))
          set_static(resp, 200, TEXT, "ready\n");
        else if (atomic_load(&st->draining))
          set_static(resp, 503, TEXT, "shutting down\n");
        else
          set_static(resp, 503, TEXT, "not ready yet\n");
        return;
      case WEBAPP_ROUTE_WORK:
        handle_work(st, req, resp);
        return;
      case WEBAPP_ROUTE_CRASH:
        if (!st->cfg->allow_crash)
          {
            set_static(resp, 403, TEXT, "crash is disabled; start webapp with --allow-crash\n");
            return;
          }
        set_static(resp, 200, TEXT, "crashing: exiting with code 1\n");
        resp->exit_after = 1;
        return;
      case WEBAPP_ROUTE_METRICS:
        {
          struct webapp_metrics_info info = {
              .replica = st->id.replica,
              .node = st->id.node,
              .version = st->id.version,
              .start_time = (double)st->id.started_unix,
              .ready = webapp_state_ready(st, req->now_ms),
          };
          size_t len;
          char *s = webapp_metrics_render(&st->metrics, &info, &len);
          set_owned(resp, 200, "text/plain; version=0.0.4; charset=utf-8", s, len);
          return;
        }
      default:
        set_static(resp, 500, TEXT, "internal error: unrouted path\n");
        return;
    }
}

void webapp_response_too_large(struct webapp_response *resp)
{
  memset(resp, 0, sizeof(*resp));
  set_static(resp, 413, TEXT, "request body too large\n");
}

void webapp_response_free(struct webapp_response *resp)
{
  if (!resp->body_static)
    free(resp->body);
  resp->body = NULL;
}
