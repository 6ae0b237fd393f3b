/*
 * ratelimit.h: pacing requests to the provider's limits.
 *
 * The parent asks the pacer, before it hands out each request, when that
 * request may go; it never asks the server to say no.  Three things set
 * the time:
 *
 * Configured limits (--rpm, --tpm) are paced smoothly, pay before you
 * send: a request goes 60/rpm seconds after the one before it, and
 * cost x 60/tpm seconds after it for its tokens, so the k-th request goes
 * no earlier than k x 60/N seconds after the start and any stretch of W
 * seconds carries at most W x N/60 requests, or W x N/60 tokens plus the
 * cost of the one request that opens the stretch (costs come in lumps; a
 * limit set a little below the provider's, 90% say, covers that).  There is no
 * burst at start-up (providers enforce a minute's limit over a few
 * seconds), and time not used is not saved up, so a stall is never
 * followed by a burst.
 *
 * Published limits (the x-ratelimit-* headers of each answer) are hints:
 * when the server says few requests or tokens remain before its reset,
 * the remaining ones are spread over the time to the reset, and when none
 * remain, nothing goes until the reset.  What remains is counted down by
 * the requests sent since the hint, or by those in flight if more: an
 * answer's figures may not count requests still on their way.  Answers
 * come back out of order, so until its reset has passed a hint is only
 * replaced by one at least as pessimistic as what is left of it.
 * Values that make no sense (negative, zero, -1) are ignored.
 *
 * A 429 that asks for a wait starts a cool-down for every worker: nothing
 * new goes out until it ends.  A 429 during a cool-down, or within its
 * wait of the end of one, starts none, so a trickle of 429s cannot keep
 * the whole run paused.
 *
 * Token costs are estimates made from the request's text (see
 * estimate_tokens) plus its max_tokens times n; as answers report their
 * real usage the estimates are corrected, both the running ratio of real
 * to estimated prompt tokens and the charge already made.
 *
 * Times are seconds on the monotonic clock, passed in, so the pacer is
 * tested with a simulated clock.
 */
#ifndef SPLITGPT_RATELIMIT_H
#define SPLITGPT_RATELIMIT_H

#include <stddef.h>	/* size_t */

/* What one answer's headers said; -1 where a header was absent or absurd. */
struct ratelimit_hint {
	long long limit_requests, remaining_requests;
	long long limit_tokens, remaining_tokens;
	double reset_requests, reset_tokens;	/* seconds, or -1 */
	double cooldown;	/* a 429's wait, seconds, or -1 */
};

/* What the newest usable hint said of requests, or of tokens. */
struct published {
	double at;		/* when it came; 0: none */
	long long limit, remaining;
	double reset;		/* seconds from at to the reset */
	long long used;		/* requests or tokens sent since */
};

struct pacer {
	double rpm, tpm;	/* configured; 0: none */
	double req_tat;		/* when the last request went */
	double tok_tat;		/* when the tokens charged are paid for */
	double cooldown_until;
	struct published req, tok;
	double last_sent;
	double ratio;		/* real / estimated prompt tokens */
	double max_wait;	/* the longest wait a header may ask; 0: any */
	long long est_total, real_total;
};

void pacer_init(struct pacer *p, double rpm, double tpm, double now);
/*
 * The earliest time a request of this many tokens may go (<= now: now);
 * inflight is how many requests are out, which a hint may not count yet.
 */
double pacer_ready_at(const struct pacer *p, double now, long long tokens,
    long long inflight);
/* What makes pacer_ready_at wait, in words; NULL if nothing does. */
const char *pacer_why(const struct pacer *p, double now, long long tokens,
    long long inflight);
/*
 * Cap the waits a server's headers ask for (a reset, a 429's wait) at
 * max_wait seconds, as --max-retry-wait caps Retry-After: a reset of
 * 99999h is a server's mistake, not a reason to stop for good.
 */
void pacer_cap(struct pacer *p, double max_wait);
/* It went: charge it. */
void pacer_sent(struct pacer *p, double now, long long tokens);
/* An answer's headers. */
void pacer_hint(struct pacer *p, double now, const struct ratelimit_hint *h);
/*
 * An answer's real usage: estimated is what pacer_sent was charged,
 * prompt_est its prompt part, real_prompt and real_total the usage.
 */
void pacer_usage(struct pacer *p, long long estimated, long long prompt_est,
    long long real_prompt, long long real_total);
/* Scale a prompt estimate by what answers have shown so far. */
long long pacer_correct(const struct pacer *p, long long prompt_est);

/*
 * Tokens for text, UTF-8 aware: about four ASCII characters a token,
 * one CJK character (Han, kana, hangul) a token, two other non-ASCII
 * characters a token.
 */
long long estimate_tokens(const char *s, size_t n);

/*
 * A Go-style duration as the rate-limit headers give it ("1s", "6m0s",
 * "12ms", "2m59.56s", "1h2m"), or a bare number of seconds, in seconds;
 * -1 if it is anything else.
 */
double parse_duration(const char *s);

/* An x-ratelimit count: a non-negative whole number, else -1. */
long long parse_count(const char *s);

#endif
