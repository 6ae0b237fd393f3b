/*
 * recall.h: the parent's side of --cache (cache.h).  A line whose request
 * is in the cache gets its record from there, with the line's own
 * custom_id, digest and metadata, and never reaches a worker or the
 * pacer.  A line whose request is already out (its leader, a line with
 * the same digest sent earlier in this run) waits for it, a follower:
 * when the leader's answer is stored, the followers are answered from the
 * cache; when it failed (or could not be stored), the first follower is
 * sent for real (the dispatcher takes it with recall_next) and leads the
 * rest.  Followers are lines handed out, so the window (--max-pending)
 * bounds them.  Without cache writes (--no-cache-write) nothing waits.
 */
#ifndef SPLITGPT_RECALL_H
#define SPLITGPT_RECALL_H

#include <stdint.h>	/* uint64_t */

#include "api.h"	/* DIGEST_HEX */
#include "cache.h"	/* struct cache_hit */
#include "classify.h"	/* struct request */
#include "util.h"	/* struct buf */

struct follower {
	uint64_t seq, lineno;
	char *id;		/* its custom_id */
	size_t idlen;
	char *meta;		/* its metadata, or NULL */
	size_t metalen;
};

/* A request out (or to be sent again), and the lines waiting on it. */
struct wait {
	char digest[DIGEST_HEX + 1];
	int led;		/* its leader, line leader_seq, is out */
	uint64_t leader_seq;
	struct buf path, body;	/* the request, to send a follower (kept
				 * once one waits) */
	long long prompt_est, max_out;
	struct follower *f;	/* a queue: f[head..nf) */
	size_t head, nf, capf;
};

struct recall {
	int on;			/* --cache */
	struct wait **w;	/* waits, in no order */
	size_t nw, capw;
	size_t leaderless;	/* waits with followers and no leader */
	struct cache_hit hit;
	struct buf content;	/* scratch for record_answer */
	struct buf why;
	struct json_tokener *tok;
	unsigned warned;	/* a failed lookup was said */
};

#endif
