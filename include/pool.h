/*
 * pool.h: the worker processes, as mechanism only: forking them with
 * their pipes, waiting on their result pipes, reading them, letting them
 * go and reaping them.  What a worker holds, and what its death means for
 * the line, is the caller's business (flight.h, collect.h).
 *
 * Each worker has its own pair of pipes: requests go down one, results
 * come up the other, so messages never interleave and need not fit in
 * PIPE_BUF.  Workers are forked before anything calls into libcurl (which
 * is not fork-safe); worker_prefork (worker.h) runs first.  On Linux the
 * result pipes are one epoll(7) set; elsewhere (or built with
 * SPLITGPT_NO_EPOLL) poll(2) is given every pipe.  A worker dies with the
 * parent (PR_SET_PDEATHSIG on Linux; everywhere its request pipe closes).
 */
#ifndef SPLITGPT_POOL_H
#define SPLITGPT_POOL_H

#include <poll.h>	/* struct pollfd */
#include <sys/types.h>	/* pid_t */

#include "config.h"	/* struct config */
#include "util.h"	/* struct buf */

#define POOL_READ_SIZE 65536	/* bytes one read(2) of a worker asks for */

struct proc {
	pid_t pid;		/* 0: none (never started, or reaped) */
	int retired;		/* let go: no more work for it */
	int req_fd;		/* requests go down this; -1 if none */
	int res_fd;		/* results come up this; -1 if none */
	struct buf rx;		/* the start of a frame not all read yet */
};

struct pool {
	const struct config *cfg;
	struct proc *procs;	/* cfg->jobs of them */
	int spawned;		/* procs[0..spawned) were started once */
	int wanted;		/* workers wanted: -P, fewer once one could
				 * not be started */
	int nretired;		/* procs let go (or lost for good) */
	int epfd;		/* the result pipes' epoll set, or -1 */
	struct buf why;		/* why the last pool_spawn failed */
	struct buf rbuf;	/* what pool_read reads, for every worker */
};

/*
 * Set up for cfg->jobs workers, starting none; raise the soft limit on
 * open files as far as that needs (a usage error, exit 2, when the hard
 * limit is too low).
 */
void pool_init(struct pool *pl, const struct config *cfg);

/*
 * Start worker i (a new one, or one in place of a dead one): 0, or -1
 * when the system can't (no pipes, no fork: a process or file limit, no
 * memory), with why in pl->why.  The child runs worker_main and never
 * returns.
 */
int pool_spawn(struct pool *pl, int i);

/* Write a request frame to worker i.  A worker that died meanwhile
 * (EPIPE) is not an error here: its end of file says so shortly. */
void pool_send(struct pool *pl, int i, const char *p, size_t n);

/* Let worker i go: close its request pipe, so it exits when done. */
void pool_retire(struct pool *pl, int i);

/* Mark worker i lost for good: no worker, none to be started. */
void pool_lose(struct pool *pl, int i);

/* Workers running or able to run: neither let go nor lost. */
int pool_live(const struct pool *pl);

/* Send worker i a signal (if it has a process). */
void pool_kill(struct pool *pl, int i, int sig);

/*
 * Read what worker i sent: *b is the buffer to decode frames from.  Returns
 * >0 (bytes read: decode, then call pool_keep), 0 at end of file (the
 * worker is gone: decode what s->rx holds, then pool_reap), or -1 when
 * there is nothing more to read now.
 */
long pool_read(struct pool *pl, int i, struct buf **b);

/* After a pool_read and the frames taken: keep in worker i's own buffer
 * only the start of a frame that has not all arrived.  (Reads go to one
 * buffer shared by every worker: 256 workers of 128 KB each would be
 * 32 MB of address space that every later fork copies the mapping of.) */
void pool_keep(struct pool *pl, int i, struct buf *b);

/* Forget what worker i had sent and not all arrived (it sent nonsense). */
void pool_drop(struct pool *pl, int i);

/* Worker i is gone (or killed): close its pipes and reap it; its wait
 * status, or 0 for one that was let go. */
int pool_reap(struct pool *pl, int i);

/* Fill pfd with what to poll for results; the count.  *set is 1 when that
 * is the epoll set (then pool_ready says who), 0 when it is one pipe per
 * worker, in order, from worker 0. */
int pool_pollfds(const struct pool *pl, struct pollfd *pfd, int *set);

/* With the epoll set: the workers with something to read, at most max
 * of them (the rest come next turn), into who; the count. */
int pool_ready(struct pool *pl, int *who, int max);

/* The end: close every request pipe (abort: SIGKILL every worker first),
 * reap them all and free the pool. */
void pool_end(struct pool *pl, int abort);

#endif
