/* oc-queue.c --- the queue between the worker thread and Emacs  */
/* Pure C: no emacs-module.h.  See oc-queue.h.  */

#include "oc-queue.h"

#include <errno.h>
#include <signal.h>
#include <time.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Longest warning or state detail, in bytes; longer ones are cut.  */
#define OC_FORMAT_MAX 512

void
oc_queue_init (oc_queue *q, int notify_fd)
{
  memset (q, 0, sizeof *q);
  pthread_mutex_init (&q->lock, NULL);
  q->notify_fd = notify_fd;
}

void
oc_queue_destroy (oc_queue *q)
{
  oc_item_free_list (q->head);
  q->head = q->tail = NULL;
  q->count = 0;
  pthread_mutex_destroy (&q->lock);
}

/* Write the wake-up byte.  The fd is non-blocking (see oc_conn_start
   for why): a full pipe already holds a pending wake-up, so EAGAIN is
   fine.  The reader may have closed its end (its process deleted):
   the write then raises SIGPIPE, which the worker has blocked but
   which would kill Emacs when Emacs's thread writes (a bounded drain
   or a requeue wakes the reader again).  So SIGPIPE is blocked for the
   write, and one this write raised is taken back, never one that was
   pending already.  */
static void
oc_queue_notify (oc_queue *q)
{
  if (q->notify_fd < 0)
    return;
  sigset_t pipe_set, old, pending;
  sigemptyset (&pipe_set);
  sigaddset (&pipe_set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &pipe_set, &old);
  bool was_pending = sigpending (&pending) == 0
    && sigismember (&pending, SIGPIPE) == 1;
  ssize_t r;
  do
    r = write (q->notify_fd, "!", 1);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == EPIPE && !was_pending)
    {
      struct timespec zero = { 0, 0 };
      while (sigtimedwait (&pipe_set, NULL, &zero) < 0 && errno == EINTR)
        ;
    }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
}

/* Link IT at the tail; the lock is held.  Returns true when the caller
   must write the wake-up byte (after unlocking).  */
static bool
oc_queue_link (oc_queue *q, oc_item *it)
{
  it->next = NULL;
  if (q->tail)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
  q->count++;
  if (it->kind == OC_ITEM_DELTA)
    {
      /* The window slides: it never holds more than the newest
         OC_QUEUE_MERGE_SCAN deltas, so a merge looks at no more.  */
      if (!q->window)
        {
          q->window = it;
          q->window_len = 1;
        }
      else if (++q->window_len > OC_QUEUE_MERGE_SCAN)
        {
          q->window = q->window->next;
          q->window_len--;
        }
    }
  else
    {
      q->window = NULL;
      q->window_len = 0;
    }
  if (q->signaled)
    return false;
  q->signaled = true;
  q->wakeups++;
  return true;
}

void
oc_queue_push (oc_queue *q, oc_item *it)
{
  if (!it)
    return;
  pthread_mutex_lock (&q->lock);
  bool wake = oc_queue_link (q, it);
  pthread_mutex_unlock (&q->lock);
  if (wake)
    oc_queue_notify (q);
}

static bool
oc_streq (const char *a, const char *b)
{
  return a && b && strcmp (a, b) == 0;
}

bool
oc_queue_push_delta (oc_queue *q, const char *session, const char *message,
                     const char *part, const char *field,
                     const char *text, size_t len)
{
  pthread_mutex_lock (&q->lock);
  for (oc_item *t = q->window; t; t = t->next)
    if (oc_streq (t->delta.part, part) && oc_streq (t->delta.field, field)
        && oc_streq (t->delta.message, message)
        && oc_streq (t->delta.session, session))
      {
        bool ok = oc_buf_append (&t->delta.text, text, len);
        if (ok)
          q->merged++;
        pthread_mutex_unlock (&q->lock);
        return ok;
      }
  pthread_mutex_unlock (&q->lock);

  /* Build the new item outside the lock.  */
  oc_item *it = oc_item_new (OC_ITEM_DELTA);
  if (!it)
    return false;
  oc_item_delta *d = &it->delta;
  d->session = strdup (session);
  d->message = strdup (message);
  d->part = strdup (part);
  d->field = strdup (field);
  if (!d->session || !d->message || !d->part || !d->field
      || !oc_buf_append (&d->text, text, len))
    {
      oc_item_free (it);
      return false;
    }
  oc_queue_push (q, it);
  return true;
}

static void
oc_vformat (oc_buf *b, const char *fmt, va_list ap)
{
  char tmp[OC_FORMAT_MAX];
  int n = vsnprintf (tmp, sizeof tmp, fmt, ap);
  if (n < 0)
    return;
  oc_buf_append (b, tmp, (size_t) n < sizeof tmp ? (size_t) n
                 : sizeof tmp - 1);
}

void
oc_queue_warn (oc_queue *q, const char *fmt, ...)
{
  oc_item *it = oc_item_new (OC_ITEM_WARNING);
  if (!it)
    return;
  va_list ap;
  va_start (ap, fmt);
  oc_vformat (&it->warning.message, fmt, ap);
  va_end (ap);
  oc_queue_push (q, it);
}

void
oc_queue_state (oc_queue *q, oc_state state, long attempt, long retry_ms,
                const char *fmt, ...)
{
  oc_item *it = oc_item_new (OC_ITEM_STATE);
  if (!it)
    return;
  it->state.state = state;
  it->state.attempt = attempt;
  it->state.retry_ms = retry_ms;
  if (fmt)
    {
      va_list ap;
      va_start (ap, fmt);
      oc_vformat (&it->state.detail, fmt, ap);
      va_end (ap);
    }
  oc_queue_push (q, it);
}

oc_item *
oc_queue_drain (oc_queue *q)
{
  return oc_queue_drain_max (q, 0);
}

oc_item *
oc_queue_drain_max (oc_queue *q, size_t max)
{
  pthread_mutex_lock (&q->lock);
  oc_item *h = q->head;
  if (max == 0 || max >= q->count)
    {
      q->head = q->tail = NULL;
      q->window = NULL;
      q->window_len = 0;
      q->count = 0;
      q->signaled = false;
      pthread_mutex_unlock (&q->lock);
      return h;
    }
  /* Cut the list after MAX items.  The merge window is the queue's
     tail: when its first item is taken, every item left is in it.  */
  oc_item *last = h;
  bool window_taken = last == q->window;
  for (size_t i = 1; i < max; i++)
    {
      last = last->next;
      window_taken = window_taken || last == q->window;
    }
  q->head = last->next;
  last->next = NULL;
  q->count -= max;
  if (window_taken)
    {
      q->window = q->head;
      q->window_len = q->count;
    }
  /* Items remain: the flag flips false, then true again with its byte,
     so the reader comes back for them.  */
  q->signaled = true;
  q->wakeups++;
  pthread_mutex_unlock (&q->lock);
  oc_queue_notify (q);
  return h;
}

void
oc_queue_requeue (oc_queue *q, oc_item *list)
{
  if (!list)
    return;
  oc_item *last = list;
  size_t n = 1;
  while (last->next)
    {
      last = last->next;
      n++;
    }
  pthread_mutex_lock (&q->lock);
  /* The merge window, if any, lies in what was queued since the drain,
     after LIST: it stays as it is.  */
  last->next = q->head;
  q->head = list;
  if (!q->tail)
    q->tail = last;
  q->count += n;
  bool wake = !q->signaled;
  if (wake)
    {
      q->signaled = true;
      q->wakeups++;
    }
  pthread_mutex_unlock (&q->lock);
  if (wake)
    oc_queue_notify (q);
}

size_t
oc_queue_length (oc_queue *q)
{
  pthread_mutex_lock (&q->lock);
  size_t n = q->count;
  pthread_mutex_unlock (&q->lock);
  return n;
}

void
oc_queue_stats (oc_queue *q, oc_queue_counters *out)
{
  pthread_mutex_lock (&q->lock);
  out->merged = q->merged;
  out->wakeups = q->wakeups;
  out->pending = q->count;
  pthread_mutex_unlock (&q->lock);
}
