/*
 * fuzz-sse: the incremental event-stream parser (sse.h): sse_feed(),
 * sse_end(), and the reassembled answer.
 *
 * Input: byte 0 chooses where to cut the body, byte 1 the setup (bits
 * 0-1: max_size 64, 512, 4096 or 1 MiB; bit 2: max_depth 64 or 3; bits
 * 3-4: how to cut: in two at the cut point, byte by byte, in pieces of
 * 1 to 17 bytes, or in two plus a zero-length feed); the rest is the
 * response body.  The body is parsed twice with the same struct sse, reset
 * in between as a worker reuses it: fed whole, then fed in pieces, each
 * piece an exact-size heap copy.  Checked besides memory safety:
 *   - both ways end in the same state, with the same number of events,
 *     the same token flag, the same problem text, and the same answer or
 *     error, serialised;
 *   - a finished answer and an error serialise to strict JSON objects
 *     (jsoncheck.h), since the worker embeds them in records.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "jsoncheck.h"
#include "sse.h"
#include "util.h"

static struct sse *parsers[8];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const size_t sizes[] = { 64, 512, 4096, 1 << 20 };
	int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < 8; i++)
		parsers[i] = sse_new(sizes[i & 3], i & 4 ? 3 : 64);
	return 0;
}

struct outcome {
	enum sse_state state;
	size_t events;
	int token;
	struct buf problem;
	struct buf json;	/* the answer or the error, serialised */
};

static void serialise(json_object *o, struct buf *b, const char *what)
{
	const char *s;
	size_t n;
	struct json_problem pb;

	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	buf_add(b, s, n);
	FUZZ_CHECK(json_check(b->data, b->len, 10000, &pb) == '{',
	    "the %s is not a strict JSON object (%s at byte %zu): %s", what,
	    pb.what, pb.at, b->data);
}

static void finish(struct sse *s, struct outcome *out)
{
	json_object *r;

	out->state = sse_end(s);
	FUZZ_CHECK(out->state >= SSE_RUNNING && out->state <= SSE_TOO_LARGE,
	    "state %d", (int)out->state);
	out->events = sse_events(s);
	out->token = sse_got_token(s);
	buf_adds(&out->problem, sse_problem(s));
	if (out->state == SSE_DONE) {
		r = sse_result(s);
		FUZZ_CHECK(r != NULL, "done without an answer");
		serialise(r, &out->json, "answer");
		json_object_put(r);
	} else {
		FUZZ_CHECK(sse_result(s) == NULL, "an answer when not done");
	}
	if (out->state == SSE_ERROR) {
		FUZZ_CHECK(sse_error(s) != NULL, "an error state, no error");
		serialise(sse_error(s), &out->json, "error");
	}
	if (out->state == SSE_BAD || out->state == SSE_TOO_LARGE)
		FUZZ_CHECK(out->problem.len > 0, "state %d with no problem",
		    (int)out->state);
	buf_adds(&out->json, "");
}

static void feed(struct sse *s, const uint8_t *p, size_t n)
{
	char *piece = fuzz_memdup(p, n);

	(void)sse_feed(s, piece, n);
	free(piece);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole = { 0 }, parts = { 0 };
	struct sse *s;
	const uint8_t *body;
	size_t n, cut, at, k;
	unsigned mode;

	if (size < 2)
		return 0;
	s = parsers[data[1] & 7];
	mode = (data[1] >> 3) & 3;
	body = data + 2;
	n = size - 2;
	cut = n ? (size_t)data[0] * n / 255 : 0;

	sse_reset(s);
	feed(s, body, n);
	finish(s, &whole);

	sse_reset(s);
	switch (mode) {
	case 1:		/* byte by byte */
		for (at = 0; at < n; at++)
			feed(s, body + at, 1);
		break;
	case 2:		/* pieces of 1 to 17 bytes */
		k = 1 + data[0] % 17;
		for (at = 0; at < n; at += k)
			feed(s, body + at, n - at < k ? n - at : k);
		break;
	case 3:		/* two pieces with nothing between */
		feed(s, body, cut);
		feed(s, body + cut, 0);
		feed(s, body + cut, n - cut);
		break;
	default:	/* two pieces */
		feed(s, body, cut);
		feed(s, body + cut, n - cut);
	}
	finish(s, &parts);

	FUZZ_CHECK(whole.state == parts.state, "state %d whole, %d in pieces "
	    "(mode %u, cut %zu): %s / %s", (int)whole.state, (int)parts.state,
	    mode, cut, whole.problem.data, parts.problem.data);
	FUZZ_CHECK(whole.events == parts.events, "%zu events whole, %zu in "
	    "pieces", whole.events, parts.events);
	FUZZ_CHECK(whole.token == parts.token, "token %d whole, %d in pieces",
	    whole.token, parts.token);
	FUZZ_CHECK(strcmp(whole.problem.data, parts.problem.data) == 0,
	    "problem \"%s\" whole, \"%s\" in pieces", whole.problem.data,
	    parts.problem.data);
	FUZZ_CHECK(strcmp(whole.json.data, parts.json.data) == 0,
	    "answer %s whole, %s in pieces", whole.json.data,
	    parts.json.data);

	buf_release(&whole.problem);
	buf_release(&whole.json);
	buf_release(&parts.problem);
	buf_release(&parts.json);
	return 0;
}
