/*
 * input.h: reading input lines and turning each into a request.
 *
 * The line reader streams: it holds at most one partial line (up to the
 * line limit) plus one read's worth of bytes, whatever the input size.  It
 * reads with one read(2) per lr_fill call, so the parent can poll standard
 * input alongside its workers and never blocks on a slow producer while
 * results wait to be written.  Input that starts with the gzip magic is
 * inflated on the fly (concatenated members too); anything else is taken
 * as it is.  A line longer than the limit is not kept: the reader skips to
 * its end and reports it as too long, so memory stays bounded.
 *
 * The classifier (input_classify) decides what a line is -- a Batch API
 * request line, a bare request body, a {"prompt":...} object, a bare JSON
 * string, or with --text a plain-text prompt -- fills in the defaults the
 * user gave, and produces the request path, custom_id and JSON body.  A line
 * it can't use gets an error code and a message naming the line.
 */
#ifndef SPLITGPT_INPUT_H
#define SPLITGPT_INPUT_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */
#include <zlib.h>	/* z_stream */

#include "config.h"	/* struct config */
#include "record.h"	/* enum errcode */
#include "util.h"	/* struct buf */

struct linereader {
	int fd;
	size_t max_line;
	int mode;		/* 0 undecided, 1 plain, 2 gzip */
	int eof;		/* read(2) said end of file */
	int done;		/* every line handed out */
	int zerr;		/* the gzip stream was corrupt */
	int cut;		/* reading stopped before the input's end: a
				 * read error, or corrupt or truncated gzip */
	z_stream z;
	struct buf raw;		/* gzip bytes not yet inflated */
	struct buf text;	/* decoded bytes; text.data[pos..] unread */
	size_t pos;
	size_t scan;		/* text[pos..scan) holds no newline */
	uint64_t lineno;	/* physical line number of the last line */
	int skipping;		/* inside a line that is too long */
	size_t skipped;		/* its length so far */
};

struct line {
	const char *p;		/* valid until the next lr_ call */
	size_t len;		/* without the newline */
	uint64_t lineno;
	int too_long;		/* p is NULL and len the full length */
};

void lr_init(struct linereader *lr, int fd, size_t max_line);
void lr_free(struct linereader *lr);
/*
 * One read(2) from the descriptor: returns 1 when bytes came, 0 at end of
 * file, -1 when the read would block (EAGAIN) or was interrupted.  A read
 * error is reported and treated as end of file.
 */
int lr_fill(struct linereader *lr);
/*
 * Next line: 1 (filled *ln), 0 (need lr_fill), -1 (no more lines; lr->cut
 * tells whether that was the input's real end).
 */
int lr_next(struct linereader *lr, struct line *ln);

/* A blank line: nothing but spaces, tabs and CRs (or nothing at all). */
int line_is_blank(const char *s, size_t n);

/*
 * Count the non-blank lines of a regular file (gzip or not) with pread(2)
 * from offset 0, so the descriptor's position is left alone.  For the
 * progress line's total; holds no line in memory.
 */
uint64_t count_lines(int fd);

struct request {
	struct buf path;	/* e.g. /v1/chat/completions */
	struct buf custom_id;
	struct buf body;	/* serialised JSON object */
	int user_id;		/* custom_id came from the line */
	long long prompt_est;	/* estimated prompt tokens (ratelimit.h) */
	long long max_out;	/* max output tokens asked for, times n */
};

struct classifier;

struct classifier *classifier_new(const struct config *cfg);
void classifier_free(struct classifier *c);

/*
 * Turn one line into a request.  Returns ERR_NONE, or an error code with
 * the message in msg ("line N: ...").  Even on error req->custom_id is
 * filled (with line-N when the line named none).
 */
enum errcode input_classify(struct classifier *c, const char *line,
    size_t len, uint64_t lineno, struct request *req, struct buf *msg);

/* The record for a line too long to keep: its id is line-N. */
enum errcode input_too_long(struct classifier *c, uint64_t lineno,
    size_t len, struct request *req, struct buf *msg);

#endif
