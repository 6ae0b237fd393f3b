/* ssechunks.c: chat and completions chunks put back into one answer. */
#include "ssechunks.h"

#include <json-c/json.h>	/* the chunks, the answer */
#include <stdlib.h>	/* free */
#include <string.h>	/* strcmp, memset */

#include "util.h"	/* struct buf, xcalloc */

/*
 * Choice and tool call indexes are small in practice (n is at most 128);
 * a larger one would only make us allocate for a server's whim.
 */
#define MAX_INDEX 4096

enum kind { K_NONE, K_CHAT, K_COMPLETION };

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

struct chunks {
	size_t max_size;
	enum sse_state state;	/* SSE_RUNNING, SSE_BAD or SSE_TOO_LARGE */
	const char *problem;	/* why not SSE_RUNNING */
	enum kind kind;
	size_t held;		/* bytes kept for the answer */
	int token;
	json_object *top;	/* the chunks' top-level fields */
	json_object *usage;
	struct choice *choices;
	size_t nchoices;	/* in use: the highest index + 1 */
	size_t ccap;		/* allocated; entries past nchoices are clear */
};

static enum sse_state fail(struct chunks *s, enum sse_state st,
    const char *what)
{
	s->state = st;
	s->problem = what;
	return st;
}

/* Append to one of the answer's strings, within the budget. */
static int keep(struct chunks *s, struct buf *b, const char *p, size_t n)
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

struct chunks *chunks_new(size_t max_size)
{
	struct chunks *s = xcalloc(1, sizeof(*s));

	s->max_size = max_size;
	chunks_reset(s);
	return s;
}

void chunks_reset(struct chunks *s)
{
	size_t i;

	s->state = SSE_RUNNING;
	s->problem = "";
	s->kind = K_NONE;
	s->held = 0;
	s->token = 0;
	json_object_put(s->top);
	s->top = json_object_new_object();
	if (s->top == NULL)
		die(EXIT_INTERNAL, "out of memory for a streamed answer");
	json_object_put(s->usage);
	s->usage = NULL;
	for (i = 0; i < s->nchoices; i++)
		choice_clear(&s->choices[i]);
	s->nchoices = 0;
}

void chunks_free(struct chunks *s)
{
	size_t i, j;

	if (s == NULL)
		return;
	chunks_reset(s);
	json_object_put(s->top);
	json_object_put(s->usage);
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

/*
 * Make entry i of an array of *cap entries of size sz exist, the new
 * ones clear, doubling from 4; *used becomes at least i + 1.  Returns
 * the array, moved or not.
 */
static void *entry_at(void *array, size_t *cap, size_t *used, size_t i,
    size_t sz)
{
	if (i >= *cap) {
		size_t n = *cap ? *cap : 4;

		while (n <= i)
			n *= 2;
		array = xrealloc(array, n * sz);
		memset((char *)array + *cap * sz, 0, (n - *cap) * sz);
		*cap = n;
	}
	if (i >= *used)
		*used = i + 1;
	return array;
}

/* Whether a choice or tool call index is one to keep; else fails. */
static int index_ok(struct chunks *s, long long idx, const char *what)
{
	if (idx >= 0 && idx < MAX_INDEX)
		return 1;
	fail(s, SSE_BAD, what);
	return 0;
}

static struct choice *choice_at(struct chunks *s, long long idx)
{
	size_t i = (size_t)idx;

	if (!index_ok(s, idx, "a choice index out of range"))
		return NULL;
	s->choices = entry_at(s->choices, &s->ccap, &s->nchoices, i,
	    sizeof(*s->choices));
	s->choices[i].seen = 1;
	return &s->choices[i];
}

static struct tool *tool_at(struct chunks *s, struct choice *c, long long idx)
{
	size_t i = (size_t)idx;

	if (!index_ok(s, idx, "a tool call index out of range"))
		return NULL;
	c->tools = entry_at(c->tools, &c->tcap, &c->ntools, i,
	    sizeof(*c->tools));
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
static int take_piece(struct chunks *s, json_object *o, const char *key,
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

static int tool_delta(struct chunks *s, struct choice *c, json_object *tc,
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

static int chat_delta(struct chunks *s, struct choice *c, json_object *d)
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
static int merge_top(struct chunks *s, json_object *o, size_t n)
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
static void chunk(struct chunks *s, json_object *o, json_object *choices,
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

enum sse_state chunks_add(struct chunks *s, json_object *o,
    json_object *choices, size_t n)
{
	chunk(s, o, choices, n);
	return s->state;
}

const char *chunks_problem(const struct chunks *s)
{
	return s->problem;
}

int chunks_got_token(const struct chunks *s)
{
	return s->token;
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

json_object *chunks_result(const struct chunks *s)
{
	json_object *r, *choices, *c;
	size_t i;

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
