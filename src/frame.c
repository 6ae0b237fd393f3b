/* frame.c: encoding and decoding the parent-worker messages. */
#include "frame.h"

#include <string.h>	/* memcpy */

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

size_t frame_begin(struct buf *b, enum frame_type type, uint64_t seq)
{
	size_t start = b->len;
	unsigned char h[FRAME_HDR_SIZE];

	put_le(h, FRAME_MAGIC, 2);
	put_le(h + 2, type, 2);
	put_le(h + 4, 0, 4);
	put_le(h + 8, seq, 8);
	buf_add(b, h, sizeof(h));
	return start;
}

void frame_end(struct buf *b, size_t start)
{
	size_t len = b->len - start - FRAME_HDR_SIZE;

	if (len > UINT32_MAX)
		die(EXIT_INTERNAL, "frame too large (%zu bytes)", len);
	put_le((unsigned char *)b->data + start + 4, len, 4);
}

void frame_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	put_le(p, v, 4);
	buf_add(b, p, 4);
}

void frame_put_u64(struct buf *b, uint64_t v)
{
	unsigned char p[8];

	put_le(p, v, 8);
	buf_add(b, p, 8);
}

void frame_put_bytes(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		die(EXIT_INTERNAL, "frame field too large (%zu bytes)", n);
	frame_put_u32(b, n);
	buf_add(b, p, n);
}

long frame_decode(const char *p, size_t n, size_t max, struct frame *f)
{
	const unsigned char *u = (const unsigned char *)p;
	uint64_t type, len;

	if (n < FRAME_HDR_SIZE)
		return 0;
	if (get_le(u, 2) != FRAME_MAGIC)
		return -1;
	type = get_le(u + 2, 2);
	if (type < FRAME_REQUEST || type > FRAME_FAILED)
		return -1;
	len = get_le(u + 4, 4);
	if (len > max)
		return -1;
	f->type = (enum frame_type)type;
	f->seq = get_le(u + 8, 8);
	f->payload = p + FRAME_HDR_SIZE;
	f->len = (uint32_t)len;
	if (n - FRAME_HDR_SIZE < len)
		return 0;
	return (long)(FRAME_HDR_SIZE + len);
}

void frame_reader_init(struct frame_reader *r, const struct frame *f)
{
	r->p = f->payload;
	r->n = f->len;
	r->bad = 0;
}

static const unsigned char *take(struct frame_reader *r, size_t n)
{
	const char *p = r->p;

	if (r->bad || r->n < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->n -= n;
	return (const unsigned char *)p;
}

uint32_t frame_get_u32(struct frame_reader *r)
{
	const unsigned char *p = take(r, 4);

	return p ? (uint32_t)get_le(p, 4) : 0;
}

uint64_t frame_get_u64(struct frame_reader *r)
{
	const unsigned char *p = take(r, 8);

	return p ? get_le(p, 8) : 0;
}

const char *frame_get_bytes(struct frame_reader *r, size_t *n)
{
	uint32_t len = frame_get_u32(r);
	const unsigned char *p;

	*n = 0;
	if (r->bad)
		return NULL;
	p = take(r, len);
	if (p == NULL)
		return NULL;
	*n = len;
	return (const char *)p;
}

void msg_hint_encode(struct buf *b, uint64_t seq, const struct msg_hint *m)
{
	size_t start = frame_begin(b, FRAME_HINT, seq);

	frame_put_u64(b, (uint64_t)m->limit_requests);
	frame_put_u64(b, (uint64_t)m->remaining_requests);
	frame_put_u64(b, (uint64_t)m->limit_tokens);
	frame_put_u64(b, (uint64_t)m->remaining_tokens);
	frame_put_u64(b, (uint64_t)m->reset_requests_us);
	frame_put_u64(b, (uint64_t)m->reset_tokens_us);
	frame_put_u64(b, (uint64_t)m->cooldown_us);
	frame_put_u32(b, m->server);
	frame_end(b, start);
}

void msg_beat_encode(struct buf *b, uint64_t seq, uint64_t ms)
{
	size_t start = frame_begin(b, FRAME_BEAT, seq);

	frame_put_u64(b, ms);
	frame_end(b, start);
}

int msg_beat_decode(const struct frame *f, uint64_t *ms)
{
	struct frame_reader r;

	if (f->type != FRAME_BEAT)
		return -1;
	frame_reader_init(&r, f);
	*ms = frame_get_u64(&r);
	return r.bad || r.n != 0 ? -1 : 0;
}

void msg_failed_encode(struct buf *b, uint64_t seq, const struct msg_failed *m)
{
	size_t start = frame_begin(b, FRAME_FAILED, seq);

	frame_put_u32(b, m->status);
	frame_put_u32(b, m->error);
	frame_put_u32(b, m->systematic);
	frame_put_u32(b, m->server);
	frame_put_u32(b, m->moved);
	frame_put_u32(b, m->uncounted);
	frame_put_bytes(b, m->code, m->codelen);
	frame_put_bytes(b, m->message, m->msglen);
	frame_end(b, start);
}

int msg_failed_decode(const struct frame *f, struct msg_failed *m)
{
	struct frame_reader r;

	if (f->type != FRAME_FAILED)
		return -1;
	frame_reader_init(&r, f);
	m->status = frame_get_u32(&r);
	m->error = frame_get_u32(&r);
	m->systematic = frame_get_u32(&r);
	m->server = frame_get_u32(&r);
	m->moved = frame_get_u32(&r);
	m->uncounted = frame_get_u32(&r);
	m->code = frame_get_bytes(&r, &m->codelen);
	m->message = frame_get_bytes(&r, &m->msglen);
	return r.bad || r.n != 0 ? -1 : 0;
}

int msg_hint_decode(const struct frame *f, struct msg_hint *m)
{
	struct frame_reader r;

	if (f->type != FRAME_HINT)
		return -1;
	frame_reader_init(&r, f);
	m->limit_requests = (int64_t)frame_get_u64(&r);
	m->remaining_requests = (int64_t)frame_get_u64(&r);
	m->limit_tokens = (int64_t)frame_get_u64(&r);
	m->remaining_tokens = (int64_t)frame_get_u64(&r);
	m->reset_requests_us = (int64_t)frame_get_u64(&r);
	m->reset_tokens_us = (int64_t)frame_get_u64(&r);
	m->cooldown_us = (int64_t)frame_get_u64(&r);
	m->server = frame_get_u32(&r);
	return r.bad || r.n != 0 ? -1 : 0;
}

void msg_request_encode(struct buf *b, uint64_t seq,
    const struct msg_request *m)
{
	size_t start = frame_begin(b, FRAME_REQUEST, seq);

	frame_put_u64(b, m->lineno);
	frame_put_u32(b, m->attempts);
	frame_put_u32(b, m->server);
	frame_put_u64(b, m->aside);
	frame_put_bytes(b, m->path, m->pathlen);
	frame_put_bytes(b, m->id, m->idlen);
	frame_put_bytes(b, m->body, m->bodylen);
	frame_put_bytes(b, m->digest, m->digestlen);
	frame_put_bytes(b, m->meta, m->metalen);
	frame_end(b, start);
}

int msg_request_decode(const struct frame *f, struct msg_request *m)
{
	struct frame_reader r;

	if (f->type != FRAME_REQUEST)
		return -1;
	frame_reader_init(&r, f);
	m->lineno = frame_get_u64(&r);
	m->attempts = frame_get_u32(&r);
	m->server = frame_get_u32(&r);
	m->aside = frame_get_u64(&r);
	m->path = frame_get_bytes(&r, &m->pathlen);
	m->id = frame_get_bytes(&r, &m->idlen);
	m->body = frame_get_bytes(&r, &m->bodylen);
	m->digest = frame_get_bytes(&r, &m->digestlen);
	m->meta = frame_get_bytes(&r, &m->metalen);
	return r.bad || r.n != 0 ? -1 : 0;
}

/* The request frame's attempts field: after the header and lineno. */
#define ATTEMPTS_AT (FRAME_HDR_SIZE + 8)

unsigned msg_request_bump_attempts(struct buf *frame)
{
	unsigned char *p = (unsigned char *)frame->data + ATTEMPTS_AT;
	uint32_t n = (uint32_t)get_le(p, 4) + 1;

	put_le(p, n, 4);
	return n;
}

/* Then the server and the servers set aside. */
#define ROUTE_AT (ATTEMPTS_AT + 4)

void msg_request_route(struct buf *frame, unsigned server, uint64_t aside)
{
	unsigned char *p = (unsigned char *)frame->data + ROUTE_AT;

	put_le(p, server, 4);
	put_le(p + 4, aside, 8);
}

void msg_request_ref(const struct msg_request *m, uint64_t seq,
    char hex[DIGEST_HEX + 1], struct record_ref *ref)
{
	hex[0] = 0;
	if (m->digestlen == DIGEST_HEX) {
		memcpy(hex, m->digest, DIGEST_HEX);
		hex[DIGEST_HEX] = 0;
	}
	ref->seq = seq;
	ref->id = m->id;
	ref->idlen = m->idlen;
	ref->digest = hex;
	ref->meta = m->meta;
	ref->metalen = m->metalen;
}

int msg_request_peek(const struct buf *frame, struct msg_request *m)
{
	struct frame f;

	memset(m, 0, sizeof(*m));
	if (frame_decode(frame->data, frame->len, UINT32_MAX, &f) > 0 &&
	    msg_request_decode(&f, m) == 0)
		return 0;
	memset(m, 0, sizeof(*m));
	return -1;
}

void msg_result_encode(struct buf *b, uint64_t seq, const struct msg_result *m)
{
	size_t start = frame_begin(b, FRAME_RESULT, seq);

	frame_put_u32(b, m->status);
	frame_put_u32(b, m->error);
	frame_put_u32(b, m->attempts);
	frame_put_u32(b, m->flags);
	frame_put_u64(b, m->prompt_tokens);
	frame_put_u64(b, m->completion_tokens);
	frame_put_u64(b, m->latency_us);
	frame_put_u64(b, m->started_ms);
	frame_put_u64(b, m->first_token_us);
	frame_put_u64(b, m->rawlen);
	frame_put_u64(b, m->cached_tokens);
	frame_put_u32(b, m->server);
	frame_put_u32(b, m->failovers);
	frame_put_u64(b, m->attempt_us);
	frame_put_bytes(b, m->data, m->len);
	frame_end(b, start);
}

int msg_result_decode(const struct frame *f, struct msg_result *m)
{
	struct frame_reader r;

	if (f->type != FRAME_RESULT)
		return -1;
	frame_reader_init(&r, f);
	m->status = frame_get_u32(&r);
	m->error = frame_get_u32(&r);
	m->attempts = frame_get_u32(&r);
	m->flags = frame_get_u32(&r);
	m->prompt_tokens = frame_get_u64(&r);
	m->completion_tokens = frame_get_u64(&r);
	m->latency_us = frame_get_u64(&r);
	m->started_ms = frame_get_u64(&r);
	m->first_token_us = frame_get_u64(&r);
	m->rawlen = frame_get_u64(&r);
	m->cached_tokens = frame_get_u64(&r);
	m->server = frame_get_u32(&r);
	m->failovers = frame_get_u32(&r);
	m->attempt_us = frame_get_u64(&r);
	m->data = frame_get_bytes(&r, &m->len);
	return r.bad || r.n != 0 ? -1 : 0;
}
