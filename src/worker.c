/* worker.c: a worker's loop: read a request, make the call with its
 * retries (transfer.c, judge.c), write the record back deflated. */
#include "worker.h"

#include <curl/curl.h>	/* curl_version */
#include <json-c/json.h>	/* json_object_put, json_c_version */
#include <errno.h>	/* errno */
#include <poll.h>	/* poll */
#include <signal.h>	/* signal, sigaction, SIGUSR1 */
#include <stdint.h>	/* uint64_t */
#include <stdio.h>	/* printf */
#include <string.h>	/* memset, strlen, strstr */
#include <time.h>	/* time */
#include <unistd.h>	/* getpid, getppid, _exit */
#include <zlib.h>	/* deflate */

#include "api.h"	/* api_error */
#include "cacache.h"	/* the parent's parsed CA file */
#include "cache.h"	/* --cache: cache_put */
#include "frame.h"	/* request and result messages */
#include "judge.h"	/* what an attempt came to */
#include "ratelimit.h"	/* parse_duration, parse_count */
#include "record.h"	/* output lines */
#include "retry.h"	/* the backoff */
#include "transfer.h"	/* the HTTP call */

/* Below this many bytes a record goes stored (level 0): deflate's fixed
 * cost per stream, mostly building the block's Huffman codes, is about
 * 5 us at level 1 even for 400 bytes (a tenth of the workers' CPU in a
 * profile of short answers), and it would save a few hundred bytes that
 * the parent holds for a moment; storing costs 0.5 us, and the parent's
 * inflate of it is a copy. */
#define STORE_BELOW 1024
#define DEFLATE_LEVEL 1		/* for the rest */

struct worker {
	const struct config *cfg;
	int rfd;		/* requests come down this */
	int wfd;		/* results and hints go up this */
	pid_t ppid;		/* the parent that forked us */
	struct buf hintbuf;
	struct transfer t;	/* the HTTP call: libcurl's handle */
	z_stream z;
	int zlevel;		/* the level z is set to: DEFLATE_LEVEL, or 0 */
	struct buf line;	/* the output line */
	struct buf packed;	/* the line, deflated */
	struct buf frame;	/* the result frame */
	struct buf content;
	struct buf msg;		/* what went wrong, "line N: ..." */
	struct buf why;		/* why the retries stopped early */
	uint64_t rng;
	/* The line being served: its server now, those it was tried on,
	 * the free moves to another, and its last attempt's time. */
	unsigned srv;
	uint64_t tried;
	unsigned failovers;
	uint64_t last_us;
	unsigned store_warned;	/* --cache: a failed store was said */
	struct buf cache_why;	/* and why it failed */
};

/* Set by SIGUSR1: the parent is stopping; make no further attempts. */
static volatile sig_atomic_t stop_retrying;

static void on_usr1(int sig)
{
	(void)sig;
	stop_retrying = 1;
}

/*
 * Whether the parent is gone: we were reparented, or our request pipe
 * closed while we hold a request (the parent never writes to a busy
 * worker, so anything there is its end of file).  Then nobody will read
 * our answer, and no further attempt is made: on Linux PR_SET_PDEATHSIG
 * has killed us already; elsewhere this is what stops us.
 */
static int parent_gone(const struct worker *w)
{
	struct pollfd p = { w->rfd, POLLIN, 0 };

	return getppid() != w->ppid ||
	    (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)));
}

/*
 * Wait ms milliseconds between attempts, watching the request pipe: 0
 * when the time is up, 1 when the parent asked us to stop retrying, -1
 * when it is gone.
 */
static int backoff_wait(const struct worker *w, long ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd p = { w->rfd, POLLIN, 0 };
		uint64_t now = now_ms();
		int r;

		if (stop_retrying)
			return 1;
		if (getppid() != w->ppid)
			return -1;
		if (now >= end)
			return 0;
		r = poll(&p, 1, (int)(end - now > 60000 ? 60000 : end - now));
		if (r > 0)
			return -1;	/* the pipe closed: see parent_gone */
		if (r < 0 && errno != EINTR)
			die_errno(EXIT_INTERNAL, "worker: poll");
	}
}

void worker_prefork(const struct config *cfg)
{
	cacache_prefork(cfg);
	cache_prefork();	/* no SQLite connection crosses a fork */
}

void worker_prefork_free(void)
{
	cacache_free();
}

void worker_versions(void)
{
	printf("%s\njson-c/%s zlib/%s\n", curl_version(), json_c_version(),
	    zlibVersion());
}

static void worker_init(struct worker *w, const struct config *cfg)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	transfer_init(&w->t, cfg);
	/* A record is one deflate stream, mostly of a few hundred bytes to
	 * a few KB.  memLevel 4 keeps the hash table and the pending buffer
	 * at 4 KB each, against 64 KB at the default 8, whose table every
	 * record's deflateReset clears: each worker holds 60 KB less.  The
	 * ratio is the same to 1% up to 20 KB records, 4% worse at 100 KB
	 * (level 1, windowBits 15 either way). */
	if (deflateInit2(&w->z, DEFLATE_LEVEL, Z_DEFLATED, 15, 4,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		die(EXIT_INTERNAL, "deflateInit failed");
	w->zlevel = DEFLATE_LEVEL;
	w->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ now_us();
}

/* The parent's parsed CA file stays: freeing it would copy its every
 * page into this process just before exit. */
static void worker_free(struct worker *w)
{
	transfer_free(&w->t);
	deflateEnd(&w->z);
	buf_release(&w->line);
	buf_release(&w->packed);
	buf_release(&w->frame);
	buf_release(&w->content);
	buf_release(&w->msg);
	buf_release(&w->why);
	buf_release(&w->cache_why);
	buf_release(&w->hintbuf);
}

/* A uniform draw in [0, 1) for the jitter (xorshift64*). */
static double draw(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return (double)((w->rng * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

/*
 * Tell the parent what the answer's headers said of the rate limits, and
 * of a 429's wait, so it paces everyone (not just this worker) by them.
 * Sent at once, before any wait here; nothing is sent when there is
 * nothing to say.
 */
static void send_hint(struct worker *w, uint64_t seq, const struct outcome *o)
{
	const struct answer_headers *h = &w->t.h;
	struct msg_hint m;
	double d;

	m.limit_requests = parse_count(h->rl[0]);
	m.remaining_requests = parse_count(h->rl[1]);
	m.reset_requests_us = (d = parse_duration(h->rl[2])) < 0 ? -1 :
	    (int64_t)(d * 1e6);
	m.limit_tokens = parse_count(h->rl[3]);
	m.remaining_tokens = parse_count(h->rl[4]);
	m.reset_tokens_us = (d = parse_duration(h->rl[5])) < 0 ? -1 :
	    (int64_t)(d * 1e6);
	m.cooldown_us = o->status == 429 && !o->quota && o->wait_ms > 0 &&
	    !o->too_long ? (int64_t)o->wait_ms * 1000 : -1;
	if (m.remaining_requests < 0 && m.remaining_tokens < 0 &&
	    m.cooldown_us < 0)
		return;
	buf_reset(&w->hintbuf);
	msg_hint_encode(&w->hintbuf, seq, &m);
	(void)write_full(w->wfd, w->hintbuf.data, w->hintbuf.len);
}

/* The next attempt's time: --timeout, or what --max-time leaves. */
/*
 * Tell the parent how an attempt failed (frame.h, msg_failed): the
 * server's error code and message from its answer, or what went wrong
 * without one (judge's message, less its "line N: ").
 */
static void send_failed(struct worker *w, uint64_t seq, const struct outcome *o,
    unsigned moved, int uncounted)
{
	struct msg_failed m = { (uint32_t)o->status, o->err,
	    (uint32_t)o->systematic, "", 0, "", 0, w->srv, moved,
	    (uint32_t)uncounted };
	const char *code = NULL, *message = NULL, *p;

	if (o->err == ERR_NONE && o->status >= 200 && o->status < 300)
		return;
	if (o->json)
		api_error(o->json, &code, &message);
	if (message == NULL && (p = strstr(w->msg.data ? w->msg.data : "",
	    ": ")) != NULL)
		message = p + 2;
	if (code) {
		m.code = code;
		m.codelen = strlen(code);
	}
	if (message) {
		m.message = message;
		m.msglen = strlen(message);
	}
	buf_reset(&w->hintbuf);
	msg_failed_encode(&w->hintbuf, seq, &m);
	(void)write_full(w->wfd, w->hintbuf.data, w->hintbuf.len);
}

static long attempt_timeout(const struct config *cfg, uint64_t deadline)
{
	long timeout = cfg->timeout_ms;

	if (deadline) {
		uint64_t now = now_us();
		long left = now < deadline ?
		    (long)((deadline - now) / 1000) : 0;

		if (left < timeout)
			timeout = left > 0 ? left : 1;
	}
	return timeout;
}

/*
 * After an attempt worth another: how long to wait before it, or -1 when
 * the retries stop here, with why in w->why (and in re->code, when the
 * server asked for too long a wait).
 */
static long next_wait(struct worker *w, const struct outcome *o,
    unsigned attempts, uint64_t deadline, struct record_error *re)
{
	const struct config *cfg = w->cfg;
	long wait;

	if (stop_retrying) {
		buf_adds(&w->why, "no retry: the run is stopping");
		return -1;
	}
	wait = o->wait_ms > 0 ? o->wait_ms :
	    retry_backoff_ms(attempts, cfg->backoff_max_ms, draw(w));
	if (o->too_long) {
		re->code = ERR_RETRY_TOO_LONG;
		buf_addf(&w->why, "the server asked to wait %.1f s, more than "
		    "--max-retry-wait %.1f s", o->wait_ms / 1000.0,
		    cfg->max_retry_wait_ms / 1000.0);
		return -1;
	}
	if (deadline && now_us() + (uint64_t)wait * 1000 >= deadline) {
		buf_addf(&w->why, "--max-time %.1f s reached",
		    cfg->max_time_ms / 1000.0);
		return -1;
	}
	return wait;
}

/*
 * Wait ms before the next attempt, having told the parent when to expect
 * us: after the wait and that attempt (it kills a worker silent past
 * that).  Returns 0 when it is time, 1 when the parent asked us to stop
 * (w->why says so); exits when the parent is gone.
 */
static int pause_before_retry(struct worker *w, uint64_t seq, long ms)
{
	int r;

	buf_reset(&w->hintbuf);
	msg_beat_encode(&w->hintbuf, seq, (uint64_t)ms +
	    (uint64_t)w->cfg->timeout_ms);
	(void)write_full(w->wfd, w->hintbuf.data, w->hintbuf.len);
	r = backoff_wait(w, ms);
	if (r < 0)
		_exit(1);
	if (r > 0)
		buf_adds(&w->why, "no retry: the run is stopping");
	return r;
}

/* The server after srv (in turn) that is not in avoid, or -1. */
static int next_server(const struct config *cfg, unsigned srv, uint64_t avoid)
{
	for (int k = 1; k < cfg->nservers; k++) {
		unsigned s = (srv + k) % (unsigned)cfg->nservers;

		if (!(avoid & (UINT64_C(1) << s)))
			return (int)s;
	}
	return -1;
}

/*
 * Several servers: where the attempt after o goes.  An attempt that
 * failed for the server's sake (no answer, or a 5xx) moves to a server
 * the line has not tried, not set aside, at once and not counted against
 * --retries (*uncounted set); once it has tried them all, a further
 * attempt (counted) goes to the next server not set aside.  Returns 1 +
 * that server's number, or 0 for the same server (or no more attempts).
 */
static unsigned move_on(struct worker *w, const struct msg_request *rq,
    const struct outcome *o, uint64_t deadline, int *uncounted)
{
	int to;

	*uncounted = 0;
	if (w->cfg->nservers < 2 || !o->retry || stop_retrying ||
	    (o->status != 0 && o->status < 500) ||
	    (deadline && now_us() >= deadline))
		return 0;
	if ((to = next_server(w->cfg, w->srv, w->tried | rq->aside)) >= 0) {
		w->tried |= UINT64_C(1) << to;
		*uncounted = 1;
		return (unsigned)to + 1;
	}
	if (o->again && (to = next_server(w->cfg, w->srv, rq->aside)) >= 0)
		return (unsigned)to + 1;
	return 0;
}

/*
 * Make the call for one request, with its retries, from start_us: the
 * last attempt's outcome in *o (o->json the caller's to put), why the
 * retries stopped early in w->why and re->code.  Returns the attempts
 * made, those of earlier workers on this line included.
 */
static unsigned attempt_all(struct worker *w, uint64_t seq,
    const struct msg_request *rq, uint64_t start_us, struct outcome *o,
    struct record_error *re)
{
	const struct config *cfg = w->cfg;
	uint64_t deadline = cfg->max_time_ms ?
	    start_us + (uint64_t)cfg->max_time_ms * 1000 : 0;
	unsigned attempts = rq->attempts;
	int quick = 1;
	const char *body = rq->body;
	size_t bodylen = rq->bodylen;

	if (cfg->stream)
		transfer_stream_body(&w->t, rq, &body, &bodylen);
	buf_reset(&w->why);
	w->srv = rq->server < (unsigned)cfg->nservers ? rq->server : 0;
	w->tried = UINT64_C(1) << w->srv;
	w->failovers = 0;
	for (;;) {
		long timeout = attempt_timeout(cfg, deadline), wait;
		struct attempt a;
		unsigned moved;
		int uncounted;

		if ((attempts > rq->attempts || w->failovers) && parent_gone(w))
			_exit(1);	/* no answer to give, nobody to pay */
		attempts++;
		json_object_put(o->json);
		transfer_perform(&w->t, rq, (int)w->srv, body, bodylen, timeout,
		    &a);
		w->last_us = now_us() - w->t.attempt_us;
		a.attempt = attempts;
		a.now = time(NULL);
		judge(&a, o, &w->msg);
		json_object_put(a.stream.answer);
		send_hint(w, seq, o);
		moved = move_on(w, rq, o, deadline, &uncounted);
		send_failed(w, seq, o, moved, uncounted);
		if (moved && cfg->verbose)
			warnx("line %llu: server %u failed; on to server %u%s",
			    (unsigned long long)rq->lineno, w->srv + 1, moved,
			    uncounted ? " (not counted as a retry)" : "");
		if (moved)
			w->srv = moved - 1;
		if (uncounted) {
			w->failovers++;
			if (pause_before_retry(w, seq, 0) != 0)
				break;
			attempts--;	/* not counted against --retries */
			continue;
		}
		if (!o->again)
			break;
		if ((wait = next_wait(w, o, attempts, deadline, re)) < 0)
			break;
		/* A server may close a kept-alive connection just as a
		 * request goes out on it (its keep-alive ran out): once per
		 * line the next attempt goes at once, on a fresh one. */
		if (o->closed_under && quick) {
			quick = 0;
			wait = 0;
		}
		if (pause_before_retry(w, seq, wait) != 0)
			break;
	}
	return attempts;
}

/*
 * --cache: store a success under its request's digest, before its result
 * goes to the parent (so a follower waiting on it finds it there, and a
 * parent killed meanwhile loses nothing).  A failure is said once; the
 * answer still goes out.
 */
static void store(struct worker *w, const struct record_ref *ref,
    const struct outcome *o, struct msg_result *res)
{
	const struct config *cfg = w->cfg;

	if (!cfg->cache_path || cfg->cache_readonly || !ref->digest[0])
		return;
	if (cache_put(cfg, ref->digest, o->status, w->t.h.request_id,
	    o->body, o->body_len, &w->cache_why) == 0)
		res->flags |= RESULT_CACHED;
	else if (!w->store_warned++)
		warnx("--cache %s: %s; this worker goes on without storing",
		    cfg->cache_path, w->cache_why.data);
}

/* The record of an answer with a JSON body, in w->line; puts o->json. */
static void answer_record(struct worker *w, uint64_t seq,
    const struct msg_request *rq, struct outcome *o, struct record_error *re,
    struct msg_result *res)
{
	const struct record_error *err = NULL;
	const char *request_id = w->t.h.request_id;
	char hex[DIGEST_HEX + 1];
	struct record_ref ref;
	unsigned long long pt = 0, ct = 0;
	int ok = o->status >= 200 && o->status < 300;

	msg_request_ref(rq, seq, hex, &ref);
	if (ok && o->err == ERR_NONE)
		store(w, &ref, o, res);
	if (ok)
		res->flags |= RESULT_OK;
	if (o->quota)
		res->flags |= RESULT_QUOTA;
	if (!ok && (o->retry || w->why.len)) {
		/* Still an error after trying: say so, and why. */
		if (re->code == ERR_NONE)
			re->code = ERR_RETRIES_EXHAUSTED;
		buf_addf(&w->msg, "HTTP %ld after %u attempt%s", o->status,
		    re->attempts, re->attempts == 1 ? "" : "s");
		if (w->why.len)
			buf_addf(&w->msg, "; %s", w->why.data);
		re->message = w->msg.data;
		err = re;
		res->error = re->code;
	}
	record_answer(&w->line, w->cfg, &ref, o->status,
	    request_id[0] ? request_id : NULL, o->body, o->body_len, o->json,
	    err, &w->content, &pt, &ct);
	res->prompt_tokens = pt;
	res->completion_tokens = ct;
	res->cached_tokens = response_cached_tokens(o->json);
	json_object_put(o->json);
}

/* The error record of an attempt with no JSON answer, in w->line. */
static void record_failure(struct worker *w, uint64_t seq,
    const struct msg_request *rq, const struct outcome *o,
    struct record_error *re, struct msg_result *res)
{
	char hex[DIGEST_HEX + 1];
	struct record_ref ref;

	if (re->code == ERR_NONE)
		re->code = o->err;
	if (re->attempts > 1)
		buf_addf(&w->msg, " (after %u attempts)", re->attempts);
	if (w->why.len)
		buf_addf(&w->msg, "; %s", w->why.data);
	re->message = w->msg.data;
	res->error = re->code;
	msg_request_ref(rq, seq, hex, &ref);
	record_error(&w->line, w->cfg, &ref, re);
}

/* Make the call for one request, with its retries; fills res and w->line. */
static void serve(struct worker *w, uint64_t seq, const struct msg_request *rq,
    struct msg_result *res)
{
	uint64_t start = now_us(), started_ms = wall_ms();
	struct outcome o = { 0 };
	struct record_error re = { 0 };
	unsigned attempts = attempt_all(w, seq, rq, start, &o, &re);

	memset(res, 0, sizeof(*res));
	res->status = o.status;
	res->attempts = attempts;
	res->latency_us = now_us() - start;
	res->started_ms = started_ms;
	res->server = w->srv;
	res->failovers = w->failovers;
	res->attempt_us = w->last_us;
	if (w->t.h.event_stream) {
		res->flags |= RESULT_STREAMED;
		res->first_token_us = w->t.first_token_us;
	}
	buf_reset(&w->line);
	buf_reset(&w->content);
	re.lineno = rq->lineno;
	re.attempts = attempts;
	if (o.json)
		answer_record(w, seq, rq, &o, &re, res);
	else
		record_failure(w, seq, rq, &o, &re, res);
}

/* Deflate w->line into a result frame and write it to the parent. */
static int send_result(struct worker *w, int wfd, uint64_t seq,
    struct msg_result *res)
{
	int level = w->line.len < STORE_BELOW ? 0 : DEFLATE_LEVEL;
	/* 16 over: room for the empty block below, on an old zlib. */
	uLong bound = deflateBound(&w->z, w->line.len) + 16;

	buf_reset(&w->packed);
	buf_grow(&w->packed, bound);
	deflateReset(&w->z);
	w->z.next_out = (unsigned char *)w->packed.data;
	w->z.avail_out = bound;
	w->z.avail_in = 0;
	/* Nothing has gone in since the reset, so zlib 1.2.12 and later
	 * flush nothing here; older ones may write an empty block, which
	 * goes at the start of this record's stream, where it is valid. */
	if (level != w->zlevel) {
		if (deflateParams(&w->z, level, Z_DEFAULT_STRATEGY) != Z_OK)
			die(EXIT_INTERNAL, "deflateParams failed");
		w->zlevel = level;
	}
	w->z.next_in = (unsigned char *)w->line.data;
	w->z.avail_in = w->line.len;
	if (deflate(&w->z, Z_FINISH) != Z_STREAM_END)
		die(EXIT_INTERNAL, "deflate failed");
	w->packed.len = bound - w->z.avail_out;
	res->rawlen = w->line.len;
	res->data = w->packed.data;
	res->len = w->packed.len;
	buf_reset(&w->frame);
	msg_result_encode(&w->frame, seq, res);
	return write_full(wfd, w->frame.data, w->frame.len);
}

/*
 * Read the next request frame into in (reused) and decode it into *f and
 * *rq, which point into in.  Returns 1, or 0 when the parent is done with
 * us; dies on a read error or a frame that makes no sense.
 */
static int read_request(int rfd, struct buf *in, size_t max, struct frame *f,
    struct msg_request *rq)
{
	ssize_t r;
	long used;

	buf_reset(in);
	buf_grow(in, FRAME_HDR_SIZE);
	r = read_full(rfd, in->data, FRAME_HDR_SIZE);
	if (r == 0)
		return 0;	/* the parent is done with us */
	if (r < 0)
		die_errno(EXIT_INTERNAL, "worker: reading a request");
	in->len = FRAME_HDR_SIZE;
	used = frame_decode(in->data, in->len, max, f);
	if (used < 0)
		die(EXIT_INTERNAL, "worker: a request frame that makes no sense");
	if (used == 0) {
		buf_grow(in, f->len);
		if (read_full(rfd, in->data + in->len, f->len) != f->len)
			die_errno(EXIT_INTERNAL, "worker: reading a request");
		in->len += f->len;
		used = frame_decode(in->data, in->len, max, f);
	}
	if (used <= 0 || msg_request_decode(f, rq) < 0)
		die(EXIT_INTERNAL, "worker: a request frame that makes no sense");
	return 1;
}

/*
 * ^C, a hangup, or a stop sent to the process group reach us too; the
 * parent decides, and tells us with SIGUSR1 to stop retrying.  (Its
 * handler for them would be ours too, after the fork.)
 */
static void worker_signals(void)
{
	struct sigaction sa;

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

int worker_main(const struct config *cfg, int rfd, int wfd)
{
	struct worker w;
	struct buf in = { 0 };
	/* A request frame holds a body of at most --max-line-length (the
	 * classifier refuses longer), an id and a path from a line of at most
	 * that (or the --endpoint), and a few numbers. */
	size_t max = cfg->max_line * 2 + strlen(cfg->endpoint) + 65536;
	struct frame f;
	struct msg_request rq;
	struct msg_result res;
	int status = 0;

	worker_signals();
	worker_init(&w, cfg);
	w.rfd = rfd;
	w.wfd = wfd;
	w.ppid = getppid();
	while (read_request(rfd, &in, max, &f, &rq)) {
		serve(&w, f.seq, &rq, &res);
		if (cfg->verbose)
			warnx("line %llu: done: HTTP %u, %u attempt%s, %.3f s%s%s",
			    (unsigned long long)rq.lineno, res.status,
			    res.attempts, res.attempts == 1 ? "" : "s",
			    res.latency_us / 1e6, res.error ? ", " : "",
			    res.error ? errcode_name(res.error) : "");
		if (send_result(&w, wfd, f.seq, &res) < 0) {
			status = 1;	/* the parent is gone */
			break;
		}
	}
	buf_release(&in);
	worker_free(&w);
	return status;
}
