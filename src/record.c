/* record.c: writing output lines. */
#include "record.h"

#include <inttypes.h>	/* PRIu64 */
#include <stdio.h>	/* snprintf */
#include <string.h>	/* strlen */

#include "api.h"	/* response_digest */

static const char *const errnames[ERR_COUNT] = {
	[ERR_NONE] = "none",
	[ERR_INVALID_JSON] = "invalid_json",
	[ERR_INVALID_REQUEST] = "invalid_request",
	[ERR_LINE_TOO_LONG] = "line_too_long",
	[ERR_DUPLICATE_ID] = "duplicate_custom_id",
	[ERR_TIMEOUT] = "timeout",
	[ERR_CONNECTION] = "connection_error",
	[ERR_INVALID_RESPONSE] = "invalid_response",
	[ERR_STREAM_ERROR] = "stream_error",
	[ERR_RESPONSE_TOO_LARGE] = "response_too_large",
	[ERR_RETRY_TOO_LONG] = "retry_after_too_long",
	[ERR_RETRIES_EXHAUSTED] = "retries_exhausted",
	[ERR_WORKER_CRASHED] = "worker_crashed",
	[ERR_NOT_SENT] = "not_sent",
	[ERR_INTERNAL] = "internal_error",
	[ERR_BLANK_LINE] = "blank_line",
};

const char *errcode_name(enum errcode code)
{
	if ((unsigned)code >= ERR_COUNT)
		return "internal_error";
	return errnames[code];
}

void record_id(char out[48], uint32_t run_id, const struct record_ref *ref)
{
	if (ref->digest && *ref->digest)
		snprintf(out, 48, "batch_req_%.32s", ref->digest);
	else
		snprintf(out, 48, "batch_req_%08" PRIx32 "%016" PRIx64, run_id,
		    ref->seq);
}

static void record_head(struct buf *out, const struct config *cfg,
    const struct record_ref *ref)
{
	char id[48];

	record_id(id, cfg->run_id, ref);
	buf_adds(out, "{\"id\":\"");
	buf_adds(out, id);
	buf_adds(out, "\",\"custom_id\":");
	buf_add_json_string(out, ref->id, ref->idlen);
}

/* The metadata, if any, and the record's end. */
static void record_tail(struct buf *out, const struct record_ref *ref)
{
	if (ref->metalen > 0) {
		buf_adds(out, ",\"metadata\":");
		buf_add(out, ref->meta, ref->metalen);
	}
	buf_adds(out, "}\n");
}

static void error_member(struct buf *out, const struct record_error *err)
{
	buf_adds(out, "{\"code\":\"");
	buf_adds(out, errcode_name(err->code));
	buf_adds(out, "\",\"message\":");
	buf_add_json_string(out, err->message, strlen(err->message));
	buf_addf(out, ",\"line\":%" PRIu64 ",\"attempts\":%u}",
	    err->lineno, err->attempts);
}

void record_response(struct buf *out, const struct config *cfg,
    const struct record_ref *ref, long status,
    const char *request_id, const char *body, size_t bodylen,
    const char *content, const struct record_error *err)
{
	size_t start, i;

	if (cfg->format == FORMAT_CONTENT) {
		buf_adds(out, content && status >= 200 && status < 300 ?
		    content : "null");
		buf_addc(out, '\n');
		return;
	}
	record_head(out, cfg, ref);
	buf_addf(out, ",\"response\":{\"status_code\":%ld,\"request_id\":",
	    status);
	if (request_id && *request_id) {
		buf_add_json_string(out, request_id, strlen(request_id));
	} else {
		/* Always a string, as the Batch API's and vLLM's output
		 * models have it: one of ours when the server sent none. */
		buf_addf(out, "\"req_splitgpt_%08" PRIx32 "%016" PRIx64 "\"",
		    cfg->run_id, ref->seq);
	}
	buf_adds(out, ",\"body\":");
	start = out->len;
	buf_add(out, body, bodylen);
	/* In valid JSON a raw CR or LF can only be white space. */
	for (i = start; i < out->len; i++)
		if (out->data[i] == '\n' || out->data[i] == '\r')
			out->data[i] = ' ';
	buf_adds(out, "},\"error\":");
	if (err)
		error_member(out, err);
	else
		buf_adds(out, "null");
	record_tail(out, ref);
}

void record_answer(struct buf *out, const struct config *cfg,
    const struct record_ref *ref, long status, const char *request_id,
    const char *body, size_t bodylen, struct json_object *json,
    const struct record_error *err, struct buf *content,
    unsigned long long *pt, unsigned long long *ct)
{
	int has_content;

	*pt = *ct = 0;
	buf_reset(content);
	has_content = response_digest(json, pt, ct, content);
	record_response(out, cfg, ref, status, request_id, body, bodylen,
	    has_content ? content->data : NULL, err);
}

void record_error(struct buf *out, const struct config *cfg,
    const struct record_ref *ref, const struct record_error *err)
{
	if (cfg->format == FORMAT_CONTENT) {
		buf_adds(out, "null\n");
		return;
	}
	record_head(out, cfg, ref);
	buf_adds(out, ",\"response\":null,\"error\":");
	error_member(out, err);
	record_tail(out, ref);
}
