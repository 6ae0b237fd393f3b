/* -P auto's rule against model servers: one with S slots that queues the
 * rest, one that is never full, one that says 429. */
#include "autoscale.h"
#include "unit.h"

/* Latency at a server with slots S and base latency B when n are in
 * flight: those beyond S wait their turn. */
static uint64_t slot_latency(int n, int s, uint64_t b)
{
	return n <= s ? b : b * (uint64_t)n / (uint64_t)s;
}

/* Run rounds of a full run against the slot server; the last limit. */
static int settle(int s, int max, int rounds, int *lo, int *hi)
{
	struct autoscale a;
	int r, k;

	autoscale_init(&a, max);
	*lo = max;
	*hi = 0;
	for (r = 0; r < rounds; r++) {
		int n = autoscale_limit(&a);

		for (k = 0; k < n; k++)
			autoscale_sample(&a, slot_latency(n, s, 100000), n);
		if (r >= rounds / 2) {
			n = autoscale_limit(&a);
			*lo = n < *lo ? n : *lo;
			*hi = n > *hi ? n : *hi;
		}
	}
	return autoscale_limit(&a);
}

int main(void)
{
	struct autoscale a;
	int lo, hi, s, k;

	autoscale_init(&a, 64);
	CHECK_INT(autoscale_limit(&a), AUTOSCALE_START, "it starts at %d",
	    AUTOSCALE_START);
	for (k = 0; k < 2000; k++)
		autoscale_sample(&a, 100000, 64);
	CHECK_INT(autoscale_limit(&a), 64, "with no queue it grows to the max");

	for (s = 2; s <= 64; s *= 2) {
		settle(s, 512, 200, &lo, &hi);
		CHECK(lo >= s && hi <= s + s / 2 + 2,
		    "S=%d slots: it settles within [S, 1.5 S + 2]: %d..%d", s,
		    lo, hi);
	}
	settle(1000, 48, 100, &lo, &hi);
	CHECK(lo == 48 && hi == 48, "a server never full: it grows to the max "
	    "and stays (%d..%d)", lo, hi);

	/* Not kept full (a run short of lines): no growth past what the
	 * run fills. */
	autoscale_init(&a, 64);
	for (k = 0; k < 400; k++)
		autoscale_sample(&a, 100000, 1);
	CHECK_INT(autoscale_limit(&a), 2,
	    "a run with one line at a time: the limit stops at 2");

	/* 429s cut it, once a window. */
	autoscale_init(&a, 64);
	for (k = 0; k < 200; k++)
		autoscale_sample(&a, 100000, autoscale_limit(&a));
	s = autoscale_limit(&a);
	{
		double before = a.limit;

		autoscale_overload(&a);
		autoscale_overload(&a);
		CHECK_INT(autoscale_limit(&a), (int)(before * 0.75),
		    "a 429 cuts the limit by a quarter, once a window (%d)",
		    s);
	}
	for (k = 0; k < 50; k++)
		autoscale_overload(&a);
	CHECK(autoscale_limit(&a) >= 1, "... never below 1");
	CHECK(a.peak >= s, "the peak is kept (%d)", a.peak);
	return unit_done();
}
