/*
 * hedge.c: --hedge (parent.h).  A line out longer than the hedge delay (a
 * straggler) gets a copy on an idle worker; the first answer is kept and
 * the other request cut (its worker is killed and replaced).  It costs one
 * more request per hedged line, so at most one line in HEDGE_SHARE is
 * hedged, each at most once, and only when the pacer lets a request go.
 */
#include "parent.h"

#include <signal.h>	/* SIGKILL */

#define HEDGE_SHARE 20
#define HEDGE_MIN_SAMPLES 20	/* answers before "Nx the median" is known */

int hedging(const struct config *cfg)
{
	return cfg->hedge_s > 0 || cfg->hedge_x > 0;
}

/* The hedge delay now, in microseconds; 0 if off or not yet known. */
static uint64_t hedge_delay_us(const struct parent *pp)
{
	const struct config *cfg = pp->cfg;

	if (cfg->hedge_s > 0)
		return (uint64_t)(cfg->hedge_s * 1e6);
	if (cfg->hedge_x > 0 && pp->st.latency.count >= HEDGE_MIN_SAMPLES)
		return (uint64_t)(cfg->hedge_x *
		    (double)hist_quantile(&pp->st.latency, 0.5));
	return 0;
}

/* The busy worker that has held its line longest, unhedged; or -1. */
static int oldest(const struct flight *fl)
{
	int i, old = -1;

	for (i = 0; i < fl->n; i++) {
		const struct job *j = &fl->jobs[i];

		if (j->busy && !j->hedged && (old < 0 ||
		    j->sent_us < fl->jobs[old].sent_us))
			old = i;
	}
	return old;
}

void hedge(struct parent *pp)
{
	struct flight *fl = &pp->fl;
	uint64_t delay, now;

	pp->hedge_due_us = 0;
	if (!hedging(pp->cfg) || pp->col.halted || pp->lp.stopping)
		return;
	delay = hedge_delay_us(pp);
	now = now_us();
	if (delay == 0) {
		pp->hedge_due_us = now + 50000;	/* look again when known */
		return;
	}
	while (fl->nidle > 0 && pp->st.hedged * HEDGE_SHARE < fl->placed) {
		int i, old = oldest(fl);
		struct job *j;
		double t;

		if (old < 0)
			return;
		j = &fl->jobs[old];
		if (now < j->sent_us + delay) {
			pp->hedge_due_us = j->sent_us + delay;
			return;
		}
		t = now / 1e6;
		if (pace_ready_at(pp, t, j->charged, NULL) > t) {
			pp->hedge_due_us = now + 10000;
			return;
		}
		pacer_sent(&pp->pacer, t, j->charged);
		i = flight_take_idle(fl);
		flight_copy(fl, i, old, 1);
		pp->st.hedged++;
		if (pp->cfg->verbose)
			warnx("line %llu: out for %.3f s: hedged",
			    (unsigned long long)j->lineno,
			    (now - j->sent_us) / 1e6);
		send_to(pp, i);
	}
}

void hedge_won(struct parent *pp, int i)
{
	int k;

	if (pp->fl.jobs[i].is_copy)
		pp->st.hedge_won++;
	if ((k = flight_won(&pp->fl, i)) >= 0)
		pool_kill(&pp->pool, k, SIGKILL);
}
