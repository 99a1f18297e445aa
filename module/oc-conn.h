/* oc-conn.h --- one connection to an OpenCode server  -*- c -*- */
/* Pure C: no emacs-module.h.  A connection owns a worker thread that
   runs a libcurl multi handle: the SSE stream (reconnected with
   exponential backoff and jitter) and every REST request, all feeding
   one oc_queue.  Only oc_conn_request, oc_conn_cancel,
   oc_conn_reconnect_now, oc_conn_drain, oc_conn_stop and
   oc_conn_abandon are called from other threads.  */
#ifndef OC_CONN_H
#define OC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include "oc-queue.h"

typedef struct oc_conn oc_conn;

typedef struct oc_conn_config
{
  const char *base_url;       /* "http://127.0.0.1:4096", no trailing /.  */
  const char *event_path;     /* "/event?directory=…", or NULL: no stream.  */
  const char *user;           /* Basic auth; NULL for none.  */
  const char *password;
  bool insecure;              /* Skip TLS certificate checks.  */
  long connect_timeout_ms;    /* 0: 10 s.  */
  long answer_timeout_ms;     /* Connected but no response headers this
                                 long: give up and retry; 0: 4 s.  */
  long stall_timeout_s;       /* Stream silent this long is dropped; 0: 90 s.  */
  long backoff_min_ms;        /* 0: 1 s.  */
  long backoff_max_ms;        /* 0: 30 s.  */
  long down_retry_max_ms;     /* Longest wait while nothing listens
                                 (connection refused); 0: 2 s.  */
  size_t max_event;           /* 0: 16 MiB.  */
  int notify_fd;              /* Taken over (closed by the connection); -1: none.  */
} oc_conn_config;

/* Call once, from the main thread, before any connection.  */
bool oc_conn_global_init (void);

/* Start a connection.  On failure returns NULL and sets *ERR to a static
   message (oc_err_nomem when memory ran out); the notify fd is then not
   taken over.  */
oc_conn *oc_conn_start (const oc_conn_config *cfg, const char **err);

/* Queue a request.  PATH starts with "/" and is already URL-encoded;
   BODY may be NULL.  Returns the request id (> 0), or -1 with *ERR set
   when the arguments are refused (bad method, control characters) or
   memory ran out (oc_err_nomem).  */
long oc_conn_request (oc_conn *c, const char *method, const char *path,
                      const char *body, size_t body_len, long timeout_ms,
                      const char **err);
/* Drop a pending request: its result will never be queued.  */
void oc_conn_cancel (oc_conn *c, long id);
/* A dropped stream: try again now, with the backoff started afresh
   (the server is known to be back).  */
void oc_conn_reconnect_now (oc_conn *c);

oc_item *oc_conn_drain (oc_conn *c);
oc_queue *oc_conn_queue (oc_conn *c);

/* Stop the worker, join it, close the notify fd and free everything.  */
void oc_conn_stop (oc_conn *c);
/* Ask the worker to stop and free everything itself, without waiting
   (for a finalizer, which must not join).  */
void oc_conn_abandon (oc_conn *c);

#endif /* OC_CONN_H */
