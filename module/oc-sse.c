/* oc-sse.c --- incremental Server-Sent-Events parser  */
/* Pure C: no emacs-module.h.  See oc-sse.h.  */

#include "oc-sse.h"

#include <stdlib.h>
#include <string.h>

/* An event's data buffer bigger than this is given back after dispatch
   instead of being kept for the next event.  */
#define OC_SSE_KEEP_MAX ((size_t) 1 << 20)
/* A line may exceed the event limit by this much (the field name, the
   colon and the space) before it counts as oversize.  */
#define OC_SSE_LINE_SLACK 64
/* Longest `event:' and `id:' values kept; longer ones are ignored.  */
#define OC_SSE_TYPE_MAX 256
#define OC_SSE_ID_MAX 1024
/* Digits of a `retry:' value read (up to 9999999999 ms).  */
#define OC_SSE_RETRY_DIGITS 10

void
oc_sse_init (oc_sse *p, const oc_sse_handler *h, void *ud, size_t max_event)
{
  memset (p, 0, sizeof *p);
  p->handler = *h;
  p->ud = ud;
  p->max_event = max_event;
  oc_buf_init (&p->line);
  oc_buf_init (&p->data);
  oc_buf_init (&p->type);
  oc_buf_init (&p->last_id);
}

static void
oc_sse_clear_event (oc_sse *p)
{
  /* Give back the memory of a huge event instead of keeping it.  */
  if (p->data.cap > OC_SSE_KEEP_MAX)
    oc_buf_free (&p->data);
  else
    oc_buf_clear (&p->data);
  oc_buf_clear (&p->type);
  p->has_data = false;
  p->overflow = false;
  p->skipped = 0;
}

void
oc_sse_reset (oc_sse *p)
{
  oc_sse_clear_event (p);
  oc_buf_clear (&p->line);
  p->line_overflow = false;
  p->pending_cr = false;
  p->bom_checked = false;
}

void
oc_sse_free (oc_sse *p)
{
  oc_buf_free (&p->line);
  oc_buf_free (&p->data);
  oc_buf_free (&p->type);
  oc_buf_free (&p->last_id);
}

static void
oc_sse_dispatch (oc_sse *p)
{
  if (p->overflow)
    {
      if (p->handler.on_oversize)
        p->handler.on_oversize (p->ud, p->skipped);
    }
  else if (p->has_data)
    {
      /* Each data line added a LF; the last one is not part of the data.  */
      if (p->data.len > 0)
        p->data.data[--p->data.len] = '\0';
      if (p->handler.on_event)
        p->handler.on_event (p->ud,
                             p->type.len ? p->type.data : "message",
                             p->data.data ? p->data.data : "",
                             p->data.len,
                             p->last_id.data ? p->last_id.data : "");
    }
  oc_sse_clear_event (p);
}

static void
oc_sse_mark_overflow (oc_sse *p, size_t more)
{
  if (!p->overflow)
    {
      p->overflow = true;
      p->skipped = p->data.len;
      oc_buf_free (&p->data);
    }
  p->skipped += more;
}

static bool
oc_sse_field_is (const char *s, size_t n, const char *name)
{
  size_t k = strlen (name);
  return n == k && memcmp (s, name, k) == 0;
}

static void
oc_sse_line (oc_sse *p, const char *s, size_t n)
{
  if (!p->bom_checked)
    {
      p->bom_checked = true;
      if (n >= 3 && memcmp (s, "\xEF\xBB\xBF", 3) == 0)
        {
          s += 3;
          n -= 3;
        }
    }
  if (n == 0)
    {
      oc_sse_dispatch (p);
      return;
    }
  if (s[0] == ':')
    return;                     /* A comment (heartbeat).  */

  const char *colon = memchr (s, ':', n);
  size_t flen = colon ? (size_t) (colon - s) : n;
  const char *v = colon ? colon + 1 : s + n;
  size_t vlen = (size_t) (s + n - v);
  if (vlen > 0 && v[0] == ' ')
    {
      v++;
      vlen--;
    }

  if (oc_sse_field_is (s, flen, "data"))
    {
      p->has_data = true;
      if (p->overflow || p->data.len + vlen + 1 > p->max_event)
        {
          oc_sse_mark_overflow (p, vlen + 1);
          return;
        }
      if (!oc_buf_append (&p->data, v, vlen)
          || !oc_buf_append (&p->data, "\n", 1))
        oc_sse_mark_overflow (p, vlen + 1);
    }
  else if (oc_sse_field_is (s, flen, "event"))
    {
      oc_buf_clear (&p->type);
      if (vlen < OC_SSE_TYPE_MAX)
        oc_buf_append (&p->type, v, vlen);
    }
  else if (oc_sse_field_is (s, flen, "id"))
    {
      if (!memchr (v, '\0', vlen) && vlen < OC_SSE_ID_MAX)
        {
          oc_buf_clear (&p->last_id);
          oc_buf_append (&p->last_id, v, vlen);
        }
    }
  else if (oc_sse_field_is (s, flen, "retry"))
    {
      long ms = 0;
      size_t i;
      for (i = 0; i < vlen && i < OC_SSE_RETRY_DIGITS; i++)
        {
          if (v[i] < '0' || v[i] > '9')
            break;
          ms = ms * 10 + (v[i] - '0');
        }
      if (vlen > 0 && i == vlen && p->handler.on_retry)
        p->handler.on_retry (p->ud, ms);
    }
  /* Other fields are ignored, as the standard says.  */
}

/* Add N bytes of S to the line being read.  */
static void
oc_sse_grow_line (oc_sse *p, const char *s, size_t n)
{
  if (n == 0)
    return;
  if (p->line_overflow
      || p->line.len + n > p->max_event + OC_SSE_LINE_SLACK
      || !oc_buf_append (&p->line, s, n))
    {
      if (!p->line_overflow)
        {
          p->line_overflow = true;
          oc_sse_mark_overflow (p, p->line.len);
          oc_buf_free (&p->line);
        }
      p->skipped += n;
    }
}

static void
oc_sse_end_line (oc_sse *p)
{
  if (p->line_overflow)
    {
      p->line_overflow = false;
      p->has_data = true;
      oc_buf_clear (&p->line);
      return;
    }
  oc_sse_line (p, p->line.data ? p->line.data : "", p->line.len);
  oc_buf_clear (&p->line);
}

void
oc_sse_feed (oc_sse *p, const char *buf, size_t len)
{
  size_t i = 0;
  if (len == 0)
    return;
  if (p->pending_cr)
    {
      p->pending_cr = false;
      if (buf[0] == '\n')
        i = 1;
    }
  while (i < len)
    {
      size_t j = i;
      while (j < len && buf[j] != '\n' && buf[j] != '\r')
        j++;
      if (j == len)
        {
          oc_sse_grow_line (p, buf + i, len - i);
          return;
        }
      if (p->line.len == 0 && !p->line_overflow
          && j - i <= p->max_event + OC_SSE_LINE_SLACK)
        /* The whole line is in this chunk: no copy.  */
        oc_sse_line (p, buf + i, j - i);
      else
        {
          oc_sse_grow_line (p, buf + i, j - i);
          oc_sse_end_line (p);
        }
      if (buf[j] == '\r')
        {
          if (j + 1 < len)
            {
              if (buf[j + 1] == '\n')
                j++;
            }
          else
            p->pending_cr = true;
        }
      i = j + 1;
    }
}
