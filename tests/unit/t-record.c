/* Output records, the URL join and what is read from an answer. */
#include <json-c/json.h>
#include <stdlib.h>

#include "api.h"
#include "jsoncheck.h"
#include "output.h"
#include "record.h"
#include "stats.h"
#include "unit.h"

static int valid(const struct buf *b)
{
	struct json_problem p;

	return b->len > 0 && b->data[b->len - 1] == '\n' &&
	    memchr(b->data, '\n', b->len) == b->data + b->len - 1 &&
	    json_check(b->data, b->len - 1, 64, &p) == '{';
}

/* url_join: base URL, request path, the URL, what it shows. */
static const struct {
	const char *base, *path, *want, *what;
} urls[] = {
	{ "http://h:1/v1", "/v1/chat/completions",
	    "http://h:1/v1/chat/completions", "/v1 is not doubled" },
	{ "http://h:1/v1/", "/v1/embeddings",
	    "http://h:1/v1/embeddings", "trailing slash on the base" },
	{ "http://h:1/openai", "/v1/embeddings",
	    "http://h:1/openai/v1/embeddings", "a base without /v1" },
	{ "http://h:1/v1", "/chat/completions",
	    "http://h:1/v1/chat/completions", "a path without /v1" },
	{ "http://h:1/v10", "/v1/x", "http://h:1/v10/v1/x", "/v10 is not /v1" },
	{ "https://r.example/openai/deployments/d/?api-version=2024-10-21",
	    "/chat/completions",
	    "https://r.example/openai/deployments/d/chat/completions?api-version=2024-10-21",
	    "the base URL's query goes after the path" },
	{ "http://h:1/v1?a=1", "/v1/x?b=2", "http://h:1/v1/x?b=2&a=1",
	    "... joined to the path's own query" },
	{ "http://h:1/v1/?", "/v1/x", "http://h:1/v1/x",
	    "an empty query is dropped" },
};

int main(void)
{
	struct config cfg = { 0 };
	struct buf b = { 0 }, c = { 0 };
	struct record_error re = { ERR_TIMEOUT, "line 3: timed out \"x\"", 3, 2 };
	const char *body = "{\"a\":\n1,\r\n\"b\":\"x\"}";
	unsigned long long pt, ct;
	json_object *o;
	char id[48];
	const char *dg = "0123456789abcdef0123456789abcdef";
	struct record_ref r5 = { 5, "c\"1", 3, "", NULL, 0 };
	struct record_ref r6 = { 6, "c", 1, NULL, NULL, 0 };
	struct record_ref r7 = { 7, "line-3", 6, NULL, NULL, 0 };
	struct record_ref rx = { 1, "x", 1, NULL, NULL, 0 };
	struct record_ref rd = { 9, "d", 1, dg, "{\"k\":[1]}", 9 };

	cfg.run_id = 0xabc;
	record_id(id, 0xabc, &r5);
	CHECK_STR(id, "batch_req_00000abc0000000000000005", "record ids: not a request");
	record_id(id, 0xabc, &rd);
	CHECK_STR(id, "batch_req_0123456789abcdef0123456789abcdef",
	    "record ids: a request's digest");
	record_error(&b, &cfg, &rd, &re);
	CHECK(strncmp(b.data, "{\"id\":\"batch_req_0123456789abcdef0123456789abcdef\",", 51) == 0,
	    "a record's id is its digest");
	CHECK(strstr(b.data, "\"attempts\":2},\"metadata\":{\"k\":[1]}}\n") != NULL,
	    "... and its metadata is its last member");
	CHECK(valid(&b), "... is valid JSON");
	buf_reset(&b);
	record_response(&b, &cfg, &rd, 200, "r", "{}", 2, NULL, NULL);
	CHECK(strstr(b.data, "\"error\":null,\"metadata\":{\"k\":[1]}}\n") != NULL,
	    "a response record carries the metadata too");
	CHECK(valid(&b), "... is valid JSON");
	{
		char d[DIGEST_HEX + 1];
		static const char *nodigest[] = {
			"{\"id\":\"batch_req_0123456789ABCDEF0123456789abcdef\",\"custom_id\":\"d\"}",
			"{\"id\":\"batch_req_0123456789abcdef\\u00003456789abcdef\",\"custom_id\":\"d\"}",
			"{\"id\":\"batch_xyz_0123456789abcdef0123456789abcdef\",\"custom_id\":\"d\"}",
			"{\"id\":\"batch_req_0123456789abcdef0123456789abcde\",\"custom_id\":\"d\"}",
			"{\"id\":7,\"custom_id\":\"d\"}",
			"{\"id\":\"batch_req_00000abc0000000000000005\",\"custom_id\":\"d\"}",
		};

		CHECK(record_read(b.data, b.len, &c, d) == 1 && !strcmp(d, dg) &&
		    !strcmp(c.data, "d"), "record_read: a success, its custom_id and digest");
		for (size_t i = 0; i < sizeof(nodigest) / sizeof(*nodigest); i++) {
			CHECK(record_read(nodigest[i], strlen(nodigest[i]), &c, d) == 0 &&
			    d[0] == 0, "record_read: no digest in id %zu", i);
		}
		buf_reset(&c);
	}
	buf_reset(&b);

	record_response(&b, &cfg, &r5, 200, "req_9", body, strlen(body),
	    NULL, NULL);
	CHECK_STR(b.data, "{\"id\":\"batch_req_00000abc0000000000000005\",\"custom_id\":\"c\\\"1\","
	    "\"response\":{\"status_code\":200,\"request_id\":\"req_9\",\"body\":{\"a\": 1,  \"b\":\"x\"}},"
	    "\"error\":null}\n", "a success record, the body's raw newlines made spaces");
	CHECK(valid(&b), "... is one line of valid JSON");

	buf_reset(&b);
	record_response(&b, &cfg, &r6, 503, NULL, "{}", 2, NULL, &re);
	CHECK(strstr(b.data, "\"status_code\":503,\"request_id\":\"req_splitgpt_00000abc0000000000000006\",\"body\":{}},\"error\":{\"code\":\"timeout\"") != NULL,
	    "an HTTP error record keeps the response and says why; no x-request-id: one of ours");
	CHECK(valid(&b), "... is valid JSON");

	/* Whatever bytes a server sends in a header or a message, the
	 * record is valid JSON: an ill-formed byte becomes U+FFFD. */
	buf_reset(&b);
	record_response(&b, &cfg, &r6, 200, "req_\xff\xfe\xc3(x\xe4\xbd", "{}",
	    2, NULL, NULL);
	CHECK(strstr(b.data, "\"request_id\":\"req_\\ufffd\\ufffd\\ufffd(x\\ufffd\\ufffd\"") != NULL,
	    "an x-request-id that is not UTF-8: each bad byte is U+FFFD");
	CHECK(valid(&b), "... and the record is valid JSON");
	buf_reset(&b);
	buf_add_json_string(&b, "a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80\xed\xa0\x80\xc0\xaf\x01", 16);
	CHECK_STR(b.data, "\"a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\u0001\"",
	    "JSON strings: well-formed UTF-8 kept, a surrogate and an overlong form replaced");

	buf_reset(&b);
	record_error(&b, &cfg, &r7, &re);
	CHECK_STR(b.data, "{\"id\":\"batch_req_00000abc0000000000000007\",\"custom_id\":\"line-3\","
	    "\"response\":null,\"error\":{\"code\":\"timeout\",\"message\":\"line 3: timed out \\\"x\\\"\","
	    "\"line\":3,\"attempts\":2}}\n", "a failure record");
	CHECK(valid(&b), "... is valid JSON");

	buf_reset(&b);
	r7.id = "\x01\x1f";
	r7.idlen = 2;
	record_error(&b, &cfg, &r7, &re);
	CHECK(strstr(b.data, "\"custom_id\":\"\\u0001\\u001f\"") != NULL, "control bytes escaped");

	cfg.format = FORMAT_CONTENT;
	buf_reset(&b);
	record_response(&b, &cfg, &rx, 200, NULL, "{}", 2, "\"hi\"", NULL);
	CHECK_STR(b.data, "\"hi\"\n", "content format: the text");
	buf_reset(&b);
	record_response(&b, &cfg, &rx, 500, NULL, "{}", 2, "\"hi\"", NULL);
	CHECK_STR(b.data, "null\n", "content format: an HTTP error is null");
	buf_reset(&b);
	record_error(&b, &cfg, &rx, &re);
	CHECK_STR(b.data, "null\n", "content format: a failure is null");

	for (int i = 0; i < ERR_COUNT; i++)
		CHECK(strcmp(errcode_name(i), "internal_error") != 0 || i == ERR_INTERNAL,
		    "error code %d has a name: %s", i, errcode_name(i));

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		buf_reset(&b);
		url_join(&b, urls[i].base, urls[i].path, strlen(urls[i].path));
		CHECK_STR(b.data, urls[i].want, "url: %s", urls[i].what);
	}

	o = json_tokener_parse("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hé \\\"q\\\"\"}}],"
	    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}");
	CHECK(response_digest(o, &pt, &ct, &c) && pt == 12 && ct == 34, "chat: usage read");
	CHECK_STR(c.data, "\"hé \\\"q\\\"\"", "chat: content as a JSON string");
	json_object_put(o);
	buf_reset(&c);
	o = json_tokener_parse("{\"choices\":[{\"text\":\"t\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}");
	CHECK(response_digest(o, &pt, &ct, &c) && !strcmp(c.data, "\"t\""), "completions: text");
	json_object_put(o);
	buf_reset(&c);
	o = json_tokener_parse("{\"output\":[{\"type\":\"reasoning\"},{\"type\":\"message\",\"content\":"
	    "[{\"type\":\"output_text\",\"text\":\"a\"},{\"type\":\"output_text\",\"text\":\"b\"}]}],"
	    "\"usage\":{\"input_tokens\":5,\"output_tokens\":6}}");
	CHECK(response_digest(o, &pt, &ct, &c) && !strcmp(c.data, "\"ab\"") && pt == 5 && ct == 6,
	    "responses: output_text parts joined, input/output tokens");
	json_object_put(o);
	buf_reset(&c);
	o = json_tokener_parse("{\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":1,"
	    "\"prompt_tokens_details\":{\"cached_tokens\":64}}}");
	CHECK_INT(response_cached_tokens(o), 64, "chat: cached prompt tokens");
	json_object_put(o);
	o = json_tokener_parse("{\"usage\":{\"input_tokens\":9,\"input_tokens_details\":"
	    "{\"cached_tokens\":8}}}");
	CHECK_INT(response_cached_tokens(o), 8, "responses: cached input tokens");
	json_object_put(o);
	o = json_tokener_parse("{\"usage\":{\"prompt_tokens\":9}}");
	CHECK_INT(response_cached_tokens(o), 0, "no details: none cached");
	json_object_put(o);
	{
		struct stats st;

		stats_init(&st);
		st.prompt_tokens = 1000000;
		st.cached_tokens = 400000;
		st.completion_tokens = 100000;
		st.price_in = 2;
		st.price_cached = 0.5;
		st.price_out = 8;
		CHECK(stats_cost(&st) > 2.199999 && stats_cost(&st) < 2.200001,
		    "cost: uncached prompt, cached prompt and completion at "
		    "their prices (%.6f)", stats_cost(&st));
	}
	o = json_tokener_parse("{\"data\":[{\"embedding\":[0.5,-1]}],\"usage\":{\"prompt_tokens\":3}}");
	CHECK(response_digest(o, &pt, &ct, &c) && !strcmp(c.data, "[0.5,-1]") && pt == 3,
	    "embeddings: the vector");
	json_object_put(o);
	buf_reset(&c);
	o = json_tokener_parse("{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":[]}}]}");
	CHECK(!response_digest(o, &pt, &ct, &c), "chat with no text: nothing");
	json_object_put(o);
	buf_release(&b);
	buf_release(&c);
	return unit_done();
}
