/* bench-server.c --- a loopback HTTP server for `make bench'  -*- c -*- */
/* Serves a recorded-shape SSE stream and canned JSON replies so the
   benchmark measures the client, not a model.  Only 127.0.0.1.

   Usage: bench-server STREAM RATE [ROUTE=FILE[=CURSOR] ...]

   GET /event or /global/event: STREAM (events separated by blank
   lines), RATE events per second (0: as fast as the socket takes
   them), then the connection is held open until the client closes it.
   Any other GET: the FILE of the ROUTE that matches best.  A ROUTE is
   PATH or PATH?K=V&…; it matches a request with that path whose query
   has every K=V of the route; the one with most K=V wins.  CURSOR, when
   given, is sent as the X-Next-Cursor header.  No match: 200 with [].
   The port is printed on stdout as soon as the socket listens.  The
   server itself is the tests' loopback harness, test/c/oc-loopback.c.  */

#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "oc-loopback.h"

typedef struct
{
  char *path;                   /* Without the query.  */
  char *query;                  /* "k=v&k=v", or "".  */
  int nparams;
  char *body;
  size_t len;
  char *cursor;
} route;

static char *stream;
static size_t stream_len;
static size_t *event_ends;      /* Offset after each event's blank line.  */
static size_t nevents;
static double rate;
static route *routes;
static int nroutes;

static char *
slurp (const char *file, size_t *len)
{
  FILE *f = fopen (file, "rb");
  if (!f)
    {
      perror (file);
      exit (2);
    }
  struct stat st;
  fstat (fileno (f), &st);
  char *s = malloc (st.st_size + 1);
  if (!s || fread (s, 1, st.st_size, f) != (size_t) st.st_size)
    {
      fprintf (stderr, "cannot read %s\n", file);
      exit (2);
    }
  s[st.st_size] = 0;
  fclose (f);
  *len = st.st_size;
  return s;
}

static int
count_params (const char *q)
{
  if (!*q)
    return 0;
  int n = 1;
  for (; *q; q++)
    n += *q == '&';
  return n;
}

/* Does every k=v of the route's QUERY occur in the request's RQ?  */
static int
query_matches (const char *query, const char *rq)
{
  char *copy = strdup (query);
  int ok = 1;
  for (char *save, *kv = strtok_r (copy, "&", &save); kv && ok;
       kv = strtok_r (NULL, "&", &save))
    {
      size_t n = strlen (kv);
      const char *p = rq;
      int found = 0;
      while (p && *p)
        {
          if (strncmp (p, kv, n) == 0 && (p[n] == '&' || p[n] == 0))
            {
              found = 1;
              break;
            }
          p = strchr (p, '&');
          if (p)
            p++;
        }
      ok = found;
    }
  free (copy);
  return ok;
}

static void
serve_stream (int fd)
{
  static const char head[] = "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
  if (!oc_lb_send_all (fd, head, sizeof head - 1))
    return;
  if (rate <= 0)
    {
      if (!oc_lb_send_all (fd, stream, stream_len))
        return;
    }
  else
    {
      /* Pace in 5 ms slices, against the clock, not by sleeping a
         fixed time per event.  */
      struct timespec t0;
      clock_gettime (CLOCK_MONOTONIC, &t0);
      size_t sent = 0;
      while (sent < nevents)
        {
          struct timespec now;
          clock_gettime (CLOCK_MONOTONIC, &now);
          double el = (now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
          size_t due = (size_t) (el * rate) + 1;
          if (due > nevents)
            due = nevents;
          if (due > sent)
            {
              size_t from = sent ? event_ends[sent - 1] : 0;
              if (!oc_lb_send_all (fd, stream + from, event_ends[due - 1] - from))
                return;
              sent = due;
            }
          struct timespec d = { 0, 5 * 1000 * 1000 };
          nanosleep (&d, NULL);
        }
    }
  /* Hold the stream open until the client goes.  */
  char buf[256];
  while (recv (fd, buf, sizeof buf, 0) > 0)
    ;
}

static void
serve_route (int fd, const char *path, const char *rq)
{
  route *best = NULL;
  for (int i = 0; i < nroutes; i++)
    if (strcmp (routes[i].path, path) == 0
        && query_matches (routes[i].query, rq)
        && (!best || routes[i].nparams > best->nparams))
      best = &routes[i];
  const char *body = best ? best->body : "[]";
  size_t len = best ? best->len : 2;
  char head[512];
  int n = snprintf (head, sizeof head,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n%s%s%sConnection: close\r\n\r\n",
                    len, best && best->cursor ? "X-Next-Cursor: " : "",
                    best && best->cursor ? best->cursor : "",
                    best && best->cursor ? "\r\n" : "");
  if (oc_lb_send_all (fd, head, (size_t) n))
    oc_lb_send_all (fd, body, len);
}

/* One request, on its connection's thread (oc-loopback.c).  */
static void
client (int fd, char *req, size_t len, void *ud)
{
  (void) len;
  (void) ud;
  char method[16], target[4096];
  if (sscanf (req, "%15s %4095s", method, target) == 2)
    {
      char *q = strchr (target, '?');
      const char *rq = "";
      if (q)
        {
          *q = 0;
          rq = q + 1;
        }
      if (strcmp (target, "/event") == 0 || strcmp (target, "/global/event") == 0)
        serve_stream (fd);
      else
        serve_route (fd, target, rq);
    }
}

int
main (int argc, char **argv)
{
  if (argc < 3)
    {
      fprintf (stderr, "usage: %s STREAM RATE [ROUTE=FILE[=CURSOR] ...]\n", argv[0]);
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  stream = slurp (argv[1], &stream_len);
  rate = atof (argv[2]);
  event_ends = malloc (sizeof *event_ends * (stream_len / 2 + 1));
  for (size_t i = 0; i + 1 < stream_len; i++)
    if (stream[i] == '\n' && stream[i + 1] == '\n')
      event_ends[nevents++] = i + 2;
  nroutes = argc - 3;
  routes = calloc ((size_t) nroutes + 1, sizeof *routes);
  for (int i = 0; i < nroutes; i++)
    {
      char *spec = strdup (argv[i + 3]);
      char *eq = strchr (spec, '=');
      /* The route's own query has '=' too: split at the last '=' before
         a '/' (a file name), then at an optional cursor '='.  */
      char *file = NULL;
      for (char *p = spec; (p = strchr (p, '=')); p++)
        if (p[1] == '/' || p[1] == '.')
          {
            file = p + 1;
            *p = 0;
            break;
          }
      if (!eq || !file)
        {
          fprintf (stderr, "bad route %s (FILE must start with / or .)\n", argv[i + 3]);
          return 2;
        }
      char *cur = strchr (file, '=');
      if (cur)
        *cur++ = 0;
      char *q = strchr (spec, '?');
      if (q)
        *q++ = 0;
      routes[i].path = spec;
      routes[i].query = q ? q : "";
      routes[i].nparams = count_params (routes[i].query);
      routes[i].body = slurp (file, &routes[i].len);
      routes[i].cursor = cur;
    }

  oc_loopback *lb = oc_lb_start (0, client, NULL);
  if (!lb)
    {
      perror ("listen");
      return 2;
    }
  printf ("%d\n", oc_lb_port (lb));
  fflush (stdout);
  /* Serve until killed.  */
  for (;;)
    pause ();
}
