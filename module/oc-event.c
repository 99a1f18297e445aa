/* oc-event.c --- from one SSE data payload to queue items  */
/* Pure C: no emacs-module.h.  See oc-event.h.  */

#include "oc-event.h"

#include <limits.h>
#include <string.h>

/* Bytes of a bad event quoted in its warning.  */
#define OC_EXCERPT_MAX 60

json_object *
oc_json_parse (const char *text, size_t len, const char **err)
{
  if (len > (size_t) INT_MAX)         /* json-c takes an int length.  */
    {
      if (err)
        *err = "document too large";
      return NULL;
    }
  json_tokener *tok = json_tokener_new_ex (JSON_TOKENER_DEFAULT_DEPTH);
  if (!tok)
    {
      if (err)
        *err = oc_err_nomem;
      return NULL;
    }
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT
                          | JSON_TOKENER_VALIDATE_UTF8);
  json_object *obj = json_tokener_parse_ex (tok, text, (int) len);
  enum json_tokener_error e = json_tokener_get_error (tok);
  size_t end = (size_t) json_tokener_get_parse_end (tok);
  if (e == json_tokener_continue && !obj)
    {
      /* A top-level number only ends at a delimiter: give it one.  */
      obj = json_tokener_parse_ex (tok, " ", 1);
      e = json_tokener_get_error (tok);
      end = len;
    }
  if (e == json_tokener_continue)
    {
      /* The text ended inside a value.  */
      json_object_put (obj);
      obj = NULL;
      if (err)
        *err = "truncated JSON";
    }
  else if (e != json_tokener_success)
    {
      json_object_put (obj);
      obj = NULL;
      if (err)
        *err = json_tokener_error_desc (e);
    }
  else if (end < len)
    {
      /* Only white space may follow the value.  */
      for (size_t i = end; i < len; i++)
        if (!strchr (" \t\r\n", text[i]))
          {
            json_object_put (obj);
            obj = NULL;
            if (err)
              *err = "trailing characters after JSON";
            break;
          }
    }
  json_tokener_free (tok);
  return obj;
}

static const char *
oc_get_string (json_object *o, const char *key)
{
  json_object *v;
  if (!json_object_object_get_ex (o, key, &v)
      || !json_object_is_type (v, json_type_string))
    return NULL;
  return json_object_get_string (v);
}

/* The printable start of DATA for a warning: up to OC_EXCERPT_MAX bytes, stopping at
   anything that is not plain ASCII so the warning stays valid text.  */
static int
oc_excerpt_len (const char *data, size_t len)
{
  size_t n = 0;
  while (n < len && n < OC_EXCERPT_MAX && data[n] >= ' ' && data[n] <= '~')
    n++;
  return (int) n;
}

bool
oc_event_route (oc_queue *q, const char *data, size_t len)
{
  const char *err = NULL;
  json_object *root = oc_json_parse (data, len, &err);
  if (!root)
    {
      oc_queue_warn (q, "malformed event skipped (%s): %.*s", err,
                     oc_excerpt_len (data, len), data);
      return false;
    }
  json_object *ev = root;
  json_object *payload;
  /* /global/event wraps each event as {directory, payload}.  */
  if (json_object_is_type (root, json_type_object)
      && json_object_object_get_ex (root, "payload", &payload)
      && json_object_is_type (payload, json_type_object))
    ev = payload;

  const char *type = json_object_is_type (ev, json_type_object)
    ? oc_get_string (ev, "type") : NULL;
  if (!type)
    {
      oc_queue_warn (q, "event without a type skipped: %.*s",
                     oc_excerpt_len (data, len), data);
      json_object_put (root);
      return false;
    }

  json_object *props = NULL;
  json_object_object_get_ex (ev, "properties", &props);

  if (strcmp (type, "message.part.delta") == 0 && props
      && json_object_is_type (props, json_type_object))
    {
      const char *s = oc_get_string (props, "sessionID");
      const char *m = oc_get_string (props, "messageID");
      const char *p = oc_get_string (props, "partID");
      const char *f = oc_get_string (props, "field");
      json_object *d;
      if (s && m && p && f && json_object_object_get_ex (props, "delta", &d)
          && json_object_is_type (d, json_type_string))
        {
          bool ok = oc_queue_push_delta (q, s, m, p, f,
                                         json_object_get_string (d),
                                         (size_t) json_object_get_string_len (d));
          if (!ok)
            oc_queue_warn (q, "out of memory: a text delta was lost");
          json_object_put (root);
          return ok;
        }
      oc_queue_warn (q, "message.part.delta without its fields skipped");
      json_object_put (root);
      return false;
    }

  oc_item *it = oc_item_new (OC_ITEM_EVENT);
  if (!it || !(it->event.type = strdup (type)))
    {
      oc_item_free (it);
      json_object_put (root);
      oc_queue_warn (q, "out of memory: an event was lost");
      return false;
    }
  /* Keep only the properties, which the item now owns.  */
  it->event.props = props ? json_object_get (props) : NULL;
  json_object_put (root);
  oc_queue_push (q, it);
  return true;
}
