/* e2e_wait.c - the stopwatch of tests/bench/scheduler_e2e: POSTs the apply and times it to
 * every replica bound, then to every replica Running, by polling GET /metrics every POLL_MS
 * (default 5) over one kept-alive TLS connection.  One process for the whole wait: a poll
 * costs the machine a request, not a curl process and a TLS handshake (~30 ms of CPU each on
 * the 2-CPU test machine, taken from the server and agent being measured).
 *
 *   e2e_wait URL CA_FILE TOKEN_FILE BODY_FILE REPLICAS TIMEOUT_S
 *
 * Prints "bound MS" and "running MS" as each is reached (MS from just before the apply is
 * sent), or "bound timeout STATES" / "running timeout STATES" (the replica counts by state
 * last seen) and exits 1.  The token is read from a file: secrets never in argv. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct buf
{
  char *p;
  size_t n;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
  struct buf *b = arg;
  size_t len = size * nmemb;
  char *p = realloc(b->p, b->n + len + 1);
  if (p == NULL)
    return 0;
  memcpy(p + b->n, data, len);
  b->p = p;
  b->n += len;
  b->p[b->n] = '\0';
  return len;
}

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *read_file(const char *path)
{
  FILE *f = fopen(path, "re");
  struct buf b = {0};
  char chunk[4096];
  size_t k;
  if (f == NULL)
    return NULL;
  while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
    collect(chunk, 1, k, &b);
  fclose(f);
  return b.p ? b.p : calloc(1, 1);
}

/* Replica counts from /metrics text: total, Pending, Running; states: "Running=5 ..." */
static void counts(const char *text, long *total, long *pending, long *running, char *states,
                   size_t cap)
{
  *total = *pending = *running = 0;
  states[0] = '\0';
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    {
      char state[32];
      long v;
      if (sscanf(l, "skiff_replicas{state=\"%31[^\"]\"} %ld", state, &v) != 2)
        continue;
      *total += v;
      if (strcmp(state, "Pending") == 0)
        *pending = v;
      if (strcmp(state, "Running") == 0)
        *running = v;
      if (v > 0)
        {
          size_t used = strlen(states);
          snprintf(states + used, cap - used, "%s=%ld ", state, v);
        }
    }
}

int main(int argc, char **argv)
{
  if (argc != 7)
    {
      fprintf(stderr, "usage: e2e_wait URL CA_FILE TOKEN_FILE BODY_FILE REPLICAS TIMEOUT_S\n");
      return 2;
    }
  const char *url = argv[1], *ca = argv[2];
  long want = strtol(argv[5], NULL, 10);
  double timeout = strtod(argv[6], NULL) * 1e3;
  long poll_ms = getenv("POLL_MS") ? strtol(getenv("POLL_MS"), NULL, 10) : 5;
  char *token = read_file(argv[3]), *body = read_file(argv[4]);
  if (token == NULL || body == NULL || want <= 0)
    {
      fprintf(stderr, "e2e_wait: cannot read %s or %s, or REPLICAS <= 0\n", argv[3], argv[4]);
      return 2;
    }
  token[strcspn(token, " \t\r\n")] = '\0';
  char auth[512], target[512];
  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *h = curl_easy_init();
  struct curl_slist *hdrs = curl_slist_append(NULL, auth);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  struct buf b = {0};
  curl_easy_setopt(h, CURLOPT_CAINFO, ca);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);

  /* connect first (TLS handshake outside the timing), with a GET of /metrics */
  snprintf(target, sizeof(target), "%s/metrics", url);
  curl_easy_setopt(h, CURLOPT_URL, target);
  if (curl_easy_perform(h) != CURLE_OK)
    {
      fprintf(stderr, "e2e_wait: GET %s failed\n", target);
      return 1;
    }
  double t0 = now_ms();
  snprintf(target, sizeof(target), "%s/v1/apply", url);
  curl_easy_setopt(h, CURLOPT_URL, target);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  long code = 0;
  if (curl_easy_perform(h) != CURLE_OK
      || (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), code != 200))
    {
      fprintf(stderr, "e2e_wait: POST %s failed (HTTP %ld): %s\n", target, code, b.p ? b.p : "");
      return 1;
    }
  snprintf(target, sizeof(target), "%s/metrics", url);
  curl_easy_setopt(h, CURLOPT_URL, target);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  int bound = 0;
  char states[512] = "(no answer)";
  for (;;)
    {
      b.n = 0;
      if (curl_easy_perform(h) == CURLE_OK && b.p)
        {
          long total, pending, running;
          counts(b.p, &total, &pending, &running, states, sizeof(states));
          double t = now_ms() - t0;
          if (!bound && total >= want && pending == 0)
            {
              printf("bound %.0f\n", t);
              fflush(stdout);
              bound = 1;
            }
          if (bound && running >= want)
            {
              printf("running %.0f\n", t);
              return 0;
            }
        }
      if (now_ms() - t0 > timeout)
        {
          printf("%s timeout %s\n", bound ? "running" : "bound", states);
          return 1;
        }
      struct timespec ts = {0, poll_ms * 1000000L};
      nanosleep(&ts, NULL);
    }
}
