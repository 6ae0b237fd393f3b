/*
 * autoscale.h: -P auto, the number of requests in flight found as it goes.
 *
 * The rule is TCP Vegas's, as Netflix's concurrency-limits library applies
 * it to request concurrency: the lowest latency seen is what a request
 * costs when nothing waits at the server; a window's mean latency above it
 * means requests queue there, about limit x (1 - lowest/mean) of them.
 * Once per window (as many answers as the limit, about one round trip)
 * the limit grows when fewer than ALPHA wait (by sqrt(limit): a slow start
 * that slows down), and shrinks by one when more than BETA wait (by half
 * the excess when far over).  A 429 or a 503 (the server or its rate
 * limit says it is full) cuts the limit by a quarter, at most once a
 * window.  The limit grows only while the run keeps it full (a run short
 * of lines says nothing about the server) and stays within [1, max].  It
 * starts at 1, so that the lowest latency is one with nothing queued (a
 * server that later gets slower for good reads as a queue, and the limit
 * shrinks: the safe side).  Against a server that
 * serves S requests at once and queues the rest it settles at S + ALPHA
 * to S + BETA.
 */
#ifndef SPLITGPT_AUTOSCALE_H
#define SPLITGPT_AUTOSCALE_H

#include <stdint.h>	/* uint64_t */

#define AUTOSCALE_START 1	/* the limit at first: one request alone
				 * shows the latency with no queue */
#define AUTOSCALE_ALPHA 1.0	/* grow while fewer wait at the server */
#define AUTOSCALE_BETA 3.0	/* shrink while more wait */

struct autoscale {
	double limit;
	int max;
	double min_us;		/* the lowest window mean, or 0: none yet */
	double sum_us;		/* this window's latencies */
	unsigned n;		/* ... how many */
	unsigned full;		/* ... of them with the limit in use */
	unsigned windows;	/* windows so far */
	int overloaded;		/* a 429 or 503 cut the limit this window */
	int peak;		/* the highest limit reached */
};

void autoscale_init(struct autoscale *a, int max);

/* An answer came after latency_us (one attempt, no waits), with busy
 * requests in flight when it was sent. */
void autoscale_sample(struct autoscale *a, uint64_t latency_us, int busy);

/* A 429 or 503: the server is full. */
void autoscale_overload(struct autoscale *a);

/* The number of requests that may be in flight now. */
int autoscale_limit(const struct autoscale *a);

#endif
