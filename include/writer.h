/*
 * writer.h: the only door into the output.  Every record, whether a
 * worker's result, an error record the parent makes, or a success taken
 * from the -o file on --resume, enters through writer_put or writer_error,
 * into the reorder ring (reorder.h); writer_flush writes every record whose
 * predecessors are all written, in input order, and counts each in the
 * stats once it is written.  The writer also keeps the --joblog file and,
 * with -o, the journal of successes that wait for earlier lines.
 */
#ifndef SPLITGPT_WRITER_H
#define SPLITGPT_WRITER_H

#include <stdint.h>	/* uint64_t */
#include <zlib.h>	/* z_stream */

#include "config.h"	/* struct config */
#include "frame.h"	/* struct msg_result */
#include "output.h"	/* struct output */
#include "record.h"	/* enum errcode */
#include "reorder.h"	/* struct reorder */
#include "stats.h"	/* struct stats */
#include "util.h"	/* struct buf */

struct writer {
	const struct config *cfg;
	struct stats *st;	/* where written records are counted */
	struct reorder ring;
	struct output sink;	/* standard output, or -o FILE */
	struct buf out;		/* output waiting for one write */
	size_t out_off;		/* how much of it is written */
	struct buf out_tags;	/* its records' tags, one byte each */
	z_stream z;		/* inflates results */
	struct buf scratch;	/* an inflated result, for the journal */
	int joblog_fd;		/* -1: no job log */
	int no_errors;		/* --emit-requests: an error record is not
				 * written (the line is counted, and named
				 * on stderr) */
	struct buf jl;		/* job log lines waiting */
	uint64_t changed;	/* --resume: lines whose record was for
				 * another request */
	uint64_t id_only;	/* ... successes kept by custom_id alone */
};

/* Open the output (-o, --resume) and the job log; counts go to st. */
void writer_init(struct writer *wr, const struct config *cfg,
    struct stats *st);

/* Whether line seq may be handed out now: the memory bound (main.c). */
int writer_room(const struct writer *wr, uint64_t seq);

/* Whether line seq is the next to be written. */
int writer_is_next(const struct writer *wr, uint64_t seq);

/* Whether line seq's record is in (or already written). */
int writer_has(const struct writer *wr, uint64_t seq);

/* Queue line seq's record; data (len bytes; rawlen once inflated, if
 * compressed) is taken over; tag says what it is (stats_tag).  A second
 * record for a line is dropped with a warning: it cannot happen. */
void writer_put(struct writer *wr, uint64_t seq, char *data, size_t len,
    size_t rawlen, int compressed, unsigned char tag);

/* An error record made by the parent for the line ref names (its
 * custom_id, digest and metadata), with its job log line. */
void writer_error(struct writer *wr, const struct record_ref *ref,
    uint64_t lineno, enum errcode code, const char *message,
    unsigned attempts);

/* --cache: line ref->seq's record rec (len bytes, taken over), an
 * answer with this status from the cache; journaled and logged as a
 * worker's success is. */
void writer_cached(struct writer *wr, const struct record_ref *ref,
    char *rec, size_t len, unsigned status,
    unsigned long long prompt_tokens, unsigned long long completion_tokens);

/* With --resume, for every line in order: line ln's success kept from
 * FILE (or its journal) for this custom_id and request, if it has one and
 * use is set (the line is a request now: a duplicate custom_id stays a
 * duplicate): 1 and it is queued, else 0; *m says how its record compared
 * (output.h).  A usage error (exit 2) if FILE is not this input's output.
 * writer_close says on stderr how many lines changed their request, and
 * how many successes were kept by custom_id alone. */
int writer_reuse(struct writer *wr, const struct reuse_line *ln, int use,
    enum reuse_match *m);

/* A success that must wait for earlier lines: with -o, journal it, so a
 * kill does not lose it. */
void writer_journal(struct writer *wr, uint64_t seq,
    const struct msg_result *m);

/* A job log line for a finished request. */
void writer_log(struct writer *wr, uint64_t seq, const char *id,
    size_t idlen, const struct msg_result *m);

/*
 * Write every record whose predecessors are all written; how many were
 * taken from the ring, or -1 when the reader of standard output is gone
 * (EPIPE: the caller leaves as cat(1) does).  A waiting signal stops it
 * early; what is left goes first at the next call.
 */
long writer_flush(struct writer *wr);

/* Bytes not yet written, taken from the ring. */
size_t writer_pending(const struct writer *wr);

/*
 * Aborting: end the output with the record being written, if one was cut,
 * so it holds whole records only; the rest is dropped.  A reader that
 * reads nothing gets grace_ms for that, and a further signal stops it at
 * once: then the output ends cut, and stderr says so.
 */
void writer_abort(struct writer *wr, int grace_ms);

/* Whether writing may wait on a reader (a pipe or terminal). */
int writer_may_block(const struct writer *wr);

/* Close the output (merging -o FILE) and the job log.  With resume_done
 * (--resume, and the input all read), refuse a FILE with more records
 * than the input had lines. */
void writer_close(struct writer *wr, int resume_done);

#endif
