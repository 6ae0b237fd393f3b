/* The reorder ring: order, the window, duplicates. */
#include <stdlib.h>

#include "reorder.h"
#include "unit.h"
#include "util.h"

static char *s(const char *t)
{
	return xstrdup(t);
}

int main(void)
{
	struct reorder r;
	struct reorder_slot out;
	uint64_t order[] = { 3, 1, 0, 2, 5, 4 };
	char got[16] = "";
	size_t i, n = 0;

	reorder_init(&r, 6);
	CHECK(r.size == 8, "the ring rounds up to a power of two");
	CHECK(!reorder_take(&r, &out), "nothing to take at first");
	for (i = 0; i < 6; i++) {
		char t[2] = { (char)('a' + order[i]), 0 };

		CHECK(reorder_put(&r, order[i], s(t), 1, 1, 0, 0) == 0,
		    "put %llu", (unsigned long long)order[i]);
		while (reorder_take(&r, &out)) {
			got[n++] = out.data[0];
			free(out.data);
		}
	}
	CHECK_STR(got, "abcdef", "taken strictly in sequence order");
	CHECK(reorder_put(&r, 2, s("x"), 1, 1, 0, 0) < 0,
	    "a result for a written line is refused");
	CHECK(reorder_has(&r, 2), "and counts as had");
	CHECK(reorder_put(&r, 6 + 6, s("x"), 1, 1, 0, 0) < 0,
	    "beyond the window is refused");
	CHECK(reorder_put(&r, 7, s("x"), 1, 1, 0, 0) == 0, "in the window is kept");
	CHECK(reorder_put(&r, 7, s("y"), 1, 1, 0, 0) < 0, "a second result for it is refused");
	CHECK(reorder_has(&r, 7) && !reorder_has(&r, 6), "has() tells held from missing");
	CHECK_INT(r.bytes, 1, "bytes counts what is held");
	CHECK_INT(r.count, 1, "count too");
	CHECK(!reorder_take(&r, &out), "6 is missing, so 7 waits");
	reorder_put(&r, 6, s("w"), 1, 1, 0, 0);
	CHECK(reorder_take(&r, &out) && out.data[0] == 'w', "6 then");
	free(out.data);
	CHECK(reorder_take(&r, &out) && out.data[0] == 'x', "7, the first kept");
	free(out.data);
	CHECK_INT(r.bytes, 0, "bytes back to zero");

	/* Wrap around the ring many times. */
	for (i = 8; i < 8 + 1000; i++)
		reorder_put(&r, i, s("z"), 1, 1, 0, 0);
	n = 0;
	while (reorder_take(&r, &out)) {
		n++;
		free(out.data);
	}
	CHECK_INT(n, 6, "only the window's worth was held; the rest refused");
	reorder_free(&r);
	return unit_done();
}
