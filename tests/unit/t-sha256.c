/* SHA-256 against the FIPS 180-4 examples, fed whole and in pieces,
 * and the request digest built on it. */
#include <stdlib.h>

#include "api.h"
#include "sha256.h"
#include "unit.h"

static void hex(const unsigned char d[32], char out[65])
{
	int i;

	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The digest of p, fed in pieces of step bytes (0: whole). */
static void digest(const char *p, size_t n, size_t step, char out[65])
{
	struct sha256 s;
	unsigned char d[32];
	size_t i;

	sha256_init(&s);
	if (step == 0)
		sha256_update(&s, p, n);
	else
		for (i = 0; i < n; i += step)
			sha256_update(&s, p + i, n - i < step ? n - i : step);
	sha256_final(&s, d);
	hex(d, out);
}

static const struct {
	const char *in, *want;
} vec[] = {
	{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
};

int main(void)
{
	char got[65], hx[DIGEST_HEX + 1], hy[DIGEST_HEX + 1];
	size_t i, steps[] = { 0, 1, 3, 63, 64, 65 };
	char *million = malloc(1000000);
	unsigned k;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++)
		for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			digest(vec[i].in, strlen(vec[i].in), steps[k], got);
			CHECK_STR(got, vec[i].want, "FIPS vector %zu, pieces "
			    "of %zu", i, steps[k]);
		}
	memset(million, 'a', 1000000);
	digest(million, 1000000, 4096, got);
	CHECK_STR(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	    "a million a's");
	free(million);

	request_digest("/v1/chat/completions", 20, "{}", 2, 0, hx);
	CHECK_INT(strlen(hx), DIGEST_HEX, "the request digest is %d hex digits",
	    DIGEST_HEX);
	CHECK(strspn(hx, "0123456789abcdef") == DIGEST_HEX,
	    "... lower-case hex");
	request_digest("/v1/chat/completions", 20, "{}", 2, 0, hy);
	CHECK_STR(hy, hx, "the same request, the same digest");
	request_digest("/v1/completions", 15, "{}", 2, 0, hy);
	CHECK(strcmp(hx, hy) != 0, "another path, another digest");
	request_digest("/v1/chat/completions", 20, "{ }", 3, 0, hy);
	CHECK(strcmp(hx, hy) != 0, "another body, another digest");
	request_digest("/v1/chat/completions", 20, "{}", 2, 1, hy);
	CHECK(strcmp(hx, hy) != 0, "streamed, another digest");
	request_digest("/v1/chat/completion", 19, "s{}", 3, 0, hy);
	CHECK(strcmp(hx, hy) != 0, "path and body are not run together");
	return unit_done();
}
