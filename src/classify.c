/*
 * classify.c: what a line is, and the request it makes (classify.h).  One
 * function per input form: --text, a bare JSON string, a Batch API request
 * line, a {"prompt":...} object, a bare request body.
 */
#include "classify.h"

#include <json-c/json.h>	/* json_tokener, json_object */
#include <stdlib.h>	/* free, strtod */
#include <string.h>	/* memchr, memcmp, strlen */

#include "api.h"	/* endpoint_of */
#include "idset.h"	/* struct idset */
#include "jsoncheck.h"	/* json_check */
#include "reqbody.h"	/* request bodies */

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
		die(EXIT_INTERNAL, "out of memory for the JSON parser");
	if (cfg->body_defaults) {
		c->defaults = json_tokener_parse(cfg->body_defaults);
		if (!json_object_is_type(c->defaults, json_type_object))
			die(EXIT_USAGE, "-d %s: not a JSON object", cfg->body_defaults);
	}
	if (cfg->temperature) {
		char *end;
		double t = strtod(cfg->temperature, &end);

		if (end == cfg->temperature || *end || t < 0 || t > 2)
			die(EXIT_USAGE, "--temperature %s: not a number from 0 to 2",
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

/* Fill what the body lacks from the options; the line's own values win. */
static void apply_defaults(struct classifier *c, enum endpoint kind,
    json_object *body)
{
	const struct config *cfg = c->cfg;
	int generates = kind == EP_CHAT || kind == EP_COMPLETIONS ||
	    kind == EP_RESPONSES;

	if (cfg->model)
		add_if_missing(body, "model", json_object_new_string(cfg->model));
	if (generates && cfg->max_tokens >= 0 && !json_has(body, "max_tokens") &&
	    !json_has(body, "max_completion_tokens") &&
	    !json_has(body, "max_output_tokens"))
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

/* An error: the message "line N: ..." in msg, and the code returned.
 * (For functions with msg and lineno in scope.) */
#define FAIL(code, ...) do { \
	buf_addf(msg, "line %llu: ", (unsigned long long)lineno); \
	buf_addf(msg, __VA_ARGS__); \
	return (code); \
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

void request_free(struct request *req)
{
	buf_release(&req->path);
	buf_release(&req->custom_id);
	buf_release(&req->body);
	buf_release(&req->metadata);
	buf_release(&req->model);
}

/* Nothing of the last line's request is left. */
static void request_reset(struct request *req, struct buf *msg)
{
	buf_reset(&req->path);
	buf_reset(&req->body);
	buf_reset(&req->metadata);
	buf_reset(&req->model);
	req->digest[0] = 0;
	buf_reset(msg);
}

enum errcode input_too_long(struct classifier *c, uint64_t lineno,
    size_t len, struct request *req, struct buf *msg)
{
	request_reset(req, msg);
	take_id(c, NULL, lineno, req);
	buf_addf(msg, "line %llu: the line is %zu bytes, longer than "
	    "--max-line-length %zu", (unsigned long long)lineno, len,
	    c->cfg->max_line);
	return ERR_LINE_TOO_LONG;
}

/* A line with no custom_id of its own: line-N, or duplicate_custom_id. */
static enum errcode auto_id(struct classifier *c, uint64_t lineno,
    struct request *req, struct buf *msg)
{
	if (take_id(c, NULL, lineno, req) != ERR_NONE)
		FAIL(ERR_DUPLICATE_ID, "duplicate custom_id \"%s\"",
		    req->custom_id.data);
	return ERR_NONE;
}

/* A custom_id member (the Batch form, a bare body): a non-empty string
 * if there is one. */
static enum errcode custom_id(struct classifier *c, json_object *v,
    uint64_t lineno, struct request *req, struct buf *msg)
{
	json_object *idv = NULL;

	json_object_object_get_ex(v, "custom_id", &idv);
	if (idv && (!json_object_is_type(idv, json_type_string) ||
	    json_object_get_string_len(idv) == 0)) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_REQUEST, "custom_id is not a non-empty string");
	}
	if (take_id(c, idv, lineno, req) != ERR_NONE)
		FAIL(ERR_DUPLICATE_ID, "duplicate custom_id %s",
		    json_object_to_json_string_ext(idv, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	return ERR_NONE;
}

/* --text: the line is the prompt. */
static enum errcode form_text(struct classifier *c, const char *line,
    size_t len, uint64_t lineno, struct request *req, struct buf *msg,
    json_object **body)
{
	enum errcode rc = auto_id(c, lineno, req, msg);
	const char *nul;
	long bad;

	if (rc != ERR_NONE)
		return rc;
	if ((nul = memchr(line, 0, len)) != NULL)
		FAIL(ERR_INVALID_REQUEST, "NUL byte at byte %zu",
		    (size_t)(nul - line) + 1);
	if ((bad = utf8_invalid_at(line, len)) >= 0)
		FAIL(ERR_INVALID_REQUEST, "invalid UTF-8 at byte %ld", bad + 1);
	*body = prompt_body(c->default_kind, line, len, c->cfg->system);
	return ERR_NONE;
}

/* The line as JSON: an object or a string in *v, else the error. */
static enum errcode parse(struct classifier *c, const char *line, size_t len,
    uint64_t lineno, struct request *req, struct buf *msg, json_object **v)
{
	struct json_problem problem;
	const char *nul;
	int type;

	if ((nul = memchr(line, 0, len)) != NULL) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_JSON, "invalid JSON at byte %zu: NUL byte",
		    (size_t)(nul - line) + 1);
	}
	type = json_check(line, len, c->cfg->max_depth, &problem);
	if (type == 0) {
		take_id(c, NULL, lineno, req);
		if (strcmp(problem.what, "nesting too deep") == 0)
			FAIL(ERR_INVALID_JSON, "invalid JSON at byte %zu: "
			    "nesting deeper than --max-depth %d",
			    problem.at + 1, c->cfg->max_depth);
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
	*v = json_tokener_parse_ex(c->tok, line, (int)len);
	if (*v == NULL) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_JSON, "invalid JSON: %s", json_tokener_error_desc(
		    json_tokener_get_error(c->tok)));
	}
	if (!json_object_is_type(*v, json_type_string) &&
	    !json_object_is_type(*v, json_type_object)) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_REQUEST, "the line is %s, not a request "
		    "object or a prompt string", type_name(*v));
	}
	return ERR_NONE;
}

/* A bare JSON string: the prompt. */
static enum errcode form_string(struct classifier *c, json_object *v,
    uint64_t lineno, struct request *req, struct buf *msg,
    json_object **body)
{
	enum errcode rc = auto_id(c, lineno, req, msg);

	if (rc != ERR_NONE)
		return rc;
	*body = prompt_body(c->default_kind, json_object_get_string(v),
	    json_object_get_string_len(v), c->cfg->system);
	return ERR_NONE;
}

/*
 * The line's "metadata" (the Batch form and the prompt form), which is
 * never sent and goes into its record: an object, if there is one.
 */
static enum errcode take_metadata(json_object *v, uint64_t lineno,
    struct request *req, struct buf *msg)
{
	json_object *m;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(v, "metadata", &m))
		return ERR_NONE;
	if (!json_object_is_type(m, json_type_object))
		FAIL(ERR_INVALID_REQUEST, "metadata is %s, not an object",
		    type_name(m));
	s = json_object_to_json_string_length(m, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	buf_add(&req->metadata, s, n);
	return ERR_NONE;
}

/* A Batch API request line: {"custom_id", "method", "url", "body"}. */
static enum errcode form_batch(struct classifier *c, json_object *v,
    uint64_t lineno, struct request *req, struct buf *msg,
    json_object **body, enum endpoint *kind)
{
	enum errcode rc = custom_id(c, v, lineno, req, msg);
	json_object *x, *b;

	if (rc == ERR_NONE)
		rc = take_metadata(v, lineno, req, msg);
	if (rc != ERR_NONE)
		return rc;
	if (json_object_object_get_ex(v, "method", &x) &&
	    (!json_object_is_type(x, json_type_string) ||
	    strcmp(json_object_get_string(x), "POST") != 0))
		FAIL(ERR_INVALID_REQUEST, "method is not \"POST\"");
	if (json_object_object_get_ex(v, "url", &x)) {
		const char *u = json_object_get_string(x);
		size_t ulen = json_object_get_string_len(x);

		if (!json_object_is_type(x, json_type_string) || ulen == 0 ||
		    u[0] != '/' || strpbrk(u, " \t\r\n\"\\") != NULL ||
		    memchr(u, 0, ulen) != NULL)
			FAIL(ERR_INVALID_REQUEST, "url is not a path such as "
			    "\"/v1/chat/completions\"");
		buf_reset(&req->path);
		buf_add(&req->path, u, ulen);
		*kind = endpoint_of(u, ulen);
	}
	if (!json_object_object_get_ex(v, "body", &b))
		FAIL(ERR_INVALID_REQUEST, "the request has no body");
	if (!json_object_is_type(b, json_type_object))
		FAIL(ERR_INVALID_REQUEST, "body is %s, not an object",
		    type_name(b));
	*body = json_object_get(b);
	return ERR_NONE;
}

/* The simple form's id: "id" or "custom_id", a string or a whole number. */
static enum errcode prompt_id(struct classifier *c, json_object *v,
    uint64_t lineno, struct request *req, struct buf *msg)
{
	json_object *idv = NULL;

	if (!json_object_object_get_ex(v, "id", &idv))
		json_object_object_get_ex(v, "custom_id", &idv);
	if (idv && !json_object_is_type(idv, json_type_string) &&
	    !json_object_is_type(idv, json_type_int)) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_REQUEST, "id is not a string or a whole number");
	}
	if (idv && json_object_get_string_len(idv) == 0) {
		take_id(c, NULL, lineno, req);
		FAIL(ERR_INVALID_REQUEST, "id is empty");
	}
	if (take_id(c, idv, lineno, req) != ERR_NONE)
		FAIL(ERR_DUPLICATE_ID, "duplicate custom_id \"%s\"",
		    req->custom_id.data);
	return ERR_NONE;
}

/* The prompt form's own members, which are not sent as they are. */
static int form_member(const char *key)
{
	return !strcmp(key, "prompt") || !strcmp(key, "id") ||
	    !strcmp(key, "custom_id") || !strcmp(key, "system") ||
	    !strcmp(key, "metadata");
}

/*
 * A member of a prompt object that is neither the form's own nor a
 * request parameter splitgpt knows: most likely a typo, refused before
 * anything is paid for.
 */
static enum errcode unknown_member(json_object *v, enum endpoint kind,
    uint64_t lineno, struct buf *msg)
{
	json_object_object_foreach(v, key, val) {
		(void)val;
		if (form_member(key) || known_param(key))
			continue;
		FAIL(ERR_INVALID_REQUEST, "unknown member \"%s\" in a prompt "
		    "object (not sent): a request parameter splitgpt does not "
		    "know goes in %s or in -d; data of your own goes in "
		    "\"metadata\"", key, kind == EP_COMPLETIONS ?
		    "a Batch request line's \"body\"" :
		    "a request body ({\"messages\":[...], ...})");
	}
	return ERR_NONE;
}

/* The simple form: {"prompt", "id", "system", other body fields}. */
static enum errcode form_prompt(struct classifier *c, json_object *v,
    enum endpoint kind, uint64_t lineno, struct request *req,
    struct buf *msg, json_object **body)
{
	enum errcode rc = prompt_id(c, v, lineno, req, msg);
	const char *system = c->cfg->system;
	json_object *p = NULL, *sys = NULL;

	if (rc == ERR_NONE)
		rc = take_metadata(v, lineno, req, msg);
	if (rc == ERR_NONE)
		rc = unknown_member(v, kind, lineno, msg);
	if (rc != ERR_NONE)
		return rc;
	json_object_object_get_ex(v, "prompt", &p);
	if (json_object_object_get_ex(v, "system", &sys)) {
		if (!json_object_is_type(sys, json_type_string))
			FAIL(ERR_INVALID_REQUEST, "system is not a string");
		system = json_object_get_string(sys);
	}
	if (kind == EP_COMPLETIONS) {
		*body = json_object_get(v);
		json_object_object_del(*body, "id");
		json_object_object_del(*body, "custom_id");
		json_object_object_del(*body, "system");
		json_object_object_del(*body, "metadata");
		return ERR_NONE;
	}
	if (!json_object_is_type(p, json_type_string))
		FAIL(ERR_INVALID_REQUEST, "prompt is %s, not a string",
		    type_name(p));
	*body = prompt_body(kind, json_object_get_string(p),
	    json_object_get_string_len(p), system);
	json_object_object_foreach(v, key, val) {
		if (!form_member(key))
			json_object_object_add(*body, key, json_object_get(val));
	}
	return ERR_NONE;
}

/* A bare request body, which may carry its custom_id. */
static enum errcode form_body(struct classifier *c, json_object *v,
    uint64_t lineno, struct request *req, struct buf *msg,
    json_object **body)
{
	enum errcode rc = custom_id(c, v, lineno, req, msg);

	if (rc != ERR_NONE)
		return rc;
	*body = json_object_get(v);
	json_object_object_del(*body, "custom_id");
	return ERR_NONE;
}

/* An object: which form it is, and its body. */
static enum errcode form_object(struct classifier *c, json_object *v,
    uint64_t lineno, struct request *req, struct buf *msg,
    json_object **body, enum endpoint *kind)
{
	if (json_has(v, "body") || json_has(v, "url") || json_has(v, "method"))
		return form_batch(c, v, lineno, req, msg, body, kind);
	if (json_has(v, "prompt") && !json_has(v, "messages") && !json_has(v, "input"))
		return form_prompt(c, v, *kind, lineno, req, msg, body);
	if (json_has(v, "messages") || json_has(v, "input") || json_has(v, "prompt"))
		return form_body(c, v, lineno, req, msg, body);
	take_id(c, NULL, lineno, req);
	FAIL(ERR_INVALID_REQUEST, "an object with none of \"body\", "
	    "\"messages\", \"input\" or \"prompt\": not a request");
}

/* The body with the defaults, its estimate, and serialised into req. */
static enum errcode build(struct classifier *c, enum endpoint kind,
    json_object *body, uint64_t lineno, struct request *req, struct buf *msg)
{
	size_t n;
	const char *s;
	json_object *m;

	apply_defaults(c, kind, body);
	estimate(body, &req->prompt_est, &req->max_out);
	if (json_object_object_get_ex(body, "model", &m) &&
	    json_object_is_type(m, json_type_string))
		buf_add(&req->model, json_object_get_string(m),
		    json_object_get_string_len(m));
	s = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	/* The limit is on what would be sent: --system, -d and the escapes
	 * of --text can make it longer than the line. */
	if (n > c->cfg->max_line)
		FAIL(ERR_LINE_TOO_LONG, "the request is %zu bytes with the "
		    "defaults, longer than --max-line-length %zu", n,
		    c->cfg->max_line);
	buf_add(&req->body, s, n);
	request_digest(req->path.data, req->path.len, s, n, c->cfg->stream,
	    req->digest);
	return ERR_NONE;
}

enum errcode input_classify(struct classifier *c, const char *line,
    size_t len, uint64_t lineno, struct request *req, struct buf *msg)
{
	json_object *v = NULL, *body = NULL;
	enum endpoint kind = c->default_kind;
	enum errcode rc;

	request_reset(req, msg);
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		len--;
	buf_adds(&req->path, c->cfg->endpoint);
	if (c->cfg->text)
		rc = form_text(c, line, len, lineno, req, msg, &body);
	else if ((rc = parse(c, line, len, lineno, req, msg, &v)) != ERR_NONE)
		;
	else if (json_object_is_type(v, json_type_string))
		rc = form_string(c, v, lineno, req, msg, &body);
	else
		rc = form_object(c, v, lineno, req, msg, &body, &kind);
	if (rc == ERR_NONE)
		rc = build(c, kind, body, lineno, req, msg);
	json_object_put(body);
	json_object_put(v);
	return rc;
}
