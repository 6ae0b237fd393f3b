/* idset.c: the set of custom_ids seen so far. */
#include "idset.h"

#include <stdio.h>	/* snprintf */
#include <stdlib.h>	/* free */
#include <string.h>	/* memset */

#include "util.h"	/* xcalloc, hash64 */

void idset_init(struct idset *s)
{
	memset(s, 0, sizeof(*s));
}

void idset_free(struct idset *s)
{
	size_t i;

	for (i = 0; s->b != NULL && i < IDSET_BUCKETS; i++)
		free(s->b[i].slots);
	free(s->b);
	free(s->autobits);
	memset(s, 0, sizeof(*s));
}

static uint64_t fingerprint(const char *id, size_t n)
{
	uint64_t h = hash64(id, n);

	/* splitmix64's finaliser spreads FNV's low bits over the table. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h ? h : 1;
}

/*
 * The fingerprints are spread over IDSET_BUCKETS small open-addressing
 * tables by their top bits, and each table grows on its own, by half,
 * when it is 4/5 full.  So growth never holds two copies of the whole set
 * (a single table's growth did: 27 bytes an id at that moment), and the
 * set costs 10 to 15 bytes an id however many there are.
 */
static struct idbucket *bucket(const struct idset *s, uint64_t fp)
{
	return &s->b[fp >> (64 - IDSET_BUCKET_BITS)];
}

/* The home slot within a bucket: the next 32 bits, scaled to its size. */
static size_t home(uint64_t fp, size_t size)
{
	return (size_t)((((fp >> (32 - IDSET_BUCKET_BITS)) & 0xffffffffu) *
	    (uint64_t)size) >> 32);
}

/* Where fp is in a table, or the empty slot where it would go. */
static size_t probe(const uint64_t *slots, size_t size, uint64_t fp)
{
	size_t i = home(fp, size);

	while (slots[i] && slots[i] != fp)
		if (++i == size)
			i = 0;
	return i;
}

static int table_insert(uint64_t *slots, size_t size, uint64_t fp)
{
	size_t i = probe(slots, size, fp);

	if (slots[i])
		return 1;
	slots[i] = fp;
	return 0;
}

static int table_has(const struct idset *s, uint64_t fp)
{
	const struct idbucket *b;

	if (s->b == NULL || (b = bucket(s, fp))->size == 0)
		return 0;
	return b->slots[probe(b->slots, b->size, fp)] == fp;
}

static void bucket_grow(struct idbucket *b)
{
	size_t size = b->size ? b->size + b->size / 2 : 8, i;
	uint64_t *slots = xcalloc(size, sizeof(*slots));

	for (i = 0; i < b->size; i++)
		if (b->slots[i])
			table_insert(slots, size, b->slots[i]);
	free(b->slots);
	b->slots = slots;
	b->size = (uint32_t)size;
}

/* The N of an id "line-N" (N without leading zeros), or 0. */
static uint64_t linelike(const char *id, size_t n)
{
	uint64_t v = 0;
	size_t i;

	if (n < 6 || n > 25 || memcmp(id, "line-", 5) != 0 || id[5] == '0')
		return 0;
	for (i = 5; i < n; i++) {
		if (id[i] < '0' || id[i] > '9')
			return 0;
		v = v * 10 + (id[i] - '0');
	}
	return v;
}

static int autobit(const struct idset *s, uint64_t lineno)
{
	return lineno / 8 < s->autobytes &&
	    (s->autobits[lineno / 8] >> (lineno % 8) & 1);
}

int idset_add_user(struct idset *s, const char *id, size_t n)
{
	uint64_t k = linelike(id, n), fp = fingerprint(id, n);
	struct idbucket *b;

	if (k && autobit(s, k))
		return 1;
	if (s->b == NULL)
		s->b = xcalloc(IDSET_BUCKETS, sizeof(*s->b));
	b = bucket(s, fp);
	if (((uint64_t)b->count + 1) * 5 > (uint64_t)b->size * 4)
		bucket_grow(b);
	if (table_insert(b->slots, b->size, fp))
		return 1;
	b->count++;
	s->count++;
	if (k)
		s->linelike++;
	return 0;
}

int idset_add_auto(struct idset *s, uint64_t lineno)
{
	if (lineno / 8 >= s->autobytes) {
		size_t nb = s->autobytes ? s->autobytes : 1024;

		while (nb <= lineno / 8)
			nb *= 2;
		s->autobits = xrealloc(s->autobits, nb);
		memset(s->autobits + s->autobytes, 0, nb - s->autobytes);
		s->autobytes = nb;
	}
	s->autobits[lineno / 8] |= 1 << (lineno % 8);
	if (s->linelike) {
		char id[32];
		int n = snprintf(id, sizeof(id), "line-%llu",
		    (unsigned long long)lineno);

		return table_has(s, fingerprint(id, n));
	}
	return 0;
}
