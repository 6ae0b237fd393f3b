/* The custom_id set: exact on many ids, counters, made-up ids, growth. */
#include <stdio.h>
#include <string.h>

#include "idset.h"
#include "unit.h"

static int add(struct idset *s, const char *fmt, long long v)
{
	char id[128];
	int n = snprintf(id, sizeof(id), fmt, v);

	return idset_add_user(s, id, (size_t)n);
}

/* Add the ids fmt % v for v = from, from + step, ... up to (or down to)
 * to; count the new ones and the duplicates. */
static void add_range(struct idset *s, const char *fmt, long long from,
    long long to, long long step, int *fresh, int *dups)
{
	long long v;

	for (v = from; step > 0 ? v <= to : v >= to; v += step) {
		if (add(s, fmt, v))
			++*dups;
		else
			++*fresh;
	}
}

/* Add fmt's ids from..to, then every 7th again: exact both times. */
static void check_exact(struct idset *s, const char *fmt, long long from,
    long long to, const char *what)
{
	int fresh = 0, dups = 0;

	add_range(s, fmt, from, to, 1, &fresh, &dups);
	CHECK_INT(dups, 0, "%s: none taken for a duplicate", what);
	fresh = dups = 0;
	add_range(s, fmt, from, to, 7, &fresh, &dups);
	CHECK_INT(fresh, 0, "%s: every one seen again is a duplicate", what);
}

/* Ids that do not end in digits: all in the table. */
static void table_ids(void)
{
	struct idset s;
	size_t slots = 0, full = 0, worst = 0;
	unsigned k;

	idset_init(&s);
	check_exact(&s, "p-%lld-x", 0, 299999, "300,000 ids without digits");
	CHECK_INT(s.count, 300000, "each stored once");
	CHECK_INT(s.tabled, 300000, "... in the table");
	for (k = 0; k < IDSET_BUCKETS; k++) {
		slots += s.b[k].size;
		if (s.b[k].count * 5 > s.b[k].size * 4)
			full++;
		if (s.b[k].count > worst)
			worst = s.b[k].count;
	}
	CHECK_INT(full, 0, "no table is more than 4/5 full");
	CHECK(slots * 8 <= s.count * 16 + IDSET_BUCKETS * 64,
	    "at most 16 bytes an id (%zu slots)", slots);
	CHECK(worst < 3 * 300000 / IDSET_BUCKETS,
	    "the ids spread over the tables (at most %zu in one)", worst);
	idset_free(&s);
}

/* Numbered ids in order cost no table at all. */
static void counters(void)
{
	struct idset s;
	int fresh = 0, dups = 0;

	idset_init(&s);
	check_exact(&s, "request-%lld", 1, 300000,
	    "request-1 to request-300000");
	CHECK_INT(s.count, 300000, "each stored once");
	CHECK_INT(s.tabled, 0, "... none in the table");
	CHECK_INT(s.nruns, 6, "one run per digit count");
	CHECK(!add(&s, "request-%lld", 0), "request-0 extends the run down");
	CHECK(!add(&s, "request-%lld", 300001), "request-300001 extends it up");
	CHECK(add(&s, "request-%lld", 300001), "... and is then a duplicate");
	CHECK(!add(&s, "request-0%lld", 7), "request-07 is not request-7");
	CHECK(!add(&s, "%lld", 7), "7 is not request-7");
	CHECK(add(&s, "%lld", 7), "... and is itself remembered");
	idset_free(&s);

	idset_init(&s);
	fresh = dups = 0;
	add_range(&s, "task-%06lld", 1, 2000, 1, &fresh, &dups);
	add_range(&s, "task-%lld", 1, 2000, 1, &fresh, &dups);
	CHECK(fresh == 4000 && dups == 0,
	    "task-000001 and task-1 are different ids (%d new)", fresh);
	CHECK_INT(s.tabled, 0, "zero-padded counters are runs too");
	CHECK(add(&s, "task-%06lld", 1500), "task-001500 again is a duplicate");
	CHECK(!add(&s, "task-%05lld", 1500), "task-01500 is new");
	fresh = dups = 0;
	add_range(&s, "down-%lld", 5000, 1, -1, &fresh, &dups);
	CHECK(fresh == 5000 && s.tabled == 0,
	    "a counter that counts down is a run (%zu in the table)",
	    s.tabled);
	CHECK(!add(&s, "n-%lld", 999999999999999998LL) &&
	    !add(&s, "n-%lld", 999999999999999999LL) &&
	    add(&s, "n-%lld", 999999999999999999LL),
	    "a run can reach the largest value of its width");
	CHECK(!idset_add_user(&s, "n-9999999999999999999", 21) &&
	    idset_add_user(&s, "n-9999999999999999999", 21) &&
	    !idset_add_user(&s, "n-99999999999999999999", 22) &&
	    idset_add_user(&s, "n-99999999999999999999", 22),
	    "19 digits are a run, 20 go to the table, both exact");
	idset_free(&s);
}

/* Ids a little out of order: the table holds them until the run meets
 * them, then gives them up. */
static void out_of_order(void)
{
	struct idset s;
	int fresh = 0, dups = 0;
	long long v;

	idset_init(&s);
	for (v = 1; v <= 10000; v += 2) {
		fresh += !add(&s, "r-%lld", v + 1);
		fresh += !add(&s, "r-%lld", v);
	}
	CHECK_INT(fresh, 10000, "pairs swapped: every id new");
	CHECK_INT(s.tabled, 0, "... and none left in the table");
	fresh = 0;
	add_range(&s, "e-%lld", 2, 20000, 2, &fresh, &dups);
	CHECK(s.tabled > 9000, "every other id first: the table holds them "
	    "(%zu)", s.tabled);
	add_range(&s, "e-%lld", 1, 19999, 2, &fresh, &dups);
	CHECK(fresh == 20000 && dups == 0,
	    "then the rest: all 20,000 new (%d, %d)", fresh, dups);
	CHECK_INT(s.tabled, 0, "... and the runs took back all of the table");
	fresh = dups = 0;
	add_range(&s, "e-%lld", 1, 20000, 1, &fresh, &dups);
	CHECK_INT(fresh, 0, "every one of them again is a duplicate");
	CHECK(!add(&s, "e-%lld", 20001), "e-20001 is new");
	idset_free(&s);

	/* A shuffle: 1..50000 in the order i * 7919 mod 50021 (a prime). */
	idset_init(&s);
	fresh = dups = 0;
	for (v = 1; v < 50021; v++)
		if (add(&s, "s-%lld", v * 7919 % 50021))
			dups++;
	CHECK_INT(dups, 0, "50,020 ids in shuffled order: none a duplicate");
	CHECK_INT(s.count, 50020, "each stored once");
	add_range(&s, "s-%lld", 1, 50020, 3, &fresh, &dups);
	CHECK_INT(fresh, 0, "... every one seen again is a duplicate");
	idset_free(&s);
}

/* More (prefix, width) pairs than runs: the rest use the table. */
static void many_prefixes(void)
{
	struct idset s;
	char fmt[32];
	int i, fresh = 0, dups = 0;

	idset_init(&s);
	for (i = 0; i < IDSET_RUNS + 8; i++) {
		snprintf(fmt, sizeof(fmt), "k%d-%%lld", i);
		add_range(&s, fmt, 1, 9, 1, &fresh, &dups);
	}
	CHECK_INT(s.nruns, IDSET_RUNS, "runs stop at IDSET_RUNS");
	CHECK_INT(s.tabled, 8 * 9, "the other prefixes' ids are in the table");
	for (i = 0; i < IDSET_RUNS + 8; i++) {
		snprintf(fmt, sizeof(fmt), "k%d-%%lld", i);
		add_range(&s, fmt, 1, 9, 4, &fresh, &dups);
	}
	CHECK(fresh == (IDSET_RUNS + 8) * 9 && dups == (IDSET_RUNS + 8) * 3,
	    "exact either way (%d new, %d duplicates)", fresh, dups);
	{
		char id[IDSET_PREFIX_MAX + 8];

		memset(id, 'a', IDSET_PREFIX_MAX + 1);
		memcpy(id + IDSET_PREFIX_MAX + 1, "12", 3);
		CHECK(!idset_add_user(&s, id, strlen(id)) &&
		    idset_add_user(&s, id, strlen(id)),
		    "an id with a long prefix is kept in the table");
	}
	idset_free(&s);
}

static void made_up(void)
{
	struct idset s;

	idset_init(&s);
	CHECK(!idset_add_auto(&s, 5), "a made-up id line-5 is new");
	CHECK(idset_add_user(&s, "line-5", 6), "... and a user id line-5 after it is a duplicate");
	CHECK(!idset_add_user(&s, "line-9", 6), "a user id line-9 first");
	CHECK(idset_add_auto(&s, 9), "... makes line 9's made-up id a duplicate");
	CHECK(!idset_add_user(&s, "line-09", 7), "line-09 is not line 9's id");
	CHECK(!idset_add_user(&s, "line-10", 7) &&
	    !idset_add_user(&s, "line-x1", 7), "user ids line-10 and line-x1");
	CHECK(idset_add_auto(&s, 10) && !idset_add_auto(&s, 11),
	    "... line 10's made-up id is taken, line 11's is not");
	/* 2^64 + 1 would wrap around to 1 in 64 bits */
	CHECK(!idset_add_auto(&s, 1) &&
	    !idset_add_user(&s, "line-18446744073709551617", 25),
	    "line-18446744073709551617 is not line 1's id");
	idset_free(&s);
}

int main(void)
{
	table_ids();
	counters();
	out_of_order();
	many_prefixes();
	made_up();
	return unit_done();
}
