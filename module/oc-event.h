/* oc-event.h --- from one SSE data payload to queue items  -*- c -*- */
/* Pure C: no emacs-module.h.  Parses the JSON of an OpenCode event
   (`{"id":…,"type":…,"properties":{…}}', or the `{directory, payload}'
   wrapper of /global/event) with json-c, strictly and with UTF-8
   validation, and queues it: text deltas go to the merging path, other
   events are queued whole, and bad input becomes a warning.  */
#ifndef OC_EVENT_H
#define OC_EVENT_H

#include <stddef.h>
#include <json-c/json.h>
#include "oc-queue.h"

/* Parse LEN bytes of JSON text; NULL on any error (ERR, if non-NULL,
   receives a static description).  Strings are checked to be UTF-8.  */
json_object *oc_json_parse (const char *text, size_t len, const char **err);

/* Route one event payload into Q.  Returns true when it was queued as
   an event or a delta, false when it was reported as a warning.  */
bool oc_event_route (oc_queue *q, const char *data, size_t len);

#endif /* OC_EVENT_H */
