/*
 * sha256.h: SHA-256 (FIPS 180-4), for the request digest: the name of
 * the exact request a line makes (record ids, --resume, --cache).
 */
#ifndef SPLITGPT_SHA256_H
#define SPLITGPT_SHA256_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint32_t, uint64_t */

struct sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes fed so far */
	unsigned char blk[64];	/* a block being filled */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
void sha256_final(struct sha256 *s, unsigned char out[32]);

#endif
