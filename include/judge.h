/*
 * judge.h: what one attempt came to, and whether another is worth it.
 *
 * The judge is a pure function of what an attempt left behind: libcurl's
 * result code, the HTTP status, the body, the few headers that matter,
 * how an event stream ended, the attempt's number and the settings that
 * bear on it.  It makes no call and reads no clock (the wall clock is an
 * argument, for an HTTP-date Retry-After), so every case is unit-tested
 * without a server (tests/unit/t-judge.c).  The transfer (transfer.h)
 * fills the struct attempt; the serve loop (worker.c) acts on the struct
 * outcome.
 *
 * The rules, in order:
 *   - a stream cut by --idle-timeout after it had said all it had to say
 *     counts as an answer;
 *   - a transfer that failed is a timeout (retried), a body over
 *     --max-response-size (final), a stream gone wrong (retried), a
 *     header too large to read (final), or a connection error (retried
 *     when transient: refused, reset, DNS, TLS, HTTP/2, a cut body);
 *   - an answer is retried by its status (retry.h), unless its body is
 *     JSON (any value: llama-server answers with arrays) with a 2xx
 *     status; a 2xx whose body is not JSON is a cut-off answer and
 *     retried; a 429 whose error code is
 *     insufficient_quota is billing and never retried; x-should-retry
 *     overrides the status rule for a non-2xx;
 *   - an event stream's end: complete (its reassembled answer is the
 *     body), an error event whose code is an HTTP status (recorded and
 *     judged as that status, with {"error": the event's object} for a
 *     body, as unstreamed), another error event (retried when
 *     transient: a server error, a rate limit, no code), cut off before
 *     [DONE] (retried), or not a stream understood (retried);
 *   - the wait is what the server asked for (retry-after-ms, else
 *     Retry-After); a wait over --max-retry-wait ends the retries.
 */
#ifndef SPLITGPT_JUDGE_H
#define SPLITGPT_JUDGE_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */
#include <time.h>	/* time_t */

#include "record.h"	/* enum errcode */
#include "sse.h"	/* enum sse_state */
#include "util.h"	/* struct buf */

struct json_object;
struct json_tokener;

/* How an event stream ended, read from its struct sse after the body. */
struct stream_end {
	enum sse_state state;	/* sse_end() */
	struct json_object *answer;	/* with SSE_DONE: the reassembled answer,
				 * borrowed (the judge takes a reference) */
	struct json_object *error;	/* with SSE_ERROR: the error event, borrowed */
	const char *problem;	/* with SSE_BAD, SSE_TOO_LARGE: what was
				 * wrong; "" otherwise */
	size_t events;		/* events dispatched */
};

/* What one attempt left behind, and what the judge needs to know of it. */
struct attempt {
	/* the transfer */
	int curl_code;		/* libcurl's CURLcode; CURLE_OK (0): an answer */
	const char *curl_error;	/* libcurl's words for curl_code */
	long status;		/* HTTP status, 0: none came */
	const char *body;	/* the body as it came (unstreamed), or NULL */
	size_t body_len;
	int too_large;		/* the body passed max_response */
	int sends;		/* requests sent: 2 means a second was refused */
	int reused;		/* on a kept-alive connection */
	int idle_fired;		/* --idle-timeout cut the stream */
	int event_stream;	/* the answer is text/event-stream */
	struct stream_end stream;	/* with event_stream */
	/* the answer's headers, NULL when absent */
	const char *retry_after_ms;
	const char *retry_after;
	const char *should_retry;	/* x-should-retry */
	/* the attempt */
	uint64_t lineno;	/* for the message */
	unsigned attempt;	/* this one's number, from 1 (across workers) */
	time_t now;		/* the wall clock, for an HTTP-date Retry-After */
	struct json_tokener *tok;	/* scratch: parses the body (reset first);
				 * made for max_depth + 1 levels */
	/* the settings */
	size_t max_response;	/* --max-response-size, for the message */
	int max_depth;		/* --max-depth */
	long idle_ms;		/* --idle-timeout, for the message */
	int retries;		/* --retries */
	long max_retry_wait_ms;	/* --max-retry-wait */
};

/* What one attempt came to. */
struct outcome {
	enum errcode err;	/* ERR_NONE: an HTTP answer with a JSON body */
	long status;		/* 0: no HTTP answer */
	int retry;		/* worth another attempt */
	int again;		/* retry, and attempts are left */
	int quota;		/* 429 insufficient_quota */
	long wait_ms;		/* what the server asked for, or -1 */
	int too_long;		/* wait_ms is over --max-retry-wait */
	int closed_under;	/* a kept-alive connection closed under the
				 * request: the next attempt may go at once,
				 * on a fresh connection */
	int systematic;		/* every line would fail so: no connection
				 * (refused, no such host, TLS), or a 4xx
				 * but 408, 409, 429 */
	struct json_object *json;	/* the parsed body, when it is JSON:
				 * a new reference, the caller puts it */
	const char *body;	/* the body a record embeds: the attempt's, or
				 * a stream's answer serialised (then owned by
				 * json, valid while json lives) */
	size_t body_len;
};

/*
 * Judge an attempt: fills *o (o->json a new reference or NULL), and puts
 * in msg (reset first) "line N: " and, when the attempt did not end with
 * a JSON object, what went wrong.  Touches nothing else but a->tok.
 */
void judge(const struct attempt *a, struct outcome *o, struct buf *msg);

#endif
