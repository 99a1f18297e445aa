/* fuzz-stream.c --- libFuzzer target: SSE framing + event routing  -*- c -*- */
/* Everything the worker thread does with bytes from the network, minus
   curl: the input is fed to the SSE parser in chunks whose sizes come
   from the input itself (so every split point gets tried), each event
   is parsed and routed into the merging queue, and the queue is drained
   and freed now and then as Emacs would.  Built with clang
   -fsanitize=fuzzer,address,undefined by `make fuzz'; the seed corpus is
   the recorded streams in test/fixtures.  A small event limit makes the
   oversize path reachable.  The pipeline and its checks (which abort,
   a crash to libFuzzer) are the tests' own, test/c/oc-pipeline.h.  */

#include <stddef.h>
#include <stdint.h>
#include "oc-pipeline.h"

/* Drain and free the queue as Emacs would, touching what it reads.  */
static void
drain (oc_pipeline *pl)
{
  oc_item *list = oc_queue_drain (&pl->queue);
  oc_pipeline_check_items (list);
  oc_item_free_list (list);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  oc_pipeline pl;
  oc_pipeline_init (&pl, 4096);
  size_t off = 0;
  unsigned step = size ? data[0] : 1;
  while (off < size)
    {
      size_t n = (step % 97) + 1;
      if (n > size - off)
        n = size - off;
      oc_pipeline_feed (&pl, (const char *) data + off, n);
      off += n;
      step = step * 31 + (unsigned) n;
      if (step % 5 == 0)
        drain (&pl);
      if (step % 211 == 0)
        oc_sse_reset (&pl.parser);      /* The connection was cut here.  */
    }
  drain (&pl);
  oc_pipeline_free (&pl);
  return 0;
}
