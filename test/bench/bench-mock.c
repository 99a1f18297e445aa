/* bench-mock.c --- a paced mock model for the displayed `make bench'  -*- c -*- */
/* An OpenAI-compatible Chat Completions endpoint on 127.0.0.1 that
   streams a recorded reply slowly, as a model does, so the Emacs being
   measured is not also the mock.

   Usage: bench-mock REPLY INTERVAL-MS

   REPLY holds the reply's stream: `data: {chunk}' events separated by
   blank lines, ending with `data: [DONE]'.

   POST …/chat/completions with "tools" in its body (a turn of the
   agent): REPLY, one event every INTERVAL-MS against the clock.
   Without "tools" (the server's title request): a short title at once.
   GET /reply: REPLY paced the same way, for the plain baseline.
   Each connection has a thread of its own, so several sessions stream
   at once.  The port is printed on stdout as soon as the socket
   listens.  */

#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *reply;
static size_t *event_ends;      /* Offset after each event's blank line.  */
static size_t nevents;
static double interval;         /* Seconds between events.  */

static const char sse_head[] = "HTTP/1.1 200 OK\r\n"
  "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
  "Connection: close\r\n\r\n";

static const char title_reply[] =
  "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":0,"
  "\"model\":\"mock-1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
  "\"content\":\"Bench title\"},\"finish_reason\":null}]}\n\n"
  "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":0,"
  "\"model\":\"mock-1\",\"choices\":[{\"index\":0,\"delta\":{},"
  "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

static int
send_all (int fd, const char *s, size_t n)
{
  while (n > 0)
    {
      ssize_t w = send (fd, s, n, MSG_NOSIGNAL);
      if (w <= 0)
        return 0;
      s += w;
      n -= (size_t) w;
    }
  return 1;
}

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* REPLY, one event per INTERVAL, against the clock.  */
static void
stream_reply (int fd)
{
  if (!send_all (fd, sse_head, sizeof sse_head - 1))
    return;
  double t0 = now ();
  size_t from = 0;
  for (size_t i = 0; i < nevents; i++)
    {
      if (!send_all (fd, reply + from, event_ends[i] - from))
        return;
      from = event_ends[i];
      double wait = t0 + (i + 1) * interval - now ();
      if (wait > 0)
        {
          struct timespec d = { (time_t) wait, (long) ((wait - (time_t) wait) * 1e9) };
          nanosleep (&d, NULL);
        }
    }
}

/* Read one request: its head, then Content-Length bytes of body or, if
   chunked, up to the last chunk.  Return it (NUL-terminated) or NULL.  */
static char *
read_request (int fd)
{
  size_t cap = 65536, len = 0;
  char *buf = malloc (cap);
  for (;;)
    {
      if (len + 1 >= cap)
        {
          cap *= 2;
          buf = realloc (buf, cap);
        }
      ssize_t r = recv (fd, buf + len, cap - 1 - len, 0);
      if (r <= 0)
        break;
      len += (size_t) r;
      buf[len] = 0;
      char *end = strstr (buf, "\r\n\r\n");
      if (!end)
        continue;
      size_t head = (size_t) (end + 4 - buf);
      char *cl = strcasestr (buf, "\r\nContent-Length:");
      if (cl && cl < end)
        {
          if (len >= head + strtoul (cl + 17, NULL, 10))
            return buf;
        }
      else if (strcasestr (buf, "\r\nTransfer-Encoding: chunked") && (size_t) (end - buf) < len)
        {
          if (len >= 5 && memcmp (buf + len - 5, "0\r\n\r\n", 5) == 0)
            return buf;
        }
      else
        return buf;
    }
  if (len)
    return buf;
  free (buf);
  return NULL;
}

static void *
client (void *arg)
{
  int fd = (int) (long) arg;
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char *req = read_request (fd);
  if (req)
    {
      char *body = strstr (req, "\r\n\r\n");
      if (strncmp (req, "GET /reply", 10) == 0)
        stream_reply (fd);
      else if (strncmp (req, "POST ", 5) == 0 && strstr (req, "/chat/completions"))
        {
          if (body && strstr (body, "\"tools\":"))
            stream_reply (fd);
          else if (send_all (fd, sse_head, sizeof sse_head - 1))
            send_all (fd, title_reply, sizeof title_reply - 1);
        }
      else
        {
          static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n";
          send_all (fd, nf, sizeof nf - 1);
        }
      free (req);
    }
  shutdown (fd, SHUT_RDWR);
  close (fd);
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc != 3)
    {
      fprintf (stderr, "usage: %s REPLY INTERVAL-MS\n", argv[0]);
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  FILE *f = fopen (argv[1], "rb");
  if (!f)
    {
      perror (argv[1]);
      return 2;
    }
  struct stat st;
  fstat (fileno (f), &st);
  size_t len = (size_t) st.st_size;
  reply = malloc (len + 1);
  if (!reply || fread (reply, 1, len, f) != len)
    {
      fprintf (stderr, "cannot read %s\n", argv[1]);
      return 2;
    }
  reply[len] = 0;
  fclose (f);
  event_ends = malloc (sizeof *event_ends * (len / 2 + 1));
  for (size_t i = 0; i + 1 < len; i++)
    if (reply[i] == '\n' && reply[i + 1] == '\n')
      event_ends[nevents++] = i + 2;
  interval = atof (argv[2]) / 1000.0;

  int s = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt (s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { 0 };
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (s < 0 || bind (s, (struct sockaddr *) &a, sizeof a) != 0 || listen (s, 64) != 0
      || getsockname (s, (struct sockaddr *) &a, &alen) != 0)
    {
      perror ("listen");
      return 2;
    }
  printf ("%d\n", ntohs (a.sin_port));
  fflush (stdout);
  for (;;)
    {
      int fd = accept (s, NULL, NULL);
      if (fd < 0)
        continue;
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init (&attr);
      pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
      if (pthread_create (&t, &attr, client, (void *) (long) fd) != 0)
        close (fd);
      pthread_attr_destroy (&attr);
    }
}
