/*
 * reader.c: the streaming line reader (reader.h).
 */
#include "reader.h"

#include <errno.h>	/* errno, EAGAIN, EINTR */
#include <stdlib.h>	/* free */
#include <string.h>	/* memchr, memcmp, strlen */
#include <unistd.h>	/* read */

#define READ_CHUNK (64 * 1024)
#define INFLATE_CHUNK (256 * 1024)	/* decoded bytes per step */

void lr_init(struct linereader *lr, int fd, size_t max_line)
{
	memset(lr, 0, sizeof(*lr));
	lr->fd = fd;
	lr->max_line = max_line;
}

void lr_free(struct linereader *lr)
{
	if (lr->mode == 2)
		inflateEnd(&lr->z);
	buf_release(&lr->raw);
	buf_release(&lr->text);
}

/* Drop the lines already handed out, so the buffer holds only new bytes. */
static void compact(struct linereader *lr)
{
	if (lr->pos == 0)
		return;
	buf_consume(&lr->text, lr->pos);
	lr->scan -= lr->pos;
	lr->pos = 0;
}

/* Inflate up to INFLATE_CHUNK bytes from raw into text. */
static void inflate_some(struct linereader *lr)
{
	size_t used;
	int rc;

	compact(lr);
	buf_grow(&lr->text, INFLATE_CHUNK);
	lr->z.next_in = (unsigned char *)lr->raw.data;
	lr->z.avail_in = lr->raw.len;
	lr->z.next_out = (unsigned char *)lr->text.data + lr->text.len;
	lr->z.avail_out = INFLATE_CHUNK;
	rc = inflate(&lr->z, Z_NO_FLUSH);
	used = lr->raw.len - lr->z.avail_in;
	lr->text.len += INFLATE_CHUNK - lr->z.avail_out;
	lr->text.data[lr->text.len] = 0;
	buf_consume(&lr->raw, used);
	if (rc == Z_STREAM_END) {
		/* Another member may follow: gzip files concatenate. */
		if (lr->raw.len >= 2 && (unsigned char)lr->raw.data[0] != 0x1f)
			goto corrupt;
		inflateReset(&lr->z);
		return;
	}
	if (rc == Z_OK || rc == Z_BUF_ERROR)
		return;
corrupt:
	warnx("standard input: corrupt gzip data (%s); reading stops here",
	    lr->z.msg ? lr->z.msg : "bad member");
	lr->zerr = 1;
	lr->cut = 1;
	lr->eof = 1;
	buf_reset(&lr->raw);
}

int lr_fill(struct linereader *lr)
{
	struct buf *into = lr->mode == 1 ? &lr->text : &lr->raw;
	ssize_t n;

	if (lr->eof)
		return 0;
	if (lr->mode == 1)
		compact(lr);
	buf_grow(into, READ_CHUNK);
	n = read(lr->fd, into->data + into->len, READ_CHUNK);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK)
			return -1;
		warn_errno("standard input: read error; reading stops here");
		lr->cut = 1;
		n = 0;
	}
	into->len += n;
	into->data[into->len] = 0;
	if (n == 0)
		lr->eof = 1;
	if (lr->mode == 0 && (lr->raw.len >= 2 || lr->eof)) {
		if (lr->raw.len >= 2 && (unsigned char)lr->raw.data[0] == 0x1f &&
		    (unsigned char)lr->raw.data[1] == 0x8b) {
			memset(&lr->z, 0, sizeof(lr->z));
			if (inflateInit2(&lr->z, 15 + 16) != Z_OK)
				die(EXIT_INTERNAL, "inflateInit2 failed");
			lr->mode = 2;
		} else {
			lr->mode = 1;
			buf_add(&lr->text, lr->raw.data, lr->raw.len);
			buf_release(&lr->raw);
		}
	}
	return n > 0 ? 1 : 0;
}

/*
 * A UTF-8 byte order mark, as some Windows tools write at the start of a
 * file: its length if s starts with one, else 0.  It is no part of the
 * first line, so the reader and the line count skip it.
 */
static size_t bom_len(const char *s, size_t n)
{
	return n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

/* The first line: drop a UTF-8 BOM, and say so if the input is UTF-16. */
static void first_line(struct line *ln)
{
	size_t skip = bom_len(ln->p, ln->len);

	ln->p += skip;
	ln->len -= skip;
	if (ln->len >= 2 && (memcmp(ln->p, "\xff\xfe", 2) == 0 ||
	    memcmp(ln->p, "\xfe\xff", 2) == 0))
		warnx("standard input: UTF-16 (it starts with a byte order "
		    "mark); splitgpt reads UTF-8: convert it with "
		    "iconv -f UTF-16 -t UTF-8");
}

int lr_next(struct linereader *lr, struct line *ln)
{
	for (;;) {
		char *base = lr->text.data;
		char *nl = NULL;
		size_t end;

		if (lr->scan < lr->text.len)
			nl = memchr(base + lr->scan, '\n', lr->text.len - lr->scan);
		if (nl == NULL) {
			lr->scan = lr->text.len;
			if (lr->skipping || lr->scan - lr->pos > lr->max_line) {
				/* Too long to keep: count it and let it go. */
				lr->skipping = 1;
				lr->skipped += lr->scan - lr->pos;
				lr->pos = lr->scan;
			}
			if (lr->mode == 2 && lr->raw.len > 0 && !lr->zerr) {
				inflate_some(lr);
				continue;
			}
			if (!lr->eof)
				return 0;
			if (lr->mode == 2 && !lr->cut && lr->z.total_in > 0) {
				warnx("standard input: gzip data ends early");
				lr->cut = 1;
			}
			if (lr->cut && (lr->pos < lr->text.len ||
			    lr->skipping)) {
				/* A piece of a line, not a line: sending it
				 * would pay for a prompt nobody wrote. */
				warnx("standard input: line %llu is cut short; "
				    "it gets no record",
				    (unsigned long long)lr->lineno + 1);
				lr->pos = lr->scan = lr->text.len;
				lr->skipping = 0;
				lr->skipped = 0;
			}
			if (lr->pos == lr->text.len && !lr->skipping) {
				lr->done = 1;
				return -1;
			}
			end = lr->text.len;	/* a last line with no newline */
		} else {
			end = nl - base;
		}
		ln->lineno = ++lr->lineno;
		ln->len = end - lr->pos;
		ln->too_long = 0;
		ln->p = base + lr->pos;
		if (lr->skipping || ln->len > lr->max_line) {
			ln->too_long = 1;
			ln->len += lr->skipped;
			ln->p = NULL;
			lr->skipping = 0;
			lr->skipped = 0;
		} else if (ln->lineno == 1)
			first_line(ln);
		lr->pos = lr->scan = nl ? end + 1 : end;
		return 1;
	}
}

int line_is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

uint64_t count_lines(int fd)
{
	static unsigned char in[READ_CHUNK], out[INFLATE_CHUNK];
	z_stream z;
	off_t off = 0;
	uint64_t lines = 0;
	int gz = -1, text = 0, first = 1, zrc = Z_OK;
	ssize_t n;

	memset(&z, 0, sizeof(z));
	while ((n = pread(fd, in, sizeof(in), off)) > 0) {
		off += n;
		if (gz < 0) {
			gz = n >= 2 && in[0] == 0x1f && in[1] == 0x8b;
			if (gz && inflateInit2(&z, 15 + 16) != Z_OK)
				return 0;
		}
		z.next_in = in;
		z.avail_in = n;
		do {
			const unsigned char *p = in, *nl;
			size_t len = n, i, end;

			if (gz) {
				z.next_out = out;
				z.avail_out = sizeof(out);
				zrc = inflate(&z, Z_NO_FLUSH);
				if (zrc == Z_STREAM_END && z.avail_in > 0)
					inflateReset(&z);
				else if (zrc != Z_OK && zrc != Z_STREAM_END &&
				    zrc != Z_BUF_ERROR)
					z.avail_in = 0;
				p = out;
				len = sizeof(out) - z.avail_out;
			}
			i = 0;
			if (first && len > 0) {
				i = bom_len((const char *)p, len);
				first = 0;
			}
			for (; i < len; i = end + 1) {
				nl = memchr(p + i, '\n', len - i);
				end = nl ? (size_t)(nl - p) : len;
				if (!text && !line_is_blank((const char *)p + i,
				    end - i))
					text = 1;
				if (nl) {
					lines += text;
					text = 0;
				}
			}
		} while (gz && (z.avail_in > 0 || z.avail_out == 0));
	}
	if (gz > 0)
		inflateEnd(&z);
	return lines + text;
}
