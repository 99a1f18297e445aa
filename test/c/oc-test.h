/* oc-test.h --- a tiny test harness for the C unit tests  -*- c -*- */
#ifndef OC_TEST_H
#define OC_TEST_H

#include <stdio.h>
#include <string.h>

static int oc_test_passed, oc_test_failed, oc_test_bad;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond))                                                        \
      {                                                                 \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                 #cond);                                                \
        oc_test_bad = 1;                                                \
      }                                                                 \
  } while (0)

#define CHECK_STR(a, b) CHECK (strcmp ((a), (b)) == 0)

#define RUN(fn)                                                         \
  do {                                                                  \
    oc_test_bad = 0;                                                    \
    fn ();                                                              \
    if (oc_test_bad)                                                    \
      {                                                                 \
        oc_test_failed++;                                               \
        fprintf (stderr, "FAIL %s\n", #fn);                             \
      }                                                                 \
    else                                                                \
      oc_test_passed++;                                                 \
  } while (0)

#define DONE()                                                          \
  do {                                                                  \
    printf ("%d passed, %d failed\n", oc_test_passed, oc_test_failed);  \
    return oc_test_failed ? 1 : 0;                                      \
  } while (0)

#endif
