/*
 * dispatch.c: the dispatcher (parent.h).  It takes lines from the reader
 * while there is an idle worker and room in the window (writer_room),
 * turns each into a request (the classifier), and gives it to an idle
 * worker when the pacer lets it go; a line that is not a valid request
 * gets its error record at once, without a worker.  A request the pacer
 * holds stays in the dispatcher's own dp.req until it may go.
 */
#include "parent.h"

#include <string.h>	/* strchr, strstr */

#include "frame.h"	/* msg_request_encode */

#define PAUSE_SAY 5.0		/* a pacer pause this long is announced */
#define WARN_CAP 20		/* bad lines reported one by one */
#define TEXT_HINT 3		/* lines not JSON at byte 1 before the hint */

int no_more_work(const struct parent *pp)
{
	return pp->dp.input_done && !pp->dp.held && !resume_holding(pp) &&
	    pp->fl.norphans == 0 && recall_waiting(pp) == 0;
}

/*
 * Idle workers go once no_more_work(): each exits while the last
 * requests are still out, so a run with many workers does not end by
 * waiting for all of them to tear down at once.  With --hedge as many
 * stay as there are lines that may want a copy.
 */
void retire_idle(struct parent *pp)
{
	int keep = hedging(pp->cfg) ? flight_hedgeable(&pp->fl) : 0;

	while (pp->fl.nidle > keep)
		pool_retire(&pp->pool, flight_take_idle(&pp->fl));
}

/* Whom the request in dp.req, line seq, is for. */
static struct record_ref req_ref(const struct dispatcher *dp, uint64_t seq)
{
	struct record_ref ref = {
		seq, dp->req.custom_id.data, dp->req.custom_id.len,
		dp->req.digest, dp->req.metadata.data, dp->req.metadata.len
	};

	return ref;
}

double pace_ready_at(const struct parent *pp, double now, long long cost,
    int *held_by)
{
	double at = pacer_ready_at(&pp->pacer, now, cost, busy_count(pp));
	int first;
	double sat = route_ready_at(&pp->rt, pp->fl.on_server, now, cost,
	    &first);

	if (held_by)
		*held_by = sat > at ? first : -1;
	return sat > at ? sat : at;
}

/* A long pause is not a hang: say so, and why (held_by: the server
 * whose own limits let it go first, or -1 for the parent's pacer). */
static void say_pause(struct parent *pp, double now, double at,
    long long cost, int held_by)
{
	struct dispatcher *dp = &pp->dp;
	const char *why;

	if (at - now < PAUSE_SAY || at <= dp->pause_said + PAUSE_SAY ||
	    pp->cfg->quiet)
		return;
	if (held_by < 0)
		why = pacer_why(&pp->pacer, now, cost, busy_count(pp));
	else
		why = route_why(&pp->rt, pp->fl.on_server, (unsigned)held_by,
		    now, cost);
	warnx("pausing %.1f s: %s%s", at - now, held_by < 0 ? "" :
	    "every server holds it by its own limits; the first to let it "
	    "go: ", why ? why : "the pacer");
	dp->pause_said = at;
}

/*
 * Give the classified request in dp.req (line seq) to an idle worker, if
 * the pacer lets it go now; else hold it and return 0.
 */
static int place(struct parent *pp, uint64_t seq, uint64_t lineno)
{
	struct dispatcher *dp = &pp->dp;
	long long cost = pacer_correct(&pp->pacer, dp->req.prompt_est) +
	    dp->req.max_out;
	int held_by;
	double now = now_s(), at = pace_ready_at(pp, now, cost, &held_by);
	struct msg_request m = {
		lineno, 0,
		dp->req.path.data, dp->req.path.len,
		dp->req.custom_id.data, dp->req.custom_id.len,
		dp->req.body.data, dp->req.body.len,
		dp->req.digest, strlen(dp->req.digest),
		dp->req.metadata.data, dp->req.metadata.len
	};
	int i;

	if (at > now) {
		dp->held = 1;
		dp->held_seq = seq;
		dp->held_lineno = lineno;
		dp->wake_at = at;
		say_pause(pp, now, at, cost, held_by);
		return 0;
	}
	dp->held = 0;
	pacer_sent(&pp->pacer, now, cost);
	pp->st.prompt_estimated += (uint64_t)dp->req.prompt_est;
	i = flight_take_idle(&pp->fl);
	msg_request_encode(flight_assign(&pp->fl, i, seq, lineno, cost,
	    dp->req.prompt_est, dp->req.max_out), seq, &m);
	send_to(pp, i);
	return 1;
}

/* A line that is not sent because the run halted. */
static void not_sent(struct parent *pp, uint64_t seq, uint64_t lineno)
{
	struct dispatcher *dp = &pp->dp;
	struct record_ref ref = req_ref(dp, seq);

	buf_reset(&dp->msg);
	buf_addf(&dp->msg, "line %llu: not sent: %s",
	    (unsigned long long)lineno, pp->col.halt_why);
	writer_error(&pp->wr, &ref, lineno, ERR_NOT_SENT, dp->msg.data, 0);
	recall_done(pp, seq, 0);	/* its followers are not sent either */
}

/*
 * Orphans: lines whose worker died and could not be replaced.  Each goes
 * to an idle worker as soon as there is one; when there will be none
 * (the run halted for want of workers, or is stopping) it gets its record.
 */
static void adopt_orphans(struct parent *pp)
{
	struct flight *fl = &pp->fl;
	int k;

	for (k = 0; k < fl->n && fl->norphans > 0; k++) {
		struct job *o = &fl->jobs[k];

		if (!o->orphan)
			continue;
		if (pp->lp.stopping || pp->col.broken) {
			buf_reset(&pp->dp.msg);
			buf_addf(&pp->dp.msg, "line %llu: its worker died after "
			    "%u attempt(s), and no other was there to try "
			    "again (%s)", (unsigned long long)o->lineno,
			    o->orphan, pp->col.broken ?
			    pp->col.broken_why.data : "interrupted");
			crashed(pp, k, o->orphan, pp->dp.msg.data);
		} else if (fl->nidle > 0) {
			int i = flight_take_idle(fl);

			flight_copy(fl, i, k, 0);
			send_to(pp, i);
		} else {
			return;
		}
		flight_orphan(fl, k, 0);
	}
}

/* The held line, once the pacer lets it go: 0 if it still waits. */
static int release_held(struct parent *pp)
{
	struct dispatcher *dp = &pp->dp;

	if (!dp->held || pp->lp.stopping)
		return 1;
	if (pp->col.halted) {
		dp->held = 0;
		not_sent(pp, dp->held_seq, dp->held_lineno);
		return 1;
	}
	return pp->fl.nidle > 0 && under_limit(pp) &&
	    place(pp, dp->held_seq, dp->held_lineno);
}

/*
 * --cache: lines that waited on a request that failed (recall.h), sent
 * for real, the first of each first; 0 if one is held by the pacer.
 */
static int send_followers(struct parent *pp)
{
	struct dispatcher *dp = &pp->dp;
	uint64_t seq, lineno;

	while (recall_waiting(pp) > 0 && !pp->lp.stopping &&
	    ((pp->fl.nidle > 0 && under_limit(pp)) || pp->col.halted) &&
	    recall_next(pp, &dp->req, &seq, &lineno)) {
		/* Its leader's request, so bounded: the cap alone may stop
		 * it. */
		if (!pp->col.halted)
			(void)budget_allows(pp, &dp->req, lineno, &dp->msg);
		if (pp->col.halted)
			not_sent(pp, seq, lineno);
		else if (!place(pp, seq, lineno))
			return 0;
	}
	return 1;
}

/*
 * The first line opens a JSON document that goes on over the next lines
 * (a pretty-printed object, or an array; a first line that is not valid
 * JSON and is "{" alone, or begins with "["): the input is not JSON Lines,
 * and
 * sending the lines that happen to parse would pay for a mangled file.
 * A usage error, before anything is sent.
 */
static void not_json_lines(const struct line *ln)
{
	const char *p = ln->p, *e = ln->p + ln->len;

	while (p < e && strchr(" \t\r", *p))
		p++;
	while (e > p && strchr(" \t\r", e[-1]))
		e--;
	if (e == p || (*p != '[' && *p != '{'))
		return;
	if (e - p == 1 || *p == '[')
		die(EXIT_USAGE, "line %llu: the input is one JSON document (%s), "
		    "not JSON Lines (a request per line); nothing was sent.  "
		    "jq -c %s makes JSON Lines of it",
		    (unsigned long long)ln->lineno, *p == '[' ? "an array" :
		    "pretty-printed", *p == '[' ? "'.[]'" : ".");
}

/* A bad line's message: the first WARN_CAP on stderr, then a count at the
 * end; and when the first lines are not JSON at all, a hint. */
static void warn_line(struct parent *pp, enum errcode code, uint64_t seq)
{
	struct dispatcher *dp = &pp->dp;

	if (pp->cfg->quiet)
		return;
	if (dp->warned++ < WARN_CAP)
		warnx("%s", dp->msg.data);
	else
		dp->unwarned++;
	if (code == ERR_INVALID_JSON && seq == dp->not_json &&
	    strstr(dp->msg.data, "invalid JSON at byte 1:") != NULL &&
	    ++dp->not_json == TEXT_HINT)
		warnx("hint: the first %d lines are not JSON: if each is a "
		    "prompt as it stands, give --text", TEXT_HINT);
}

/*
 * The valid request in dp.req (line seq), to send: 1 if it is to go now;
 * 0 if it has its record already (from the cache, or not sent: the run
 * halted, or its cost has no bound) or waits on its twin in flight.  An
 * answer from the cache costs nothing, so it comes halted or not.  Lines
 * held by --resume's probation come this way too, once released.
 */
static int to_send(struct parent *pp, uint64_t seq, uint64_t lineno)
{
	struct dispatcher *dp = &pp->dp;

	if (recall_line(pp, &dp->req, seq, lineno))
		return 0;
	if (!pp->col.halted &&
	    budget_allows(pp, &dp->req, lineno, &dp->msg) == 0) {
		struct record_ref ref = req_ref(dp, seq);

		recall_done(pp, seq, 0);	/* it leads nothing now */
		warn_line(pp, ERR_NOT_SENT, seq);
		writer_error(&pp->wr, &ref, lineno, ERR_NOT_SENT, dp->msg.data,
		    0);
		return 0;
	}
	if (pp->col.halted) {
		not_sent(pp, seq, lineno);
		return 0;
	}
	return 1;
}

int dispatch_line(struct parent *pp, const struct line *ln, uint64_t seq)
{
	struct dispatcher *dp = &pp->dp;
	enum errcode code;

	if (ln->too_long)
		code = input_too_long(pp->cls, ln->lineno, ln->len, &dp->req,
		    &dp->msg);
	else
		code = input_classify(pp->cls, ln->p, ln->len, ln->lineno,
		    &dp->req, &dp->msg);
	/* Only a line that is a request now may keep an answer: a
	 * duplicate custom_id stays a duplicate. */
	if (pp->cfg->resume && resume_line(pp, seq, ln->lineno,
	    code == ERR_NONE))
		return 0;
	if (code == ERR_INVALID_JSON && seq == 0)
		not_json_lines(ln);
	if (code != ERR_NONE) {
		struct record_ref ref = req_ref(dp, seq);

		warn_line(pp, code, seq);
		writer_error(&pp->wr, &ref, ln->lineno, code, dp->msg.data, 0);
		return 0;
	}
	return to_send(pp, seq, ln->lineno);
}

void dispatch_blank(struct parent *pp, const struct line *ln, uint64_t seq)
{
	struct dispatcher *dp = &pp->dp;
	struct record_ref ref = { seq, NULL, 0, NULL, NULL, 0 };

	buf_reset(&dp->req.custom_id);
	buf_addf(&dp->req.custom_id, "line-%llu",
	    (unsigned long long)ln->lineno);
	ref.id = dp->req.custom_id.data;
	ref.idlen = dp->req.custom_id.len;
	if (pp->cfg->resume)
		(void)resume_line(pp, seq, ln->lineno, 0);
	buf_reset(&dp->msg);
	buf_addf(&dp->msg, "line %llu: blank", (unsigned long long)ln->lineno);
	writer_error(&pp->wr, &ref, ln->lineno, ERR_BLANK_LINE, dp->msg.data,
	    0);
}

/*
 * --resume: the lines held for probation's verdict (resume.c) go out in
 * order once it is given, before any other; it is given now if no more
 * lines can come for it.  0 while some still wait for a worker.
 */
static int release_probation(struct parent *pp)
{
	struct dispatcher *dp = &pp->dp;
	uint64_t seq, lineno;

	if (!pp->cfg->resume || pp->lp.stopping)
		return 1;
	if (dp->input_done || (dp->probe.nheld > 0 &&
	    !writer_room(&pp->wr, dp->next_seq)))
		resume_verdict(pp);
	while (((pp->fl.nidle > 0 && under_limit(pp)) || pp->col.halted) &&
	    resume_next(pp, &seq, &lineno))
		if (to_send(pp, seq, lineno) && !place(pp, seq, lineno))
			return 0;
	return !dp->probe.over || !resume_holding(pp);
}

int dispatch(struct parent *pp)
{
	struct dispatcher *dp = &pp->dp;
	struct line ln;

	if (pp->fl.norphans > 0)
		adopt_orphans(pp);	/* lines out already come first */
	if (hedging(pp->cfg) && pp->fl.nidle > 0 &&
	    now_us() >= pp->hedge_due_us)
		hedge(pp);	/* stragglers first: they hold up the output */
	if (!release_held(pp) || !release_probation(pp) ||
	    !send_followers(pp))
		return 0;
	while (!dp->input_done && !pp->lp.stopping && !dp->held &&
	    ((pp->fl.nidle > 0 && under_limit(pp)) || pp->col.halted) &&
	    writer_room(&pp->wr, dp->next_seq)) {
		uint64_t seq;
		int r = lr_next(&pp->lr, &ln);

		if (r == 0)
			return 1;
		if (r < 0) {
			dp->input_done = 1;
			if (dp->unwarned > 0)
				warnx("and %llu more bad lines not shown "
				    "here: their records say what is wrong",
				    (unsigned long long)dp->unwarned);
			break;
		}
		if (!ln.too_long && line_is_blank(ln.p, ln.len)) {
			if (pp->cfg->keep_blank)
				dispatch_blank(pp, &ln, dp->next_seq++);
			continue;
		}
		seq = dp->next_seq++;
		if (dispatch_line(pp, &ln, seq) && !place(pp, seq, ln.lineno))
			return 0;
		if (!release_probation(pp))
			return 0;
	}
	(void)release_probation(pp);
	return 0;
}
