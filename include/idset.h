/*
 * idset.h: remembers every custom_id of the run, to refuse duplicates.
 *
 * Exact detection of a duplicate in a stream needs memory for every id, so
 * this keeps as little as it can.
 *
 * Counters.  Most inputs number their ids: request-1, request-2, ... or
 * task-000001, ...  An id that ends in 1 to 19 digits is split into its
 * prefix (everything before the digits), its digit count and its value;
 * for each (prefix, digit count), up to IDSET_RUNS of them, the set keeps
 * one run of values lo..hi.  An id that is already in its run is a
 * duplicate; one that extends the run by one at either end is stored by
 * moving that end, in no memory at all.  Any other id goes to the table.
 * When a run grows to meet ids the table holds (ids that came a little
 * out of order), they move into the run, so a run is not stalled by one
 * id out of place.  Runs and table never hold the same id.
 *
 * Table.  Every other id costs an 8-byte fingerprint, in 4096 small
 * open-addressing tables, each at most 4/5 full and grown by half on its
 * own: 10 to 15 bytes an id, with no moment when the whole set is held
 * twice.  Two different ids share a fingerprint with odds of about
 * n*n/2^65 (1 in 36 million for a million ids); such a line would be
 * refused as a duplicate.
 *
 * Made-up ids.  Lines without an id get "line-N", one bit per line.  They
 * cannot collide with each other; they collide with a user's id only if
 * that id has the form line-N, which the bitmap answers for earlier lines
 * and the runs and table for later ones.
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

#define IDSET_RUNS 32		/* (prefix, digit count) pairs with a run */
#define IDSET_PREFIX_MAX 64	/* longer prefixes get no run */

struct idrun {
	char	*prefix;
	size_t	 plen;
	unsigned digits;	/* 1 to 19 */
	uint64_t lo, hi;	/* every value in lo..hi was seen */
};

struct idset {
	struct idbucket *b;	/* IDSET_BUCKETS of them, from the first id */
	struct idrun runs[IDSET_RUNS];
	unsigned nruns, last;	/* runs in use; the one used last */
	size_t count;		/* user ids stored, in runs or table */
	size_t tabled;		/* of which in the table */
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
