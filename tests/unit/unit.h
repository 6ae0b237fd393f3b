/*
 * unit.h: a very small test harness.  Each check prints a TAP line,
 * "ok N - what" or "not ok N - what", and unit_done() returns the exit
 * status; tests/run counts the lines.
 */
#ifndef SPLITGPT_UNIT_H
#define SPLITGPT_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_n, unit_failed;

#define CHECK(cond, ...) do { \
	int ok_ = (cond) ? 1 : 0; \
	printf("%sok %d - ", ok_ ? "" : "not ", ++unit_n); \
	printf(__VA_ARGS__); \
	printf("\n"); \
	if (!ok_) { \
		unit_failed++; \
		printf("#   failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
	} \
} while (0)

#define CHECK_STR(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	int same_ = g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_; \
	CHECK(same_, __VA_ARGS__); \
	if (!same_) \
		printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)", \
		    w_ ? w_ : "(null)"); \
} while (0)

#define CHECK_INT(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	CHECK(g_ == w_, __VA_ARGS__); \
	if (g_ != w_) \
		printf("#   got:  %lld\n#   want: %lld\n", g_, w_); \
} while (0)

static int unit_done(void)
{
	printf("1..%d\n", unit_n);
	return unit_failed ? 1 : 0;
}

#endif
