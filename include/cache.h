/*
 * cache.h: --cache PATH, the answer cache, an SQLite database that maps a
 * request digest (api.h: request_digest) to the successful answer it got:
 * the HTTP status, the server's request id and the body, deflated.
 *
 * Each process has its own connection, opened on first use: a worker
 * opens its own after the fork, and the parent closes its (cache_prefork)
 * before every fork, since an SQLite connection must never cross one.
 * The database is in WAL mode with synchronous=NORMAL and a busy timeout,
 * so several splitgpt processes may share it; a kill at any moment leaves
 * it whole.  Answers go in with INSERT OR IGNORE: the first stays.
 */
#ifndef SPLITGPT_CACHE_H
#define SPLITGPT_CACHE_H

#include "config.h"	/* struct config */
#include "util.h"	/* struct buf */

#define CACHE_VERSION 1	/* the schema's, in its version table */

/* An answer found. */
struct cache_hit {
	long status;
	struct buf request_id;	/* empty when the server sent none */
	struct buf body;	/* inflated, NUL-terminated */
};

/*
 * The parent, before anything is sent: open cfg->cache_path (read-only
 * with cfg->cache_readonly), creating the schema in a new or empty file
 * when it may write; 0, or -1 with why in why (not SQLite, another
 * schema or version, a missing file read-only).  The connection is
 * kept for cache_get.
 */
int cache_check(const struct config *cfg, struct buf *why);

/* The answer to the request with this digest: 1 (hit filled), 0 when
 * there is none, -1 on an error (why says it). */
int cache_get(const struct config *cfg, const char *digest,
    struct cache_hit *hit, struct buf *why);

/* Store an answer (body deflated); 0, or -1 with why (disk full, busy
 * too long). */
int cache_put(const struct config *cfg, const char *digest, long status,
    const char *request_id, const char *body, size_t bodylen,
    struct buf *why);

/* Close this process's connection, if open: before a fork, and at exit. */
void cache_prefork(void);

void cache_hit_free(struct cache_hit *hit);

#endif
