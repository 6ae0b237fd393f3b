/*
 * flight.h: the lines out on workers.  For each worker (by its pool
 * number) the line it holds, the request frame to send again should it
 * die, when it must next say something, and its hedging state; and the
 * stack of idle workers.  The dispatcher, hedging and the collector
 * change it only through these functions.
 */
#ifndef SPLITGPT_FLIGHT_H
#define SPLITGPT_FLIGHT_H

#include <stdint.h>	/* uint64_t */

#include "pool.h"	/* struct pool */
#include "util.h"	/* struct buf */

struct job {
	int busy;		/* holds a line */
	uint64_t seq;		/* the line it holds, when busy */
	uint64_t lineno;
	struct buf sent;	/* that line's request frame, to resend */
	uint64_t sent_us;	/* when its line went down the pipe */
	uint64_t due_us;	/* when, at the latest, it must say something:
				 * its result, or a beat (frame.h) */
	int stalled;		/* killed for being silent past due_us */
	int hedged;		/* another worker holds a copy of its line */
	int is_copy;		/* it holds the copy (--hedge) */
	int cancelled;		/* killed: its twin answered first */
	unsigned orphan;	/* no worker (none could be started), but
				 * a line to send again after this many
				 * attempts; 0: none */
	unsigned server;	/* where its line is, when busy */
	long long charged;	/* tokens the pacer was charged for it */
	long long prompt_est;	/* its prompt estimate, before correction */
	long long max_out;
};

struct flight {
	struct job *jobs;	/* one per worker */
	int n;
	int *idle;		/* a stack of idle worker numbers */
	int nidle;
	int norphans;		/* jobs with the orphan flag */
	uint64_t due_us;	/* the earliest due_us of a busy job, or 0 */
	uint64_t placed;	/* lines given out (not copies, not resends) */
	unsigned *on_server;	/* busy jobs on each server (config.h) */
};

void flight_init(struct flight *fl, int n, int nservers);
void flight_free(struct flight *fl);

/* Worker i is idle: push it on the stack. */
void flight_idle(struct flight *fl, int i);
/* Take an idle worker off the stack; the caller checked fl->nidle > 0. */
int flight_take_idle(struct flight *fl);
/* Worker i is no longer there to be idle (it died idle). */
void flight_forget_idle(struct flight *fl, int i);

/* A new worker i (or none, lost): nothing held, nothing stalled. */
void flight_fresh(struct flight *fl, int i);

/* Worker i is to hold line seq (lineno), which the pacer was charged
 * for: its job, cleared, and the buffer to encode the line's request
 * frame into; flight_send follows. */
struct buf *flight_assign(struct flight *fl, int i, uint64_t seq,
    uint64_t lineno, long long charged, long long prompt_est,
    long long max_out);

/* Worker i answered first: it is hedged no more.  Its twin, marked
 * cancelled (to be killed), or -1. */
int flight_won(struct flight *fl, int i);

/* Worker i, whose line its twin holds, is gone: the twin answers for the
 * line (and it is not hedged again). */
void flight_unhedge(struct flight *fl, int i);

/* Worker i holds the line whose frame is in jobs[i].sent, from now on,
 * for server: write the frame down its pipe (pl); it must say something
 * within due_ms (its attempt's time) and a margin. */
void flight_send(struct flight *fl, struct pool *pl, int i, uint64_t due_ms,
    unsigned server);

/* Worker i's line went on to another server. */
void flight_move(struct flight *fl, int i, unsigned server);

/* Worker i now holds what jobs[k] holds (a hedge's copy, or an orphan
 * adopted), as a copy or not.  The frame is copied to jobs[i].sent. */
void flight_copy(struct flight *fl, int i, int k, int is_copy);

/* Worker i said it has until due_ms from now (a beat). */
void flight_beat(struct flight *fl, int i, uint64_t due_ms);

/* Busy jobs silent past their time, marked stalled, into who (room for
 * fl->n); the next due time is found again.  Their workers are to be
 * killed. */
int flight_overdue(struct flight *fl, uint64_t now, int *who);

/* The other worker that holds worker i's line, or -1. */
int flight_twin(const struct flight *fl, int i);

/* Lines out and not hedged: each may still want an idle worker. */
int flight_hedgeable(const struct flight *fl);

/* Worker i's line is to wait for another worker after this many attempts
 * (orphan), or has been taken care of (0). */
void flight_orphan(struct flight *fl, int i, unsigned attempts);

#endif
