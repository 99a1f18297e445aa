/* oc-item.h --- what the worker hands to the Emacs glue  -*- c -*- */
/* Pure C: no emacs-module.h.  This is the whole contract between the
   worker thread (oc-conn, oc-event, oc-queue) and the glue
   (opencode-module.c): the worker builds items, C-owned, and queues them;
   the glue drains them on the main thread, turns each into a Lisp list
   (see `opencode--module-drain') and frees it.  Each kind has its own
   struct with its own named fields; `kind' says which member of the
   union is live, and only that one may be read.  Every string is
   malloc'ed and NUL-terminated; every oc_buf is NUL-terminated when its
   data is non-NULL.  */
#ifndef OC_ITEM_H
#define OC_ITEM_H

#include <json-c/json.h>
#include "oc-buf.h"

typedef enum
{
  OC_ITEM_EVENT,
  OC_ITEM_DELTA,
  OC_ITEM_STATE,
  OC_ITEM_RESPONSE,
  OC_ITEM_FAILURE,
  OC_ITEM_WARNING
} oc_item_kind;

/* The state of the event stream.  */
typedef enum
{
  OC_STATE_CONNECTING,
  OC_STATE_CONNECTED,
  OC_STATE_DISCONNECTED
} oc_state;

/* An event of the stream, other than a text delta.  */
typedef struct
{
  char *type;                   /* "session.status", …  */
  json_object *props;           /* Its `properties' (owned), or NULL.  */
} oc_item_event;

/* A `message.part.delta': TEXT to append to FIELD of a part.  Deltas of
   one part may have been merged into one item (oc_queue_push_delta).  */
typedef struct
{
  char *session, *message, *part, *field;
  oc_buf text;
} oc_item_delta;

typedef struct
{
  oc_state state;
  long attempt;                 /* CONNECTING: attempts failed before
                                   this one (0 on the first).  */
  long retry_ms;                /* DISCONNECTED: the wait before the next
                                   attempt.  */
  oc_buf detail;                /* DISCONNECTED: why; empty otherwise.  */
} oc_item_state;

/* A request that got an HTTP reply (of any status).  */
typedef struct
{
  long id;                      /* From oc_conn_request.  */
  long status;                  /* HTTP status code.  */
  json_object *json;            /* The body parsed (owned), or NULL when
                                   it is empty or not JSON.  */
  oc_buf body;                  /* The raw body, any bytes.  */
  oc_buf headers;               /* The reply's header lines, raw.  */
} oc_item_response;

/* A request that got no HTTP reply.  */
typedef struct
{
  long id;                      /* From oc_conn_request.  */
  long curl_code;               /* A CURLcode; CURLE_OUT_OF_MEMORY when
                                   the request could not even start.  */
  oc_buf message;               /* What curl said.  */
} oc_item_failure;

/* Something in the input was wrong and was skipped, or memory ran out
   in the worker: for the log.  */
typedef struct
{
  oc_buf message;               /* Plain ASCII or UTF-8 text.  */
} oc_item_warning;

typedef struct oc_item
{
  struct oc_item *next;         /* The queue's link.  */
  oc_item_kind kind;
  union
  {
    oc_item_event event;
    oc_item_delta delta;
    oc_item_state state;
    oc_item_response response;
    oc_item_failure failure;
    oc_item_warning warning;
  };
} oc_item;

/* A new item of KIND with every field empty (NULL, 0, empty buffers),
   or NULL when memory ran out.  */
oc_item *oc_item_new (oc_item_kind kind);
/* Free IT and what its kind owns; IT may be NULL.  */
void oc_item_free (oc_item *it);
/* Free a whole list linked through `next'.  */
void oc_item_free_list (oc_item *it);
/* The Lisp name of a stream state: "connecting", ….  */
const char *oc_state_name (oc_state s);

/* The message every pure-C function gives (through its `err' argument)
   when memory ran out.  Compare pointers: the glue signals `memory-full'
   for this one and `opencode-module-error' for the others.  */
extern const char oc_err_nomem[];

#endif /* OC_ITEM_H */
