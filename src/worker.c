/* worker.c: a worker's loop: read a request, make the call with its
 * retries (tries.c), write the record back deflated (pack.c). */
#include "worker.h"

#include <curl/curl.h>	/* curl_version */
#include <json-c/json.h>	/* json_object_put, json_c_version */
#include <signal.h>	/* signal, sigaction, SIGUSR1 */
#include <stdint.h>	/* uint64_t */
#include <stdio.h>	/* printf */
#include <string.h>	/* memset, strlen */
#include <zlib.h>	/* zlibVersion */

#include "api.h"	/* response_cached_tokens, DIGEST_HEX */
#include "cacache.h"	/* the parent's parsed CA file */
#include "cache.h"	/* --cache: cache_put */
#include "frame.h"	/* request and result messages */
#include "judge.h"	/* what an attempt came to */
#include "pack.h"	/* the record deflated */
#include "record.h"	/* output lines */
#include "transfer.h"	/* the HTTP call */
#include "tries.h"	/* the attempts at a line */

struct worker {
	const struct config *cfg;
	struct transfer t;	/* the HTTP call: libcurl's handle */
	struct tries tr;	/* the attempts at a line */
	struct packer pk;	/* the output line, deflated */
	struct buf line;	/* the output line */
	struct buf frame;	/* the result frame */
	struct buf content;
	unsigned store_warned;	/* --cache: a failed store was said */
	struct buf cache_why;	/* and why it failed */
};

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

static void worker_init(struct worker *w, const struct config *cfg, int rfd,
    int wfd)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	transfer_init(&w->t, cfg);
	tries_init(&w->tr, cfg, &w->t, rfd, wfd);
	pack_init(&w->pk);
}

/* The parent's parsed CA file stays: freeing it would copy its every
 * page into this process just before exit. */
static void worker_free(struct worker *w)
{
	transfer_free(&w->t);
	pack_free(&w->pk);
	buf_release(&w->line);
	buf_release(&w->frame);
	buf_release(&w->content);
	buf_release(&w->cache_why);
	tries_free(&w->tr);
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
	if (!ok && (o->retry || w->tr.why.len)) {
		/* Still an error after trying: say so, and why. */
		if (re->code == ERR_NONE)
			re->code = ERR_RETRIES_EXHAUSTED;
		buf_addf(&w->tr.msg, "HTTP %ld after %u attempt%s", o->status,
		    re->attempts, re->attempts == 1 ? "" : "s");
		if (w->tr.why.len)
			buf_addf(&w->tr.msg, "; %s", w->tr.why.data);
		re->message = w->tr.msg.data;
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
		buf_addf(&w->tr.msg, " (after %u attempts)", re->attempts);
	if (w->tr.why.len)
		buf_addf(&w->tr.msg, "; %s", w->tr.why.data);
	re->message = w->tr.msg.data;
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
	unsigned attempts = tries_run(&w->tr, seq, rq, start, &o, &re);

	memset(res, 0, sizeof(*res));
	res->status = o.status;
	res->attempts = attempts;
	res->latency_us = now_us() - start;
	res->started_ms = started_ms;
	res->server = w->tr.srv;
	res->failovers = w->tr.failovers;
	res->attempt_us = w->tr.last_us;
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
	pack(&w->pk, w->line.data, w->line.len);
	res->rawlen = w->line.len;
	res->data = w->pk.out.data;
	res->len = w->pk.out.len;
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
	sa.sa_handler = tries_stop;
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
	worker_init(&w, cfg, rfd, wfd);
	while (read_request(rfd, &in, max, &f, &rq)) {
		serve(&w, f.seq, &rq, &res);
		if (cfg->verbose)
			warnx("line %llu: done: HTTP %u, %u attempt%s, %.3f s%s%s"
			    ", server %u", (unsigned long long)rq.lineno,
			    res.status, res.attempts, res.attempts == 1 ? "" :
			    "s", res.latency_us / 1e6, res.error ? ", " : "",
			    res.error ? errcode_name(res.error) : "",
			    res.server + 1);
		if (send_result(&w, wfd, f.seq, &res) < 0) {
			status = 1;	/* the parent is gone */
			break;
		}
	}
	buf_release(&in);
	worker_free(&w);
	return status;
}
