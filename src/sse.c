/* sse.c: parsing server-sent events and reassembling streamed answers. */
#include "sse.h"

#include <json-c/json.h>	/* the events' data, the answer */
#include <stdio.h>	/* snprintf */
#include <stdlib.h>	/* free */
#include <string.h>	/* memchr, memcmp, strcmp */

#include "jsoncheck.h"	/* json_check */
#include "util.h"	/* struct buf */

/*
 * Choice and tool call indexes are small in practice (n is at most 128);
 * a larger one would only make us allocate for a server's whim.
 */
#define MAX_INDEX 4096

enum kind { K_NONE, K_CHAT, K_COMPLETION, K_RESPONSES };

/* One tool call of a choice, put together from its deltas. */
struct tool {
	struct buf id, type, name, args;
};

/* One choice, put together from its deltas. */
struct choice {
	int seen;
	int has_content;	/* a content (or text) delta came */
	int has_refusal;	/* a delta named refusal, even as null */
	int has_fcall;		/* a legacy function_call delta came */
	struct buf role, content, refusal, fname, fargs;
	json_object *finish;	/* finish_reason, or NULL */
	json_object *logprobs;	/* merged, or NULL */
	struct tool *tools;
	size_t ntools;		/* in use: the highest index + 1 */
	size_t tcap;		/* allocated; entries past ntools are clear */
};

struct sse {
	size_t max_size;
	int max_depth;
	enum sse_state state;
	enum kind kind;
	json_tokener *tok;
	struct buf line;	/* an unterminated line */
	int cr;			/* the last line ended in CR: skip an LF */
	int in_comment;		/* inside a comment line, dropped as it comes */
	struct buf data;	/* the event's data lines, each with an LF */
	struct buf event;	/* the event's type */
	size_t held;		/* bytes kept for the answer */
	size_t nevents;
	int token;
	json_object *top;	/* the chunks' top-level fields */
	json_object *usage;
	json_object *final;	/* Responses: the response object */
	json_object *error;
	struct choice *choices;
	size_t nchoices;	/* in use: the highest index + 1 */
	size_t ccap;		/* allocated; entries past nchoices are clear */
	char problem[200];
};

static enum sse_state fail(struct sse *s, enum sse_state st, const char *what)
{
	s->state = st;
	snprintf(s->problem, sizeof(s->problem), "%s", what);
	return st;
}

/* Append to one of the answer's strings, within the budget. */
static int keep(struct sse *s, struct buf *b, const char *p, size_t n)
{
	if (n > s->max_size - s->held) {
		fail(s, SSE_TOO_LARGE, "the reassembled answer is larger than "
		    "the limit");
		return -1;
	}
	s->held += n;
	buf_add(b, p, n);
	return 0;
}

static void set_buf(struct buf *b, json_object *v)
{
	buf_reset(b);
	buf_add(b, json_object_get_string(v), json_object_get_string_len(v));
}

static void tool_clear(struct tool *t)
{
	buf_reset(&t->id);
	buf_reset(&t->type);
	buf_reset(&t->name);
	buf_reset(&t->args);
}

static void choice_clear(struct choice *c)
{
	size_t i;

	c->seen = c->has_content = c->has_refusal = c->has_fcall = 0;
	buf_reset(&c->role);
	buf_reset(&c->content);
	buf_reset(&c->refusal);
	buf_reset(&c->fname);
	buf_reset(&c->fargs);
	json_object_put(c->finish);
	json_object_put(c->logprobs);
	c->finish = c->logprobs = NULL;
	for (i = 0; i < c->ntools; i++)
		tool_clear(&c->tools[i]);
	c->ntools = 0;
}

struct sse *sse_new(size_t max_size, int max_depth)
{
	struct sse *s = xcalloc(1, sizeof(*s));

	s->max_size = max_size;
	s->max_depth = max_depth;
	s->tok = json_tokener_new_ex(max_depth + 1);
	if (s->tok == NULL)
		die(EXIT_INTERNAL, "out of memory for the JSON parser");
	sse_reset(s);
	return s;
}

void sse_reset(struct sse *s)
{
	size_t i;

	s->state = SSE_RUNNING;
	s->kind = K_NONE;
	s->cr = 0;
	s->in_comment = 0;
	buf_reset(&s->line);
	buf_reset(&s->data);
	buf_reset(&s->event);
	s->held = 0;
	s->nevents = 0;
	s->token = 0;
	json_object_put(s->top);
	s->top = json_object_new_object();
	if (s->top == NULL)
		die(EXIT_INTERNAL, "out of memory for a streamed answer");
	json_object_put(s->usage);
	json_object_put(s->final);
	json_object_put(s->error);
	s->usage = s->final = s->error = NULL;
	for (i = 0; i < s->nchoices; i++)
		choice_clear(&s->choices[i]);
	s->nchoices = 0;
	s->problem[0] = 0;
}

void sse_free(struct sse *s)
{
	size_t i, j;

	if (s == NULL)
		return;
	sse_reset(s);
	json_object_put(s->top);
	for (i = 0; i < s->ccap; i++) {
		struct choice *c = &s->choices[i];

		buf_release(&c->role);
		buf_release(&c->content);
		buf_release(&c->refusal);
		buf_release(&c->fname);
		buf_release(&c->fargs);
		for (j = 0; j < c->tcap; j++) {
			buf_release(&c->tools[j].id);
			buf_release(&c->tools[j].type);
			buf_release(&c->tools[j].name);
			buf_release(&c->tools[j].args);
		}
		free(c->tools);
	}
	free(s->choices);
	buf_release(&s->line);
	buf_release(&s->data);
	buf_release(&s->event);
	json_tokener_free(s->tok);
	free(s);
}

/* An index from a delta: its "index" member, else its position. */
static long long index_of(json_object *o, size_t pos)
{
	json_object *v;

	if (json_object_object_get_ex(o, "index", &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return (long long)pos;
}

static struct choice *choice_at(struct sse *s, long long idx)
{
	size_t i = (size_t)idx;

	if (idx < 0 || idx >= MAX_INDEX) {
		fail(s, SSE_BAD, "a choice index out of range");
		return NULL;
	}
	if (i >= s->ccap) {
		size_t cap = s->ccap ? s->ccap : 4;

		while (cap <= i)
			cap *= 2;
		s->choices = xrealloc(s->choices, cap * sizeof(*s->choices));
		memset(s->choices + s->ccap, 0,
		    (cap - s->ccap) * sizeof(*s->choices));
		s->ccap = cap;
	}
	if (i >= s->nchoices)
		s->nchoices = i + 1;
	s->choices[i].seen = 1;
	return &s->choices[i];
}

static struct tool *tool_at(struct sse *s, struct choice *c, long long idx)
{
	size_t i = (size_t)idx;

	if (idx < 0 || idx >= MAX_INDEX) {
		fail(s, SSE_BAD, "a tool call index out of range");
		return NULL;
	}
	if (i >= c->tcap) {
		size_t cap = c->tcap ? c->tcap : 4;

		while (cap <= i)
			cap *= 2;
		c->tools = xrealloc(c->tools, cap * sizeof(*c->tools));
		memset(c->tools + c->tcap, 0,
		    (cap - c->tcap) * sizeof(*c->tools));
		c->tcap = cap;
	}
	if (i >= c->ntools)
		c->ntools = i + 1;
	return &c->tools[i];
}

static int is_string(json_object *o, const char *key, json_object **v)
{
	return json_object_object_get_ex(o, key, v) &&
	    json_object_is_type(*v, json_type_string);
}

/* A non-empty string member replaces b: servers send ids and names once,
 * or repeat them whole, never in pieces worth joining. */
static void take_name(json_object *o, const char *key, struct buf *b)
{
	json_object *v;

	if (is_string(o, key, &v) && json_object_get_string_len(v) > 0)
		set_buf(b, v);
}

/* Append a string member to b; returns -1 when over the budget. */
static int take_piece(struct sse *s, json_object *o, const char *key,
    struct buf *b, int *has)
{
	json_object *v;
	int n;

	if (!is_string(o, key, &v))
		return 0;
	n = json_object_get_string_len(v);
	if (has)
		*has = 1;
	if (n > 0)
		s->token = 1;
	return keep(s, b, json_object_get_string(v), (size_t)n);
}

/*
 * Merge a chunk's logprobs into the choice's: arrays (chat's content and
 * refusal, completions' tokens, token_logprobs, top_logprobs,
 * text_offset) are concatenated; anything else is kept from the first
 * chunk that has it.
 */
static void merge_logprobs(struct choice *c, json_object *lp)
{
	json_object *old;
	size_t i;

	if (c->logprobs == NULL) {
		/* The chunk is put after this; our reference keeps lp. */
		c->logprobs = json_object_get(lp);
		return;
	}
	if (!json_object_is_type(lp, json_type_object) ||
	    !json_object_is_type(c->logprobs, json_type_object))
		return;
	json_object_object_foreach(lp, key, val) {
		if (!json_object_object_get_ex(c->logprobs, key, &old) ||
		    (old == NULL && val != NULL)) {
			json_object_object_add(c->logprobs, key,
			    json_object_get(val));
		} else if (json_object_is_type(old, json_type_array) &&
		    json_object_is_type(val, json_type_array)) {
			for (i = 0; i < json_object_array_length(val); i++)
				json_object_array_add(old, json_object_get(
				    json_object_array_get_idx(val, i)));
		}
	}
}

static int tool_delta(struct sse *s, struct choice *c, json_object *tc,
    size_t pos)
{
	struct tool *t;
	json_object *fn;

	if (!json_object_is_type(tc, json_type_object))
		return 0;
	if ((t = tool_at(s, c, index_of(tc, pos))) == NULL)
		return -1;
	s->token = 1;
	take_name(tc, "id", &t->id);
	take_name(tc, "type", &t->type);
	if (json_object_object_get_ex(tc, "function", &fn) &&
	    json_object_is_type(fn, json_type_object)) {
		take_name(fn, "name", &t->name);
		if (take_piece(s, fn, "arguments", &t->args, NULL) < 0)
			return -1;
	}
	return 0;
}

static int chat_delta(struct sse *s, struct choice *c, json_object *d)
{
	json_object *v, *fc;
	size_t i;

	take_name(d, "role", &c->role);
	if (take_piece(s, d, "content", &c->content, &c->has_content) < 0)
		return -1;
	if (json_object_object_get_ex(d, "refusal", &v)) {
		c->has_refusal = 1;
		if (take_piece(s, d, "refusal", &c->refusal, NULL) < 0)
			return -1;
	}
	if (json_object_object_get_ex(d, "tool_calls", &v) &&
	    json_object_is_type(v, json_type_array))
		for (i = 0; i < json_object_array_length(v); i++)
			if (tool_delta(s, c, json_object_array_get_idx(v, i),
			    i) < 0)
				return -1;
	if (json_object_object_get_ex(d, "function_call", &fc) &&
	    json_object_is_type(fc, json_type_object)) {
		c->has_fcall = 1;
		s->token = 1;
		take_name(fc, "name", &c->fname);
		if (take_piece(s, fc, "arguments", &c->fargs, NULL) < 0)
			return -1;
	}
	return 0;
}

/* Keep the top-level fields other than those rebuilt, first seen first;
 * a null is replaced by a later value. */
static int merge_top(struct sse *s, json_object *o, size_t n)
{
	json_object *old;
	int added = 0;

	json_object_object_foreach(o, key, val) {
		if (strcmp(key, "choices") == 0 || strcmp(key, "usage") == 0 ||
		    strcmp(key, "object") == 0 ||
		    strcmp(key, "obfuscation") == 0)
			continue;
		if (!json_object_object_get_ex(s->top, key, &old) ||
		    (old == NULL && val != NULL)) {
			json_object_object_add(s->top, key,
			    json_object_get(val));
			added = 1;
		}
	}
	/* What is kept is at most the event's size: count that. */
	if (!added)
		return 0;
	if (n > s->max_size - s->held) {
		fail(s, SSE_TOO_LARGE, "the reassembled answer is larger "
		    "than the limit");
		return -1;
	}
	s->held += n;
	return 0;
}

/* A chat.completion.chunk or a text_completion chunk. */
static void chunk(struct sse *s, json_object *o, json_object *choices,
    size_t n)
{
	json_object *v, *c, *d;
	struct choice *ch;
	size_t i;

	if (s->kind == K_NONE) {
		c = json_object_array_get_idx(choices, 0);
		if (is_string(o, "object", &v))
			s->kind = strcmp(json_object_get_string(v),
			    "text_completion") == 0 ? K_COMPLETION : K_CHAT;
		else
			s->kind = c && json_object_object_get_ex(c, "text",
			    &v) ? K_COMPLETION : K_CHAT;
	}
	if (merge_top(s, o, n) < 0)
		return;
	if (json_object_object_get_ex(o, "usage", &v) && v != NULL) {
		json_object_put(s->usage);
		s->usage = json_object_get(v);
	}
	for (i = 0; i < json_object_array_length(choices); i++) {
		c = json_object_array_get_idx(choices, i);
		if (!json_object_is_type(c, json_type_object))
			continue;
		if ((ch = choice_at(s, index_of(c, i))) == NULL)
			return;
		if (s->kind == K_CHAT) {
			if (json_object_object_get_ex(c, "delta", &d) &&
			    json_object_is_type(d, json_type_object) &&
			    chat_delta(s, ch, d) < 0)
				return;
		} else if (take_piece(s, c, "text", &ch->content,
		    &ch->has_content) < 0)
			return;
		if (json_object_object_get_ex(c, "finish_reason", &v) &&
		    v != NULL) {
			json_object_put(ch->finish);
			ch->finish = json_object_get(v);
		}
		if (json_object_object_get_ex(c, "logprobs", &v) && v != NULL) {
			if (n > s->max_size - s->held) {
				fail(s, SSE_TOO_LARGE, "the reassembled "
				    "answer is larger than the limit");
				return;
			}
			s->held += n;
			merge_logprobs(ch, v);
		}
	}
}

/* Responses API events: the final one carries the whole response. */
static void responses_event(struct sse *s, json_object *o, const char *type)
{
	static const char *const finals[] = {
		"response.completed", "response.incomplete", "response.failed"
	};
	json_object *r;
	size_t n = strlen(type), i;

	if (s->kind != K_NONE && s->kind != K_RESPONSES) {
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
	if (is_string(o, "type", &v))
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

static void dispatch(struct sse *s)
{
	if (s->data.len == 0) {
		buf_reset(&s->event);
		return;
	}
	/* Drop the LF after the last data line. */
	s->data.data[--s->data.len] = 0;
	s->nevents++;
	handle(s, s->event.len ? s->event.data : "", s->data.data, s->data.len);
	buf_reset(&s->data);
	buf_reset(&s->event);
}

/* One complete line, without its end. */
static void line(struct sse *s, const char *l, size_t n)
{
	const char *colon, *v;
	size_t flen, vlen;

	if (n == 0) {
		dispatch(s);
		return;
	}
	if (l[0] == ':')
		return;		/* a comment: keep-alives */
	colon = memchr(l, ':', n);
	if (colon) {
		flen = (size_t)(colon - l);
		v = colon + 1;
		vlen = n - flen - 1;
		if (vlen > 0 && *v == ' ') {
			v++;
			vlen--;
		}
	} else {
		flen = n;
		v = l + n;
		vlen = 0;
	}
	if (flen == 4 && memcmp(l, "data", 4) == 0) {
		if (vlen + 1 > s->max_size - s->data.len) {
			fail(s, SSE_TOO_LARGE, "an event is larger than the "
			    "limit");
			return;
		}
		buf_add(&s->data, v, vlen);
		buf_addc(&s->data, '\n');
	} else if (flen == 5 && memcmp(l, "event", 5) == 0) {
		buf_reset(&s->event);
		buf_add(&s->event, v, vlen < 128 ? vlen : 128);
	}
	/* id, retry and unknown fields mean nothing for an answer. */
}

enum sse_state sse_feed(struct sse *s, const char *p, size_t n)
{
	const char *end = p + n, *q;

	while (p < end && s->state == SSE_RUNNING) {
		if (s->cr) {
			/* CR LF split across calls, or not: one line end. */
			s->cr = 0;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		for (q = p; q < end && *q != '\n' && *q != '\r'; q++)
			;
		/* A comment (a keep-alive) is dropped as it comes, however
		 * long and however it is cut into pieces. */
		if (s->in_comment || (s->line.len == 0 && q > p && *p == ':')) {
			s->in_comment = q == end;
			if (q == end)
				break;
			s->cr = *q == '\r';
			p = q + 1;
			continue;
		}
		/* The same limit whether a line comes whole or in pieces. */
		if ((size_t)(q - p) > s->max_size - s->line.len)
			return fail(s, SSE_TOO_LARGE, "an event line is "
			    "larger than the limit");
		if (q == end) {
			buf_add(&s->line, p, (size_t)(q - p));
			break;
		}
		s->cr = *q == '\r';
		if (s->line.len) {
			buf_add(&s->line, p, (size_t)(q - p));
			line(s, s->line.data, s->line.len);
			buf_reset(&s->line);
		} else {
			line(s, p, (size_t)(q - p));
		}
		p = q + 1;
	}
	return s->state;
}

enum sse_state sse_end(struct sse *s)
{
	/* A last line cut in the middle is dropped, as the standard says;
	 * a pending event whose lines all ended is not (see sse.h). */
	if (s->state == SSE_RUNNING && s->line.len == 0)
		dispatch(s);
	return s->state;
}

static json_object *jstr(const struct buf *b)
{
	return json_object_new_string_len(b->len ? b->data : "", (int)b->len);
}

static json_object *chat_message(const struct choice *c)
{
	json_object *m = json_object_new_object(), *tcs, *t, *fn;
	size_t i;

	json_object_object_add(m, "role", c->role.len ? jstr(&c->role) :
	    json_object_new_string("assistant"));
	/* A tool call's empty content is null, as unstreamed. */
	json_object_object_add(m, "content", c->content.len ||
	    (c->has_content && c->ntools == 0 && !c->has_fcall) ?
	    jstr(&c->content) : NULL);
	if (c->has_refusal)
		json_object_object_add(m, "refusal", c->refusal.len ?
		    jstr(&c->refusal) : NULL);
	if (c->ntools > 0) {
		tcs = json_object_new_array();
		for (i = 0; i < c->ntools; i++) {
			const struct tool *tl = &c->tools[i];

			if (tl->id.len == 0 && tl->name.len == 0 &&
			    tl->args.len == 0)
				continue;	/* an index never sent */
			t = json_object_new_object();
			json_object_object_add(t, "id", jstr(&tl->id));
			json_object_object_add(t, "type", tl->type.len ?
			    jstr(&tl->type) :
			    json_object_new_string("function"));
			fn = json_object_new_object();
			json_object_object_add(fn, "name", jstr(&tl->name));
			json_object_object_add(fn, "arguments",
			    jstr(&tl->args));
			json_object_object_add(t, "function", fn);
			json_object_array_add(tcs, t);
		}
		json_object_object_add(m, "tool_calls", tcs);
	}
	if (c->has_fcall) {
		fn = json_object_new_object();
		json_object_object_add(fn, "name", jstr(&c->fname));
		json_object_object_add(fn, "arguments", jstr(&c->fargs));
		json_object_object_add(m, "function_call", fn);
	}
	return m;
}

static void copy_top(json_object *r, json_object *top, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(top, key, &v))
		json_object_object_add(r, key, json_object_get(v));
}

json_object *sse_result(struct sse *s)
{
	json_object *r, *choices, *c;
	size_t i;

	if (s->state != SSE_DONE)
		return NULL;
	if (s->kind == K_RESPONSES)
		return json_object_get(s->final);
	/* The order of an unstreamed answer. */
	r = json_object_new_object();
	copy_top(r, s->top, "id");
	json_object_object_add(r, "object", json_object_new_string(
	    s->kind == K_CHAT ? "chat.completion" : "text_completion"));
	copy_top(r, s->top, "created");
	copy_top(r, s->top, "model");
	choices = json_object_new_array();
	for (i = 0; i < s->nchoices; i++) {
		const struct choice *ch = &s->choices[i];

		if (!ch->seen)
			continue;
		c = json_object_new_object();
		if (s->kind == K_CHAT) {
			json_object_object_add(c, "index",
			    json_object_new_int64((int64_t)i));
			json_object_object_add(c, "message", chat_message(ch));
		} else {
			json_object_object_add(c, "text", jstr(&ch->content));
			json_object_object_add(c, "index",
			    json_object_new_int64((int64_t)i));
		}
		json_object_object_add(c, "logprobs",
		    json_object_get(ch->logprobs));
		json_object_object_add(c, "finish_reason",
		    json_object_get(ch->finish));
		json_object_array_add(choices, c);
	}
	json_object_object_add(r, "choices", choices);
	if (s->usage)
		json_object_object_add(r, "usage", json_object_get(s->usage));
	json_object_object_foreach(s->top, key, val) {
		if (strcmp(key, "id") != 0 && strcmp(key, "created") != 0 &&
		    strcmp(key, "model") != 0)
			json_object_object_add(r, key, json_object_get(val));
	}
	return r;
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
	return s->token;
}
