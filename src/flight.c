/*
 * flight.c: which worker holds which line (flight.h).
 */
#include "flight.h"

#include <stdlib.h>	/* free */
#include <string.h>	/* memset */

void flight_init(struct flight *fl, int n, int nservers)
{
	memset(fl, 0, sizeof(*fl));
	fl->n = n;
	fl->jobs = xcalloc(n, sizeof(*fl->jobs));
	fl->idle = xcalloc(n, sizeof(*fl->idle));
	fl->on_server = xcalloc(nservers, sizeof(*fl->on_server));
}

void flight_free(struct flight *fl)
{
	for (int i = 0; i < fl->n; i++)
		buf_release(&fl->jobs[i].sent);
	free(fl->jobs);
	free(fl->idle);
	free(fl->on_server);
	fl->on_server = NULL;
	fl->jobs = NULL;
	fl->idle = NULL;
}

/* Worker i holds its line no more. */
static void let_go(struct flight *fl, int i)
{
	if (fl->jobs[i].busy)
		fl->on_server[fl->jobs[i].server]--;
	fl->jobs[i].busy = 0;
}

void flight_idle(struct flight *fl, int i)
{
	let_go(fl, i);
	fl->idle[fl->nidle++] = i;
}

int flight_take_idle(struct flight *fl)
{
	return fl->idle[--fl->nidle];
}

void flight_forget_idle(struct flight *fl, int i)
{
	for (int k = 0; k < fl->nidle; k++)
		if (fl->idle[k] == i)
			fl->idle[k] = fl->idle[--fl->nidle];
}

void flight_fresh(struct flight *fl, int i)
{
	let_go(fl, i);
	fl->jobs[i].stalled = 0;
}

/*
 * A worker silent this long past the time it was given (an attempt's
 * --timeout, or what its last beat said) is taken to be stopped or hung
 * and is killed; its line goes out again as a further attempt.  The margin
 * covers what a worker does after a transfer (judging, deflating a large
 * answer) on a busy machine: killing a worker that was only slow would pay
 * for its request twice.
 */
static void set_due(struct flight *fl, int i, uint64_t now, uint64_t ms)
{
	uint64_t due = now + (ms + 10000 + ms / 10) * 1000;

	fl->jobs[i].due_us = due;
	if (fl->due_us == 0 || due < fl->due_us)
		fl->due_us = due;
}

struct buf *flight_assign(struct flight *fl, int i, uint64_t seq,
    uint64_t lineno, long long charged, long long prompt_est,
    long long max_out)
{
	struct job *j = &fl->jobs[i];

	j->seq = seq;
	j->lineno = lineno;
	j->charged = charged;
	j->prompt_est = prompt_est;
	j->max_out = max_out;
	j->hedged = j->is_copy = 0;
	fl->placed++;
	buf_reset(&j->sent);
	return &j->sent;
}

int flight_won(struct flight *fl, int i)
{
	int k = flight_twin(fl, i);

	fl->jobs[i].hedged = 0;
	if (k >= 0)
		fl->jobs[k].cancelled = 1;
	return k;
}

void flight_unhedge(struct flight *fl, int i)
{
	fl->jobs[i].cancelled = fl->jobs[i].hedged = 0;
}

void flight_send(struct flight *fl, struct pool *pl, int i, uint64_t due_ms,
    unsigned server)
{
	struct job *j = &fl->jobs[i];

	pool_send(pl, i, j->sent.data, j->sent.len);
	let_go(fl, i);
	j->busy = 1;
	j->server = server;
	fl->on_server[server]++;
	j->sent_us = now_us();
	set_due(fl, i, j->sent_us, due_ms);
}

void flight_move(struct flight *fl, int i, unsigned server)
{
	struct job *j = &fl->jobs[i];

	if (!j->busy || j->server == server)
		return;
	fl->on_server[j->server]--;
	fl->on_server[server]++;
	j->server = server;
}

void flight_copy(struct flight *fl, int i, int k, int is_copy)
{
	struct job *c = &fl->jobs[i], *o = &fl->jobs[k];

	buf_reset(&c->sent);
	buf_add(&c->sent, o->sent.data, o->sent.len);
	c->seq = o->seq;
	c->lineno = o->lineno;
	c->charged = o->charged;
	c->prompt_est = o->prompt_est;
	c->max_out = o->max_out;
	c->hedged = is_copy;
	c->is_copy = is_copy;
	if (is_copy)
		o->hedged = 1;
}

void flight_beat(struct flight *fl, int i, uint64_t due_ms)
{
	set_due(fl, i, now_us(), due_ms);
}

int flight_overdue(struct flight *fl, uint64_t now, int *who)
{
	uint64_t next = 0;
	int i, n = 0;

	for (i = 0; i < fl->n; i++) {
		struct job *j = &fl->jobs[i];

		if (!j->busy || j->stalled || j->cancelled)
			continue;
		if (now < j->due_us) {
			if (next == 0 || j->due_us < next)
				next = j->due_us;
			continue;
		}
		j->stalled = 1;
		who[n++] = i;
	}
	fl->due_us = next;
	return n;
}

int flight_twin(const struct flight *fl, int i)
{
	const struct job *j = &fl->jobs[i];

	if (!j->hedged)
		return -1;
	for (int k = 0; k < fl->n; k++)
		if (k != i && fl->jobs[k].busy && fl->jobs[k].hedged &&
		    !fl->jobs[k].cancelled && fl->jobs[k].seq == j->seq)
			return k;
	return -1;
}

int flight_hedgeable(const struct flight *fl)
{
	int n = 0;

	for (int i = 0; i < fl->n; i++)
		if (fl->jobs[i].busy && !fl->jobs[i].hedged)
			n++;
	return n;
}

void flight_orphan(struct flight *fl, int i, unsigned attempts)
{
	if (fl->jobs[i].orphan && !attempts)
		fl->norphans--;
	else if (!fl->jobs[i].orphan && attempts)
		fl->norphans++;
	fl->jobs[i].orphan = attempts;
}
