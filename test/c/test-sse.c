/* test-sse.c --- unit tests of the SSE parser  */
#include <stdlib.h>
#include "oc-sse.h"
#include "oc-test.h"

typedef struct
{
  char log[8192];
  int events, oversize;
  long retry;
} rec;

static void
on_event (void *ud, const char *type, const char *data, size_t len, const char *id)
{
  rec *r = ud;
  r->events++;
  size_t n = strlen (r->log);
  snprintf (r->log + n, sizeof r->log - n, "[%s|%.*s|%s]", type, (int) len, data, id);
}

static void
on_oversize (void *ud, size_t bytes)
{
  rec *r = ud;
  (void) bytes;
  r->oversize++;
  size_t n = strlen (r->log);
  snprintf (r->log + n, sizeof r->log - n, "[OVERSIZE]");
}

static void
on_retry (void *ud, long ms)
{
  ((rec *) ud)->retry = ms;
}

static const oc_sse_handler H = { on_event, on_oversize, on_retry };

/* Feed S in chunks of CHUNK bytes, return the log.  */
static void
feed (rec *r, const char *s, size_t chunk, size_t max)
{
  oc_sse p;
  memset (r, 0, sizeof *r);
  oc_sse_init (&p, &H, r, max);
  size_t len = strlen (s);
  for (size_t i = 0; i < len; i += chunk)
    oc_sse_feed (&p, s + i, len - i < chunk ? len - i : chunk);
  oc_sse_free (&p);
}

static const size_t chunks[] = { 1, 2, 3, 7, 400, 8192 };
#define NCHUNKS (sizeof chunks / sizeof chunks[0])

static void
check_all (const char *input, const char *expect, size_t max)
{
  for (size_t c = 0; c < NCHUNKS; c++)
    {
      rec r;
      feed (&r, input, chunks[c], max);
      if (strcmp (r.log, expect) != 0)
        fprintf (stderr, "chunk %zu: got %s want %s\n", chunks[c], r.log, expect);
      CHECK_STR (r.log, expect);
    }
}

static void
test_simple (void)
{
  check_all ("data: {\"a\":1}\n\n", "[message|{\"a\":1}|]", 1 << 20);
}

static void
test_line_endings (void)
{
  check_all ("data: a\r\n\r\ndata: b\r\rdata: c\n\n", "[message|a|][message|b|][message|c|]", 1 << 20);
}

static void
test_multiline_and_fields (void)
{
  check_all (": comment\nevent: x\nid: 7\ndata: one\ndata:two\ndata\n\n"
             "data: next\n\n",
             "[x|one\ntwo\n|7][message|next|7]", 1 << 20);
}

static void
test_no_data_no_dispatch (void)
{
  check_all ("event: x\n\n: only a comment\n\nid: 3\n\n", "", 1 << 20);
}

static void
test_bom_and_colon_value (void)
{
  check_all ("\xEF\xBB\xBF" "data: a:b: c\n\n", "[message|a:b: c|]", 1 << 20);
}

static void
test_retry (void)
{
  rec r;
  feed (&r, "retry: 2500\n\nretry: 12x\n\n", 1, 1 << 20);
  CHECK (r.retry == 2500);
  CHECK (r.events == 0);
}

static void
test_oversize_skipped_stream_goes_on (void)
{
  /* A 100-byte limit: the big event is dropped, the next arrives.  */
  char big[1024];
  strcpy (big, "data: ");
  memset (big + 6, 'x', 300);
  strcpy (big + 306, "\ndata: more\n\ndata: ok\n\n");
  check_all (big, "[OVERSIZE][message|ok|]", 100);
  /* One over-long line, no newline for a while.  */
  char line[2048];
  memset (line, 'y', 1500);
  line[0] = 'd';
  memcpy (line, "data:", 5);
  strcpy (line + 1500, "\n\ndata: after\n\n");
  check_all (line, "[OVERSIZE][message|after|]", 100);
}

static void
test_reset_drops_partial (void)
{
  rec r;
  memset (&r, 0, sizeof r);
  oc_sse p;
  oc_sse_init (&p, &H, &r, 1 << 20);
  oc_sse_feed (&p, "data: partial", 13);
  oc_sse_reset (&p);
  oc_sse_feed (&p, "data: whole\n\n", 13);
  oc_sse_free (&p);
  CHECK_STR (r.log, "[message|whole|]");
}

static void
test_many_events (void)
{
  /* 2000 events fed in odd chunk sizes all arrive in order.  */
  size_t n = 2000, cap = n * 32;
  char *s = malloc (cap);
  size_t len = 0;
  for (size_t i = 0; i < n; i++)
    len += (size_t) snprintf (s + len, cap - len, "data: %zu\r\n\r\n", i);
  for (size_t c = 0; c < NCHUNKS; c++)
    {
      rec r;
      memset (&r, 0, sizeof r);
      oc_sse p;
      static const oc_sse_handler counting = { NULL, NULL, NULL };
      (void) counting;
      oc_sse_init (&p, &H, &r, 1 << 20);
      for (size_t i = 0; i < len; i += chunks[c])
        {
          oc_sse_feed (&p, s + i, len - i < chunks[c] ? len - i : chunks[c]);
          r.log[0] = '\0';
        }
      oc_sse_free (&p);
      CHECK (r.events == (int) n);
    }
  free (s);
}

int
main (void)
{
  RUN (test_simple);
  RUN (test_line_endings);
  RUN (test_multiline_and_fields);
  RUN (test_no_data_no_dispatch);
  RUN (test_bom_and_colon_value);
  RUN (test_retry);
  RUN (test_oversize_skipped_stream_goes_on);
  RUN (test_reset_drops_partial);
  RUN (test_many_events);
  DONE ();
}
