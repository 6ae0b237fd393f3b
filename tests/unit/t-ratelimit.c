/* Pacing on a simulated clock; durations; the token estimate. */
#include <math.h>

#include "ratelimit.h"
#include "unit.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

/* Send n requests as early as the pacer allows; the most in any window. */
static int most_in_window(struct pacer *p, int n, const long long *cost,
    double window, double *sent)
{
	double now = 0;
	int i, j, most = 0;

	for (i = 0; i < n; i++) {
		now = pacer_ready_at(p, now, cost ? cost[i] : 0, 0);
		pacer_sent(p, now, cost ? cost[i] : 0);
		sent[i] = now;
	}
	for (i = 0; i < n; i++) {
		long long in = 0;

		/* A server's window: (t - W, t]; 1e-9 for rounding. */
		for (j = i; j < n && sent[j] < sent[i] + window - 1e-9; j++)
			in += cost ? cost[j] : 1;
		if (in > most)
			most = (int)in;
	}
	return most;
}

int main(void)
{
	struct pacer p;
	struct ratelimit_hint h;
	double sent[600];
	long long cost[600];
	int i;

	pacer_init(&p, 600, 0, 0);
	CHECK(NEAR(pacer_ready_at(&p, 0, 0, 0), 0.1), "--rpm 600: even the first request waits 0.1 s (no burst)");
	CHECK_INT(most_in_window(&p, 300, NULL, 6, sent), 60,
	    "--rpm 600: at most 60 requests in any 6 s");
	CHECK(NEAR(sent[99], 10.0), "--rpm 600: the 100th goes at 10 s");
	pacer_init(&p, 540, 0, 0);
	most_in_window(&p, 150, NULL, 6, sent);
	CHECK(fabs(149 / (sent[149] - sent[0]) * 60 - 540) < 0.01, "--rpm 540: 540 a minute exactly");

	pacer_init(&p, 600, 0, 0);
	CHECK(NEAR(pacer_ready_at(&p, 5, 0, 0), 5), "idle time is not saved up: ready now...");
	pacer_sent(&p, 5, 0);
	CHECK(NEAR(pacer_ready_at(&p, 5, 0, 0), 5.1), "... and the next 0.1 s later, no burst");

	for (i = 0; i < 600; i++)
		cost[i] = i % 7 == 0 ? 900 : 40 + i % 13;
	pacer_init(&p, 0, 60000, 0);
	CHECK(most_in_window(&p, 600, cost, 6, sent) <= 6000 + 900,
	    "--tpm 60000: at most 6000 tokens (+ the one request that opens "
	    "the window) in any 6 s, long and short mixed");
	{
		long long total = 0;

		for (i = 0; i < 600; i++)
			total += cost[i];
		CHECK(fabs(total / sent[599] * 60 / 60000 - 1) < 0.01,
		    "--tpm 60000: and the token rate is the limit");
	}

	pacer_init(&p, 6000, 0, 0);
	h = (struct ratelimit_hint){ -1, -1, -1, -1, -1, -1, 2.5 };
	pacer_hint(&p, 10, &h);
	CHECK(NEAR(pacer_ready_at(&p, 10, 0, 0), 12.5), "a 429's wait pauses new work for everyone");
	CHECK(NEAR(pacer_ready_at(&p, 13, 0, 0), 13), "... until it ends");
	pacer_hint(&p, 11, &h);
	CHECK(NEAR(p.cooldown_until, 12.5), "a 429 during the pause does not extend it");
	pacer_hint(&p, 14, &h);
	CHECK(NEAR(pacer_ready_at(&p, 14, 0, 0), 14), "nor does one soon after it: no pause after pause");
	pacer_hint(&p, 15.5, &h);
	CHECK(NEAR(pacer_ready_at(&p, 15.5, 0, 0), 18), "a 429 a full wait after the last pause starts another");

	pacer_init(&p, 0, 0, 0);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 1), "no limits: no waiting");
	h = (struct ratelimit_hint){ 100, 90, -1, -1, 5, -1, -1 };
	pacer_hint(&p, 1, &h);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 1), "published: plenty remaining, no pacing");
	h = (struct ratelimit_hint){ 100, 10, -1, -1, 5, -1, -1 };
	pacer_hint(&p, 2, &h);
	pacer_sent(&p, 2, 0);
	CHECK(NEAR(pacer_ready_at(&p, 2, 0, 0), 2 + 5.0 / 9), "published: 10 left, 5 s to reset: spread out");
	h = (struct ratelimit_hint){ 100, 0, -1, -1, 4, -1, -1 };
	pacer_hint(&p, 3, &h);
	CHECK(NEAR(pacer_ready_at(&p, 3, 0, 0), 7), "published: none left: wait for the reset");
	h = (struct ratelimit_hint){ 100, 2, -1, -1, 4, -1, -1 };
	pacer_hint(&p, 3, &h);
	pacer_sent(&p, 3, 0);
	pacer_sent(&p, 3, 0);
	CHECK(NEAR(pacer_ready_at(&p, 3, 0, 0), 7), "published: those sent since count against what remains");
	h = (struct ratelimit_hint){ 100, 5, -1, -1, 4, -1, -1 };
	pacer_hint(&p, 3, &h);
	CHECK(NEAR(pacer_ready_at(&p, 3, 0, 5), 7), "published: so do those in flight");
	pacer_init(&p, 0, 0, 0);
	h = (struct ratelimit_hint){ -1, 0, -1, -1, 4, -1, -1 };
	pacer_hint(&p, 1, &h);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 1), "nonsense: a limit of -1 is ignored");
	h = (struct ratelimit_hint){ 0, 0, -1, -1, 4, -1, -1 };
	pacer_hint(&p, 1, &h);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 1), "nonsense: a limit of 0 is ignored");
	h = (struct ratelimit_hint){ 100, 0, -1, -1, 0, -1, -1 };
	pacer_hint(&p, 1, &h);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 1), "nonsense: a reset of 0 is ignored");
	h = (struct ratelimit_hint){ 100, 500, -1, -1, 3, -1, -1 };
	pacer_hint(&p, 1, &h);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 1), "nonsense: more remaining than the limit is ignored");
	pacer_init(&p, 600, 0, 0);
	h = (struct ratelimit_hint){ 100, 0, -1, -1, 30, -1, -1 };
	pacer_hint(&p, 1, &h);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 1), "a configured --rpm wins over published request figures");

	pacer_init(&p, 0, 6000, 0);
	pacer_sent(&p, 0, 1000);
	pacer_usage(&p, 1000, 500, 1000, 600);
	/* Charged 1000 (10 s at 100 tokens/s), used 600: 4 s back. */
	CHECK(NEAR(pacer_ready_at(&p, 0, 100, 0), 10 - 4 + 1),
	    "usage below the charge refunds the difference");
	CHECK(NEAR(p.ratio, 2.0), "real prompt tokens twice the estimate: ratio 2");
	CHECK_INT(pacer_correct(&p, 50), 100, "... so later estimates are doubled");

	/* A reset of 99999h is capped at --max-retry-wait, as is a 429's. */
	pacer_init(&p, 0, 0, 0);
	pacer_cap(&p, 120);
	h = (struct ratelimit_hint){ 100, 0, -1, -1, 99999 * 3600.0, -1, -1 };
	pacer_hint(&p, 1, &h);
	CHECK(NEAR(pacer_ready_at(&p, 1, 0, 0), 121), "a reset far off: waited for no longer than the cap");
	CHECK(pacer_why(&p, 1, 0, 0) != NULL &&
	    strstr(pacer_why(&p, 1, 0, 0), "x-ratelimit-*-requests") != NULL,
	    "... and the wait says why");
	h = (struct ratelimit_hint){ -1, -1, -1, -1, -1, -1, 99999 };
	pacer_hint(&p, 200, &h);
	CHECK(NEAR(pacer_ready_at(&p, 200, 0, 0), 320), "a 429's wait far off: capped too");
	CHECK(pacer_why(&p, 400, 0, 0) == NULL, "nothing holds a request: no why");

	CHECK_INT(estimate_tokens("hello world!", 12), 3, "English: about four characters a token");
	CHECK_INT(estimate_tokens("\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c", 12), 4,
	    "Chinese: a token a character");
	CHECK_INT(estimate_tokens("\xe3\x81\x93\xe3\x82\x93", 6), 2, "Japanese kana: a token a character");
	CHECK_INT(estimate_tokens("\xed\x95\x9c", 3), 1, "Korean hangul: a token a character");
	CHECK_INT(estimate_tokens("caf\xc3\xa9", 5), 2, "Latin with accents");
	CHECK_INT(estimate_tokens("", 0), 0, "nothing: no tokens");

	CHECK(NEAR(parse_duration("1s"), 1), "duration 1s");
	CHECK(NEAR(parse_duration("6m0s"), 360), "duration 6m0s");
	CHECK(NEAR(parse_duration("12ms"), 0.012), "duration 12ms");
	CHECK(NEAR(parse_duration("2m59.56s"), 179.56), "duration 2m59.56s");
	CHECK(NEAR(parse_duration("1h2m"), 3720), "duration 1h2m");
	CHECK(NEAR(parse_duration("250us"), 0.00025), "duration 250us");
	CHECK(NEAR(parse_duration("7"), 7), "a bare number is seconds");
	CHECK(parse_duration("") < 0, "empty is not a duration");
	CHECK(parse_duration("-1s") < 0, "negative is not");
	CHECK(parse_duration("1x") < 0, "an unknown unit is not");
	CHECK(parse_duration("s") < 0, "a unit alone is not");
	CHECK(parse_duration("1s 2") < 0, "trailing junk is not");
	CHECK(parse_duration("1e400s") < 0, "an infinite number is not");
	CHECK_INT(parse_count("4999"), 4999, "count 4999");
	CHECK_INT(parse_count(" 0 "), 0, "count 0");
	CHECK_INT(parse_count("-1"), -1, "count -1 is nonsense");
	CHECK_INT(parse_count("12a"), -1, "count 12a is nonsense");
	CHECK_INT(parse_count("99999999999999999999"), -1, "an overflowing count is nonsense");
	return unit_done();
}
