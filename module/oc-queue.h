/* oc-queue.h --- the queue between the worker thread and Emacs  -*- c -*- */
/* Pure C: no emacs-module.h.  The worker appends C-owned items under a
   mutex and writes one byte to the notification fd only when the
   `signaled' flag flips from false to true; Emacs takes the whole queue
   and clears the flag under the same lock, so no wake-up is lost and the
   pipe never fills.  A text delta is merged on the way in into the
   pending delta of the same part and field when only other deltas lie
   between them (deltas of different parts commute), so deltas of
   sessions streaming side by side still merge.  */
#ifndef OC_QUEUE_H
#define OC_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include "oc-item.h"

/* Counters of a queue, read together under its lock.  */
typedef struct oc_queue_counters
{
  unsigned long merged;         /* Deltas folded into an earlier item.  */
  unsigned long wakeups;        /* Bytes written to the notify fd.  */
  size_t pending;               /* Items waiting for the next drain.  */
} oc_queue_counters;

/* The fields are the queue's own: other files use the functions below
   (and oc_queue_stats to read the counters), never the fields.  */
typedef struct oc_queue
{
  pthread_mutex_t lock;
  oc_item *head, *tail;
  size_t count;
  bool signaled;
  oc_item *window;            /* The newest deltas ending the queue, at
                                 most OC_QUEUE_MERGE_SCAN: merge candidates.  */
  size_t window_len;
  int notify_fd;              /* -1: none (tests poll instead).  */
  unsigned long merged;       /* Deltas folded into an earlier item.  */
  unsigned long wakeups;      /* Bytes written to notify_fd.  */
} oc_queue;

#define OC_QUEUE_MERGE_SCAN 64

void oc_queue_init (oc_queue *q, int notify_fd);
/* Free all pending items; does not close notify_fd.  */
void oc_queue_destroy (oc_queue *q);

/* Append IT (ownership passes to the queue).  */
void oc_queue_push (oc_queue *q, oc_item *it);
/* Append a text delta, merged into a pending delta of the same session,
   message, part and field when only deltas follow that one (looking at
   most OC_QUEUE_MERGE_SCAN items back).  Returns false when memory ran
   out (the delta is then lost and reported as a warning).  */
bool oc_queue_push_delta (oc_queue *q, const char *session,
                          const char *message, const char *part,
                          const char *field, const char *text, size_t len);
/* Convenience: push a warning or a state change.  */
void oc_queue_warn (oc_queue *q, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* A state of the stream: ATTEMPT is read for OC_STATE_CONNECTING,
   RETRY_MS and the detail (FMT, may be NULL) for OC_STATE_DISCONNECTED.  */
void oc_queue_state (oc_queue *q, oc_state state, long attempt,
                     long retry_ms, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

/* Take every pending item, oldest first, and clear the flag.  */
oc_item *oc_queue_drain (oc_queue *q);
/* Take at most MAX pending items, oldest first (every one when MAX is
   0).  When items remain, the flag is cleared and set again at once,
   with its one byte written: the reader is woken again for the rest,
   so a reader that stops after a slice of the queue never loses a
   wake-up.  What remains stays mergeable: a delta still queued takes
   the deltas that follow it as before.  */
oc_item *oc_queue_drain_max (oc_queue *q, size_t max);
/* Put back LIST, drained and not consumed, ahead of whatever was queued
   since, and wake the reader again (the next drain gets it all, in the
   original order).  Items put back are never merged into.  */
void oc_queue_requeue (oc_queue *q, oc_item *list);
size_t oc_queue_length (oc_queue *q);
/* Copy Q's counters into *OUT, consistently (under the lock).  */
void oc_queue_stats (oc_queue *q, oc_queue_counters *out);

#endif /* OC_QUEUE_H */
