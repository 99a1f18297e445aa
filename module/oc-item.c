/* oc-item.c --- what the worker hands to the Emacs glue  */
/* Pure C: no emacs-module.h.  See oc-item.h.  */

#include "oc-item.h"

#include <stdlib.h>

const char oc_err_nomem[] = "out of memory";

oc_item *
oc_item_new (oc_item_kind kind)
{
  /* calloc gives NULL pointers, zero numbers and empty oc_bufs (an
     oc_buf is empty when all zero, see oc_buf_init) for every kind.  */
  oc_item *it = calloc (1, sizeof *it);
  if (it)
    it->kind = kind;
  return it;
}

void
oc_item_free (oc_item *it)
{
  if (!it)
    return;
  switch (it->kind)
    {
    case OC_ITEM_EVENT:
      free (it->event.type);
      if (it->event.props)
        json_object_put (it->event.props);
      break;
    case OC_ITEM_DELTA:
      free (it->delta.session);
      free (it->delta.message);
      free (it->delta.part);
      free (it->delta.field);
      oc_buf_free (&it->delta.text);
      break;
    case OC_ITEM_STATE:
      oc_buf_free (&it->state.detail);
      break;
    case OC_ITEM_RESPONSE:
      if (it->response.json)
        json_object_put (it->response.json);
      oc_buf_free (&it->response.body);
      oc_buf_free (&it->response.headers);
      break;
    case OC_ITEM_FAILURE:
      oc_buf_free (&it->failure.message);
      break;
    case OC_ITEM_WARNING:
      oc_buf_free (&it->warning.message);
      break;
    }
  free (it);
}

void
oc_item_free_list (oc_item *it)
{
  while (it)
    {
      oc_item *next = it->next;
      oc_item_free (it);
      it = next;
    }
}

const char *
oc_state_name (oc_state s)
{
  switch (s)
    {
    case OC_STATE_CONNECTING:
      return "connecting";
    case OC_STATE_CONNECTED:
      return "connected";
    case OC_STATE_DISCONNECTED:
      return "disconnected";
    }
  return "unknown";
}
