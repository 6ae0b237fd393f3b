/*
 * classify.h: turning an input line into a request.
 *
 * The classifier (input_classify) decides what a line is -- a Batch API
 * request line, a bare request body, a {"prompt":...} object, a bare JSON
 * string, or with --text a plain-text prompt -- fills in the defaults the
 * user gave, and produces the request path, custom_id and JSON body.  A line
 * it can't use gets an error code and a message naming the line.
 */
#ifndef SPLITGPT_CLASSIFY_H
#define SPLITGPT_CLASSIFY_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */

#include "api.h"	/* DIGEST_HEX */
#include "config.h"	/* struct config */
#include "record.h"	/* enum errcode */
#include "util.h"	/* struct buf */

struct request {
	struct buf path;	/* e.g. /v1/chat/completions */
	struct buf custom_id;
	struct buf body;	/* serialised JSON object */
	char digest[DIGEST_HEX + 1];	/* request_digest of path and body
					 * (api.h); "" when not a request */
	struct buf metadata;	/* the line's "metadata" object, JSON text
				 * (never sent), or empty */
	struct buf model;	/* the body's "model", or empty */
	int user_id;		/* custom_id came from the line */
	long long prompt_est;	/* estimated prompt tokens (ratelimit.h) */
	long long max_out;	/* max output tokens asked for, times n */
};

/* Release what a request holds. */
void request_free(struct request *req);

struct classifier;

struct classifier *classifier_new(const struct config *cfg);
void classifier_free(struct classifier *c);

/*
 * Turn one line into a request.  Returns ERR_NONE, or an error code with
 * the message in msg ("line N: ...").  Even on error req->custom_id is
 * filled (with line-N when the line named none).
 */
enum errcode input_classify(struct classifier *c, const char *line,
    size_t len, uint64_t lineno, struct request *req, struct buf *msg);

/* The record for a line too long to keep: its id is line-N. */
enum errcode input_too_long(struct classifier *c, uint64_t lineno,
    size_t len, struct request *req, struct buf *msg);

#endif
