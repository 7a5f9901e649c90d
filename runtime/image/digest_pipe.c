/* digest_pipe.c - a digest computed by a thread beside the code that produces the bytes
 * (digest.h).  The producer fills the buffers of a small ring in turn and hands each over;
 * the thread hashes them in order.  A layer's unpack inflates the tar, hashes it (the
 * diff_id) and writes its files on one thread, the slowest part of a cold pull; with the
 * hash on the other CPU that thread does two of the three.
 *
 * A buffer handed over stays readable by the producer until it is handed out again,
 * DIGEST_PIPE_SLOTS - 1 buffers later: the tar reader keeps the last block it was given
 * until it asks for the next.  Without a thread (pthread_create failed) the hash runs in
 * the producer's digest_pipe_commit, as before. */
#define _GNU_SOURCE
#include "digest.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

#define DIGEST_PIPE_SLOTS 4

/* Two semaphores and no lock: the producer and the thread each own their counter, and a
 * semaphore only enters the kernel to wake a side that sleeps. */
struct digest_pipe
{
  pthread_t thread;
  bool threaded;
  bool taken;                /* the producer holds buffer `given` (not yet handed over) */
  sem_t free_slots, handed;  /* slots the producer may fill; buffers (or the end) to hash */
  unsigned long long given;  /* buffers handed over: the producer's */
  unsigned long long hashed; /* the thread's */
  struct digest_ctx *ctx;
  size_t len[DIGEST_PIPE_SLOTS];
  unsigned char buf[DIGEST_PIPE_SLOTS][DIGEST_PIPE_BUF];
};

static void *hash_thread(void *arg)
{
  struct digest_pipe *p = arg;
  for (;;)
    {
      while (sem_wait(&p->handed) < 0)
        ; /* EINTR */
      /* `given` and len[] were written before the post that woke us */
      if (p->hashed == p->given)
        break; /* the post of digest_pipe_final/free: everything is hashed */
      size_t slot = p->hashed % DIGEST_PIPE_SLOTS;
      digest_update(p->ctx, p->buf[slot], p->len[slot]);
      p->hashed++;
      sem_post(&p->free_slots);
    }
  return NULL;
}

struct digest_pipe *digest_pipe_new(void)
{
  struct digest_pipe *p = xzalloc(sizeof(*p));
  p->ctx = digest_new();
  sem_init(&p->free_slots, 0, DIGEST_PIPE_SLOTS);
  sem_init(&p->handed, 0, 0);
  p->threaded = pthread_create(&p->thread, NULL, hash_thread, p) == 0;
  return p;
}

void *digest_pipe_buffer(struct digest_pipe *p)
{
  if (p->threaded && !p->taken)
    while (sem_wait(&p->free_slots) < 0)
      ; /* EINTR */
  p->taken = true;
  return p->buf[p->given % DIGEST_PIPE_SLOTS];
}

void digest_pipe_commit(struct digest_pipe *p, size_t len)
{
  size_t slot = p->given % DIGEST_PIPE_SLOTS;
  if (!p->threaded)
    digest_update(p->ctx, p->buf[slot], len);
  p->len[slot] = len;
  p->given++;
  p->taken = false;
  if (p->threaded)
    sem_post(&p->handed);
}

static void stop(struct digest_pipe *p)
{
  if (!p->threaded)
    return;
  sem_post(&p->handed); /* one more post than buffers: the end */
  pthread_join(p->thread, NULL);
  p->threaded = false;
}

void digest_pipe_final(struct digest_pipe *p, char out[DIGEST_STR_LEN])
{
  stop(p);
  digest_final(p->ctx, out);
}

void digest_pipe_free(struct digest_pipe *p)
{
  if (p == NULL)
    return;
  stop(p);
  digest_free(p->ctx);
  sem_destroy(&p->free_slots);
  sem_destroy(&p->handed);
  free(p);
}
