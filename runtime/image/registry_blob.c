/* registry_blob.c - blob downloads for image_pull: several at once in one curl multi
 * handle, each streamed to <store>/downloads/<hex> while its sha256 is computed, resumed
 * with a Range request when an earlier pull left part of it, verified against digest and
 * size, then moved into the pull's transaction (image_txn_adopt_blob).
 *
 * downloads/<hex> is flock'd by the pull writing it; a second pull of the same blob at the
 * same time downloads into its own staging dir instead.  After taking the lock the file is
 * checked to still be the one at the path (the previous holder may have moved it into its
 * transaction).  A transfer cut by the network is resumed in the same pull up to twice more;
 * after that (or when the registry cannot be reached again) the pull fails and every part
 * stays for the next pull.  A pull that fails for
 * any other reason (a blob that fails verification, disk full, an HTTP error, cancel) removes
 * the parts of its unfinished transfers: nothing unverified is kept as good, nothing is left
 * filling a disk.
 *
 * A layer blob may be unpacked while it downloads (registry_blob.stream): the stream
 * (registry_stream.c) is told how far the file is written, and is cut when the file
 * starts over or the transfer fails. */
#define _GNU_SOURCE
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define XFER_ATTEMPTS 3
#define ERRBODY_MAX (64 * 1024)

struct fetch;

struct xfer
{
  struct fetch *f;
  struct registry_blob *b;
  CURL *h;
  struct curl_slist *hl;
  int fd;
  char *path;
  bool shared; /* downloads/<hex> (resumable), not a private staging file */
  struct digest_ctx *ctx;
  long long have, resumed;
  bool decided; /* the reply's status is known */
  long status;
  struct registry_response err_reply; /* body of a non-2xx reply, for its message */
  bool write_failed, too_big, reauthed, range_refused, done;
  int write_errno, attempts;
  char errbuf[CURL_ERROR_SIZE];
  long long t0_ms, last_report_ms;
};

struct fetch
{
  struct registry_client *c;
  const char *repo;
  struct image_txn *t;
  const struct image_registry_opts *ro;
  CURLM *multi;
  bool cancelled;
  bool keep_parts; /* failed on a cut transfer: the parts are there to be resumed */
};

static int report(struct xfer *x, enum image_progress_state st)
{
  const struct image_registry_opts *ro = x->f->ro;
  if (ro->progress == NULL || !x->b->is_layer)
    return 0;
  long long now = skiff_now_ms();
  struct image_progress p = {.digest = x->b->digest,
                             .index = x->b->index,
                             .count = x->b->count,
                             .state = st,
                             .done = x->have,
                             .total = x->b->size,
                             .resumed = x->resumed,
                             .seconds = (double)(now - x->t0_ms) / 1000.0};
  x->last_report_ms = now;
  if (ro->progress(&p, ro->progress_arg) != 0)
    x->f->cancelled = true;
  return x->f->cancelled ? -1 : 0;
}

static void xfer_free(struct xfer *x)
{
  if (x->h)
    {
      curl_multi_remove_handle(x->f->multi, x->h);
      curl_easy_cleanup(x->h);
    }
  curl_slist_free_all(x->hl);
  if (x->fd >= 0)
    close(x->fd);
  if (x->ctx)
    digest_free(x->ctx);
  registry_response_clear(&x->err_reply);
  free(x->path);
  memset(x, 0, sizeof(*x));
  x->fd = -1;
}

/* Hash what the file holds (a part from an earlier pull): have = its size. */
static int hash_existing(struct xfer *x, struct skiff_err **err)
{
  struct stat st;
  if (fstat(x->fd, &st) < 0)
    return skiff_error(err, errno, "stat `%s`", x->path);
  if (x->b->size >= 0 && st.st_size > x->b->size && ftruncate(x->fd, 0) < 0)
    return skiff_error(err, errno, "truncate `%s`", x->path);
  x->have = st.st_size > x->b->size && x->b->size >= 0 ? 0 : st.st_size;
  char buf[65536];
  for (long long off = 0; off < x->have;)
    {
      ssize_t n = pread(x->fd, buf, sizeof(buf), off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return skiff_error(err, n < 0 ? errno : EIO, "read `%s`", x->path);
      digest_update(x->ctx, buf, (size_t)n);
      off += n;
    }
  x->resumed = x->have;
  return 0;
}

/* downloads/<hex>, locked, or a private file in the transaction when another pull holds it */
static int open_part(struct xfer *x, struct skiff_err **err)
{
  const char *store = x->f->t->store;
  cleanup_free char *dir = xasprintf("%s/downloads", store);
  if (skiff_mkdir_p(dir, 0700, err) < 0)
    return -1;
  x->path = xasprintf("%s/%s", dir, digest_hex(x->b->digest));
  for (int tries = 0; tries < 5; tries++)
    {
      int fd = open(x->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0)
        return skiff_error(err, errno, "open `%s`", x->path);
      if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        {
          close(fd);
          if (errno != EWOULDBLOCK)
            return skiff_error(err, errno, "flock `%s`", x->path);
          break; /* another pull is on it */
        }
      struct stat a, b;
      if (fstat(fd, &a) == 0 && stat(x->path, &b) == 0 && a.st_dev == b.st_dev
          && a.st_ino == b.st_ino)
        {
          x->fd = fd;
          x->shared = true;
          break;
        }
      close(fd); /* moved away by its last holder: open the new one */
    }
  if (x->fd < 0)
    {
      free(x->path);
      x->path = image_txn_tmp_path(x->f->t, "blob");
      x->fd = open(x->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (x->fd < 0)
        return skiff_error(err, errno, "open `%s`", x->path);
    }
  x->ctx = digest_new();
  return hash_existing(x, err);
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
  struct xfer *x = ud;
  size_t len = size * n;
  if (!x->decided)
    {
      x->decided = true;
      curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
      if (x->status == 200 && x->have > 0)
        {
          /* the registry sends the whole blob despite the Range: start over */
          registry_stream_end(x->b->stream_out, false, 0);
          if (ftruncate(x->fd, 0) < 0)
            {
              x->write_failed = true;
              x->write_errno = errno;
              return 0;
            }
          digest_free(x->ctx);
          x->ctx = digest_new();
          x->have = x->resumed = 0;
        }
    }
  if (x->status != 200 && x->status != 206)
    {
      struct registry_response *r = &x->err_reply;
      if (r->len + len <= ERRBODY_MAX)
        {
          r->body = xrealloc(r->body, r->len + len + 1);
          memcpy(r->body + r->len, p, len);
          r->len += len;
          r->body[r->len] = '\0';
        }
      return len;
    }
  if (x->b->size >= 0 && x->have + (long long)len > x->b->size)
    {
      x->too_big = true;
      return 0;
    }
  for (size_t off = 0; off < len;)
    {
      ssize_t w = pwrite(x->fd, p + off, len - off, x->have + (long long)off);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          x->write_failed = true;
          x->write_errno = w < 0 ? errno : EIO;
          return 0;
        }
      off += (size_t)w;
    }
  digest_update(x->ctx, p, len);
  x->have += (long long)len;
  registry_stream_feed(x->b->stream_out, x->have);
  if (skiff_now_ms() - x->last_report_ms >= 100 && report(x, IMAGE_PROGRESS_DOWNLOADING) < 0)
    return 0;
  return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
  struct xfer *x = ud;
  size_t len = size * n;
  if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
    {
      free(x->err_reply.www_authenticate);
      x->err_reply.www_authenticate = NULL;
    }
  else if (len > 17 && strncasecmp(p, "WWW-Authenticate:", 17) == 0
           && x->err_reply.www_authenticate == NULL)
    {
      const char *v = p + 17, *end = p + len;
      while (v < end && *v == ' ')
        v++;
      while (end > v && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
      x->err_reply.www_authenticate = strndup(v, (size_t)(end - v));
    }
  return len;
}

static int xfer_start(struct xfer *x, struct skiff_err **err)
{
  struct fetch *f = x->f;
  if (x->h)
    {
      curl_multi_remove_handle(f->multi, x->h);
      curl_easy_cleanup(x->h);
      curl_slist_free_all(x->hl);
      x->hl = NULL;
    }
  registry_response_clear(&x->err_reply);
  x->decided = false;
  x->status = 0;
  x->errbuf[0] = '\0';
  x->h = curl_easy_init();
  if (x->h == NULL)
    return skiff_error(err, ENOMEM, "curl_easy_init");
  cleanup_free char *url = registry_url(f->c, "/v2/%s/blobs/%s", f->repo, x->b->digest);
  registry_easy_setup(f->c, x->h, url);
  x->hl = registry_auth_headers(f->c, NULL);
  curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hl);
  if (x->have > 0 && !x->range_refused)
    {
      char range[64];
      snprintf(range, sizeof(range), "%lld-", x->have);
      curl_easy_setopt(x->h, CURLOPT_RANGE, range);
    }
  /* one recv per 256 KiB instead of per 16 KiB (recvfrom 309 -> 22 a pull); curl still
   * hands on_write 16 KiB at a time (CURL_MAX_WRITE_SIZE) */
  curl_easy_setopt(x->h, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
  x->attempts++;
  if (curl_multi_add_handle(f->multi, x->h) != CURLM_OK)
    return skiff_error(err, 0, "curl_multi_add_handle failed");
  return report(x, IMAGE_PROGRESS_DOWNLOADING) < 0 ? skiff_error(err, 0, "cancelled") : 0;
}

/* The whole blob is in the file: check it and hand it to the transaction. */
static int xfer_complete(struct xfer *x, struct skiff_err **err)
{
  if (report(x, IMAGE_PROGRESS_DOWNLOADING) < 0)
    return skiff_error(err, 0, "cancelled");
  char got[DIGEST_STR_LEN];
  digest_final(x->ctx, got);
  digest_free(x->ctx);
  x->ctx = NULL;
  const char *d = x->b->digest;
  if (strcmp(got, d) != 0 || (x->b->size >= 0 && x->have != x->b->size))
    {
      unlink(x->path); /* never kept as a part to resume */
      registry_stream_end(x->b->stream_out, false, 0);
      if (strcmp(got, d) != 0)
        return skiff_error(err, 0, "blob %s: digest mismatch (got %s)", d, got);
      return skiff_error(err, 0, "blob %s: %lld bytes, the manifest says %lld", d, x->have,
                         x->b->size);
    }
  if (fchmod(x->fd, 0644) < 0)
    return skiff_error(err, errno, "chmod `%s`", x->path);
  /* start writing it to disk now, while the layers unpack: the commit's syncfs then has
   * less to wait for (best effort; the syncfs is what makes it durable) */
  (void)sync_file_range(x->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  char *staged = x->path;
  if (x->shared)
    {
      staged = image_txn_tmp_path(x->f->t, "blob");
      if (rename(x->path, staged) < 0)
        {
          int e = errno;
          free(staged);
          return skiff_error(err, e, "rename `%s`", x->path);
        }
      free(x->path);
    }
  x->path = NULL;
  image_txn_adopt_blob(x->f->t, d, staged);
  free(staged);
  registry_stream_end(x->b->stream_out, true, x->have);
  close(x->fd); /* releases the lock */
  x->fd = -1;
  x->done = true;
  return 0;
}

static bool transient(CURLcode rc)
{
  return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR
         || rc == CURLE_GOT_NOTHING || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_HTTP2_STREAM
         || rc == CURLE_HTTP2;
}

/* A transfer ended: done, retried, or an error. */
static int xfer_finish(struct xfer *x, CURLcode rc, struct skiff_err **err)
{
  struct fetch *f = x->f;
  const char *d = x->b->digest;
  if (f->cancelled)
    return skiff_error(err, 0, "cancelled");
  if (x->write_failed)
    {
      unlink(x->path);
      return skiff_error(err, x->write_errno, "blob %s: write `%s`", d, x->path);
    }
  if (x->too_big)
    {
      unlink(x->path);
      return skiff_error(err, 0, "blob %s: larger than the %lld bytes the manifest says", d,
                         x->b->size);
    }
  if (rc != CURLE_OK)
    {
      if (transient(rc) && x->attempts < XFER_ATTEMPTS)
        return xfer_start(x, err);
      f->keep_parts = true; /* cut, or the registry went away: resumable */
      cleanup_free char *url = registry_url(f->c, "/v2/%s/blobs/%s", f->repo, d);
      registry_curl_error(f->c, rc, x->errbuf, "GET", url, err);
      return skiff_err_prefix(err, "blob %s (%lld of %lld bytes kept for the next pull)", d,
                              x->have, x->b->size);
    }
  long status = x->status;
  if (!x->decided)
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
  if (status == 401 && !x->reauthed && x->err_reply.www_authenticate)
    {
      x->reauthed = true;
      if (registry_reauth(f->c, x->err_reply.www_authenticate, NULL) == 0)
        return xfer_start(x, err);
    }
  if (status == 416 && !x->range_refused)
    {
      /* the part is no prefix the registry recognises: start over */
      x->range_refused = true;
      registry_stream_end(x->b->stream_out, false, 0);
      if (ftruncate(x->fd, 0) < 0)
        return skiff_error(err, errno, "truncate `%s`", x->path);
      digest_free(x->ctx);
      x->ctx = digest_new();
      x->have = x->resumed = 0;
      return xfer_start(x, err);
    }
  if (status != 200 && status != 206)
    {
      x->err_reply.status = status;
      registry_status_error(f->c, &x->err_reply, "GET blob", err);
      return skiff_err_prefix(err, "blob %s", d);
    }
  if (x->b->size >= 0 && x->have < x->b->size)
    {
      if (x->attempts < XFER_ATTEMPTS)
        return xfer_start(x, err); /* cut short without an error: ask for the rest */
      f->keep_parts = true;
      return skiff_error(err, 0, "blob %s: transfer ended at %lld of %lld bytes", d, x->have,
                         x->b->size);
    }
  return xfer_complete(x, err);
}

int registry_fetch_blobs(struct registry_client *c, const char *repo, struct image_txn *t,
                         struct registry_blob *blobs, size_t n,
                         const struct image_registry_opts *ro, struct skiff_err **err)
{
  if (n == 0)
    return 0;
  struct fetch f = {.c = c, .repo = repo, .t = t, .ro = ro};
  f.multi = curl_multi_init();
  if (f.multi == NULL)
    return skiff_error(err, ENOMEM, "curl_multi_init");
  size_t max = ro->max_parallel > 0 ? (size_t)ro->max_parallel : 4;
  struct xfer *xs = xzalloc(n * sizeof(*xs));
  for (size_t i = 0; i < n; i++)
    {
      xs[i].fd = -1;
      xs[i].f = &f;
      xs[i].b = &blobs[i];
    }
  size_t next = 0, active = 0, finished = 0;
  int ret = 0;
  while (ret == 0 && finished < n)
    {
      while (ret == 0 && next < n && active < max)
        {
          struct xfer *x = &xs[next++];
          x->t0_ms = skiff_now_ms();
          if (open_part(x, err) < 0)
            {
              ret = skiff_err_prefix(err, "blob %s", x->b->digest);
              break;
            }
          if (x->b->stream) /* NULL when it cannot start: unpacked after the download */
            x->b->stream_out = registry_stream_start(t, x->path, x->have);
          if (x->b->size >= 0 && x->have == x->b->size)
            {
              ret = xfer_complete(x, err); /* all of it was there already */
              finished++;
            }
          else if (xfer_start(x, err) < 0)
            ret = -1;
          else
            active++;
        }
      if (ret < 0 || active == 0)
        continue;
      int running = 0;
      if (curl_multi_perform(f.multi, &running) != CURLM_OK)
        ret = skiff_error(err, 0, "curl_multi_perform failed");
      CURLMsg *msg;
      int left;
      while (ret == 0 && (msg = curl_multi_info_read(f.multi, &left)) != NULL)
        {
          if (msg->msg != CURLMSG_DONE)
            continue;
          struct xfer *x = NULL;
          curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
          CURLcode rc = msg->data.result;
          ret = xfer_finish(x, rc, err);
          if (ret == 0 && x->done)
            {
              active--;
              finished++;
            }
        }
      if (ret == 0 && f.cancelled)
        ret = skiff_error(err, 0, "cancelled");
      if (ret == 0 && active > 0)
        curl_multi_poll(f.multi, NULL, 0, 100, NULL);
    }
  for (size_t i = 0; i < n; i++)
    {
      if (ret < 0 && !f.keep_parts && xs[i].shared && !xs[i].done && xs[i].path)
        unlink(xs[i].path); /* still under our lock */
      if (!xs[i].done)
        registry_stream_end(blobs[i].stream_out, false, 0);
      if (ret < 0 && blobs[i].stream_out)
        {
          char *dir, got[DIGEST_STR_LEN];
          registry_stream_join(blobs[i].stream_out, &dir, got); /* ... and discarded */
          blobs[i].stream_out = NULL;
          free(dir);
        }
      xfer_free(&xs[i]);
    }
  free(xs);
  curl_multi_cleanup(f.multi);
  return ret;
}
