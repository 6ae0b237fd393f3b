/*
 * fuzz-frame: frame_decode(), msg_request_decode(), msg_result_decode()
 * and the frame_reader (frame.h), the messages between the parent and
 * its workers.
 *
 * Input: the first byte picks the payload limit (0, 64, 4096 or
 * UINT32_MAX, the way callers pass max); the rest is a byte stream
 * decoded frame after frame, as the parent reads a worker's pipe, from an
 * exact-size heap copy.  Checked besides memory safety:
 *   - a decoded frame's length is the header plus a payload within the
 *     limit and within the bytes given, and the same bytes one short are
 *     "incomplete" (0); an incomplete frame with a whole header reports a
 *     payload length the bytes do not hold yet;
 *   - a request or result that decodes re-encodes to the same bytes;
 *   - msg_request_peek() and msg_request_bump_attempts() agree with
 *     the decoder;
 *   - a hint frame's payload read as fields never reads past its end.
 */
#include "frame.h"
#include "fuzz.h"

static void check_request(const char *p, long used, const struct frame *f)
{
	struct msg_request m, m2, m3;
	struct buf b = { 0 };
	struct frame f2;

	if (msg_request_decode(f, &m) != 0)
		return;
	FUZZ_CHECK(m.path != NULL && m.id != NULL && m.body != NULL,
	    "a decoded request with a NULL field");
	msg_request_encode(&b, f->seq, &m);
	FUZZ_CHECK(b.len == (size_t)used && memcmp(b.data, p, b.len) == 0,
	    "a request re-encodes to %zu different bytes, not %ld", b.len,
	    used);
	FUZZ_CHECK(msg_request_peek(&b, &m3) == 0 && m3.idlen == m.idlen &&
	    (m.idlen == 0 || memcmp(m3.id, m.id, m.idlen) == 0) &&
	    m3.digestlen == m.digestlen && m3.metalen == m.metalen,
	    "msg_request_peek");
	FUZZ_CHECK(msg_request_bump_attempts(&b) == m.attempts + 1u,
	    "msg_request_bump_attempts");
	FUZZ_CHECK(frame_decode(b.data, b.len, UINT32_MAX, &f2) == used &&
	    msg_request_decode(&f2, &m2) == 0 &&
	    m2.attempts == m.attempts + 1u && m2.lineno == m.lineno,
	    "a bumped request no longer decodes the same");
	buf_release(&b);
}

static void check_result(const char *p, long used, const struct frame *f)
{
	struct msg_result m;
	struct buf b = { 0 };

	if (msg_result_decode(f, &m) != 0)
		return;
	FUZZ_CHECK(m.data != NULL, "a decoded result without data");
	msg_result_encode(&b, f->seq, &m);
	FUZZ_CHECK(b.len == (size_t)used && memcmp(b.data, p, b.len) == 0,
	    "a result re-encodes to %zu different bytes, not %ld", b.len,
	    used);
	buf_release(&b);
}

/* Read a hint payload as the fields its first bytes choose. */
static void read_fields(const struct frame *f)
{
	struct frame_reader r;
	const char *s;
	size_t n, k = 0;
	int i;

	frame_reader_init(&r, f);
	for (i = 0; i < 64 && !r.bad; i++) {
		unsigned op = f->len ? (unsigned char)f->payload[k++ %
		    f->len] % 3 : 0;

		if (op == 0)
			(void)frame_get_u32(&r);
		else if (op == 1)
			(void)frame_get_u64(&r);
		else {
			s = frame_get_bytes(&r, &n);
			FUZZ_CHECK(s == NULL ? r.bad && n == 0 :
			    s >= f->payload && s + n <= f->payload + f->len,
			    "frame_get_bytes outside the payload");
		}
	}
	/* Past the end: zeros, and bad stays set. */
	if (r.bad)
		FUZZ_CHECK(frame_get_u64(&r) == 0 && r.bad,
		    "a bad reader returned data");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { 0, 64, 4096, UINT32_MAX };
	size_t max, n;
	char *copy;
	const char *p;

	if (size == 0)
		return 0;
	max = limits[data[0] & 3];
	copy = fuzz_memdup(data + 1, size - 1);
	p = copy;
	n = size - 1;
	while (n > 0) {
		struct frame f;
		long used;

		memset(&f, 0, sizeof(f));
		used = frame_decode(p, n, max, &f);
		if (used < 0)
			break;
		if (used == 0) {
			if (n >= FRAME_HDR_SIZE)
				FUZZ_CHECK(f.len <= max &&
				    f.len > n - FRAME_HDR_SIZE,
				    "incomplete, with %u of %zu payload bytes",
				    f.len, n - FRAME_HDR_SIZE);
			break;
		}
		FUZZ_CHECK((size_t)used == FRAME_HDR_SIZE + (size_t)f.len &&
		    (size_t)used <= n && f.len <= max &&
		    f.payload == p + FRAME_HDR_SIZE, "frame of %ld bytes, "
		    "payload %u, from %zu bytes", used, f.len, n);
		FUZZ_CHECK(f.type == FRAME_REQUEST || f.type == FRAME_RESULT ||
		    f.type == FRAME_HINT || f.type == FRAME_BEAT ||
		    f.type == FRAME_FAILED, "type %d",
		    (int)f.type);
		{
			/* The same frame one byte short: not there yet. */
			char *shorter = fuzz_memdup((const uint8_t *)p,
			    (size_t)used - 1);
			struct frame g;

			FUZZ_CHECK(frame_decode(shorter, (size_t)used - 1, max,
			    &g) == 0, "a frame one byte short decodes");
			free(shorter);
		}
		switch (f.type) {
		case FRAME_REQUEST:
			check_request(p, used, &f);
			break;
		case FRAME_RESULT:
			check_result(p, used, &f);
			break;
		default:
			read_fields(&f);
		}
		p += used;
		n -= (size_t)used;
	}
	free(copy);
	return 0;
}
