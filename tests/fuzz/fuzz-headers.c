/*
 * fuzz-headers: the parsers of response header values --
 * retry_should_header(), retry_after_ms_header(), retry_after_header(),
 * http_date() (retry.h); parse_duration(), parse_count() (ratelimit.h) --
 * and estimate_tokens() (ratelimit.h) on the raw bytes.
 *
 * Input: one header value.  The header parsers take C strings, so they get
 * a NUL-terminated heap copy of the bytes up to the first NUL (as libcurl
 * hands values over); estimate_tokens gets the exact-size bytes.
 * Checked besides memory safety and UB (float-to-integer overflow
 * included):
 *   - every result is in its documented range: should-retry in {-1,0,1};
 *     waits -1 or >= 0; a date -1 or a time; a duration -1 or a finite
 *     number of seconds >= 0; a count -1 or >= 0;
 *   - a value that is an HTTP date gives a Retry-After wait that matches
 *     it against the clock;
 *   - the token estimate is between 0 and the byte count, and 0 only for
 *     no bytes.
 */
#include <math.h>	/* isfinite */

#include "fuzz.h"
#include "ratelimit.h"
#include "retry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const time_t now = 1700000000;	/* Tue, 14 Nov 2023 22:13:20 GMT */
	char *buf = fuzz_memdup(data, size), *v;
	const uint8_t *nul = memchr(data, 0, size);
	long ms, after;
	long long t, count, tokens;
	double d;
	int should;

	v = fuzz_strndup(data, nul ? (size_t)(nul - data) : size);

	should = retry_should_header(v);
	FUZZ_CHECK(should >= -1 && should <= 1, "should-retry %d", should);
	FUZZ_CHECK(retry_should_header(NULL) == -1, "should-retry NULL");

	ms = retry_after_ms_header(v);
	FUZZ_CHECK(ms >= -1, "retry-after-ms %ld", ms);
	FUZZ_CHECK(retry_after_ms_header(NULL) == -1, "retry-after-ms NULL");

	t = http_date(v);
	/* Years 0000 to 9999; those before 1970 come out negative. */
	FUZZ_CHECK(t >= -62167219200LL && t <= 253402300800LL + 3 * 86400,
	    "http_date %lld", t);
	after = retry_after_header(v, now);
	FUZZ_CHECK(after >= -1, "retry-after %ld", after);
	if (t >= 0 && after >= 0 && retry_after_ms_header(v) < 0)
		FUZZ_CHECK(t <= now ? after == 0 :
		    after == (t - now > 1000000000LL ? 1000000000000L :
		    (long)((t - now) * 1000)),
		    "retry-after %ld for a date %lld at %lld", after, t,
		    (long long)now);
	FUZZ_CHECK(retry_after_header(NULL, now) == -1, "retry-after NULL");

	d = parse_duration(v);
	FUZZ_CHECK(d == -1 || (d >= 0 && isfinite(d)), "duration %g", d);
	count = parse_count(v);
	FUZZ_CHECK(count >= -1, "count %lld", count);

	tokens = estimate_tokens(buf, size);
	FUZZ_CHECK(tokens >= 0 && tokens <= (long long)size &&
	    (tokens > 0) == (size > 0), "%lld tokens for %zu bytes", tokens,
	    size);

	free(v);
	free(buf);
	return 0;
}
