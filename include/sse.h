/*
 * sse.h: a streamed answer (server-sent events) turned back into the
 * object the same call returns without streaming.
 *
 * The parser is incremental: sse_feed() takes the body in whatever pieces
 * the network delivers, split anywhere (inside a line, inside a CR LF),
 * and the result is the same as feeding it whole.  Lines follow the
 * WHATWG event-stream rules: they end with LF, CR LF or CR; a line that
 * starts with ':' is a comment (a keep-alive); "data:" lines accumulate
 * (one leading space stripped, several joined with LF); "event:" names
 * the event; an empty line dispatches it.  One leniency: at the end of
 * the body a pending event whose last line was complete is dispatched,
 * where the standard would drop it, since some servers omit the final
 * blank line.
 *
 * Each event's data is checked as strict JSON (jsoncheck.h) before json-c
 * parses it, so the reassembled object serialises to strict JSON.  The
 * events understood:
 *
 *   chat.completion.chunk    choices[].delta: role, content, refusal,
 *                            tool_calls (arguments concatenated by
 *                            index), function_call; grouped by choice
 *                            index; finish_reason, logprobs; usage from
 *                            the chunk that has it (choices [])
 *   text_completion chunks   choices[].text concatenated
 *   response.* (Responses)   response.completed, .incomplete or .failed
 *                            carry the whole response object: it is
 *                            the answer
 *   data: [DONE]             the end of a chat or completions stream
 *   {"error":{...}} or an    the stream reports an error: SSE_ERROR
 *   event of type "error"    (llama-server's "error: {...}" lines too)
 *
 * A chat or completions stream is complete only at [DONE], a Responses
 * stream at its final event; one that stops before is cut off.
 *
 * The work is in three parts: evstream.c (evstream.h) cuts the body into
 * events; sse.c tells the events apart ([DONE], errors, Responses events,
 * chunks) and keeps the stream's state; ssechunks.c (ssechunks.h) puts
 * chat and completions chunks back together.
 *
 * Memory: the parser keeps one event's text and the reassembled strings;
 * each is bounded by max_size (--max-response-size), past which the state
 * is SSE_TOO_LARGE.  Buffers are kept across sse_reset(), so a worker
 * that reuses one struct sse allocates nothing per byte.
 */
#ifndef SPLITGPT_SSE_H
#define SPLITGPT_SSE_H

#include <stddef.h>	/* size_t */

#include "ssechunks.h"	/* enum sse_state */

struct json_object;

struct sse;

/* max_size bounds memory (see above), max_depth the events' nesting. */
struct sse *sse_new(size_t max_size, int max_depth);
void sse_free(struct sse *s);
/* Forget everything for a new answer; keeps the memory. */
void sse_reset(struct sse *s);

/*
 * Feed the next n bytes of the body; returns the state.  Once the state is
 * not SSE_RUNNING, further bytes are ignored.
 */
enum sse_state sse_feed(struct sse *s, const char *p, size_t n);
/* The body ended: dispatch what is pending; returns the final state. */
enum sse_state sse_end(struct sse *s);

/*
 * With SSE_DONE: the reassembled answer, a new reference the caller puts.
 * For chat: {"id","object":"chat.completion","created","model","choices":
 * [{"index","message":{"role","content"[,"refusal"][,"tool_calls"]},
 * "logprobs","finish_reason"}],"usage", then any other top-level fields
 * the chunks had (system_fingerprint, service_tier)}.
 */
struct json_object *sse_result(struct sse *s);
/* With SSE_ERROR: the error object ({"message","type","code",...}). */
struct json_object *sse_error(const struct sse *s);
/* With SSE_BAD or SSE_TOO_LARGE: what was wrong, for a message. */
const char *sse_problem(const struct sse *s);
/* Events dispatched so far. */
size_t sse_events(const struct sse *s);
/* Non-zero once a token (text, a tool call, a delta event) has come. */
int sse_got_token(const struct sse *s);

#endif
