/* test-backoff.c --- the reconnection backoff: doubling, clamping, jitter

   oc_conn_backoff is static in oc-conn.c: this file includes that file
   whole (and is linked without it, see the Makefile), so the test calls
   the very function the worker calls, over many draws from a fixed
   seed (so the checks are deterministic).  */
#include <limits.h>
#include "oc-conn.c"
#include "oc-test.h"

enum { DRAWS = 20000 };

static void
conn_init (oc_conn *c, long min, long max, long down)
{
  memset (c, 0, sizeof *c);
  c->backoff_min_ms = min;
  c->backoff_max_ms = max;
  c->down_retry_max_ms = down;
  c->rng = 12345;
}

/* Draw DRAWS delays at ATTEMPT; store their minimum, maximum and mean.  */
static void
draw (oc_conn *c, int attempt, bool refused, long *lo, long *hi, double *mean)
{
  c->attempt = attempt;
  *lo = LONG_MAX;
  *hi = 0;
  double sum = 0;
  for (int i = 0; i < DRAWS; i++)
    {
      long d = oc_conn_backoff (c, refused);
      if (d < *lo)
        *lo = d;
      if (d > *hi)
        *hi = d;
      sum += (double) d;
    }
  *mean = sum / DRAWS;
}

/* The base doubles with each attempt; the draws spread over 3/4 to 5/4
   of it and centre on it.  */
static void
test_doubling (void)
{
  oc_conn c;
  conn_init (&c, 1000, 64000, 2000);
  double prev = 0;
  for (int attempt = 1; attempt <= 5; attempt++)
    {
      long base = 1000L << attempt, lo, hi;
      double mean;
      draw (&c, attempt, false, &lo, &hi, &mean);
      CHECK (lo >= base - base / 4);
      CHECK (hi <= base + base / 4);
      /* The whole range is reached, within 1% of either end.  */
      CHECK (lo <= base - base / 4 + base / 100);
      CHECK (hi >= base + base / 4 - base / 100);
      CHECK (mean > base * 0.98 && mean < base * 1.02);
      if (prev > 0)
        CHECK (mean / prev > 1.95 && mean / prev < 2.05);
      prev = mean;
    }
}

/* Below the minimum and above the maximum, the delay is clamped.  */
static void
test_clamped (void)
{
  oc_conn c;
  conn_init (&c, 1000, 8000, 2000);
  long lo, hi;
  double mean;
  draw (&c, 0, false, &lo, &hi, &mean);
  CHECK (lo == 1000);              /* 3/4 of the first base is raised to min.  */
  CHECK (hi <= 1250);
  draw (&c, 30, false, &lo, &hi, &mean); /* No overflow however many attempts.  */
  CHECK (lo >= 6000);
  CHECK (hi == 8000);
  /* A server's retry: hint raises the wait, never above the maximum.  */
  c.retry_hint_ms = 5000;
  draw (&c, 0, false, &lo, &hi, &mean);
  CHECK (lo == 5000 && hi == 5000);
  c.retry_hint_ms = 50000;
  draw (&c, 0, false, &lo, &hi, &mean);
  CHECK (lo == 8000 && hi == 8000);
}

/* Refused (nothing listens): the wait stays under down_retry_max_ms,
   spread over its top quarter, however far the backoff has grown.  */
static void
test_refused (void)
{
  oc_conn c;
  conn_init (&c, 1000, 30000, 2000);
  long lo, hi;
  double mean;
  draw (&c, 8, true, &lo, &hi, &mean);
  CHECK (lo >= 1500 && hi <= 2000);
  CHECK (lo <= 1510 && hi >= 1990);
}

/* The jitter is spread evenly: ten equal bins over 3/4..5/4 of the
   base each get a tenth of the draws, give or take 10%.  */
static void
test_jitter_spread (void)
{
  oc_conn c;
  conn_init (&c, 1000, 64000, 2000);
  c.attempt = 3;                  /* base 8000: 6000..10000 */
  int bins[10] = { 0 };
  for (int i = 0; i < DRAWS; i++)
    {
      long d = oc_conn_backoff (&c, false);
      int b = (int) ((d - 6000) * 10 / 4001);
      CHECK (b >= 0 && b < 10);
      if (b >= 0 && b < 10)
        bins[b]++;
    }
  for (int b = 0; b < 10; b++)
    CHECK (bins[b] > DRAWS / 10 * 9 / 10 && bins[b] < DRAWS / 10 * 11 / 10);
  /* Two connections seeded differently do not retry in step.  */
  oc_conn a, z;
  conn_init (&a, 1000, 64000, 2000);
  conn_init (&z, 1000, 64000, 2000);
  z.rng = 54321;
  a.attempt = z.attempt = 3;
  int same = 0;
  for (int i = 0; i < 100; i++)
    same += oc_conn_backoff (&a, false) == oc_conn_backoff (&z, false);
  CHECK (same < 10);
}

int
main (void)
{
  RUN (test_doubling);
  RUN (test_clamped);
  RUN (test_refused);
  RUN (test_jitter_spread);
  DONE ();
}
