/* route.c: which server a request goes to (route.h). */
#include "route.h"

#include <stdlib.h>	/* free */

#include "util.h"	/* xcalloc */

void route_init(struct route *r, int n)
{
	r->n = n;
	r->turn = 0;
	r->s = xcalloc(n, sizeof(*r->s));
	for (int i = 0; i < n; i++)
		r->s[i].aside_ms = ROUTE_ASIDE_MS;
}

void route_free(struct route *r)
{
	free(r->s);
	r->s = NULL;
}

unsigned route_pick(struct route *r, const unsigned *out, uint64_t now,
    uint64_t *aside)
{
	int best = -1, soonest = 0;

	*aside = 0;
	if (r->n < 2)
		return 0;
	for (int k = 0; k < r->n; k++) {
		unsigned i = (r->turn + (unsigned)k) % (unsigned)r->n;
		const struct route_server *s = &r->s[i];

		if (s->until_us > now) {
			*aside |= UINT64_C(1) << i;
			if (s->until_us < r->s[soonest].until_us ||
			    r->s[soonest].until_us <= now)
				soonest = (int)i;
			continue;
		}
		if (s->until_us && out[i] > 0)
			continue;	/* back from aside: a probe at a time */
		if (best < 0 || out[i] < out[best])
			best = (int)i;
	}
	if (best < 0)
		best = soonest;
	r->turn = (unsigned)best + 1;
	return (unsigned)best;
}

uint64_t route_failed(struct route *r, unsigned s, uint64_t now)
{
	struct route_server *v = &r->s[s];
	uint64_t ms;

	v->streak++;
	if (r->n < 2 || v->streak < ROUTE_STREAK || v->until_us > now)
		return 0;
	/* A third failure in a row, or a probe's failure. */
	ms = v->aside_ms;
	v->until_us = now + ms * 1000;
	v->aside_ms = ms * 2 > ROUTE_ASIDE_MAX_MS ? ROUTE_ASIDE_MAX_MS : ms * 2;
	return ms;
}

int route_answered(struct route *r, unsigned s)
{
	struct route_server *v = &r->s[s];
	int back = v->until_us != 0;

	v->streak = 0;
	v->until_us = 0;
	v->aside_ms = ROUTE_ASIDE_MS;
	return back && r->n > 1;
}
