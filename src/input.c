/* input.c: the streaming line reader and the line classifier. */
#include "input.h"

#include <errno.h>	/* errno, EAGAIN, EINTR */
#include <json-c/json.h>	/* json_tokener, json_object */
#include <stdlib.h>	/* free, strtod */
#include <string.h>	/* memchr, memcmp, strlen */
#include <unistd.h>	/* read */

#include "api.h"	/* endpoint_of */
#include "idset.h"	/* struct idset */
#include "jsoncheck.h"	/* json_check */
#include "ratelimit.h"	/* estimate_tokens */

#define READ_CHUNK (64 * 1024)
#define INFLATE_CHUNK (256 * 1024)	/* decoded bytes per step */

void lr_init(struct linereader *lr, int fd, size_t max_line)
{
	memset(lr, 0, sizeof(*lr));
	lr->fd = fd;
	lr->max_line = max_line;
}

void lr_free(struct linereader *lr)
{
	if (lr->mode == 2)
		inflateEnd(&lr->z);
	buf_release(&lr->raw);
	buf_release(&lr->text);
}

/* Drop the lines already handed out, so the buffer holds only new bytes. */
static void compact(struct linereader *lr)
{
	if (lr->pos == 0)
		return;
	buf_consume(&lr->text, lr->pos);
	lr->scan -= lr->pos;
	lr->pos = 0;
}

/* Inflate up to INFLATE_CHUNK bytes from raw into text. */
static void inflate_some(struct linereader *lr)
{
	size_t used;
	int rc;

	compact(lr);
	buf_grow(&lr->text, INFLATE_CHUNK);
	lr->z.next_in = (unsigned char *)lr->raw.data;
	lr->z.avail_in = lr->raw.len;
	lr->z.next_out = (unsigned char *)lr->text.data + lr->text.len;
	lr->z.avail_out = INFLATE_CHUNK;
	rc = inflate(&lr->z, Z_NO_FLUSH);
	used = lr->raw.len - lr->z.avail_in;
	lr->text.len += INFLATE_CHUNK - lr->z.avail_out;
	lr->text.data[lr->text.len] = 0;
	buf_consume(&lr->raw, used);
	if (rc == Z_STREAM_END) {
		/* Another member may follow: gzip files concatenate. */
		if (lr->raw.len >= 2 && (unsigned char)lr->raw.data[0] != 0x1f)
			goto corrupt;
		inflateReset(&lr->z);
		return;
	}
	if (rc == Z_OK || rc == Z_BUF_ERROR)
		return;
corrupt:
	warnx("standard input: corrupt gzip data (%s); reading stops here",
	    lr->z.msg ? lr->z.msg : "bad member");
	lr->zerr = 1;
	lr->cut = 1;
	lr->eof = 1;
	buf_reset(&lr->raw);
}

int lr_fill(struct linereader *lr)
{
	struct buf *into = lr->mode == 1 ? &lr->text : &lr->raw;
	ssize_t n;

	if (lr->eof)
		return 0;
	if (lr->mode == 1)
		compact(lr);
	buf_grow(into, READ_CHUNK);
	n = read(lr->fd, into->data + into->len, READ_CHUNK);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK)
			return -1;
		warn_errno("standard input: read error; reading stops here");
		lr->cut = 1;
		n = 0;
	}
	into->len += n;
	into->data[into->len] = 0;
	if (n == 0)
		lr->eof = 1;
	if (lr->mode == 0 && (lr->raw.len >= 2 || lr->eof)) {
		if (lr->raw.len >= 2 && (unsigned char)lr->raw.data[0] == 0x1f &&
		    (unsigned char)lr->raw.data[1] == 0x8b) {
			memset(&lr->z, 0, sizeof(lr->z));
			if (inflateInit2(&lr->z, 15 + 16) != Z_OK)
				die("inflateInit2 failed");
			lr->mode = 2;
		} else {
			lr->mode = 1;
			buf_add(&lr->text, lr->raw.data, lr->raw.len);
			buf_release(&lr->raw);
		}
	}
	return n > 0 ? 1 : 0;
}

/*
 * A UTF-8 byte order mark, as some Windows tools write at the start of a
 * file: its length if s starts with one, else 0.  It is no part of the
 * first line, so the reader and the line count skip it.
 */
static size_t bom_len(const char *s, size_t n)
{
	return n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

/* The first line: drop a UTF-8 BOM, and say so if the input is UTF-16. */
static void first_line(struct line *ln)
{
	size_t skip = bom_len(ln->p, ln->len);

	ln->p += skip;
	ln->len -= skip;
	if (ln->len >= 2 && (memcmp(ln->p, "\xff\xfe", 2) == 0 ||
	    memcmp(ln->p, "\xfe\xff", 2) == 0))
		warnx("standard input: UTF-16 (it starts with a byte order "
		    "mark); splitgpt reads UTF-8: convert it with "
		    "iconv -f UTF-16 -t UTF-8");
}

int lr_next(struct linereader *lr, struct line *ln)
{
	for (;;) {
		char *base = lr->text.data;
		char *nl = NULL;
		size_t end;

		if (lr->scan < lr->text.len)
			nl = memchr(base + lr->scan, '\n', lr->text.len - lr->scan);
		if (nl == NULL) {
			lr->scan = lr->text.len;
			if (lr->skipping || lr->scan - lr->pos > lr->max_line) {
				/* Too long to keep: count it and let it go. */
				lr->skipping = 1;
				lr->skipped += lr->scan - lr->pos;
				lr->pos = lr->scan;
			}
			if (lr->mode == 2 && lr->raw.len > 0 && !lr->zerr) {
				inflate_some(lr);
				continue;
			}
			if (!lr->eof)
				return 0;
			if (lr->mode == 2 && !lr->cut && lr->z.total_in > 0) {
				warnx("standard input: gzip data ends early");
				lr->cut = 1;
			}
			if (lr->cut && (lr->pos < lr->text.len ||
			    lr->skipping)) {
				/* A piece of a line, not a line: sending it
				 * would pay for a prompt nobody wrote. */
				warnx("standard input: line %llu is cut short; "
				    "it gets no record",
				    (unsigned long long)lr->lineno + 1);
				lr->pos = lr->scan = lr->text.len;
				lr->skipping = 0;
				lr->skipped = 0;
			}
			if (lr->pos == lr->text.len && !lr->skipping) {
				lr->done = 1;
				return -1;
			}
			end = lr->text.len;	/* a last line with no newline */
		} else {
			end = nl - base;
		}
		ln->lineno = ++lr->lineno;
		ln->len = end - lr->pos;
		ln->too_long = 0;
		ln->p = base + lr->pos;
		if (lr->skipping || ln->len > lr->max_line) {
			ln->too_long = 1;
			ln->len += lr->skipped;
			ln->p = NULL;
			lr->skipping = 0;
			lr->skipped = 0;
		} else if (ln->lineno == 1)
			first_line(ln);
		lr->pos = lr->scan = nl ? end + 1 : end;
		return 1;
	}
}

int line_is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

uint64_t count_lines(int fd)
{
	static unsigned char in[READ_CHUNK], out[INFLATE_CHUNK];
	z_stream z;
	off_t off = 0;
	uint64_t lines = 0;
	int gz = -1, text = 0, first = 1, zrc = Z_OK;
	ssize_t n;

	memset(&z, 0, sizeof(z));
	while ((n = pread(fd, in, sizeof(in), off)) > 0) {
		off += n;
		if (gz < 0) {
			gz = n >= 2 && in[0] == 0x1f && in[1] == 0x8b;
			if (gz && inflateInit2(&z, 15 + 16) != Z_OK)
				return 0;
		}
		z.next_in = in;
		z.avail_in = n;
		do {
			const unsigned char *p = in, *nl;
			size_t len = n, i, end;

			if (gz) {
				z.next_out = out;
				z.avail_out = sizeof(out);
				zrc = inflate(&z, Z_NO_FLUSH);
				if (zrc == Z_STREAM_END && z.avail_in > 0)
					inflateReset(&z);
				else if (zrc != Z_OK && zrc != Z_STREAM_END &&
				    zrc != Z_BUF_ERROR)
					z.avail_in = 0;
				p = out;
				len = sizeof(out) - z.avail_out;
			}
			i = 0;
			if (first && len > 0) {
				i = bom_len((const char *)p, len);
				first = 0;
			}
			for (; i < len; i = end + 1) {
				nl = memchr(p + i, '\n', len - i);
				end = nl ? (size_t)(nl - p) : len;
				if (!text && !line_is_blank((const char *)p + i,
				    end - i))
					text = 1;
				if (nl) {
					lines += text;
					text = 0;
				}
			}
		} while (gz && (z.avail_in > 0 || z.avail_out == 0));
	}
	if (gz > 0)
		inflateEnd(&z);
	return lines + text;
}

/* ---- the classifier ---- */

struct classifier {
	const struct config *cfg;
	json_tokener *tok;
	json_object *defaults;		/* -d, or NULL */
	json_object *temperature;	/* --temperature, or NULL */
	enum endpoint default_kind;
	struct idset ids;
};

struct classifier *classifier_new(const struct config *cfg)
{
	struct classifier *c = xcalloc(1, sizeof(*c));

	c->cfg = cfg;
	/* json_check enforces the depth; json-c only needs room for it. */
	c->tok = json_tokener_new_ex(cfg->max_depth + 1);
	if (c->tok == NULL)
		die("out of memory for the JSON parser");
	if (cfg->body_defaults) {
		c->defaults = json_tokener_parse(cfg->body_defaults);
		if (!json_object_is_type(c->defaults, json_type_object))
			die("-d %s: not a JSON object", cfg->body_defaults);
	}
	if (cfg->temperature) {
		char *end;
		double t = strtod(cfg->temperature, &end);

		if (end == cfg->temperature || *end || t < 0 || t > 2)
			die("--temperature %s: not a number from 0 to 2",
			    cfg->temperature);
		c->temperature = json_object_new_double_s(t, cfg->temperature);
	}
	c->default_kind = endpoint_of(cfg->endpoint, strlen(cfg->endpoint));
	idset_init(&c->ids);
	return c;
}

void classifier_free(struct classifier *c)
{
	if (c == NULL)
		return;
	json_tokener_free(c->tok);
	json_object_put(c->defaults);
	json_object_put(c->temperature);
	idset_free(&c->ids);
	free(c);
}

static int has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

static void add_if_missing(json_object *o, const char *key, json_object *v)
{
	if (has(o, key))
		json_object_put(v);
	else
		json_object_object_add(o, key, v);
}

static json_object *message(const char *role, const char *text, size_t n)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", json_object_new_string_len(text, n));
	return m;
}

/* Put a system message first unless the conversation has one already. */
static void add_system(json_object *body, const char *system)
{
	json_object *msgs, *fresh;
	size_t i, n;

	if (!json_object_object_get_ex(body, "messages", &msgs) ||
	    !json_object_is_type(msgs, json_type_array))
		return;
	n = json_object_array_length(msgs);
	for (i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(msgs, i), *role;
		const char *r;

		if (!json_object_object_get_ex(m, "role", &role))
			continue;
		r = json_object_get_string(role);
		if (r && (!strcmp(r, "system") || !strcmp(r, "developer")))
			return;
	}
	fresh = json_object_new_array_ext(n + 1);
	json_object_array_add(fresh, message("system", system, strlen(system)));
	for (i = 0; i < n; i++)
		json_object_array_add(fresh,
		    json_object_get(json_object_array_get_idx(msgs, i)));
	json_object_object_add(body, "messages", fresh);
}

/* Fill what the body lacks from the options; the line's own values win. */
static void apply_defaults(struct classifier *c, enum endpoint kind,
    json_object *body)
{
	const struct config *cfg = c->cfg;
	int generates = kind == EP_CHAT || kind == EP_COMPLETIONS ||
	    kind == EP_RESPONSES;

	if (cfg->model)
		add_if_missing(body, "model", json_object_new_string(cfg->model));
	if (generates && cfg->max_tokens >= 0 && !has(body, "max_tokens") &&
	    !has(body, "max_completion_tokens") &&
	    !has(body, "max_output_tokens"))
		json_object_object_add(body, kind == EP_RESPONSES ?
		    "max_output_tokens" : "max_tokens",
		    json_object_new_int64(cfg->max_tokens));
	if (generates && c->temperature)
		add_if_missing(body, "temperature",
		    json_object_get(c->temperature));
	if (cfg->system && kind == EP_CHAT)
		add_system(body, cfg->system);
	if (cfg->system && kind == EP_RESPONSES)
		add_if_missing(body, "instructions",
		    json_object_new_string(cfg->system));
	if (c->defaults) {
		json_object_object_foreach(c->defaults, key, val)
			add_if_missing(body, key, json_object_get(val));
	}
}

/* A body for one prompt text, shaped for the endpoint's kind. */
static json_object *prompt_body(enum endpoint kind, const char *text, size_t n,
    const char *system)
{
	json_object *body = json_object_new_object();
	json_object *msgs;

	switch (kind) {
	case EP_COMPLETIONS:
		json_object_object_add(body, "prompt",
		    json_object_new_string_len(text, n));
		break;
	case EP_EMBEDDINGS:
	case EP_RESPONSES:
		json_object_object_add(body, "input",
		    json_object_new_string_len(text, n));
		break;
	default:
		msgs = json_object_new_array_ext(2);
		if (system)
			json_object_array_add(msgs,
			    message("system", system, strlen(system)));
		json_object_array_add(msgs, message("user", text, n));
		json_object_object_add(body, "messages", msgs);
	}
	return body;
}

static const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double:
	case json_type_int: return "a number";
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	case json_type_string: return "a string";
	}
	return "a value";
}

/* Tokens in the text of a value: strings, and the text of its parts. */
static long long text_tokens(json_object *v, int depth)
{
	long long t = 0;
	size_t i;

	if (depth > 8)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return estimate_tokens(json_object_get_string(v),
		    json_object_get_string_len(v));
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			t += text_tokens(json_object_array_get_idx(v, i),
			    depth + 1);
		return t;
	case json_type_object: {
		json_object *x;

		/* A message: its content; a part: its text; a message
		 * each costs a few tokens of its own. */
		if (json_object_object_get_ex(v, "content", &x))
			return 4 + text_tokens(x, depth + 1);
		if (json_object_object_get_ex(v, "text", &x))
			return text_tokens(x, depth + 1);
		return 0;
	}
	default:
		return 0;
	}
}

/* The request's token estimate: its prompt text, its output allowance. */
static void estimate(json_object *body, struct request *req)
{
	static const char *const text_keys[] = { "messages", "prompt",
	    "input", "instructions", "system" };
	static const char *const out_keys[] = { "max_tokens",
	    "max_completion_tokens", "max_output_tokens" };
	json_object *x;
	long long n = 1;
	size_t k;

	req->prompt_est = 0;
	req->max_out = 0;
	for (k = 0; k < sizeof(text_keys) / sizeof(*text_keys); k++)
		if (json_object_object_get_ex(body, text_keys[k], &x))
			req->prompt_est += text_tokens(x, 0);
	for (k = 0; k < sizeof(out_keys) / sizeof(*out_keys); k++)
		if (json_object_object_get_ex(body, out_keys[k], &x) &&
		    json_object_get_int64(x) > 0) {
			/* Absurd values are the server's to refuse; here they
			 * only must not overflow. */
			req->max_out = json_object_get_int64(x);
			if (req->max_out > 100000000)
				req->max_out = 100000000;
			break;
		}
	if (json_object_object_get_ex(body, "n", &x) &&
	    json_object_get_int64(x) > 1 && json_object_get_int64(x) < 1000)
		n = json_object_get_int64(x);
	req->max_out *= n;
}

#define FAIL(code, ...) do { \
	buf_addf(msg, "line %llu: ", (unsigned long long)lineno); \
	buf_addf(msg, __VA_ARGS__); \
	rc = (code); \
	goto out; \
} while (0)

/*
 * The custom_id: the line's own (a string, or a whole number in the
 * simple form), else line-N.  Returns ERR_DUPLICATE_ID when it was used,
 * unless --allow-duplicate-ids says to remember none.
 */
static enum errcode take_id(struct classifier *c, json_object *idv,
    uint64_t lineno, struct request *req)
{
	int check = !c->cfg->allow_dup_ids, seen;

	buf_reset(&req->custom_id);
	req->user_id = idv != NULL;
	if (idv == NULL) {
		buf_addf(&req->custom_id, "line-%llu",
		    (unsigned long long)lineno);
		seen = check && idset_add_auto(&c->ids, lineno);
	} else {
		buf_add(&req->custom_id, json_object_get_string(idv),
		    json_object_get_string_len(idv));
		seen = check && idset_add_user(&c->ids, req->custom_id.data,
		    req->custom_id.len);
	}
	return seen ? ERR_DUPLICATE_ID : ERR_NONE;
}

enum errcode input_too_long(struct classifier *c, uint64_t lineno,
    size_t len, struct request *req, struct buf *msg)
{
	buf_reset(msg);
	take_id(c, NULL, lineno, req);
	buf_addf(msg, "line %llu: the line is %zu bytes, longer than "
	    "--max-line-length %zu", (unsigned long long)lineno, len,
	    c->cfg->max_line);
	return ERR_LINE_TOO_LONG;
}

enum errcode input_classify(struct classifier *c, const char *line,
    size_t len, uint64_t lineno, struct request *req, struct buf *msg)
{
	const struct config *cfg = c->cfg;
	json_object *v = NULL, *body = NULL, *idv = NULL, *x;
	enum endpoint kind = c->default_kind;
	enum errcode rc = ERR_NONE;
	struct json_problem problem;
	const char *nul;
	long bad;
	int type;

	buf_reset(&req->path);
	buf_reset(&req->body);
	buf_reset(msg);
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		len--;
	buf_adds(&req->path, cfg->endpoint);

	if (cfg->text) {
		if (take_id(c, NULL, lineno, req) != ERR_NONE)
			FAIL(ERR_DUPLICATE_ID, "duplicate custom_id \"%s\"",
			    req->custom_id.data);
		if ((nul = memchr(line, 0, len)) != NULL)
			FAIL(ERR_INVALID_REQUEST, "NUL byte at byte %zu",
			    (size_t)(nul - line) + 1);
		if ((bad = utf8_invalid_at(line, len)) >= 0)
			FAIL(ERR_INVALID_REQUEST, "invalid UTF-8 at byte %ld",
			    bad + 1);
		body = prompt_body(kind, line, len, cfg->system);
		goto build;
	}

	if ((nul = memchr(line, 0, len)) != NULL) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_JSON, "invalid JSON at byte %zu: NUL byte",
		    (size_t)(nul - line) + 1);
	}
	type = json_check(line, len, cfg->max_depth, &problem);
	if (type == 0) {
		take_id(c, NULL, lineno, req);
		if (strcmp(problem.what, "nesting too deep") == 0)
			FAIL(ERR_INVALID_JSON, "invalid JSON at byte %zu: "
			    "nesting deeper than --max-depth %d",
			    problem.at + 1, cfg->max_depth);
		FAIL(ERR_INVALID_JSON, "invalid JSON at byte %zu: %s",
		    problem.at + 1, problem.what);
	}
	if (type != '{' && type != '"') {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_REQUEST, "the line is %s, not a request "
		    "object or a prompt string", type == '[' ? "an array" :
		    type == 'n' ? "a number" : type == 'u' ? "null" :
		    "a boolean");
	}
	json_tokener_reset(c->tok);
	v = json_tokener_parse_ex(c->tok, line, (int)len);
	if (v == NULL) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_JSON, "invalid JSON: %s", json_tokener_error_desc(
		    json_tokener_get_error(c->tok)));
	}

	if (json_object_is_type(v, json_type_string)) {
		if (take_id(c, NULL, lineno, req) != ERR_NONE)
			FAIL(ERR_DUPLICATE_ID, "duplicate custom_id \"%s\"",
			    req->custom_id.data);
		body = prompt_body(kind, json_object_get_string(v),
		    json_object_get_string_len(v), cfg->system);
		goto build;
	}
	if (!json_object_is_type(v, json_type_object)) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_REQUEST, "the line is %s, not a request "
		    "object or a prompt string", type_name(v));
	}

	if (has(v, "body") || has(v, "url") || has(v, "method")) {
		/* A Batch API request line. */
		json_object_object_get_ex(v, "custom_id", &idv);
		if (idv && (!json_object_is_type(idv, json_type_string) ||
		    json_object_get_string_len(idv) == 0)) {
			take_id(c, NULL, lineno, req);
			FAIL(ERR_INVALID_REQUEST,
			    "custom_id is not a non-empty string");
		}
		if (take_id(c, idv, lineno, req) != ERR_NONE)
			FAIL(ERR_DUPLICATE_ID, "duplicate custom_id %s",
			    json_object_to_json_string_ext(idv,
			    JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
		if (json_object_object_get_ex(v, "method", &x) &&
		    (!json_object_is_type(x, json_type_string) ||
		    strcmp(json_object_get_string(x), "POST") != 0))
			FAIL(ERR_INVALID_REQUEST, "method is not \"POST\"");
		if (json_object_object_get_ex(v, "url", &x)) {
			const char *u = json_object_get_string(x);
			size_t ulen = json_object_get_string_len(x);

			if (!json_object_is_type(x, json_type_string) ||
			    ulen == 0 || u[0] != '/' ||
			    strpbrk(u, " \t\r\n\"\\") != NULL ||
			    memchr(u, 0, ulen) != NULL)
				FAIL(ERR_INVALID_REQUEST, "url is not a path "
				    "such as \"/v1/chat/completions\"");
			buf_reset(&req->path);
			buf_add(&req->path, u, ulen);
			kind = endpoint_of(u, ulen);
		}
		if (!json_object_object_get_ex(v, "body", &body))
			FAIL(ERR_INVALID_REQUEST, "the request has no body");
		if (!json_object_is_type(body, json_type_object)) {
			const char *t = type_name(body);

			body = NULL;
			FAIL(ERR_INVALID_REQUEST, "body is %s, not an object",
			    t);
		}
		json_object_get(body);
		goto build;
	}

	if (has(v, "prompt") && !has(v, "messages") && !has(v, "input")) {
		/* The simple form: {"prompt", "id", "system", other fields}. */
		json_object *p, *sys = NULL;
		const char *system = cfg->system;

		if (!json_object_object_get_ex(v, "id", &idv))
			json_object_object_get_ex(v, "custom_id", &idv);
		if (idv && !json_object_is_type(idv, json_type_string) &&
		    !json_object_is_type(idv, json_type_int)) {
			take_id(c, NULL, lineno, req);
			FAIL(ERR_INVALID_REQUEST,
			    "id is not a string or a whole number");
		}
		if (idv && json_object_get_string_len(idv) == 0) {
			take_id(c, NULL, lineno, req);
			FAIL(ERR_INVALID_REQUEST, "id is empty");
		}
		if (take_id(c, idv, lineno, req) != ERR_NONE)
			FAIL(ERR_DUPLICATE_ID, "duplicate custom_id \"%s\"",
			    req->custom_id.data);
		json_object_object_get_ex(v, "prompt", &p);
		if (json_object_object_get_ex(v, "system", &sys)) {
			if (!json_object_is_type(sys, json_type_string))
				FAIL(ERR_INVALID_REQUEST,
				    "system is not a string");
			system = json_object_get_string(sys);
		}
		if (kind == EP_COMPLETIONS) {
			body = json_object_get(v);
			json_object_object_del(body, "id");
			json_object_object_del(body, "custom_id");
			json_object_object_del(body, "system");
			goto build;
		}
		if (!json_object_is_type(p, json_type_string))
			FAIL(ERR_INVALID_REQUEST, "prompt is %s, not a string",
			    type_name(p));
		body = prompt_body(kind, json_object_get_string(p),
		    json_object_get_string_len(p), system);
		json_object_object_foreach(v, key, val) {
			if (strcmp(key, "prompt") && strcmp(key, "id") &&
			    strcmp(key, "custom_id") && strcmp(key, "system"))
				json_object_object_add(body, key,
				    json_object_get(val));
		}
		goto build;
	}

	if (has(v, "messages") || has(v, "input") || has(v, "prompt")) {
		/* A bare request body, which may carry its custom_id. */
		json_object_object_get_ex(v, "custom_id", &idv);
		if (idv && (!json_object_is_type(idv, json_type_string) ||
		    json_object_get_string_len(idv) == 0)) {
			take_id(c, NULL, lineno, req);
			FAIL(ERR_INVALID_REQUEST,
			    "custom_id is not a non-empty string");
		}
		if (take_id(c, idv, lineno, req) != ERR_NONE)
			FAIL(ERR_DUPLICATE_ID, "duplicate custom_id \"%s\"",
			    req->custom_id.data);
		body = json_object_get(v);
		json_object_object_del(body, "custom_id");
		goto build;
	}

	take_id(c, NULL, lineno, req);
	FAIL(ERR_INVALID_REQUEST, "an object with none of \"body\", "
	    "\"messages\", \"input\" or \"prompt\": not a request");

build:
	apply_defaults(c, kind, body);
	estimate(body, req);
	{
		size_t n;
		const char *s = json_object_to_json_string_length(body,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

		/* The limit is on what would be sent: --system, -d and the
		 * escapes of --text can make it longer than the line. */
		if (n > cfg->max_line)
			FAIL(ERR_LINE_TOO_LONG, "the request is %zu bytes with "
			    "the defaults, longer than --max-line-length %zu",
			    n, cfg->max_line);
		buf_add(&req->body, s, n);
	}
out:
	json_object_put(body);
	json_object_put(v);
	return rc;
}
