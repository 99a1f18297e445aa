/* bench-ingest.c --- the C-only ingest rates for `make bench'  -*- c -*- */
/* The module's own pipeline without Emacs, two ways:

   bench-ingest FILE   the ceiling: the stream read from memory through
                       the SSE parser, json-c, routing and the merging
                       queue, drained every 16 KiB as a reader would;
   bench-ingest URL    an oc_conn streams from the bench server (curl,
                       SSE, json-c, routing, merging, queue, wake-up
                       pipe) and this thread drains the queue as Emacs
                       would, until the event of type `bench.done'.

   Prints: seconds items merged  */

#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "oc-conn.h"
#include "oc-event.h"
#include "oc-sse.h"

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void
on_event (void *ud, const char *type, const char *data, size_t len,
          const char *id)
{
  (void) type;
  (void) id;
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
  (void) ms;
}

static int
from_memory (const char *file)
{
  FILE *f = fopen (file, "rb");
  if (!f)
    {
      perror (file);
      return 2;
    }
  fseek (f, 0, SEEK_END);
  long size = ftell (f);
  fseek (f, 0, SEEK_SET);
  char *text = malloc ((size_t) size);
  if (!text || fread (text, 1, (size_t) size, f) != (size_t) size)
    return 2;
  fclose (f);

  oc_queue q;
  oc_queue_init (&q, -1);
  oc_sse p;
  oc_sse_handler h = { on_event, on_oversize, on_retry };
  oc_sse_init (&p, &h, &q, 16 << 20);
  unsigned long items = 0;
  double t0 = now ();
  for (long off = 0; off < size; off += 16384)
    {
      oc_sse_feed (&p, text + off, (size_t) (size - off < 16384 ? size - off : 16384));
      oc_item *list = oc_queue_drain (&q);
      for (oc_item *it = list; it; it = it->next)
        items++;
      oc_item_free_list (list);
    }
  double t = now () - t0;
  oc_queue_counters st;
  oc_queue_stats (&q, &st);
  printf ("%.6f %lu %lu\n", t, items, st.merged);
  oc_sse_free (&p);
  oc_queue_destroy (&q);
  free (text);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s FILE|URL\n", argv[0]);
      return 2;
    }
  if (strncmp (argv[1], "http://", 7) != 0)
    return from_memory (argv[1]);
  int fds[2];
  if (pipe (fds) < 0 || !oc_conn_global_init ())
    return 2;
  oc_conn_config cfg = { .base_url = argv[1], .event_path = "/event",
                         .notify_fd = fds[1], .stall_timeout_s = 60 };
  const char *err = NULL;
  double t0 = now ();
  oc_conn *c = oc_conn_start (&cfg, &err);
  if (!c)
    {
      fprintf (stderr, "start: %s\n", err);
      return 2;
    }
  unsigned long items = 0;
  int done = 0;
  while (!done)
    {
      struct pollfd p = { .fd = fds[0], .events = POLLIN };
      if (poll (&p, 1, 60000) <= 0)
        {
          fprintf (stderr, "timed out\n");
          return 1;
        }
      char b[64];
      if (read (fds[0], b, sizeof b) < 0)
        return 1;
      oc_item *list = oc_conn_drain (c);
      for (oc_item *it = list; it; it = it->next)
        {
          items++;
          if (it->kind == OC_ITEM_EVENT && it->event.type
              && strcmp (it->event.type, "bench.done") == 0)
            done = 1;
        }
      oc_item_free_list (list);
    }
  double t = now () - t0;
  oc_queue_counters st;
  oc_queue_stats (oc_conn_queue (c), &st);
  unsigned long merged = st.merged;
  oc_conn_stop (c);
  close (fds[0]);
  printf ("%.6f %lu %lu\n", t, items, merged);
  return 0;
}
