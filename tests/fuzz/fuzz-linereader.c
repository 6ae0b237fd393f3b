/*
 * fuzz-linereader: the streaming line reader (lr_init, lr_fill, lr_next,
 * lr_free; reader.h), fed through a pipe in writes whose sizes the input
 * chooses, so lines, gzip headers and members are cut across reads.
 *
 * Input: 8 header bytes, then the data.
 *   byte 0     the line limit: 0-127 when bit 7 is clear, else one of 16
 *              sizes around the reader's 64 KiB reads and 256 KiB inflate
 *              steps, up to SIZE_MAX;
 *   byte 1     bits 0-2, what goes down the pipe: 0-2 the data as it is
 *              (gzip if it starts with the magic), 3 the data after the
 *              bytes 1f 8b 08 (a gzip header made of the data), 4 the
 *              data as one gzip member, 5 as two members cut at byte 2,
 *              6 the same with empty members before, between and after,
 *              7 two members cut short at byte 2 (byte 2 even) or
 *              followed by bytes 2 and 3 (odd);
 *              bits 3-4, the deflate level and strategy;
 *              bit 5, take one line per read instead of every line;
 *              bit 6, a non-blocking reader, which also reads the empty
 *              pipe before each write (lr_fill must say -1);
 *              bit 7, the data repeated byte 3 + 1 times (at most 1 MiB),
 *              so lines and streams cross the 64 KiB reads and 256 KiB
 *              inflate steps;
 *   byte 2     where to cut members or the stream, or a byte after it;
 *   byte 3     the repeat count, or a byte after the stream;
 *   bytes 4-7  the sizes of successive writes, in turn (0: as much as the
 *              pipe takes; times 256 when repeating).  Each write is
 *              followed by one lr_fill, so a read ends where a write does.
 *
 * The expected text is the bytes sent, or when they start with the gzip
 * magic, what zlib inflates from them member after member (the harness's
 * own loop), up to the first error or the end.  Checked besides memory
 * safety and UB:
 *   - the lines are the expected text cut at LF, in order, with nothing
 *     dropped or added: CR and every other byte kept, a last line without
 *     LF delivered (unless the gzip data is corrupt or cut short: then it
 *     is a piece of a line, and dropped), no empty line after a final LF;
 *     a line longer than the limit comes as too_long with no pointer and
 *     its full length, any other line with its exact bytes, except that a
 *     UTF-8 BOM (EF BB BF) starting the first line is not part of it; line
 *     numbers run 1, 2, 3, ...;
 *   - for the gzip the harness made (containers 4-6), the expected text is
 *     the data itself; cut short (7), a prefix of it;
 *   - bounded memory: whenever lr_next wants a read, it holds at most the
 *     limit of an unfinished line, and (taking every line) its buffers
 *     stay under the limit plus one read or inflate step;
 *   - lr_fill returns 1 after a write, -1 on the empty non-blocking pipe,
 *     0 once the writer closed (or the gzip data turned out corrupt, when
 *     the reader stops reading); after the end lr_next keeps returning -1;
 *   - the reader warns once when the gzip data is corrupt or cut short,
 *     once more when that drops a piece of a line, and once when the
 *     first line it delivers starts with a UTF-16 BOM (FF FE or FE FF);
 *     never otherwise.
 * While the reader runs, descriptor 2 goes to a scratch file to count its
 * warnings; sanitizer reports still go to the real standard error
 * (__sanitizer_set_report_fd), and a failed check restores it first.
 * libFuzzer's own lines about a crash inside the reader end in the scratch
 * file, but it saves the input as usual.
 */
#include <errno.h>	/* errno, EINTR */
#include <fcntl.h>	/* fcntl, O_NONBLOCK */
#include <sanitizer/common_interface_defs.h>	/* __sanitizer_set_report_fd */
#include <stdint.h>	/* SIZE_MAX, uintptr_t */
#include <unistd.h>	/* pipe, write, dup, dup2 */
#include <zlib.h>

#include "fuzz.h"
#include "reader.h"
#include "util.h"

/* The reader's private step sizes (reader.c), for the memory bound. */
#define READ_CHUNK (64 * 1024)
#define INFLATE_CHUNK (256 * 1024)
#define MAX_TOTAL (1 << 20)	/* largest repeated text */

static int real_stderr = -1, scratch = -1;

static void quiet(void)
{
	if (ftruncate(scratch, 0) < 0 || lseek(scratch, 0, SEEK_SET) < 0 ||
	    dup2(scratch, 2) < 0)
		abort();
}

static void loud(void)
{
	if (dup2(real_stderr, 2) < 0)
		abort();
}

/* FUZZ_CHECK, with the real standard error back first. */
#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		loud(); \
		FUZZ_CHECK(cond, __VA_ARGS__); \
	} \
} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/fuzz-linereader-XXXXXX";

	(void)argc;
	(void)argv;
	real_stderr = dup(2);
	scratch = mkstemp(path);
	if (real_stderr < 0 || scratch < 0)
		abort();
	unlink(path);
	__sanitizer_set_report_fd((void *)(uintptr_t)real_stderr);
	return 0;
}

/* The warnings the reader wrote since quiet(): one line each. */
static size_t warnings(void)
{
	char b[4096];
	ssize_t n;
	off_t off = 0;
	size_t lines = 0, i;

	while ((n = pread(scratch, b, sizeof(b), off)) > 0) {
		for (i = 0; i < (size_t)n; i++)
			lines += b[i] == '\n';
		off += n;
	}
	return lines;
}

/* Append one gzip member of p[0..n) to out. */
static void gz_member(struct buf *out, const char *p, size_t n, int level,
    int strategy)
{
	z_stream z;
	uLong bound;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, strategy) != Z_OK)
		abort();
	bound = deflateBound(&z, n) + 32;
	buf_grow(out, bound);
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = n;
	z.next_out = (unsigned char *)out->data + out->len;
	z.avail_out = bound;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	out->len += bound - z.avail_out;
	deflateEnd(&z);
}

/*
 * Inflate s[0..n) member after member into out, as the reader documents:
 * after a member ends, any byte left starts another.  Returns 1 if the
 * data ends cleanly at the end of a member, 0 if it is corrupt or cut.
 */
static int gunzip(const char *s, size_t n, struct buf *out)
{
	z_stream z;
	int rc, clean = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		abort();
	z.next_in = (unsigned char *)(uintptr_t)s;
	z.avail_in = n;
	for (;;) {
		buf_grow(out, 65536);
		z.next_out = (unsigned char *)out->data + out->len;
		z.avail_out = 65536;
		rc = inflate(&z, Z_NO_FLUSH);
		out->len += 65536 - z.avail_out;
		if (rc == Z_STREAM_END) {
			if (z.avail_in == 0) {
				clean = 1;
				break;
			}
			inflateReset(&z);
		} else if (rc != Z_OK) {
			break;	/* an error, or no more input */
		}
	}
	inflateEnd(&z);
	return clean;
}

struct run {
	struct linereader lr;
	const char *want;	/* the expected text */
	size_t want_len;
	size_t at;		/* where its next line starts */
	uint64_t lines;		/* lines delivered */
	size_t max_line;
	int drain;		/* take every line after each read */
	int clean;		/* the input ends where it should */
	int utf16;		/* its first line, as delivered, looks UTF-16 */
};

static int has_bom(const char *p, size_t n)
{
	return n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0;
}

/* Take lines: all there are, or at most one.  Returns lr_next's last. */
static int take(struct run *r, int all)
{
	struct line ln;
	const char *nl;
	size_t len;
	int rc;

	for (;;) {
		memset(&ln, 0xa5, sizeof(ln));
		rc = lr_next(&r->lr, &ln);
		CHECK(rc >= -1 && rc <= 1, "lr_next returned %d", rc);
		if (rc == 0) {
			CHECK(!r->lr.eof, "lr_next wants a read after the end");
			CHECK(r->lr.text.len - r->lr.pos <= r->max_line,
			    "holds %zu bytes of a line, limit %zu",
			    r->lr.text.len - r->lr.pos, r->max_line);
		}
		if (rc <= 0)
			return rc;
		r->lines++;
		CHECK(ln.lineno == r->lines, "line %llu numbered %llu",
		    (unsigned long long)r->lines,
		    (unsigned long long)ln.lineno);
		CHECK(r->at < r->want_len, "line %llu after the end of the "
		    "text (%zu bytes)", (unsigned long long)ln.lineno,
		    r->want_len);
		nl = memchr(r->want + r->at, '\n', r->want_len - r->at);
		len = nl ? (size_t)(nl - r->want - r->at) : r->want_len - r->at;
		CHECK(nl || r->clean, "line %llu, cut short, delivered",
		    (unsigned long long)ln.lineno);
		if (len > r->max_line) {
			CHECK(ln.len == len, "line %llu has %zu bytes, not %zu",
			    (unsigned long long)ln.lineno, ln.len, len);
			CHECK(ln.too_long && ln.p == NULL, "line %llu of %zu "
			    "bytes, over the limit %zu, not too_long",
			    (unsigned long long)ln.lineno, len, r->max_line);
		} else {
			size_t skip = ln.lineno == 1 &&
			    has_bom(r->want + r->at, len) ? 3 : 0;

			CHECK(ln.len == len - skip, "line %llu has %zu bytes, "
			    "not %zu", (unsigned long long)ln.lineno, ln.len,
			    len - skip);
			CHECK(!ln.too_long && ln.p != NULL, "line %llu of %zu "
			    "bytes, limit %zu, too_long",
			    (unsigned long long)ln.lineno, len, r->max_line);
			CHECK(ln.len == 0 ||
			    memcmp(ln.p, r->want + r->at + skip, ln.len) == 0,
			    "line %llu differs", (unsigned long long)ln.lineno);
			if (ln.lineno == 1)
				r->utf16 = ln.len >= 2 &&
				    (memcmp(ln.p, "\xff\xfe", 2) == 0 ||
				    memcmp(ln.p, "\xfe\xff", 2) == 0);
		}
		r->at += len + (nl != NULL);
		if (!all)
			return rc;
	}
}

/* The memory bound while every line is taken as soon as it can be. */
static void check_bound(const struct run *r)
{
	size_t keep = r->max_line < r->want_len ? r->max_line : r->want_len;

	if (!r->drain)
		return;
	CHECK(r->lr.raw.len <= READ_CHUNK, "%zu gzip bytes held",
	    r->lr.raw.len);
	CHECK(r->lr.text.len <= keep + INFLATE_CHUNK, "%zu text bytes held, "
	    "limit %zu", r->lr.text.len, r->max_line);
}

static size_t limit_of(uint8_t b)
{
	static const size_t big[16] = {
		128, 200, 1000, 4095, 4096, 65535, 65536, 65537, 131072,
		262143, 262144, 262145, 524288, 1 << 20, SIZE_MAX - 1, SIZE_MAX
	};

	return b & 0x80 ? big[b & 15] : (size_t)(b & 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int levels[4][2] = {
		{ Z_DEFAULT_COMPRESSION, Z_DEFAULT_STRATEGY },
		{ 0, Z_DEFAULT_STRATEGY },		/* stored blocks */
		{ 1, Z_HUFFMAN_ONLY },
		{ 9, Z_FIXED },
	};
	struct buf plain = { 0 }, sent = { 0 }, want = { 0 };
	struct run r;
	const uint8_t *h = data;
	unsigned kind, rep = 1, turn = 0;
	int level, strategy, nonblock, clean = 1, gz, fds[2], rc;
	size_t n, i, cut, off = 0, chunk, warned, end;
	ssize_t w;

	if (size < 8)
		return 0;
	data += 8;
	n = size - 8;
	kind = h[1] & 7;
	level = levels[(h[1] >> 3) & 3][0];
	strategy = levels[(h[1] >> 3) & 3][1];
	nonblock = (h[1] >> 6) & 1;
	if (h[1] & 0x80) {
		rep = h[3] + 1u;
		if (n && rep > MAX_TOTAL / n)
			rep = MAX_TOTAL / n;
		if (rep == 0)
			rep = 1;
	}
	for (i = 0; i < rep; i++)
		buf_add(&plain, data, n);
	buf_adds(&plain, "");
	cut = (size_t)h[2] * plain.len / 256;

	switch (kind) {
	case 3:
		buf_add(&sent, "\x1f\x8b\x08", 3);
		buf_add(&sent, plain.data, plain.len);
		break;
	case 4:
		gz_member(&sent, plain.data, plain.len, level, strategy);
		break;
	case 5:
	case 6:
	case 7:
		if (kind == 6)
			gz_member(&sent, "", 0, level, strategy);
		gz_member(&sent, plain.data, cut, level, strategy);
		if (kind == 6)
			gz_member(&sent, "", 0, level, strategy);
		gz_member(&sent, plain.data + cut, plain.len - cut, level,
		    strategy);
		if (kind == 6)
			gz_member(&sent, "", 0, level, strategy);
		if (kind == 7 && h[2] & 1) {
			buf_addc(&sent, (char)h[2]);
			buf_addc(&sent, (char)h[3]);
		}
		else if (kind == 7)	/* keep the header: 10 bytes */
			sent.len = 10 + (size_t)h[2] * (sent.len - 10) / 256;
		break;
	default:
		buf_add(&sent, plain.data, plain.len);
		break;
	}
	buf_adds(&sent, "");

	gz = sent.len >= 2 && (unsigned char)sent.data[0] == 0x1f &&
	    (unsigned char)sent.data[1] == 0x8b;
	if (gz) {
		clean = gunzip(sent.data, sent.len, &want);
	} else {
		buf_add(&want, sent.data, sent.len);
	}
	buf_adds(&want, "");
	if (kind >= 4) {
		CHECK(gz, "harness: no gzip magic");
		CHECK(want.len <= plain.len &&
		    memcmp(want.data, plain.data, want.len) == 0,
		    "harness: zlib gives other text");
		if (kind < 7)
			CHECK(clean && want.len == plain.len,
			    "harness: zlib fails on its own gzip");
	}

	if (pipe(fds) < 0)
		abort();
	if (fcntl(fds[1], F_SETFL, O_NONBLOCK) < 0 ||
	    (nonblock && fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0))
		abort();
	memset(&r, 0, sizeof(r));
	r.want = want.data;
	r.want_len = want.len;
	r.max_line = limit_of(h[0]);
	r.drain = !(h[1] & 0x20);
	r.clean = clean;
	lr_init(&r.lr, fds[0], r.max_line);

	quiet();
	while (!r.lr.eof) {	/* the end, or corrupt gzip */
		if (nonblock && fds[1] >= 0) {
			rc = lr_fill(&r.lr);
			CHECK(rc == -1, "lr_fill on an empty pipe returned %d",
			    rc);
		}
		w = 0;
		if (off < sent.len) {
			chunk = h[4 + turn++ % 4];
			if (rep > 1)
				chunk *= 256;
			if (chunk == 0 || chunk > sent.len - off)
				chunk = sent.len - off;
			do
				w = write(fds[1], sent.data + off, chunk);
			while (w < 0 && errno == EINTR);
			if (w <= 0) {
				loud();
				fprintf(stderr, "harness: write to the pipe "
				    "failed\n");
				abort();
			}
			off += w;
		} else if (fds[1] >= 0) {
			close(fds[1]);
			fds[1] = -1;
		}
		rc = lr_fill(&r.lr);
		CHECK(rc == (w > 0), "lr_fill returned %d after writing %zd",
		    rc, w);
		check_bound(&r);
		if (rc == 0)
			break;
		rc = take(&r, r.drain);
		check_bound(&r);
		CHECK(rc >= 0 || r.lr.zerr, "no more lines before the end of "
		    "the input");
	}
	rc = lr_fill(&r.lr);
	CHECK(rc == 0, "lr_fill returned %d after the end", rc);
	rc = take(&r, 1);
	CHECK(rc == -1, "lr_next returned %d at the end", rc);
	CHECK(r.lr.done, "the end, but done is not set");
	/* Where the lines end: the text's end, or cut short, its last LF. */
	end = want.len;
	if (!clean)
		while (end > 0 && want.data[end - 1] != '\n')
			end--;
	CHECK(r.at == end, "the lines stop at byte %zu of %zu, not %zu",
	    r.at, r.want_len, end);
	warned = warnings();
	rc = take(&r, 1);
	CHECK(rc == -1, "lr_next returned %d after the end", rc);
	loud();
	CHECK(warned == (size_t)!clean + (end < want.len) + r.utf16,
	    "%zu warnings for %s input%s%s", warned,
	    !gz ? "plain" : clean ? "whole gzip" : "bad gzip",
	    end < want.len ? ", a piece of a line dropped" : "",
	    r.utf16 ? ", UTF-16" : "");

	lr_free(&r.lr);
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	buf_release(&plain);
	buf_release(&sent);
	buf_release(&want);
	return 0;
}
