/*
 * writer.c: records into the ring, and out in input order (writer.h).
 */
#include "writer.h"

#include <errno.h>	/* errno, EPIPE */
#include <fcntl.h>	/* open */
#include <stdlib.h>	/* free */
#include <string.h>	/* memchr */
#include <unistd.h>	/* close */

#define OUT_FLUSH (256 * 1024)	/* write output at least this often */

void writer_init(struct writer *wr, const struct config *cfg,
    struct stats *st)
{
	memset(wr, 0, sizeof(*wr));
	wr->cfg = cfg;
	wr->st = st;
	wr->joblog_fd = -1;
	wr->no_errors = cfg->emit_requests;
	if (cfg->joblog_path) {
		wr->joblog_fd = open(cfg->joblog_path,
		    O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (wr->joblog_fd < 0)
			die_errno(EXIT_INTERNAL, "--joblog %s",
			    cfg->joblog_path);
		joblog_header(&wr->jl);
	}
	output_open(&wr->sink, cfg->out_path, cfg->resume);
	reorder_init(&wr->ring, cfg->max_pending);
	if (inflateInit(&wr->z) != Z_OK)
		die(EXIT_INTERNAL, "inflateInit failed");
}

int writer_room(const struct writer *wr, uint64_t seq)
{
	return seq - wr->ring.next < wr->cfg->max_pending &&
	    wr->ring.bytes < wr->cfg->max_buffer;
}

int writer_is_next(const struct writer *wr, uint64_t seq)
{
	return seq == wr->ring.next;
}

int writer_has(const struct writer *wr, uint64_t seq)
{
	return reorder_has(&wr->ring, seq);
}

void writer_put(struct writer *wr, uint64_t seq, char *data, size_t len,
    size_t rawlen, int compressed, unsigned char tag)
{
	if (reorder_put(&wr->ring, seq, data, len, rawlen, compressed,
	    tag) < 0)
		warnx("internal: a second result for line sequence %llu "
		    "was dropped", (unsigned long long)seq);
}

void writer_error(struct writer *wr, const struct record_ref *ref,
    uint64_t lineno, enum errcode code, const char *message,
    unsigned attempts)
{
	struct buf rec = { 0 };
	struct record_error re = { code, message, lineno, attempts };

	if (wr->no_errors)
		buf_addc(&rec, 0);	/* an empty record: nothing written */
	else
		record_error(&rec, wr->cfg, ref, &re);
	writer_put(wr, ref->seq, rec.data, wr->no_errors ? 0 : rec.len,
	    wr->no_errors ? 0 : rec.len, 0, stats_tag(code, 0));
	if (wr->joblog_fd >= 0)
		joblog_line(&wr->jl, ref->seq, ref->id, ref->idlen, wall_ms(),
		    0, attempts, 0, code, 0, 0, 0);
}

void writer_cached(struct writer *wr, const struct record_ref *ref,
    char *rec, size_t len, unsigned status,
    unsigned long long prompt_tokens, unsigned long long completion_tokens)
{
	if (!writer_is_next(wr, ref->seq) && wr->cfg->format == FORMAT_RECORD &&
	    output_journaling(&wr->sink))
		output_journal(&wr->sink, ref->seq, rec, len);
	writer_put(wr, ref->seq, rec, len, len, 0,
	    stats_tag(ERR_NONE, 1) | STATS_CACHED);
	if (wr->joblog_fd >= 0)
		joblog_line(&wr->jl, ref->seq, ref->id, ref->idlen, wall_ms(),
		    0, 0, status, ERR_NONE, prompt_tokens, completion_tokens,
		    0);
}

int writer_reuse(struct writer *wr, const struct reuse_line *ln, int use,
    enum reuse_match *m)
{
	struct buf rec = { 0 }, msg = { 0 };
	int r = output_reuse(&wr->sink, ln, &rec, &msg, m);

	if (r < 0)
		die(EXIT_USAGE, "%s", msg.data);
	buf_release(&msg);
	if (r > 0 && use) {
		writer_put(wr, ln->seq, rec.data, rec.len, rec.len, 0,
		    STATS_REUSED);
		wr->id_only += *m == MATCH_ID_ONLY;
		return 1;
	}
	wr->changed += use && *m == MATCH_OTHER;
	buf_release(&rec);
	return 0;
}

/* What --resume could not tell, and what it found changed. */
static void resume_notes(const struct writer *wr)
{
	if (wr->cfg->quiet)
		return;
	if (wr->id_only > 0)
		warnx("--resume: %llu of %s's successes were kept by custom_id "
		    "alone: they name no request (an older splitgpt made them), "
		    "so a changed request among them can't be told",
		    (unsigned long long)wr->id_only, wr->cfg->out_path);
	if (wr->changed > 0)
		warnx("--resume: %llu line%s asked for another request than "
		    "%s's record for %s: not reused, to be sent again",
		    (unsigned long long)wr->changed, wr->changed == 1 ? "" : "s",
		    wr->cfg->out_path, wr->changed == 1 ? "it" : "them");
}

/* Inflate a result of len bytes (rawlen inflated) onto the end of out. */
static void inflate_onto(struct writer *wr, struct buf *out, const char *data,
    size_t len, size_t rawlen)
{
	buf_grow(out, rawlen);
	inflateReset(&wr->z);
	wr->z.next_in = (unsigned char *)data;
	wr->z.avail_in = len;
	wr->z.next_out = (unsigned char *)out->data + out->len;
	wr->z.avail_out = rawlen;
	if (inflate(&wr->z, Z_FINISH) != Z_STREAM_END || wr->z.avail_out != 0)
		die(EXIT_INTERNAL, "internal: a result did not inflate");
	out->len += rawlen;
	out->data[out->len] = 0;
}

/* The journal holds records in the record format: the only one --resume
 * reads. */
void writer_journal(struct writer *wr, uint64_t seq,
    const struct msg_result *m)
{
	if (!(m->flags & RESULT_OK) || wr->cfg->format != FORMAT_RECORD ||
	    !output_journaling(&wr->sink))
		return;
	buf_reset(&wr->scratch);
	inflate_onto(wr, &wr->scratch, m->data, m->len, m->rawlen);
	output_journal(&wr->sink, seq, wr->scratch.data, wr->scratch.len);
}

void writer_log(struct writer *wr, uint64_t seq, const char *id,
    size_t idlen, const struct msg_result *m)
{
	if (wr->joblog_fd < 0)
		return;
	joblog_line(&wr->jl, seq, id, idlen, m->started_ms, m->latency_us,
	    m->attempts, m->status, m->error, m->prompt_tokens,
	    m->completion_tokens, m->first_token_us);
}

/* Count the first n records of wr->out as written. */
static void count_written(struct writer *wr, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		stats_written(wr->st, (unsigned char)wr->out_tags.data[k]);
	buf_consume(&wr->out_tags, n);
}

/*
 * Write what wr->out holds: 0 when all is, 1 if a signal came first (the
 * rest stays for the next call, after the loop has heard the signal), -1
 * when the reader of standard output is gone.
 */
static int write_out(struct writer *wr)
{
	const char *path = wr->cfg->out_path;
	int r;

	if (wr->out.len == 0) {
		count_written(wr, wr->out_tags.len);	/* empty records */
		return 0;
	}
	r = output_write(&wr->sink, wr->out.data, wr->out.len, &wr->out_off,
	    -1);
	if (r < 0) {
		if (errno == EPIPE && path == NULL)
			return -1;
		die_errno(EXIT_INTERNAL, "%s", path ? path : "standard output");
	}
	if (r > 0)
		return 1;
	count_written(wr, wr->out_tags.len);
	buf_reset(&wr->out);
	wr->out_off = 0;
	return 0;
}

static void write_joblog(struct writer *wr)
{
	if (wr->joblog_fd < 0 || wr->jl.len == 0)
		return;
	if (write_full(wr->joblog_fd, wr->jl.data, wr->jl.len) < 0)
		die_errno(EXIT_INTERNAL, "--joblog %s", wr->cfg->joblog_path);
	buf_reset(&wr->jl);
}

long writer_flush(struct writer *wr)
{
	struct reorder_slot r;
	long n = 0;
	int w;

	if ((w = write_out(wr)) != 0)
		return w < 0 ? -1 : 0;	/* what a signal cut short, first */
	while (reorder_take(&wr->ring, &r)) {
		n++;
		if (!r.compressed)
			buf_add(&wr->out, r.data, r.len);
		else
			inflate_onto(wr, &wr->out, r.data, r.len, r.rawlen);
		buf_addc(&wr->out_tags, (char)r.tag);
		free(r.data);
		if (wr->out.len >= OUT_FLUSH && (w = write_out(wr)) != 0)
			return w < 0 ? -1 : n;
	}
	if (write_out(wr) < 0)
		return -1;
	write_joblog(wr);
	return n;
}

size_t writer_pending(const struct writer *wr)
{
	return wr->out.len;
}

void writer_abort(struct writer *wr, int grace_ms)
{
	const char *nl;
	size_t end = wr->out_off, n = 0;

	if (wr->out.len == 0)
		return;
	if (end > 0 && wr->out.data[end - 1] != '\n' &&
	    (nl = memchr(wr->out.data + end, '\n', wr->out.len - end)) != NULL)
		end = (size_t)(nl - wr->out.data) + 1;
	if (end > wr->out_off && output_write(&wr->sink, wr->out.data, end,
	    &wr->out_off, grace_ms) != 0 && wr->out_off < end)
		warnx("the output ends with a cut record: its reader is not "
		    "reading");
	for (nl = wr->out.data; nl < wr->out.data + wr->out_off &&
	    (nl = memchr(nl, '\n', (size_t)(wr->out.data + wr->out_off -
	    nl))) != NULL; nl++)
		n++;
	count_written(wr, n);
	buf_reset(&wr->out);
	wr->out_off = 0;
}

int writer_may_block(const struct writer *wr)
{
	return output_may_block(&wr->sink);
}

void writer_close(struct writer *wr, int resume_done)
{
	if (resume_done && output_left_over(&wr->sink) > 0) {
		output_close(&wr->sink);
		die(EXIT_USAGE, "--resume: %s has more records than the input "
		    "has lines: is it the same input?", wr->cfg->out_path);
	}
	output_close(&wr->sink);
	resume_notes(wr);
	if (wr->joblog_fd >= 0 && close(wr->joblog_fd) < 0)
		die_errno(EXIT_INTERNAL, "--joblog %s", wr->cfg->joblog_path);
	wr->joblog_fd = -1;
	inflateEnd(&wr->z);
	reorder_free(&wr->ring);
	buf_release(&wr->out);
	buf_release(&wr->out_tags);
	buf_release(&wr->scratch);
	buf_release(&wr->jl);
}
