/* Server-sent events: parsing in any pieces, and reassembled answers. */
#include <json-c/json.h>
#include <stdlib.h>

#include "evstream.h"
#include "sse.h"
#include "unit.h"
#include "util.h"

#define BIG (1 << 20)

static struct sse *s;
static struct buf got;

/*
 * Feed text to the parser in pieces: whole (step 0), byte by byte (step
 * 1), or of random sizes from seed (step -1); then end it.  Leaves the
 * serialised answer, or "" when there is none, in got.
 */
static enum sse_state run(const char *text, int step, unsigned seed)
{
	size_t n = strlen(text), at = 0, k;
	enum sse_state st = SSE_RUNNING;
	json_object *r;

	sse_reset(s);
	buf_reset(&got);
	buf_adds(&got, "");
	while (at < n && st == SSE_RUNNING) {
		if (step == 0)
			k = n;
		else if (step > 0)
			k = (size_t)step;
		else {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 23;
		}
		if (k > n - at)
			k = n - at;
		st = sse_feed(s, text + at, k);
		at += k;
	}
	st = sse_end(s);
	if (st == SSE_DONE && (r = sse_result(s)) != NULL) {
		buf_adds(&got, json_object_to_json_string_ext(r,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(r);
	}
	return st;
}

/* Every way of cutting text up gives want. */
static void same_in_pieces(const char *text, const char *want,
    const char *what)
{
	enum sse_state st;
	unsigned seed;
	int bad = 0;

	st = run(text, 0, 0);
	CHECK_INT(st, SSE_DONE, "%s: complete when fed whole", what);
	CHECK_STR(got.data, want, "%s: the reassembled answer", what);
	st = run(text, 1, 0);
	CHECK(st == SSE_DONE && strcmp(got.data, want) == 0,
	    "%s: the same fed byte by byte", what);
	for (seed = 1; seed <= 50; seed++) {
		st = run(text, -1, seed);
		if (st != SSE_DONE || strcmp(got.data, want) != 0)
			bad++;
	}
	CHECK_INT(bad, 0, "%s: the same in random pieces (50 ways)", what);
}

/* Replace every "\n" of text with eol, into out. */
static const char *with_eol(struct buf *out, const char *text, const char *eol)
{
	buf_reset(out);
	for (; *text; text++) {
		if (*text == '\n')
			buf_adds(out, eol);
		else
			buf_addc(out, *text);
	}
	return out->data;
}

#define CHUNK(delta, fin) \
	"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\"," \
	"\"created\":1700000000,\"model\":\"m\",\"system_fingerprint\":\"fp\"," \
	"\"choices\":[{\"index\":0,\"delta\":" delta ",\"logprobs\":null," \
	"\"finish_reason\":" fin "}],\"usage\":null}\n\n"

static const char chat[] =
    CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "null")
    CHUNK("{\"content\":\"Hel\"}", "null")
    CHUNK("{\"content\":\"lo, \\u00e9t\\u00e9 \\\"q\\\"\"}", "null")
    CHUNK("{\"content\":\" / \\n end\"}", "null")
    CHUNK("{}", "\"stop\"")
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000000,\"model\":\"m\",\"system_fingerprint\":\"fp\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,"
    "\"total_tokens\":12}}\n\n"
    "data: [DONE]\n\n";

static const char chat_want[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
    "\"created\":1700000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":"
    "\"Hello, \xc3\xa9t\xc3\xa9 \\\"q\\\" / \\n end\"},\"logprobs\":null,"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,"
    "\"completion_tokens\":7,\"total_tokens\":12},"
    "\"system_fingerprint\":\"fp\"}";

static void test_chat(void)
{
	struct buf t = { 0 }, w = { 0 };
	const char *hello;

	same_in_pieces(chat, chat_want, "chat, LF");
	same_in_pieces(with_eol(&t, chat, "\r\n"), chat_want, "chat, CR LF");
	same_in_pieces(with_eol(&t, chat, "\r"), chat_want, "chat, CR");
	/* Comments and keep-alives between and inside events, a field with
	 * no space after the colon, an id and a retry field. */
	same_in_pieces(with_eol(&t, chat, "\n: keep-alive\n:\n"), chat_want,
	    "chat with comments after every line");
	same_in_pieces(with_eol(&t, chat, "\r\n:ping\r\nid: 7\r\nretry: 10\r\n"),
	    chat_want, "chat with comments, id and retry fields, CR LF");
	/* A BOM first is no part of the first line, however it is cut: the
	 * first event (with content) is not lost. */
	buf_reset(&t);
	buf_adds(&t, "\xef\xbb\xbf" CHUNK("{\"content\":\"X\"}", "null"));
	buf_adds(&t, chat);
	hello = strstr(chat_want, "Hello");
	buf_add(&w, chat_want, (size_t)(hello - chat_want));
	buf_adds(&w, "X");
	buf_adds(&w, hello);
	same_in_pieces(t.data, w.data, "chat after a BOM");
	buf_release(&t);
	buf_release(&w);
}

static void test_multiline(void)
{
	/* One event's JSON over three data lines, joined with LF. */
	const char *text =
	    "event: message\n"
	    "data:{\"object\":\"chat.completion.chunk\",\"model\":\"m\",\n"
	    "data: \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
	    "\"content\":\"a\"},\n"
	    "data: \"finish_reason\":\"length\"}]}\n"
	    "\n"
	    "data\n"		/* an empty data line, no colon */
	    "\n"
	    "data: [DONE]\n"
	    "\n";

	CHECK_INT(run(text, 0, 0), SSE_BAD,
	    "an event whose data is an empty line is not JSON");
	text =
	    "data:{\"object\":\"chat.completion.chunk\",\"model\":\"m\",\n"
	    "data: \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
	    "\"content\":\"a\"},\n"
	    "data: \"finish_reason\":\"length\"}]}\n"
	    "\n"
	    "\n\n\n"		/* empty lines dispatch nothing */
	    "data: [DONE]\n"
	    "\n";
	same_in_pieces(text, "{\"object\":\"chat.completion\",\"model\":\"m\","
	    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	    "\"content\":\"a\"},\"logprobs\":null,\"finish_reason\":\"length\"}]}",
	    "multi-line data");
	CHECK_INT(sse_events(s), 2, "... two events dispatched");
}

static void test_error(void)
{
	json_object *e, *m;
	const char *text =
	    CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "null")
	    CHUNK("{\"content\":\"Hel\"}", "null")
	    "data: {\"error\":{\"message\":\"The server had an error\","
	    "\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";

	CHECK_INT(run(text, 1, 0), SSE_ERROR, "an error event: SSE_ERROR");
	e = sse_error(s);
	CHECK(e && json_object_object_get_ex(e, "message", &m) &&
	    strcmp(json_object_get_string(m), "The server had an error") == 0,
	    "... with the error object");
	CHECK(sse_result(s) == NULL, "... and no answer");
	CHECK_INT(sse_feed(s, "data: [DONE]\n\n", 14), SSE_ERROR,
	    "what follows an error changes nothing");

	text = "event: error\n"
	    "data: {\"type\":\"error\",\"code\":\"context_length_exceeded\","
	    "\"message\":\"too long\",\"param\":null}\n\n";
	CHECK_INT(run(text, 0, 0), SSE_ERROR,
	    "a Responses error event: SSE_ERROR");
	CHECK(json_object_object_get_ex(sse_error(s), "code", &m) &&
	    strcmp(json_object_get_string(m), "context_length_exceeded") == 0,
	    "... with its code");
	text = "error: {\"code\":400,\"message\":\"too long\","
	    "\"type\":\"invalid_request_error\"}\n\n";
	CHECK_INT(run(text, 0, 0), SSE_ERROR,
	    "llama-server's error: line: SSE_ERROR");
	CHECK(json_object_object_get_ex(sse_error(s), "code", &m) &&
	    json_object_get_int(m) == 400, "... with its object");
	CHECK_INT(run("error: {\"error\":{\"code\":500}}\n\n", 0, 0),
	    SSE_ERROR, "an error: line with an error object inside");
	CHECK(json_object_object_get_ex(sse_error(s), "code", &m) &&
	    json_object_get_int(m) == 500, "... gives the inner object");
	CHECK_INT(run("data: {\"error\":\"overloaded\"}\n\n", 0, 0), SSE_ERROR,
	    "an error that is a bare string");
	CHECK(json_object_object_get_ex(sse_error(s), "message", &m) &&
	    strcmp(json_object_get_string(m), "overloaded") == 0,
	    "... becomes its message");
}

static void test_cut(void)
{
	struct buf t = { 0 };
	const char *done;

	buf_adds(&t, chat);
	done = strstr(t.data, "data: [DONE]");
	t.len = (size_t)(done - t.data);
	t.data[t.len] = 0;
	CHECK_INT(run(t.data, 0, 0), SSE_RUNNING,
	    "a stream without [DONE] is not complete");
	CHECK_STR(got.data, "", "... and has no answer");
	CHECK_INT(run(t.data, 3, 0), SSE_RUNNING, "... fed in threes too");

	/* The leniency: a last event whose lines ended, no blank line. */
	buf_adds(&t, "data: [DONE]\n");
	CHECK_INT(run(t.data, 0, 0), SSE_DONE,
	    "[DONE] with no blank line after it still ends the stream");
	buf_adds(&t, "\n");
	t.len -= 8;	/* "[DONE]\n\n" -> "[DO" */
	t.data[t.len] = 0;
	CHECK_INT(run(t.data, 0, 0), SSE_RUNNING,
	    "a stream cut inside its last line is not complete");
	CHECK_INT(run("", 0, 0), SSE_RUNNING, "an empty body is not complete");
	CHECK_INT(run("data: [DONE]\n\n", 0, 0), SSE_BAD,
	    "[DONE] with no answer before it is refused");
	buf_release(&t);
}

#define TCHUNK(tc) \
	"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1," \
	"\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":" \
	tc "},\"finish_reason\":null}]}\n\n"

static void test_tools(void)
{
	const char *text =
	    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
	    "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
	    "\"delta\":{\"role\":\"assistant\",\"content\":null,"
	    "\"refusal\":null},\"finish_reason\":null}]}\n\n"
	    TCHUNK("[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\","
	    "\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]")
	    TCHUNK("[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]")
	    TCHUNK("[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\","
	    "\"function\":{\"name\":\"get_time\",\"arguments\":\"{\"}}]")
	    TCHUNK("[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"Oslo\\\"}\"}}]")
	    TCHUNK("[{\"index\":1,\"function\":{\"arguments\":\"}\"}}]")
	    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
	    "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
	    "\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
	    "data: [DONE]\n\n";

	same_in_pieces(text,
	    "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,"
	    "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":null,\"refusal\":null,\"tool_calls\":["
	    "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\"}\"}},"
	    "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"get_time\",\"arguments\":\"{}\"}}]},\"logprobs\":null,"
	    "\"finish_reason\":\"tool_calls\"}]}",
	    "tool_calls deltas, interleaved, by index");
	CHECK(sse_got_token(s), "... a tool call counts as a token");
}

#define NCHUNK(i, delta, fin) \
	"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1," \
	"\"model\":\"m\",\"choices\":[{\"index\":" #i ",\"delta\":" delta \
	",\"finish_reason\":" fin "}]}\n\n"

static void test_n(void)
{
	const char *text =
	    NCHUNK(0, "{\"role\":\"assistant\",\"content\":\"\"}", "null")
	    NCHUNK(1, "{\"role\":\"assistant\",\"content\":\"\"}", "null")
	    NCHUNK(1, "{\"content\":\"B1\"}", "null")
	    NCHUNK(0, "{\"content\":\"A1\"}", "null")
	    NCHUNK(0, "{\"content\":\"A2\"}", "null")
	    NCHUNK(1, "{\"content\":\"B2\"}", "null")
	    NCHUNK(1, "{}", "\"length\"")
	    NCHUNK(0, "{}", "\"stop\"")
	    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
	    "\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":"
	    "{\"prompt_tokens\":1,\"completion_tokens\":4,\"total_tokens\":5}}\n\n"
	    "data: [DONE]\n\n";

	same_in_pieces(text,
	    "{\"id\":\"c\",\"object\":\"chat.completion\",\"created\":1,"
	    "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"A1A2\"},\"logprobs\":null,"
	    "\"finish_reason\":\"stop\"},{\"index\":1,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"B1B2\"},\"logprobs\":null,"
	    "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":1,"
	    "\"completion_tokens\":4,\"total_tokens\":5}}",
	    "n=2: deltas grouped by choice index");
}

static void test_completions(void)
{
	const char *text =
	    "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\","
	    "\"created\":2,\"choices\":[{\"text\":\"ec\",\"index\":0,"
	    "\"logprobs\":{\"tokens\":[\"ec\"],\"token_logprobs\":[-0.5]},"
	    "\"finish_reason\":null}],\"model\":\"m\"}\n\n"
	    "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\","
	    "\"created\":2,\"choices\":[{\"text\":\"ho\",\"index\":0,"
	    "\"logprobs\":{\"tokens\":[\"ho\"],\"token_logprobs\":[-0.25]},"
	    "\"finish_reason\":\"stop\"}],\"model\":\"m\"}\n\n"
	    "data: [DONE]\n\n";

	same_in_pieces(text,
	    "{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"created\":2,"
	    "\"model\":\"m\",\"choices\":[{\"text\":\"echo\",\"index\":0,"
	    "\"logprobs\":{\"tokens\":[\"ec\",\"ho\"],\"token_logprobs\":"
	    "[-0.5,-0.25]},\"finish_reason\":\"stop\"}]}",
	    "completions: text and logprobs concatenated");
}

static void test_responses(void)
{
	const char *text =
	    "event: response.created\n"
	    "data: {\"type\":\"response.created\",\"sequence_number\":0,"
	    "\"response\":{\"id\":\"r\",\"status\":\"in_progress\","
	    "\"output\":[]}}\n\n"
	    "event: response.output_text.delta\n"
	    "data: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n"
	    "event: response.completed\n"
	    "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\","
	    "\"status\":\"completed\",\"output\":[{\"type\":\"message\","
	    "\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}],"
	    "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n";

	same_in_pieces(text, "{\"id\":\"r\",\"status\":\"completed\","
	    "\"output\":[{\"type\":\"message\",\"content\":[{\"type\":"
	    "\"output_text\",\"text\":\"hi\"}]}],\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":1}}", "Responses: the completed response");
	CHECK(sse_got_token(s), "... its delta counted as a token");
	CHECK_INT(run("event: response.created\ndata: {\"type\":"
	    "\"response.created\",\"response\":{}}\n\ndata: [DONE]\n\n", 0, 0),
	    SSE_BAD, "Responses: [DONE] before response.completed is refused");
	CHECK_INT(run("event: response.created\ndata: {\"type\":"
	    "\"response.created\",\"response\":{}}\n\n", 0, 0), SSE_RUNNING,
	    "Responses: no final event means cut off");
}

static void test_limits(void)
{
	struct sse *small = sse_new(100, 64);
	enum sse_state st;
	struct buf t = { 0 };
	int i;

	st = sse_feed(small, chat, strlen(chat));
	CHECK_INT(st, SSE_TOO_LARGE, "an event over the limit");
	CHECK(strstr(sse_problem(small), "larger") != NULL,
	    "... says so: %s", sse_problem(small));
	/* Many small events whose text adds up past the limit. */
	sse_reset(small);
	for (i = 0; i < 30; i++)
		buf_adds(&t, "data: {\"choices\":[{\"index\":0,\"delta\":"
		    "{\"content\":\"0123456789\"}}]}\n\n");
	st = sse_feed(small, t.data, t.len);
	CHECK_INT(st, SSE_TOO_LARGE, "a reassembled answer over the limit");
	/* A line that never ends. */
	sse_reset(small);
	buf_reset(&t);
	buf_adds(&t, "data: ");
	for (i = 0; i < 20; i++)
		buf_adds(&t, "........");
	st = sse_feed(small, t.data, t.len);
	CHECK_INT(st, SSE_TOO_LARGE, "an endless line over the limit");
	/* A comment longer than the limit is dropped, whole or in pieces. */
	sse_reset(small);
	buf_reset(&t);
	buf_adds(&t, ":");
	for (i = 0; i < 40; i++)
		buf_adds(&t, " keep-alive");
	buf_adds(&t, "\n");
	st = sse_feed(small, t.data, t.len);
	CHECK_INT(st, SSE_RUNNING, "a long comment line fed whole is dropped");
	sse_reset(small);
	for (i = 0; i < (int)t.len && st == SSE_RUNNING; i += 7)
		st = sse_feed(small, t.data + i, t.len - i < 7 ? t.len - i : 7);
	CHECK_INT(st, SSE_RUNNING, "... and so is one fed in pieces");
	sse_reset(small);
	CHECK_INT(sse_feed(small, "data: {\"a\":1}\n\ndata: [DONE]\n\n", 29),
	    SSE_BAD, "after sse_reset the parser works again");
	sse_free(small);

	CHECK_INT(run("data: [1,2]\n\n", 0, 0), SSE_BAD,
	    "data that is JSON but not an object");
	CHECK(strstr(sse_problem(s), "not an object") != NULL,
	    "... says so: %s", sse_problem(s));
	CHECK_INT(run("data: {\"choices\":[{\"index\":1}\n\n", 0, 0), SSE_BAD,
	    "data that is not JSON");
	CHECK(strstr(sse_problem(s), "not JSON") != NULL,
	    "... says so: %s", sse_problem(s));
	CHECK_INT(run("data: {\"choices\":[{\"index\":1e9}]}\n\n", 0, 0),
	    SSE_RUNNING, "a non-integer index is taken as the position");
	CHECK_INT(run("data: {\"choices\":[{\"index\":99999999}]}\n\n", 0, 0),
	    SSE_BAD, "a huge choice index is refused");
	CHECK_INT(run("data: {\"x\":NaN}\n\n", 0, 0), SSE_BAD,
	    "json-c's leniencies are refused (NaN)");
	buf_release(&t);
}

static void test_reuse(void)
{
	/* After a failed stream, the next one starts clean. */
	run(chat, 0, 0);
	CHECK_INT(run("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":"
	    "\"x\"}}]}\n\ndata: [DONE]\n\n", 0, 0), SSE_DONE,
	    "a second stream on the same parser");
	CHECK_STR(got.data, "{\"object\":\"chat.completion\",\"choices\":[{"
	    "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"x\"},"
	    "\"logprobs\":null,\"finish_reason\":null}]}",
	    "... keeps nothing of the first");
	same_in_pieces(chat, chat_want, "and the first again");
}

/* A body without the Content-Type that says it is an event stream. */
static void test_sniff(void)
{
	size_t at = 99;

	CHECK_INT(evstream_sniff("data: {}", 8, &at), 1, "data: is a stream");
	CHECK_INT((int)at, 0, "... from its start");
	CHECK_INT(evstream_sniff("\xef\xbb\xbf\r\n event: x", 15, &at), 1,
	    "a BOM and white space, then event:");
	CHECK_INT((int)at, 6, "... from the field");
	CHECK_INT(evstream_sniff(": ping", 6, &at), 1, "a comment");
	CHECK_INT(evstream_sniff("retry: 5", 8, &at), 1, "retry:");
	CHECK_INT(evstream_sniff("id:1", 4, &at), 1, "id:");
	CHECK_INT(evstream_sniff("dat", 3, &at), -1, "dat: too short to tell");
	CHECK_INT(evstream_sniff("\xef\xbb", 2, &at), -1, "half a BOM");
	CHECK_INT(evstream_sniff("  \n", 3, &at), -1, "white space only");
	CHECK_INT(evstream_sniff("", 0, &at), -1, "nothing yet");
	CHECK_INT(evstream_sniff("{\"data\":1}", 10, &at), 0, "JSON is not");
	CHECK_INT(evstream_sniff("[1]", 3, &at), 0, "a JSON array is not");
	CHECK_INT(evstream_sniff("<html>", 6, &at), 0, "HTML is not");
	CHECK_INT(evstream_sniff("datum", 5, &at), 0, "datum is not");
	CHECK_INT(evstream_sniff("\xef\xbb\xbe", 3, &at), 0, "not a BOM");
}

int main(void)
{
	test_sniff();
	s = sse_new(BIG, 64);
	test_chat();
	test_multiline();
	test_error();
	test_cut();
	test_tools();
	test_n();
	test_completions();
	test_responses();
	test_limits();
	test_reuse();
	sse_free(s);
	buf_release(&got);
	return unit_done();
}
