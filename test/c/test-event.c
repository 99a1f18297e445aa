/* test-event.c --- unit tests of event routing and JSON checks  */
#include "oc-event.h"
#include "oc-pipeline.h"
#include "oc-test.h"

static oc_item *
route (const char *s, size_t len)
{
  oc_queue q;
  oc_queue_init (&q, -1);
  oc_event_route (&q, s, len);
  oc_item *it = oc_queue_drain (&q);
  oc_queue_destroy (&q);
  return it;
}

#define ROUTE(s) route ((s), sizeof (s) - 1)

static void
test_event_properties (void)
{
  oc_item *it = ROUTE ("{\"id\":\"evt_1\",\"type\":\"session.status\","
                       "\"properties\":{\"sessionID\":\"ses_1\",\"status\":{\"type\":\"busy\"}}}");
  CHECK (it && it->kind == OC_ITEM_EVENT);
  CHECK_STR (it->event.type, "session.status");
  CHECK_STR (json_object_get_string (json_object_object_get (it->event.props, "sessionID")), "ses_1");
  oc_item_free_list (it);
}

static void
test_delta (void)
{
  oc_item *it = ROUTE ("{\"type\":\"message.part.delta\",\"properties\":{"
                       "\"sessionID\":\"ses\",\"messageID\":\"msg\",\"partID\":\"prt\","
                       "\"field\":\"text\",\"delta\":\"h\\u00e9\\n\"}}");
  CHECK (it && it->kind == OC_ITEM_DELTA);
  CHECK_STR (it->delta.part, "prt");
  CHECK_STR (it->delta.text.data, "h\xc3\xa9\n");
  oc_item_free_list (it);
}

static void
test_global_wrapper (void)
{
  oc_item *it = ROUTE ("{\"directory\":\"/p\",\"payload\":{\"type\":\"todo.updated\",\"properties\":{}}}");
  CHECK (it && it->kind == OC_ITEM_EVENT);
  CHECK_STR (it->event.type, "todo.updated");
  oc_item_free_list (it);
}

static void
expect_warning (const char *s, size_t len)
{
  oc_item *it = route (s, len);
  CHECK (it && it->kind == OC_ITEM_WARNING && !it->next);
  oc_item_free_list (it);
}

static void
test_bad_input (void)
{
  expect_warning ("{\"type\":", 8);                         /* truncated */
  expect_warning ("not json", 8);
  expect_warning ("{\"type\":\"x\"} trailing", 21);
  expect_warning ("{\"properties\":{}}", 17);               /* no type */
  expect_warning ("[1,2]", 5);
  expect_warning ("{\"type\":\"a\xff\xfe\"}", 14);            /* bad UTF-8 */
  expect_warning ("{\"type\":\"\xc0\xaf\"}", 12);             /* overlong */
  expect_warning ("{\"type\":\"message.part.delta\",\"properties\":{\"delta\":1}}", 53);
  expect_warning ("", 0);
  expect_warning ("12", 2);                                 /* not an object */
}

static void
test_unknown_type_passes (void)
{
  oc_item *it = ROUTE ("{\"type\":\"future.thing\",\"properties\":{\"x\":[1,null,false]}}");
  CHECK (it && it->kind == OC_ITEM_EVENT);
  CHECK_STR (it->event.type, "future.thing");
  oc_item_free_list (it);
}

static void
test_nul_and_surrogates (void)
{
  oc_item *it = ROUTE ("{\"type\":\"t\",\"properties\":{\"s\":\"a\\u0000b\\ud83d\\ude00\"}}");
  CHECK (it && it->kind == OC_ITEM_EVENT);
  json_object *s = json_object_object_get (it->event.props, "s");
  CHECK (json_object_get_string_len (s) == 7);
  CHECK (memcmp (json_object_get_string (s), "a\0b\xf0\x9f\x98\x80", 7) == 0);
  oc_item_free_list (it);
}

#define DELTA(part, text)                                               \
  "data: {\"type\":\"message.part.delta\",\"properties\":{\"sessionID\":\"s\"," \
  "\"messageID\":\"m\",\"partID\":\"" part "\",\"field\":\"text\","       \
  "\"delta\":\"" text "\"}}\n\n"

/* The module's merge, driven through the worker's pipeline (SSE parser,
   routing, queue) with the stream split at every chunk size: deltas of
   parts A and B interleaved A B A B … come out as one item per part, in
   order of first appearance, each with its text whole; an event between
   them stops the merge; the text never depends on the split.  */
static void
test_interleaved_parts_merge (void)
{
  static const char stream[] =
    DELTA ("A", "Hel") DELTA ("B", "W\\u00f6") DELTA ("A", "lo") DELTA ("B", "rld")
    DELTA ("A", ", ") DELTA ("B", "!\\n")
    "data: {\"type\":\"session.status\",\"properties\":{}}\n\n"
    DELTA ("A", "you") DELTA ("B", "ok") DELTA ("A", ".");
  static const struct { const char *part, *text; } expect[] = {
    { "A", "Hello, " }, { "B", "W\xc3\xb6rld!\n" }, { NULL, "session.status" },
    { "A", "you." }, { "B", "ok" } };
  const size_t nexpect = sizeof expect / sizeof expect[0];
  static const size_t chunks[] = { 1, 2, 3, 7, 61, sizeof stream };
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
    {
      oc_pipeline pl;
      oc_pipeline_init (&pl, 4096);
      for (size_t i = 0; i < sizeof stream - 1; i += chunks[c])
        oc_pipeline_feed (&pl, stream + i, sizeof stream - 1 - i < chunks[c]
                          ? sizeof stream - 1 - i : chunks[c]);
      oc_queue_counters st;
      oc_queue_stats (&pl.queue, &st);
      CHECK (st.merged == 5 && st.pending == nexpect);
      oc_item *items = oc_queue_drain (&pl.queue);
      CHECK (oc_pipeline_check_items (items) == nexpect);
      size_t n = 0;
      for (oc_item *it = items; it && n < nexpect; it = it->next, n++)
        if (expect[n].part)
          {
            CHECK (it->kind == OC_ITEM_DELTA);
            if (it->kind != OC_ITEM_DELTA)
              continue;
            CHECK_STR (it->delta.part, expect[n].part);
            CHECK_STR (it->delta.field, "text");
            CHECK (it->delta.text.len == strlen (expect[n].text));
            CHECK_STR (it->delta.text.data, expect[n].text);
          }
        else
          {
            CHECK (it->kind == OC_ITEM_EVENT);
            if (it->kind == OC_ITEM_EVENT)
              CHECK_STR (it->event.type, expect[n].text);
          }
      CHECK (n == nexpect);
      oc_item_free_list (items);
      oc_pipeline_free (&pl);
    }
}

int
main (void)
{
  RUN (test_event_properties);
  RUN (test_delta);
  RUN (test_global_wrapper);
  RUN (test_bad_input);
  RUN (test_unknown_type_passes);
  RUN (test_nul_and_surrogates);
  RUN (test_interleaved_parts_merge);
  DONE ();
}
