/*
 * evstream.h: the text/event-stream line parser (server-sent events), as
 * the WHATWG standard has it, cut from what the events mean (sse.h).
 *
 * It is incremental: evstream_feed() takes the body in whatever pieces
 * the network delivers, split anywhere (inside a line, inside a CR LF),
 * and the events are the same as when it is fed whole.  A UTF-8 BOM at
 * the stream's start is skipped, as the standard says.  Lines end with
 * LF, CR LF or CR; a line that starts with ':' is a comment (a
 * keep-alive), dropped as it comes however long it is; "data:" lines
 * accumulate (one leading space stripped, several joined with LF);
 * "event:" names the event (its first 128 bytes); "error:" (llama-
 * server's) is a data line of an event named "error"; "id:", "retry:"
 * and unknown fields mean nothing here; an empty line dispatches the event
 * to the handler, if it has data.
 *
 * Memory: one unterminated line and one event's data, each bounded by
 * max_size.  Buffers are kept across evstream_reset().
 */
#ifndef SPLITGPT_EVSTREAM_H
#define SPLITGPT_EVSTREAM_H

#include <stddef.h>	/* size_t */

#include "util.h"	/* struct buf */

/*
 * Called with each event: its type ("" when it named none) and its data
 * (n bytes, NUL-terminated, without the last LF), both valid for the
 * call only.  Returns 0 to go on, non-zero to stop the feed.
 */
typedef int evstream_handler(void *arg, const char *event, const char *data,
    size_t n);

enum evstream_status {
	EVS_MORE,		/* all was read: feed more */
	EVS_STOPPED,		/* the handler asked to stop */
	EVS_LINE_TOO_LARGE,	/* a line passed max_size */
	EVS_EVENT_TOO_LARGE	/* an event's data passed max_size */
};

struct evstream {
	size_t max_size;
	evstream_handler *handler;
	void *arg;
	struct buf line;	/* an unterminated line */
	unsigned bom;		/* bytes of a leading BOM seen; 3: past it */
	int cr;			/* the last line ended in CR: skip an LF */
	int in_comment;		/* inside a comment line, dropped as it comes */
	struct buf data;	/* the event's data lines, each with an LF */
	struct buf event;	/* the event's type */
};

/* Start a parser that calls handler(arg, ...) for each event. */
void evstream_init(struct evstream *e, size_t max_size,
    evstream_handler *handler, void *arg);
/* Forget a pending line and event, for a new stream; keeps the memory. */
void evstream_reset(struct evstream *e);
/* Free the buffers. */
void evstream_free(struct evstream *e);

/*
 * Parse the next n bytes, dispatching each event they complete.  Stops
 * at the first status other than EVS_MORE and returns it; the parser
 * should then be reset before it is fed again.
 */
enum evstream_status evstream_feed(struct evstream *e, const char *p,
    size_t n);

/*
 * The body ended: a last line cut in the middle is dropped, as the
 * standard says, but a pending event whose lines all ended is dispatched
 * (the standard would drop it; some servers omit the final blank line).
 * Returns EVS_MORE, or EVS_STOPPED when the handler said so.
 */
enum evstream_status evstream_end(struct evstream *e);

/*
 * Whether a body that begins with p[0..n) is an event stream, for an
 * answer that did not say so in its Content-Type: after an optional UTF-8
 * BOM and white space, it starts with "data:", "event:", "id:", "retry:"
 * or ":" (a comment).  Returns 1 (yes, and *start is where the stream's
 * first line begins), 0 (no), or -1 (too short to tell yet: only a
 * BOM, white space and the start of such a word so far).
 */
int evstream_sniff(const char *p, size_t n, size_t *start);

#endif
