/*
 * fuzz-idset: the custom_id set (idset.h) against a plain set of strings.
 *
 * Input: a list of operations, read byte by byte until it runs out.  An
 * operation is a made-up id for line N (idset_add_auto) or a user id
 * (idset_add_user) built from the bytes: one of 48 prefixes (short ones,
 * "line-", the empty one, and one longer than IDSET_PREFIX_MAX), then 0 to
 * 20 digits, zero-padded, whose value is mostly small, so ids repeat,
 * count, come out of order, and change width as they would in a file.
 *
 * Checked besides memory safety and UB: every answer (new or duplicate)
 * is the one a plain set gives, where a user id line-N is also taken if
 * line N got its made-up id, and a made-up id if a user named it.  Two
 * different ids could share a fingerprint, but with at most a few
 * thousand ids the odds are below 1 in 10^12.
 */
#include <stdio.h>	/* snprintf */

#include "fuzz.h"
#include "idset.h"
#include "util.h"	/* hash64 */

#define MAX_OPS 4096
#define NBUCKETS 4096

/* The reference: strings in a chained hash table. */
struct ref {
	struct rent {
		struct rent *next;
		size_t n;
		char s[];
	} *b[NBUCKETS];
};

static struct rent **ref_find(struct ref *r, const char *s, size_t n)
{
	struct rent **e = &r->b[hash64(s, n) % NBUCKETS];

	while (*e != NULL && ((*e)->n != n || memcmp((*e)->s, s, n) != 0))
		e = &(*e)->next;
	return e;
}

/* 1 if s was in the set; else adds it and returns 0. */
static int ref_add(struct ref *r, const char *s, size_t n)
{
	struct rent **e = ref_find(r, s, n);

	if (*e != NULL)
		return 1;
	*e = malloc(sizeof(**e) + n);
	if (*e == NULL)
		abort();
	(*e)->next = NULL;
	(*e)->n = n;
	memcpy((*e)->s, s, n);
	return 0;
}

static int ref_has(struct ref *r, const char *s, size_t n)
{
	return *ref_find(r, s, n) != NULL;
}

static void ref_free(struct ref *r)
{
	size_t i;

	for (i = 0; i < NBUCKETS; i++)
		while (r->b[i] != NULL) {
			struct rent *e = r->b[i];

			r->b[i] = e->next;
			free(e);
		}
}

static const uint8_t *p, *end;

static unsigned byte(void)
{
	return p < end ? *p++ : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ref user, autos;	/* user ids; "line-N" made up */
	struct idset s;
	char id[IDSET_PREFIX_MAX + 64];
	int ops;

	idset_init(&s);
	p = data;
	end = data + size;
	for (ops = 0; p < end && ops < MAX_OPS; ops++) {
		unsigned op = byte(), digits, k;
		unsigned long long v;
		size_t n = 0;
		int got, want;

		if (op >= 0xf0) {
			/* A made-up id for line N: taken if a user named it. */
			unsigned long long line = 1 + byte() + 256ULL * (op & 3);

			n = (size_t)snprintf(id, sizeof(id), "line-%llu", line);
			want = ref_has(&user, id, n);
			ref_add(&autos, id, n);
			got = idset_add_auto(&s, line);
			FUZZ_CHECK(got == want, "made-up %.*s: set says %d, "
			    "reference %d", (int)n, id, got, want);
			continue;
		}
		k = op % 48;
		if (k == 0) {
			memcpy(id, "line-", 5);
			n = 5;
		} else if (k == 1) {
			n = 0;
		} else if (k == 2) {
			memset(id, 'L', IDSET_PREFIX_MAX + 1);
			n = IDSET_PREFIX_MAX + 1;
		} else {
			n = (size_t)snprintf(id, sizeof(id), "%c%s",
			    'a' + (int)(k % 26), k >= 26 ? "-x" : "-");
		}
		digits = byte() % 21;
		/* Mostly small values, so ids repeat and count. */
		v = byte();
		if (op & 0x40)
			v = v << 8 | byte();
		if ((op & 0xe0) == 0xe0)
			for (k = 0; k < 6; k++)
				v = v << 8 | byte();
		for (k = digits; k > 0; k--) {
			id[n + k - 1] = (char)('0' + v % 10);
			v /= 10;
		}
		n += digits;
		if (n == 0)
			id[n++] = '0';	/* ids are not empty */
		want = ref_has(&user, id, n);
		/* line-N with N as a made-up id would spell it */
		if (!want && ref_has(&autos, id, n))
			want = 1;
		if (!want)
			ref_add(&user, id, n);
		got = idset_add_user(&s, id, n);
		FUZZ_CHECK(got == want, "user id %.*s: set says %d, "
		    "reference %d", (int)n, id, got, want);
	}
	idset_free(&s);
	ref_free(&user);
	ref_free(&autos);
	return 0;
}
