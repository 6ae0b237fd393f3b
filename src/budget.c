/* budget.c: --max-cost (budget.h). */
#include "budget.h"

#include "parent.h"	/* struct parent */

/* A request's worst cost in dollars: its prompt, corrected, and its
 * completion at max_out tokens. */
static double worst(const struct parent *pp, long long prompt_est,
    long long max_out)
{
	const struct config *cfg = pp->cfg;
	long long prompt = pacer_correct(&pp->pacer, prompt_est);

	return ((double)prompt * cfg->price_in +
	    (double)max_out * cfg->price_out) / 1e6;
}

/* Every line out on a worker (a hedge's copy too), at its worst. */
static double in_flight(const struct parent *pp)
{
	double sum = 0;
	int k;

	for (k = 0; k < pp->fl.n; k++)
		if (pp->fl.jobs[k].busy)
			sum += worst(pp, pp->fl.jobs[k].prompt_est,
			    pp->fl.jobs[k].max_out);
	return sum;
}

int budget_allows(struct parent *pp, const struct request *rq,
    uint64_t lineno, struct buf *msg)
{
	const struct config *cfg = pp->cfg;
	enum endpoint kind = endpoint_of(rq->path.data, rq->path.len);
	double spent, flying, next;

	if (cfg->max_cost <= 0 || cfg->dry_run || cfg->emit_requests)
		return 1;	/* (a run that sends nothing spends nothing) */
	if (rq->max_out <= 0 && (kind == EP_CHAT || kind == EP_COMPLETIONS ||
	    kind == EP_RESPONSES)) {
		buf_reset(msg);
		buf_addf(msg, "line %llu: not sent: it sets no limit on its "
		    "completion (max_tokens), so --max-cost can't bound its "
		    "cost: give --max-tokens", (unsigned long long)lineno);
		return 0;
	}
	spent = stats_cost(&pp->st) + pp->bg.billed;
	flying = in_flight(pp);
	next = worst(pp, rq->prompt_est, rq->max_out);
	if (spent + flying + next <= cfg->max_cost)
		return 1;
	buf_reset(&pp->bg.why);
	buf_addf(&pp->bg.why, "--max-cost $%.4f: the next request could pass "
	    "it ($%.4f spent, $%.4f in flight at most, $%.4f for the next)",
	    cfg->max_cost, spent, flying, next);
	halt(pp, pp->bg.why.data);
	return -1;
}

void budget_failed(struct parent *pp, const struct job *j, unsigned error,
    unsigned status)
{
	if (pp->cfg->max_cost <= 0)
		return;
	if (error == ERR_TIMEOUT || (error == ERR_INVALID_RESPONSE &&
	    status >= 200 && status < 300))
		pp->bg.billed += worst(pp, j->prompt_est, j->max_out);
}
