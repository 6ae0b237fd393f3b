/*
 * parent.h: the parent's stages, wired together (main.c has the picture).
 *
 * struct parent holds each stage's state in a member of its own; a stage
 * writes only its own member and changes the others through their
 * functions: the pool (pool.h), the lines in flight (flight.h), the
 * reader (reader.h), the classifier (classify.h), the dispatcher and hedging
 * (below, dispatch.c and hedge.c), the collector (below, collect.c), the
 * writer (writer.h), progress (progress.h), the pacer (ratelimit.h), the
 * cache's lines (recall.h) and the counts (stats.h).  The loop (loop.c) runs them.
 */
#ifndef SPLITGPT_PARENT_H
#define SPLITGPT_PARENT_H

#include <stdint.h>	/* uint64_t */

#include "config.h"	/* struct config */
#include "flight.h"	/* struct flight */
#include "frame.h"	/* msg_request_route */
#include "autoscale.h"	/* struct autoscale */
#include "budget.h"	/* struct budget */
#include "classify.h"	/* struct classifier, struct request */
#include "reader.h"	/* struct linereader */
#include "pool.h"	/* struct pool */
#include "progress.h"	/* struct progress */
#include "ratelimit.h"	/* struct pacer */
#include "recall.h"	/* struct recall */
#include "route.h"	/* struct route */
#include "stats.h"	/* struct stats */
#include "util.h"	/* struct buf */
#include "writer.h"	/* struct writer */

/*
 * --resume's probation (resume.c): the first PROBATION lines whose record
 * in FILE names a request (by its digest) are compared with their own
 * requests before anything is sent; a line to be sent meanwhile waits in
 * held (at most HOLD_MAX of them, in order).  Then, when more than half
 * of those compared ask for other requests, the run is refused; else the
 * held lines go out, first.
 */
#define PROBATION 8
#define HOLD_MAX 16

struct probation {
	int over;		/* the verdict is given */
	unsigned compared;	/* lines compared with their record */
	unsigned differ;	/* ... whose record was for another request */
	struct held_line {
		uint64_t seq, lineno;
		struct request req;
	} held[HOLD_MAX];
	unsigned nheld;		/* lines held */
	unsigned next;		/* the next to go once it is over */
};

/* The dispatcher: input lines to requests, requests to idle workers. */
struct dispatcher {
	struct request req;	/* the line being placed, or held */
	struct buf msg;		/* an error record's message */
	uint64_t next_seq;	/* the next line's sequence number */
	int input_done;
	int held;		/* req (line held_seq) waits for the pacer */
	uint64_t held_seq, held_lineno;
	double wake_at;		/* when it may go */
	double pause_said;	/* the end of the last pause announced */
	uint64_t warned;	/* bad lines reported on stderr */
	uint64_t unwarned;	/* ... and not, past the cap */
	unsigned not_json;	/* lines not JSON from their first byte */
	struct probation probe;	/* --resume's */
};

/* A kind of error: an HTTP status and the server's code, or (status 0)
 * an error code of splitgpt's with no answer. */
struct error_kind {
	unsigned status;
	unsigned error;		/* enum errcode */
	char code[48];
};

#define ERROR_KINDS 32		/* kinds named on stderr, at most */

/* The collector: results in, crashes and halts decided. */
struct collector {
	int halted;		/* sending stopped; lines get not_sent */
	const char *halt_why;
	int broken;		/* halted for want of any worker: exit 4 */
	struct buf broken_why;	/* why (halt_why points here) */
	unsigned idle_deaths;	/* workers that died holding nothing, in a row */
	/* Requests (not bad lines) finished and failed, for --halt-after;
	 * everything else is counted in the stats. */
	unsigned long long requests_failed, finished;
	struct buf msg;		/* a crash record's message */
	struct error_kind kinds[ERROR_KINDS];	/* named on stderr */
	unsigned nkinds;
	char (*last_code)[48];	/* per worker: its last failure's code */
	/* Fail fast: the first attempts to finish, while they all failed
	 * the same systematic way (ff_n of them, of kind ff_kind); -1 once
	 * something else came. */
	int ff_n;
	struct error_kind ff_kind;
	struct buf ff_why;
};

/* The loop's own: what the signals asked for. */
struct loopstate {
	int stopping;		/* first signal: stop reading, drain */
	unsigned signals;	/* signals taken; 2 or more: abort */
};

struct parent {
	const struct config *cfg;
	struct pool pool;
	struct flight fl;
	struct linereader lr;
	struct classifier *cls;
	struct dispatcher dp;
	uint64_t hedge_due_us;	/* hedging's: the oldest line's hedge time */
	struct collector col;
	struct writer wr;
	struct progress pg;
	struct pacer pacer;
	struct recall rc;
	struct stats st;
	struct loopstate lp;
	struct budget bg;
	struct autoscale as;	/* -P auto's */
	struct route rt;	/* which server */
};


/* Workers holding a line. */
static inline int busy_count(const struct parent *pp)
{
	return pp->pool.spawned - pp->fl.nidle - pp->pool.nretired;
}

/* Whether another request may go out now: -P auto's limit. */
static inline int under_limit(const struct parent *pp)
{
	return !pp->cfg->jobs_auto || busy_count(pp) < autoscale_limit(&pp->as);
}

/* Worker i holds its job's line from now: write the frame down its pipe,
 * for the server route.h picks. */
static inline void send_to(struct parent *pp, int i)
{
	uint64_t aside = 0, now = now_us();
	long long cost = pp->fl.jobs[i].charged;
	unsigned s = route_pick(&pp->rt, pp->fl.on_server, now, cost, &aside);

	route_sent(&pp->rt, s, now / 1e6, cost);
	msg_request_route(&pp->fl.jobs[i].sent, s, aside);
	flight_send(&pp->fl, &pp->pool, i, (uint64_t)pp->cfg->timeout_ms, s);
}

/* dispatch.c: when a request of cost tokens may go (now_s time): the
 * parent's pacer's time (--rpm, --tpm; one server's headers), and with
 * several servers the first that one of them lets it go by its own.
 * *held_by (if not NULL): that server when it is the later, else -1. */
double pace_ready_at(const struct parent *pp, double now, long long cost,
    int *held_by);
/* dispatch.c: take lines while there is a worker for them; 1 if input is
 * wanted. */
int dispatch(struct parent *pp);
/* Line ln (sequence seq) as a request in dp.req: 1 if it is to be sent,
 * 0 if it has its record already (an error, kept from -o FILE, or not
 * sent because the run halted). */
int dispatch_line(struct parent *pp, const struct line *ln, uint64_t seq);
/* --keep-blank: a blank line's record, under line-N, kept in step with
 * -o FILE on --resume (never reused: it costs nothing to make again). */
void dispatch_blank(struct parent *pp, const struct line *ln, uint64_t seq);
/* No line can come for a new or an idle worker any more: the input is
 * done and none waits for the pacer.  (A crash still respawns its
 * worker.) */
int no_more_work(const struct parent *pp);
/* Let idle workers go once no_more_work(). */
void retire_idle(struct parent *pp);

/* resume.c: with --resume, line seq (line number lineno), classified in
 * dp.req (a request if is_request): 1 if it needs nothing more here (its
 * record is kept from FILE, or it is held for probation's verdict), 0 if
 * it goes on (to be sent, or its error record).  Refuses the run (exit 2)
 * when probation's verdict is against FILE. */
int resume_line(struct parent *pp, uint64_t seq, uint64_t lineno,
    int is_request);
/* No more lines can come for probation (the input is done, or the window
 * is full): give the verdict now. */
void resume_verdict(struct parent *pp);
/* Once the verdict is given, the next held line into dp.req, its seq and
 * lineno: 0 when there is none. */
int resume_next(struct parent *pp, uint64_t *seq, uint64_t *lineno);
/* Held lines wait to go (probation is over, or not). */
int resume_holding(const struct parent *pp);
/* Free the held lines' buffers. */
void resume_free(struct parent *pp);

/* hedge.c: --hedge is on. */
int hedging(const struct config *cfg);
/* Copy the oldest overdue lines to idle workers. */
void hedge(struct parent *pp);
/* Worker i answered its line first: cut the twin's request. */
void hedge_won(struct parent *pp, int i);

/* collect.c: read what worker i sent, and bury it if it is gone. */
void collect(struct parent *pp, int i);
/* Stop sending: requests in flight finish, the rest get not_sent. */
void halt(struct parent *pp, const char *why);
/* A worker could not be started (pp->pool.why says why): go on with
 * those there are, or, with none, halt. */
void short_of_workers(struct parent *pp);
/* The line job k holds, whose worker died and no other will try again:
 * its worker_crashed record (message m) after this many attempts. */
void crashed(struct parent *pp, int k, unsigned attempts, const char *m);
/* Kill the workers silent past their time. */
void watchdog(struct parent *pp);

/* recall.c: --cache (recall.h).  Open it, or a usage error. */
void recall_init(struct parent *pp);
void recall_free(struct parent *pp);
/* Line seq (lineno), whose request is req: 1 if it is answered from the
 * cache or waits on the same request out; else 0, and it is to be sent
 * (it leads that request's followers). */
int recall_line(struct parent *pp, const struct request *req, uint64_t seq,
    uint64_t lineno);
/* Line seq's record is in; stored: its answer went into the cache.  If
 * it led, its followers are answered from the cache, or wait for one of
 * them to be sent. */
void recall_done(struct parent *pp, uint64_t seq, int stored);
/* Followers waiting to be sent, their leader having failed. */
size_t recall_waiting(const struct parent *pp);
/* The next of those, into req: 1 with its seq and lineno (it leads now),
 * or 0. */
int recall_next(struct parent *pp, struct request *req, uint64_t *seq,
    uint64_t *lineno);

/* loop.c: run until the input is done and every record written, or a
 * signal says stop. */
void loop_run(struct parent *pp);
/* Then: let the workers go (on an abort, kill them) and write what is
 * left; an abort waits at most grace_ms for a reader that reads nothing
 * to take the end of a cut record. */
void loop_end(struct parent *pp, int grace_ms);

#endif
