/* oc-pipeline.h --- the worker's byte pipeline, without curl  -*- c -*- */
/* What the worker does with the bytes of the event stream, for the
   tests, the fuzzer (test/fuzz/fuzz-stream.c) and the C-only benchmark
   (test/bench/bench-ingest.c): the SSE parser, each event parsed and
   routed (oc_event_route) into a merging queue, with the parser's
   promises checked on the way (abort on a broken one, which libFuzzer
   and the tests report).  Header-only: everything is static inline.  */
#ifndef OC_PIPELINE_H
#define OC_PIPELINE_H

#include <stdlib.h>
#include "oc-event.h"
#include "oc-queue.h"
#include "oc-sse.h"

typedef struct
{
  oc_sse parser;
  oc_queue queue;
} oc_pipeline;

static inline void
oc_pipeline_on_event (void *ud, const char *type, const char *data,
                      size_t len, const char *id)
{
  /* The parser promises NUL-terminated data and a string type and id.  */
  if (data[len] != '\0' || !type || !id)
    abort ();
  oc_event_route (ud, data, len);
}

static inline void
oc_pipeline_on_oversize (void *ud, size_t bytes)
{
  oc_queue_warn (ud, "event over the limit (%zu bytes)", bytes);
}

static inline void
oc_pipeline_on_retry (void *ud, long ms)
{
  (void) ud;
  if (ms < 0)
    abort ();
}

/* MAX_EVENT: the parser's limit on one event's data.  */
static inline void
oc_pipeline_init (oc_pipeline *pl, size_t max_event)
{
  oc_sse_handler h = { oc_pipeline_on_event, oc_pipeline_on_oversize,
                       oc_pipeline_on_retry };
  oc_queue_init (&pl->queue, -1);
  oc_sse_init (&pl->parser, &h, &pl->queue, max_event);
}

static inline void
oc_pipeline_feed (oc_pipeline *pl, const char *bytes, size_t len)
{
  oc_sse_feed (&pl->parser, bytes, len);
}

static inline void
oc_pipeline_free (oc_pipeline *pl)
{
  oc_sse_free (&pl->parser);
  oc_queue_destroy (&pl->queue);
}

/* Check what Emacs will read of each item of LIST (abort when a promise
   of oc-item.h is broken); return how many items LIST has.  */
static inline size_t
oc_pipeline_check_items (const oc_item *list)
{
  size_t n = 0;
  for (const oc_item *it = list; it; it = it->next, n++)
    {
      const oc_buf *text = NULL;
      switch (it->kind)
        {
        case OC_ITEM_DELTA:
          if (!it->delta.session || !it->delta.message || !it->delta.part
              || !it->delta.field)
            abort ();
          text = &it->delta.text;
          break;
        case OC_ITEM_EVENT:
          if (!it->event.type)
            abort ();
          break;
        case OC_ITEM_WARNING:
          text = &it->warning.message;
          break;
        default:
          /* No stream bytes make the other kinds.  */
          abort ();
        }
      if (text && text->len && text->data[text->len] != '\0')
        abort ();
    }
  return n;
}

#endif /* OC_PIPELINE_H */
