/* api.c: endpoints, URLs and what is read from an answer. */
#include "api.h"

#include <json-c/json.h>	/* reading response bodies */
#include <stdint.h>	/* uint32_t */
#include <stdio.h>	/* snprintf */
#include <stdlib.h>	/* strtof */
#include <string.h>	/* memchr, memcmp, strlen */

#include "sha256.h"	/* request_digest */

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

enum endpoint endpoint_of(const char *path, size_t n)
{
	const char *q = memchr(path, '?', n);

	if (q)
		n = (size_t)(q - path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (ends_with(path, n, "/chat/completions"))
		return EP_CHAT;
	if (ends_with(path, n, "/completions"))
		return EP_COMPLETIONS;
	if (ends_with(path, n, "/embeddings"))
		return EP_EMBEDDINGS;
	if (ends_with(path, n, "/responses"))
		return EP_RESPONSES;
	if (ends_with(path, n, "/moderations"))
		return EP_MODERATIONS;
	return EP_OTHER;
}

void url_join(struct buf *out, const char *base, const char *path, size_t n)
{
	const char *query = strchr(base, '?');
	size_t blen = query ? (size_t)(query - base) : strlen(base);

	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	buf_add(out, base, blen);
	if (blen >= 3 && memcmp(base + blen - 3, "/v1", 3) == 0 && n >= 4 &&
	    memcmp(path, "/v1/", 4) == 0) {
		path += 3;
		n -= 3;
	}
	if (n == 0 || path[0] != '/')
		buf_addc(out, '/');
	buf_add(out, path, n);
	if (query && query[1]) {
		buf_addc(out, memchr(path, '?', n) ? '&' : '?');
		buf_adds(out, query + 1);
	}
}

/* A base64 digit's value, or -1. */
static int b64_digit(char c)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *d = c ? strchr(digits, c) : NULL;

	return d ? (int)(d - digits) : -1;
}

/* One float, in the fewest digits that read back as the same float. */
static void add_float(struct buf *out, float f)
{
	char num[32];
	int prec;

	for (prec = 6; prec < 9; prec++) {
		snprintf(num, sizeof(num), "%.*g", prec, (double)f);
		if (strtof(num, NULL) == f)
			break;
	}
	if (prec == 9)
		snprintf(num, sizeof(num), "%.9g", (double)f);
	buf_adds(out, num);
}

/*
 * An embedding sent as base64 ("encoding_format": "base64": float32s,
 * little-endian) as the JSON array of numbers it stands for.  Returns 0
 * (out untouched) when s[0..n) is not such a thing, or a number is not
 * finite.
 */
static int add_base64_floats(struct buf *out, const char *s, size_t n)
{
	struct buf arr = { 0 };
	uint32_t bits = 0, u = 0;
	size_t i, nbytes = 0;
	int ok = n % 4 == 0, nb = 0, d;
	float f;

	while (n > 0 && s[n - 1] == '=')
		n--;
	buf_addc(&arr, '[');
	for (i = 0; ok && i < n; i++) {
		if ((d = b64_digit(s[i])) < 0) {
			ok = 0;
			break;
		}
		bits = bits << 6 | (uint32_t)d;
		if ((nb += 6) < 8)
			continue;
		nb -= 8;
		u = u >> 8 | (bits >> nb & 0xff) << 24;
		if (++nbytes % 4 == 0) {
			memcpy(&f, &u, sizeof(f));
			ok = f == f && f - f == 0;	/* finite: JSON has no NaN */
			if (nbytes > 4)
				buf_addc(&arr, ',');
			add_float(&arr, f);
		}
	}
	if (ok && nbytes % 4 == 0) {
		buf_addc(&arr, ']');
		buf_add(out, arr.data, arr.len);
	}
	buf_release(&arr);
	return ok && nbytes % 4 == 0;
}

unsigned long long response_cached_tokens(json_object *body)
{
	json_object *usage, *d, *v;

	if (json_object_object_get_ex(body, "usage", &usage) &&
	    (json_object_object_get_ex(usage, "prompt_tokens_details", &d) ||
	    json_object_object_get_ex(usage, "input_tokens_details", &d)) &&
	    json_object_object_get_ex(d, "cached_tokens", &v) &&
	    json_object_get_int64(v) > 0)
		return (unsigned long long)json_object_get_int64(v);
	return 0;
}

int response_digest(json_object *body, unsigned long long *prompt,
    unsigned long long *completion, struct buf *content)
{
	json_object *usage, *v, *choices, *c0, *x;

	*prompt = *completion = 0;
	if (json_object_object_get_ex(body, "usage", &usage)) {
		if (json_object_object_get_ex(usage, "prompt_tokens", &v) ||
		    json_object_object_get_ex(usage, "input_tokens", &v))
			*prompt = json_object_get_int64(v);
		if (json_object_object_get_ex(usage, "completion_tokens", &v) ||
		    json_object_object_get_ex(usage, "output_tokens", &v))
			*completion = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(body, "choices", &choices) &&
	    (c0 = json_object_array_get_idx(choices, 0)) != NULL) {
		/* chat: message.content; completions: text. */
		if (json_object_object_get_ex(c0, "message", &x) &&
		    json_object_object_get_ex(x, "content", &v) &&
		    json_object_is_type(v, json_type_string)) {
			buf_add_json_string(content, json_object_get_string(v),
			    json_object_get_string_len(v));
			return 1;
		}
		if (json_object_object_get_ex(c0, "text", &v) &&
		    json_object_is_type(v, json_type_string)) {
			buf_add_json_string(content, json_object_get_string(v),
			    json_object_get_string_len(v));
			return 1;
		}
		return 0;
	}
	if (json_object_object_get_ex(body, "output", &x) &&
	    json_object_is_type(x, json_type_array)) {
		/* responses: every output_text part of every message. */
		struct buf text = { 0 };
		size_t i, j;
		int any = 0;

		for (i = 0; i < json_object_array_length(x); i++) {
			json_object *item = json_object_array_get_idx(x, i);
			json_object *parts;

			if (!json_object_object_get_ex(item, "content", &parts))
				continue;
			for (j = 0; j < json_object_array_length(parts); j++) {
				json_object *part =
				    json_object_array_get_idx(parts, j), *t;

				if (json_object_object_get_ex(part, "type", &t) &&
				    strcmp(json_object_get_string(t),
				    "output_text") == 0 &&
				    json_object_object_get_ex(part, "text", &t)) {
					buf_adds(&text, json_object_get_string(t));
					any = 1;
				}
			}
		}
		if (any)
			buf_add_json_string(content, text.data, text.len);
		buf_release(&text);
		return any;
	}
	if (json_object_object_get_ex(body, "data", &x) &&
	    (c0 = json_object_array_get_idx(x, 0)) != NULL &&
	    json_object_object_get_ex(c0, "embedding", &v)) {
		if (json_object_is_type(v, json_type_string))
			return add_base64_floats(content,
			    json_object_get_string(v),
			    json_object_get_string_len(v));
		buf_adds(content, json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		return 1;
	}
	return 0;
}

/* o's member key when it is a non-empty string, else NULL. */
static const char *string_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return NULL;
	return json_object_get_string(v);
}

void api_error(json_object *body, const char **code, const char **message)
{
	json_object *e = NULL;

	*code = *message = NULL;
	if (!json_object_object_get_ex(body, "error", &e) ||
	    !json_object_is_type(e, json_type_object))
		return;
	if ((*code = string_member(e, "code")) == NULL)
		*code = string_member(e, "type");
	*message = string_member(e, "message");
}

void request_digest(const char *path, size_t pathlen, const char *body,
    size_t bodylen, int stream, char hex[DIGEST_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	struct sha256 s;
	unsigned char d[32];
	int i;

	/* Each part ends with a NUL, which none of them holds. */
	sha256_init(&s);
	sha256_update(&s, "POST", 5);
	sha256_update(&s, path, pathlen);
	sha256_update(&s, stream ? "\0stream" : "\0", stream ? 8 : 2);
	sha256_update(&s, body, bodylen);
	sha256_final(&s, d);
	for (i = 0; i < DIGEST_HEX / 2; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[DIGEST_HEX] = 0;
}
