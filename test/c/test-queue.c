/* test-queue.c --- unit tests of the queue: merging and wake-ups  */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include "oc-queue.h"
#include "oc-test.h"

static size_t
pipe_bytes (int fd)
{
  char buf[4096];
  size_t n = 0;
  ssize_t r;
  while ((r = read (fd, buf, sizeof buf)) > 0)
    n += (size_t) r;
  return n;
}

static void
test_merge_consecutive (void)
{
  oc_queue q;
  oc_queue_init (&q, -1);
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "Hel", 3);
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "lo", 2);
  oc_queue_push_delta (&q, "s", "m", "p2", "text", "X", 1);
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "!", 1);
  oc_queue_push_delta (&q, "s", "m", "p1", "reasoning", "?", 1);
  oc_item *it = oc_queue_drain (&q);
  CHECK (it && it->kind == OC_ITEM_DELTA);
  /* p1's "!" joins p1 across p2's delta: deltas of other parts commute.  */
  CHECK_STR (it->delta.text.data, "Hello!");
  CHECK_STR (it->next->delta.text.data, "X");
  CHECK_STR (it->next->next->delta.field, "reasoning");
  CHECK (it->next->next->next == NULL);
  oc_queue_counters st;
  oc_queue_stats (&q, &st);
  CHECK (st.merged == 2);
  oc_item_free_list (it);
  oc_queue_destroy (&q);
}

/* Four sessions streaming side by side merge into four items; a run
   longer than the scan window still merges its newest parts.  */
static void
test_merge_interleaved_sessions (void)
{
  oc_queue q;
  oc_queue_init (&q, -1);
  static const char *sessions[] = { "s1", "s2", "s3", "s4" };
  for (int i = 0; i < 1000; i++)
    oc_queue_push_delta (&q, sessions[i % 4], "m", sessions[i % 4], "text", "x", 1);
  CHECK (oc_queue_length (&q) == 4);
  oc_queue_counters st;
  oc_queue_stats (&q, &st);
  CHECK (st.merged == 996 && st.pending == 4);
  oc_item *it = oc_queue_drain (&q);
  for (oc_item *i = it; i; i = i->next)
    CHECK (i->delta.text.len == 250);
  oc_item_free_list (it);
  char part[16];
  for (int i = 0; i < OC_QUEUE_MERGE_SCAN * 2; i++)
    {
      snprintf (part, sizeof part, "p%d", i);
      oc_queue_push_delta (&q, "s", "m", part, "text", "a", 1);
    }
  oc_queue_push_delta (&q, "s", "m", "p0", "text", "b", 1);  /* Too far back.  */
  snprintf (part, sizeof part, "p%d", OC_QUEUE_MERGE_SCAN * 2 - 1);
  oc_queue_push_delta (&q, "s", "m", part, "text", "b", 1);  /* Newest.  */
  CHECK (oc_queue_length (&q) == OC_QUEUE_MERGE_SCAN * 2 + 1);
  it = oc_queue_drain (&q);
  oc_item *last = it;
  while (last->next)
    last = last->next;
  CHECK_STR (last->delta.part, "p0");
  CHECK_STR (last->delta.text.data, "b");
  oc_item_free_list (it);
  oc_queue_destroy (&q);
}

static void
test_no_merge_across_other_items (void)
{
  oc_queue q;
  oc_queue_init (&q, -1);
  oc_queue_push_delta (&q, "s", "m", "p", "text", "a", 1);
  oc_queue_warn (&q, "between %d", 1);
  oc_queue_push_delta (&q, "s", "m", "p", "text", "b", 1);
  oc_item *it = oc_queue_drain (&q);
  CHECK_STR (it->delta.text.data, "a");
  CHECK (it->next->kind == OC_ITEM_WARNING);
  CHECK_STR (it->next->warning.message.data, "between 1");
  CHECK_STR (it->next->next->delta.text.data, "b");
  oc_item_free_list (it);
  oc_queue_destroy (&q);
}

static void
test_one_wakeup_per_drain (void)
{
  int fds[2];
  CHECK (pipe (fds) == 0);
  fcntl (fds[0], F_SETFL, O_NONBLOCK);
  oc_queue q;
  oc_queue_init (&q, fds[1]);
  for (int i = 0; i < 100; i++)
    oc_queue_state (&q, OC_STATE_CONNECTED, i, 0, NULL);
  CHECK (pipe_bytes (fds[0]) == 1);
  oc_item_free_list (oc_queue_drain (&q));
  oc_queue_warn (&q, "x");
  oc_queue_warn (&q, "y");
  CHECK (pipe_bytes (fds[0]) == 1);
  oc_queue_counters st;
  oc_queue_stats (&q, &st);
  CHECK (st.wakeups == 2 && st.pending == 2);
  oc_item *it = oc_queue_drain (&q);
  CHECK (it && it->next && !it->next->next);
  oc_item_free_list (it);
  CHECK (oc_queue_drain (&q) == NULL);
  oc_queue_destroy (&q);
  close (fds[0]);
  close (fds[1]);
}

/* A reader gone (its pipe closed) must not end the process with
   SIGPIPE, whose default action is to terminate, as in Emacs: the
   wake-up write fails quietly and the items stay queued.  */
static void
test_reader_gone (void)
{
  int fds[2];
  CHECK (pipe (fds) == 0);
  close (fds[0]);
  oc_queue q;
  oc_queue_init (&q, fds[1]);
  oc_queue_warn (&q, "nobody reads this");
  oc_queue_warn (&q, "nor this");
  oc_item *it = oc_queue_drain (&q);
  CHECK (it && it->next && !it->next->next);
  oc_item_free_list (it);
  oc_queue_warn (&q, "the wake-up is written again");
  oc_item_free_list (oc_queue_drain (&q));
  sigset_t pending;
  sigpending (&pending);
  CHECK (!sigismember (&pending, SIGPIPE));
  oc_queue_destroy (&q);
  close (fds[1]);
}

/* Items drained and put back (a quit interrupted their conversion) come
   first at the next drain, in their order, ahead of what was queued
   since; the reader is woken again exactly when no wake-up is pending;
   nothing merges into an item put back.  */
static void
test_requeue (void)
{
  int fds[2];
  CHECK (pipe (fds) == 0);
  fcntl (fds[0], F_SETFL, O_NONBLOCK);
  oc_queue q;
  oc_queue_init (&q, fds[1]);
  oc_queue_push_delta (&q, "s", "m", "p", "text", "a", 1);
  oc_queue_warn (&q, "w");
  oc_queue_push_delta (&q, "s", "m", "p", "text", "b", 1);
  CHECK (pipe_bytes (fds[0]) == 1);
  oc_item *list = oc_queue_drain (&q);
  /* Put back into an empty queue: one new wake-up.  */
  oc_queue_requeue (&q, list);
  CHECK (pipe_bytes (fds[0]) == 1);
  CHECK (oc_queue_length (&q) == 3);
  oc_queue_push_delta (&q, "s", "m", "p", "text", "c", 1);   /* Not merged.  */
  list = oc_queue_drain (&q);
  /* Queued since the drain, then put back: no second wake-up.  */
  oc_queue_push_delta (&q, "s", "m", "p", "text", "d", 1);
  CHECK (pipe_bytes (fds[0]) == 1);
  oc_queue_requeue (&q, list);
  CHECK (pipe_bytes (fds[0]) == 0);
  oc_queue_push_delta (&q, "s", "m", "p", "text", "e", 1);   /* Joins "d".  */
  oc_item *it = oc_queue_drain (&q);
  const char *expect[] = { "a", "w", "b", "c", "de" };
  size_t i = 0;
  for (oc_item *x = it; x; x = x->next, i++)
    {
      CHECK (i < 5);
      if (i >= 5)
        break;
      CHECK_STR (x->kind == OC_ITEM_WARNING ? x->warning.message.data
                 : x->delta.text.data, expect[i]);
    }
  CHECK (i == 5);
  oc_queue_counters st;
  oc_queue_stats (&q, &st);
  CHECK (st.merged == 1 && st.pending == 0 && st.wakeups == 3);
  oc_item_free_list (it);
  oc_queue_requeue (&q, NULL);
  CHECK (oc_queue_drain (&q) == NULL);
  oc_queue_destroy (&q);
  close (fds[0]);
  close (fds[1]);
}

static const char *
item_text (oc_item *it)
{
  return it->kind == OC_ITEM_WARNING ? it->warning.message.data
    : it->delta.text.data;
}

/* A drain of at most MAX items leaves the rest queued, in order, still
   taking the deltas that follow them, and wakes the reader again for
   them (one byte, as for any false-to-true flip of the flag); a drain
   that empties the queue wakes no one.  */
static void
test_drain_max (void)
{
  int fds[2];
  CHECK (pipe (fds) == 0);
  fcntl (fds[0], F_SETFL, O_NONBLOCK);
  oc_queue q;
  oc_queue_init (&q, fds[1]);
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "a", 1);
  oc_queue_warn (&q, "w");
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "b", 1);
  oc_queue_push_delta (&q, "s", "m", "p2", "text", "x", 1);
  CHECK (pipe_bytes (fds[0]) == 1);

  oc_item *it = oc_queue_drain_max (&q, 1);
  CHECK (it && !it->next);
  CHECK_STR (item_text (it), "a");
  oc_item_free_list (it);
  CHECK (pipe_bytes (fds[0]) == 1);           /* Woken for the rest.  */
  CHECK (oc_queue_length (&q) == 3);
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "c", 1);   /* Joins "b".  */
  CHECK (pipe_bytes (fds[0]) == 0);           /* A wake-up is pending.  */

  /* Take the warning and p1's delta: the rest of the merge window
     (p2's delta) stays a merge candidate.  */
  it = oc_queue_drain_max (&q, 2);
  CHECK (it && it->next && !it->next->next);
  CHECK_STR (item_text (it), "w");
  CHECK_STR (item_text (it->next), "bc");
  oc_item_free_list (it);
  CHECK (pipe_bytes (fds[0]) == 1);
  oc_queue_push_delta (&q, "s", "m", "p2", "text", "y", 1);   /* Joins "x".  */
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "d", 1);   /* New item.  */
  CHECK (oc_queue_length (&q) == 2);

  /* More than is queued: everything, and no wake-up.  */
  it = oc_queue_drain_max (&q, 5);
  CHECK (it && it->next && !it->next->next);
  CHECK_STR (item_text (it), "xy");
  CHECK_STR (item_text (it->next), "d");
  oc_item_free_list (it);
  CHECK (pipe_bytes (fds[0]) == 0);
  CHECK (oc_queue_drain_max (&q, 1) == NULL);
  CHECK (pipe_bytes (fds[0]) == 0);

  /* The flag is clear again: the next item wakes the reader.  */
  oc_queue_push_delta (&q, "s", "m", "p1", "text", "e", 1);
  CHECK (pipe_bytes (fds[0]) == 1);
  it = oc_queue_drain_max (&q, 1);
  CHECK (it && !it->next);
  CHECK_STR (item_text (it), "e");
  oc_item_free_list (it);
  CHECK (pipe_bytes (fds[0]) == 0);

  oc_queue_counters st;
  oc_queue_stats (&q, &st);
  CHECK (st.merged == 2 && st.pending == 0 && st.wakeups == 4);
  oc_queue_destroy (&q);
  close (fds[0]);
  close (fds[1]);
}

/* The reader's end is closed (its process deleted) and a bounded drain
   wakes it from this thread, whose SIGPIPE is not blocked (Emacs's
   is not): no signal is raised, none is left pending.  */
static void
test_drain_max_reader_gone (void)
{
  int fds[2];
  CHECK (pipe (fds) == 0);
  oc_queue q;
  oc_queue_init (&q, fds[1]);
  close (fds[0]);               /* Before the first wake-up: EPIPE.  */
  oc_queue_warn (&q, "a");
  oc_queue_warn (&q, "b");
  oc_item *it = oc_queue_drain_max (&q, 1);   /* Wakes: EPIPE again.  */
  CHECK (it && !it->next);
  oc_item_free_list (it);
  sigset_t pending;
  CHECK (sigpending (&pending) == 0 && sigismember (&pending, SIGPIPE) == 0);
  oc_item_free_list (oc_queue_drain (&q));
  oc_queue_destroy (&q);
  close (fds[1]);
}

/* A producer thread and a draining consumer: every byte of text arrives,
   in order, and no wake-up is lost (TSan checks the locking).  */
#define N_DELTAS 20000
static oc_queue shared_q;

static void *
producer (void *arg)
{
  (void) arg;
  int seq[2] = { 0, 0 };        /* Each part's own letter sequence.  */
  for (int i = 0; i < N_DELTAS; i++)
    {
      int p = i % 1000 < 500 ? 0 : 1;
      char c = (char) ('a' + seq[p]++ % 26);
      oc_queue_push_delta (&shared_q, "s", "m", p ? "p2" : "p1",
                           "text", &c, 1);
    }
  oc_queue_state (&shared_q, OC_STATE_DISCONNECTED, 0, 0, "done");
  return NULL;
}

/* The consumer takes at most MAX items per wake-up (0: all): it reads
   one byte, blocking, before each drain, so a lost wake-up hangs it.  */
static void
threaded_producer (size_t max)
{
  int fds[2];
  CHECK (pipe (fds) == 0);
  oc_queue_init (&shared_q, fds[1]);
  pthread_t t;
  pthread_create (&t, NULL, producer, NULL);
  size_t total = 0;
  int expect[2] = { 0, 0 };     /* Order holds within each part.  */
  bool done = false, order_ok = true;
  while (!done)
    {
      char b;
      if (read (fds[0], &b, 1) != 1)
        break;
      for (oc_item *it = oc_queue_drain_max (&shared_q, max), *next; it;
           it = next)
        {
          next = it->next;
          if (it->kind == OC_ITEM_STATE)
            done = true;
          else
            {
              int p = strcmp (it->delta.part, "p2") == 0;
              for (size_t k = 0; k < it->delta.text.len; k++, expect[p]++)
                if (it->delta.text.data[k] != (char) ('a' + expect[p] % 26))
                  order_ok = false;
            }
          total += it->kind == OC_ITEM_DELTA ? it->delta.text.len : 0;
          oc_item_free (it);
        }
    }
  pthread_join (t, NULL);
  CHECK (done);
  CHECK (order_ok);
  CHECK (total == N_DELTAS);
  oc_item_free_list (oc_queue_drain (&shared_q));
  oc_queue_destroy (&shared_q);
  close (fds[0]);
  close (fds[1]);
}

static void
test_threaded_producer (void)
{
  threaded_producer (0);
}

static void
test_threaded_sliced_drain (void)
{
  threaded_producer (3);
}

int
main (void)
{
  RUN (test_merge_consecutive);
  RUN (test_merge_interleaved_sessions);
  RUN (test_no_merge_across_other_items);
  RUN (test_one_wakeup_per_drain);
  RUN (test_requeue);
  RUN (test_reader_gone);
  RUN (test_drain_max);
  RUN (test_drain_max_reader_gone);
  RUN (test_threaded_producer);
  RUN (test_threaded_sliced_drain);
  DONE ();
}
