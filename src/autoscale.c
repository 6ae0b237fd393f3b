/* autoscale.c: -P auto's limit (autoscale.h). */
#include "autoscale.h"

#include <math.h>	/* sqrt */


static void clamp(struct autoscale *a)
{
	if (a->limit < 1)
		a->limit = 1;
	if (a->limit > a->max)
		a->limit = a->max;
	if ((int)a->limit > a->peak)
		a->peak = (int)a->limit;
}

void autoscale_init(struct autoscale *a, int max)
{
	a->limit = AUTOSCALE_START;
	a->max = max;
	a->min_us = 0;
	a->sum_us = 0;
	a->n = a->full = a->windows = 0;
	a->overloaded = 0;
	a->peak = 0;
	clamp(a);
}

int autoscale_limit(const struct autoscale *a)
{
	return (int)a->limit;
}

/* A window is over: its mean latency against the lowest. */
static void window(struct autoscale *a)
{
	double mean = a->sum_us / a->n, queue;
	int kept_full = a->full * 2 >= a->n;

	if (a->min_us == 0 || mean < a->min_us)
		a->min_us = mean;
	a->windows++;
	queue = a->limit * (1 - a->min_us / mean);
	if (a->overloaded)
		;	/* cut already */
	else if (queue > AUTOSCALE_BETA * 2)
		a->limit -= (queue - AUTOSCALE_BETA) / 2;
	else if (queue > AUTOSCALE_BETA)
		a->limit -= 1;
	else if (queue < AUTOSCALE_ALPHA && kept_full)
		a->limit += sqrt(a->limit);
	clamp(a);
	a->sum_us = 0;
	a->n = a->full = 0;
	a->overloaded = 0;
}

void autoscale_sample(struct autoscale *a, uint64_t latency_us, int busy)
{
	if (latency_us == 0)
		return;
	a->sum_us += (double)latency_us;
	a->n++;
	if (busy >= (int)a->limit)
		a->full++;
	if (a->n >= (unsigned)a->limit || a->n >= 64)
		window(a);
}

void autoscale_overload(struct autoscale *a)
{
	if (a->overloaded)
		return;
	a->overloaded = 1;
	a->limit *= 0.75;
	clamp(a);
}
