/* bench-ingest.c --- the C-only ingest ceiling for `make bench'  -*- c -*- */
/* The module's own pipeline without Emacs: an oc_conn streams from the
   bench server (curl, SSE framing, json-c parse, routing, delta merge,
   queue, wake-up pipe), and this thread drains the queue as Emacs
   would, until the event of type `bench.done'.

   Usage: bench-ingest URL
   Prints: seconds items merged  */

#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "oc-conn.h"

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: %s URL\n", argv[0]);
      return 2;
    }
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
          if (it->kind == OC_ITEM_EVENT && it->type
              && strcmp (it->type, "bench.done") == 0)
            done = 1;
        }
      oc_item_free_list (list);
    }
  double t = now () - t0;
  unsigned long merged = oc_conn_queue (c)->merged;
  oc_conn_stop (c);
  close (fds[0]);
  printf ("%.6f %lu %lu\n", t, items, merged);
  return 0;
}
