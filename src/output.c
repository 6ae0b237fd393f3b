/* output.c: standard output, or -o FILE through FILE.partial; resuming. */
#include "output.h"

#include <errno.h>	/* errno, ENOENT */
#include <fcntl.h>	/* open */
#include <json-c/json.h>	/* reading records back */
#include <poll.h>	/* poll */
#include <stdlib.h>	/* free */
#include <string.h>	/* strlen, strerror */
#include <sys/stat.h>	/* lstat */
#include <unistd.h>	/* fsync, rename, unlink */

#include "jsoncheck.h"	/* json_check */
#include "signals.h"	/* signals_waiting */

struct jentry {
	uint64_t key;	/* the line's sequence number + 1; 0: empty */
	uint64_t off;	/* where its entry starts in the journal */
};

/* The request digest a record's id names (batch_req_ and 32 hex digits)
 * into digest; "" for an id without one (24 hex digits: a line that was
 * no request, or a record an older splitgpt made). */
static void id_digest(json_object *v, char digest[DIGEST_HEX + 1])
{
	static const char pre[] = "batch_req_";
	json_object *x;
	const char *s;
	size_t k = sizeof(pre) - 1;

	digest[0] = 0;
	if (!json_object_object_get_ex(v, "id", &x) ||
	    !json_object_is_type(x, json_type_string) ||
	    json_object_get_string_len(x) != (int)(k + DIGEST_HEX))
		return;
	s = json_object_get_string(x);
	if (strncmp(s, pre, k) != 0 ||
	    strspn(s + k, "0123456789abcdef") != DIGEST_HEX)
		return;
	memcpy(digest, s + k, DIGEST_HEX);
	digest[DIGEST_HEX] = 0;
}

int record_parse(const char *line, size_t len, struct buf *id)
{
	return record_read(line, len, id, NULL);
}

int record_read(const char *line, size_t len, struct buf *id,
    char digest[DIGEST_HEX + 1])
{
	struct json_problem p;
	json_tokener *tok;
	json_object *v, *x, *resp, *err;
	int rc = -1;

	buf_reset(id);
	if (digest)
		digest[0] = 0;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (json_check(line, len, 10000, &p) != '{')
		return -1;
	/* A record nests its body three levels down; json-c's default
	 * depth (32) would call a record with a deep body no record. */
	tok = json_tokener_new_ex(10001);
	if (tok == NULL)
		die(EXIT_INTERNAL, "out of memory for the JSON parser");
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
		if (digest)
			id_digest(v, digest);
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
		die_errno(EXIT_INTERNAL, "%s", path);
}

/* The complete records (lines) in the file at path; 0 if there is none. */
static uint64_t count_records(const char *path)
{
	FILE *f = fopen(path, "r");
	char chunk[65536];
	uint64_t n = 0;
	size_t k;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		die_errno(EXIT_INTERNAL, "%s", path);
	}
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		for (const char *p = chunk; (p = memchr(p, '\n',
		    (size_t)(chunk + k - p))) != NULL; p++)
			n++;
	if (ferror(f))
		die_errno(EXIT_INTERNAL, "%s", path);
	fclose(f);
	return n;
}

/*
 * FILE := FILE.partial's complete records, then FILE's records beyond
 * them.  Both are in input order, so record i of each is for the same
 * line; ids are compared on the way, and on a difference FILE's tail is
 * dropped (the partial file is the newer knowledge).  Returns the
 * records FILE holds then: the lines of the input's prefix it answers.
 */
static uint64_t merge(const char *path, const char *partial)
{
	FILE *p = fopen(partial, "r"), *f;
	struct buf line = { 0 }, a = { 0 }, b = { 0 }, tmp = { 0 };
	uint64_t n = 0;
	int fd, same = 1;

	if (p == NULL) {
		if (errno == ENOENT)
			return count_records(path);
		die_errno(EXIT_INTERNAL, "%s", partial);
	}
	buf_addf(&tmp, "%s.tmp", path);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		die_errno(EXIT_INTERNAL, "%s", tmp.data);
	f = fopen(path, "r");
	if (f == NULL && errno != ENOENT)
		die_errno(EXIT_INTERNAL, "%s", path);
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
	while (f && same && next_line(f, &line)) {
		write_or_die(fd, tmp.data, &line);
		n++;
	}
	if (fsync(fd) < 0 || close(fd) < 0)
		die_errno(EXIT_INTERNAL, "%s", tmp.data);
	if (rename(tmp.data, path) < 0)
		die_errno(EXIT_INTERNAL, "renaming %s to %s", tmp.data, path);
	unlink(partial);
	if (f)
		fclose(f);
	fclose(p);
	buf_release(&line);
	buf_release(&a);
	buf_release(&b);
	buf_release(&tmp);
	return n;
}

static size_t jmap_slot(const struct output *o, uint64_t key)
{
	size_t i = (size_t)(hash64(&key, sizeof(key)) & (o->jsize - 1));

	while (o->jmap[i].key && o->jmap[i].key != key)
		i = (i + 1) & (o->jsize - 1);
	return i;
}

static void jmap_put(struct output *o, uint64_t key, uint64_t off)
{
	size_t i;

	if ((o->jcount + 1) * 2 > o->jsize) {
		struct jentry *old = o->jmap;
		size_t n = o->jsize;

		o->jsize = n ? n * 2 : 256;
		o->jmap = xcalloc(o->jsize, sizeof(*o->jmap));
		o->jcount = 0;
		for (i = 0; i < n; i++)
			if (old[i].key)
				jmap_put(o, old[i].key, old[i].off);
		free(old);
	}
	i = jmap_slot(o, key);
	if (o->jmap[i].key == 0)
		o->jcount++;
	o->jmap[i].key = key;
	o->jmap[i].off = off;
}

/*
 * A journal entry: the line's sequence number, a tab, its record.  Returns
 * the record's offset in the entry and sets *seq; 0 if it is no entry (a
 * journal an older splitgpt wrote holds bare records: they are left).
 */
static size_t journal_entry(const struct buf *line, uint64_t *seq)
{
	size_t i = 0;

	*seq = 0;
	while (i < line->len && line->data[i] >= '0' && line->data[i] <= '9' &&
	    i < 20)
		*seq = *seq * 10 + (uint64_t)(line->data[i++] - '0');
	return i > 0 && i < line->len && line->data[i] == '\t' ? i + 1 : 0;
}

/*
 * Index the journal that killed or interrupted runs left: the successes
 * of lines at or beyond the first that FILE has no record for (done, the
 * records FILE holds); those before it are written already.  So the index
 * holds at most the results that were waiting in each such run's ring.
 */
static void journal_index(struct output *o, uint64_t done)
{
	FILE *f = fopen(o->journal_path, "r");
	uint64_t off = 0, seq;
	size_t at;

	if (f == NULL) {
		if (errno == ENOENT)
			return;
		die_errno(EXIT_INTERNAL, "%s", o->journal_path);
	}
	while (next_line(f, &o->line)) {
		at = journal_entry(&o->line, &seq);
		if (at > 0 && seq >= done && record_parse(o->line.data + at,
		    o->line.len - at, &o->id) == 1) {
			jmap_put(o, seq + 1, off);
			if (seq + 1 > o->journal_end)
				o->journal_end = seq + 1;
		}
		off += o->line.len;
	}
	fclose(f);
}

/*
 * How a record (success ok, request digest have) answers the line that
 * asks for the request want: the same one, another, or (one of the two
 * digests is "") can't tell.
 */
static enum reuse_match match(int ok, const char *have, const char *want)
{
	if (*have == 0 || *want == 0)
		return ok && *have == 0 ? MATCH_ID_ONLY : MATCH_NONE;
	return strcmp(have, want) == 0 ? MATCH_SAME : MATCH_OTHER;
}

/* The journal's success for line seq into rec, if it has one for a line
 * with this custom_id and request (digest); 1 if found, and *m says how
 * it matched. */
static int journal_find(struct output *o, uint64_t seq, const char *id,
    size_t idlen, const char *digest, struct buf *rec, enum reuse_match *m)
{
	char have[DIGEST_HEX + 1];
	size_t i, at = 0;
	uint64_t got;
	FILE *f;

	*m = MATCH_NONE;
	if (o->jcount == 0)
		return 0;
	i = jmap_slot(o, seq + 1);
	if (o->jmap[i].key == 0 || (f = fopen(o->journal_path, "r")) == NULL)
		return 0;
	if (fseeko(f, (off_t)o->jmap[i].off, SEEK_SET) == 0 &&
	    next_line(f, &o->line) &&
	    (at = journal_entry(&o->line, &got)) > 0 && got == seq &&
	    record_read(o->line.data + at, o->line.len - at, &o->id,
	    have) == 1 &&
	    o->id.len == idlen && memcmp(o->id.data, id, idlen) == 0)
		*m = match(1, have, digest);
	if (*m == MATCH_SAME || *m == MATCH_ID_ONLY) {
		buf_reset(rec);
		buf_add(rec, o->line.data + at, o->line.len - at);
	}
	fclose(f);
	return *m == MATCH_SAME || *m == MATCH_ID_ONLY;
}

/*
 * The journal once FILE holds its first done records: gone when none of
 * its entries lies beyond them, else rewritten with only those that do,
 * so that what was paid for and not reached is kept for the next
 * --resume, and nothing else.
 */
static void journal_finish(struct output *o, uint64_t done)
{
	struct buf tmp = { 0 };
	FILE *f;
	uint64_t seq;
	int fd;

	if (o->journal_end <= done) {
		if (unlink(o->journal_path) < 0 && errno != ENOENT)
			die_errno(EXIT_INTERNAL, "%s", o->journal_path);
		return;
	}
	if ((f = fopen(o->journal_path, "r")) == NULL)
		die_errno(EXIT_INTERNAL, "%s", o->journal_path);
	buf_addf(&tmp, "%s.tmp", o->journal_path);
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		die_errno(EXIT_INTERNAL, "%s", tmp.data);
	while (next_line(f, &o->line))
		if (journal_entry(&o->line, &seq) > 0 && seq >= done)
			write_or_die(fd, tmp.data, &o->line);
	if (fsync(fd) < 0 || close(fd) < 0)
		die_errno(EXIT_INTERNAL, "%s", tmp.data);
	if (rename(tmp.data, o->journal_path) < 0)
		die_errno(EXIT_INTERNAL, "renaming %s to %s", tmp.data, o->journal_path);
	fclose(f);
	buf_release(&tmp);
}

/*
 * Where -o PATH really writes: a symbolic link is followed (it stays, and
 * its target is replaced); returns the path to use (malloc'd).  Sets
 * *special when that is something that must not be replaced, a FIFO or a
 * device: it is written where it is.  Refuses what can't hold records.
 */
static char *output_target(const char *path, int resume, int *special)
{
	struct stat st;
	char *real;

	*special = 0;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			die_errno(EXIT_INTERNAL, "-o %s", path);
		return xstrdup(path);	/* a new file */
	}
	if (S_ISLNK(st.st_mode)) {
		if ((real = realpath(path, NULL)) == NULL) {
			die(EXIT_USAGE, "-o %s: a symbolic link to nothing that exists (%s)",
			    path, strerror(errno));
		}
		if (stat(real, &st) < 0)
			die_errno(EXIT_INTERNAL, "-o %s", real);
	} else {
		real = xstrdup(path);
	}
	if (S_ISDIR(st.st_mode)) {
		die(EXIT_USAGE, "-o %s: is a directory", path);
	}
	if (!S_ISREG(st.st_mode)) {
		if (resume) {
			die(EXIT_USAGE, "--resume: -o %s is not a regular file: there are no "
			    "records to read back", path);
		}
		*special = 1;
	}
	return real;
}

void output_open(struct output *o, const char *path, int resume)
{
	struct buf b = { 0 };
	int special;

	memset(o, 0, sizeof(*o));
	o->fd = 1;
	o->journal_fd = -1;
	if (path == NULL)
		return;
	o->path = output_target(path, resume, &special);
	path = o->path;
	if (special) {
		/* A FIFO or a device: written in place, as > would. */
		o->direct = 1;
		o->fd = open(path, O_WRONLY | O_NOCTTY);
		if (o->fd < 0)
			die_errno(EXIT_INTERNAL, "%s", path);
		return;
	}
	buf_addf(&b, "%s.partial", path);
	o->partial = b.data;
	b.data = NULL;
	buf_release(&b);
	buf_addf(&b, "%s.journal", path);
	o->journal_path = b.data;
	if (resume) {
		uint64_t done = merge(path, o->partial);

		o->old = fopen(path, "r");
		if (o->old == NULL && errno != ENOENT)
			die_errno(EXIT_INTERNAL, "%s", path);
		journal_index(o, done);
	} else {
		/* A fresh start, like > in the shell. */
		unlink(path);
		unlink(o->journal_path);
	}
	o->fd = open(o->partial, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (o->fd < 0)
		die_errno(EXIT_INTERNAL, "%s", o->partial);
}

int output_journaling(const struct output *o)
{
	return o->journal_path != NULL;
}

void output_journal(struct output *o, uint64_t seq, const char *rec,
    size_t n)
{
	if (!output_journaling(o))
		return;
	if (o->journal_fd < 0) {
		o->journal_fd = open(o->journal_path,
		    O_WRONLY | O_CREAT | O_APPEND, 0666);
		if (o->journal_fd < 0)
			die_errno(EXIT_INTERNAL, "%s", o->journal_path);
	}
	buf_reset(&o->line);
	buf_addf(&o->line, "%llu\t", (unsigned long long)seq);
	buf_add(&o->line, rec, n);
	/* Cut short by a SIGKILL or a full disk, an entry is the journal's
	 * last line, without its newline: read back as none. */
	if (write_full(o->journal_fd, o->line.data, o->line.len) < 0)
		die_errno(EXIT_INTERNAL, "%s", o->journal_path);
	if (seq + 1 > o->journal_end)
		o->journal_end = seq + 1;
}

int output_reuse(struct output *o, const struct reuse_line *ln,
    struct buf *rec, struct buf *msg, enum reuse_match *m)
{
	char have[DIGEST_HEX + 1];
	const char *id = ln->id;
	size_t idlen = ln->idlen;
	int ok;

	if (o->old != NULL && !next_line(o->old, rec)) {
		fclose(o->old);
		o->old = NULL;
	}
	if (o->old == NULL)
		return journal_find(o, ln->seq, id, idlen, ln->digest, rec, m);
	o->old_read++;
	ok = record_read(rec->data, rec->len, &o->id, have);
	if (ok < 0 || o->id.len != idlen || memcmp(o->id.data, id, idlen)) {
		buf_reset(msg);
		buf_addf(msg, "--resume: line %llu has custom_id \"%.*s\" but "
		    "record %llu of %s %s%.*s%s: is it the same input?",
		    (unsigned long long)ln->lineno, (int)idlen, id,
		    (unsigned long long)o->old_read, o->path,
		    ok < 0 ? "is not a record" : "has \"",
		    ok < 0 ? 0 : (int)o->id.len, o->id.data ? o->id.data : "",
		    ok < 0 ? "" : "\"");
		return -1;
	}
	/* The journal holds no entry for a line FILE holds. */
	*m = match(ok, have, ln->digest);
	return ok && (*m == MATCH_SAME || *m == MATCH_ID_ONLY);
}

int output_comparing(const struct output *o, uint64_t seq)
{
	return o->old != NULL || seq < o->journal_end;
}

int output_may_block(const struct output *o)
{
	struct stat st;

	return fstat(o->fd, &st) < 0 || !S_ISREG(st.st_mode);
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

int output_write(struct output *o, const char *p, size_t n, size_t *done,
    int grace_ms)
{
	uint64_t end = now_ms() + (uint64_t)(grace_ms > 0 ? grace_ms : 0);
	int fl = -1, rc = 0;

	if (grace_ms >= 0 && (fl = fcntl(o->fd, F_GETFL)) >= 0 &&
	    !(fl & O_NONBLOCK))
		(void)fcntl(o->fd, F_SETFL, fl | O_NONBLOCK);
	while (*done < n && rc == 0) {
		ssize_t w;

		if (signals_waiting()) {
			rc = 1;
			break;
		}
		w = write(o->fd, p + *done, n - *done);
		if (w > 0) {
			*done += (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { o->fd, POLLOUT, 0 };
			uint64_t now = now_ms();

			if (grace_ms >= 0 && now >= end)
				rc = 1;
			else if (poll(&pfd, 1, grace_ms < 0 ? -1 :
			    (int)(end - now)) < 0 && errno != EINTR)
				rc = -1;
		} else if (w == 0 || errno != EINTR) {
			if (w == 0)
				errno = EIO;
			rc = -1;
		}
	}
	if (fl >= 0 && !(fl & O_NONBLOCK))
		(void)fcntl(o->fd, F_SETFL, fl);
	return rc;
}

void output_close(struct output *o)
{
	if (o->path == NULL)
		return;
	if (o->direct) {
		if (close(o->fd) < 0)
			die_errno(EXIT_INTERNAL, "%s", o->path);
	} else {
		if (o->old) {
			fclose(o->old);
			o->old = NULL;
		}
		if (o->journal_fd >= 0 && close(o->journal_fd) < 0)
			die_errno(EXIT_INTERNAL, "%s", o->journal_path);
		if (fsync(o->fd) < 0 || close(o->fd) < 0)
			die_errno(EXIT_INTERNAL, "%s", o->partial);
		journal_finish(o, merge(o->path, o->partial));
	}
	free(o->path);
	free(o->partial);
	free(o->journal_path);
	free(o->jmap);
	buf_release(&o->line);
	buf_release(&o->id);
}
