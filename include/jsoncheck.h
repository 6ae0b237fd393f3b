/*
 * jsoncheck.h: a strict RFC 8259 validator.
 *
 * json-c is lenient in ways that matter here even with its strict flag
 * (single-quoted strings pass), and splitgpt embeds server bodies in its
 * output verbatim, so anything that is not strict JSON would make an
 * invalid output line.  This checks one JSON text: exactly one value with
 * optional white space around it, strings of valid UTF-8 with no raw
 * control characters and only the standard escapes, numbers by the
 * grammar, nesting no deeper than max_depth.  It allocates nothing, uses a
 * bounded amount of stack, and never reads outside s[0..n).
 */
#ifndef SPLITGPT_JSONCHECK_H
#define SPLITGPT_JSONCHECK_H

#include <stddef.h>	/* size_t */

struct json_problem {
	size_t at;		/* byte offset of the problem */
	const char *what;	/* e.g. "unexpected character" */
};

/*
 * Returns the type of the top-level value ('{', '[', '"', 'n' for a
 * number, 't', 'f', 'u' for null), or 0 when s is not valid JSON, with
 * the problem described in *p.
 */
int json_check(const char *s, size_t n, int max_depth, struct json_problem *p);

#endif
