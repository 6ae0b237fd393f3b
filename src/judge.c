/* judge.c: what an attempt came to, as a pure function of what it left. */
#include "judge.h"

#include <curl/curl.h>	/* CURLE_* (the codes only: no call) */
#include <json-c/json.h>	/* parsing response bodies */
#include <stdint.h>	/* INT32_MAX, int64_t */
#include <string.h>	/* memchr, memset, strcmp */

#include "jsoncheck.h"	/* json_check */
#include "retry.h"	/* the status and header rules */

static json_object *error_code_of(json_object *body)
{
	json_object *e, *code;

	if (json_object_object_get_ex(body, "error", &e) &&
	    json_object_object_get_ex(e, "code", &code))
		return code;
	return NULL;
}

/*
 * A stream's error event: worth another attempt when it looks transient,
 * as an HTTP answer would be: a server error, a rate limit, or one
 * without a code; an error with a code of its own (a content filter, a
 * context too long) would only come back.
 */
static int stream_error_transient(json_object *e)
{
	json_object *v;
	const char *s;

	if (json_object_object_get_ex(e, "type", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "server_error") == 0)
		return 1;
	if (!json_object_object_get_ex(e, "code", &v) || v == NULL)
		return 1;
	if (json_object_is_type(v, json_type_int))
		return retry_status((long)json_object_get_int64(v));
	s = json_object_get_string(v);
	return strcmp(s, "server_error") == 0 ||
	    strcmp(s, "rate_limit_exceeded") == 0;
}

/*
 * An error event whose code is an HTTP status (llama-server's "error:"
 * line, vLLM's error event): the status the same request gets unstreamed,
 * or 0.
 */
static long stream_error_status(json_object *e)
{
	json_object *v;
	int64_t c;

	if (!json_object_object_get_ex(e, "code", &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	c = json_object_get_int64(v);
	return c >= 400 && c <= 599 ? (long)c : 0;
}

/*
 * Such an error is recorded as that status with {"error": the event's
 * object} for its body, the shape the unstreamed answer has, and judged
 * like one.
 */
static void stream_error_answer(json_object *e, long status,
    struct outcome *o)
{
	o->status = status;
	o->retry = retry_status(status);
	o->json = json_object_new_object();
	json_object_object_add(o->json, "error", json_object_get(e));
	o->body = json_object_to_json_string_length(o->json,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	    &o->body_len);
}

/* An event stream that ended: the reassembled answer, or why not. */
static int stream_outcome(const struct attempt *a, struct outcome *o,
    struct buf *msg)
{
	json_object *e, *m;
	const char *s;
	size_t n;

	switch (a->stream.state) {
	case SSE_DONE:
		/* The record embeds this as the answer's body. */
		o->json = json_object_get(a->stream.answer);
		o->body = json_object_to_json_string_length(o->json,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		    &o->body_len);
		return 0;
	case SSE_ERROR:
		e = a->stream.error;
		if (stream_error_status(e) > 0) {
			stream_error_answer(e, stream_error_status(e), o);
			return 0;
		}
		o->err = ERR_STREAM_ERROR;
		o->retry = stream_error_transient(e);
		buf_adds(msg, "the stream reported an error: ");
		if (json_object_object_get_ex(e, "message", &m) &&
		    json_object_is_type(m, json_type_string)) {
			s = json_object_get_string(m);
			n = json_object_get_string_len(m);
			if (n > 300) {
				/* Short, and cut between characters. */
				n = 300;
				while (n > 0 && (s[n] & 0xc0) == 0x80)
					n--;
			}
			buf_add(msg, s, n);
		} else {
			buf_adds(msg, "(no message)");
		}
		return -1;
	case SSE_RUNNING:
		o->err = ERR_INVALID_RESPONSE;
		o->retry = 1;	/* like a cut-off body */
		buf_addf(msg, "HTTP %ld event stream cut off: no [DONE] "
		    "or final event after %zu events", o->status,
		    a->stream.events);
		return -1;
	default:
		o->err = ERR_INVALID_RESPONSE;
		o->retry = 1;
		buf_addf(msg, "HTTP %ld event stream: %s", o->status,
		    a->stream.problem);
		return -1;
	}
}

/* Whether libcurl's failure is worth another attempt as a connection
 * error: refused, reset, DNS, TLS, HTTP/2, a body cut short. */
static int transient_failure(int cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

/* A transfer that did not end with a whole answer: why. */
static void judge_failure(const struct attempt *a, struct outcome *o,
    struct buf *msg)
{
	const char *why = a->curl_error;

	if (a->idle_fired) {
		o->err = ERR_TIMEOUT;
		o->retry = 1;
		buf_addf(msg, "timed out: the stream was idle for %.1f s "
		    "(--idle-timeout)", a->idle_ms / 1000.0);
		return;
	}
	if (a->curl_code == CURLE_ABORTED_BY_CALLBACK && a->sends > 1) {
		o->err = ERR_CONNECTION;
		o->retry = 1;
		o->closed_under = 1;
		buf_adds(msg, "connection error: the connection closed before "
		    "an answer (the request may have reached the server)");
		return;
	}
	if (a->curl_code == CURLE_OPERATION_TIMEDOUT) {
		o->err = ERR_TIMEOUT;
		o->retry = 1;
		buf_addf(msg, "timed out: %s", why);
		return;
	}
	if (a->curl_code == CURLE_WRITE_ERROR && a->too_large) {
		o->err = ERR_RESPONSE_TOO_LARGE;
		buf_addf(msg, "the answer is larger than --max-response-size "
		    "(%zu bytes)", a->max_response);
		return;
	}
	if (a->curl_code == CURLE_WRITE_ERROR && a->event_stream) {
		/* on_body stopped a stream gone wrong. */
		o->status = a->status;
		o->err = ERR_INVALID_RESPONSE;
		o->retry = 1;
		buf_addf(msg, "HTTP %ld event stream: %s", o->status,
		    a->stream.problem);
		return;
	}
	if (a->curl_code == CURLE_OUT_OF_MEMORY && a->status > 0) {
		/* After a status line, libcurl's word for a header line over
		 * its 100 KB limit: the answer is bad. */
		o->err = ERR_INVALID_RESPONSE;
		buf_addf(msg, "HTTP %ld answer: a header too large to read "
		    "(%s)", a->status, why);
		return;
	}
	o->retry = transient_failure(a->curl_code);
	o->err = ERR_CONNECTION;
	/* No answer on a kept-alive connection: closed under the request
	 * (libcurl, past its own count of dead connections, says so
	 * without trying a second send). */
	o->closed_under = a->reused && a->status == 0 && o->retry &&
	    (a->curl_code == CURLE_SEND_ERROR ||
	    a->curl_code == CURLE_RECV_ERROR ||
	    a->curl_code == CURLE_GOT_NOTHING);
	buf_addf(msg, "connection error: %s", why);
}

/* The body, when it is JSON: any value (llama-server answers a "prompt"
 * array with an array), but strict JSON, or the record breaks.  A new
 * reference, or NULL. */
static json_object *parse_body(const struct attempt *a)
{
	struct json_problem problem;

	if (a->body_len > INT32_MAX || a->body == NULL ||
	    memchr(a->body, 0, a->body_len) != NULL ||
	    json_check(a->body, a->body_len, a->max_depth, &problem) == 0)
		return NULL;
	json_tokener_reset(a->tok);
	return json_tokener_parse_ex(a->tok, a->body, (int)a->body_len);
}

/* Whether a 429's body says the quota is spent: billing, not load. */
static int quota_spent(const struct outcome *o)
{
	json_object *code;

	return o->status == 429 && o->json &&
	    (code = error_code_of(o->json)) != NULL &&
	    json_object_is_type(code, json_type_string) &&
	    strcmp(json_object_get_string(code), "insufficient_quota") == 0;
}

/* An HTTP answer came whole: its status, its body, its headers. */
static void judge_answer(const struct attempt *a, struct outcome *o,
    struct buf *msg)
{
	int should;

	o->status = a->status;
	o->retry = retry_status(o->status);
	if (a->event_stream && stream_outcome(a, o, msg) < 0)
		return;
	if (o->json == NULL)
		o->json = parse_body(a);
	if (o->json == NULL) {
		o->err = ERR_INVALID_RESPONSE;
		if (o->status >= 200 && o->status < 300)
			o->retry = 1;	/* a truncated answer */
		buf_addf(msg, "HTTP %ld answer is not JSON (%zu bytes)",
		    o->status, a->body_len);
	}
	if (quota_spent(o)) {
		o->quota = 1;
		o->retry = 0;
	}
	should = retry_should_header(a->should_retry);
	if (should >= 0 && !o->quota && o->status >= 300)
		o->retry = should;
	if (o->status >= 200 && o->status < 300 && o->json)
		o->retry = 0;
	o->wait_ms = retry_after_ms_header(a->retry_after_ms);
	if (o->wait_ms < 0)
		o->wait_ms = retry_after_header(a->retry_after, a->now);
}

/* Whether the same would come of every line: no connection to be had
 * (refused, no such host, a TLS failure, a URL libcurl can't use), or a
 * client error (a 4xx but 408, 409 and 429, which pass). */
static int systematic(const struct attempt *a, const struct outcome *o)
{
	switch (a->curl_code) {
	case CURLE_OK:
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return 1;
	default:
		return 0;
	}
	return o->status >= 400 && o->status < 500 && o->status != 408 &&
	    o->status != 409 && o->status != 429;
}

void judge(const struct attempt *a, struct outcome *o, struct buf *msg)
{
	memset(o, 0, sizeof(*o));
	o->wait_ms = -1;
	o->body = a->body;
	o->body_len = a->body_len;
	buf_reset(msg);
	buf_addf(msg, "line %llu: ", (unsigned long long)a->lineno);
	/* A stream that said all it had to say but was left open: what
	 * came is the answer. */
	if (a->curl_code != CURLE_OK &&
	    !(a->idle_fired && a->stream.state != SSE_RUNNING))
		judge_failure(a, o, msg);
	else
		judge_answer(a, o, msg);
	o->too_long = o->wait_ms > a->max_retry_wait_ms;
	o->again = o->retry && a->attempt <= (unsigned)a->retries;
	o->systematic = systematic(a, o);
}
