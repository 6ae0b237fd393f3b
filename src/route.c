/* route.c: which server a request goes to (route.h). */
#include "route.h"

#include <stdlib.h>	/* free */

#include "util.h"	/* xcalloc, now_s */

void route_init(struct route *r, int n, double max_wait)
{
	r->n = n;
	r->turn = 0;
	r->s = xcalloc(n, sizeof(*r->s));
	for (int i = 0; i < n; i++) {
		r->s[i].aside_ms = ROUTE_ASIDE_MS;
		pacer_init(&r->s[i].pc, 0, 0, now_s());
		pacer_cap(&r->s[i].pc, max_wait);
	}
}

void route_free(struct route *r)
{
	free(r->s);
	r->s = NULL;
}

/* Whether server i is in use at now (us): not aside, and if back from
 * aside, not holding its probe. */
static int in_use(const struct route *r, const unsigned *out, unsigned i,
    uint64_t now)
{
	const struct route_server *s = &r->s[i];

	return s->until_us <= now && !(s->until_us && out[i] > 0);
}

unsigned route_pick(struct route *r, const unsigned *out, uint64_t now,
    long long cost, uint64_t *aside)
{
	int best = -1, ready = -1, soonest = -1;
	double t = now / 1e6;

	*aside = 0;
	if (r->n < 2)
		return 0;
	for (int k = 0; k < r->n; k++) {
		unsigned i = (r->turn + (unsigned)k) % (unsigned)r->n;
		const struct route_server *s = &r->s[i];

		if (s->until_us > now) {
			*aside |= UINT64_C(1) << i;
			if (soonest < 0 || s->until_us < r->s[soonest].until_us)
				soonest = (int)i;
			continue;
		}
		if (!in_use(r, out, i, now))
			continue;
		if (best < 0 || out[i] < out[best])
			best = (int)i;
		if ((ready < 0 || out[i] < out[ready]) &&
		    pacer_ready_at(&s->pc, t, cost, out[i]) <= t)
			ready = (int)i;
	}
	if (ready >= 0)
		best = ready;
	if (best < 0)	/* none in use: the first due back (or, each
			 * holding its probe, the first) */
		best = soonest >= 0 ? soonest : 0;
	r->turn = (unsigned)best + 1;
	return (unsigned)best;
}

double route_ready_at(const struct route *r, const unsigned *out, double now,
    long long cost, int *first)
{
	double soonest = 0;
	uint64_t us = (uint64_t)(now * 1e6);

	*first = -1;
	if (r->n < 2)
		return now;
	for (int i = 0; i < r->n; i++) {
		double at;

		if (!in_use(r, out, (unsigned)i, us))
			continue;
		at = pacer_ready_at(&r->s[i].pc, now, cost, out[i]);
		if (at <= now) {
			*first = -1;
			return now;
		}
		if (*first < 0 || at < soonest) {
			soonest = at;
			*first = i;
		}
	}
	return *first >= 0 ? soonest : now;	/* none in use: route_pick
						 * says where */
}

const char *route_why(const struct route *r, const unsigned *out, unsigned s,
    double now, long long cost)
{
	return pacer_why(&r->s[s].pc, now, cost, out[s]);
}

void route_sent(struct route *r, unsigned s, double now, long long cost)
{
	if (r->n > 1)
		pacer_sent(&r->s[s].pc, now, cost);
}

void route_hint(struct route *r, unsigned s, double now,
    const struct ratelimit_hint *h)
{
	if (s < (unsigned)r->n)
		pacer_hint(&r->s[s].pc, now, h);
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
