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
	CHECK(s.size * 3 >= s.count * 4, "the table stays at most 3/4 full");
	CHECK(s.size * 8 <= s.count * 16 + 8192, "at most 16 bytes an id (%zu slots)", s.size);
	CHECK(!idset_add_auto(&s, 5), "a made-up id line-5 is new");
	CHECK(idset_add_user(&s, "line-5", 6), "... and a user id line-5 after it is a duplicate");
	CHECK(!idset_add_user(&s, "line-9", 6), "a user id line-9 first");
	CHECK(idset_add_auto(&s, 9), "... makes line 9's made-up id a duplicate");
	CHECK(!idset_add_user(&s, "line-09", 7), "line-09 is not line 9's id");
	idset_free(&s);
	return unit_done();
}
