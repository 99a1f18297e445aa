/* test-conn.c --- the connection worker against a loopback server  */
/* The loopback server of oc-loopback.h runs in this test: it
   serves an event stream that it cuts after a few events (so the worker
   must reconnect), and a JSON echo route.  Built under ASan+UBSan, TSan,
   and plain for valgrind.  */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "oc-conn.h"
#include "oc-loopback.h"
#include "oc-test.h"

static oc_loopback *srv;
static atomic_int stream_connects;
static atomic_int flaky_hits;

/* The test server's routes.  */
static void
serve_one (int fd, char *req, size_t len, void *ud)
{
  (void) len;
  (void) ud;
  if (strncmp (req, "GET /event", 10) == 0)
    {
      int n = atomic_fetch_add (&stream_connects, 1);
      const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n\r\n";
      oc_lb_send_all (fd, head, strlen (head));
      char ev[512];
      snprintf (ev, sizeof ev,
                "data: {\"type\":\"server.connected\",\"properties\":{\"n\":%d}}\n\n"
                "data: {\"type\":\"message.part.delta\",\"properties\":{\"sessionID\":\"s\","
                "\"messageID\":\"m\",\"partID\":\"p\",\"field\":\"text\",\"delta\":\"Hel\"}}\n\n"
                "data: {\"type\":\"message.part.delta\",\"properties\":{\"sessionID\":\"s\","
                "\"messageID\":\"m\",\"partID\":\"p\",\"field\":\"text\",\"delta\":\"lo\"}}\n\n"
                "data: {broken\n\n"
                "data: {\"type\":\"cut\"", n);
      oc_lb_send_all (fd, ev, strlen (ev));
      usleep (50000);
      return;                   /* Cut in the middle of an event.  */
    }
  if (strncmp (req, "POST /echo", 10) == 0 || strncmp (req, "GET /echo", 9) == 0)
    {
      const char *body = oc_lb_body (req);
      char resp[9000];
      char out[8200];
      snprintf (out, sizeof out, "{\"auth\":%s,\"body\":%s}",
                strstr (req, "Authorization: Basic b3BlbmNvZGU6c2VjcmV0") ? "true" : "false",
                *body ? body : "null");
      snprintf (resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen (out), out);
      oc_lb_send_all (fd, resp, strlen (resp));
      return;
    }
  if (strncmp (req, "GET /stall", 10) == 0)
    {
      const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
        "data: {\"type\":\"server.connected\",\"properties\":{}}\n\n";
      oc_lb_send_all (fd, head, strlen (head));
      usleep (2500000);         /* Then silence, longer than the timeout.  */
      return;
    }
  if (strncmp (req, "GET /interleave", 15) == 0)
    {
      /* Deltas of parts A and B interleaved, a non-delta event between
         two runs of them, then an end event; the stream is then held.  */
      static const char *const deltas[][2] = {
        { "A", "a1 " }, { "B", "b1\\n" }, { "A", "a2\\u00e9 " }, { "B", "b2 " },
        { "A", "a3" }, { "B", "b3" }, { NULL, "between" },
        { "A", "a4" }, { "B", "b4" }, { NULL, "end" } };
      const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
      oc_lb_send_all (fd, head, strlen (head));
      char ev[512];
      for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++)
        {
          if (deltas[i][0])
            snprintf (ev, sizeof ev,
                      "data: {\"type\":\"message.part.delta\",\"properties\":{"
                      "\"sessionID\":\"s\",\"messageID\":\"m\",\"partID\":\"%s\","
                      "\"field\":\"text\",\"delta\":\"%s\"}}\n\n",
                      deltas[i][0], deltas[i][1]);
          else
            snprintf (ev, sizeof ev,
                      "data: {\"type\":\"%s\",\"properties\":{}}\n\n",
                      deltas[i][1]);
          oc_lb_send_all (fd, ev, strlen (ev));
          usleep (2000);        /* Separate writes: the worker gets them
                                   in several reads.  */
        }
      usleep (1000000);
      return;
    }
  /* Accepted and never answered, as a server that is still starting
     does; the first GET /flaky too, later ones answer.  */
  if (strncmp (req, "GET /mute", 9) == 0)
    {
      usleep (900000);
      return;
    }
  if (strncmp (req, "GET /flaky", 10) == 0
      && atomic_fetch_add (&flaky_hits, 1) == 0)
    {
      usleep (600000);
      return;
    }
  if (strncmp (req, "GET /flaky", 10) == 0)
    {
      const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Content-Length: 4\r\nConnection: close\r\n\r\ntrue";
      oc_lb_send_all (fd, ok, strlen (ok));
      return;
    }
  if (strncmp (req, "GET /slow", 9) == 0)
    {
      usleep (1500000);
      return;
    }
  const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
    "Content-Length: 9\r\nConnection: close\r\n\r\nnot found";
  oc_lb_send_all (fd, nf, strlen (nf));
}

static char base_url[64];

/* Collect items until PRED says stop or SECONDS pass.  */
typedef struct
{
  int connecting, connected, disconnected, events, warnings, responses, failures;
  char text[256];
  char reason[256];
  long last_delay;
  long status;
  char body[512];
  long curl_code;
} tally;

static void
count (tally *t, oc_item *items)
{
  for (oc_item *it = items; it; it = it->next)
    switch (it->kind)
      {
      case OC_ITEM_STATE:
        if (it->state.state == OC_STATE_CONNECTED)
          t->connected++;
        else if (it->state.state == OC_STATE_CONNECTING)
          t->connecting++;
        else if (it->state.state == OC_STATE_DISCONNECTED)
          {
            t->disconnected++;
            t->last_delay = it->state.retry_ms;
            snprintf (t->reason, sizeof t->reason, "%s",
                      it->state.detail.data ? it->state.detail.data : "");
          }
        break;
      case OC_ITEM_EVENT:
        t->events++;
        break;
      case OC_ITEM_DELTA:
        if (strlen (t->text) + it->delta.text.len < sizeof t->text)
          strcat (t->text, it->delta.text.data);
        break;
      case OC_ITEM_WARNING:
        t->warnings++;
        break;
      case OC_ITEM_RESPONSE:
        t->responses++;
        t->status = it->response.status;
        snprintf (t->body, sizeof t->body, "%s",
                  it->response.json
                  ? json_object_to_json_string_ext (it->response.json,
                                                    JSON_C_TO_STRING_PLAIN)
                  : it->response.body.data ? it->response.body.data : "");
        break;
      case OC_ITEM_FAILURE:
        t->failures++;
        t->curl_code = it->failure.curl_code;
        break;
      }
  oc_item_free_list (items);
}

static void
wait_for (oc_conn *c, tally *t, int (*pred) (tally *), double seconds)
{
  struct timespec d = { 0, 10 * 1000000 };
  for (int i = 0; i < seconds * 100 && !pred (t); i++)
    {
      nanosleep (&d, NULL);
      count (t, oc_conn_drain (c));
    }
}

/* Three connections, each one seen to its end: its state comes before
   its events, so counting connections alone can stop before the third
   one's text is drained.  */
static int
three_connects (tally *t)
{
  return t->connected >= 3 && t->disconnected >= 2 && t->events >= 3
    && t->warnings >= 4 && strlen (t->text) >= 15;
}
static int one_response (tally *t) { return t->responses + t->failures >= 1; }

static void
test_stream_reconnects (void)
{
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = base_url;
  cfg.event_path = "/event?directory=%2Ftmp";
  cfg.backoff_min_ms = 20;
  cfg.backoff_max_ms = 80;
  cfg.notify_fd = -1;
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  tally t;
  memset (&t, 0, sizeof t);
  wait_for (c, &t, three_connects, 10);
  CHECK (t.connected >= 3);
  CHECK (t.disconnected >= 2);
  CHECK (t.last_delay >= 20 && t.last_delay <= 80);
  CHECK (t.events >= 3);
  /* Each connection: one malformed event and one cut event.  */
  CHECK (t.warnings >= 4);
  CHECK (strncmp (t.text, "HelloHelloHello", 15) == 0);
  oc_conn_stop (c);
}

static int one_disconnect (tally *t) { return t->disconnected >= 1; }
static int one_connecting (tally *t) { return t->connecting >= 1; }

/* A stream that goes silent is dropped after the stall timeout, not
   after curl's averaged low-speed window.  */
static void
test_stream_stall (void)
{
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = base_url;
  cfg.event_path = "/stall";
  cfg.stall_timeout_s = 1;
  cfg.backoff_min_ms = 5000;
  cfg.backoff_max_ms = 5000;
  cfg.notify_fd = -1;
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  tally t;
  memset (&t, 0, sizeof t);
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  wait_for (c, &t, one_disconnect, 5);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  double took = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK (t.connected == 1 && t.events == 1);
  CHECK (t.disconnected == 1);
  CHECK (strstr (t.reason, "no data for 1 s") != NULL);
  CHECK (took < 2.4);           /* Before the server itself hangs up.  */
  /* The backoff says 5 s; told the server is back, it tries at once.  */
  memset (&t, 0, sizeof t);
  oc_conn_reconnect_now (c);
  wait_for (c, &t, one_connecting, 1);
  CHECK (t.connecting == 1);
  oc_conn_stop (c);
}

/* A stream whose server accepts but never answers is given up after the
   answer timeout, long before the stall timeout; a GET so treated is sent
   again and gets its answer.  */
static void
test_unanswered (void)
{
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = base_url;
  cfg.event_path = "/mute";
  cfg.answer_timeout_ms = 300;
  cfg.stall_timeout_s = 60;
  cfg.backoff_min_ms = 5000;
  cfg.backoff_max_ms = 5000;
  cfg.notify_fd = -1;
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  tally t;
  memset (&t, 0, sizeof t);
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  wait_for (c, &t, one_disconnect, 5);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  double took = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK (t.disconnected == 1 && t.connected == 0);
  CHECK (strstr (t.reason, "no answer in 300 ms") != NULL);
  CHECK (took < 0.85);          /* Before the server itself hangs up.  */
  oc_conn_stop (c);

  /* The first GET is held for 600 ms; the retry, sent at 500 ms, is
     answered at once, well before a second retry.  */
  cfg.event_path = NULL;
  cfg.answer_timeout_ms = 500;
  c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  memset (&t, 0, sizeof t);
  atomic_store (&flaky_hits, 0);
  long id = oc_conn_request (c, "GET", "/flaky", NULL, 0, 5000, &err);
  CHECK (id > 0);
  wait_for (c, &t, one_response, 5);
  CHECK (t.responses == 1 && t.failures == 0);
  CHECK (t.status == 200);
  CHECK_STR (t.body, "true");
  CHECK (atomic_load (&flaky_hits) == 2);
  oc_conn_stop (c);
}

/* A server that was down and is starting accepts before it can answer:
   after a refused attempt, an unanswered one is given up after
   OC_STARTUP_ANSWER_MS (1 s), not the full answer timeout.  */
static void
test_unanswered_after_refused (void)
{
  /* A port nothing listens on, for now.  */
  int probe = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset (&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  CHECK (bind (probe, (struct sockaddr *) &a, sizeof a) == 0);
  socklen_t l = sizeof a;
  getsockname (probe, (struct sockaddr *) &a, &l);
  close (probe);
  char url[64];
  snprintf (url, sizeof url, "http://127.0.0.1:%d", ntohs (a.sin_port));

  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  cfg.event_path = "/event";
  cfg.answer_timeout_ms = 8000;
  cfg.backoff_min_ms = 100;
  cfg.backoff_max_ms = 100;
  cfg.notify_fd = -1;
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  tally t;
  memset (&t, 0, sizeof t);
  wait_for (c, &t, one_disconnect, 5);
  CHECK (t.disconnected >= 1 && strstr (t.reason, "Couldn't connect") != NULL);

  /* Now it listens, but never answers: the kernel accepts into the
     backlog, nothing reads.  */
  int mute = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt (mute, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  CHECK (bind (mute, (struct sockaddr *) &a, sizeof a) == 0);
  CHECK (listen (mute, 8) == 0);
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  bool gave_up = false;
  for (int i = 0; i < 600 && !gave_up; i++)
    {
      memset (&t, 0, sizeof t);
      wait_for (c, &t, one_disconnect, 0.05);
      gave_up = t.disconnected && strstr (t.reason, "no answer in 1000 ms") != NULL;
    }
  clock_gettime (CLOCK_MONOTONIC, &t1);
  double took = (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK (gave_up);
  CHECK (took < 4.0);           /* Far below the 8 s answer timeout.  */
  oc_conn_stop (c);
  close (mute);
}

static void
test_requests (void)
{
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = base_url;
  cfg.user = "opencode";
  cfg.password = "secret";
  cfg.notify_fd = -1;
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);

  tally t;
  memset (&t, 0, sizeof t);
  long id = oc_conn_request (c, "POST", "/echo?x=1", "{\"a\":[1,2]}", 11, 5000, &err);
  CHECK (id > 0);
  wait_for (c, &t, one_response, 5);
  CHECK (t.status == 200);
  CHECK_STR (t.body, "{\"auth\":true,\"body\":{\"a\":[1,2]}}");

  memset (&t, 0, sizeof t);
  oc_conn_request (c, "GET", "/missing", NULL, 0, 5000, &err);
  wait_for (c, &t, one_response, 5);
  CHECK (t.status == 404);
  CHECK_STR (t.body, "not found");

  memset (&t, 0, sizeof t);
  oc_conn_request (c, "GET", "/slow", NULL, 0, 300, &err);
  wait_for (c, &t, one_response, 5);
  CHECK (t.failures == 1 && t.curl_code == 28);   /* Timed out.  */

  /* Refused arguments: header injection and unknown methods.  */
  CHECK (oc_conn_request (c, "GET", "/a\r\nX-Evil: 1", NULL, 0, 0, &err) == -1);
  CHECK (oc_conn_request (c, "GET", "/a b", NULL, 0, 0, &err) == -1);
  CHECK (oc_conn_request (c, "TRACE", "/a", NULL, 0, 0, &err) == -1);

  /* A cancelled request never reports.  */
  memset (&t, 0, sizeof t);
  long slow = oc_conn_request (c, "GET", "/slow", NULL, 0, 5000, &err);
  oc_conn_cancel (c, slow);
  oc_conn_request (c, "GET", "/echo", NULL, 0, 5000, &err);
  wait_for (c, &t, one_response, 5);
  CHECK (t.responses == 1 && t.failures == 0);
  oc_conn_stop (c);
}

static void
test_refused_port (void)
{
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = "http://127.0.0.1:1";
  cfg.event_path = "/event";
  cfg.backoff_min_ms = 10;
  cfg.backoff_max_ms = 40;
  cfg.notify_fd = -1;
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  tally t;
  memset (&t, 0, sizeof t);
  oc_conn_request (c, "GET", "/x", NULL, 0, 2000, &err);
  wait_for (c, &t, one_response, 5);
  CHECK (t.failures == 1 && t.curl_code == 7);
  CHECK (t.disconnected >= 1 && t.connected == 0);
  oc_conn_stop (c);

  /* While nothing listens the wait stays under down_retry_max_ms, however
     far the backoff has doubled.  */
  cfg.backoff_min_ms = 10;
  cfg.backoff_max_ms = 30000;
  cfg.down_retry_max_ms = 60;
  c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  long worst = 0;
  int seen = 0;
  struct timespec d = { 0, 10 * 1000000 };
  for (int i = 0; i < 300 && seen < 8; i++)
    {
      nanosleep (&d, NULL);
      for (oc_item *it = oc_conn_drain (c), *next; it; it = next)
        {
          next = it->next;
          if (it->kind == OC_ITEM_STATE
              && it->state.state == OC_STATE_DISCONNECTED)
            {
              seen++;
              if (it->state.retry_ms > worst)
                worst = it->state.retry_ms;
            }
          oc_item_free (it);
        }
    }
  CHECK (seen >= 8);
  CHECK (worst >= 45 && worst <= 60);
  oc_conn_stop (c);
  CHECK (oc_conn_start (&(oc_conn_config) { .base_url = "ftp://x", .notify_fd = -1 }, &err) == NULL);
}

/* The stream's items, as the module's merge leaves them: deltas of
   parts A and B interleaved come out merged per part, each part's text
   whole and in order, and the event between them stops the merge.  The
   queue is drained once, when everything has arrived, so what merges
   does not depend on timing.  */
static void
test_interleaved_deltas_merge (void)
{
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = base_url;
  cfg.event_path = "/interleave";
  cfg.backoff_min_ms = 5000;
  cfg.backoff_max_ms = 5000;
  cfg.notify_fd = -1;
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  /* connecting, connected, A, B, between, A, B, end.  */
  oc_queue_counters st = { 0, 0, 0 };
  struct timespec d = { 0, 10 * 1000000 };
  for (int i = 0; i < 500 && st.pending < 8; i++)
    {
      nanosleep (&d, NULL);
      oc_queue_stats (oc_conn_queue (c), &st);
    }
  CHECK (st.pending == 8);
  CHECK (st.merged == 4);
  static const struct { oc_item_kind kind; const char *part, *text; } expect[] = {
    { OC_ITEM_DELTA, "A", "a1 a2\xc3\xa9 a3" },
    { OC_ITEM_DELTA, "B", "b1\nb2 b3" },
    { OC_ITEM_EVENT, NULL, "between" },
    { OC_ITEM_DELTA, "A", "a4" },
    { OC_ITEM_DELTA, "B", "b4" },
    { OC_ITEM_EVENT, NULL, "end" },
  };
  size_t n = 0;
  oc_item *items = oc_conn_drain (c);
  for (oc_item *it = items; it; it = it->next)
    {
      if (it->kind == OC_ITEM_STATE)
        continue;
      CHECK (n < sizeof expect / sizeof expect[0]);
      if (n >= sizeof expect / sizeof expect[0])
        break;
      CHECK (it->kind == expect[n].kind);
      if (it->kind == OC_ITEM_DELTA && expect[n].kind == OC_ITEM_DELTA)
        {
          CHECK_STR (it->delta.part, expect[n].part);
          CHECK_STR (it->delta.session, "s");
          CHECK_STR (it->delta.message, "m");
          CHECK_STR (it->delta.field, "text");
          CHECK (it->delta.text.len == strlen (expect[n].text));
          CHECK_STR (it->delta.text.data, expect[n].text);
        }
      else if (it->kind == OC_ITEM_EVENT && expect[n].kind == OC_ITEM_EVENT)
        CHECK_STR (it->event.type, expect[n].text);
      n++;
    }
  CHECK (n == sizeof expect / sizeof expect[0]);
  oc_item_free_list (items);
  oc_conn_stop (c);
}

/* Threads of this process now.  */
static int
thread_count (void)
{
  DIR *dir = opendir ("/proc/self/task");
  if (!dir)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir (dir)))
    if (e->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

/* Wait up to SECONDS for the loopback server to be idle and the process
   to have at most WANT threads; return the count then.  */
static int
settle_threads (int want, double seconds)
{
  struct timespec d = { 0, 10 * 1000000 };
  int n = thread_count ();
  for (int i = 0; i < seconds * 100 && (oc_lb_busy (srv) > 0 || n > want); i++)
    {
      nanosleep (&d, NULL);
      n = thread_count ();
    }
  return n;
}

/* A finalizer abandons a connection in full flight (stream open, a
   request in progress, another just sent, items queued and never
   drained): the worker must stop and free everything itself.  Proved by
   what the test can see without a hook in the connection: the notify
   pipe reaches end-of-file, which happens only when oc_conn_free closes
   its write end (the connection owns the only one); the worker thread
   is gone from /proc/self/task; and nothing leaks, which the leak checks
   of ASan (LeakSanitizer, at exit) and valgrind (--leak-check=full,
   definite and indirect leaks are errors) of `make test-c' verify.  */
static void
test_abandon (void)
{
  int base = settle_threads (0, 5);
  CHECK (base > 0 && oc_lb_busy (srv) == 0);
  int fds[2];
  CHECK (pipe (fds) == 0);
  fcntl (fds[0], F_SETFL, O_NONBLOCK);
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  cfg.base_url = base_url;
  cfg.event_path = "/event";
  cfg.notify_fd = fds[1];
  const char *err = NULL;
  oc_conn *c = oc_conn_start (&cfg, &err);
  CHECK (c != NULL);
  /* One thread more than the loopback server's: the worker.  The server
     starts a thread per connection as the worker connects, and a thread
     that has just left the busy count may not have exited yet, so wait
     for the two counts to agree.  */
  int extra = thread_count () - oc_lb_busy (srv) - base;
  for (int i = 0; i < 100 && extra != 1; i++)
    {
      struct timespec w = { 0, 10 * 1000000 };
      nanosleep (&w, NULL);
      extra = thread_count () - oc_lb_busy (srv) - base;
    }
  CHECK (extra == 1);
  CHECK (oc_conn_request (c, "GET", "/slow", NULL, 0, 5000, &err) > 0);
  /* Wait for the stream's events to be queued (and left there).  */
  oc_queue_counters st = { 0, 0, 0 };
  struct timespec d = { 0, 10 * 1000000 };
  for (int i = 0; i < 500 && st.pending < 4; i++)
    {
      nanosleep (&d, NULL);
      oc_queue_stats (oc_conn_queue (c), &st);
    }
  CHECK (st.pending >= 4);
  CHECK (oc_conn_request (c, "POST", "/echo", "{}", 2, 5000, &err) > 0);
  oc_conn_abandon (c);          /* The worker frees itself.  */
  c = NULL;

  /* End of file on the pipe: the connection closed its end.  */
  bool eof = false;
  for (int i = 0; i < 500 && !eof; i++)
    {
      char buf[64];
      ssize_t r = read (fds[0], buf, sizeof buf);
      if (r == 0)
        eof = true;
      else if (r < 0)
        {
          struct pollfd p = { .fd = fds[0], .events = POLLIN };
          poll (&p, 1, 10);
        }
    }
  CHECK (eof);
  close (fds[0]);
  /* The worker thread has ended.  */
  CHECK (settle_threads (base, 5) == base);
}

int
main (void)
{
  oc_conn_global_init ();
  srv = oc_lb_start (0, serve_one, NULL);
  if (!srv)
    {
      fprintf (stderr, "cannot start the loopback server\n");
      return 1;
    }
  snprintf (base_url, sizeof base_url, "http://127.0.0.1:%d", oc_lb_port (srv));
  RUN (test_stream_reconnects);
  RUN (test_stream_stall);
  RUN (test_unanswered);
  RUN (test_unanswered_after_refused);
  RUN (test_requests);
  RUN (test_refused_port);
  RUN (test_interleaved_deltas_merge);
  RUN (test_abandon);
  oc_lb_stop (srv);
  curl_global_cleanup ();
  DONE ();
}
