/*
 * tries.h: a worker's attempts at one line: the retry loop, across its
 * retries and the servers, and what it tells the parent on the way.
 *
 * Each attempt is made (transfer.h) and judged (judge.h).  The parent
 * hears at once what the answer's headers said of the rate limits (a
 * hint), how an attempt failed, and, before each wait and further
 * attempt, how long to wait for us (a beat) (frame.h).  With several
 * servers, an attempt that failed for the server's sake (no answer, or a
 * 5xx) moves to a server the line has not tried, not set aside (route.h),
 * at once and not counted against --retries; once it has tried them all,
 * each further attempt, counted and after its backoff, goes to the next.
 * No attempt is made once the parent is gone (nobody would read the
 * answer, and it would be paid for), or after it asked us to stop
 * (SIGUSR1).
 */
#ifndef SPLITGPT_TRIES_H
#define SPLITGPT_TRIES_H

#include <signal.h>	/* sig_atomic_t */
#include <stdint.h>	/* uint64_t */
#include <sys/types.h>	/* pid_t */

#include "config.h"	/* struct config */
#include "frame.h"	/* struct msg_request */
#include "judge.h"	/* struct outcome */
#include "record.h"	/* struct record_error */
#include "transfer.h"	/* struct transfer */
#include "util.h"	/* struct buf */

struct tries {
	const struct config *cfg;
	struct transfer *t;	/* the HTTP call */
	int rfd;		/* requests come down this */
	int wfd;		/* results and hints go up this */
	pid_t ppid;		/* the parent that forked us */
	struct buf hintbuf;	/* a frame to the parent */
	struct buf msg;		/* what went wrong, "line N: ..." */
	struct buf why;		/* why the retries stopped early */
	uint64_t rng;
	/* The line being served: its server now, those it was tried on,
	 * the free moves to another, and its last attempt's time. */
	unsigned srv;
	uint64_t tried;
	unsigned failovers;
	uint64_t last_us;
};

void tries_init(struct tries *w, const struct config *cfg, struct transfer *t,
    int rfd, int wfd);
void tries_free(struct tries *w);

/* SIGUSR1's handler: the parent is stopping; no further attempts. */
void tries_stop(int sig);

/*
 * Make the call for request rq (line seq), with its retries, from
 * start_us: the last attempt's outcome in *o (o->json the caller's to
 * put), why the retries stopped early in w->why and re->code, the last
 * server and attempt's time in w.  Returns the attempts made, those of
 * earlier workers on this line included (moves to another server not
 * counted).  Exits when the parent is gone.
 */
unsigned tries_run(struct tries *w, uint64_t seq, const struct msg_request *rq,
    uint64_t start_us, struct outcome *o, struct record_error *re);

#endif
