/* Several servers: the least busy is picked, ties in turn; a streak of
 * failures sets a server aside, for longer each time, up to the cap; back
 * from aside it gets a probe at a time; an answer brings it back. */
#include <stdint.h>

#include "route.h"
#include "unit.h"

#define S(ms) ((uint64_t)(ms) * 1000)

int main(void)
{
	struct route r;
	unsigned out[3] = { 0, 0, 0 }, k, got[3] = { 0, 0, 0 };
	uint64_t aside, now = S(1000000), ms = 0;
	int i;

	route_init(&r, 1, 120);
	CHECK_INT(route_pick(&r, out, now, 0, &aside), 0, "one server: server 0");
	for (i = 0; i < 10; i++)
		CHECK_INT(route_failed(&r, 0, now), 0,
		    "one server is never set aside (%d)", i);
	route_free(&r);

	route_init(&r, 3, 120);
	for (i = 0; i < 6; i++)
		got[route_pick(&r, out, now, 0, &aside)]++;
	CHECK(got[0] == 2 && got[1] == 2 && got[2] == 2 && aside == 0,
	    "all idle: in turn");
	out[0] = 2, out[1] = 1, out[2] = 3;
	CHECK_INT(route_pick(&r, out, now, 0, &aside), 1, "the least busy");

	out[0] = out[1] = out[2] = 0;
	CHECK_INT(route_failed(&r, 1, now), 0, "a first failure: still in use");
	CHECK_INT(route_failed(&r, 1, now), 0, "a second: still in use");
	CHECK_INT(route_failed(&r, 1, now), ROUTE_ASIDE_MS,
	    "a third in a row: set aside for the first time");
	CHECK_INT(route_failed(&r, 1, now), 0,
	    "failures while aside change nothing");
	for (i = 0; i < 20; i++)
		CHECK(route_pick(&r, out, now, 0, &aside) != 1,
		    "an aside server gets no line (%d)", i);
	CHECK_INT(aside, 2, "and workers are told it is aside");

	now += S(ROUTE_ASIDE_MS);
	out[0] = out[2] = 5;
	CHECK_INT(route_pick(&r, out, now, 0, &aside), 1,
	    "its time over, it gets a probe");
	CHECK_INT(aside, 0, "and is not said to be aside");
	out[1] = 1;
	CHECK(route_pick(&r, out, now, 0, &aside) != 1,
	    "but one probe at a time");
	CHECK_INT(route_failed(&r, 1, now), 2 * ROUTE_ASIDE_MS,
	    "the probe fails: aside again, twice as long");
	for (k = 0; k < 10; k++) {
		now += S(ROUTE_ASIDE_MAX_MS);
		ms = route_failed(&r, 1, now);
	}
	CHECK_INT(ms, ROUTE_ASIDE_MAX_MS, "never longer than the cap");
	CHECK_INT(route_answered(&r, 1), 1, "an answer brings it back");
	CHECK_INT(route_answered(&r, 1), 0, "... once");
	CHECK_INT(route_failed(&r, 1, now), 0, "its streak starts again");
	route_failed(&r, 1, now);
	CHECK_INT(route_failed(&r, 1, now), ROUTE_ASIDE_MS,
	    "and its time aside from the first");

	route_failed(&r, 0, now);
	route_failed(&r, 0, now);
	route_failed(&r, 0, now + S(200));
	route_failed(&r, 2, now);
	route_failed(&r, 2, now);
	route_failed(&r, 2, now + S(500));
	CHECK_INT(route_pick(&r, out, now + S(10), 0, &aside), 1,
	    "every server aside: the one due back first");
	CHECK_INT(aside, 7, "all three are said to be aside");
	route_free(&r);

	/* Each server's own published limits. */
	route_init(&r, 2, 120);
	out[0] = out[1] = 0;
	{
		struct ratelimit_hint none = { 100, 0, -1, -1, 4, -1, -1 };
		double t = now / 1e6, at;
		int first;

		CHECK(route_ready_at(&r, out, t, 1, &first) == t && first < 0,
		    "nothing published: ready now");
		route_hint(&r, 0, t, &none);
		CHECK_INT(route_pick(&r, out, now, 1, &aside), 1,
		    "a server with none left: the other is picked");
		CHECK_INT(route_pick(&r, out, now, 1, &aside), 1,
		    "... again, though it is not its turn");
		out[1] = 9;
		CHECK_INT(route_pick(&r, out, now, 1, &aside), 1,
		    "... and though it is busier");
		CHECK(route_ready_at(&r, out, t, 1, &first) == t,
		    "one server ready: ready now");
		route_hint(&r, 1, t + 1, &none);
		at = route_ready_at(&r, out, t + 1, 1, &first);
		CHECK(at > t + 3.9 && at < t + 4.1 && first == 0 &&
		    route_why(&r, out, 0, t + 1, 1) != NULL,
		    "both with none left: the first reset (%.3f), and why", at - t);
		route_sent(&r, 0, t, 1);
		CHECK_INT(route_pick(&r, out, now + S(1000), 1, &aside), 0,
		    "none ready: the least busy still gets what must go");
		CHECK(route_ready_at(&r, out, t + 4.5, 1, &first) == t + 4.5,
		    "after its reset, a server lets it go");
	}
	route_free(&r);
	return unit_done();
}
