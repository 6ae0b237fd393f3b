/*
 * api.h: what splitgpt knows of the OpenAI-style API itself, for both
 * sides: the classifier (classify.c) names the endpoint a line calls, the
 * worker builds the URL, edits a body for --stream and reads the answer.
 * Pure functions of their arguments: no libcurl, no state.
 */
#ifndef SPLITGPT_API_H
#define SPLITGPT_API_H

#include <stddef.h>	/* size_t */

#include "util.h"	/* struct buf */

/* The API a request path calls, by how it ends (a query string ignored). */
enum endpoint {
	EP_OTHER, EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_RESPONSES,
	EP_MODERATIONS
};

/*
 * Which API path[0..n) calls: "/chat/completions", "/completions",
 * "/embeddings", "/responses" or "/moderations" at its end, trailing
 * slashes and a query ignored; EP_OTHER for anything else.
 */
enum endpoint endpoint_of(const char *path, size_t n);

/*
 * Append base + path[0..n) to out, without doubling a "/v1": a base URL
 * that ends in /v1 and a path that starts with /v1/ share it.  A query in
 * the base URL (Azure's ?api-version=) goes after the path, joined with &
 * to any query the path has.
 */
void url_join(struct buf *out, const char *base, const char *path, size_t n);

/*
 * From a parsed response body (borrowed): the token counts (prompt and
 * completion, or input and output; 0 when absent) and, for --format
 * content, the answer as JSON text (a string, or an embedding's array,
 * decoded from base64 when it came so) appended to content.  Returns 1
 * if content got something, else 0.
 */
struct json_object;
int response_digest(struct json_object *body, unsigned long long *prompt,
    unsigned long long *completion, struct buf *content);

/*
 * An error answer's {"error": {"code", "type", "message"}} (body borrowed,
 * or NULL): its code (else its type) and its message, each a string that
 * lives as long as body, or NULL where there is none.
 */
void api_error(struct json_object *body, const char **code,
    const char **message);

/* The prompt tokens an answer's usage says came from the provider's
 * cache (usage.prompt_tokens_details or input_tokens_details), or 0. */
unsigned long long response_cached_tokens(struct json_object *body);

/*
 * The request digest: SHA-256 of what a line asks for, the method, the
 * path, the body as sent (defaults applied) and whether it is streamed,
 * as DIGEST_HEX lower-case hex digits (128 bits) and a NUL in hex.  It
 * names the request: in the record id, for --resume and --cache.
 */
#define DIGEST_HEX 32
void request_digest(const char *path, size_t pathlen, const char *body,
    size_t bodylen, int stream, char hex[DIGEST_HEX + 1]);

#endif
