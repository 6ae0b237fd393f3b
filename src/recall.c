/*
 * recall.c: --cache on the parent's side (recall.h): lines answered from
 * the cache, and lines that wait on the same request already out.
 */
#include "parent.h"

#include <json-c/json.h>	/* json_tokener */
#include <stdlib.h>	/* free */
#include <string.h>	/* memcmp, memcpy */

void recall_init(struct parent *pp)
{
	struct recall *rc = &pp->rc;
	const struct config *cfg = pp->cfg;

	if (!cfg->cache_path)
		return;
	if (cache_check(cfg, &rc->why) < 0)
		die(EXIT_USAGE, "--cache %s: %s; nothing was sent",
		    cfg->cache_path, rc->why.data);
	rc->on = 1;
	rc->tok = json_tokener_new_ex(cfg->max_depth + 1);
}

static void wait_free(struct wait *w)
{
	size_t k;

	for (k = w->head; k < w->nf; k++) {
		free(w->f[k].id);
		free(w->f[k].meta);
	}
	free(w->f);
	buf_release(&w->path);
	buf_release(&w->body);
	free(w);
}

void recall_free(struct parent *pp)
{
	struct recall *rc = &pp->rc;
	size_t k;

	for (k = 0; k < rc->nw; k++)
		wait_free(rc->w[k]);
	free(rc->w);
	cache_hit_free(&rc->hit);
	buf_release(&rc->content);
	buf_release(&rc->why);
	if (rc->tok)
		json_tokener_free(rc->tok);
	cache_prefork();
}

/*
 * The record of line ref->seq from the cache, into the writer: 1, or 0
 * when the cache has no answer for it (or a lookup failed: said once,
 * and the line is sent).
 */
static int answer(struct parent *pp, const struct record_ref *ref)
{
	struct recall *rc = &pp->rc;
	struct cache_hit *h = &rc->hit;
	struct buf rec = { 0 };
	json_object *json;
	unsigned long long pt, ct;
	int r = cache_get(pp->cfg, ref->digest, h, &rc->why);

	if (r <= 0) {
		if (r < 0 && !rc->warned++)
			warnx("--cache %s: %s; lines it fails for are sent",
			    pp->cfg->cache_path, rc->why.data);
		return 0;
	}
	json_tokener_reset(rc->tok);
	json = json_tokener_parse_ex(rc->tok, h->body.data, (int)h->body.len);
	if (json == NULL)
		return 0;	/* stored whole, so not to be: sent again */
	record_answer(&rec, pp->cfg, ref, h->status, h->request_id.len ?
	    h->request_id.data : NULL, h->body.data, h->body.len, json, NULL,
	    &rc->content, &pt, &ct);
	json_object_put(json);
	writer_cached(&pp->wr, ref, rec.data, rec.len,
	    (unsigned)h->status, pt, ct);
	return 1;
}

/* The wait for this digest, or NULL. */
static struct wait *find(const struct recall *rc, const char *digest)
{
	size_t k;

	for (k = 0; k < rc->nw; k++)
		if (memcmp(rc->w[k]->digest, digest, DIGEST_HEX) == 0)
			return rc->w[k];
	return NULL;
}

static void follow(struct wait *w, const struct request *req, uint64_t seq,
    uint64_t lineno)
{
	struct follower *f;

	if (w->head > 0 && w->head == w->nf)
		w->head = w->nf = 0;
	if (w->nf == w->capf) {
		w->capf = w->capf ? w->capf * 2 : 4;
		w->f = xrealloc(w->f, w->capf * sizeof(*w->f));
	}
	if (w->path.len == 0) {
		/* The first follower: keep the request (the leader's, the
		 * same bytes), to send should the leader fail. */
		buf_add(&w->path, req->path.data, req->path.len);
		buf_add(&w->body, req->body.data, req->body.len);
		w->prompt_est = req->prompt_est;
		w->max_out = req->max_out;
	}
	f = &w->f[w->nf++];
	f->seq = seq;
	f->lineno = lineno;
	f->id = xmemdup(req->custom_id.data, req->custom_id.len);
	f->idlen = req->custom_id.len;
	f->meta = req->metadata.len ?
	    xmemdup(req->metadata.data, req->metadata.len) : NULL;
	f->metalen = req->metadata.len;
}

/* Line seq leads a new wait for its request. */
static void lead(struct recall *rc, const struct request *req, uint64_t seq)
{
	struct wait *w = xcalloc(1, sizeof(*w));

	memcpy(w->digest, req->digest, sizeof(w->digest));
	w->led = 1;
	w->leader_seq = seq;
	if (rc->nw == rc->capw) {
		rc->capw = rc->capw ? rc->capw * 2 : 16;
		rc->w = xrealloc(rc->w, rc->capw * sizeof(*rc->w));
	}
	rc->w[rc->nw++] = w;
}

int recall_line(struct parent *pp, const struct request *req, uint64_t seq,
    uint64_t lineno)
{
	struct recall *rc = &pp->rc;
	struct record_ref ref = {
		seq, req->custom_id.data, req->custom_id.len, req->digest,
		req->metadata.data, req->metadata.len
	};
	struct wait *w;

	if (!rc->on || !req->digest[0])
		return 0;
	if (answer(pp, &ref))
		return 1;
	if (pp->cfg->cache_readonly)
		return 0;	/* nothing is stored: nothing to wait for */
	if ((w = find(rc, req->digest)) != NULL) {
		follow(w, req, seq, lineno);
		return 1;
	}
	lead(rc, req, seq);
	return 0;
}

static void drop(struct recall *rc, struct wait *w)
{
	size_t k;

	for (k = 0; k < rc->nw && rc->w[k] != w; k++)
		;
	rc->w[k] = rc->w[--rc->nw];
	wait_free(w);
}

void recall_done(struct parent *pp, uint64_t seq, int stored)
{
	struct recall *rc = &pp->rc;
	struct wait *w = NULL;
	size_t k;

	for (k = 0; k < rc->nw && w == NULL; k++)
		if (rc->w[k]->led && rc->w[k]->leader_seq == seq)
			w = rc->w[k];
	if (w == NULL)
		return;
	w->led = 0;
	while (stored && w->head < w->nf) {
		struct follower *f = &w->f[w->head];
		struct record_ref ref = {
			f->seq, f->id, f->idlen, w->digest, f->meta, f->metalen
		};

		if (!answer(pp, &ref))
			break;	/* not there after all: sent */
		free(f->id);
		free(f->meta);
		w->head++;
	}
	if (w->head == w->nf)
		drop(rc, w);
	else
		rc->leaderless++;
}

size_t recall_waiting(const struct parent *pp)
{
	return pp->rc.leaderless;
}

int recall_next(struct parent *pp, struct request *req, uint64_t *seq,
    uint64_t *lineno)
{
	struct recall *rc = &pp->rc;
	struct follower *f;
	struct wait *w = NULL;
	size_t k;

	for (k = 0; k < rc->nw && w == NULL; k++)
		if (!rc->w[k]->led && rc->w[k]->head < rc->w[k]->nf)
			w = rc->w[k];
	if (w == NULL)
		return 0;
	f = &w->f[w->head++];
	buf_reset(&req->path);
	buf_add(&req->path, w->path.data, w->path.len);
	buf_reset(&req->body);
	buf_add(&req->body, w->body.data, w->body.len);
	buf_reset(&req->custom_id);
	buf_add(&req->custom_id, f->id, f->idlen);
	buf_reset(&req->metadata);
	if (f->metalen)
		buf_add(&req->metadata, f->meta, f->metalen);
	memcpy(req->digest, w->digest, sizeof(req->digest));
	req->prompt_est = w->prompt_est;
	req->max_out = w->max_out;
	*seq = f->seq;
	*lineno = f->lineno;
	free(f->id);
	free(f->meta);
	w->led = 1;
	w->leader_seq = f->seq;
	rc->leaderless--;
	return 1;
}
