/* registry_stream.c - a layer unpacked while it downloads (registry.h): a thread reads the
 * blob's file as registry_blob.c writes it, inflates it and extracts the tar into a new dir
 * of the pull's transaction, so the unpack overlaps the transfer instead of following it.
 *
 * Nothing unverified can enter the store: the dir is staged in the transaction, which
 * commits only when every blob matched its digest (registry_blob.c) and the tar stream
 * matched the config's diff_id (registry_pull.c); a pull that fails removes the staging
 * dir with the transaction.  The reader sees exactly the bytes that were hashed: the file
 * is the one the download writes and hashes (flock'd or private), read up to what the
 * download reported written.  When the download starts the file over (a registry that
 * ignored the Range, a 416) or fails, the stream is cut; a cut or failed stream leaves
 * the layer to be unpacked from the verified blob after the download, as before. */
#define _GNU_SOURCE
#include "registry.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

enum stream_state
{
  STREAM_RUNNING,  /* the download goes on */
  STREAM_COMPLETE, /* the whole blob is in the file and verified */
  STREAM_CUT,      /* the download failed or started over: stop reading */
};

struct registry_stream
{
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fd;
  long long avail, off; /* bytes written to the file; bytes read */
  long long want;       /* the reader sleeps until avail reaches this (under mu) */
  enum stream_state state;
  char *dir;
  int ret;
  char got[DIGEST_STR_LEN];
};

/* A reader that caught up with the download sleeps until this much more is written (or
 * the download ends): the download writes in curl's 16 KiB pieces, and a wakeup for each
 * costs more than the reading. */
#define STREAM_BATCH (128 * 1024)

static ssize_t stream_read(void *arg, void *buf, size_t len)
{
  struct registry_stream *s = arg;
  pthread_mutex_lock(&s->mu);
  if (s->off >= s->avail)
    s->want = s->off + STREAM_BATCH;
  while (s->off >= s->avail && s->state == STREAM_RUNNING)
    pthread_cond_wait(&s->cv, &s->mu);
  enum stream_state st = s->state;
  long long left = s->avail - s->off;
  pthread_mutex_unlock(&s->mu);
  if (st == STREAM_CUT)
    {
      errno = ECANCELED;
      return -1;
    }
  if (left <= 0)
    return 0; /* complete, all read */
  if ((long long)len > left)
    len = (size_t)left;
  ssize_t n;
  do
    n = pread(s->fd, buf, len, s->off);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    {
      errno = EIO; /* shorter than the download said */
      return -1;
    }
  if (n > 0)
    s->off += n; /* only this thread touches off */
  return n;
}

static void *stream_main(void *arg)
{
  struct registry_stream *s = arg;
  struct skiff_err *err = NULL;
  s->ret = image_layer_unpack_gz_reader(stream_read, s, s->dir, s->got, &err);
  SKIFF_TRACE(s->ret == 0 ? "stream: layer unpacked" : "stream: layer unpack stopped");
  skiff_err_free(&err); /* the unpack from the blob after the download says why */
  return NULL;
}

struct registry_stream *registry_stream_start(struct image_txn *t, const char *path,
                                              long long avail)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *dir = image_txn_tmp_path(t, "layer");
  if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
    {
      close(fd);
      free(dir);
      return NULL;
    }
  struct registry_stream *s = xzalloc(sizeof(*s));
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->fd = fd;
  s->avail = avail;
  s->dir = dir;
  s->ret = -1;
  if (pthread_create(&s->thread, NULL, stream_main, s) != 0)
    {
      skiff_rm_rf(dir, NULL);
      free(dir);
      close(fd);
      pthread_cond_destroy(&s->cv);
      pthread_mutex_destroy(&s->mu);
      free(s);
      return NULL;
    }
  return s;
}

void registry_stream_feed(struct registry_stream *s, long long avail)
{
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->mu);
  if (s->state == STREAM_RUNNING && avail > s->avail)
    {
      s->avail = avail;
      if (avail >= s->want)
        pthread_cond_signal(&s->cv);
    }
  pthread_mutex_unlock(&s->mu);
}

void registry_stream_end(struct registry_stream *s, bool verified, long long size)
{
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->mu);
  if (s->state == STREAM_RUNNING)
    {
      s->state = verified ? STREAM_COMPLETE : STREAM_CUT;
      if (verified)
        s->avail = size;
      pthread_cond_signal(&s->cv);
    }
  pthread_mutex_unlock(&s->mu);
}

int registry_stream_join(struct registry_stream *s, char **dir, char got[DIGEST_STR_LEN])
{
  *dir = NULL;
  if (s == NULL)
    return -1;
  registry_stream_end(s, false, 0); /* no-op after a verified end */
  pthread_join(s->thread, NULL);
  int ret = s->state == STREAM_COMPLETE && s->ret == 0 ? 0 : -1;
  if (ret == 0)
    {
      *dir = s->dir;
      memcpy(got, s->got, DIGEST_STR_LEN);
    }
  else
    {
      skiff_rm_rf(s->dir, NULL); /* room for the unpack from the blob */
      free(s->dir);
    }
  close(s->fd);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
  return ret;
}
