/*
 * budget.h: --max-cost.  Before a request goes, the spend it could bring
 * the run to is counted at its worst: what the answers' usage already
 * cost, plus the attempts that ended with no usage but may have been
 * billed (timed out, or cut short in a 2xx answer), plus every request in
 * flight at its worst (its prompt as the pacer estimates it, corrected by
 * the usage seen so far, and its completion at its limit), plus this one
 * at its worst.  If that passes the cap the run halts: the requests in
 * flight finish, the rest get not_sent records, exit 3.  A request with no
 * limit on its completion has no worst: it is not sent, with a record
 * saying why.
 */
#ifndef SPLITGPT_BUDGET_H
#define SPLITGPT_BUDGET_H

#include "util.h"	/* struct buf */

struct parent;
struct request;
struct job;

struct budget {
	double billed;		/* attempts with no usage that may have
				 * been billed, at their worst */
	struct buf why;		/* the halt's reason, while the run lasts */
};

/*
 * Whether request rq (line lineno) may go under --max-cost: 1; or 0 with
 * msg ("line N: not sent: ...") for a request that can't be bounded (its
 * record is the caller's to write); or -1 once the run halts for the cap.
 */
int budget_allows(struct parent *pp, const struct request *rq,
    uint64_t lineno, struct buf *msg);

/* An attempt at job j's line failed with error (enum errcode) and status:
 * count it if it may have been billed. */
void budget_failed(struct parent *pp, const struct job *j, unsigned error,
    unsigned status);

#endif
