/*
 * fuzz.h: what the fuzz targets share.
 *
 * FUZZ_CHECK states a property the code under test promises; when it does
 * not hold the target prints what broke and aborts, which libFuzzer
 * reports as a crash (and saves the input), like a sanitizer error.
 */
#ifndef SPLITGPT_FUZZ_H
#define SPLITGPT_FUZZ_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint8_t */
#include <stdio.h>	/* fprintf */
#include <stdlib.h>	/* abort, malloc */
#include <string.h>	/* memcpy */

#define FUZZ_CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz: %s:%d: check failed: %s\nfuzz: ", \
		    __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fprintf(stderr, "\n"); \
		abort(); \
	} \
} while (0)

/*
 * A bug that was found and reported but is not fixed yet stops every
 * fuzzing run at once.  FUZZ_KNOWN="name1 name2" in the environment
 * waives the checks of those names (each target's comment lists its own)
 * so fuzzing can go on past them; make fuzz-regress never sets it.
 */
static inline int fuzz_known(const char *name)
{
	static const char *known;
	static int looked;
	const char *p;
	size_t n = strlen(name);

	if (!looked) {
		known = getenv("FUZZ_KNOWN");
		looked = 1;
	}
	for (p = known; p && (p = strstr(p, name)) != NULL; p += n)
		if ((p == known || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A copy of data[0..n) with a NUL after it, as a struct buf would hold. */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	if (n)
		memcpy(s, data, n);
	s[n] = 0;
	return s;
}

/* An exact-size copy, so ASan catches a read one byte past the end. */
static inline char *fuzz_memdup(const uint8_t *data, size_t n)
{
	char *s = malloc(n ? n : 1);

	if (s == NULL)
		abort();
	if (n)
		memcpy(s, data, n);
	return s;
}

#endif
