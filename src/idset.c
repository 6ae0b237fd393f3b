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
	for (i = 0; i < s->nruns; i++)
		free(s->runs[i].prefix);
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

	if (s->tabled == 0 || (b = bucket(s, fp))->size == 0)
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

static void table_add(struct idset *s, uint64_t fp)
{
	struct idbucket *b;

	if (s->b == NULL)
		s->b = xcalloc(IDSET_BUCKETS, sizeof(*s->b));
	b = bucket(s, fp);
	if (((uint64_t)b->count + 1) * 5 > (uint64_t)b->size * 4)
		bucket_grow(b);
	table_insert(b->slots, b->size, fp);
	b->count++;
	s->tabled++;
}

/*
 * Take fp out of the table if it is there (1), by backward shift: each
 * later entry of the cluster whose home is not between the hole and
 * itself moves into the hole, so every entry stays reachable from its
 * home slot without tombstones.
 */
static int table_del(struct idset *s, uint64_t fp)
{
	struct idbucket *b;
	size_t i, j, h;

	if (!table_has(s, fp))
		return 0;
	b = bucket(s, fp);
	i = j = probe(b->slots, b->size, fp);
	for (;;) {
		b->slots[i] = 0;
		for (;;) {
			if (++j == b->size)
				j = 0;
			if (b->slots[j] == 0) {
				b->count--;
				s->tabled--;
				return 1;
			}
			h = home(b->slots[j], b->size);
			if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
				break;
		}
		b->slots[i] = b->slots[j];
		i = j;
	}
}

/* An id split as prefix, then 1 to 19 digits with their value; digits is
 * 0 for an id that does not split so. */
struct idkey {
	const char *prefix;
	size_t plen;
	unsigned digits;
	uint64_t v;
};

static void split(const char *id, size_t n, struct idkey *k)
{
	size_t i = n;

	k->digits = 0;
	while (i > 0 && id[i - 1] >= '0' && id[i - 1] <= '9')
		i--;
	if (i == n || n - i > 19 || i > IDSET_PREFIX_MAX)
		return;
	k->prefix = id;
	k->plen = i;
	k->digits = (unsigned)(n - i);
	for (k->v = 0; i < n; i++)
		k->v = k->v * 10 + (uint64_t)(id[i] - '0');
}

static struct idrun *find_run(struct idset *s, const struct idkey *k)
{
	unsigned i;

	for (i = 0; i < s->nruns; i++) {
		unsigned j = (s->last + i) % s->nruns;
		struct idrun *r = &s->runs[j];

		if (r->digits == k->digits && r->plen == k->plen &&
		    memcmp(r->prefix, k->prefix, k->plen) == 0) {
			s->last = j;
			return r;
		}
	}
	return NULL;
}

/* The fingerprint of the id with run r's prefix and width, and value v. */
static uint64_t run_fingerprint(const struct idrun *r, uint64_t v)
{
	char id[IDSET_PREFIX_MAX + 19];
	size_t i = r->plen + r->digits;

	memcpy(id, r->prefix, r->plen);
	while (i > r->plen) {
		id[--i] = (char)('0' + v % 10);
		v /= 10;
	}
	return fingerprint(id, r->plen + r->digits);
}

/* The largest value of d digits. */
static uint64_t widest(unsigned d)
{
	uint64_t m = 1;

	while (d-- > 0)
		m *= 10;
	return m - 1;
}

/* Has the set got this user id, split as k, with fingerprint fp (in a
 * run or in the table)?  *run is the id's run, if it has one. */
static int has(struct idset *s, const struct idkey *k, uint64_t fp,
    struct idrun **run)
{
	*run = k->digits > 0 ? find_run(s, k) : NULL;
	if (*run != NULL && k->v >= (*run)->lo && k->v <= (*run)->hi)
		return 1;
	return table_has(s, fp);
}

/* Store a new id: in its run if it extends it, else in the table. */
static void store(struct idset *s, const struct idkey *k, struct idrun *r,
    uint64_t fp)
{
	if (k->digits > 0 && r == NULL && s->nruns < IDSET_RUNS) {
		/* No earlier id had this prefix and width: runs are never
		 * dropped, so there was room for one then too. */
		r = &s->runs[s->last = s->nruns++];
		r->prefix = xmemdup(k->prefix, k->plen);
		r->plen = k->plen;
		r->digits = k->digits;
		r->lo = r->hi = k->v;
	} else if (r != NULL && r->hi < widest(r->digits) &&
	    k->v == r->hi + 1) {
		r->hi = k->v;
		while (r->hi < widest(r->digits) &&
		    table_del(s, run_fingerprint(r, r->hi + 1)))
			r->hi++;
	} else if (r != NULL && r->lo > 0 && k->v == r->lo - 1) {
		r->lo = k->v;
		while (r->lo > 0 && table_del(s, run_fingerprint(r, r->lo - 1)))
			r->lo--;
	} else {
		table_add(s, fp);
	}
}

/* The N of an id "line-N", split as k (N without leading zeros; split
 * takes at most 19 digits, so N cannot wrap around), or 0. */
static uint64_t linelike(const struct idkey *k)
{
	if (k->digits == 0 || k->plen != 5 ||
	    memcmp(k->prefix, "line-", 5) != 0 || k->prefix[5] == '0')
		return 0;
	return k->v;
}

static int autobit(const struct idset *s, uint64_t lineno)
{
	return lineno / 8 < s->autobytes &&
	    (s->autobits[lineno / 8] >> (lineno % 8) & 1);
}

int idset_add_user(struct idset *s, const char *id, size_t n)
{
	uint64_t fp = fingerprint(id, n), k;
	struct idkey key;
	struct idrun *r;

	split(id, n, &key);
	k = linelike(&key);
	if (k && autobit(s, k))
		return 1;
	if (has(s, &key, fp, &r))
		return 1;
	store(s, &key, r, fp);
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
		struct idkey key;
		struct idrun *r;
		size_t n = (size_t)snprintf(id, sizeof(id), "line-%llu",
		    (unsigned long long)lineno);

		split(id, n, &key);
		return has(s, &key, fingerprint(id, n), &r);
	}
	return 0;
}
