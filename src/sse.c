/* sse.c: a streamed answer: its events told apart, and its end. */
#include "sse.h"

#include <json-c/json.h>	/* the events' data, the answer */
#include <stdio.h>	/* snprintf */
#include <stdlib.h>	/* free */
#include <string.h>	/* memcmp, strcmp, strncmp */

#include "evstream.h"	/* the event-stream lines */
#include "jsoncheck.h"	/* json_check */
#include "ssechunks.h"	/* chat and completions chunks */
#include "util.h"	/* xcalloc */

/* What the stream turned out to be, from its first telling event. */
enum kind { K_NONE, K_CHUNKS, K_RESPONSES };

struct sse {
	int max_depth;
	enum sse_state state;
	enum kind kind;
	json_tokener *tok;
	struct evstream lines;	/* the body, cut into events */
	size_t nevents;
	int token;		/* a Responses delta came */
	json_object *final;	/* Responses: the response object */
	json_object *error;
	struct chunks *chunks;	/* chat and completions */
	char problem[200];
};

static enum sse_state fail(struct sse *s, enum sse_state st, const char *what)
{
	s->state = st;
	snprintf(s->problem, sizeof(s->problem), "%s", what);
	return st;
}

static int on_event(void *arg, const char *event, const char *d, size_t n);

struct sse *sse_new(size_t max_size, int max_depth)
{
	struct sse *s = xcalloc(1, sizeof(*s));

	s->max_depth = max_depth;
	s->tok = json_tokener_new_ex(max_depth + 1);
	if (s->tok == NULL)
		die(EXIT_INTERNAL, "out of memory for the JSON parser");
	evstream_init(&s->lines, max_size, on_event, s);
	s->chunks = chunks_new(max_size);
	sse_reset(s);
	return s;
}

void sse_reset(struct sse *s)
{
	s->state = SSE_RUNNING;
	s->kind = K_NONE;
	evstream_reset(&s->lines);
	s->nevents = 0;
	s->token = 0;
	json_object_put(s->final);
	json_object_put(s->error);
	s->final = s->error = NULL;
	chunks_reset(s->chunks);
	s->problem[0] = 0;
}

void sse_free(struct sse *s)
{
	if (s == NULL)
		return;
	sse_reset(s);
	chunks_free(s->chunks);
	evstream_free(&s->lines);
	json_tokener_free(s->tok);
	free(s);
}

/* A chat.completion.chunk or a text_completion chunk. */
static void chunk(struct sse *s, json_object *o, json_object *choices,
    size_t n)
{
	enum sse_state st;

	s->kind = K_CHUNKS;
	if ((st = chunks_add(s->chunks, o, choices, n)) != SSE_RUNNING)
		fail(s, st, chunks_problem(s->chunks));
}

/* Responses API events: the final one carries the whole response. */
static void responses_event(struct sse *s, json_object *o, const char *type)
{
	static const char *const finals[] = {
		"response.completed", "response.incomplete", "response.failed"
	};
	json_object *r;
	size_t n = strlen(type), i;

	if (s->kind == K_CHUNKS) {
		fail(s, SSE_BAD, "Responses events in a chat stream");
		return;
	}
	s->kind = K_RESPONSES;
	if (n > 6 && strcmp(type + n - 6, ".delta") == 0)
		s->token = 1;
	for (i = 0; i < sizeof(finals) / sizeof(finals[0]); i++)
		if (strcmp(type, finals[i]) == 0)
			break;
	if (i == sizeof(finals) / sizeof(finals[0]))
		return;
	if (!json_object_object_get_ex(o, "response", &r) ||
	    !json_object_is_type(r, json_type_object)) {
		fail(s, SSE_BAD, "a final Responses event without a response "
		    "object");
		return;
	}
	s->final = json_object_get(r);
	s->state = SSE_DONE;
}

static void stream_error(struct sse *s, json_object *e)
{
	if (json_object_is_type(e, json_type_object)) {
		s->error = json_object_get(e);
	} else {
		/* {"error":"text"}: give it the usual shape. */
		s->error = json_object_new_object();
		json_object_object_add(s->error, "message",
		    json_object_get(e));
	}
	s->state = SSE_ERROR;
}

/* One dispatched event: its type (may be "") and data. */
static void handle(struct sse *s, const char *event, const char *d, size_t n)
{
	struct json_problem pb;
	json_object *o, *v;
	const char *type = NULL;
	int type_of = 0;

	if (n == 6 && memcmp(d, "[DONE]", 6) == 0) {
		if (s->kind == K_NONE)
			fail(s, SSE_BAD, "[DONE] before any answer");
		else if (s->kind == K_RESPONSES)
			fail(s, SSE_BAD, "[DONE] before the final Responses "
			    "event");
		else
			s->state = SSE_DONE;
		return;
	}
	if (n > INT32_MAX || (type_of = json_check(d, n, s->max_depth,
	    &pb)) != '{') {
		char what[160];

		/* pb is only filled in when the data is not JSON at all. */
		if (n > INT32_MAX)
			snprintf(what, sizeof(what), "an event's data is too "
			    "long");
		else if (type_of != 0)
			snprintf(what, sizeof(what), "an event's data is JSON "
			    "but not an object");
		else
			snprintf(what, sizeof(what), "an event's data is not "
			    "JSON (%s at byte %zu)", pb.what, pb.at);
		fail(s, SSE_BAD, what);
		return;
	}
	json_tokener_reset(s->tok);
	o = json_tokener_parse_ex(s->tok, d, (int)n);
	if (o == NULL) {
		fail(s, SSE_BAD, "an event's data does not parse");
		return;
	}
	if (json_object_object_get_ex(o, "type", &v) &&
	    json_object_is_type(v, json_type_string))
		type = json_object_get_string(v);
	if (json_object_object_get_ex(o, "error", &v) && v != NULL &&
	    (type == NULL || strncmp(type, "response.", 9) != 0))
		stream_error(s, v);
	else if ((type && strcmp(type, "error") == 0) ||
	    strcmp(event, "error") == 0)
		stream_error(s, o);
	else if (type && strncmp(type, "response.", 9) == 0)
		responses_event(s, o, type);
	else if (json_object_object_get_ex(o, "choices", &v) &&
	    json_object_is_type(v, json_type_array)) {
		if (s->kind == K_RESPONSES)
			fail(s, SSE_BAD, "chat chunks in a Responses stream");
		else
			chunk(s, o, v, n);
	}
	/* Anything else (a ping, a vendor's extra event) means nothing. */
	json_object_put(o);
}

/* The evstream handler: count the event, handle it, stop once it ends. */
static int on_event(void *arg, const char *event, const char *d, size_t n)
{
	struct sse *s = arg;

	s->nevents++;
	handle(s, event, d, n);
	return s->state != SSE_RUNNING;
}

enum sse_state sse_feed(struct sse *s, const char *p, size_t n)
{
	enum evstream_status st;

	if (s->state != SSE_RUNNING)
		return s->state;
	st = evstream_feed(&s->lines, p, n);
	if (st == EVS_LINE_TOO_LARGE)
		fail(s, SSE_TOO_LARGE, "an event line is larger than the limit");
	else if (st == EVS_EVENT_TOO_LARGE)
		fail(s, SSE_TOO_LARGE, "an event is larger than the limit");
	return s->state;
}

enum sse_state sse_end(struct sse *s)
{
	if (s->state == SSE_RUNNING)
		(void)evstream_end(&s->lines);
	return s->state;
}

json_object *sse_result(struct sse *s)
{
	if (s->state != SSE_DONE)
		return NULL;
	if (s->kind == K_RESPONSES)
		return json_object_get(s->final);
	return chunks_result(s->chunks);
}


json_object *sse_error(const struct sse *s)
{
	return s->error;
}

const char *sse_problem(const struct sse *s)
{
	return s->problem;
}

size_t sse_events(const struct sse *s)
{
	return s->nevents;
}

int sse_got_token(const struct sse *s)
{
	return s->token || chunks_got_token(s->chunks);
}
