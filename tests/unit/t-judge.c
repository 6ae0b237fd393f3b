/* The attempt judge: every way an attempt ends, with no network. */
#include <curl/curl.h>
#include <json-c/json.h>

#include "judge.h"
#include "unit.h"
#include "util.h"

static json_tokener *tok;
static struct buf msg;
static struct outcome o;

/* A 200 with a JSON object, on the first of three attempts. */
static struct attempt answer(long status, const char *body)
{
	struct attempt a;

	memset(&a, 0, sizeof(a));
	a.curl_code = CURLE_OK;
	a.curl_error = "No error";
	a.status = status;
	a.body = body;
	a.body_len = body ? strlen(body) : 0;
	a.sends = 1;
	a.stream.problem = "";
	a.lineno = 7;
	a.attempt = 1;
	a.now = 784111777;	/* Sun, 06 Nov 1994 08:49:37 GMT */
	a.tok = tok;
	a.max_response = 1000;
	a.max_depth = 64;
	a.idle_ms = 2500;
	a.retries = 2;
	a.max_retry_wait_ms = 60000;
	return a;
}

/* A transfer that failed with libcurl's code cc. */
static struct attempt failure(int cc, const char *why)
{
	struct attempt a = answer(0, NULL);

	a.curl_code = cc;
	a.curl_error = why;
	return a;
}

/* Judge a, putting the last outcome's body first. */
static void run(const struct attempt *a)
{
	json_object_put(o.json);
	judge(a, &o, &msg);
}

/* The outcome has no JSON, err and retry, and the message want. */
static void verdict(enum errcode err, int retry, const char *want,
    const char *what)
{
	CHECK(o.err == err && o.retry == retry && o.json == NULL, "%s", what);
	CHECK_STR(msg.data, want, "%s: the message", what);
}

/* Bodies that are not embedded: not whole, strict JSON. */
static const struct {
	long status;
	const char *body;
	size_t extra;		/* bytes past the string: its NUL */
	int depth;		/* --max-depth */
	int retry;
	const char *what;
} unembedded[] = {
	{ 201, "<html>busy</html>", 0, 64, 1,
	  "2xx with a body that is not JSON: retried" },
	{ 200, "[1,", 0, 64, 1, "2xx with a cut JSON array: retried" },
	{ 200, "{\"a\":1}", 1, 64, 1, "a body with a NUL byte" },
	{ 200, "{\"a\":01}", 0, 64, 1, "only strict JSON is embedded" },
	{ 200, "{\"a\":[[[1]]]}", 0, 2, 1, "nesting past --max-depth" },
	{ 200, NULL, 0, 64, 1, "2xx with no body: retried" },
	{ 404, "Not Found", 0, 64, 0, "a 4xx that is not JSON: final" },
	{ 502, "Bad Gateway", 0, 64, 1, "a 5xx that is not JSON: retried" },
};

static void answers(void)
{
	struct attempt a = answer(200, "{\"id\":\"x\",\"usage\":{}}");
	size_t i;

	run(&a);
	CHECK(o.err == ERR_NONE && o.status == 200 && !o.retry && !o.again &&
	    o.json != NULL, "2xx with a JSON object: an answer, final");
	CHECK(o.body == a.body && o.body_len == a.body_len,
	    "its body is embedded as it came");
	CHECK_STR(msg.data, "line 7: ", "no message but the line");
	CHECK_INT(o.wait_ms, -1, "no wait asked for");

	a = answer(200, "{\"id\":\"x\",\"choi");
	run(&a);
	CHECK(o.err == ERR_INVALID_RESPONSE && o.retry && o.again &&
	    o.json == NULL, "2xx with a cut body: retried");
	CHECK_STR(msg.data, "line 7: HTTP 200 answer is not JSON "
	    "(15 bytes)", "a cut body: the message");
	/* llama-server answers a "prompt" array with an array. */
	a = answer(200, "[{\"id\":\"a\"},{\"id\":\"b\"}]");
	run(&a);
	CHECK(o.err == ERR_NONE && o.status == 200 && !o.retry &&
	    o.json != NULL && o.body == a.body,
	    "2xx with a JSON array: an answer, embedded, final");
	for (i = 0; i < sizeof(unembedded) / sizeof(*unembedded); i++) {
		a = answer(unembedded[i].status, unembedded[i].body);
		if (unembedded[i].body)
			a.body_len += unembedded[i].extra;
		a.max_depth = unembedded[i].depth;
		run(&a);
		CHECK(o.err == ERR_INVALID_RESPONSE && o.json == NULL &&
		    o.retry == unembedded[i].retry, "%s", unembedded[i].what);
	}

	a = answer(200, "{\"id\":\"x\"}");
	a.attempt = 3;
	run(&a);
	CHECK(!o.retry && !o.again, "an answer on the last attempt: final");
}

/* What overrides the status rule: a spent quota, x-should-retry. */
#define QUOTA "{\"error\":{\"code\":\"insufficient_quota\"}}"
static const struct {
	long status;
	const char *body;
	const char *should;	/* x-should-retry */
	int retry, quota;
	const char *what;
} overrides[] = {
	{ 429, QUOTA, NULL, 0, 1, "429 insufficient_quota: billing, final" },
	{ 429, "{\"error\":{\"code\":\"rate_limit_exceeded\"}}", NULL, 1, 0,
	  "429 rate_limit_exceeded: retried" },
	{ 500, "{}", "false", 0, 0, "x-should-retry: false beats a 500" },
	{ 400, "{}", "true", 1, 0, "x-should-retry: true beats a 400" },
	{ 200, "{}", "true", 0, 0, "x-should-retry does not retry an answer" },
	{ 429, QUOTA, "true", 0, 1, "x-should-retry does not retry a spent "
	  "quota" },
};

static void statuses(void)
{
	static const long transient[] = { 408, 409, 429, 500, 502, 503, 599 };
	static const long final[] = { 400, 401, 403, 404, 422 };
	struct attempt a;
	size_t i;

	for (i = 0; i < sizeof(transient) / sizeof(*transient); i++) {
		a = answer(transient[i], "{\"error\":{\"message\":\"m\"}}");
		run(&a);
		CHECK(o.err == ERR_NONE && o.retry && o.again &&
		    o.status == transient[i] && o.json != NULL,
		    "HTTP %ld with a JSON error: retried", transient[i]);
	}
	for (i = 0; i < sizeof(final) / sizeof(*final); i++) {
		a = answer(final[i], "{\"error\":{\"message\":\"m\"}}");
		run(&a);
		CHECK(o.err == ERR_NONE && !o.retry && o.json != NULL,
		    "HTTP %ld: final", final[i]);
	}
	a = answer(503, "{}");
	a.attempt = 3;
	run(&a);
	CHECK(o.retry && !o.again, "retries spent: worth it, but no more");
	a.attempt = 2;
	run(&a);
	CHECK(o.retry && o.again, "one retry left: again");

	for (i = 0; i < sizeof(overrides) / sizeof(*overrides); i++) {
		a = answer(overrides[i].status, overrides[i].body);
		a.should_retry = overrides[i].should;
		run(&a);
		CHECK(o.retry == overrides[i].retry &&
		    o.quota == overrides[i].quota, "%s", overrides[i].what);
	}
}

static void waits(void)
{
	struct attempt a = answer(429, "{}");

	a.retry_after = "2";
	run(&a);
	CHECK(o.wait_ms == 2000 && !o.too_long, "Retry-After: 2 is 2 s");
	a.retry_after_ms = "1500";
	run(&a);
	CHECK_INT(o.wait_ms, 1500, "retry-after-ms comes first");
	a.retry_after_ms = "soon";
	run(&a);
	CHECK_INT(o.wait_ms, 2000, "a retry-after-ms that is garbage: "
	    "Retry-After");
	a.retry_after_ms = NULL;
	a.retry_after = "Sun, 06 Nov 1994 08:50:07 GMT";
	run(&a);
	CHECK_INT(o.wait_ms, 30000, "an HTTP date, read against now");
	a.retry_after = "61";
	run(&a);
	CHECK(o.wait_ms == 61000 && o.too_long && o.retry,
	    "a wait over --max-retry-wait: too long");
	a.retry_after = "60";
	run(&a);
	CHECK(o.wait_ms == 60000 && !o.too_long,
	    "a wait of just --max-retry-wait is not");
	a.max_retry_wait_ms = 0;
	a.retry_after = "0";
	run(&a);
	CHECK(o.wait_ms == 0 && !o.too_long, "Retry-After: 0 with "
	    "--max-retry-wait 0");

	a = failure(CURLE_COULDNT_CONNECT, "Failed to connect");
	a.retry_after = "5";	/* no answer came: not read */
	run(&a);
	CHECK_INT(o.wait_ms, -1, "a failed transfer asks for no wait");
}

/* Failed transfers: libcurl's code and what else came, and the verdict. */
static const struct {
	int cc;
	long status;		/* what libcurl had of the status line */
	int too_large, sends;
	enum errcode err;
	int retry;
	long ostatus;		/* the outcome's status */
	const char *msg;	/* after "line 7: " */
	const char *what;
} failed[] = {
	{ CURLE_OPERATION_TIMEDOUT, 0, 0, 1, ERR_TIMEOUT, 1, 0,
	  "timed out: oops", "curl timeout: a timeout, retried" },
	{ CURLE_COULDNT_CONNECT, 0, 0, 1, ERR_CONNECTION, 1, 0,
	  "connection error: oops", "refused: a connection error, retried" },
	{ CURLE_URL_MALFORMAT, 0, 0, 1, ERR_CONNECTION, 0, 0,
	  "connection error: oops",
	  "a curl error that would only come back: final" },
	{ CURLE_ABORTED_BY_CALLBACK, 0, 0, 2, ERR_CONNECTION, 1, 0,
	  "connection error: the connection closed before an answer (the "
	  "request may have reached the server)",
	  "a second send refused: a connection error, retried" },
	{ CURLE_WRITE_ERROR, 200, 1, 1, ERR_RESPONSE_TOO_LARGE, 0, 0,
	  "the answer is larger than --max-response-size (1000 bytes)",
	  "a body over --max-response-size: final" },
	{ CURLE_WRITE_ERROR, 200, 0, 1, ERR_CONNECTION, 0, 0,
	  "connection error: oops",
	  "a write error of no known cause: final" },
	{ CURLE_OUT_OF_MEMORY, 200, 0, 1, ERR_INVALID_RESPONSE, 0, 0,
	  "HTTP 200 answer: a header too large to read (oops)",
	  "out of memory after a status line: a header too large" },
	{ CURLE_OUT_OF_MEMORY, 0, 0, 1, ERR_CONNECTION, 0, 0,
	  "connection error: oops",
	  "out of memory before any answer: final" },
};

static void failures(void)
{
	static const int transient[] = { CURLE_COULDNT_RESOLVE_HOST,
	    CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
	    CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
	    CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR, CURLE_HTTP2,
	    CURLE_HTTP2_STREAM, CURLE_BAD_CONTENT_ENCODING };
	struct attempt a;
	char want[300];
	size_t i;

	for (i = 0; i < sizeof(failed) / sizeof(*failed); i++) {
		a = failure(failed[i].cc, "oops");
		a.status = failed[i].status;
		a.too_large = failed[i].too_large;
		a.sends = failed[i].sends;
		run(&a);
		CHECK_INT(o.status, failed[i].ostatus, "%s: the status",
		    failed[i].what);
		snprintf(want, sizeof(want), "line 7: %s", failed[i].msg);
		verdict(failed[i].err, failed[i].retry, want, failed[i].what);
	}
	for (i = 0; i < sizeof(transient) / sizeof(*transient); i++) {
		a = failure(transient[i], "oops");
		run(&a);
		CHECK(o.err == ERR_CONNECTION && o.retry,
		    "curl error %d: a connection error, retried",
		    transient[i]);
	}

	/* A kept-alive connection closed under the request: the next
	 * attempt may go at once; a fresh connection's failure may not. */
	a = failure(CURLE_ABORTED_BY_CALLBACK, "oops");
	a.sends = 2;
	run(&a);
	CHECK(o.closed_under && o.retry, "a second send refused: closed under "
	    "the request");
	a = failure(CURLE_SEND_ERROR, "oops");
	a.reused = 1;
	run(&a);
	CHECK(o.closed_under && o.retry, "a send error on a reused connection: "
	    "closed under the request");
	a = failure(CURLE_GOT_NOTHING, "oops");
	a.reused = 1;
	run(&a);
	CHECK(o.closed_under, "nothing on a reused connection: the same");
	a = failure(CURLE_GOT_NOTHING, "oops");
	run(&a);
	CHECK(!o.closed_under && o.retry, "nothing on a fresh connection: a "
	    "connection error, with its backoff");
	a = failure(CURLE_COULDNT_CONNECT, "oops");
	a.reused = 1;
	run(&a);
	CHECK(!o.closed_under, "refused: never at once");
}

/* An event stream answer of status 200 that ended in state st. */
static struct attempt streamed(enum sse_state st)
{
	struct attempt a = answer(200, NULL);

	a.event_stream = 1;
	a.stream.state = st;
	a.stream.events = 4;
	return a;
}

static void streams(void)
{
	json_object *done = json_tokener_parse("{\"id\":\"c\",\"object\":"
	    "\"chat.completion\",\"choices\":[]}");
	json_object *err = json_tokener_parse("{\"message\":\"boom\","
	    "\"type\":\"server_error\"}");
	json_object *filter = json_tokener_parse("{\"message\":\"no\","
	    "\"code\":\"content_filter\"}");
	json_object *coded = json_tokener_parse("{\"code\":503}");
	json_object *llama = json_tokener_parse("{\"code\":400,\"message\":"
	    "\"too long\",\"type\":\"invalid_request_error\"}");
	json_object *limited = json_tokener_parse("{\"message\":\"slow\","
	    "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}");
	struct attempt a = streamed(SSE_DONE);

	a.stream.answer = done;
	run(&a);
	CHECK(o.err == ERR_NONE && !o.retry && o.json == done,
	    "a complete stream: its answer, final");
	CHECK_STR(o.body, "{\"id\":\"c\",\"object\":\"chat.completion\","
	    "\"choices\":[]}", "the answer, serialised, is the body");
	CHECK_INT(o.body_len, strlen(o.body), "and its length");

	a = streamed(SSE_ERROR);
	a.stream.error = err;
	run(&a);
	verdict(ERR_STREAM_ERROR, 1, "line 7: the stream reported an error: "
	    "boom", "a server_error event: retried");
	a.stream.error = filter;
	run(&a);
	CHECK(o.err == ERR_STREAM_ERROR && !o.retry,
	    "an error event with a code of its own: final");
	a.stream.error = coded;
	run(&a);
	CHECK(o.retry, "an error event with code 503: retried");
	CHECK(o.err == ERR_NONE && o.status == 503 && o.json != NULL,
	    "... recorded as HTTP 503, as unstreamed");
	CHECK_STR(o.body, "{\"error\":{\"code\":503}}",
	    "... with {\"error\": the object} for its body");
	a.stream.error = llama;
	run(&a);
	CHECK(o.err == ERR_NONE && o.status == 400 && !o.retry,
	    "an error event with code 400: HTTP 400, final");
	a.stream.error = limited;
	run(&a);
	CHECK(o.err == ERR_STREAM_ERROR && o.retry,
	    "a rate_limit_exceeded error event: retried, like a 429");

	a = streamed(SSE_RUNNING);
	run(&a);
	verdict(ERR_INVALID_RESPONSE, 1, "line 7: HTTP 200 event stream cut "
	    "off: no [DONE] or final event after 4 events",
	    "a stream cut before [DONE]: retried");
	a = streamed(SSE_BAD);
	a.stream.problem = "an event's data is not JSON";
	run(&a);
	verdict(ERR_INVALID_RESPONSE, 1, "line 7: HTTP 200 event stream: an "
	    "event's data is not JSON", "a stream not understood: retried");

	a = streamed(SSE_BAD);
	a.curl_code = CURLE_WRITE_ERROR;
	a.stream.problem = "a choice index out of range";
	run(&a);
	CHECK(o.err == ERR_INVALID_RESPONSE && o.retry && o.status == 200,
	    "a stream stopped as it came: retried, its status kept");

	a = streamed(SSE_RUNNING);
	a.curl_code = CURLE_ABORTED_BY_CALLBACK;
	a.idle_fired = 1;
	run(&a);
	verdict(ERR_TIMEOUT, 1, "line 7: timed out: the stream was idle for "
	    "2.5 s (--idle-timeout)", "an idle stream: a timeout");
	a = streamed(SSE_DONE);
	a.curl_code = CURLE_ABORTED_BY_CALLBACK;
	a.idle_fired = 1;
	a.stream.answer = done;
	run(&a);
	CHECK(o.err == ERR_NONE && o.json == done && !o.retry,
	    "a stream left open after its end: the answer");
	a = streamed(SSE_DONE);
	a.curl_code = CURLE_OPERATION_TIMEDOUT;
	a.curl_error = "timed out";
	a.stream.answer = done;
	run(&a);
	CHECK(o.err == ERR_TIMEOUT && o.json == NULL,
	    "a complete stream that then timed out: a timeout");

	json_object_put(done);
	json_object_put(err);
	json_object_put(filter);
	json_object_put(coded);
	json_object_put(llama);
	json_object_put(limited);
}

/* Which failures every line would meet: the fail-fast halt's input. */
static void systematic_failures(void)
{
	static const int yes[] = { CURLE_COULDNT_CONNECT,
	    CURLE_COULDNT_RESOLVE_HOST, CURLE_SSL_CONNECT_ERROR,
	    CURLE_PEER_FAILED_VERIFICATION, CURLE_URL_MALFORMAT };
	static const int no[] = { CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR,
	    CURLE_GOT_NOTHING, CURLE_SEND_ERROR };
	static const long yes_st[] = { 400, 401, 403, 404, 422 };
	static const long no_st[] = { 200, 408, 409, 429, 500, 503 };
	struct attempt a;
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		a = failure(yes[i], "oops");
		run(&a);
		CHECK(o.systematic, "curl code %d: every line would fail so",
		    yes[i]);
	}
	for (i = 0; i < sizeof(no) / sizeof(*no); i++) {
		a = failure(no[i], "oops");
		run(&a);
		CHECK(!o.systematic, "curl code %d: may pass", no[i]);
	}
	for (i = 0; i < sizeof(yes_st) / sizeof(*yes_st); i++) {
		a = answer(yes_st[i], "{\"error\":{\"message\":\"m\"}}");
		run(&a);
		CHECK(o.systematic, "HTTP %ld: every line would fail so",
		    yes_st[i]);
	}
	for (i = 0; i < sizeof(no_st) / sizeof(*no_st); i++) {
		a = answer(no_st[i], "{\"error\":{\"message\":\"m\"}}");
		run(&a);
		CHECK(!o.systematic, "HTTP %ld: may pass", no_st[i]);
	}
}

int main(void)
{
	tok = json_tokener_new_ex(65);
	answers();
	statuses();
	waits();
	failures();
	streams();
	systematic_failures();
	json_object_put(o.json);
	json_tokener_free(tok);
	buf_release(&msg);
	return unit_done();
}
