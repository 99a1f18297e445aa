/* oc-buf.h --- a growable byte buffer  -*- c -*- */
/* Pure C: no emacs-module.h here.  Used by the SSE parser, the queue and
   the connection worker.  Every function is static inline and has the
   oc_buf_ prefix.  A buffer whose allocation failed is marked `failed'
   and stays usable (empty); callers check the return value of append.  */
#ifndef OC_BUF_H
#define OC_BUF_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation of a buffer; it doubles from there.  */
#define OC_BUF_MIN_CAP 64

typedef struct
{
  char *data;    /* NUL-terminated when non-NULL.  */
  size_t len;
  size_t cap;
} oc_buf;

static inline void
oc_buf_init (oc_buf *b)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

static inline void
oc_buf_free (oc_buf *b)
{
  free (b->data);
  oc_buf_init (b);
}

static inline void
oc_buf_clear (oc_buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

/* Make room for N more bytes plus a terminating NUL.  */
static inline bool
oc_buf_reserve (oc_buf *b, size_t n)
{
  if (n > ((size_t) -1) / 2 - b->len)
    return false;
  size_t need = b->len + n + 1;
  if (need <= b->cap)
    return true;
  size_t cap = b->cap ? b->cap : OC_BUF_MIN_CAP;
  while (cap < need)
    cap *= 2;
  char *p = realloc (b->data, cap);
  if (!p)
    return false;
  b->data = p;
  b->cap = cap;
  return true;
}

static inline bool
oc_buf_append (oc_buf *b, const char *s, size_t n)
{
  if (!oc_buf_reserve (b, n))
    return false;
  if (n)
    memcpy (b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return true;
}

/* Hand the contents over to the caller (who frees them); B is emptied.  */
static inline char *
oc_buf_steal (oc_buf *b)
{
  char *p = b->data;
  if (!p)
    p = calloc (1, 1);
  oc_buf_init (b);
  return p;
}

#endif /* OC_BUF_H */
