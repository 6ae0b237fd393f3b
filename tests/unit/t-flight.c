/* The lines in flight: the idle stack, sending, deadlines, hedging twins,
 * orphans.  No process is forked: the "workers" are pipes read here. */
#include <stdlib.h>
#include <unistd.h>

#include "flight.h"
#include "unit.h"
#include "util.h"

#define N 4

int main(void)
{
	struct flight fl;
	struct pool pl = { 0 };
	struct proc procs[N] = { { 0 } };
	int fds[N][2], who[N], i, a, b;
	char got[64];
	struct buf *f;

	for (i = 0; i < N; i++) {
		if (pipe(fds[i]) < 0)
			return 1;
		procs[i].req_fd = fds[i][1];
		procs[i].res_fd = -1;
	}
	pl.procs = procs;
	pl.spawned = N;
	flight_init(&fl, N, 2);
	for (i = 0; i < N; i++)
		flight_idle(&fl, i);
	CHECK_INT(fl.nidle, N, "every worker idle at first");

	a = flight_take_idle(&fl);
	CHECK_INT(a, N - 1, "the idle stack gives the last pushed first");
	f = flight_assign(&fl, a, 7, 9, 100, 40, 60);
	buf_adds(f, "frame-7");
	flight_send(&fl, &pl, a, 1000, 1);
	CHECK(fl.jobs[a].busy, "a sent job is busy");
	CHECK_INT(fl.placed, 1, "a line placed is counted");
	CHECK_INT(read(fds[a][0], got, sizeof(got)), 7,
	    "its frame went down its worker's pipe");
	CHECK(fl.due_us >= fl.jobs[a].sent_us + 11000000,
	    "its deadline is the attempt's time and a margin");

	CHECK_INT(flight_overdue(&fl, fl.jobs[a].sent_us, who), 0,
	    "not overdue when just sent");
	CHECK_INT(flight_overdue(&fl, fl.jobs[a].due_us, who), 1,
	    "overdue at its deadline");
	CHECK(who[0] == a && fl.jobs[a].stalled, "... and marked stalled");
	CHECK_INT(flight_overdue(&fl, fl.jobs[a].due_us + 1, who), 0,
	    "a stalled job is not reported twice");
	CHECK(fl.on_server[0] == 0 && fl.on_server[1] == 1,
	    "the line is counted on its server");
	flight_move(&fl, a, 0);
	CHECK(fl.on_server[0] == 1 && fl.on_server[1] == 0 &&
	    fl.jobs[a].server == 0, "it moves on to another server");
	flight_fresh(&fl, a);
	CHECK(!fl.jobs[a].busy && !fl.jobs[a].stalled,
	    "a fresh worker holds nothing");
	CHECK(fl.on_server[0] == 0 && fl.on_server[1] == 0,
	    "... and no line is counted on any server");

	/* A line and its hedged copy. */
	f = flight_assign(&fl, a, 8, 10, 5, 5, 0);
	buf_adds(f, "frame-8");
	flight_send(&fl, &pl, a, 1000, 0);
	CHECK_INT(flight_hedgeable(&fl), 1, "one line may want a copy");
	b = flight_take_idle(&fl);
	flight_copy(&fl, b, a, 1);
	flight_send(&fl, &pl, b, 1000, 1);
	CHECK(fl.jobs[b].seq == 8 && fl.jobs[b].is_copy && fl.jobs[a].hedged,
	    "the copy holds the same line, and both are hedged");
	CHECK_STR(fl.jobs[b].sent.data, "frame-8", "with the same frame");
	CHECK_INT(flight_hedgeable(&fl), 0, "no line wants another copy");
	CHECK_INT(flight_twin(&fl, a), b, "the original's twin is the copy");
	CHECK_INT(flight_twin(&fl, b), a, "and the other way round");
	CHECK_INT(flight_won(&fl, b), a, "the copy answers first: the original "
	    "is to be cut");
	CHECK(fl.jobs[a].cancelled && !fl.jobs[b].hedged,
	    "... it is cancelled, the winner hedged no more");
	flight_idle(&fl, b);
	CHECK(fl.on_server[0] == 1 && fl.on_server[1] == 0,
	    "an idle worker's line is counted no more");
	flight_unhedge(&fl, a);
	CHECK(!fl.jobs[a].cancelled && !fl.jobs[a].hedged,
	    "a cut twin, gone, carries no hedging state");

	/* An orphan, counted once whatever is said twice. */
	flight_orphan(&fl, a, 2);
	flight_orphan(&fl, a, 2);
	CHECK_INT(fl.norphans, 1, "an orphan is counted once");
	flight_orphan(&fl, a, 0);
	CHECK_INT(fl.norphans, 0, "and uncounted once adopted");

	flight_forget_idle(&fl, b);
	for (i = 0; i < fl.nidle; i++)
		CHECK(fl.idle[i] != b, "a forgotten worker is not idle (%d)",
		    fl.idle[i]);
	flight_free(&fl);
	for (i = 0; i < N; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	return unit_done();
}
