/*
 * fuzz-record: record_parse() (output.h), which reads output records back
 * for --resume (FILE, FILE.partial and FILE.journal).
 *
 * Input: one line, as output.c's next_line() leaves it in a struct buf:
 * the bytes with a NUL after them (record_parse hands the line to
 * json_tokener_parse(), which reads a C string).  Checked besides memory
 * safety:
 *   - the result is -1, 0 or 1, with no id for -1;
 *   - agreement with an independent reading of the same line by json-c
 *     (strict, nesting up to 10000 as json_check allows): a line that is
 *     a JSON object with a string custom_id is a record (0 or 1), and its
 *     id is that custom_id, byte for byte;
 *   - the same bytes written as a JSON string by buf_add_json_string
 *     (util.h), as a record writes a server's header or message, are a
 *     strict JSON string whatever they are, and read back as the input
 *     itself when it is well-formed UTF-8 with no NUL.
 */
#include <json-c/json.h>

#include "fuzz.h"
#include "jsoncheck.h"
#include "output.h"

static json_tokener *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	tok = json_tokener_new_ex(10001);
	if (tok == NULL)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = fuzz_strndup(data, size);
	struct buf id = { 0 };
	struct json_problem pb;
	json_object *o, *x;
	size_t len = size;
	int rc;

	rc = record_parse(line, size, &id);
	FUZZ_CHECK(rc >= -1 && rc <= 1, "record_parse %d", rc);
	if (rc < 0)
		FUZZ_CHECK(id.len == 0, "not a record, but an id");

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (json_check(line, len, 10000, &pb) == '{') {
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, line, (int)len);
		if (o != NULL && json_object_object_get_ex(o, "custom_id", &x) &&
		    json_object_is_type(x, json_type_string)) {
			FUZZ_CHECK(rc >= 0, "a record with custom_id \"%s\" "
			    "is \"not a record\"", json_object_get_string(x));
			FUZZ_CHECK(id.len == (size_t)json_object_get_string_len(x)
			    && (id.len == 0 || memcmp(id.data,
			    json_object_get_string(x), id.len) == 0),
			    "id %s, want %s", id.len ? id.data : "",
			    json_object_get_string(x));
		}
		json_object_put(o);
	}
	buf_reset(&id);
	buf_add_json_string(&id, line, size);
	FUZZ_CHECK(json_check(id.data, id.len, 2, &pb) == '"',
	    "buf_add_json_string wrote no JSON string: %s at %zu", pb.what,
	    pb.at);
	if (utf8_invalid_at(line, size) < 0 && memchr(line, 0, size) == NULL) {
		json_tokener_reset(tok);
		o = json_tokener_parse_ex(tok, id.data, (int)id.len);
		FUZZ_CHECK(o != NULL && json_object_get_string_len(o) ==
		    (int)size && memcmp(json_object_get_string(o), line,
		    size) == 0, "a UTF-8 string did not read back as itself");
		json_object_put(o);
	}
	buf_release(&id);
	free(line);
	return 0;
}
