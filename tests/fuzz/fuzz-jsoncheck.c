/*
 * fuzz-jsoncheck: json_check() (jsoncheck.h), the strict validator every
 * input line and server body goes through.
 *
 * The input is one JSON text candidate, in an exact-size heap copy so
 * ASan catches a read past the end.  Checked besides memory safety:
 *   - a problem's offset lies within the text and names what is wrong;
 *   - the type returned matches the first non-blank byte;
 *   - depth is monotonic: valid at a depth stays valid (same type) at a
 *     larger one, invalid at a depth stays invalid at a smaller one;
 *   - what json_check accepts json-c accepts too (strict mode, depth + 1
 *     as classify.c and sse.c set it up), with the same type: splitgpt
 *     parses with json-c right after checking, so a text that passes the
 *     check and then fails to parse would be a mismatch.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "jsoncheck.h"

#define DEPTH 64	/* splitgpt's default --max-depth */

static json_tokener *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	tok = json_tokener_new_ex(DEPTH + 1);
	if (tok == NULL)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	return 0;
}

static int expected_type(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	if (i == n)
		return -1;
	switch (s[i]) {
	case '{': case '[': case '"': case 't': case 'f':
		return s[i];
	case 'n':
		return 'u';
	default:
		return 'n';
	}
}

static json_type json_c_type(int t)
{
	switch (t) {
	case '{': return json_type_object;
	case '[': return json_type_array;
	default: return json_type_string;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int depths[] = { 1, 2, 3, DEPTH, 10000, 20000 };
	int types[sizeof(depths) / sizeof(depths[0])];
	char *s = fuzz_memdup(data, size);
	struct json_problem p;
	size_t k;

	for (k = 0; k < sizeof(depths) / sizeof(depths[0]); k++) {
		p.at = (size_t)-1;
		p.what = NULL;
		types[k] = json_check(s, size, depths[k], &p);
		if (types[k] == 0) {
			FUZZ_CHECK(p.at <= size, "problem at %zu of %zu",
			    p.at, size);
			FUZZ_CHECK(p.what != NULL && *p.what,
			    "a problem without a description");
		} else {
			FUZZ_CHECK(types[k] == expected_type(s, size),
			    "type %c for a text starting %c", types[k],
			    expected_type(s, size));
		}
		if (k > 0 && types[k - 1] != 0)
			FUZZ_CHECK(types[k] == types[k - 1],
			    "valid at depth %d but %d at depth %d",
			    depths[k - 1], types[k], depths[k]);
	}

	/* What passes the check must parse (the end of a container or a
	 * string is self-delimiting; a top-level number is not, for json-c). */
	k = 3;	/* DEPTH */
	if (types[k] == '{' || types[k] == '[' || types[k] == '"') {
		json_object *o;
		enum json_tokener_error e;

		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, s, (int)size);
		e = json_tokener_get_error(tok);
		FUZZ_CHECK(o != NULL, "json_check accepts (type %c) but "
		    "json-c says: %s", types[k], json_tokener_error_desc(e));
		FUZZ_CHECK(json_object_is_type(o, json_c_type(types[k])),
		    "json-c type %d for json_check type %c",
		    (int)json_object_get_type(o), types[k]);
		json_object_put(o);
	}
	free(s);
	return 0;
}
