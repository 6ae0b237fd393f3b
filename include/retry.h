/*
 * retry.h: when to try a request again, and how long to wait first.
 *
 * The rules follow the official OpenAI client: retry 408, 409, 429 and
 * every 5xx, timeouts and connection errors; an "x-should-retry" header
 * overrides the status rule; a 429 whose error code is "insufficient_quota"
 * is billing, not load, and is never retried.  The wait is what the server
 * asks for ("retry-after-ms", else "Retry-After" as seconds or an HTTP
 * date), else exponential backoff from 0.5 s, doubling, capped, times a
 * jitter factor in [0.75, 1].
 *
 * All functions are pure (the clock and the random draw are arguments), so
 * they are unit-tested and fuzzed without a server.
 */
#ifndef SPLITGPT_RETRY_H
#define SPLITGPT_RETRY_H

#include <time.h>	/* time_t */

/* Whether an HTTP status is worth retrying by the status-code rule. */
int retry_status(long status);

/* "true" -> 1, "false" -> 0, anything else (or NULL) -> -1. */
int retry_should_header(const char *v);

/* retry-after-ms: a non-negative number of milliseconds; -1 if invalid. */
long retry_after_ms_header(const char *v);

/*
 * Retry-After: delay-seconds (a non-negative number) or an HTTP date
 * (IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT"), read against the
 * wall clock now.  Returns milliseconds (a date in the past gives 0), or
 * -1 when the value is neither.
 */
long retry_after_header(const char *v, time_t now);

/* Seconds since the epoch for an IMF-fixdate, or -1. */
long long http_date(const char *v);

/*
 * The backoff before retry number n (1 for the first retry): 500 ms
 * doubling, capped at max_ms, times (1 - 0.25 * u) for u in [0, 1).
 */
long retry_backoff_ms(int n, long max_ms, double u);

#endif
