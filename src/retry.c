/* retry.c: the wait rule. */
#include "retry.h"

#include <errno.h>	/* errno */
#include <math.h>	/* isfinite */
#include <stdlib.h>	/* strtod */
#include <string.h>	/* strncmp */

int retry_status(long status)
{
	return status == 408 || status == 409 || status == 429 ||
	    (status >= 500 && status <= 599);
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Compare a header value, ignoring case and surrounding white space. */
static int value_is(const char *v, const char *word)
{
	size_t n = strlen(word), i;

	v = skip_space(v);
	for (i = 0; i < n; i++)
		if (v[i] == 0 || (v[i] | 0x20) != word[i])
			return 0;
	return *skip_space(v + n) == 0;
}

int retry_should_header(const char *v)
{
	if (v == NULL)
		return -1;
	if (value_is(v, "true"))
		return 1;
	if (value_is(v, "false"))
		return 0;
	return -1;
}

/* A non-negative decimal number of units, scaled to ms; -1 if not one. */
static long number_ms(const char *v, double scale)
{
	char *end;
	double d;

	v = skip_space(v);
	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	d = strtod(v, &end);
	if (end == v || *skip_space(end) != 0 || !isfinite(d) || d < 0)
		return -1;
	d *= scale;
	if (d > 1e12)
		d = 1e12;	/* far beyond any cap; keeps it in range */
	return (long)(d + 0.5);
}

long retry_after_ms_header(const char *v)
{
	return v ? number_ms(v, 1) : -1;
}

long long http_date(const char *v)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int day, m, hh, mm, ss, i;
	long long y, era, yoe, doy, doe, days;
	const char *p = skip_space(v);

	/* "Sun, 06 Nov 1994 08:49:37 GMT": check each fixed field. */
	if (strlen(p) < 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' ||
	    p[11] != ' ' || p[16] != ' ' || p[19] != ':' || p[22] != ':' ||
	    p[25] != ' ' || strncmp(p + 26, "GMT", 3) != 0 ||
	    *skip_space(p + 29) != 0)
		return -1;
	for (i = 0; i < 29; i++) {
		int digit = (i >= 5 && i <= 6) || (i >= 12 && i <= 15) ||
		    i == 17 || i == 18 || i == 20 || i == 21 || i == 23 ||
		    i == 24;

		if (digit && (p[i] < '0' || p[i] > '9'))
			return -1;
	}
	day = (p[5] - '0') * 10 + (p[6] - '0');
	for (m = 0; m < 12; m++)
		if (strncmp(p + 8, mon[m], 3) == 0)
			break;
	if (m == 12)
		return -1;
	y = (p[12] - '0') * 1000 + (p[13] - '0') * 100 + (p[14] - '0') * 10 +
	    (p[15] - '0');
	hh = (p[17] - '0') * 10 + (p[18] - '0');
	mm = (p[20] - '0') * 10 + (p[21] - '0');
	ss = (p[23] - '0') * 10 + (p[24] - '0');
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	/* Days from civil (Howard Hinnant), with March as month 0. */
	m += 1;
	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;
	return days * 86400 + hh * 3600 + mm * 60 + ss;
}

long retry_after_header(const char *v, time_t now)
{
	long long t;
	long ms;

	if (v == NULL)
		return -1;
	if ((ms = number_ms(v, 1000)) >= 0)
		return ms;
	if ((t = http_date(v)) < 0)
		return -1;
	if (t <= (long long)now)
		return 0;
	if (t - now > 1000000000LL)
		return 1000000000000L;
	return (long)((t - now) * 1000);
}

long retry_backoff_ms(int n, long max_ms, double u)
{
	double ms = 500;

	while (--n > 0 && ms < max_ms)
		ms *= 2;
	if (ms > max_ms)
		ms = max_ms;
	if (u < 0 || u >= 1)
		u = 0;
	return (long)(ms * (1 - 0.25 * u));
}
