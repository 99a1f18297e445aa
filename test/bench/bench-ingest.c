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
#include "oc-pipeline.h"

/* Bytes fed (and drained after) at a time, and the event limit, as the
   module's defaults.  */
#define OC_INGEST_CHUNK 16384
#define OC_INGEST_MAX_EVENT ((size_t) 16 << 20)
/* Longest wait for the stream, in ms.  */
#define OC_INGEST_TIMEOUT_MS 60000

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
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

  oc_pipeline pl;
  oc_pipeline_init (&pl, OC_INGEST_MAX_EVENT);
  unsigned long items = 0;
  double t0 = now ();
  for (long off = 0; off < size; off += OC_INGEST_CHUNK)
    {
      oc_pipeline_feed (&pl, text + off,
                        (size_t) (size - off < OC_INGEST_CHUNK
                                  ? size - off : OC_INGEST_CHUNK));
      oc_item *list = oc_queue_drain (&pl.queue);
      for (oc_item *it = list; it; it = it->next)
        items++;
      oc_item_free_list (list);
    }
  double t = now () - t0;
  oc_queue_counters st;
  oc_queue_stats (&pl.queue, &st);
  printf ("%.6f %lu %lu\n", t, items, st.merged);
  oc_pipeline_free (&pl);
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
      if (poll (&p, 1, OC_INGEST_TIMEOUT_MS) <= 0)
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
