/* oc-loopback.c --- a loopback HTTP server for the C tests and benchmarks  */
/* See oc-loopback.h.  */

#include "oc-loopback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How often the accept loop looks at the stop flag, and how often
   oc_lb_stop looks at the connections still being served.  */
#define OC_LB_POLL_MS 100
#define OC_LB_WAIT_NS (10 * 1000 * 1000)
#define OC_LB_BACKLOG 64

struct oc_loopback
{
  int fd;
  int port;
  oc_lb_handler handler;
  void *ud;
  pthread_t thread;
  atomic_bool stop;
  atomic_int busy;
};

typedef struct
{
  oc_loopback *lb;
  int fd;
} oc_lb_conn;

bool
oc_lb_send_all (int fd, const char *s, size_t n)
{
  while (n > 0)
    {
      ssize_t w = send (fd, s, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return false;
      s += w;
      n -= (size_t) w;
    }
  return true;
}

const char *
oc_lb_body (const char *req)
{
  const char *end = strstr (req, "\r\n\r\n");
  return end ? end + 4 : req + strlen (req);
}

/* Read one request into REQ: its head, and as much body as its
   Content-Length announces (within OC_LB_REQUEST_MAX).  */
static size_t
oc_lb_read_request (int fd, char *req)
{
  size_t len = 0;
  req[0] = '\0';
  while (len < OC_LB_REQUEST_MAX - 1)
    {
      ssize_t r = recv (fd, req + len, OC_LB_REQUEST_MAX - 1 - len, 0);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      len += (size_t) r;
      req[len] = '\0';
      char *end = strstr (req, "\r\n\r\n");
      if (end)
        {
          char *cl = strstr (req, "Content-Length: ");
          size_t want = cl && cl < end ? (size_t) atol (cl + 16) : 0;
          if (len - (size_t) (end + 4 - req) >= want)
            break;
        }
    }
  return len;
}

static void *
oc_lb_connection (void *arg)
{
  oc_lb_conn *cn = arg;
  oc_loopback *lb = cn->lb;
  char *req = malloc (OC_LB_REQUEST_MAX);
  if (req)
    {
      size_t len = oc_lb_read_request (cn->fd, req);
      if (len > 0)
        lb->handler (cn->fd, req, len, lb->ud);
      free (req);
    }
  shutdown (cn->fd, SHUT_WR);
  close (cn->fd);
  free (cn);
  atomic_fetch_sub (&lb->busy, 1);
  return NULL;
}

static void *
oc_lb_accept_loop (void *arg)
{
  oc_loopback *lb = arg;
  int one = 1;
  while (!atomic_load (&lb->stop))
    {
      struct pollfd p = { .fd = lb->fd, .events = POLLIN };
      if (poll (&p, 1, OC_LB_POLL_MS) <= 0)
        continue;
      int fd = accept (lb->fd, NULL, NULL);
      if (fd < 0)
        continue;
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      oc_lb_conn *cn = malloc (sizeof *cn);
      if (!cn)
        {
          close (fd);
          continue;
        }
      cn->lb = lb;
      cn->fd = fd;
      atomic_fetch_add (&lb->busy, 1);
      pthread_t t;
      pthread_attr_t at;
      pthread_attr_init (&at);
      pthread_attr_setdetachstate (&at, PTHREAD_CREATE_DETACHED);
      if (pthread_create (&t, &at, oc_lb_connection, cn) != 0)
        oc_lb_connection (cn);
      pthread_attr_destroy (&at);
    }
  return NULL;
}

oc_loopback *
oc_lb_start (int port, oc_lb_handler handler, void *ud)
{
  oc_loopback *lb = calloc (1, sizeof *lb);
  if (!lb)
    return NULL;
  lb->handler = handler;
  lb->ud = ud;
  atomic_init (&lb->stop, false);
  atomic_init (&lb->busy, 0);
  lb->fd = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt (lb->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset (&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  a.sin_port = htons ((uint16_t) port);
  socklen_t l = sizeof a;
  if (lb->fd < 0
      || bind (lb->fd, (struct sockaddr *) &a, sizeof a) < 0
      || listen (lb->fd, OC_LB_BACKLOG) < 0
      || getsockname (lb->fd, (struct sockaddr *) &a, &l) < 0
      || pthread_create (&lb->thread, NULL, oc_lb_accept_loop, lb) != 0)
    {
      if (lb->fd >= 0)
        close (lb->fd);
      free (lb);
      return NULL;
    }
  lb->port = ntohs (a.sin_port);
  return lb;
}

int
oc_lb_port (const oc_loopback *lb)
{
  return lb->port;
}

int
oc_lb_busy (oc_loopback *lb)
{
  return atomic_load (&lb->busy);
}

void
oc_lb_stop (oc_loopback *lb)
{
  atomic_store (&lb->stop, true);
  pthread_join (lb->thread, NULL);
  close (lb->fd);
  struct timespec d = { 0, OC_LB_WAIT_NS };
  while (atomic_load (&lb->busy) > 0)
    nanosleep (&d, NULL);
  free (lb);
}
