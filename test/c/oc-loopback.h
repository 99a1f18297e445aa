/* oc-loopback.h --- a loopback HTTP server for the C tests and benchmarks  -*- c -*- */
/* One harness shared by test/c/test-conn.c and test/bench/bench-server.c:
   a listening socket on 127.0.0.1 whose connections are each served by
   a detached thread of their own (so a route that holds its client
   delays no other), reading one request (head, and the body when a
   Content-Length says so) and handing it to the caller's handler, which
   writes the reply.  The connection is then shut down and closed.
   Stopping waits for every connection thread to finish.  */
#ifndef OC_LOOPBACK_H
#define OC_LOOPBACK_H

#include <stdbool.h>
#include <stddef.h>

/* Largest request read, head and body.  */
#define OC_LB_REQUEST_MAX 8192

/* Serve one request: REQ (NUL-terminated, LEN bytes) came on FD; write
   the reply to FD (oc_lb_send_all).  Runs on the connection's thread.  */
typedef void (*oc_lb_handler) (int fd, char *req, size_t len, void *ud);

typedef struct oc_loopback oc_loopback;

/* Listen on 127.0.0.1, PORT (0: a free one); NULL on failure.  */
oc_loopback *oc_lb_start (int port, oc_lb_handler handler, void *ud);
int oc_lb_port (const oc_loopback *lb);
/* Connections being served now.  */
int oc_lb_busy (oc_loopback *lb);
/* Stop accepting, wait for the connections being served, free LB.  */
void oc_lb_stop (oc_loopback *lb);

/* Write all N bytes of S to FD; false when the peer went away.  */
bool oc_lb_send_all (int fd, const char *s, size_t n);
/* The body of REQ: what follows the blank line ending its head.  */
const char *oc_lb_body (const char *req);

#endif /* OC_LOOPBACK_H */
