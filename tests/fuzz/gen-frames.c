/*
 * gen-frames: write the seed corpus of fuzz-frame with the real encoder.
 *
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude \
 *       -o /tmp/gen-frames tests/fuzz/gen-frames.c src/frame.c src/util.c
 *   /tmp/gen-frames tests/fuzz/corpus/frame
 *
 * Each seed is one byte choosing the payload limit (fuzz-frame.c), then
 * frames as a worker or the parent writes them.
 */
#include <stdio.h>
#include <string.h>

#include "frame.h"

static void save(const char *dir, const char *name, unsigned char limit,
    const struct buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL) {
		perror(path);
		return;
	}
	fputc(limit, f);
	fwrite(b->data, 1, b->len, f);
	fclose(f);
}

static void request(struct buf *b, uint64_t seq, uint64_t lineno,
    uint32_t attempts, const char *path, const char *id, const char *body)
{
	struct msg_request m = { lineno, attempts, path, strlen(path), id,
	    strlen(id), body, strlen(body) };

	msg_request_encode(b, seq, &m);
}

static void result(struct buf *b, uint64_t seq, uint32_t status,
    uint32_t error, uint32_t flags, const char *data)
{
	struct msg_result m;

	memset(&m, 0, sizeof(m));
	m.status = status;
	m.error = error;
	m.attempts = 1;
	m.flags = flags;
	m.prompt_tokens = 12;
	m.completion_tokens = 34;
	m.latency_us = 250000;
	m.started_ms = 1700000000000ULL;
	m.first_token_us = flags & RESULT_STREAMED ? 90000 : 0;
	m.rawlen = strlen(data) * 2;
	m.data = data;
	m.len = strlen(data);
	msg_result_encode(b, seq, &m);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct buf b = { 0 };
	size_t start;

	request(&b, 1, 1, 0, "/v1/chat/completions", "line-1",
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}");
	save(dir, "request", 3, &b);

	buf_reset(&b);
	request(&b, 7, 9, 2, "/v1/embeddings", "embed-1",
	    "{\"input\":\"x\",\"model\":\"e\"}");
	request(&b, 8, 10, 0, "/v1/completions", "c1", "{\"prompt\":\"p\"}");
	save(dir, "requests-two", 2, &b);

	buf_reset(&b);
	result(&b, 1, 200, 0, RESULT_OK, "x\x9c\x03\x00\x00\x00\x00\x01");
	save(dir, "result-ok", 3, &b);

	buf_reset(&b);
	result(&b, 2, 429, 0, RESULT_QUOTA, "");
	result(&b, 3, 200, 0, RESULT_OK | RESULT_STREAMED, "deflated");
	save(dir, "results-two", 3, &b);

	buf_reset(&b);
	result(&b, 4, 0, 6, 0, "{}");
	save(dir, "result-error", 1, &b);

	buf_reset(&b);
	start = frame_begin(&b, FRAME_HINT, 5);
	frame_put_u32(&b, 429);
	frame_put_u64(&b, 1500);
	frame_put_bytes(&b, "6m0s", 4);
	frame_end(&b, start);
	result(&b, 5, 200, 0, RESULT_OK, "z");
	save(dir, "hint-result", 3, &b);

	buf_reset(&b);
	request(&b, 1, 1, 0, "/v1/chat/completions", "cut", "{}");
	b.len -= 3;
	save(dir, "request-cut", 3, &b);
	buf_release(&b);
	return 0;
}
