/* oc-conn.c --- one connection to an OpenCode server  */
/* Pure C: no emacs-module.h.  See oc-conn.h.  */

#include "oc-conn.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oc-event.h"
#include "oc-sse.h"

/* Defaults for the zero fields of oc_conn_config.  */
#define OC_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define OC_DEFAULT_ANSWER_TIMEOUT_MS 4000
#define OC_DEFAULT_STALL_TIMEOUT_S 90
#define OC_DEFAULT_BACKOFF_MIN_MS 1000
#define OC_DEFAULT_BACKOFF_MAX_MS 30000
#define OC_DEFAULT_DOWN_RETRY_MAX_MS 2000
/* After a refused attempt the server is starting, and one that is up
   answers in a tenth of a second: an attempt that lands in the moment
   it accepts but cannot answer yet is given up after this long.  */
#define OC_STARTUP_ANSWER_MS 1000
#define OC_DEFAULT_MAX_EVENT ((size_t) 16 << 20)
#define OC_DEFAULT_REQUEST_TIMEOUT_MS 30000
/* A GET whose server accepted the connection but never answered is sent
   again this many times (see oc_conn_check_answers).  */
#define OC_GET_RETRIES 2
/* Bytes of an error body kept for the message, and shown of it.  */
#define OC_ERRBODY_KEEP 512
#define OC_ERRBODY_SHOW 200
/* Header lines of a reply kept for Lisp.  */
#define OC_HEADERS_KEEP 16384
/* The worker wakes at least this often (the stall check).  */
#define OC_WORKER_TICK_MS 1000
/* Room for a disconnection's reason: HTTP status, hint and the shown
   part of the error body, or curl's message and error buffer.  */
#define OC_REASON_MAX (CURL_ERROR_SIZE + OC_ERRBODY_KEEP)
/* Room for curl's message about a failed request, before its error
   buffer.  */
#define OC_CURL_MSG_EXTRA 128
/* First size of the list of cancelled ids; it doubles.  */
#define OC_CANCELS_MIN 8
#define OC_HTTP_OK 200
#define OC_HTTP_UNAUTHORIZED 401
#define OC_MS_PER_S 1000
#define OC_NS_PER_MS 1000000
/* curl 7.85.0 has CURLOPT_PROTOCOLS_STR.  */
#define OC_CURL_HAS_PROTOCOLS_STR 0x075500

typedef struct oc_req
{
  struct oc_req *next;
  long id;
  char *method;
  char *url;
  char *body;
  size_t body_len;
  long timeout_ms;
  long long started_ms;       /* When the transfer was (re)started.  */
  bool answered;              /* A response header line has arrived.  */
  int retries;                /* Times sent again unanswered (GET only).  */
  CURL *easy;
  struct curl_slist *headers;
  oc_buf resp;
  oc_buf resp_headers;
  char errbuf[CURL_ERROR_SIZE];
} oc_req;

struct oc_conn
{
  oc_queue queue;
  pthread_t thread;
  CURLM *multi;

  /* Shared with other threads, under `lock'.  */
  pthread_mutex_t lock;
  oc_req *inbox;
  long *cancels;
  size_t ncancels, capcancels;
  long next_id;
  bool abandoned;
  atomic_bool stop;
  atomic_bool reconnect_now;  /* Set by oc_conn_reconnect_now.  */

  /* Configuration (immutable after start).  */
  char *base_url;
  char *event_url;
  char *user, *password;
  bool insecure;
  long connect_timeout_ms, answer_timeout_ms, stall_timeout_s;
  long backoff_min_ms, backoff_max_ms, down_retry_max_ms;

  /* Worker-only state.  */
  oc_req *active;
  CURL *sse;
  struct curl_slist *sse_headers;
  oc_sse parser;
  bool sse_open;              /* The stream answered 200 and sent bytes.  */
  bool sse_answered;          /* A response header line has arrived.  */
  long long sse_started_ms;   /* When this attempt was started.  */
  bool last_refused;          /* The attempt before was refused: the
                                 server is down or just starting.  */
  long sse_status;
  oc_buf sse_errbody;
  char sse_errbuf[CURL_ERROR_SIZE];
  int attempt;
  long retry_hint_ms;
  long long next_connect_ms;
  long long sse_last_ms;      /* When the stream last gave a byte.  */
  unsigned rng;
};

static long long
oc_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (long long) ts.tv_sec * OC_MS_PER_S + ts.tv_nsec / OC_NS_PER_MS;
}

bool
oc_conn_global_init (void)
{
  return curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static char *
oc_strdup0 (const char *s)
{
  return s ? strdup (s) : NULL;
}

/* True when S holds no byte that could split an HTTP request line or
   header: control characters, spaces, DEL, or non-ASCII.  */
static bool
oc_clean_path (const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s <= ' ' || (unsigned char) *s > '~')
      return false;
  return true;
}

/* S starts with PREFIX, a string literal.  */
#define OC_STARTS_WITH(s, prefix) (strncmp ((s), (prefix), sizeof (prefix) - 1) == 0)

static char *
oc_join (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  char *p = malloc (la + lb + 1);
  if (p)
    {
      memcpy (p, a, la);
      memcpy (p + la, b, lb + 1);
    }
  return p;
}

/* Options shared by the stream and the requests.  */
static void
oc_conn_setup_easy (oc_conn *c, CURL *e, const char *url, char *errbuf)
{
  curl_easy_setopt (e, CURLOPT_URL, url);
  curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  curl_easy_setopt (e, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
#if LIBCURL_VERSION_NUM >= OC_CURL_HAS_PROTOCOLS_STR
  curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt (e, CURLOPT_FOLLOWLOCATION, 0L);
  if (c->user)
    {
      curl_easy_setopt (e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
      curl_easy_setopt (e, CURLOPT_USERNAME, c->user);
      curl_easy_setopt (e, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
  if (c->insecure)
    {
      curl_easy_setopt (e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  curl_easy_setopt (e, CURLOPT_PRIVATE, c);
}

/* ---- The event stream ------------------------------------------------ */

static void
oc_sse_on_event (void *ud, const char *type, const char *data, size_t len,
                 const char *id)
{
  (void) type;
  (void) id;
  oc_conn *c = ud;
  oc_event_route (&c->queue, data, len);
}

static void
oc_sse_on_oversize (void *ud, size_t bytes)
{
  oc_conn *c = ud;
  oc_queue_warn (&c->queue, "event of %zu bytes skipped: over the size limit",
                 bytes);
}

static void
oc_sse_on_retry (void *ud, long ms)
{
  oc_conn *c = ud;
  c->retry_hint_ms = ms;
}

static size_t
oc_sse_write (char *ptr, size_t size, size_t nmemb, void *ud)
{
  oc_conn *c = ud;
  size_t n = size * nmemb;
  if (atomic_load (&c->stop))
    return 0;
  c->sse_last_ms = oc_now_ms ();
  if (!c->sse_open)
    {
      long code = 0;
      curl_easy_getinfo (c->sse, CURLINFO_RESPONSE_CODE, &code);
      c->sse_status = code;
      if (code != OC_HTTP_OK)
        {
          /* Keep the start of the error body for the message.  */
          if (c->sse_errbody.len < OC_ERRBODY_KEEP)
            oc_buf_append (&c->sse_errbody, ptr,
                           n < OC_ERRBODY_KEEP - c->sse_errbody.len
                           ? n : OC_ERRBODY_KEEP - c->sse_errbody.len);
          return n;
        }
      c->sse_open = true;
      c->last_refused = false;
      c->attempt = 0;
      oc_queue_state (&c->queue, OC_STATE_CONNECTED, 0, 0, NULL);
    }
  oc_sse_feed (&c->parser, ptr, n);
  return n;
}

/* The first header line proves that the server answers this attempt
   (see oc_conn_check_answers).  */
static size_t
oc_sse_header (char *ptr, size_t size, size_t nmemb, void *ud)
{
  (void) ptr;
  oc_conn *c = ud;
  c->sse_answered = true;
  return size * nmemb;
}

static void
oc_conn_open_stream (oc_conn *c)
{
  CURL *e = curl_easy_init ();
  if (!e)
    {
      c->next_connect_ms = oc_now_ms () + c->backoff_max_ms;
      oc_queue_state (&c->queue, OC_STATE_DISCONNECTED, 0, c->backoff_max_ms,
                      "%s", oc_err_nomem);
      return;
    }
  c->sse_errbuf[0] = '\0';
  oc_conn_setup_easy (c, e, c->event_url, c->sse_errbuf);
  curl_easy_setopt (e, CURLOPT_HTTPHEADER, c->sse_headers);
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, oc_sse_write);
  curl_easy_setopt (e, CURLOPT_WRITEDATA, c);
  curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, oc_sse_header);
  curl_easy_setopt (e, CURLOPT_HEADERDATA, c);
  /* A stream silent for stall_timeout_s is dropped by the worker loop
     (curl's low-speed check averages over seconds and fires late).  */
  curl_easy_setopt (e, CURLOPT_TCP_KEEPALIVE, 1L);
  c->sse_last_ms = c->sse_started_ms = oc_now_ms ();
  c->sse = e;
  c->sse_open = false;
  c->sse_answered = false;
  c->sse_status = 0;
  oc_buf_clear (&c->sse_errbody);
  oc_sse_reset (&c->parser);
  oc_queue_state (&c->queue, OC_STATE_CONNECTING, c->attempt, 0, NULL);
  curl_multi_add_handle (c->multi, e);
}

/* The wait before the next attempt: the backoff doubles from
   backoff_min_ms with each failed attempt up to backoff_max_ms, with
   jitter of a quarter either way; a `retry:' field of the stream raises
   it.  When nothing listens (REFUSED), the server is down or restarting
   and a refused connect costs nothing, so the wait stays under
   down_retry_max_ms: a server that comes back is found within that.  */
static long
oc_conn_backoff (oc_conn *c, bool refused)
{
  long base = c->backoff_min_ms;
  for (int i = 0; i < c->attempt && base < c->backoff_max_ms; i++)
    base *= 2;
  if (base > c->backoff_max_ms)
    base = c->backoff_max_ms;
  /* Jitter: between 3/4 and 5/4 of the base, then clamped.  */
  long spread = base / 2 + 1;
  long delay = base - base / 4 + (long) (rand_r (&c->rng) % (unsigned) spread);
  if (delay < c->backoff_min_ms)
    delay = c->backoff_min_ms;
  if (delay > c->backoff_max_ms)
    delay = c->backoff_max_ms;
  if (c->retry_hint_ms > delay)
    delay = c->retry_hint_ms < c->backoff_max_ms
      ? c->retry_hint_ms : c->backoff_max_ms;
  if (refused && delay > c->down_retry_max_ms)
    {
      long cap = c->down_retry_max_ms;
      delay = cap - cap / 4 + (long) (rand_r (&c->rng) % (unsigned) (cap / 4 + 1));
    }
  return delay;
}

static void
oc_conn_stream_done (oc_conn *c, CURLcode rc)
{
  char reason[OC_REASON_MAX];
  /* A reply with no body (a bare 401, say) never reached oc_sse_write:
     ask curl for its status.  */
  if (!c->sse_status && !c->sse_open)
    curl_easy_getinfo (c->sse, CURLINFO_RESPONSE_CODE, &c->sse_status);
  if (c->sse_status && c->sse_status != OC_HTTP_OK)
    {
      const char *hint = c->sse_status == OC_HTTP_UNAUTHORIZED
        ? " (wrong or missing password)" : "";
      size_t k = 0;
      const char *b = c->sse_errbody.data ? c->sse_errbody.data : "";
      while (k < c->sse_errbody.len && k < OC_ERRBODY_SHOW
             && b[k] >= ' ' && b[k] <= '~')
        k++;
      snprintf (reason, sizeof reason, "HTTP %ld%s%s%.*s", c->sse_status,
                hint, k ? ": " : "", (int) k, b);
    }
  else if (rc != CURLE_OK)
    snprintf (reason, sizeof reason, "%s%s%s", curl_easy_strerror (rc),
              c->sse_errbuf[0] ? ": " : "", c->sse_errbuf);
  else
    snprintf (reason, sizeof reason, "the server closed the stream");

  if (c->parser.has_data || c->parser.line.len)
    oc_queue_warn (&c->queue, "stream cut in the middle of an event");
  curl_multi_remove_handle (c->multi, c->sse);
  curl_easy_cleanup (c->sse);
  c->sse = NULL;
  c->sse_open = false;

  c->last_refused = rc == CURLE_COULDNT_CONNECT && !c->sse_status;
  long delay = oc_conn_backoff (c, c->last_refused);
  c->attempt++;
  c->next_connect_ms = oc_now_ms () + delay;
  oc_queue_state (&c->queue, OC_STATE_DISCONNECTED, 0, delay, "%s", reason);
}

/* ---- Requests -------------------------------------------------------- */

static void
oc_req_free (oc_req *r)
{
  if (!r)
    return;
  if (r->easy)
    curl_easy_cleanup (r->easy);
  curl_slist_free_all (r->headers);
  free (r->method);
  free (r->url);
  free (r->body);
  oc_buf_free (&r->resp);
  oc_buf_free (&r->resp_headers);
  free (r);
}

static size_t
oc_req_write (char *ptr, size_t size, size_t nmemb, void *ud)
{
  oc_req *r = ud;
  size_t n = size * nmemb;
  return oc_buf_append (&r->resp, ptr, n) ? n : 0;
}

/* Keep the response's header lines (up to 16 KiB; a redirect or a
   100-continue restarts them, so only the final response's remain).  */
static size_t
oc_req_header (char *ptr, size_t size, size_t nmemb, void *ud)
{
  oc_req *r = ud;
  size_t n = size * nmemb;
  r->answered = true;
  if (n >= 5 && memcmp (ptr, "HTTP/", 5) == 0)
    oc_buf_clear (&r->resp_headers);
  if (r->resp_headers.len + n <= OC_HEADERS_KEEP)
    oc_buf_append (&r->resp_headers, ptr, n);
  return n;
}

static void
oc_conn_start_request (oc_conn *c, oc_req *r)
{
  CURL *e = curl_easy_init ();
  struct curl_slist *h = curl_slist_append (NULL, "Accept: application/json");
  struct curl_slist *h2 = h ? curl_slist_append (h, "Content-Type: application/json") : NULL;
  if (!e || !h2)
    {
      if (e)
        curl_easy_cleanup (e);
      curl_slist_free_all (h);
      oc_item *it = oc_item_new (OC_ITEM_FAILURE);
      if (it)
        {
          it->failure.id = r->id;
          it->failure.curl_code = CURLE_OUT_OF_MEMORY;
          oc_buf_append (&it->failure.message, oc_err_nomem,
                         strlen (oc_err_nomem));
          oc_queue_push (&c->queue, it);
        }
      oc_req_free (r);
      return;
    }
  r->easy = e;
  r->headers = h2;
  oc_conn_setup_easy (c, e, r->url, r->errbuf);
  curl_easy_setopt (e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt (e, CURLOPT_CUSTOMREQUEST, r->method);
  if (r->body)
    {
      curl_easy_setopt (e, CURLOPT_POSTFIELDS, r->body);
      curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) r->body_len);
    }
  else if (strcmp (r->method, "GET") == 0)
    curl_easy_setopt (e, CURLOPT_HTTPGET, 1L);
  else if (strcmp (r->method, "POST") == 0 || strcmp (r->method, "PATCH") == 0
           || strcmp (r->method, "PUT") == 0)
    {
      curl_easy_setopt (e, CURLOPT_POSTFIELDS, "");
      curl_easy_setopt (e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
    }
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, oc_req_write);
  curl_easy_setopt (e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt (e, CURLOPT_HEADERFUNCTION, oc_req_header);
  curl_easy_setopt (e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
  r->next = c->active;
  c->active = r;
  r->started_ms = oc_now_ms ();
  r->answered = false;
  curl_multi_add_handle (c->multi, e);
}

static void
oc_conn_unlink_request (oc_conn *c, oc_req *r)
{
  for (oc_req **pp = &c->active; *pp; pp = &(*pp)->next)
    if (*pp == r)
      {
        *pp = r->next;
        break;
      }
  curl_multi_remove_handle (c->multi, r->easy);
}

static void
oc_conn_request_done (oc_conn *c, oc_req *r, CURLcode rc)
{
  oc_conn_unlink_request (c, r);
  oc_item *it;
  if (rc != CURLE_OK)
    {
      it = oc_item_new (OC_ITEM_FAILURE);
      if (it)
        {
          it->failure.id = r->id;
          it->failure.curl_code = rc;
          char msg[CURL_ERROR_SIZE + OC_CURL_MSG_EXTRA];
          int n = snprintf (msg, sizeof msg, "%s%s%s", curl_easy_strerror (rc),
                            r->errbuf[0] ? ": " : "", r->errbuf);
          if (n > 0)
            oc_buf_append (&it->failure.message, msg,
                           (size_t) n < sizeof msg ? (size_t) n : sizeof msg - 1);
        }
    }
  else
    {
      it = oc_item_new (OC_ITEM_RESPONSE);
      if (it)
        {
          long code = 0;
          curl_easy_getinfo (r->easy, CURLINFO_RESPONSE_CODE, &code);
          it->response.id = r->id;
          it->response.status = code;
          if (r->resp.len)
            it->response.json = oc_json_parse (r->resp.data, r->resp.len,
                                               NULL);
          it->response.body = r->resp;
          oc_buf_init (&r->resp);
          it->response.headers = r->resp_headers;
          oc_buf_init (&r->resp_headers);
        }
    }
  oc_req_free (r);
  if (it)
    oc_queue_push (&c->queue, it);
}

/* ---- The worker ------------------------------------------------------ */

static void
oc_conn_absorb_inbox (oc_conn *c)
{
  pthread_mutex_lock (&c->lock);
  oc_req *in = c->inbox;
  c->inbox = NULL;
  size_t ncancels = c->ncancels;
  long *cancels = NULL;
  if (ncancels)
    {
      cancels = c->cancels;
      c->cancels = NULL;
      c->ncancels = c->capcancels = 0;
    }
  pthread_mutex_unlock (&c->lock);

  /* The inbox is newest first: start the oldest first.  */
  oc_req *rev = NULL;
  while (in)
    {
      oc_req *next = in->next;
      in->next = rev;
      rev = in;
      in = next;
    }
  while (rev)
    {
      oc_req *next = rev->next;
      oc_conn_start_request (c, rev);
      rev = next;
    }
  for (size_t i = 0; i < ncancels; i++)
    for (oc_req *r = c->active; r; r = r->next)
      if (r->id == cancels[i])
        {
          oc_conn_unlink_request (c, r);
          oc_req_free (r);
          break;
        }
  free (cancels);
}

/* A server accepts connections a few milliseconds before it is ready,
   and a request accepted in that window is never answered (NOTES.md):
   such a stream or request would sit until its stall or request timeout.
   So an attempt whose server has sent no header line within
   answer_timeout_ms is given up: the stream is dropped and retried with
   the backoff, and a GET (safe to repeat) is sent again, at most
   OC_GET_RETRIES times.  Other methods wait for their own timeout, since
   the server may have acted on them.  */
/* How long the stream's current attempt may wait for its first header.  */
static long
oc_conn_stream_answer_ms (oc_conn *c)
{
  return c->last_refused && c->answer_timeout_ms > OC_STARTUP_ANSWER_MS
    ? OC_STARTUP_ANSWER_MS : c->answer_timeout_ms;
}

static void
oc_conn_check_answers (oc_conn *c)
{
  long long now = oc_now_ms ();
  if (c->sse && !c->sse_answered
      && now - c->sse_started_ms > oc_conn_stream_answer_ms (c))
    {
      snprintf (c->sse_errbuf, sizeof c->sse_errbuf,
                "no answer in %ld ms", oc_conn_stream_answer_ms (c));
      /* The server is up (it accepted): come back soon, not after a
         backoff grown while it was down.  */
      c->attempt = 0;
      oc_conn_stream_done (c, CURLE_OPERATION_TIMEDOUT);
    }
  for (oc_req *r = c->active; r; r = r->next)
    if (!r->answered && r->retries < OC_GET_RETRIES
        && r->timeout_ms > c->answer_timeout_ms
        && now - r->started_ms > c->answer_timeout_ms
        && strcmp (r->method, "GET") == 0)
      {
        curl_multi_remove_handle (c->multi, r->easy);
        oc_buf_clear (&r->resp);
        oc_buf_clear (&r->resp_headers);
        r->errbuf[0] = '\0';
        r->retries++;
        r->started_ms = now;
        /* Not on the connection that went unanswered.  */
        curl_easy_setopt (r->easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_multi_add_handle (c->multi, r->easy);
      }
}

/* Milliseconds until oc_conn_check_answers has something to give up,
   or -1 when nothing waits for an answer.  */
static long
oc_conn_answer_wait (oc_conn *c)
{
  long long first = -1;
  if (c->sse && !c->sse_answered)
    first = c->sse_started_ms - c->answer_timeout_ms + oc_conn_stream_answer_ms (c);
  for (oc_req *r = c->active; r; r = r->next)
    if (!r->answered && r->retries < OC_GET_RETRIES
        && r->timeout_ms > c->answer_timeout_ms
        && strcmp (r->method, "GET") == 0
        && (first < 0 || r->started_ms < first))
      first = r->started_ms;
  if (first < 0)
    return -1;
  long long wait = first + c->answer_timeout_ms + 1 - oc_now_ms ();
  return wait < 0 ? 0 : (long) wait;
}

static void oc_conn_free (oc_conn *c);

static void *
oc_conn_worker (void *arg)
{
  oc_conn *c = arg;
  while (!atomic_load (&c->stop))
    {
      oc_conn_absorb_inbox (c);
      if (atomic_exchange (&c->reconnect_now, false) && !c->sse)
        {
          c->attempt = 0;
          c->next_connect_ms = 0;
        }
      long long now = oc_now_ms ();
      if (c->event_url && !c->sse && now >= c->next_connect_ms)
        oc_conn_open_stream (c);

      int running = 0;
      curl_multi_perform (c->multi, &running);
      CURLMsg *msg;
      int left;
      while ((msg = curl_multi_info_read (c->multi, &left)))
        {
          if (msg->msg != CURLMSG_DONE)
            continue;
          CURL *e = msg->easy_handle;
          CURLcode rc = msg->data.result;
          if (e == c->sse)
            oc_conn_stream_done (c, rc);
          else
            {
              oc_req *r = NULL;
              for (oc_req *x = c->active; x; x = x->next)
                if (x->easy == e)
                  {
                    r = x;
                    break;
                  }
              if (r)
                oc_conn_request_done (c, r, rc);
            }
        }

      /* Silent too long (the server heartbeats every 10 s): dead.  */
      if (c->sse && oc_now_ms () - c->sse_last_ms
          > c->stall_timeout_s * OC_MS_PER_S)
        {
          snprintf (c->sse_errbuf, sizeof c->sse_errbuf,
                    "no data for %ld s", c->stall_timeout_s);
          oc_conn_stream_done (c, CURLE_OPERATION_TIMEDOUT);
        }
      oc_conn_check_answers (c);

      long timeout = -1;
      curl_multi_timeout (c->multi, &timeout);
      if (timeout < 0 || timeout > OC_WORKER_TICK_MS)
        timeout = OC_WORKER_TICK_MS;
      long answer_wait = oc_conn_answer_wait (c);
      if (answer_wait >= 0 && answer_wait < timeout)
        timeout = answer_wait;
      if (c->event_url && !c->sse)
        {
          long long wait = c->next_connect_ms - oc_now_ms ();
          if (wait < timeout)
            timeout = wait < 0 ? 0 : (long) wait;
        }
      if (timeout > 0)
        curl_multi_poll (c->multi, NULL, 0, (int) timeout, NULL);
    }

  /* Stopping: drop the stream and every request.  */
  if (c->sse)
    {
      curl_multi_remove_handle (c->multi, c->sse);
      curl_easy_cleanup (c->sse);
      c->sse = NULL;
    }
  while (c->active)
    {
      oc_req *r = c->active;
      oc_conn_unlink_request (c, r);
      oc_req_free (r);
    }
  pthread_mutex_lock (&c->lock);
  bool abandoned = c->abandoned;
  pthread_mutex_unlock (&c->lock);
  if (abandoned)
    oc_conn_free (c);
  return NULL;
}

/* ---- Life cycle ------------------------------------------------------ */

static void
oc_conn_free (oc_conn *c)
{
  oc_req *in = c->inbox;
  while (in)
    {
      oc_req *next = in->next;
      oc_req_free (in);
      in = next;
    }
  free (c->cancels);
  if (c->multi)
    curl_multi_cleanup (c->multi);
  curl_slist_free_all (c->sse_headers);
  oc_sse_free (&c->parser);
  oc_buf_free (&c->sse_errbody);
  if (c->queue.notify_fd >= 0)
    close (c->queue.notify_fd);
  oc_queue_destroy (&c->queue);
  pthread_mutex_destroy (&c->lock);
  free (c->base_url);
  free (c->event_url);
  free (c->user);
  if (c->password)
    {
      /* Leave no password in freed memory.  */
      volatile char *p = c->password;
      while (*p)
        *p++ = '\0';
      free (c->password);
    }
  free (c);
}

oc_conn *
oc_conn_start (const oc_conn_config *cfg, const char **err)
{
  if (!cfg->base_url || !oc_clean_path (cfg->base_url)
      || (!OC_STARTS_WITH (cfg->base_url, "http://")
          && !OC_STARTS_WITH (cfg->base_url, "https://")))
    {
      *err = "the server URL must start with http:// or https://";
      return NULL;
    }
  if (cfg->event_path && (cfg->event_path[0] != '/'
                          || !oc_clean_path (cfg->event_path)))
    {
      *err = "the event path must start with / and be URL-encoded";
      return NULL;
    }
  oc_conn *c = calloc (1, sizeof *c);
  if (!c)
    {
      *err = oc_err_nomem;
      return NULL;
    }
  oc_queue_init (&c->queue, -1);
  pthread_mutex_init (&c->lock, NULL);
  atomic_init (&c->stop, false);
  atomic_init (&c->reconnect_now, false);
  c->next_id = 1;
  c->base_url = strdup (cfg->base_url);
  c->event_url = cfg->event_path ? oc_join (cfg->base_url, cfg->event_path) : NULL;
  c->user = oc_strdup0 (cfg->user);
  c->password = oc_strdup0 (cfg->password);
  c->insecure = cfg->insecure;
#define OC_OR(v, dflt) ((v) > 0 ? (v) : (dflt))
  c->connect_timeout_ms = OC_OR (cfg->connect_timeout_ms, OC_DEFAULT_CONNECT_TIMEOUT_MS);
  c->answer_timeout_ms = OC_OR (cfg->answer_timeout_ms, OC_DEFAULT_ANSWER_TIMEOUT_MS);
  c->stall_timeout_s = OC_OR (cfg->stall_timeout_s, OC_DEFAULT_STALL_TIMEOUT_S);
  c->backoff_min_ms = OC_OR (cfg->backoff_min_ms, OC_DEFAULT_BACKOFF_MIN_MS);
  c->backoff_max_ms = OC_OR (cfg->backoff_max_ms, OC_DEFAULT_BACKOFF_MAX_MS);
  c->down_retry_max_ms = OC_OR (cfg->down_retry_max_ms, OC_DEFAULT_DOWN_RETRY_MAX_MS);
  if (c->backoff_max_ms < c->backoff_min_ms)
    c->backoff_max_ms = c->backoff_min_ms;
  if (c->down_retry_max_ms < c->backoff_min_ms)
    c->down_retry_max_ms = c->backoff_min_ms;
  c->rng = (unsigned) oc_now_ms () ^ (unsigned) (uintptr_t) c;
  oc_buf_init (&c->sse_errbody);
  static const oc_sse_handler handler = {
    oc_sse_on_event, oc_sse_on_oversize, oc_sse_on_retry
  };
  oc_sse_init (&c->parser, &handler, c,
               OC_OR (cfg->max_event, OC_DEFAULT_MAX_EVENT));
#undef OC_OR
  c->sse_headers = curl_slist_append (NULL, "Accept: text/event-stream");
  c->multi = curl_multi_init ();
  if (!c->base_url || (cfg->event_path && !c->event_url)
      || (cfg->user && !c->user) || (cfg->password && !c->password)
      || !c->sse_headers || !c->multi)
    {
      oc_conn_free (c);
      *err = oc_err_nomem;
      return NULL;
    }

  /* The notify fd, and why its flags are changed.  In Emacs the fd from
     open_channel is dup (p->open_fd[SUBPROCESS_STDOUT]): the write end
     of the pipe the pipe process reads (process.c,
     open_channel_for_module).  Emacs itself never writes to its copy of
     that end; it only reads the other end.
     - O_NONBLOCK is a flag of the open file description, so it is set on
       Emacs's copy as well; harmless, since Emacs does no I/O through
       it.  It is needed: the worker must never block on a full pipe.  One
       byte is written per false->true flip of the queue's `signaled' flag,
       but a drain clears the flag whether or not Emacs has read the bytes
       (`opencode-request-sync' drains in a loop), so unread bytes can pile
       up; a blocking write on a full pipe would hang the worker, and then
       oc_conn_stop's join, and Emacs with it.  On EAGAIN a wake-up is
       already pending (oc_queue_notify).
     - FD_CLOEXEC is a flag of this descriptor only (dup does not copy it,
       while Emacs makes its own with O_CLOEXEC): without it a process
       Emacs starts would inherit the write end and hold the pipe open.
     This is the only place that touches the fd's flags.  */
  if (cfg->notify_fd >= 0)
    {
      int fl = fcntl (cfg->notify_fd, F_GETFL);
      if (fl >= 0)
        fcntl (cfg->notify_fd, F_SETFL, fl | O_NONBLOCK);
      fcntl (cfg->notify_fd, F_SETFD, FD_CLOEXEC);
    }
  c->queue.notify_fd = cfg->notify_fd;

  /* The worker gets every signal blocked: Emacs's handlers run on the
     main thread, and a write to a closed pipe gives EPIPE, not death.  */
  sigset_t all, old;
  sigfillset (&all);
  pthread_sigmask (SIG_BLOCK, &all, &old);
  int rc = pthread_create (&c->thread, NULL, oc_conn_worker, c);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (rc != 0)
    {
      c->queue.notify_fd = -1;  /* Not ours after all.  */
      oc_conn_free (c);
      *err = "could not start the worker thread";
      return NULL;
    }
  return c;
}

long
oc_conn_request (oc_conn *c, const char *method, const char *path,
                 const char *body, size_t body_len, long timeout_ms,
                 const char **err)
{
  static const char *const methods[] = { "GET", "POST", "PATCH", "PUT", "DELETE" };
  bool known = false;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (strcmp (method, methods[i]) == 0)
      known = true;
  if (!known)
    {
      *err = "unknown HTTP method";
      return -1;
    }
  if (path[0] != '/' || !oc_clean_path (path))
    {
      *err = "the path must start with / and be URL-encoded";
      return -1;
    }
  oc_req *r = calloc (1, sizeof *r);
  if (!r)
    {
      *err = oc_err_nomem;
      return -1;
    }
  oc_buf_init (&r->resp);
  oc_buf_init (&r->resp_headers);
  r->method = strdup (method);
  r->url = oc_join (c->base_url, path);
  r->timeout_ms = timeout_ms > 0 ? timeout_ms : OC_DEFAULT_REQUEST_TIMEOUT_MS;
  if (body)
    {
      r->body = malloc (body_len + 1);
      if (r->body)
        {
          memcpy (r->body, body, body_len);
          r->body[body_len] = '\0';
          r->body_len = body_len;
        }
    }
  if (!r->method || !r->url || (body && !r->body))
    {
      oc_req_free (r);
      *err = oc_err_nomem;
      return -1;
    }
  pthread_mutex_lock (&c->lock);
  r->id = c->next_id++;
  r->next = c->inbox;
  c->inbox = r;
  long id = r->id;
  pthread_mutex_unlock (&c->lock);
  curl_multi_wakeup (c->multi);
  return id;
}

void
oc_conn_cancel (oc_conn *c, long id)
{
  pthread_mutex_lock (&c->lock);
  if (c->ncancels == c->capcancels)
    {
      size_t cap = c->capcancels ? c->capcancels * 2 : OC_CANCELS_MIN;
      long *p = realloc (c->cancels, cap * sizeof *p);
      if (!p)
        {
          pthread_mutex_unlock (&c->lock);
          return;
        }
      c->cancels = p;
      c->capcancels = cap;
    }
  c->cancels[c->ncancels++] = id;
  pthread_mutex_unlock (&c->lock);
  curl_multi_wakeup (c->multi);
}

void
oc_conn_reconnect_now (oc_conn *c)
{
  atomic_store (&c->reconnect_now, true);
  curl_multi_wakeup (c->multi);
}

oc_item *
oc_conn_drain (oc_conn *c)
{
  return oc_queue_drain (&c->queue);
}

oc_queue *
oc_conn_queue (oc_conn *c)
{
  return &c->queue;
}

void
oc_conn_stop (oc_conn *c)
{
  atomic_store (&c->stop, true);
  curl_multi_wakeup (c->multi);
  pthread_join (c->thread, NULL);
  oc_conn_free (c);
}

/* After this call C belongs to the worker, which frees it on its way
   out (the end of oc_conn_worker): it leaves its loop once it sees
   `stop', then reads `abandoned' under the lock.  Why each step sits
   where it does:

   - pthread_detach comes first, while C is surely alive: the worker
     cannot free C before `abandoned' is set, so reading c->thread here
     is safe; the thread's own resources are then released when it ends.

   - `abandoned' and `stop' are set under the lock together, `abandoned'
     first.  The worker leaves its loop only after seeing `stop', and
     then blocks on the lock until we release it, so it always reads
     abandoned == true.  Were `stop' visible before `abandoned' (set
     outside the lock, or in the other order), the worker could leave
     its loop, read abandoned == false and return without freeing: C and
     everything it holds would leak, and nobody else will free it.

   - The wake-up is sent under the lock too.  Once the lock is released
     the worker may run to oc_conn_free, which frees c->multi and C
     itself; a curl_multi_wakeup (c->multi) after the unlock could touch
     freed memory.  Holding the lock across the wake-up means the worker
     cannot get past its read of `abandoned', let alone free, before we
     are done with C.  The unlock is our last touch of C.  */
void
oc_conn_abandon (oc_conn *c)
{
  pthread_detach (c->thread);
  pthread_mutex_lock (&c->lock);
  c->abandoned = true;
  atomic_store (&c->stop, true);
  curl_multi_wakeup (c->multi);
  pthread_mutex_unlock (&c->lock);
}
