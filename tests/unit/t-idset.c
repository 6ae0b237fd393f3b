/* The custom_id set: exact on many ids, made-up ids, growth. */
#include <stdio.h>

#include "idset.h"
#include "unit.h"

int main(void)
{
	struct idset s;
	char id[32];
	int i, n, missed = 0, false_dups = 0;

	idset_init(&s);
	for (i = 0; i < 300000; i++) {
		n = snprintf(id, sizeof(id), "p-%d", i);
		false_dups += idset_add_user(&s, id, n);
	}
	CHECK_INT(false_dups, 0, "300,000 different ids: none taken for a duplicate");
	for (i = 0; i < 300000; i += 7) {
		n = snprintf(id, sizeof(id), "p-%d", i);
		missed += !idset_add_user(&s, id, n);
	}
	CHECK_INT(missed, 0, "every one of them seen again is a duplicate");
	CHECK_INT(s.count, 300000, "each stored once");
	{
		size_t slots = 0, full = 0, worst = 0;
		unsigned k;

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
	}
	CHECK(!idset_add_auto(&s, 5), "a made-up id line-5 is new");
	CHECK(idset_add_user(&s, "line-5", 6), "... and a user id line-5 after it is a duplicate");
	CHECK(!idset_add_user(&s, "line-9", 6), "a user id line-9 first");
	CHECK(idset_add_auto(&s, 9), "... makes line 9's made-up id a duplicate");
	CHECK(!idset_add_user(&s, "line-09", 7), "line-09 is not line 9's id");
	idset_free(&s);
	return unit_done();
}
