/* oc-sse.h --- incremental Server-Sent-Events parser  -*- c -*- */
/* Pure C: no emacs-module.h.  Implements the framing of the WHATWG
   "server-sent events" stream: lines end in CRLF, LF or CR; `data:'
   lines are joined with LF; `event:', `id:' and `retry:' fields; lines
   starting with `:' are comments; a blank line dispatches.  Bytes may
   arrive split at any boundary.  An event whose data grows past the
   configured limit is dropped whole and reported once.  */
#ifndef OC_SSE_H
#define OC_SSE_H

#include <stddef.h>
#include "oc-buf.h"

typedef struct oc_sse_handler
{
  /* A complete event: TYPE ("message" when no `event:' field), DATA of
     LEN bytes (NUL-terminated), ID the last event id (may be "").  */
  void (*on_event) (void *ud, const char *type, const char *data,
                    size_t len, const char *id);
  /* An event dropped for being over the size limit, BYTES long at least.  */
  void (*on_oversize) (void *ud, size_t bytes);
  /* A `retry:' field: the server asks for MS milliseconds of delay.  */
  void (*on_retry) (void *ud, long ms);
} oc_sse_handler;

typedef struct oc_sse
{
  oc_sse_handler handler;
  void *ud;
  size_t max_event;       /* Limit on an event's data, in bytes.  */
  oc_buf line;            /* The line being read.  */
  oc_buf data;            /* Data of the event being read.  */
  oc_buf type;            /* Its `event:' field.  */
  oc_buf last_id;         /* The last `id:' seen.  */
  bool has_data;          /* A `data:' field was seen in this event.  */
  bool overflow;          /* This event is over the limit: skip it.  */
  bool line_overflow;     /* The current line is over the limit.  */
  bool pending_cr;        /* Last byte was CR: swallow a following LF.  */
  bool bom_checked;       /* The stream's leading BOM was dealt with.  */
  size_t skipped;         /* Bytes dropped from the oversized event.  */
} oc_sse;

void oc_sse_init (oc_sse *p, const oc_sse_handler *h, void *ud,
                  size_t max_event);
/* Feed LEN bytes.  */
void oc_sse_feed (oc_sse *p, const char *buf, size_t len);
/* Forget any partial event (the stream was cut); keeps the last id.  */
void oc_sse_reset (oc_sse *p);
void oc_sse_free (oc_sse *p);

#endif /* OC_SSE_H */
