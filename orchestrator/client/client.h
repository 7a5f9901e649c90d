/* client.h - the HTTP client of skiffctl and the agent (libcurl + jansson) and the rules that
 * pick the server URL and token: skiff's client-go.  skiffctl's own printing and argument
 * parsing live in orchestrator/ctl/.
 *
 * Errors follow runtime/util.h: functions return -1 and fill struct skiff_err.  A server that
 * cannot be reached gives exactly one line: "cannot reach server URL: reason". */
#ifndef SKIFF_CLIENT_H
#define SKIFF_CLIENT_H

#include <stddef.h>
#include <jansson.h>
#include "util.h"

#define CLIENT_DEFAULT_SERVER "https://127.0.0.1:7070"
#define CLIENT_DEFAULT_DATA_DIR "/var/lib/skiffd"
#define CLIENT_DEFAULT_TIMEOUT_MS 10000L

/* ---- where the server is and how to authenticate -------------------------------------- */

struct client_target
{
  char *server; /* "https://host:port", no trailing slash; or several, comma-separated */
  char *token;  /* may be NULL: the server will answer 401 */
};

/* Pure: pick the server URL and the token.  Each comes from the first non-empty of
 * flag, environment, data dir (data_token: the content of DATA/token, whitespace-trimmed by
 * the caller or not); the URL falls back to CLIENT_DEFAULT_SERVER.  The URL may be a list
 * "URL,URL,..." (servers of one cluster).  A URL without a scheme gets "https://"; a scheme
 * other than http/https is an error. */
int client_resolve_target(const char *flag_server, const char *flag_token, const char *env_server,
                          const char *env_token, const char *data_token, struct client_target *out,
                          struct skiff_err **err);
/* I/O wrapper: reads $SKIFF_SERVER, $SKIFF_TOKEN and DATA_DIR/token (data_dir NULL means
 * CLIENT_DEFAULT_DATA_DIR, whose absence is not an error; an explicit data_dir must hold a
 * readable token unless a token came from a flag or the environment). */
int client_load_target(const char *flag_server, const char *flag_token, const char *data_dir,
                       struct client_target *out, struct skiff_err **err);
void client_target_clear(struct client_target *t);
/* Read a token file: content with surrounding whitespace removed; empty file is an error. */
int client_read_token_file(const char *path, char **out, struct skiff_err **err);

/* ---- trusting the server (TLS) ---------------------------------------------------------- */

/* The cluster CA an https server is verified against: flag_file, else $SKIFF_CA_FILE, else
 * DATA_DIR/ca.crt (data_dir NULL: CLIENT_DEFAULT_DATA_DIR).  *pem is NULL when none is found
 * (only an error when a file was named and cannot be read). */
int client_load_ca(const char *flag_file, const char *data_dir, char **pem, struct skiff_err **err);
/* Process-wide: the CA (PEM) every client made afterwards verifies https servers against;
 * NULL = the system's CAs.  Set once at start, before any thread makes a client. */
void client_set_default_ca(const char *pem);

/* ---- HTTP ------------------------------------------------------------------------------- */

struct client;

/* timeout_ms bounds connect + whole request (0: CLIENT_DEFAULT_TIMEOUT_MS).  server may be
 * a comma-separated list: a request that gets no answer (or 503) moves to the next server and
 * the client stays there; only when every server failed is it an error, one line naming each
 * ("cannot reach any server (URL: reason; URL: reason)"). */
struct client *client_new(const char *server, const char *token, long timeout_ms);
void client_free(struct client *c);
const char *client_server(const struct client *c); /* the server in use */
/* This client's credential from now on (NULL: none); the fake agent speaks for many nodes. */
void client_set_token(struct client *c, const char *token);
/* This client's CA (PEM, copied); NULL with verify false: no verification at all (only to
 * fetch a CA whose hash the caller checks itself, as a join does). */
void client_set_ca(struct client *c, const char *pem, int verify);
/* Calls of c give up (a transport error) within about a second of *flag becoming non-zero,
 * so a thread blocked in a quiet watch stream can be stopped.  NULL: never. */
void client_set_cancel(struct client *c, const volatile int *flag);

/* METHOD server+path with an optional JSON body.  Returns 0 with *status set and *resp the
 * parsed JSON answer (NULL when the body is empty or not JSON; resp may be NULL) whatever the
 * status; -1 only when no HTTP answer arrived ("cannot reach server URL: Connection refused"). */
int client_request(struct client *c, const char *method, const char *path, json_t *body,
                   long *status, json_t **resp, struct skiff_err **err);
/* client_request, and a status outside 2xx becomes an error carrying the server's message
 * ("HTTP 404: service `x` not found").  *status (may be NULL) is set in both cases. */
int client_call(struct client *c, const char *method, const char *path, json_t *body, long *status,
                json_t **resp, struct skiff_err **err);

/* Streaming GET of newline-delimited JSON (the watch API).  cb gets each parsed line and
 * returns 0 to go on, non-zero to stop (then client_stream returns 0).  The request has no
 * overall timeout, but 30 s without a byte (the server sends bookmarks every 5 s) is a
 * transport error; the stream ends when the server closes it (returns 0) or on a transport
 * error (-1). */
typedef int (*client_line_cb)(json_t *obj, void *data);
int client_stream(struct client *c, const char *path, client_line_cb cb, void *data,
                  struct skiff_err **err);
/* client_stream, and skip (may be NULL) sees each raw line first (not NUL-terminated): a
 * non-zero answer drops it unparsed, for a reader that can tell from the text alone that a
 * line is of no use to it (parsing is most of what a watcher of 10,000 replicas costs). */
typedef int (*client_skip_fn)(const char *line, size_t len, void *data);
int client_stream_skip(struct client *c, const char *path, client_skip_fn skip, client_line_cb cb,
                       void *data, struct skiff_err **err);

/* Streaming GET of raw bytes (logs).  status() is called once the answer's headers are in
 * (before any byte; also for errors), data() with each piece of a 2xx body, keep_going()
 * about once a second (also while nothing arrives); a non-zero from status() or data(), or
 * a zero from keep_going(), ends the transfer (returns 0).  No idle timeout.  A non-2xx
 * answer is an error with the server's message; *status (may be NULL) gets the code, 0
 * when no answer came.  Several servers: no answer or a 503 moves on to the next, unseen
 * by status(), as client_request does.  Any callback may be NULL. */
struct client_raw_cbs
{
  int (*status)(long code, void *arg);
  int (*data)(const char *buf, size_t len, void *arg);
  int (*keep_going)(void *arg);
  void *arg;
};
int client_stream_raw(struct client *c, const char *path, const struct client_raw_cbs *cbs,
                      long *status, struct skiff_err **err);

/* Pure: the message of an error answer: body.error (string) or body.error.message, or
 * body.message, else the HTTP reason.  Returns a new string "HTTP 404: reason". */
char *client_error_message(long status, json_t *body);

/* Pure: feed bytes of an NDJSON stream; each complete line is parsed and given to cb.
 * Partial lines stay buffered.  Non-JSON lines are skipped (keep-alive blank lines). */
struct client_lines
{
  char *buf;
  size_t len, cap;
  int stopped;
  client_skip_fn skip; /* may be NULL: see client_stream_skip */
};
int client_lines_feed(struct client_lines *l, const char *data, size_t len, client_line_cb cb,
                      void *cbdata);
void client_lines_clear(struct client_lines *l);

#endif
