/* The wait rule: statuses, headers, dates, backoff, jitter, caps. */
#include "retry.h"
#include "unit.h"

int main(void)
{
	const time_t now = 784111777;	/* Sun, 06 Nov 1994 08:49:37 GMT */
	long v;
	int i, n, in_range;

	CHECK(retry_status(408) && retry_status(409) && retry_status(429),
	    "408, 409 and 429 are retried");
	CHECK(retry_status(500) && retry_status(503) && retry_status(599),
	    "every 5xx is retried");
	CHECK(!retry_status(400) && !retry_status(401) && !retry_status(404) &&
	    !retry_status(422) && !retry_status(200), "other statuses are not");

	CHECK_INT(retry_should_header("true"), 1, "x-should-retry: true");
	CHECK_INT(retry_should_header(" FALSE "), 0, "x-should-retry: FALSE (case, spaces)");
	CHECK_INT(retry_should_header("maybe"), -1, "x-should-retry: garbage is ignored");
	CHECK_INT(retry_should_header(NULL), -1, "x-should-retry absent");

	CHECK_INT(retry_after_ms_header("1500"), 1500, "retry-after-ms: 1500");
	CHECK_INT(retry_after_ms_header("12.6"), 13, "retry-after-ms: a fraction rounds");
	CHECK_INT(retry_after_ms_header("-5"), -1, "retry-after-ms: negative is garbage");
	CHECK_INT(retry_after_ms_header("abc"), -1, "retry-after-ms: words are garbage");
	CHECK_INT(retry_after_ms_header(""), -1, "retry-after-ms: empty is garbage");

	CHECK_INT(retry_after_header("1", now), 1000, "Retry-After: 1 second");
	CHECK_INT(retry_after_header(" 2.5 ", now), 2500, "Retry-After: 2.5 seconds");
	CHECK_INT(retry_after_header("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000,
	    "Retry-After: an HTTP date 10 s ahead");
	CHECK_INT(retry_after_header("Sun, 06 Nov 1994 08:49:00 GMT", now), 0,
	    "Retry-After: a date in the past means now");
	CHECK_INT(retry_after_header("Sunday, 06-Nov-94 08:49:37 GMT", now), -1,
	    "Retry-After: the obsolete RFC 850 form is garbage");
	CHECK_INT(retry_after_header("Sun, 06 Foo 1994 08:49:37 GMT", now), -1,
	    "Retry-After: a bad month is garbage");
	CHECK_INT(retry_after_header("soon", now), -1, "Retry-After: words are garbage");
	CHECK_INT(retry_after_header("1e30", now), 1000000000000L,
	    "Retry-After: absurdly large is clamped, not overflowed");
	CHECK_INT(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0, "the epoch");
	CHECK_INT(http_date("Tue, 29 Feb 2000 12:00:00 GMT"), 951825600, "a leap day");
	CHECK_INT(http_date("Fri, 31 Dec 2099 23:59:59 GMT"), 4102444799LL, "far ahead");

	CHECK_INT(retry_backoff_ms(1, 30000, 0), 500, "first retry: 0.5 s");
	CHECK_INT(retry_backoff_ms(2, 30000, 0), 1000, "second: 1 s");
	CHECK_INT(retry_backoff_ms(5, 30000, 0), 8000, "fifth: 8 s");
	CHECK_INT(retry_backoff_ms(20, 30000, 0), 30000, "capped at the maximum");
	CHECK_INT(retry_backoff_ms(1000000, 30000, 0), 30000, "a huge count stays capped");
	CHECK_INT(retry_backoff_ms(3, 1200, 0), 1200, "a small cap");
	CHECK_INT(retry_backoff_ms(1, 30000, 0.999999), 375, "jitter takes off at most a quarter");
	in_range = 1;
	for (i = 0, n = 1; i < 1000; i++, n = n % 8 + 1) {
		v = retry_backoff_ms(n, 30000, i / 1000.0);
		if (v < 0.75 * retry_backoff_ms(n, 30000, 0) - 1 ||
		    v > retry_backoff_ms(n, 30000, 0))
			in_range = 0;
	}
	CHECK(in_range, "jitter keeps every wait in [0.75, 1] of the base");
	CHECK_INT(retry_backoff_ms(1, 30000, 7), 500, "a draw outside [0,1) counts as 0");
	return unit_done();
}
