/*
 * route.h: several servers (--base-url given more than once): which one
 * a request goes to, and which are set aside.
 *
 * Each request goes to the server, among those not set aside, with the
 * fewest requests in flight (ties in turn), so a server gets lines in
 * proportion to how fast it answers them.  A server that fails ROUTE_STREAK
 * times in a row (no answer, or a 5xx; any answer in between resets it)
 * is set aside for ROUTE_ASIDE_MS, doubled each time it fails again, up to
 * ROUTE_ASIDE_MAX_MS.  Once that time is over, it is given one line at a
 * time, as a probe: an answer brings it back (and its time back to the
 * first), a failure sets it aside again.  When every server is set aside,
 * a request goes to the one due back first.  The workers move a failed
 * attempt on to another server themselves (worker.c); the collector tells
 * this stage what each attempt came to.
 *
 * Each server has its own pacer (ratelimit.h) for what it publishes: its
 * x-ratelimit-* headers and its 429s' waits slow the requests to it, not
 * to the others (servers with keys of their own have limits of their
 * own).  A request goes to a server whose pacer lets it go now, when
 * there is one; --rpm and --tpm stay the parent's, for all of them.
 *
 * The counts per server (stats.h) are kept by the collector; this is the
 * health and the pace only.  With one server, every call here is cheap,
 * nothing is ever set aside, and its headers go to the parent's pacer.
 */
#ifndef SPLITGPT_ROUTE_H
#define SPLITGPT_ROUTE_H

#include <stdint.h>	/* uint64_t */

#include "ratelimit.h"	/* struct pacer */

#define ROUTE_STREAK 3
#define ROUTE_ASIDE_MS 1000
#define ROUTE_ASIDE_MAX_MS 60000

struct route_server {
	unsigned streak;	/* failures in a row */
	uint64_t until_us;	/* set aside until then (now_us); 0: in use */
	uint64_t aside_ms;	/* how long it goes aside next time */
	struct pacer pc;	/* what it published (several servers) */
};

struct route {
	int n;
	unsigned turn;		/* where the next tie is broken from */
	struct route_server *s;
};

/* n servers; their waits from headers capped at max_wait seconds. */
void route_init(struct route *r, int n, double max_wait);
void route_free(struct route *r);

/*
 * The server for a request of cost tokens, out[] being the requests in
 * flight on each: the least busy of those in use whose pacer lets it go
 * now, else the least busy of those in use (a server back from aside only
 * when it has none in flight: a probe at a time), else the one due back
 * first.  *aside gets the servers set aside, bit i for server i.
 */
unsigned route_pick(struct route *r, const unsigned *out, uint64_t now,
    long long cost, uint64_t *aside);

/* Several servers: the first time (now_s) at which some server in use
 * lets a request of cost tokens go by what it published, now if one
 * does; *first is that server, or -1 when it is now. */
double route_ready_at(const struct route *r, const unsigned *out, double now,
    long long cost, int *first);

/* What holds a request of cost tokens to server s, in words (pacer_why). */
const char *route_why(const struct route *r, const unsigned *out, unsigned s,
    double now, long long cost);

/* A request of cost tokens went to server s at now (now_s). */
void route_sent(struct route *r, unsigned s, double now, long long cost);

/* What server s's answer headers said, at now (now_s). */
void route_hint(struct route *r, unsigned s, double now,
    const struct ratelimit_hint *h);

/*
 * An attempt on server s failed for the server's sake (no answer, or a
 * 5xx).  Returns how long s is set aside from now, in milliseconds, when
 * this failure sets it aside; 0 otherwise.
 */
uint64_t route_failed(struct route *r, unsigned s, uint64_t now);

/* An answer came from server s (an HTTP status below 500, a 4xx too: the
 * server is up): 1 if that brings it back from aside, else 0. */
int route_answered(struct route *r, unsigned s);

/* The failures in a row of server s. */
static inline unsigned route_streak(const struct route *r, unsigned s)
{
	return r->s[s].streak;
}

#endif
