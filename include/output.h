/*
 * output.h: where the records go, and resuming from an earlier -o file.
 *
 * Without -o, records go to standard output as they are ready.  With
 * -o FILE they go to FILE.partial, in order, as they are ready; FILE itself
 * is only ever replaced whole, by rename(2), so it never holds a partial
 * line.  Only a regular file (or a new one) is replaced: a symbolic link
 * is followed and stays, a FIFO or a device is written in place (and
 * can't be resumed), a directory or a link to nothing is refused.  When the run ends (or is interrupted), FILE.partial's records are
 * merged with whatever records of FILE lie beyond them and the result
 * replaces FILE.  A run killed with SIGKILL leaves FILE.partial behind;
 * the next --resume merges it first, so every answer that reached the
 * partial file is kept.
 *
 * Results that finish out of order wait in the reorder ring before they
 * can be written; so that a SIGKILL does not lose them (they were paid
 * for), the successes are also appended as they arrive to FILE.journal,
 * each as the line's sequence number (its place among the non-blank
 * input lines), a tab and the record.  --resume indexes the journal's
 * entries for lines beyond those FILE holds (an offset each: at most
 * --max-pending of them per run that did not finish) and reuses the one
 * for a line's own place, if its custom_id is the line's, when FILE has
 * no success for it: never another line's answer, whatever the ids.
 * When a run ends, however it ends, the journal keeps only the entries
 * for lines beyond those FILE then holds, and goes when there are none:
 * so ^C during a resume loses none of the answers it did not reach.
 *
 * Resuming: FILE holds records in input order for a prefix of the input.
 * output_reuse() reads them one by one in step with the input lines; a
 * success (a 2xx response and no error) whose custom_id matches the line
 * and whose id names the line's request (batch_req_ and its digest,
 * api.h: request_digest) is written again as it is, without a request;
 * anything else is sent again.  A record whose id names no request (24
 * hex digits: an older splitgpt made it) is matched by custom_id alone.
 * A custom_id that does not match means FILE came from another input,
 * and the run is refused; records for other requests than the lines
 * make are counted by the dispatcher, which refuses the run when most of
 * the first do (dispatch.c, resume.c).  Memory stays bounded: one record
 * at a time.
 */
#ifndef SPLITGPT_OUTPUT_H
#define SPLITGPT_OUTPUT_H

#include <signal.h>	/* sig_atomic_t */
#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */
#include <stdio.h>	/* FILE */

#include "api.h"	/* DIGEST_HEX */
#include "util.h"	/* struct buf */

struct output {
	int fd;			/* records are written here */
	char *path;		/* -o FILE (a symlink's target), or NULL */
	int direct;		/* FILE is a FIFO or a device: written in
				 * place, never replaced */
	char *partial;		/* FILE.partial */
	FILE *old;		/* FILE, read in step with the input */
	uint64_t old_read;	/* records read from it */
	char *journal_path;	/* FILE.journal */
	int journal_fd;		/* appended to, or -1 */
	uint64_t journal_end;	/* 1 + the last line with an entry worth
				 * keeping; 0: none */
	struct jentry *jmap;	/* the journal's successes, by line */
	size_t jsize, jcount;
	struct buf line;
	struct buf id;
};

/* Open the sink; with resume, merge a leftover partial file first. */
void output_open(struct output *o, const char *path, int resume);

/* An input line, as --resume compares it with its record. */
struct reuse_line {
	uint64_t seq;		/* its place among the non-blank lines */
	uint64_t lineno;
	const char *id;		/* its custom_id */
	size_t idlen;
	const char *digest;	/* its request's digest; "" if no request */
};

/* How the record for a line compares with the line's request. */
enum reuse_match {
	MATCH_NONE,	/* no record, or one of the two names no request */
	MATCH_SAME,	/* the record is for the line's request */
	MATCH_OTHER,	/* the record is for another request */
	MATCH_ID_ONLY	/* a success whose id names no request: kept by
			 * custom_id alone */
};

/*
 * With --resume: look at FILE's next record, or the journal's entry, for
 * the line ln.  Call it for every line, in order.  Returns 1 and fills
 * rec when it is a success to reuse (for the same request, or matched by
 * custom_id alone), 0 when the line must be sent, -1 (with msg) when the
 * custom_ids differ; *m says how the record compared.
 */
int output_reuse(struct output *o, const struct reuse_line *ln,
    struct buf *rec, struct buf *msg, enum reuse_match *m);

/* Whether line seq, or a later one, may still have a record to compare
 * (in FILE or in its journal). */
int output_comparing(const struct output *o, uint64_t seq);

/* Whether output_journal keeps anything: -o FILE, a regular file. */
int output_journaling(const struct output *o);

/* Keep the success for line seq that can't be written yet (it waits for
 * earlier ones). */
void output_journal(struct output *o, uint64_t seq, const char *rec,
    size_t n);

/* Whether a write may wait for a reader: the output is not a file. */
int output_may_block(const struct output *o);

/* Records of FILE beyond the input's end: a sign of another input. */
uint64_t output_left_over(struct output *o);

/*
 * Write p[*done..n), bytes of whole records, moving *done on.  A full pipe
 * is waited for, also when someone made the descriptor non-blocking
 * (EAGAIN).  Returns 0 when all is written; 1 when a signal is waiting
 * (signals.h: the caller's loop takes it, then calls again, so a reader
 * that reads nothing never keeps ^C from being heard); -1 on
 * an error, with errno.  With grace_ms >= 0 the waits end after that long
 * too (returning 1): the descriptor is made non-blocking for the call, so
 * no write(2) can wait past it.
 */
int output_write(struct output *o, const char *p, size_t n, size_t *done,
    int grace_ms);

/*
 * Finish: with -o, fsync and merge FILE.partial into FILE, and keep of the
 * journal only what lies beyond FILE's records.
 */
void output_close(struct output *o);

/*
 * Read one record line: its custom_id into id; returns 1 for a success,
 * 0 for any other record, -1 if the line is not a record.
 */
int record_parse(const char *line, size_t len, struct buf *id);

/* The same, and the request digest the record's id names into digest
 * ("" when it names none), if digest is not NULL. */
int record_read(const char *line, size_t len, struct buf *id,
    char digest[DIGEST_HEX + 1]);

#endif
