/* The strict JSON validator. */
#include <stdlib.h>

#include "jsoncheck.h"
#include "unit.h"

static int check(const char *s)
{
	struct json_problem p;

	return json_check(s, strlen(s), 64, &p);
}

static const char *why(const char *s)
{
	static struct json_problem p;

	return json_check(s, strlen(s), 64, &p) ? "valid" : p.what;
}

int main(void)
{
	static const char *good[] = {
		"{}", "[]", " { \"a\" : [1, -2.5e+3, 0, true, false, null, \"x\"] } ",
		"\"\\u00e9\\n\\\\\\/\"", "0", "-0.0E1", "{\"a\":{\"b\":{\"c\":[]}}}",
		"\"\xe4\xbd\xa0\"", "[[],[{}]]", "\r\n\t[1]\n",
	};
	static const char *bad[] = {
		"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{'a':1}", "{a:1}",
		"[01]", "[1.]", "[.5]", "[1e]", "[+1]", "[NaN]", "[Infinity]",
		"\"\\x\"", "\"\\u12\"", "\"a\tb\"", "\"\xff\"", "[1] [2]", "[tru]",
		"[nul", "{\"a\" 1}", "[1 2]", "// c\n1", "\"abc",
	};
	struct json_problem p;
	char deep[200];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		CHECK(check(good[i]) != 0, "valid: good[%zu]", i);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(check(bad[i]) == 0, "invalid: bad[%zu] (%s)", i, why(bad[i]));
	CHECK_INT(check("{\"a\":1}"), '{', "type of an object");
	CHECK_INT(check("\"s\""), '"', "type of a string");
	CHECK_INT(check("12"), 'n', "type of a number");
	CHECK_INT(check("null"), 'u', "type of null");

	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	CHECK(json_check(deep, 128, 64, &p) != 0, "64 deep at a limit of 64");
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	CHECK(json_check(deep, 130, 64, &p) == 0 && p.at == 64 &&
	    !strcmp(p.what, "nesting too deep"), "65 deep is refused at byte 64");
	CHECK(json_check("[1,x]", 5, 64, &p) == 0 && p.at == 3, "the offset points at the problem");
	CHECK(json_check("[1]", 2, 64, &p) == 0, "never reads past n");
	{
		size_t n = 200000;
		char *s = malloc(n);

		memset(s, '[', n);
		CHECK(json_check(s, n, 10000, &p) == 0, "200,000 open brackets: refused, no crash");
		free(s);
	}
	return unit_done();
}
