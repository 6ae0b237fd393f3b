/* output.c: standard output, or -o FILE through FILE.partial; resuming. */
#include "output.h"

#include <errno.h>	/* errno, ENOENT */
#include <fcntl.h>	/* open */
#include <json-c/json.h>	/* reading records back */
#include <stdlib.h>	/* free */
#include <string.h>	/* strlen */
#include <unistd.h>	/* fsync, rename, unlink */

#include "jsoncheck.h"	/* json_check */

struct jentry {
	uint64_t fp;	/* 0: empty */
	uint64_t off;	/* where the record starts in the journal */
};

static uint64_t id_fp(const char *id, size_t n)
{
	uint64_t h = hash64(id, n);

	return h ? h : 1;
}

int record_parse(const char *line, size_t len, struct buf *id)
{
	struct json_problem p;
	json_tokener *tok;
	json_object *v, *x, *resp, *err;
	int rc = -1;

	buf_reset(id);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (json_check(line, len, 10000, &p) != '{')
		return -1;
	/* A record nests its body three levels down; json-c's default
	 * depth (32) would call a record with a deep body no record. */
	tok = json_tokener_new_ex(10001);
	if (tok == NULL)
		die("out of memory for the JSON parser");
	v = json_tokener_parse_ex(tok, line, (int)len);
	json_tokener_free(tok);
	if (v == NULL)
		return -1;
	if (json_object_object_get_ex(v, "custom_id", &x) &&
	    json_object_is_type(x, json_type_string)) {
		int status = 0;

		buf_add(id, json_object_get_string(x),
		    json_object_get_string_len(x));
		if (json_object_object_get_ex(v, "response", &resp) &&
		    json_object_object_get_ex(resp, "status_code", &x))
			status = json_object_get_int(x);
		err = NULL;
		json_object_object_get_ex(v, "error", &err);
		rc = status >= 200 && status < 300 && err == NULL;
	}
	json_object_put(v);
	return rc;
}

/* Read the next complete line of f into b; 0 at the end or a cut line. */
static int next_line(FILE *f, struct buf *b)
{
	int c;

	buf_reset(b);
	while ((c = getc(f)) != EOF) {
		buf_addc(b, (char)c);
		if (c == '\n')
			return 1;
	}
	return 0;	/* a line without its newline was cut short: drop it */
}

static void write_or_die(int fd, const char *path, const struct buf *b)
{
	if (write_full(fd, b->data, b->len) < 0)
		die_errno("%s", path);
}

/*
 * FILE := FILE.partial's complete records, then FILE's records beyond
 * them.  Both are in input order, so record i of each is for the same
 * line; ids are compared on the way, and on a difference FILE's tail is
 * dropped (the partial file is the newer knowledge).
 */
static void merge(const char *path, const char *partial)
{
	FILE *p = fopen(partial, "r"), *f;
	struct buf line = { 0 }, a = { 0 }, b = { 0 }, tmp = { 0 };
	uint64_t n = 0;
	int fd, same = 1;

	if (p == NULL) {
		if (errno == ENOENT)
			return;
		die_errno("%s", partial);
	}
	buf_addf(&tmp, "%s.tmp", path);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		die_errno("%s", tmp.data);
	f = fopen(path, "r");
	if (f == NULL && errno != ENOENT)
		die_errno("%s", path);
	while (next_line(p, &line)) {
		write_or_die(fd, tmp.data, &line);
		n++;
		if (f && same) {
			struct buf old = { 0 };

			if (!next_line(f, &old)) {
				fclose(f);
				f = NULL;
			} else {
				record_parse(line.data, line.len, &a);
				record_parse(old.data, old.len, &b);
				same = a.len == b.len &&
				    memcmp(a.data, b.data, a.len) == 0;
			}
			buf_release(&old);
		}
	}
	if (f && !same)
		warnx("%s: its records differ from %s's after record %llu; "
		    "keeping only the newer ones", path, partial,
		    (unsigned long long)n);
	while (f && same && next_line(f, &line))
		write_or_die(fd, tmp.data, &line);
	if (fsync(fd) < 0 || close(fd) < 0)
		die_errno("%s", tmp.data);
	if (rename(tmp.data, path) < 0)
		die_errno("renaming %s to %s", tmp.data, path);
	unlink(partial);
	if (f)
		fclose(f);
	fclose(p);
	buf_release(&line);
	buf_release(&a);
	buf_release(&b);
	buf_release(&tmp);
}

static void jmap_put(struct output *o, uint64_t fp, uint64_t off)
{
	size_t i;

	if ((o->jcount + 1) * 2 > o->jsize) {
		struct jentry *old = o->jmap;
		size_t n = o->jsize;

		o->jsize = n ? n * 2 : 256;
		o->jmap = xcalloc(o->jsize, sizeof(*o->jmap));
		o->jcount = 0;
		for (i = 0; i < n; i++)
			if (old[i].fp)
				jmap_put(o, old[i].fp, old[i].off);
		free(old);
	}
	for (i = fp & (o->jsize - 1); o->jmap[i].fp;
	    i = (i + 1) & (o->jsize - 1))
		if (o->jmap[i].fp == fp) {
			o->jmap[i].off = off;
			return;
		}
	o->jmap[i].fp = fp;
	o->jmap[i].off = off;
	o->jcount++;
}

/* Index the journal's successes left by a killed run. */
static void journal_index(struct output *o)
{
	FILE *f = fopen(o->journal_path, "r");
	uint64_t off = 0;

	if (f == NULL)
		return;
	while (next_line(f, &o->line)) {
		if (record_parse(o->line.data, o->line.len, &o->id) == 1)
			jmap_put(o, id_fp(o->id.data, o->id.len), off);
		off += o->line.len;
	}
	fclose(f);
}

/* A success for this custom_id from the journal, into rec; 1 if found. */
static int journal_find(struct output *o, const char *id, size_t idlen,
    struct buf *rec)
{
	uint64_t fp = id_fp(id, idlen);
	size_t i;
	FILE *f;
	int found = 0;

	if (o->jcount == 0)
		return 0;
	for (i = fp & (o->jsize - 1); o->jmap[i].fp;
	    i = (i + 1) & (o->jsize - 1))
		if (o->jmap[i].fp == fp)
			break;
	if (o->jmap[i].fp != fp || (f = fopen(o->journal_path, "r")) == NULL)
		return 0;
	if (fseeko(f, (off_t)o->jmap[i].off, SEEK_SET) == 0 &&
	    next_line(f, rec) &&
	    record_parse(rec->data, rec->len, &o->id) == 1 &&
	    o->id.len == idlen && memcmp(o->id.data, id, idlen) == 0)
		found = 1;
	fclose(f);
	return found;
}

void output_open(struct output *o, const char *path, int resume)
{
	struct buf b = { 0 };

	memset(o, 0, sizeof(*o));
	o->fd = 1;
	o->journal_fd = -1;
	o->path = path;
	if (path == NULL)
		return;
	buf_addf(&b, "%s.partial", path);
	o->partial = b.data;
	b.data = NULL;
	buf_release(&b);
	buf_addf(&b, "%s.journal", path);
	o->journal_path = b.data;
	if (resume) {
		merge(path, o->partial);
		o->old = fopen(path, "r");
		if (o->old == NULL && errno != ENOENT)
			die_errno("%s", path);
		journal_index(o);
	} else {
		/* A fresh start, like > in the shell. */
		unlink(path);
		unlink(o->journal_path);
	}
	o->fd = open(o->partial, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (o->fd < 0)
		die_errno("%s", o->partial);
}

void output_journal(struct output *o, const char *rec, size_t n)
{
	if (o->path == NULL)
		return;
	if (o->journal_fd < 0) {
		o->journal_fd = open(o->journal_path,
		    O_WRONLY | O_CREAT | O_APPEND, 0666);
		if (o->journal_fd < 0)
			die_errno("%s", o->journal_path);
	}
	if (write_full(o->journal_fd, rec, n) < 0)
		die_errno("%s", o->journal_path);
	o->journal_used = 1;
}

int output_reuse(struct output *o, uint64_t lineno, const char *id,
    size_t idlen, struct buf *rec, struct buf *msg)
{
	int ok;

	if (o->old == NULL)
		return journal_find(o, id, idlen, rec);
	if (!next_line(o->old, rec)) {
		fclose(o->old);
		o->old = NULL;
		return journal_find(o, id, idlen, rec);
	}
	o->old_read++;
	ok = record_parse(rec->data, rec->len, &o->id);
	if (ok < 0 || o->id.len != idlen || memcmp(o->id.data, id, idlen)) {
		buf_reset(msg);
		buf_addf(msg, "--resume: line %llu has custom_id \"%.*s\" but "
		    "record %llu of %s %s%.*s%s: is it the same input?",
		    (unsigned long long)lineno, (int)idlen, id,
		    (unsigned long long)o->old_read, o->path,
		    ok < 0 ? "is not a record" : "has \"",
		    ok < 0 ? 0 : (int)o->id.len, o->id.data ? o->id.data : "",
		    ok < 0 ? "" : "\"");
		return -1;
	}
	return ok ? 1 : journal_find(o, id, idlen, rec);
}

uint64_t output_left_over(struct output *o)
{
	struct buf b = { 0 };
	uint64_t n = 0;

	while (o->old && next_line(o->old, &b))
		n++;
	buf_release(&b);
	return n;
}

int output_write(struct output *o, const char *p, size_t n)
{
	return write_full(o->fd, p, n);
}

void output_close(struct output *o, int drained)
{
	if (o->path == NULL)
		return;
	if (o->old) {
		fclose(o->old);
		o->old = NULL;
	}
	if (o->journal_fd >= 0 && close(o->journal_fd) < 0)
		die_errno("%s", o->journal_path);
	if (fsync(o->fd) < 0 || close(o->fd) < 0)
		die_errno("%s", o->partial);
	merge(o->path, o->partial);
	if (drained)
		unlink(o->journal_path);
	free(o->partial);
	free(o->journal_path);
	free(o->jmap);
	buf_release(&o->line);
	buf_release(&o->id);
}
