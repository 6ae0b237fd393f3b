/* pack.c: output lines deflated for the parent (pack.h). */
#include "pack.h"

#include <string.h>	/* memset */

/* Below this many bytes a record goes stored (level 0): deflate's fixed
 * cost per stream, mostly building the block's Huffman codes, is about
 * 5 us at level 1 even for 400 bytes (a tenth of the workers' CPU in a
 * profile of short answers), and it would save a few hundred bytes that
 * the parent holds for a moment; storing costs 0.5 us, and the parent's
 * inflate of it is a copy. */
#define STORE_BELOW 1024
#define DEFLATE_LEVEL 1		/* for the rest */

void pack_init(struct packer *p)
{
	memset(p, 0, sizeof(*p));
	/* A record is one deflate stream, mostly of a few hundred bytes to
	 * a few KB.  memLevel 4 keeps the hash table and the pending buffer
	 * at 4 KB each, against 64 KB at the default 8, whose table every
	 * record's deflateReset clears: each worker holds 60 KB less.  The
	 * ratio is the same to 1% up to 20 KB records, 4% worse at 100 KB
	 * (level 1, windowBits 15 either way). */
	if (deflateInit2(&p->z, DEFLATE_LEVEL, Z_DEFLATED, 15, 4,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		die(EXIT_INTERNAL, "deflateInit failed");
	p->level = DEFLATE_LEVEL;
}

void pack_free(struct packer *p)
{
	deflateEnd(&p->z);
	buf_release(&p->out);
}

void pack(struct packer *p, const char *data, size_t len)
{
	int level = len < STORE_BELOW ? 0 : DEFLATE_LEVEL;
	/* 16 over: room for the empty block below, on an old zlib. */
	uLong bound = deflateBound(&p->z, len) + 16;

	buf_reset(&p->out);
	buf_grow(&p->out, bound);
	deflateReset(&p->z);
	p->z.next_out = (unsigned char *)p->out.data;
	p->z.avail_out = bound;
	p->z.avail_in = 0;
	/* Nothing has gone in since the reset, so zlib 1.2.12 and later
	 * flush nothing here; older ones may write an empty block, which
	 * goes at the start of this record's stream, where it is valid. */
	if (level != p->level) {
		if (deflateParams(&p->z, level, Z_DEFAULT_STRATEGY) != Z_OK)
			die(EXIT_INTERNAL, "deflateParams failed");
		p->level = level;
	}
	p->z.next_in = (unsigned char *)data;
	p->z.avail_in = len;
	if (deflate(&p->z, Z_FINISH) != Z_STREAM_END)
		die(EXIT_INTERNAL, "deflate failed");
	p->out.len = bound - p->z.avail_out;
}
