/*
 * loop.c: the parent's loop (parent.h).  One poll(2) over standard input
 * (when the dispatcher wants a line), the workers' result pipes (or their
 * epoll set), standard output (to learn that its reader is gone), the
 * line counter and the signals' self-pipe; each turn forks a few more
 * workers, takes signals, kills silent workers, dispatches and writes.
 */
#include "parent.h"

#include <errno.h>	/* errno, EINTR */
#include <poll.h>	/* poll */
#include <signal.h>	/* SIGUSR1, raise */
#include <stdlib.h>	/* free */
#include <unistd.h>	/* _exit */

#include "signals.h"	/* signals_fd, signals_take */

#define SPAWN_BATCH 4		/* workers forked per turn of the loop */

/* The reader of standard output is gone (| head): leave as cat does. */
static void NORETURN output_gone(struct parent *pp)
{
	pool_end(&pp->pool, 1);
	progress_stop(&pp->pg);
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	_exit(EXIT_INTERNAL);
}

static long flush(struct parent *pp)
{
	long n = writer_flush(&pp->wr);

	if (n < 0)
		output_gone(pp);
	return n;
}

/* Fork the workers a few at a time, so the first lines go out while the
 * rest start, not after. */
static void spawn_some(struct parent *pp)
{
	struct pool *pl = &pp->pool;

	for (int i = 0; i < SPAWN_BATCH && pl->spawned < pl->wanted &&
	    !no_more_work(pp); i++) {
		if (pool_spawn(pl, pl->spawned) < 0) {
			pl->wanted = pl->spawned;
			short_of_workers(pp);
			break;
		}
		flight_fresh(&pp->fl, pl->spawned);
		flight_idle(&pp->fl, pl->spawned);
		pl->spawned++;
	}
}

/* Signals came: the first stops reading, and requests in flight finish
 * their attempt and make no more; their records are written, then the
 * loop ends.  A second aborts. */
static void take_signals(struct parent *pp)
{
	struct loopstate *lp = &pp->lp;
	int b;

	lp->signals += signals_take();
	if (lp->signals == 0 || lp->signals >= 2 || lp->stopping)
		return;
	lp->stopping = 1;
	for (int i = 0; i < pp->pool.spawned; i++)
		if (!pp->pool.procs[i].retired)
			pool_kill(&pp->pool, i, SIGUSR1);
	progress_draw(&pp->pg, 1);
	if (pp->cfg->quiet)
		return;
	b = busy_count(pp);
	warnx("interrupted: finishing the %d request%s in flight (again to "
	    "abort)", b, b == 1 ? "" : "s");
}

/* Collect worker i and, if that left a worker idle, give out the next
 * line now rather than after every other ready worker is read: at
 * -P 256 a round's answers come together, and the worker read first
 * would wait for the rest. */
static void collect_then_dispatch(struct parent *pp, int i)
{
	int idle = pp->fl.nidle;

	collect(pp, i);
	if (pp->fl.nidle > idle && !signals_waiting())
		(void)dispatch(pp);
}

/* ms until t (microseconds, monotonic), for poll; within timeout. */
static int sooner(int timeout, uint64_t t)
{
	uint64_t now = now_us();
	int w = t <= now ? 0 : (int)((t - now) / 1000) + 1;

	return timeout < 0 || w < timeout ? w : timeout;
}

/* How long poll may wait: for the progress line, a worker to start, a
 * line due a copy, a worker due to say something, the pacer. */
static int poll_timeout(const struct parent *pp)
{
	int timeout = pp->cfg->progress ? DRAW_US / 1000 : -1;
	int busy = busy_count(pp);

	if (pp->pool.spawned < pp->pool.wanted && !no_more_work(pp))
		timeout = 0;	/* more workers to start */
	if (pp->hedge_due_us > 0 && pp->fl.nidle > 0 && busy > 0)
		timeout = sooner(timeout, pp->hedge_due_us);
	if (pp->fl.due_us > 0 && busy > 0)
		timeout = sooner(timeout, pp->fl.due_us);
	if (pp->dp.held && pp->fl.nidle > 0) {
		/* Wake when the pacer lets the held request go. */
		double ms = (pp->dp.wake_at - now_s()) * 1000;
		int w = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms + 1;

		if (timeout < 0 || w < timeout)
			timeout = w;
	}
	return timeout;
}

/* The descriptors a turn waits on. */
struct waitset {
	struct pollfd *pfd;
	int n;
	int input;		/* pfd[0] is standard input */
	int first_worker;	/* where the workers' begin */
	int set;		/* ... as the one epoll set */
	int other;		/* where the rest begin */
};

static void add_fd(struct waitset *w, int fd, short events)
{
	w->pfd[w->n].fd = fd;
	w->pfd[w->n].events = events;
	w->n++;
}

static void build_waitset(struct parent *pp, struct waitset *w,
    int want_input)
{
	w->n = 0;
	w->input = want_input && !pp->lr.eof;
	if (w->input)
		add_fd(w, 0, POLLIN);
	w->first_worker = w->n;
	w->n += pool_pollfds(&pp->pool, w->pfd + w->n, &w->set);
	w->other = w->n;
	/* No events asked: POLLERR says the reader is gone. */
	if (pp->cfg->out_path == NULL)
		add_fd(w, 1, 0);
	if (pp->pg.counter_fd >= 0)
		add_fd(w, pp->pg.counter_fd, POLLIN);
	add_fd(w, signals_fd(), POLLIN);
}

static void handle_events(struct parent *pp, struct waitset *w)
{
	int i;

	if (w->input && w->pfd[0].revents)
		lr_fill(&pp->lr);
	if (w->set && w->pfd[w->first_worker].revents) {
		int who[64], m = pool_ready(&pp->pool, who, 64);

		for (i = 0; i < m; i++)
			collect_then_dispatch(pp, who[i]);
	}
	for (i = w->first_worker; !w->set && i < w->other; i++)
		if (w->pfd[i].revents)
			collect_then_dispatch(pp, i - w->first_worker);
	for (i = w->other; i < w->n; i++) {
		if (w->pfd[i].fd == 1 &&
		    (w->pfd[i].revents & (POLLERR | POLLHUP)))
			output_gone(pp);
		if (w->pfd[i].fd == pp->pg.counter_fd && w->pfd[i].revents)
			progress_counted(&pp->pg);
		if (w->pfd[i].fd == signals_fd() && w->pfd[i].revents)
			take_signals(pp);
	}
}

/* Whether the run is over: every line has its record, or a signal says
 * stop and nothing is out any more. */
static int finished(const struct parent *pp)
{
	return ((pp->dp.input_done && !pp->dp.held && !resume_holding(pp) &&
	    recall_waiting(pp) == 0) || pp->lp.stopping) &&
	    busy_count(pp) == 0 && pp->fl.norphans == 0;
}

void loop_run(struct parent *pp)
{
	struct waitset w;

	w.pfd = xcalloc(pp->cfg->jobs + 4, sizeof(*w.pfd));
	for (;;) {
		int want_input;

		spawn_some(pp);
		if (signals_waiting())
			take_signals(pp);	/* before any more is sent */
		if (pp->lp.signals >= 2)
			break;
		if (pp->fl.due_us > 0 && now_us() >= pp->fl.due_us)
			watchdog(pp);
		want_input = dispatch(pp);
		/* Writing moves the window: if dispatch stopped at its edge,
		 * it may go on now. */
		if (flush(pp) > 0 && !want_input)
			continue;
		if (finished(pp))
			break;
		if (no_more_work(pp))
			retire_idle(pp);
		build_waitset(pp, &w, want_input);
		if (want_input && pp->lr.eof)
			continue;	/* lr_next finishes the input */
		progress_draw(&pp->pg, 0);
		if (poll(w.pfd, w.n, poll_timeout(pp)) < 0) {
			if (errno == EINTR)
				continue;
			die_errno(EXIT_INTERNAL, "poll");
		}
		handle_events(pp, &w);
	}
	free(w.pfd);
}

/*
 * The end: let the workers go (abort: kill them), write the rest of the
 * output; on an abort only the end of a record a signal cut, when the
 * output may block: its reader may read nothing, and the abort must not
 * wait for it.
 */
void loop_end(struct parent *pp, int grace_ms)
{
	int abort = pp->lp.signals >= 2;

	pool_end(&pp->pool, abort);
	while (!abort || !writer_may_block(&pp->wr)) {
		flush(pp);
		if (writer_pending(&pp->wr) == 0)
			break;
	}
	writer_abort(&pp->wr, grace_ms);
}
