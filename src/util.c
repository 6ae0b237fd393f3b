/* util.c: messages, allocation, buffers, full reads and writes, clocks. */
#include "util.h"

#include <errno.h>	/* errno, EINTR */
#include <fcntl.h>	/* fcntl */
#include <limits.h>	/* LLONG_MAX */
#include <math.h>	/* isfinite */
#include <stdarg.h>	/* va_list */
#include <stdio.h>	/* vfprintf, vsnprintf */
#include <stdlib.h>	/* malloc, strtoll, exit */
#include <string.h>	/* memcpy, strerror */
#include <time.h>	/* clock_gettime, nanosleep */
#include <unistd.h>	/* read, write */

const char *progname = "splitgpt";
void (*before_message)(void);

static void vmessage(const char *fmt, va_list ap, int errnum)
{
	char line[1024];
	int n;

	if (before_message)
		before_message();
	/* One write per message, so lines from several processes don't mix. */
	n = snprintf(line, sizeof(line), "%s: ", progname);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (errnum)
		n += snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)write_full(2, line, n);
}

void die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, 0);
	va_end(ap);
	exit(status);
}

void die_errno(int status, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vmessage(fmt, ap, e);
	va_end(ap);
	exit(status);
}

void warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, 0);
	va_end(ap);
}

void warn_errno(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vmessage(fmt, ap, e);
	va_end(ap);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die(EXIT_INTERNAL, "out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		die(EXIT_INTERNAL, "out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die(EXIT_INTERNAL, "out of memory allocating %zu bytes", n);
	return p;
}

char *xmemdup(const void *p, size_t n)
{
	char *s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

void buf_grow(struct buf *b, size_t n)
{
	size_t want;

	if (b->len + n + 1 <= b->cap)
		return;
	if (n > SIZE_MAX / 2 - b->len)
		die(EXIT_INTERNAL, "buffer size overflow");
	want = b->cap ? b->cap : 64;
	while (want < b->len + n + 1)
		want *= 2;
	b->data = xrealloc(b->data, want);
	b->cap = want;
}

void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL,
	    b->data ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(EXIT_INTERNAL, "vsnprintf failed");
	if (b->data == NULL || (size_t)n >= b->cap - b->len) {
		buf_grow(b, n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += n;
}

/*
 * JSON string escaping: quotes, backslash and control characters.  Bytes
 * >= 0x80 go through untouched; the callers hand in text that is either
 * already validated UTF-8 or comes from the user's own valid JSON.
 */
size_t utf8_seq_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char c, lo = 0x80, hi = 0xbf;
	size_t k, need;

	if (n == 0)
		return 0;
	c = u[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n <= need)
		return 0;
	for (k = 1; k <= need; k++)
		if (u[k] < (k == 1 ? lo : 0x80) || u[k] > (k == 1 ? hi : 0xbf))
			return 0;
	return need + 1;
}

long utf8_invalid_at(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq_len(s + i, n - i)) == 0)
			return (long)i;
		i += k;
	}
	return -1;
}

void buf_add_json_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0, k;

	buf_grow(b, n + 2);
	buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		char esc[6];
		size_t elen = 2;

		if (c >= 0x80) {
			if ((k = utf8_seq_len(s + i, n - i)) > 0) {
				i += k - 1;
				continue;
			}
			buf_add(b, s + run, i - run);
			run = i + 1;
			buf_adds(b, "\\ufffd");
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(b, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		buf_add(b, esc, elen);
	}
	buf_add(b, s + run, n - run);
	buf_addc(b, '"');
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

void buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = 0;
}

ssize_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			if (got == 0)
				return 0;
			errno = EIO;
			return -1;
		}
		got += r;
	}
	return got;
}

int has_bytes(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s), i;

	for (i = 0; i + k <= n; i++)
		if (p[i] == s[0] && memcmp(p + i, s, k) == 0)
			return 1;
	return 0;
}

void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die_errno(EXIT_INTERNAL, "fcntl");
}

int write_full(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p = (const char *)p + w;
		n -= w;
	}
	return 0;
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t now_ms(void)
{
	return now_us() / 1000;
}

double now_s(void)
{
	return now_us() / 1e6;
}

uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long parse_num(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != 0)
		die(EXIT_USAGE, "%s %s: not a whole number", opt, s);
	if ((errno == ERANGE && v < 0) || v < min)
		die(EXIT_USAGE, "%s %s: too small (at least %lld)", opt, s, min);
	if (errno == ERANGE || v > max)
		die(EXIT_USAGE, "%s %s: too large (at most %lld)", opt, s, max);
	return v;
}

static double parse_double(const char *opt, const char *s, double min,
    double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != 0 || !isfinite(v))
		die(EXIT_USAGE, "%s %s: not %s", opt, s, what);
	if (v < min)
		die(EXIT_USAGE, "%s %s: too small (at least %g)", opt, s, min);
	if (v > max)
		die(EXIT_USAGE, "%s %s: too large (at most %g)", opt, s, max);
	return v;
}

double parse_seconds(const char *opt, const char *s, double min, double max)
{
	return parse_double(opt, s, min, max, "a number of seconds");
}

double parse_real(const char *opt, const char *s, double min, double max)
{
	return parse_double(opt, s, min, max, "a number");
}

long long parse_size(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	long long v, mul = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s)
		die(EXIT_USAGE, "%s %s: not a size", opt, s);
	switch (*end) {
	case 'k': case 'K': mul = 1LL << 10; end++; break;
	case 'm': case 'M': mul = 1LL << 20; end++; break;
	case 'g': case 'G': mul = 1LL << 30; end++; break;
	}
	if (*end != 0)
		die(EXIT_USAGE, "%s %s: not a size (a number with K, M or G)", opt, s);
	if (errno == ERANGE || (v > 0 && v > LLONG_MAX / mul))
		die(EXIT_USAGE, "%s %s: too large (at most %lld)", opt, s, max);
	v *= mul;
	if (v < min)
		die(EXIT_USAGE, "%s %s: too small (at least %lld)", opt, s, min);
	if (v > max)
		die(EXIT_USAGE, "%s %s: too large (at most %lld)", opt, s, max);
	return v;
}

uint64_t hash64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}
