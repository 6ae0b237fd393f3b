/*
 * collect.c: the collector (parent.h).  Results come up the workers'
 * pipes as frames (frame.h): a result goes to the writer, a hint to the
 * pacer, a beat moves the worker's deadline.  The collector also decides
 * what a dead worker means (the line is sent again as a further attempt,
 * or gets its worker_crashed record) and when the run halts (--halt-after,
 * a rejected key, an exhausted quota, no worker left).
 */
#include "parent.h"

#include <signal.h>	/* SIGKILL */
#include <stdio.h>	/* snprintf */
#include <string.h>	/* memcpy, strcmp, strncmp */
#include <stdlib.h>	/* free */
#include <sys/wait.h>	/* WIFSIGNALED */

#include "api.h"	/* url_join */
#include "frame.h"	/* frames from the workers */

void halt(struct parent *pp, const char *why)
{
	struct collector *col = &pp->col;

	if (col->halted)
		return;
	col->halted = 1;
	col->halt_why = why;
	if (!pp->cfg->quiet)
		warnx("halting: %s; requests in flight finish, the rest are not sent",
	    why);
}

/* The run can't go on for want of a worker: every line not yet sent gets
 * a not_sent record that says why, and the exit status is 4. */
static void halt_broken(struct parent *pp)
{
	struct collector *col = &pp->col;

	if (col->broken)
		return;
	col->broken = 1;
	buf_add(&col->broken_why, pp->pool.why.data, pp->pool.why.len);
	halt(pp, col->broken_why.data);
}

void short_of_workers(struct parent *pp)
{
	int n = pool_live(&pp->pool);

	if (pp->col.broken)
		return;
	if (n == 0)
		halt_broken(pp);
	else if (!pp->cfg->quiet)
		warnx("%s: going on with %d worker%s", pp->pool.why.data, n,
		    n == 1 ? "" : "s");
}

/* A request finished (worker i, line seq): count it, correct the pacer,
 * log it, and halt when the failures say so. */
static void count_result(struct parent *pp, int i, uint64_t seq,
    const struct msg_result *m)
{
	struct collector *col = &pp->col;
	struct stats *st = &pp->st;
	const struct config *cfg = pp->cfg;
	const struct job *j = &pp->fl.jobs[i];

	st->requests++;
	st->retries += m->attempts > 1 ? m->attempts - 1 : 0;
	st->failovers += m->failovers;
	st->prompt_tokens += m->prompt_tokens;
	st->cached_tokens += m->cached_tokens;
	st->completion_tokens += m->completion_tokens;
	hist_add(&st->latency, m->latency_us);
	stats_stream(st, m->first_token_us, m->completion_tokens,
	    m->latency_us);
	if (m->prompt_tokens > 0)
		pacer_usage(&pp->pacer, j->charged, j->prompt_est,
		    m->prompt_tokens, m->prompt_tokens + (j->max_out > 0 ?
		    j->max_out : (long long)m->completion_tokens));
	if (pp->wr.joblog_fd >= 0) {
		struct msg_request rq;

		(void)msg_request_peek(&j->sent, &rq);
		writer_log(&pp->wr, seq, rq.id, rq.idlen, m);
	}
	col->finished++;
	if (m->flags & RESULT_OK)
		return;
	col->requests_failed++;
	if (m->status == 401 && !(cfg->api_key && *cfg->api_key))
		halt(pp, "HTTP 401, and no API key was sent: set "
		    "OPENAI_API_KEY, or give --api-key-file");
	else if (m->status == 401)
		halt(pp, "the API key was rejected (HTTP 401)");
	else if (m->flags & RESULT_QUOTA)
		halt(pp, "the quota is exhausted (insufficient_quota)");
	else if (cfg->halt_count >= 0 &&
	    col->requests_failed >= (unsigned long long)cfg->halt_count)
		halt(pp, "--halt-after: too many failed requests");
	else if (cfg->halt_percent >= 0 && col->finished >= 20 &&
	    col->requests_failed * 100 >= cfg->halt_percent * col->finished)
		halt(pp, "--halt-after: too many failed requests");
}

static int take_hint(struct parent *pp, const struct frame *f)
{
	struct msg_hint h;
	struct ratelimit_hint rh;

	if (msg_hint_decode(f, &h) < 0)
		return -1;
	rh.limit_requests = h.limit_requests;
	rh.remaining_requests = h.remaining_requests;
	rh.limit_tokens = h.limit_tokens;
	rh.remaining_tokens = h.remaining_tokens;
	rh.reset_requests = h.reset_requests_us < 0 ? -1 :
	    h.reset_requests_us / 1e6;
	rh.reset_tokens = h.reset_tokens_us < 0 ? -1 :
	    h.reset_tokens_us / 1e6;
	rh.cooldown = h.cooldown_us < 0 ? -1 : h.cooldown_us / 1e6;
	if (pp->cfg->nservers < 2) {
		pacer_hint(&pp->pacer, now_s(), &rh);
		return 0;
	}
	/* Each server's own limits, but --rpm and --tpm win as they do
	 * over one server's. */
	if (pp->cfg->rpm > 0)
		rh.limit_requests = rh.remaining_requests = -1;
	if (pp->cfg->tpm > 0)
		rh.limit_tokens = rh.remaining_tokens = -1;
	route_hint(&pp->rt, h.server, now_s(), &rh);
	return 0;
}

#define FAIL_FAST 3	/* first attempts failing alike that halt the run */
#define SAY_MAX 300	/* bytes of a server's message quoted */

/* "HTTP 404 model_not_found: the server's message", or "connection_error:
 * what went wrong", into b. */
static void describe(struct buf *b, const struct msg_failed *m)
{
	int n = (int)(m->msglen > SAY_MAX ? SAY_MAX : m->msglen);
	const char *more = m->msglen > SAY_MAX ? "..." : "";

	if (m->status == 0) {	/* judge's words name the kind */
		if (m->msglen)
			buf_addf(b, "%.*s%s", n, m->message, more);
		else
			buf_adds(b, errcode_name((enum errcode)m->error));
		return;
	}
	buf_addf(b, "HTTP %u", (unsigned)m->status);
	if (m->codelen)
		buf_addf(b, " %.*s", (int)m->codelen, m->code);
	if (m->msglen)
		buf_addf(b, ": %.*s%s", n, m->message, more);
}

/* What a message means that its words do not say. */
static void hint(struct parent *pp, const struct msg_failed *m, struct buf *b)
{
	static const char *const plain_http[] = {
		"wrong version number",		/* OpenSSL */
		"unexpected TLS packet",	/* GnuTLS */
	};
	const char *url = pp->cfg->servers[m->server <
	    (unsigned)pp->cfg->nservers ? m->server : 0].url;
	size_t k;

	if (m->status || strncmp(url, "https://", 8) != 0)
		return;
	for (k = 0; k < sizeof(plain_http) / sizeof(*plain_http); k++)
		if (has_bytes(m->message, m->msglen, plain_http[k])) {
			buf_addf(b, "; the server may speak plain HTTP: try "
			    "--base-url http://%s", url + 8);
			return;
		}
}

static void kind_of(const struct msg_failed *m, struct error_kind *k)
{
	memset(k, 0, sizeof(*k));
	k->status = m->status;
	k->error = m->status ? 0 : m->error;
	snprintf(k->code, sizeof(k->code), "%.*s", (int)m->codelen, m->code);
}

static int same_kind(const struct error_kind *a, const struct error_kind *b)
{
	return a->status == b->status && a->error == b->error &&
	    strcmp(a->code, b->code) == 0;
}

/* The URL worker i's line went to on server k, for a message. */
static void url_of(struct parent *pp, int i, unsigned k, struct buf *b)
{
	struct frame f;
	struct msg_request rq;
	const struct buf *sent = &pp->fl.jobs[i].sent;

	if (frame_decode(sent->data, sent->len, UINT32_MAX, &f) > 0 &&
	    msg_request_decode(&f, &rq) == 0)
		url_join(b, pp->cfg->servers[k < (unsigned)pp->cfg->nservers ?
		    k : 0].url, rq.path, rq.pathlen);
}

/* Whether an attempt failed for its server's sake: a 5xx, or no answer
 * (no connection, a timeout, a cut or garbled body or stream). */
static int servers_fault(const struct msg_failed *m)
{
	return m->status >= 500 || (m->status == 0 &&
	    (m->error == ERR_TIMEOUT || m->error == ERR_CONNECTION ||
	    m->error == ERR_INVALID_RESPONSE || m->error == ERR_STREAM_ERROR));
}

/* Several servers: an attempt by worker i on server m->server failed;
 * count it, set the server aside after a streak, follow the line to the
 * server it moves on to. */
static void server_failed(struct parent *pp, int i, const struct msg_failed *m)
{
	unsigned s = m->server < (unsigned)pp->cfg->nservers ? m->server : 0;
	struct stats_server *v = &pp->st.servers[s];
	uint64_t ms;

	v->failed++;
	v->failovers += m->uncounted != 0;
	if (!servers_fault(m)) {
		if (route_answered(&pp->rt, s) && !pp->cfg->quiet)
			warnx("server %u (%s) is back", s + 1, v->url);
	} else if ((ms = route_failed(&pp->rt, s, now_us())) > 0) {
		v->set_aside++;
		if (!pp->cfg->quiet) {
			buf_reset(&pp->col.msg);
			describe(&pp->col.msg, m);
			warnx("server %u (%s) set aside for %.1f s: %u failures "
			    "in a row (the last: %s)", s + 1, v->url, ms / 1000.0,
			    route_streak(&pp->rt, s), pp->col.msg.data);
		}
	}
	if (m->moved > 0 && m->moved <= (unsigned)pp->cfg->nservers)
		flight_move(&pp->fl, i, m->moved - 1);
}

/*
 * The first attempts all failed the same way, one that every line would
 * meet (no connection, or the same client error): halt now, rather than
 * pay for the rest or wait on their retries.  The workers make no more
 * attempts (SIGUSR1, as on a first ^C).
 */
static void fail_fast(struct parent *pp, int i, const struct msg_failed *m)
{
	struct collector *col = &pp->col;

	buf_reset(&col->ff_why);
	buf_addf(&col->ff_why, "the first %d requests all failed the same "
	    "way: ", FAIL_FAST);
	describe(&col->ff_why, m);
	buf_adds(&col->ff_why, " (POST ");
	url_of(pp, i, m->server, &col->ff_why);
	buf_adds(&col->ff_why, ")");
	hint(pp, m, &col->ff_why);
	halt(pp, col->ff_why.data);
	for (int k = 0; k < pp->pool.spawned; k++)
		if (!pp->pool.procs[k].retired)
			pool_kill(&pp->pool, k, SIGUSR1);
}

/* An attempt by worker i failed: name the kind the first time it comes,
 * count it towards failing fast. */
static int take_failed(struct parent *pp, int i, const struct frame *f)
{
	struct collector *col = &pp->col;
	const struct job *j = &pp->fl.jobs[i];
	struct error_kind k;
	struct msg_failed m;
	unsigned n;

	if (msg_failed_decode(f, &m) < 0)
		return -1;
	if (!j->busy || f->seq != j->seq)
		return 0;	/* a cut twin's: the other answers */
	budget_failed(pp, j, m.error, m.status);
	server_failed(pp, i, &m);
	if (pp->cfg->jobs_auto && (m.status == 429 || m.status == 503))
		autoscale_overload(&pp->as);	/* at once, not at the end */
	kind_of(&m, &k);
	memcpy(col->last_code[i], k.code, sizeof(k.code));
	for (n = 0; n < col->nkinds && !same_kind(&col->kinds[n], &k); n++)
		;
	if (n == col->nkinds && n < ERROR_KINDS) {
		col->kinds[col->nkinds++] = k;
		if (!pp->cfg->quiet) {
			buf_reset(&col->msg);
			describe(&col->msg, &m);
			hint(pp, &m, &col->msg);
			warnx("line %llu: %s (the first error of its kind)",
			    (unsigned long long)j->lineno, col->msg.data);
		}
	}
	if (m.uncounted)
		return 0;	/* it goes on to another server */
	if (col->ff_n < 0 || !m.systematic ||
	    (col->ff_n > 0 && !same_kind(&col->ff_kind, &k))) {
		col->ff_n = -1;
		return 0;
	}
	col->ff_kind = k;
	if (++col->ff_n == FAIL_FAST)
		fail_fast(pp, i, &m);
	return 0;
}

/* Worker i's result for its line. */
/* -P auto: what an answer says of the server; more workers if the limit
 * grew. */
static void autoscaled(struct parent *pp, const struct msg_result *m)
{
	struct pool *pl = &pp->pool;
	int limit;

	if (!pp->cfg->jobs_auto)
		return;
	if (m->status == 429 || m->status == 503)
		autoscale_overload(&pp->as);
	else if ((m->flags & RESULT_OK) && m->attempts == 1 &&
	    m->first_token_us == 0)
		autoscale_sample(&pp->as, m->latency_us, busy_count(pp));
	limit = autoscale_limit(&pp->as);
	if (limit > pl->wanted && !pp->col.broken)
		pl->wanted = limit;
	pp->st.workers = limit;
	if (limit > pp->st.workers_peak)
		pp->st.workers_peak = limit;
}

static void take_result(struct parent *pp, int i, const struct frame *f,
    const struct msg_result *m)
{
	struct job *j = &pp->fl.jobs[i];

	if (j->cancelled)
		return;		/* too late: its twin answered */
	if (j->hedged)
		hedge_won(pp, i);
	autoscaled(pp, m);
	stats_server_answered(&pp->st, m->server, (m->flags & RESULT_OK) != 0,
	    m->attempt_us);
	if (m->status && m->status < 500 && m->server < (unsigned)
	    pp->cfg->nservers && route_answered(&pp->rt, m->server) &&
	    !pp->cfg->quiet)
		warnx("server %u (%s) is back", m->server + 1,
		    pp->st.servers[m->server].url);
	if (m->flags & RESULT_OK)
		pp->col.ff_n = -1;	/* one passed: no systematic failure */
	else if (m->status >= 400)
		stats_http_error(&pp->st, m->status, pp->col.last_code[i]);
	if (!writer_has(&pp->wr, f->seq)) {
		if (!writer_is_next(&pp->wr, f->seq))
			writer_journal(&pp->wr, f->seq, m);
		writer_put(&pp->wr, f->seq, xmemdup(m->data, m->len), m->len,
		    m->rawlen, 1, stats_tag(m->error,
		    (m->flags & RESULT_OK) != 0));
		count_result(pp, i, f->seq, m);
		recall_done(pp, f->seq, (m->flags & RESULT_CACHED) != 0);
	}
	pp->col.idle_deaths = 0;
	flight_idle(&pp->fl, i);
}

/* Use every complete frame in worker i's buffer; -1 on nonsense. */
static int take_frames(struct parent *pp, int i, struct buf *b)
{
	struct job *j = &pp->fl.jobs[i];
	size_t off = 0;
	int rc = 0;

	for (;;) {
		struct frame f;
		struct msg_result m;
		uint64_t ms;
		long used = frame_decode(b->data + off, b->len - off,
		    UINT32_MAX, &f);

		if (used == 0)
			break;
		if (used > 0 && f.type == FRAME_HINT) {
			if ((rc = take_hint(pp, &f)) < 0)
				break;
		} else if (used > 0 && f.type == FRAME_FAILED) {
			if ((rc = take_failed(pp, i, &f)) < 0)
				break;
		} else if (used > 0 && f.type == FRAME_BEAT) {
			if ((rc = msg_beat_decode(&f, &ms)) < 0)
				break;
			if (j->busy && f.seq == j->seq)
				flight_beat(&pp->fl, i, ms);
		} else if (used < 0 || f.type != FRAME_RESULT ||
		    msg_result_decode(&f, &m) < 0 || !j->busy ||
		    f.seq != j->seq) {
			rc = -1;
			break;
		} else {
			off += used;
			take_result(pp, i, &f, &m);
			continue;
		}
		off += used;
	}
	buf_consume(b, off);
	return rc;
}

void crashed(struct parent *pp, int k, unsigned attempts, const char *m)
{
	struct collector *col = &pp->col;
	const struct job *j = &pp->fl.jobs[k];

	struct msg_request rq;
	struct record_ref ref;
	char hex[DIGEST_HEX + 1];

	/* The dead line's own id, from its frame: never the dispatcher's
	 * request, which may hold a line the pacer is holding. */
	(void)msg_request_peek(&j->sent, &rq);
	msg_request_ref(&rq, j->seq, hex, &ref);
	writer_error(&pp->wr, &ref, j->lineno, ERR_WORKER_CRASHED, m,
	    attempts);
	col->requests_failed++;
	col->finished++;
	pp->st.requests++;
	pp->st.retries += attempts - 1;
	recall_done(pp, j->seq, 0);
}

/* A worker that died holding nothing: not the line's fault; but one
 * that can't start at all would otherwise be respawned for ever. */
static void died_idle(struct parent *pp, int i, const char *how)
{
	flight_forget_idle(&pp->fl, i);
	if (++pp->col.idle_deaths > (unsigned)pp->cfg->jobs + 10 &&
	    !pp->col.broken) {
		buf_reset(&pp->pool.why);
		buf_addf(&pp->pool.why, "workers keep dying as they start "
		    "(the last: %s)", how);
		halt_broken(pp);
	}
}

/* What the death of worker i (wait status st) means for its line: the
 * attempts made if it is to be sent again, else 0. */
static unsigned judge_death(struct parent *pp, int i, int st)
{
	struct job *j = &pp->fl.jobs[i];
	unsigned attempts;
	char how[64];

	if (j->stalled)
		snprintf(how, sizeof(how), "the worker went silent (killed)");
	else
		snprintf(how, sizeof(how), "the worker died (%s %d)",
		    WIFSIGNALED(st) ? "signal" : "exit status",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (j->cancelled || (j->busy && flight_twin(&pp->fl, i) >= 0)) {
		/* Cut for its twin, or died while the twin still holds the
		 * line: the twin answers for it (and is not hedged again). */
		flight_unhedge(&pp->fl, i);
		return 0;
	}
	if (!j->busy) {
		died_idle(pp, i, how);
		return 0;
	}
	if (writer_has(&pp->wr, j->seq))
		return 0;
	attempts = msg_request_bump_attempts(&j->sent);
	if (attempts <= (unsigned)pp->cfg->retries && !pp->lp.stopping)
		return attempts;
	buf_reset(&pp->col.msg);
	buf_addf(&pp->col.msg, "line %llu: %s on each of %u attempt(s)",
	    (unsigned long long)j->lineno, how, attempts);
	crashed(pp, i, attempts, pp->col.msg.data);
	return 0;
}

/* Worker i is gone: account for the line it held and start another. */
static void bury(struct parent *pp, int i)
{
	int retired = pp->pool.procs[i].retired;
	int st = pool_reap(&pp->pool, i);
	unsigned resend;

	if (retired)
		return;		/* let go, and gone: nothing to account for */
	resend = judge_death(pp, i, st);
	if (pp->col.broken || pool_spawn(&pp->pool, i) < 0) {
		/* Another worker takes its line (dispatch adopts it). */
		flight_fresh(&pp->fl, i);
		if (resend)
			flight_orphan(&pp->fl, i, resend);
		pool_lose(&pp->pool, i);
		short_of_workers(pp);
		return;
	}
	flight_fresh(&pp->fl, i);
	if (resend)
		send_to(pp, i);
	else
		flight_idle(&pp->fl, i);
}

void collect(struct parent *pp, int i)
{
	struct buf *b;
	long n;

	while ((n = pool_read(&pp->pool, i, &b)) >= 0) {
		if (n == 0) {
			if (take_frames(pp, i, b) < 0)
				pool_kill(&pp->pool, i, SIGKILL);
			bury(pp, i);
			return;
		}
		if (take_frames(pp, i, b) < 0) {
			warnx("internal: worker %ld sent nonsense; replacing it",
			    (long)pp->pool.procs[i].pid);
			pool_kill(&pp->pool, i, SIGKILL);
			pool_drop(&pp->pool, i);
			bury(pp, i);
			return;
		}
		pool_keep(&pp->pool, i, b);
		if (n < POOL_READ_SIZE)
			break;
	}
}

void watchdog(struct parent *pp)
{
	uint64_t now = now_us();
	int *who = xcalloc(pp->fl.n, sizeof(*who));
	int k, n = flight_overdue(&pp->fl, now, who);

	for (k = 0; k < n; k++) {
		const struct job *j = &pp->fl.jobs[who[k]];

		if (!pp->cfg->quiet)
			warnx("line %llu: its worker was silent for %.1f s, past "
			    "its attempt's time: killed, the line goes out again",
			    (unsigned long long)j->lineno,
			    (now - j->sent_us) / 1e6);
		pool_kill(&pp->pool, who[k], SIGKILL);	/* its end of file
							 * buries it */
	}
	free(who);
}
