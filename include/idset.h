/*
 * idset.h: remembers every custom_id of the run, to refuse duplicates.
 *
 * Exact detection of a duplicate in a stream needs memory for every id, so
 * this keeps as little as it can: an 8-byte fingerprint per id the input
 * named (in 4096 small open-addressing tables, each at most 4/5 full and
 * grown by half on its own: 10 to 15 bytes an id, with no moment when the
 * whole set is held twice), and one bit per line
 * for the lines whose id was made up as "line-N".  Made-up ids are not
 * stored, because they cannot collide with each other; they collide with a
 * user's id only if that id has the form line-N, which the bitmap answers
 * for earlier lines and the table for later ones.  Two different ids share
 * a fingerprint with odds of about n*n/2^65 (1 in 36 million for a million
 * ids); such a line would be refused as a duplicate.
 */
#ifndef SPLITGPT_IDSET_H
#define SPLITGPT_IDSET_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */

#define IDSET_BUCKET_BITS 12
#define IDSET_BUCKETS (1u << IDSET_BUCKET_BITS)

struct idbucket {
	uint64_t *slots;	/* 0: empty */
	uint32_t size;		/* slots; need not be a power of two */
	uint32_t count;
};

struct idset {
	struct idbucket *b;	/* IDSET_BUCKETS of them, from the first id */
	size_t count;
	size_t linelike;	/* stored ids of the form line-N */
	unsigned char *autobits;	/* bit N: line N has a made-up id */
	size_t autobytes;
};

void idset_init(struct idset *s);
void idset_free(struct idset *s);

/* Record an id the line named; returns 1 if it was seen before. */
int idset_add_user(struct idset *s, const char *id, size_t n);
/* Record that line lineno uses "line-<lineno>"; 1 if a user took it. */
int idset_add_auto(struct idset *s, uint64_t lineno);

#endif
