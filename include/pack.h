/*
 * pack.h: a worker's output line deflated for its result frame (frame.h):
 * one zlib stream per line, made with a deflate state kept for the
 * worker's life.  Short lines go stored: the parent's inflate of them
 * is a copy.
 */
#ifndef SPLITGPT_PACK_H
#define SPLITGPT_PACK_H

#include <stddef.h>	/* size_t */
#include <zlib.h>	/* z_stream */

#include "util.h"	/* struct buf */

struct packer {
	z_stream z;
	int level;		/* the level z is set to */
	struct buf out;		/* the last line packed */
};

/* Set up; dies when zlib cannot. */
void pack_init(struct packer *p);
void pack_free(struct packer *p);

/* Deflate [data, data + len) as one zlib stream into p->out. */
void pack(struct packer *p, const char *data, size_t len);

#endif
