/*
 * ssechunks.h: the chunks of a streamed chat or completions answer put
 * back into the object the same call returns unstreamed.  sse.c hands it
 * each event that has a "choices" array; this knows what the chunks say:
 *
 *   chat.completion.chunk    choices[].delta: role, content, refusal,
 *                            tool_calls (arguments concatenated by
 *                            index), function_call; grouped by choice
 *                            index; finish_reason, logprobs (arrays
 *                            concatenated); usage from the chunk that
 *                            has it (choices []); the other top-level
 *                            fields kept, first seen first
 *   text_completion chunks   choices[].text concatenated
 *
 * The kind is told by the first chunk's "object" (or by whether its first
 * choice has "text").
 *
 * Memory: the reassembled strings, and what is kept of the chunks'
 * top-level fields and logprobs, are bounded together by max_size
 * (--max-response-size), past which the state is SSE_TOO_LARGE.  Buffers
 * are kept across chunks_reset(), so a worker that reuses one struct
 * chunks allocates nothing per byte.
 */
#ifndef SPLITGPT_SSECHUNKS_H
#define SPLITGPT_SSECHUNKS_H

#include <stddef.h>	/* size_t */

/* Where a stream stands (sse.h; the chunks' part of it here). */
enum sse_state {
	SSE_RUNNING,	/* no end yet; at the end of the body: cut off */
	SSE_DONE,	/* complete: sse_result() has the answer */
	SSE_ERROR,	/* an error event: sse_error() has it */
	SSE_BAD,	/* not a stream this understands: sse_problem() */
	SSE_TOO_LARGE	/* an event or the answer passed max_size */
};

struct json_object;
struct chunks;

/* An empty answer; max_size bounds its memory.  Dies out of memory. */
struct chunks *chunks_new(size_t max_size);
/* Free s and all it holds. */
void chunks_free(struct chunks *s);
/* Forget everything for a new answer; keeps the memory. */
void chunks_reset(struct chunks *s);

/*
 * Merge one chunk: o the event's object and choices its "choices" array
 * (both borrowed; what is kept takes its own references), n the event's
 * size, counted against max_size when its fields are kept.  Returns
 * SSE_RUNNING, or SSE_BAD (an index out of range) or SSE_TOO_LARGE, with
 * chunks_problem() saying which; the struct must then be reset before it
 * takes another chunk.
 */
enum sse_state chunks_add(struct chunks *s, struct json_object *o,
    struct json_object *choices, size_t n);

/* Why chunks_add() did not return SSE_RUNNING (static text), or "". */
const char *chunks_problem(const struct chunks *s);

/* Non-zero once a token (text, a tool call, a refusal) has come. */
int chunks_got_token(const struct chunks *s);

/*
 * The answer so far, a new reference the caller puts: for chat,
 * {"id","object":"chat.completion","created","model","choices":[{"index",
 * "message":{"role","content"[,"refusal"][,"tool_calls"][,
 * "function_call"]},"logprobs","finish_reason"}],"usage", then any other
 * top-level fields the chunks had (system_fingerprint, service_tier)};
 * for completions, "object":"text_completion" and choices of
 * {"text","index","logprobs","finish_reason"}.
 */
struct json_object *chunks_result(const struct chunks *s);

#endif
