/*
 * resume.c: --resume in the dispatcher (parent.h).  Every line is
 * compared with its record in FILE, or its entry in FILE.journal
 * (writer_reuse, output.h): a success for the line's own request (the
 * digest in the record's id) is kept, anything else is sent again.
 *
 * A file made from another input, or with other options (-m, -d,
 * --system), has records in the right places under the right ids
 * (line-N), for other requests: resumed, it would pay for every line
 * again.  So the first PROBATION lines compared are a probation: nothing
 * is sent meanwhile (the lines to send wait, in order, in dp.probe.held)
 * and when it is over, if more than half of them asked for other
 * requests than their records, the run is refused; else the held lines
 * go first, and the rest follow as usual.  A file with no digests (an
 * older splitgpt's) compares nothing, and is resumed by custom_id alone.
 */
#include "parent.h"

#include <string.h>	/* memset */

/* Two requests trade places: their buffers change owners. */
static void req_swap(struct request *a, struct request *b)
{
	struct request t = *a;

	*a = *b;
	*b = t;
}

void resume_verdict(struct parent *pp)
{
	struct probation *pb = &pp->dp.probe;

	if (pb->over)
		return;
	pb->over = 1;
	if (pb->differ * 2 > pb->compared)
		die(EXIT_USAGE, "--resume: %u of the first %u lines compared ask "
		    "for other requests than %s's records (another input, or "
		    "other options such as -m, -d, --system?): nothing was "
		    "sent; to start afresh, drop --resume", pb->differ,
		    pb->compared, pp->cfg->out_path);
}

/* Line seq, in dp.req, waits for the verdict. */
static void hold(struct parent *pp, uint64_t seq, uint64_t lineno)
{
	struct probation *pb = &pp->dp.probe;
	struct held_line *h = &pb->held[pb->nheld++];

	h->seq = seq;
	h->lineno = lineno;
	req_swap(&h->req, &pp->dp.req);
}

int resume_line(struct parent *pp, uint64_t seq, uint64_t lineno,
    int is_request)
{
	struct dispatcher *dp = &pp->dp;
	struct probation *pb = &dp->probe;
	struct reuse_line ln = {
		seq, lineno, dp->req.custom_id.data, dp->req.custom_id.len,
		is_request ? dp->req.digest : ""
	};
	enum reuse_match m;
	int done = writer_reuse(&pp->wr, &ln, is_request, &m);

	if (pb->over)
		return done;
	if (m == MATCH_SAME || m == MATCH_OTHER) {
		pb->compared++;
		pb->differ += m == MATCH_OTHER;
	}
	if (!done && is_request && !pp->col.halted) {
		hold(pp, seq, lineno);
		done = 1;
	}
	if (pb->compared >= PROBATION || pb->nheld == HOLD_MAX ||
	    !output_comparing(&pp->wr.sink, seq + 1))
		resume_verdict(pp);
	return done;
}

int resume_next(struct parent *pp, uint64_t *seq, uint64_t *lineno)
{
	struct probation *pb = &pp->dp.probe;
	struct held_line *h;

	if (!pb->over || pb->next == pb->nheld)
		return 0;
	h = &pb->held[pb->next++];
	*seq = h->seq;
	*lineno = h->lineno;
	req_swap(&h->req, &pp->dp.req);
	return 1;
}

int resume_holding(const struct parent *pp)
{
	return pp->dp.probe.next < pp->dp.probe.nheld;
}

void resume_free(struct parent *pp)
{
	struct probation *pb = &pp->dp.probe;

	for (unsigned i = 0; i < HOLD_MAX; i++)
		request_free(&pb->held[i].req);
	memset(pb, 0, sizeof(*pb));
}
