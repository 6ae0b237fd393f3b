/* tries.c: a worker's attempts at one line, across retries and servers
 * (tries.h). */
#include "tries.h"

#include <json-c/json.h>	/* json_object_put */
#include <errno.h>	/* errno */
#include <poll.h>	/* poll */
#include <string.h>	/* memset, strlen, strstr */
#include <time.h>	/* time */
#include <unistd.h>	/* getppid, _exit */

#include "api.h"	/* api_error */
#include "ratelimit.h"	/* parse_duration, parse_count */
#include "retry.h"	/* the backoff */

/* Set by SIGUSR1 (tries_stop): the parent is stopping; make no further
 * attempts. */
static volatile sig_atomic_t stop_retrying;

void tries_stop(int sig)
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
static int parent_gone(const struct tries *w)
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
static int backoff_wait(const struct tries *w, long ms)
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

/* A uniform draw in [0, 1) for the jitter (xorshift64*). */
static double draw(struct tries *w)
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
static void send_hint(struct tries *w, uint64_t seq, const struct outcome *o)
{
	const struct answer_headers *h = &w->t->h;
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
	m.server = w->srv;
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
static void send_failed(struct tries *w, uint64_t seq, const struct outcome *o,
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
static long next_wait(struct tries *w, const struct outcome *o,
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
static int pause_before_retry(struct tries *w, uint64_t seq, long ms)
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
static unsigned move_on(struct tries *w, const struct msg_request *rq,
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

/* Make the call for one request, with its retries (tries.h). */
unsigned tries_run(struct tries *w, uint64_t seq,
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
		transfer_stream_body(w->t, rq, &body, &bodylen);
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
		transfer_perform(w->t, rq, (int)w->srv, body, bodylen, timeout,
		    &a);
		w->last_us = now_us() - w->t->attempt_us;
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
		if (uncounted) {
			w->failovers++;
			if (pause_before_retry(w, seq, 0) != 0)
				break;
			attempts--;	/* not counted against --retries */
			w->srv = moved - 1;
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
		if (moved)	/* the line's last attempt stays its server's */
			w->srv = moved - 1;
	}
	return attempts;
}


void tries_init(struct tries *w, const struct config *cfg, struct transfer *t,
    int rfd, int wfd)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->t = t;
	w->rfd = rfd;
	w->wfd = wfd;
	w->ppid = getppid();
	w->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ now_us();
}

void tries_free(struct tries *w)
{
	buf_release(&w->hintbuf);
	buf_release(&w->msg);
	buf_release(&w->why);
}
