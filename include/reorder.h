/*
 * reorder.h: holds finished output lines until every earlier one is written.
 *
 * Sequence numbers count the non-blank input lines from 0.  The buffer is a
 * ring of slots indexed by seq modulo its size; it holds results whose seq
 * lies in [next, next + window), where next is the first line not yet
 * written.  The parent never hands out a line outside that window, so a put
 * never needs to grow the ring.  Each slot owns its bytes: worker results
 * stay deflated (compressed != 0) until they are written; the parent's own
 * error records are small and stored as they are.
 *
 * A second result for a seq that is already held, or already written, is
 * refused: that is how a result from a worker that died after sending it is
 * never written twice.
 */
#ifndef SPLITGPT_REORDER_H
#define SPLITGPT_REORDER_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */

struct reorder_slot {
	char *data;
	size_t len;	/* bytes held */
	size_t rawlen;	/* bytes once inflated */
	int used;
	int compressed;
	unsigned char tag;	/* the caller's: what the record says */
};

struct reorder {
	struct reorder_slot *slots;
	size_t size;	/* a power of two >= window */
	size_t window;
	uint64_t next;	/* first seq not yet taken */
	size_t count;	/* slots in use */
	size_t bytes;	/* sum of len over used slots */
};

void reorder_init(struct reorder *r, size_t window);
void reorder_free(struct reorder *r);

/*
 * Store a result, taking ownership of data (malloc'd), with a tag that
 * comes back with it.  Returns 0, or -1 (data freed) when seq was written
 * already, is held already, or lies beyond the window.
 */
int reorder_put(struct reorder *r, uint64_t seq, char *data, size_t len,
    size_t rawlen, int compressed, unsigned char tag);

/* Whether the result for seq has been stored or written already. */
int reorder_has(const struct reorder *r, uint64_t seq);

/*
 * If the next result is there, move it to *out (the caller frees out->data)
 * and advance next; returns 1, or 0 when the next one is still missing.
 */
int reorder_take(struct reorder *r, struct reorder_slot *out);

#endif
