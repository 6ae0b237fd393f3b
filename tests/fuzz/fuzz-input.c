/*
 * fuzz-input: input_classify() and utf8_invalid_at() (classify.h, util.h), the line
 * classifier and request builder.
 *
 * Input: the first byte picks one of eight configurations (plain chat;
 * every default set: -m, --system, --max-tokens, --temperature, -d;
 * /v1/completions; --text; /v1/responses with defaults; /v1/embeddings;
 * --max-depth 2; --text to /v1/embeddings); the rest is split at LF into
 * up to 64 lines, classified in order as lines 1, 2, ... by a classifier
 * made afresh for each input, so a run is deterministic and duplicate
 * custom_ids within one input are exercised.  Each line is an exact-size
 * heap copy (ASan sees a read past its end).
 *
 * Checked besides memory safety and UB:
 *   - an accepted line gives a body that is strict JSON (json_check) and
 *     an object, a path starting with '/', a non-empty custom_id, and
 *     non-negative token estimates;
 *   - a refused line gives a known error code and a message "line N: ";
 *   - a made-up custom_id is "line-N";
 *   - utf8_invalid_at() agrees with a separate, simple reference
 *     decoder, on the whole input.
 */
#include <stdio.h>	/* snprintf */

#include "fuzz.h"
#include "classify.h"
#include "jsoncheck.h"

#define NCONF 8
#define MAX_LINES 64

static struct config conf[NCONF];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int i;

	(void)argc;
	(void)argv;
	for (i = 0; i < NCONF; i++) {
		conf[i].endpoint = "/v1/chat/completions";
		conf[i].max_tokens = -1;
		conf[i].max_depth = 64;
		conf[i].max_line = 1 << 20;
		conf[i].max_response = 1 << 20;
		conf[i].jobs = 1;
	}
	conf[1].model = "gpt-4o-mini";
	conf[1].system = "be brief";
	conf[1].max_tokens = 50;
	conf[1].temperature = "0.5";
	conf[1].body_defaults = "{\"seed\":1,\"model\":\"ignored\",\"n\":2}";
	conf[2].endpoint = "/v1/completions";
	conf[3].text = 1;
	conf[4].endpoint = "/v1/responses";
	conf[4].system = "sys";
	conf[4].max_tokens = 7;
	conf[4].temperature = "1";
	conf[5].endpoint = "/v1/embeddings";
	conf[5].model = "text-embedding-3-small";
	conf[6].max_depth = 2;
	conf[7].text = 1;
	conf[7].endpoint = "/v1/embeddings";
	conf[7].system = "s";
	return 0;
}

/* Reference: the first byte not part of a well-formed UTF-8 sequence. */
static long ref_utf8_invalid_at(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned cp, need, k;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0)
			need = 1, cp = s[i] & 0x1f;
		else if ((s[i] & 0xf0) == 0xe0)
			need = 2, cp = s[i] & 0x0f;
		else if ((s[i] & 0xf8) == 0xf0)
			need = 3, cp = s[i] & 0x07;
		else
			return (long)i;
		if (n - i <= need)
			return (long)i;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (long)i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return (long)i;
		i += need + 1;
	}
	return -1;
}

static void one_line(struct classifier *c, const struct config *cfg,
    const uint8_t *p, size_t n, uint64_t lineno, struct request *req,
    struct buf *msg)
{
	char *line = fuzz_memdup(p, n);
	char prefix[64], made[64];
	struct json_problem pb;
	enum errcode rc;

	rc = input_classify(c, line, n, lineno, req, msg);
	FUZZ_CHECK(rc >= ERR_NONE && rc < ERR_COUNT, "error code %d", rc);
	FUZZ_CHECK(rc == ERR_NONE || rc == ERR_INVALID_JSON ||
	    rc == ERR_INVALID_REQUEST || rc == ERR_DUPLICATE_ID,
	    "a classifier error code %d", rc);
	FUZZ_CHECK(req->custom_id.len > 0, "an empty custom_id (code %d)", rc);
	snprintf(made, sizeof(made), "line-%llu", (unsigned long long)lineno);
	if (!req->user_id)
		FUZZ_CHECK(strcmp(req->custom_id.data, made) == 0,
		    "made-up id %s for line %llu", req->custom_id.data,
		    (unsigned long long)lineno);
	if (rc == ERR_NONE) {
		FUZZ_CHECK(msg->len == 0, "accepted with a message: %s",
		    msg->data);
		FUZZ_CHECK(req->body.len > 0 && json_check(req->body.data,
		    req->body.len, 10000, &pb) == '{',
		    "the body is not a strict JSON object (%s at byte %zu): %s",
		    req->body.len ? pb.what : "empty",
		    req->body.len ? pb.at : 0,
		    req->body.len ? req->body.data : "");
		FUZZ_CHECK(req->path.len > 0 && req->path.data[0] == '/',
		    "path %s", req->path.len ? req->path.data : "(empty)");
		FUZZ_CHECK(req->prompt_est >= 0 && req->max_out >= 0,
		    "estimates %lld %lld", req->prompt_est, req->max_out);
		if (!cfg->text)
			FUZZ_CHECK(json_check(line, n, cfg->max_depth, &pb) != 0,
			    "accepted a line json_check refuses");
	} else {
		snprintf(prefix, sizeof(prefix), "line %llu: ",
		    (unsigned long long)lineno);
		FUZZ_CHECK(msg->len > 0 && strncmp(msg->data, prefix,
		    strlen(prefix)) == 0, "message %s",
		    msg->len ? msg->data : "(empty)");
	}
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req = { 0 };
	struct buf msg = { 0 };
	struct classifier *c;
	const struct config *cfg;
	size_t at, end;
	uint64_t lineno = 0;

	FUZZ_CHECK(utf8_invalid_at((const char *)data, size) ==
	    ref_utf8_invalid_at(data, size), "utf8_invalid_at %ld, want %ld",
	    utf8_invalid_at((const char *)data, size),
	    ref_utf8_invalid_at(data, size));
	if (size == 0)
		return 0;
	cfg = &conf[data[0] % NCONF];
	c = classifier_new(cfg);
	for (at = 1; at < size && lineno < MAX_LINES; at = end + 1) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);

		end = nl ? (size_t)(nl - data) : size;
		one_line(c, cfg, data + at, end - at, ++lineno, &req, &msg);
	}
	/* A line too long to keep, after the others. */
	FUZZ_CHECK(input_too_long(c, lineno + 1, size, &req, &msg) ==
	    ERR_LINE_TOO_LONG, "input_too_long");
	classifier_free(c);
	request_free(&req);
	buf_release(&msg);
	return 0;
}
