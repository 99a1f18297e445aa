/* fuzz-stream.c --- libFuzzer target: SSE framing + event routing  -*- c -*- */
/* Everything the worker thread does with bytes from the network, minus
   curl: the input is fed to the SSE parser in chunks whose sizes come
   from the input itself (so every split point gets tried), each event
   is parsed and routed into the merging queue, and the queue is drained
   and freed now and then as Emacs would.  Built with clang
   -fsanitize=fuzzer,address,undefined by `make fuzz'; the seed corpus is
   the recorded streams in test/fixtures.  A small event limit makes the
   oversize path reachable.  */

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "oc-event.h"
#include "oc-queue.h"
#include "oc-sse.h"

static void
on_event (void *ud, const char *type, const char *data, size_t len,
          const char *id)
{
  /* The parser promises NUL-terminated data and a string id.  */
  if (data[len] != '\0' || !type || !id)
    __builtin_trap ();
  oc_event_route (ud, data, len);
}

static void
on_oversize (void *ud, size_t bytes)
{
  oc_queue_warn (ud, "event over the limit (%zu bytes)", bytes);
}

static void
on_retry (void *ud, long ms)
{
  (void) ud;
  if (ms < 0)
    __builtin_trap ();
}

static void
drain (oc_queue *q)
{
  oc_item *list = oc_queue_drain (q);
  for (oc_item *it = list; it; it = it->next)
    {
      /* Touch what Emacs would read.  */
      if (it->kind == OC_ITEM_DELTA
          && (!it->delta.session || !it->delta.message || !it->delta.part
              || !it->delta.field))
        __builtin_trap ();
      if (it->kind == OC_ITEM_EVENT && !it->event.type)
        __builtin_trap ();
      const oc_buf *text = it->kind == OC_ITEM_DELTA ? &it->delta.text
        : it->kind == OC_ITEM_WARNING ? &it->warning.message : NULL;
      if (text && text->len && text->data[text->len] != '\0')
        __builtin_trap ();
    }
  oc_item_free_list (list);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  oc_queue q;
  oc_queue_init (&q, -1);
  oc_sse p;
  oc_sse_handler h = { on_event, on_oversize, on_retry };
  oc_sse_init (&p, &h, &q, 4096);
  size_t off = 0;
  unsigned step = size ? data[0] : 1;
  while (off < size)
    {
      size_t n = (step % 97) + 1;
      if (n > size - off)
        n = size - off;
      oc_sse_feed (&p, (const char *) data + off, n);
      off += n;
      step = step * 31 + (unsigned) n;
      if (step % 5 == 0)
        drain (&q);
      if (step % 211 == 0)
        oc_sse_reset (&p);      /* The connection was cut here.  */
    }
  drain (&q);
  oc_sse_free (&p);
  oc_queue_destroy (&q);
  return 0;
}
