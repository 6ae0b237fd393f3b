/* Framing: round trips, partial input, and nonsense rejected. */
#include <stdlib.h>

#include "frame.h"
#include "unit.h"

int main(void)
{
	struct buf b = { 0 };
	struct frame f;
	struct msg_request rq = { 17, 2, "/v1/chat/completions", 20, "id-1", 4,
	    "{\"a\":1}", 7, "0123456789abcdef0123456789abcdef", 32,
	    "{\"m\":1}", 7 }, rq2, rq3;
	struct record_ref ref;
	char hex[DIGEST_HEX + 1];
	struct msg_result rs = { 200, 0, 3, 1, 11, 22, 33, 55, 66, 44, 77, "zz\0z",
	    4 }, rs2;
	long used;
	size_t i;

	msg_request_encode(&b, 42, &rq);
	used = frame_decode(b.data, b.len, 1 << 20, &f);
	CHECK_INT(used, b.len, "a request frame decodes whole");
	CHECK_INT(f.seq, 42, "its sequence number survives");
	CHECK(f.type == FRAME_REQUEST, "its type survives");
	CHECK(msg_request_decode(&f, &rq2) == 0, "the request decodes");
	CHECK(rq2.lineno == 17 && rq2.attempts == 2, "lineno and attempts");
	CHECK(rq2.pathlen == 20 && !memcmp(rq2.path, rq.path, 20), "path");
	CHECK(rq2.idlen == 4 && !memcmp(rq2.id, "id-1", 4), "custom_id");
	CHECK(rq2.bodylen == 7 && !memcmp(rq2.body, "{\"a\":1}", 7), "body");
	CHECK(rq2.digestlen == 32 && !memcmp(rq2.digest, rq.digest, 32), "digest");
	CHECK(rq2.metalen == 7 && !memcmp(rq2.meta, "{\"m\":1}", 7), "metadata");

	{
		struct buf bb = { 0 };
		uint64_t ms = 0;

		msg_beat_encode(&bb, 9, 123456);
		CHECK(frame_decode(bb.data, bb.len, 64, &f) == (long)bb.len &&
		    f.type == FRAME_BEAT && f.seq == 9 &&
		    msg_beat_decode(&f, &ms) == 0 && ms == 123456,
		    "a beat round-trips");
		CHECK(msg_hint_decode(&f, &(struct msg_hint){ 0 }) < 0,
		    "... and is no hint");
		buf_release(&bb);
	}
	{
		struct buf fb = { 0 };
		struct msg_failed m = { 404, 0, 1, "model_not_found", 15,
		    "no such model", 13 }, m2;

		msg_failed_encode(&fb, 5, &m);
		CHECK(frame_decode(fb.data, fb.len, 256, &f) == (long)fb.len &&
		    f.type == FRAME_FAILED && f.seq == 5 &&
		    msg_failed_decode(&f, &m2) == 0, "a failed attempt decodes");
		CHECK(m2.status == 404 && m2.error == 0 && m2.systematic == 1 &&
		    m2.codelen == 15 &&
		    !memcmp(m2.code, "model_not_found", 15) &&
		    m2.msglen == 13 && !memcmp(m2.message, "no such model", 13),
		    "... with its status, code and message");
		CHECK(msg_beat_decode(&f, &(uint64_t){ 0 }) < 0,
		    "... and is no beat");
		buf_release(&fb);
	}
	CHECK_INT(msg_request_bump_attempts(&b), 3, "bumping attempts counts on");
	frame_decode(b.data, b.len, 1 << 20, &f);
	msg_request_decode(&f, &rq2);
	CHECK_INT(rq2.attempts, 3, "the bumped count is in the frame");
	CHECK(msg_request_peek(&b, &rq3) == 0 && rq3.idlen == 4 &&
	    !memcmp(rq3.id, "id-1", 4), "the custom_id can be read back");
	msg_request_ref(&rq3, 42, hex, &ref);
	CHECK(ref.seq == 42 && ref.idlen == 4 && !strcmp(ref.digest, rq.digest) &&
	    ref.metalen == 7, "... and whom its record is for");
	rq3.digestlen = 5;
	msg_request_ref(&rq3, 42, hex, &ref);
	CHECK_STR(ref.digest, "", "a digest of the wrong length is none");

	for (i = 0; i < b.len; i++)
		if (frame_decode(b.data, i, 1 << 20, &f) != 0)
			break;
	CHECK_INT(i, b.len, "every strict prefix is 'incomplete', not a frame");

	CHECK_INT(frame_decode(b.data, b.len, 10, &f), -1,
	    "a payload over the limit is refused");
	b.data[0] ^= 1;
	CHECK_INT(frame_decode(b.data, b.len, 1 << 20, &f), -1,
	    "bad magic is refused");
	b.data[0] ^= 1;
	b.data[2] = 9;
	CHECK_INT(frame_decode(b.data, b.len, 1 << 20, &f), -1,
	    "an unknown type is refused");

	buf_reset(&b);
	msg_result_encode(&b, 7, &rs);
	msg_result_encode(&b, 8, &rs);
	used = frame_decode(b.data, b.len, 1 << 20, &f);
	CHECK(used > 0 && (size_t)used < b.len, "two frames back to back: first");
	CHECK(msg_result_decode(&f, &rs2) == 0 && f.seq == 7, "result decodes");
	CHECK(rs2.status == 200 && rs2.attempts == 3 && rs2.flags == 1 &&
	    rs2.prompt_tokens == 11 && rs2.completion_tokens == 22 &&
	    rs2.latency_us == 33 && rs2.started_ms == 55 &&
	    rs2.first_token_us == 66 && rs2.rawlen == 44 &&
	    rs2.cached_tokens == 77,
	    "result fields");
	CHECK(rs2.len == 4 && !memcmp(rs2.data, "zz\0z", 4),
	    "result bytes, NUL included");
	CHECK(frame_decode(b.data + used, b.len - used, 1 << 20, &f) > 0 &&
	    f.seq == 8, "then the second");
	CHECK(msg_request_decode(&f, &rq2) < 0,
	    "a result is not decoded as a request");

	/* A payload whose inner length runs past its end. */
	buf_reset(&b);
	{
		size_t s = frame_begin(&b, FRAME_RESULT, 1);

		frame_put_u32(&b, 1);
		frame_put_u32(&b, 1000);
		frame_end(&b, s);
	}
	frame_decode(b.data, b.len, 1 << 20, &f);
	CHECK(msg_result_decode(&f, &rs2) < 0, "a short payload is refused");
	buf_release(&b);
	return unit_done();
}
