/* jsoncheck.c: strict JSON validation, one pass, no allocation. */
#include "jsoncheck.h"

#include <string.h>	/* memcmp */

#include "util.h"	/* utf8_invalid_at */

#define MAX_STACK 10000	/* the highest --max-depth accepts */

struct scan {
	const unsigned char *s;
	size_t n, i;
	struct json_problem *p;
};

static int fail(struct scan *sc, const char *what)
{
	sc->p->at = sc->i;
	sc->p->what = what;
	return 0;
}

static void space(struct scan *sc)
{
	while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
	    sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
		sc->i++;
}

static int hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static int string(struct scan *sc)
{
	size_t start;

	sc->i++;	/* the opening quote */
	for (;;) {
		start = sc->i;
		while (sc->i < sc->n && sc->s[sc->i] >= 0x20 &&
		    sc->s[sc->i] != '"' && sc->s[sc->i] != '\\')
			sc->i++;
		if (sc->i > start) {
			long bad = utf8_invalid_at((const char *)sc->s + start,
			    sc->i - start);

			if (bad >= 0) {
				sc->i = start + bad;
				return fail(sc, "invalid UTF-8 in a string");
			}
		}
		if (sc->i >= sc->n)
			return fail(sc, "unterminated string");
		if (sc->s[sc->i] == '"') {
			sc->i++;
			return 1;
		}
		if (sc->s[sc->i] < 0x20)
			return fail(sc, "control character in a string");
		/* A backslash. */
		if (sc->i + 1 >= sc->n)
			return fail(sc, "unterminated string");
		switch (sc->s[sc->i + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			sc->i += 2;
			break;
		case 'u':
			if (sc->i + 6 > sc->n || !hex(sc->s[sc->i + 2]) ||
			    !hex(sc->s[sc->i + 3]) || !hex(sc->s[sc->i + 4]) ||
			    !hex(sc->s[sc->i + 5]))
				return fail(sc, "invalid \\u escape");
			sc->i += 6;
			break;
		default:
			return fail(sc, "invalid escape in a string");
		}
	}
}

static int digits(struct scan *sc)
{
	size_t start = sc->i;

	while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
		sc->i++;
	return sc->i > start;
}

static int number(struct scan *sc)
{
	if (sc->s[sc->i] == '-')
		sc->i++;
	if (sc->i < sc->n && sc->s[sc->i] == '0')
		sc->i++;
	else if (!digits(sc))
		return fail(sc, "invalid number");
	if (sc->i < sc->n && sc->s[sc->i] == '.') {
		sc->i++;
		if (!digits(sc))
			return fail(sc, "invalid number");
	}
	if (sc->i < sc->n && (sc->s[sc->i] | 0x20) == 'e') {
		sc->i++;
		if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
			sc->i++;
		if (!digits(sc))
			return fail(sc, "invalid number");
	}
	return 1;
}

static int literal(struct scan *sc, const char *word)
{
	size_t k = strlen(word);

	if (sc->n - sc->i < k || memcmp(sc->s + sc->i, word, k) != 0)
		return fail(sc, "unexpected character");
	sc->i += k;
	return 1;
}

/* One scalar at sc->i, or 0. */
static int scalar(struct scan *sc)
{
	switch (sc->s[sc->i]) {
	case '"': return string(sc);
	case 't': return literal(sc, "true");
	case 'f': return literal(sc, "false");
	case 'n': return literal(sc, "null");
	case '-': return number(sc);
	default:
		if (sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9')
			return number(sc);
		return fail(sc, "unexpected character");
	}
}

int json_check(const char *s, size_t n, int max_depth, struct json_problem *p)
{
	/* The open containers, as a bit stack: 1 for an object. */
	unsigned char stack[(MAX_STACK + 7) / 8];
	struct scan sc = { (const unsigned char *)s, n, 0, p };
	int depth = 0, type;

	if (max_depth > MAX_STACK)
		max_depth = MAX_STACK;
	space(&sc);
	if (sc.i >= n)
		return fail(&sc, n ? "no value, only white space" : "empty");
	switch (sc.s[sc.i]) {
	case '{': type = '{'; break;
	case '[': type = '['; break;
	case '"': type = '"'; break;
	case 't': type = 't'; break;
	case 'f': type = 'f'; break;
	case 'n': type = 'u'; break;
	default: type = 'n';
	}
	for (;;) {
		/* Here a value is expected. */
		space(&sc);
		if (sc.i >= n)
			return fail(&sc, "unexpected end");
		if (sc.s[sc.i] == '{' || sc.s[sc.i] == '[') {
			int obj = sc.s[sc.i] == '{';

			if (depth >= max_depth)
				return fail(&sc, "nesting too deep");
			if (obj)
				stack[depth / 8] |= 1 << (depth % 8);
			else
				stack[depth / 8] &= ~(1 << (depth % 8));
			depth++;
			sc.i++;
			space(&sc);
			if (sc.i < n && sc.s[sc.i] == (obj ? '}' : ']')) {
				sc.i++;
				depth--;
				goto after_value;
			}
			if (obj)
				goto key;
			continue;
		}
		if (!scalar(&sc))
			return 0;
after_value:
		/* A value ended: close containers or go on to the next. */
		for (;;) {
			int obj;

			space(&sc);
			if (depth == 0) {
				if (sc.i < n)
					return fail(&sc,
					    "unexpected data after the value");
				return type;
			}
			obj = stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
			if (sc.i >= n)
				return fail(&sc, "unexpected end");
			if (sc.s[sc.i] == (obj ? '}' : ']')) {
				sc.i++;
				depth--;
				continue;
			}
			if (sc.s[sc.i] != ',')
				return fail(&sc, obj ?
				    "expected ',' or '}'" : "expected ',' or ']'");
			sc.i++;
			if (!obj)
				break;
key:
			space(&sc);
			if (sc.i >= n)
				return fail(&sc, "unexpected end");
			if (sc.s[sc.i] != '"')
				return fail(&sc, "expected a string key");
			if (!string(&sc))
				return 0;
			space(&sc);
			if (sc.i >= n || sc.s[sc.i] != ':')
				return fail(&sc, "expected ':'");
			sc.i++;
			break;
		}
	}
}
