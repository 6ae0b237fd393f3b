/*
 * plan.c: --dry-run and --emit-requests, runs that send nothing (plan.h).
 * One pass over the input, in order: the dispatcher turns each line into
 * a request exactly as in a real run, and here it is counted (and, with
 * --emit-requests, written) instead of sent.
 */
#include "plan.h"

#include <errno.h>	/* errno */
#include <inttypes.h>	/* PRIu64 */
#include <poll.h>	/* poll */
#include <signal.h>	/* raise, SIGPIPE */
#include <stdio.h>	/* FILE, fprintf */
#include <stdlib.h>	/* free */
#include <string.h>	/* memcmp, memcpy */

#include "api.h"	/* endpoint_of */
#include "signals.h"	/* signals_waiting, signals_take */

#define PLAN_NAMES 16		/* endpoints and models named, each */
#define PLAN_NAME_MAX 63
#define FLUSH_EVERY 1024	/* lines between writes of the output */

struct tally {
	char name[PLAN_NAME_MAX + 1];
	uint64_t n;
};

struct plan {
	uint64_t requests;
	long long prompt;	/* estimated prompt tokens */
	long long out;		/* completion tokens at most, where bounded */
	uint64_t unbounded;	/* requests that generate, with no limit */
	struct tally paths[PLAN_NAMES], models[PLAN_NAMES];
	uint64_t other_paths, other_models;
	struct buf line;	/* a request line being written */
};

/* One more for name (n bytes): its tally, or "others" past PLAN_NAMES. */
static void tally_add(struct tally *t, uint64_t *others, const char *name,
    size_t n)
{
	int i;

	if (n > PLAN_NAME_MAX)
		n = PLAN_NAME_MAX;
	for (i = 0; i < PLAN_NAMES && t[i].n > 0; i++)
		if (strlen(t[i].name) == n && memcmp(t[i].name, name, n) == 0)
			break;
	if (i == PLAN_NAMES) {
		(*others)++;
		return;
	}
	if (t[i].n++ == 0) {
		memcpy(t[i].name, name, n);
		t[i].name[n] = 0;
	}
}

/* --emit-requests: the request in dp.req as a Batch API request line. */
static void emit(struct parent *pp, struct plan *pl, uint64_t seq)
{
	const struct request *rq = &pp->dp.req;
	struct buf *b = &pl->line;

	buf_reset(b);
	buf_adds(b, "{\"custom_id\":");
	buf_add_json_string(b, rq->custom_id.data, rq->custom_id.len);
	buf_adds(b, ",\"method\":\"POST\",\"url\":");
	buf_add_json_string(b, rq->path.data, rq->path.len);
	buf_adds(b, ",\"body\":");
	buf_add(b, rq->body.data, rq->body.len);
	buf_adds(b, "}\n");
	writer_put(&pp->wr, seq, b->data, b->len, b->len, 0, ERR_NONE);
	memset(b, 0, sizeof(*b));	/* the writer has it now */
}

/* A valid line's request, counted; with --emit-requests, written. */
static void take(struct parent *pp, struct plan *pl, uint64_t seq)
{
	const struct request *rq = &pp->dp.req;
	enum endpoint kind = endpoint_of(rq->path.data, rq->path.len);

	pl->requests++;
	pl->prompt += rq->prompt_est;
	if (rq->max_out > 0)
		pl->out += rq->max_out;
	else if (kind == EP_CHAT || kind == EP_COMPLETIONS ||
	    kind == EP_RESPONSES)
		pl->unbounded++;
	tally_add(pl->paths, &pl->other_paths, rq->path.data, rq->path.len);
	if (rq->model.len > 0)
		tally_add(pl->models, &pl->other_models, rq->model.data,
		    rq->model.len);
	else
		tally_add(pl->models, &pl->other_models, "(none)", 6);
	if (pp->cfg->emit_requests)
		emit(pp, pl, seq);
	else	/* a dry run writes records for bad lines only */
		writer_put(&pp->wr, seq, xstrdup(""), 0, 0, 0, ERR_NONE);
}

/* The next line, waiting for input as needed: 1, or 0 at the end (or
 * when a signal came). */
static int next_line(struct parent *pp, struct line *ln)
{
	for (;;) {
		int r;

		if (signals_waiting())
			return 0;
		r = lr_next(&pp->lr, ln);
		if (r != 0)
			return r > 0;
		if (lr_fill(&pp->lr) < 0 && errno == EAGAIN) {
			struct pollfd p = { 0, POLLIN, 0 };

			(void)poll(&p, 1, 1000);
		}
	}
}

/* The cost at the prices given, in dollars, of tokens t. */
static double dollars(long long t, double per_million)
{
	return (double)t * per_million / 1e6;
}

static void report_names(FILE *f, const char *what, const struct tally *t,
    uint64_t others)
{
	int i;

	for (i = 0; i < PLAN_NAMES && t[i].n > 0; i++)
		fprintf(f, "splitgpt:   %s %s: %" PRIu64 "\n", what, t[i].name,
		    t[i].n);
	if (others > 0)
		fprintf(f, "splitgpt:   %s (others): %" PRIu64 "\n", what,
		    others);
}

/* What the run would send, on stderr. */
static void report(const struct parent *pp, const struct plan *pl)
{
	const struct config *cfg = pp->cfg;
	const struct stats *st = &pp->st;

	fprintf(stderr, "splitgpt: %s: %" PRIu64 " lines: %" PRIu64
	    " requests, %" PRIu64 " invalid%s\n", cfg->emit_requests ?
	    "requests written" : "dry run, nothing sent", st->done -
	    st->blank, pl->requests, st->failed, st->failed == 0 ? "" :
	    cfg->emit_requests ? " (left out: see above)" :
	    " (their error records are in the output)");
	report_names(stderr, "endpoint", pl->paths, pl->other_paths);
	report_names(stderr, "model", pl->models, pl->other_models);
	fprintf(stderr, "splitgpt: prompt tokens, estimated as --tpm does: "
	    "%lld\n", pl->prompt);
	fprintf(stderr, "splitgpt: completion tokens at most: %lld%s\n",
	    pl->out, pl->unbounded == 0 ? "" : ", and unbounded: some "
	    "requests set no max_tokens");
	if (pl->unbounded > 0)
		fprintf(stderr, "splitgpt:   requests with no limit on their "
		    "completion: %" PRIu64 "\n", pl->unbounded);
	if (cfg->price_in > 0 || cfg->price_out > 0) {
		double lo = dollars(pl->prompt, cfg->price_in);
		double hi = lo + dollars(pl->out, cfg->price_out);

		if (pl->unbounded > 0)
			fprintf(stderr, "splitgpt: cost: at least $%.4f; no "
			    "upper bound (unbounded completions)\n", lo);
		else
			fprintf(stderr, "splitgpt: cost: $%.4f to $%.4f\n", lo,
			    hi);
	}
}

static void json_names(struct buf *b, const char *key, const struct tally *t,
    uint64_t others)
{
	int i;

	buf_addf(b, ",\"%s\":{", key);
	for (i = 0; i < PLAN_NAMES && t[i].n > 0; i++) {
		if (i > 0)
			buf_addc(b, ',');
		buf_add_json_string(b, t[i].name, strlen(t[i].name));
		buf_addf(b, ":%" PRIu64, t[i].n);
	}
	if (others > 0)
		buf_addf(b, "%s\"(others)\":%" PRIu64, i > 0 ? "," : "",
		    others);
	buf_addc(b, '}');
}

/* --stats: the same figures as JSON. */
static void stats_file(const struct parent *pp, const struct plan *pl)
{
	const struct config *cfg = pp->cfg;
	struct buf b = { 0 };
	double lo = dollars(pl->prompt, cfg->price_in);
	FILE *f;

	buf_addf(&b, "{\"dry_run\":%s,\"lines\":%" PRIu64 ",\"requests\":%"
	    PRIu64 ",\"invalid\":%" PRIu64 ",\"blank\":%" PRIu64,
	    cfg->emit_requests ? "false" : "true", pp->st.done - pp->st.blank,
	    pl->requests, pp->st.failed, pp->st.blank);
	json_names(&b, "endpoints", pl->paths, pl->other_paths);
	json_names(&b, "models", pl->models, pl->other_models);
	buf_addf(&b, ",\"prompt_tokens_estimated\":%lld,"
	    "\"completion_tokens_max\":%lld,\"unbounded_requests\":%" PRIu64,
	    pl->prompt, pl->out, pl->unbounded);
	if (cfg->price_in > 0 || cfg->price_out > 0) {
		buf_addf(&b, ",\"cost_min\":%.6f,\"cost_max\":", lo);
		if (pl->unbounded > 0)
			buf_adds(&b, "null");
		else
			buf_addf(&b, "%.6f", lo + dollars(pl->out,
			    cfg->price_out));
	}
	buf_adds(&b, "}\n");
	if ((f = fopen(cfg->stats_path, "w")) == NULL ||
	    fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
		die_errno(EXIT_INTERNAL, "--stats %s", cfg->stats_path);
	buf_release(&b);
}

/* Write what is ready; 0, or -1 when the reader of the output is gone. */
static int flush(struct parent *pp)
{
	return writer_flush(&pp->wr) < 0 ? -1 : 0;
}

int plan_run(struct parent *pp)
{
	struct dispatcher *dp = &pp->dp;
	struct plan pl;
	struct line ln;
	int gone = 0;

	memset(&pl, 0, sizeof(pl));
	while (!gone && next_line(pp, &ln)) {
		uint64_t seq;

		if (!ln.too_long && line_is_blank(ln.p, ln.len)) {
			if (pp->cfg->keep_blank && !pp->cfg->emit_requests)
				dispatch_blank(pp, &ln, dp->next_seq++);
			continue;
		}
		seq = dp->next_seq++;
		if (dispatch_line(pp, &ln, seq))
			take(pp, &pl, seq);
		if ((seq % FLUSH_EVERY == 0 || !writer_room(&pp->wr,
		    dp->next_seq)) && flush(pp) < 0)
			gone = 1;
	}
	dp->input_done = !signals_waiting() && !gone;
	if (!gone && flush(pp) < 0)
		gone = 1;
	buf_release(&pl.line);
	if (!pp->cfg->quiet)
		report(pp, &pl);
	if (pp->cfg->stats_path)
		stats_file(pp, &pl);
	if (signals_take())
		return EXIT_INTERRUPTED;
	if (gone) {	/* the reader of the output left: as cat(1) does */
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	return pp->st.failed ? EXIT_FAILED : EXIT_OK;
}
