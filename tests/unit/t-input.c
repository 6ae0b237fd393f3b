/* Input: the line reader and the classifier. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "classify.h"
#include "reqbody.h"
#include "reader.h"
#include "unit.h"

static struct config cfg;
static struct classifier *cls;
static struct request req;
static struct buf msg;

static enum errcode classify(const char *line, uint64_t lineno)
{
	return input_classify(cls, line, strlen(line), lineno, &req, &msg);
}

/* Feed text through a pipe and collect the lines, joined by '|'. */
static void read_all(const void *data, size_t n, size_t max, struct buf *out)
{
	struct linereader lr;
	struct line ln;
	int p[2], r;

	if (pipe(p) < 0 || fork() == 0) {
		close(p[0]);
		write(p[1], data, n);
		_exit(0);
	}
	close(p[1]);
	lr_init(&lr, p[0], max);
	buf_reset(out);
	for (;;) {
		r = lr_next(&lr, &ln);
		if (r < 0)
			break;
		if (r == 0) {
			lr_fill(&lr);
			continue;
		}
		if (ln.too_long)
			buf_addf(out, "<%llu:long %zu>|",
			    (unsigned long long)ln.lineno, ln.len);
		else {
			buf_add(out, ln.p, ln.len);
			buf_addc(out, '|');
		}
	}
	lr_free(&lr);
	close(p[0]);
}

static void reader_tests(void)
{
	struct buf out = { 0 }, big = { 0 };
	unsigned char gz[4096];
	uLongf gzlen;
	z_stream z;
	size_t i;

	read_all("a\nbb\n\nccc", 9, 100, &out);
	CHECK_STR(out.data, "a|bb||ccc|", "lines, a blank one, a last one without newline");
	read_all("", 0, 100, &out);
	CHECK_STR(out.data ? out.data : "", "", "empty input gives no lines");
	read_all("short\nthis line is too long\nok\n", 31, 10, &out);
	CHECK_STR(out.data, "short|<2:long 21>|ok|", "a long line is reported by length and skipped");

	for (i = 0; i < 300000; i++)
		buf_addc(&big, 'x');
	buf_adds(&big, "\nafter\n");
	read_all(big.data, big.len, 1000, &out);
	CHECK_STR(out.data, "<1:long 300000>|after|",
	    "a line longer than many reads is skipped in bounded memory");

	read_all("\xef\xbb\xbf{\"a\":1}\nb\n", 12, 100, &out);
	CHECK_STR(out.data, "{\"a\":1}|b|", "a UTF-8 BOM before the first line is dropped");
	read_all("a\n\xef\xbb\xbf" "b\n", 7, 100, &out);
	CHECK_STR(out.data, "a|\xef\xbb\xbf" "b|", "... only there: later lines are kept whole");

	/* Two gzip members back to back. */
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)"one\ntwo\n";
	z.avail_in = 8;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	deflate(&z, Z_FINISH);
	deflateReset(&z);
	z.next_in = (unsigned char *)"three\n";
	z.avail_in = 6;
	deflate(&z, Z_FINISH);
	gzlen = sizeof(gz) - z.avail_out;
	deflateEnd(&z);
	read_all(gz, gzlen, 100, &out);
	CHECK_STR(out.data, "one|two|three|", "gzip input, two members, is inflated");
	buf_release(&out);
	buf_release(&big);
}

/* count_lines on a regular file holding these bytes. */
static uint64_t count_of(const char *data)
{
	char path[] = "/tmp/t-input.XXXXXX";
	int fd = mkstemp(path);
	uint64_t n;

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		return (uint64_t)-1;
	unlink(path);
	n = count_lines(fd);
	close(fd);
	return n;
}

static void count_tests(void)
{
	CHECK(count_of("a\n\n \t\r\nb") == 2, "count: blank lines are not counted, a last line is");
	CHECK(count_of("\xef\xbb\xbf\r\na\n") == 1, "count: a line of nothing but a BOM is blank");
	CHECK(count_of("\xef\xbb\xbf" "a\n") == 1, "count: a BOM before a line");
}

static void classify_tests(void)
{
	CHECK(classify("\"hello\"", 1) == ERR_NONE, "a bare string is a prompt");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}",
	    "... becoming one user message");
	CHECK_STR(req.custom_id.data, "line-1", "... with id line-N");
	CHECK_STR(req.path.data, "/v1/chat/completions", "... to the default endpoint");

	CHECK(classify("{\"prompt\":\"hi\",\"id\":\"p1\",\"system\":\"be brief\",\"temperature\":0}", 2) == ERR_NONE,
	    "the prompt form");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
	    "{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0}",
	    "... system first, other fields kept");
	CHECK_STR(req.custom_id.data, "p1", "... id from \"id\"");
	CHECK(classify("{\"prompt\":\"hi\",\"custom_id\":\"p1b\"}", 2) == ERR_NONE,
	    "the prompt form with custom_id");
	CHECK_STR(req.custom_id.data, "p1b", "... used as the id");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    "... and kept out of the body");

	CHECK(classify("{\"custom_id\":\"r1\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"x\",\"model\":\"e\"}}", 3) == ERR_NONE,
	    "a Batch API line");
	CHECK_STR(req.path.data, "/v1/embeddings", "... its url");
	CHECK_STR(req.body.data, "{\"input\":\"x\",\"model\":\"e\"}", "... its body");
	CHECK_STR(req.custom_id.data, "r1", "... its custom_id");

	CHECK(classify("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"custom_id\":\"b1\"}", 4) == ERR_NONE,
	    "a bare body");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]}",
	    "... custom_id taken out of the body");
	CHECK_STR(req.custom_id.data, "b1", "... and used");

	CHECK(classify("{\"custom_id\":\"r1\",\"body\":{}}", 5) == ERR_DUPLICATE_ID,
	    "a custom_id seen before");
	CHECK(strstr(msg.data, "line 5: duplicate custom_id \"r1\"") != NULL, "... named: %s", msg.data);
	CHECK(classify("{\"prompt\":\"a\",\"id\":\"line-7\"}", 6) == ERR_NONE,
	    "a user id shaped like line-N for a later line");
	CHECK(classify("\"x\"", 7) == ERR_DUPLICATE_ID,
	    "... makes that later line's made-up id a duplicate");
	CHECK(classify("{\"prompt\":\"a\",\"id\":\"line-1\"}", 8) == ERR_DUPLICATE_ID,
	    "a user id equal to an earlier made-up id is a duplicate");

	CHECK(classify("{\"a\":1", 9) == ERR_INVALID_JSON, "truncated JSON");
	CHECK(strncmp(msg.data, "line 9: invalid JSON at byte", 28) == 0, "... named: %s", msg.data);
	CHECK(classify("{\"a\":1} x", 10) == ERR_INVALID_JSON, "trailing data");
	CHECK(strstr(msg.data, "at byte 9") != NULL, "... at its byte: %s", msg.data);
	CHECK(input_classify(cls, "\"a\0b\"", 5, 11, &req, &msg) == ERR_INVALID_JSON,
	    "a NUL byte");
	CHECK(strstr(msg.data, "NUL byte") != NULL, "... named: %s", msg.data);
	CHECK(classify("\"\xff\xfe\"", 12) == ERR_INVALID_JSON, "invalid UTF-8");
	CHECK(classify("{'a':1}", 13) == ERR_INVALID_JSON, "single quotes are not JSON");
	CHECK(classify("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 14) == ERR_INVALID_JSON,
	    "nesting deeper than the limit");
	CHECK(strstr(msg.data, "nesting") != NULL, "... named: %s", msg.data);
	CHECK(classify("42", 15) == ERR_INVALID_REQUEST, "a number is not a request");
	CHECK(classify("{\"custom_id\":\"z\",\"body\":[1]}", 16) == ERR_INVALID_REQUEST,
	    "a body that is not an object");
	CHECK(strstr(msg.data, "body is an array") != NULL, "... named: %s", msg.data);
	CHECK_STR(req.custom_id.data, "z", "... keeping its custom_id");
	CHECK(classify("{\"custom_id\":\"m\",\"method\":\"GET\",\"url\":\"/v1/x\",\"body\":{}}", 17) == ERR_INVALID_REQUEST,
	    "a method other than POST");
	CHECK(classify("{\"custom_id\":\"u\",\"url\":\"http://evil/\",\"body\":{}}", 18) == ERR_INVALID_REQUEST,
	    "a url that is not a path");
	CHECK(classify("{\"foo\":1}", 19) == ERR_INVALID_REQUEST, "an object that is no request");
	CHECK(classify("{\"prompt\":[1,2]}", 20) == ERR_INVALID_REQUEST, "a prompt that is not a string (chat)");
	CHECK(input_too_long(cls, 21, 99999, &req, &msg) == ERR_LINE_TOO_LONG, "too long");
	CHECK(strstr(msg.data, "line 21: the line is 99999 bytes") != NULL, "... named: %s", msg.data);
	CHECK(classify("\"crlf\"\r", 22) == ERR_NONE, "a CRLF line end is fine");
}

/* A prompt object's members: known parameters sent, others refused;
 * metadata kept apart on both forms. */
static void members_tests(void)
{
	const char *const *t;
	size_t i, n;
	int sorted = 1, found = 1;

	t = request_params(&n);
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(t[i - 1], t[i]) >= 0)
			sorted = 0;
		if (!known_param(t[i]))
			found = 0;
	}
	CHECK(n > 100 && sorted, "the parameter table is sorted (%zu names)", n);
	CHECK(found, "... and known_param finds each name");
	CHECK(!known_param("tempreature") && !known_param("") &&
	    !known_param("zzz") && !known_param("Model"), "... and no other");

	CHECK(classify("{\"prompt\":\"hi\",\"id\":\"k1\",\"temperature\":0,\"top_k\":5,\"seed\":7}", 1) == ERR_NONE,
	    "known parameters in a prompt object");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"temperature\":0,\"top_k\":5,\"seed\":7}", "... reach the body");
	CHECK(classify("{\"prompt\":\"hi\",\"id\":\"k2\",\"tempreature\":0,\"metadata\":{\"a\":1}}", 2) == ERR_INVALID_REQUEST,
	    "an unknown member is refused");
	CHECK_STR(msg.data, "line 2: unknown member \"tempreature\" in a prompt object (not sent): "
	    "a request parameter splitgpt does not know goes in a request body "
	    "({\"messages\":[...], ...}) or in -d; data of your own goes in \"metadata\"",
	    "... named with what to do");
	CHECK_STR(req.custom_id.data, "k2", "... keeping its id");
	CHECK_STR(req.metadata.data, "{\"a\":1}", "... and its metadata");
	CHECK(req.body.len == 0 && req.digest[0] == 0, "... and making no request");

	CHECK(classify("{\"prompt\":\"hi\",\"id\":\"k3\",\"metadata\":{\"n\":[1,\"x\"]}}", 3) == ERR_NONE,
	    "metadata on a prompt object");
	CHECK_STR(req.metadata.data, "{\"n\":[1,\"x\"]}", "... kept apart");
	CHECK(strstr(req.body.data, "metadata") == NULL, "... and not sent: %s", req.body.data);
	CHECK(classify("{\"prompt\":\"hi\",\"id\":\"k4\",\"metadata\":[1]}", 4) == ERR_INVALID_REQUEST,
	    "metadata that is not an object");
	CHECK_STR(msg.data, "line 4: metadata is an array, not an object", "... named");
	CHECK(classify("{\"custom_id\":\"k5\",\"body\":{\"messages\":[]},\"metadata\":{\"b\":true}}", 5) == ERR_NONE,
	    "metadata on a Batch line");
	CHECK_STR(req.metadata.data, "{\"b\":true}", "... kept apart");
	CHECK_STR(req.body.data, "{\"messages\":[]}", "... not sent");
	CHECK(classify("{\"custom_id\":\"k6\",\"body\":{\"messages\":[],\"tempreature\":1}}", 6) == ERR_NONE,
	    "a Batch body is the user's: sent as given");
	CHECK(classify("{\"messages\":[],\"custom_id\":\"k7\",\"metadata\":{\"c\":1},\"foo\":2}", 7) == ERR_NONE,
	    "a bare body is the user's");
	CHECK(req.metadata.len == 0, "... its metadata is the API's own parameter");
	CHECK_STR(req.body.data, "{\"messages\":[],\"metadata\":{\"c\":1},\"foo\":2}", "... and is sent");
}

static void defaults_tests(void)
{
	struct config c2 = cfg;

	c2.model = "m1";
	c2.system = "sys";
	c2.max_tokens = 50;
	c2.temperature = "0.5";
	c2.body_defaults = "{\"seed\":1,\"model\":\"ignored\"}";
	classifier_free(cls);
	cls = classifier_new(&c2);
	CHECK(classify("\"q\"", 1) == ERR_NONE, "defaults: a prompt");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"system\",\"content\":\"sys\"},"
	    "{\"role\":\"user\",\"content\":\"q\"}],\"model\":\"m1\",\"max_tokens\":50,"
	    "\"temperature\":0.5,\"seed\":1}", "... filled in");
	CHECK(classify("{\"messages\":[{\"role\":\"system\",\"content\":\"mine\"},{\"role\":\"user\",\"content\":\"q\"}],"
	    "\"model\":\"own\",\"max_completion_tokens\":5,\"temperature\":1}", 2) == ERR_NONE,
	    "defaults: a body with its own values");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"system\",\"content\":\"mine\"},"
	    "{\"role\":\"user\",\"content\":\"q\"}],\"model\":\"own\",\"max_completion_tokens\":5,"
	    "\"temperature\":1,\"seed\":1}", "... the line's own values win");
	CHECK(classify("{\"custom_id\":\"e\",\"url\":\"/v1/embeddings\",\"body\":{\"input\":\"x\"}}", 3) == ERR_NONE,
	    "defaults: embeddings");
	CHECK_STR(req.body.data, "{\"input\":\"x\",\"model\":\"m1\",\"seed\":1}",
	    "... get no generation settings");

	classifier_free(cls);
	c2 = cfg;
	c2.endpoint = "/v1/completions";
	cls = classifier_new(&c2);
	CHECK(classify("{\"prompt\":\"once upon\",\"id\":\"c1\",\"max_tokens\":3}", 1) == ERR_NONE,
	    "completions endpoint: a prompt object");
	CHECK_STR(req.body.data, "{\"prompt\":\"once upon\",\"max_tokens\":3}", "... is a completions body");
	CHECK(classify("{\"prompt\":\"x\",\"id\":\"c2\",\"echo\":true,\"max_tokns\":3}", 2) == ERR_INVALID_REQUEST,
	    "completions endpoint: an unknown member is refused");
	CHECK(strstr(msg.data, "line 2: unknown member \"max_tokns\"") != NULL &&
	    strstr(msg.data, "Batch request line") != NULL, "... named: %s", msg.data);

	classifier_free(cls);
	c2 = cfg;
	c2.text = 1;
	cls = classifier_new(&c2);
	CHECK(classify("plain \"text\" \\ here", 1) == ERR_NONE, "--text: plain text");
	CHECK_STR(req.body.data, "{\"messages\":[{\"role\":\"user\",\"content\":\"plain \\\"text\\\" \\\\ here\"}]}",
	    "... escaped into a user message");
	CHECK(classify("bad \xc3\x28", 2) == ERR_INVALID_REQUEST, "--text: invalid UTF-8 refused");
	classifier_free(cls);
	cls = classifier_new(&cfg);
}

static void utf8_tests(void)
{
	CHECK_INT(utf8_invalid_at("abc", 3), -1, "ASCII is valid");
	CHECK_INT(utf8_invalid_at("\xe4\xbd\xa0\xe5\xa5\xbd", 6), -1, "CJK is valid");
	CHECK_INT(utf8_invalid_at("\xf0\x9f\x98\x80", 4), -1, "an emoji is valid");
	CHECK_INT(utf8_invalid_at("a\xc0\xaf", 3), 1, "an overlong form is not");
	CHECK_INT(utf8_invalid_at("\xed\xa0\x80", 3), 0, "a surrogate is not");
	CHECK_INT(utf8_invalid_at("\xe4\xbd", 2), 0, "a cut sequence is not");
	CHECK_INT(utf8_invalid_at("\xf4\x90\x80\x80", 4), 0, "above U+10FFFF is not");
}

int main(void)
{
	cfg.endpoint = "/v1/chat/completions";
	cfg.max_tokens = -1;
	cfg.max_depth = 64;
	cfg.max_line = 1 << 20;
	cls = classifier_new(&cfg);
	reader_tests();
	count_tests();
	classify_tests();
	members_tests();
	defaults_tests();
	utf8_tests();
	classifier_free(cls);
	request_free(&req);
	buf_release(&msg);
	return unit_done();
}
