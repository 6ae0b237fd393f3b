/*
 * frame.h: the messages between the parent and its workers.
 *
 * Every message is a frame: a 16-byte header (type, payload length, the
 * input line's sequence number), then the payload.  Integers are written
 * little-endian byte by byte, so a frame means the same thing whatever the
 * compiler does with structs, and the decoder can be fed arbitrary bytes
 * (it is a fuzz target): it never reads past what it was given and rejects
 * unknown types and payloads over the caller's limit.
 *
 * Each worker has its own pair of pipes, so frames from different workers
 * never interleave and no frame needs to fit in PIPE_BUF.
 *
 * Payload fields are appended with frame_put_*() and read back, in the same
 * order, with a struct frame_reader; a reader that runs off the end of the
 * payload sets bad and returns zeros, so callers check bad once at the end.
 */
#ifndef SPLITGPT_FRAME_H
#define SPLITGPT_FRAME_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint32_t, uint64_t */

#include "api.h"	/* DIGEST_HEX */
#include "record.h"	/* struct record_ref */
#include "util.h"	/* struct buf */

#define FRAME_HDR_SIZE 16
#define FRAME_MAGIC 0x5347u	/* "SG": catches a desynchronised stream */

enum frame_type {
	FRAME_REQUEST = 1,	/* parent -> worker: one request to make */
	FRAME_RESULT = 2,	/* worker -> parent: its output line */
	FRAME_HINT = 3,		/* worker -> parent: advice (rate limits, waits) */
	FRAME_BEAT = 4,		/* worker -> parent: still at it (a retry) */
	FRAME_FAILED = 5	/* worker -> parent: an attempt failed, and how */
};

struct frame {
	enum frame_type type;
	uint64_t seq;
	const char *payload;	/* points into the decoded bytes */
	uint32_t len;
};

/* Start a frame at the end of b; returns where it starts, for frame_end. */
size_t frame_begin(struct buf *b, enum frame_type type, uint64_t seq);
/* Fill in the length of the frame that starts at start. */
void frame_end(struct buf *b, size_t start);

void frame_put_u32(struct buf *b, uint32_t v);
void frame_put_u64(struct buf *b, uint64_t v);
/* A length-prefixed byte string. */
void frame_put_bytes(struct buf *b, const void *p, size_t n);

/*
 * Decode one frame from p[0..n).  Returns the number of bytes it used (and
 * fills f), 0 when p holds only part of a frame (if the header is complete,
 * f->len says how long the payload will be), or -1 when the bytes are not a
 * frame: bad magic, unknown type, or a payload longer than max.
 */
long frame_decode(const char *p, size_t n, size_t max, struct frame *f);

struct frame_reader {
	const char *p;
	size_t n;
	int bad;
};

void frame_reader_init(struct frame_reader *r, const struct frame *f);
uint32_t frame_get_u32(struct frame_reader *r);
uint64_t frame_get_u64(struct frame_reader *r);
/* Returns a pointer into the payload and sets *n; NULL (and bad) if short. */
const char *frame_get_bytes(struct frame_reader *r, size_t *n);

/*
 * The two messages.  A request carries what the worker needs to make the
 * call and write the record; attempts counts the attempts already spent on
 * it (by workers that died), so a resent request keeps its retry budget.
 */
struct msg_request {
	uint64_t lineno;
	uint32_t attempts;
	const char *path;
	size_t pathlen;
	const char *id;
	size_t idlen;
	const char *body;
	size_t bodylen;
	const char *digest;	/* request_digest (api.h), or "" */
	size_t digestlen;
	const char *meta;	/* the line's metadata, JSON, or none */
	size_t metalen;
	/* Where it goes (set as it is sent; encoded after attempts): */
	uint32_t server;	/* the server of its first attempt
				 * (config.h, cfg->servers) */
	uint64_t aside;		/* servers set aside: bit i for server i */
};

/* What the parent learns from a result without inflating it. */
enum {
	RESULT_OK = 1,		/* a 2xx answer with a JSON body */
	RESULT_QUOTA = 2,	/* error code insufficient_quota */
	RESULT_STREAMED = 4,	/* the answer came as an event stream */
	RESULT_CACHED = 8	/* --cache: stored there before it was sent */
};

struct msg_result {
	uint32_t status;	/* last HTTP status, 0 if none */
	uint32_t error;		/* enum errcode, ERR_NONE for an answer */
	uint32_t attempts;
	uint32_t flags;
	uint64_t prompt_tokens;
	uint64_t completion_tokens;
	uint64_t latency_us;	/* first attempt's start to the end */
	uint64_t started_ms;	/* wall clock at the first attempt */
	uint64_t first_token_us;	/* streamed: the last attempt's start
					 * to its first token; else 0 */
	uint64_t rawlen;	/* the output line's length inflated */
	uint64_t cached_tokens;	/* prompt tokens served from the
				 * provider's cache */
	const char *data;	/* the output line, deflated */
	size_t len;
	uint32_t server;	/* the server of the last attempt */
	uint32_t failovers;	/* attempts that moved it to another server
				 * (not counted in attempts) */
	uint64_t attempt_us;	/* the last attempt's time */
};

/*
 * Advice from a worker, sent as soon as an attempt's answer is in: the
 * rate-limit figures its headers gave (-1 where absent) and a 429's wait
 * in microseconds (-1 for none), for the parent's pacer (ratelimit.h).
 */
struct msg_hint {
	int64_t limit_requests, remaining_requests;
	int64_t limit_tokens, remaining_tokens;
	int64_t reset_requests_us, reset_tokens_us;
	int64_t cooldown_us;
	uint32_t server;	/* the server that said so */
};

void msg_hint_encode(struct buf *b, uint64_t seq, const struct msg_hint *m);
int msg_hint_decode(const struct frame *f, struct msg_hint *m);

/*
 * A beat: the worker holding line seq is alive and will send its result,
 * or another beat, within ms milliseconds.  Sent before each wait and
 * further attempt, so the parent can tell a worker at work from one that
 * stopped: the first attempt's time it knows itself (--timeout).
 */
void msg_beat_encode(struct buf *b, uint64_t seq, uint64_t ms);
int msg_beat_decode(const struct frame *f, uint64_t *ms);

/*
 * An attempt at line seq failed: its HTTP status (0: no answer), its error
 * code (enum errcode; ERR_NONE for an HTTP error answer), the server's
 * error code (or type) and message, or for no answer what went wrong.
 * Sent as soon as the attempt is judged, retried or not, so the parent
 * can name each kind of error once as it first happens, and halt when
 * the first requests all fail the same way.
 */
struct msg_failed {
	uint32_t status;
	uint32_t error;
	uint32_t systematic;	/* every line would fail so (judge.h) */
	const char *code;	/* the server's, or empty */
	size_t codelen;
	const char *message;
	size_t msglen;
	uint32_t server;	/* the server that failed */
	uint32_t moved;		/* the next attempt goes to server moved - 1;
				 * 0: to the same, or none */
	uint32_t uncounted;	/* and it is not counted against --retries
				 * (the line had not tried that server) */
};

void msg_failed_encode(struct buf *b, uint64_t seq, const struct msg_failed *m);
int msg_failed_decode(const struct frame *f, struct msg_failed *m);

void msg_request_encode(struct buf *b, uint64_t seq,
    const struct msg_request *m);
int msg_request_decode(const struct frame *f, struct msg_request *m);
/* In an encoded request frame: count one more attempt, return the count. */
unsigned msg_request_bump_attempts(struct buf *frame);
/* In an encoded request frame: where it goes (see struct msg_request). */
void msg_request_route(struct buf *frame, unsigned server, uint64_t aside);
/* Decode an encoded request frame (m points into it): 0, or -1. */
int msg_request_peek(const struct buf *frame, struct msg_request *m);
/* Whom line seq's record is for, from its request m; the digest is
 * copied to hex (NUL-terminated), and ref points into m and hex. */
void msg_request_ref(const struct msg_request *m, uint64_t seq,
    char hex[DIGEST_HEX + 1], struct record_ref *ref);
void msg_result_encode(struct buf *b, uint64_t seq, const struct msg_result *m);
int msg_result_decode(const struct frame *f, struct msg_result *m);

#endif
