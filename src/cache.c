/* cache.c: the answer cache in SQLite (cache.h). */
#include "cache.h"

#include <sqlite3.h>	/* sqlite3_* */
#include <stdio.h>	/* snprintf */
#include <string.h>	/* strlen */
#include <time.h>	/* time */
#include <unistd.h>	/* getpid */
#include <zlib.h>	/* compress2, uncompress */

#define BUSY_MS 30000		/* another process's write, at most */
#define PAGE_CACHE_KB 2048	/* SQLite's page cache, per connection */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS splitgpt_cache(version INTEGER NOT NULL);"
    "INSERT INTO splitgpt_cache SELECT 1 WHERE NOT EXISTS "
    "(SELECT 1 FROM splitgpt_cache);"
    "CREATE TABLE IF NOT EXISTS answers("
    "digest TEXT PRIMARY KEY NOT NULL,"	/* request_digest, 32 hex */
    "status INTEGER NOT NULL,"
    "request_id TEXT,"			/* NULL: the server sent none */
    "rawlen INTEGER NOT NULL,"		/* the body's length inflated */
    "body BLOB NOT NULL,"		/* zlib (compress2) */
    "stored INTEGER NOT NULL)";		/* Unix time */

/* This process's connection (cache.h). */
static struct {
	sqlite3 *db;
	sqlite3_stmt *get, *put;
	pid_t pid;
} conn;

static int fail(struct buf *why, sqlite3 *db, const char *what)
{
	buf_reset(why);
	buf_addf(why, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

/* A single integer from sql, or -1 (and why) on an error. */
static long long one_int(sqlite3 *db, const char *sql, struct buf *why)
{
	sqlite3_stmt *st;
	long long v = -1;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(why, db, "reading it");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		(void)fail(why, db, "reading it");
	else
		v = 0;
	sqlite3_finalize(st);
	return v;
}

/* The schema: made in an empty database we may write to, else checked. */
static int schema_check(sqlite3 *db, int readonly, struct buf *why)
{
	long long ours, tables, version;

	if ((tables = one_int(db, "SELECT count(*) FROM sqlite_master",
	    why)) < 0)
		return -1;
	if (tables == 0 && !readonly) {
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0) != SQLITE_OK)
			return fail(why, db, "setting it up");
		if ((tables = one_int(db, "SELECT count(*) FROM sqlite_master",
		    why)) == 0 && sqlite3_exec(db, schema, 0, 0, 0) !=
		    SQLITE_OK) {
			(void)fail(why, db, "setting it up");
			tables = -1;
		}
		if (sqlite3_exec(db, tables < 0 ? "ROLLBACK" : "COMMIT", 0, 0,
		    0) != SQLITE_OK && tables >= 0)
			return fail(why, db, "setting it up");
		if (tables < 0)
			return -1;
	}
	if ((ours = one_int(db, "SELECT count(*) FROM sqlite_master WHERE "
	    "name = 'splitgpt_cache'", why)) < 0)
		return -1;
	if (ours == 0) {
		buf_reset(why);
		buf_adds(why, tables == 0 ? "an empty database, and read-only" :
		    "an SQLite database, but not a splitgpt cache");
		return -1;
	}
	if ((version = one_int(db, "SELECT max(version) FROM splitgpt_cache",
	    why)) < 0)
		return -1;
	if (version != CACHE_VERSION) {
		buf_reset(why);
		buf_addf(why, "a cache of version %lld; this splitgpt reads "
		    "version %d", version, CACHE_VERSION);
		return -1;
	}
	return 0;
}

static void conn_close(void)
{
	if (conn.db && conn.pid == getpid()) {
		sqlite3_finalize(conn.get);
		sqlite3_finalize(conn.put);
		sqlite3_close(conn.db);
	}
	/* else a copy across a fork, never to be touched */
	conn.db = NULL;
	conn.get = conn.put = NULL;
}

/* This process's connection, opened on first use; 0, or -1 and why. */
static int conn_open(const struct config *cfg, struct buf *why)
{
	int ro = cfg->cache_readonly;
	int flags = ro ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	char pragmas[128];

	if (conn.db && conn.pid == getpid())
		return 0;
	conn_close();
	buf_reset(why);
	conn.pid = getpid();
	if (sqlite3_open_v2(cfg->cache_path, &conn.db, flags, NULL) !=
	    SQLITE_OK) {
		(void)fail(why, conn.db, ro ? "opening it read-only "
		    "(--no-cache-write)" : "opening it");
		conn_close();
		return -1;
	}
	sqlite3_busy_timeout(conn.db, BUSY_MS);
	snprintf(pragmas, sizeof(pragmas), "PRAGMA cache_size = -%d;%s",
	    PAGE_CACHE_KB, ro ? "" :
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
	if (sqlite3_exec(conn.db, pragmas, 0, 0, 0) != SQLITE_OK) {
		(void)fail(why, conn.db, "opening it");
		conn_close();
		return -1;
	}
	if (schema_check(conn.db, ro, why) < 0 ||
	    sqlite3_prepare_v2(conn.db, "SELECT status, request_id, rawlen, "
	    "body FROM answers WHERE digest = ?", -1, &conn.get, NULL) !=
	    SQLITE_OK || (!ro && sqlite3_prepare_v2(conn.db, "INSERT OR "
	    "IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?)", -1, &conn.put,
	    NULL) != SQLITE_OK)) {
		if (!why->len)
			(void)fail(why, conn.db, "reading it");
		conn_close();
		return -1;
	}
	return 0;
}

int cache_check(const struct config *cfg, struct buf *why)
{
	buf_reset(why);
	return conn_open(cfg, why);
}

void cache_prefork(void)
{
	conn_close();
}

void cache_hit_free(struct cache_hit *hit)
{
	buf_release(&hit->request_id);
	buf_release(&hit->body);
}

/* Inflate the row's body into hit->body: 0, or -1. */
static int unpack(sqlite3_stmt *st, struct cache_hit *hit)
{
	const void *z = sqlite3_column_blob(st, 3);
	int zlen = sqlite3_column_bytes(st, 3);
	sqlite3_int64 raw = sqlite3_column_int64(st, 2);
	uLongf n = (uLongf)raw;

	if (raw <= 0 || raw > (sqlite3_int64)1 << 32 || z == NULL)
		return -1;
	buf_reset(&hit->body);
	buf_grow(&hit->body, (size_t)raw);
	if (uncompress((Bytef *)hit->body.data, &n, z, (uLong)zlen) != Z_OK ||
	    n != (uLongf)raw)
		return -1;
	hit->body.len = n;
	hit->body.data[n] = '\0';
	return 0;
}

int cache_get(const struct config *cfg, const char *digest,
    struct cache_hit *hit, struct buf *why)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	if (conn_open(cfg, why) < 0)
		return -1;
	st = conn.get;
	sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *rid = sqlite3_column_text(st, 1);

		hit->status = (long)sqlite3_column_int64(st, 0);
		buf_reset(&hit->request_id);
		if (rid)
			buf_adds(&hit->request_id, (const char *)rid);
		r = 1;
		if (unpack(st, hit) < 0) {
			buf_reset(why);
			buf_addf(why, "the answer stored for %s does not "
			    "inflate", digest);
			r = -1;
		}
	} else if (rc != SQLITE_DONE) {
		r = fail(why, conn.db, "reading it");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

int cache_put(const struct config *cfg, const char *digest, long status,
    const char *request_id, const char *body, size_t bodylen,
    struct buf *why)
{
	struct buf z = { 0 };
	uLongf zlen = compressBound((uLong)bodylen);
	sqlite3_stmt *st;
	int r = 0;

	if (conn_open(cfg, why) < 0)
		return -1;
	buf_grow(&z, zlen);
	if (compress2((Bytef *)z.data, &zlen, (const Bytef *)body,
	    (uLong)bodylen, Z_DEFAULT_COMPRESSION) != Z_OK) {
		buf_release(&z);
		buf_reset(why);
		buf_adds(why, "deflate failed");
		return -1;
	}
	st = conn.put;
	sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, status);
	if (request_id && *request_id)
		sqlite3_bind_text(st, 3, request_id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)bodylen);
	sqlite3_bind_blob(st, 5, z.data, (int)zlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		r = fail(why, conn.db, "storing an answer");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	buf_release(&z);
	return r;
}
