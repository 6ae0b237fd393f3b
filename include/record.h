/*
 * record.h: output lines, in the OpenAI Batch API output format.
 *
 *   {"id":"batch_req_...","custom_id":"...",
 *    "response":{"status_code":200,"request_id":"...","body":{...}},
 *    "error":null}
 *
 * A line that carried metadata has it as a last member, "metadata".
 * An HTTP answer that is JSON keeps "response", whatever its status; a
 * failure with no usable answer has "response":null and an "error" object
 * {"code","message","line"} whose code is one of enum errcode.  The
 * server's body is embedded byte for byte (only raw newlines between
 * tokens become spaces, so the record stays one line).
 *
 * With --format content a line is instead the answer's text as a JSON
 * string, or null for any failure.
 *
 * Every function appends exactly one line, newline included, to out.
 */
#ifndef SPLITGPT_RECORD_H
#define SPLITGPT_RECORD_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */

#include "config.h"	/* struct config */
#include "util.h"	/* struct buf */

/* The error codes, in the order of splitgpt(1) OUTPUT FORMAT. */
enum errcode {
	ERR_NONE = 0,
	ERR_INVALID_JSON,	/* the line is not valid JSON */
	ERR_INVALID_REQUEST,	/* valid JSON, but not a request */
	ERR_LINE_TOO_LONG,	/* longer than --max-line-length */
	ERR_DUPLICATE_ID,	/* custom_id seen before in this run */
	ERR_TIMEOUT,		/* no complete answer in time */
	ERR_CONNECTION,		/* refused, reset, DNS, TLS */
	ERR_INVALID_RESPONSE,	/* an answer that is not JSON */
	ERR_STREAM_ERROR,	/* a stream that reported an error */
	ERR_RESPONSE_TOO_LARGE,	/* longer than --max-response-size */
	ERR_RETRY_TOO_LONG,	/* the server asked to wait too long */
	ERR_RETRIES_EXHAUSTED,	/* an HTTP error on every attempt */
	ERR_WORKER_CRASHED,	/* killed the worker on every attempt */
	ERR_NOT_SENT,		/* the run halted before sending it */
	ERR_INTERNAL,		/* a bug or a system failure */
	ERR_BLANK_LINE,		/* --keep-blank: a blank line's record */
	ERR_COUNT
};

const char *errcode_name(enum errcode code);

/*
 * Whom a record is for: the line's place (seq), its custom_id, the digest
 * of the request it makes (api.h: request_digest; "" for a line that is
 * not a request), and its metadata (a JSON object's text, or none).
 */
struct record_ref {
	uint64_t seq;
	const char *id;
	size_t idlen;
	const char *digest;
	const char *meta;
	size_t metalen;
};

/*
 * The record id: batch_req_ + the request digest, so that it names the
 * request (the same request has the same id, in any run); for a line
 * that is not a request, batch_req_ + run id + seq.
 */
void record_id(char out[48], uint32_t run_id, const struct record_ref *ref);

/* The "error" member: code, message ("line N: ..."), and attempts made. */
struct record_error {
	enum errcode code;
	const char *message;
	uint64_t lineno;
	unsigned attempts;	/* 0: not sent */
};

/*
 * A record for an HTTP answer: status, the x-request-id value (NULL or ""
 * when the server sent none: the record then has req_splitgpt_ + run id +
 * seq, so request_id is always a string), and the body, which must be valid JSON.  content is the line for
 * --format content, already JSON (a string, or an embedding's array); NULL
 * or a status other than 2xx writes null.  err, when not NULL, goes in the
 * "error" member beside the response: it tells why an answer that is still
 * an error (say a 503 on every attempt) is final.
 */
void record_response(struct buf *out, const struct config *cfg,
    const struct record_ref *ref, long status,
    const char *request_id, const char *body, size_t bodylen,
    const char *content, const struct record_error *err);

/*
 * The record of an HTTP answer whose body is JSON (json, parsed from body,
 * borrowed): its token counts to *pt and *ct, and for --format content
 * its text (response_digest, api.h; content is scratch), then
 * record_response.  The worker writes every answer's record with it, and
 * the parent a cache hit's, so the two are the same bytes.
 */
struct json_object;
void record_answer(struct buf *out, const struct config *cfg,
    const struct record_ref *ref, long status, const char *request_id,
    const char *body, size_t bodylen, struct json_object *json,
    const struct record_error *err, struct buf *content,
    unsigned long long *pt, unsigned long long *ct);

/* A record for a failure with no usable answer: "response" is null. */
void record_error(struct buf *out, const struct config *cfg,
    const struct record_ref *ref, const struct record_error *err);

#endif
