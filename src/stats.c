/* stats.c: counting, percentiles, and the words and numbers shown. */
#include "stats.h"

#include <inttypes.h>	/* PRIu64 */
#include <math.h>	/* log, pow */
#include <stdio.h>	/* snprintf */
#include <stdlib.h>	/* free */
#include <string.h>	/* memset, strlen */

#include "config.h"	/* struct config */

#define LAT_BASE 1.02	/* each bucket 2% wider than the last */

void stats_init(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	s->start_us = now_us();
	s->rate_at_us = s->start_us;
}

void stats_servers(struct stats *s, const struct config *cfg)
{
	s->nservers = cfg->nservers;
	s->servers = xcalloc(cfg->nservers, sizeof(*s->servers));
	for (int k = 0; k < cfg->nservers; k++)
		s->servers[k].url = cfg->servers[k].url;
}

void stats_free(struct stats *s)
{
	free(s->servers);
	s->servers = NULL;
	s->nservers = 0;
}

void stats_server_answered(struct stats *s, unsigned k, int ok,
    uint64_t attempt_us)
{
	struct stats_server *v;

	if (k >= (unsigned)s->nservers)
		return;
	v = &s->servers[k];
	v->answered++;
	v->ok += ok != 0;
	v->lat_sum_us += attempt_us;
	hist_add(&v->lat, attempt_us);
}

/* The HTTP requests made: first attempts, retries, moves to a server. */
static uint64_t http_requests(const struct stats *s)
{
	return s->requests + s->retries + s->failovers;
}

static int bucket(uint64_t us)
{
	double ms = us / 1000.0;
	int b;

	if (ms <= 1)
		return 0;
	b = (int)(log(ms) / log(LAT_BASE)) + 1;
	return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

void hist_add(struct hist *h, uint64_t us)
{
	h->b[bucket(us)]++;
	h->count++;
	if (us > h->max_us)
		h->max_us = us;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0, top;
	int b;

	if (h->count == 0)
		return 0;
	want = (uint64_t)ceil(q * h->count);
	if (want < 1)
		want = 1;
	for (b = 0; b < LAT_BUCKETS; b++) {
		seen += h->b[b];
		if (seen >= want)
			break;
	}
	top = (uint64_t)(pow(LAT_BASE, b) * 1000);
	return top < h->max_us ? top : h->max_us;
}

unsigned char stats_tag(enum errcode code, int ok)
{
	if (ok)
		return ERR_NONE;
	return code != ERR_NONE && code < ERR_COUNT ? (unsigned char)code :
	    STATS_HTTP_ERROR;
}

void stats_written(struct stats *s, unsigned char tag)
{
	s->done++;
	if ((tag & ~(STATS_REUSED | STATS_CACHED)) == ERR_NONE) {
		s->ok++;
		if (tag & STATS_REUSED)
			s->reused++;
		if (tag & STATS_CACHED)
			s->cache_hits++;
		return;
	}
	if (tag == ERR_BLANK_LINE) {
		s->blank++;	/* neither ok nor failed */
		return;
	}
	s->failed++;
	if (tag == STATS_HTTP_ERROR)
		s->http_errors++;
	else
		s->by_code[tag]++;
}

void stats_stream(struct stats *s, uint64_t first_token_us,
    uint64_t completion_tokens, uint64_t latency_us)
{
	if (first_token_us == 0)
		return;
	hist_add(&s->first_token, first_token_us);
	if (latency_us > first_token_us) {
		s->stream_tokens += completion_tokens;
		s->stream_us += latency_us - first_token_us;
	}
}

void stats_rate(struct stats *s, uint64_t now)
{
	double dt = (now - s->rate_at_us) / 1e6;
	uint64_t tokens = s->prompt_tokens + s->completion_tokens;

	if (dt < 2)
		return;
	s->rate_rps = (s->done - s->reused - s->rate_done) / dt;
	s->rate_tps = (tokens - s->rate_tokens) / dt;
	s->rate_at_us = now;
	s->rate_done = s->done - s->reused;
	s->rate_tokens = tokens;
}

void fmt_count(char *out, size_t n, double v)
{
	if (v < 1000)
		snprintf(out, n, "%.0f", v);
	else if (v < 1e6)
		snprintf(out, n, "%.1fk", v / 1e3);
	else if (v < 1e9)
		snprintf(out, n, "%.1fM", v / 1e6);
	else
		snprintf(out, n, "%.1fG", v / 1e9);
}

void fmt_duration(char *out, size_t n, double sec)
{
	long s = sec < 0 ? 0 : (long)(sec + 0.5);

	if (s < 60)
		snprintf(out, n, "%lds", s);
	else if (s < 3600)
		snprintf(out, n, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, n, "%ldh%02ldm", s / 3600, s / 60 % 60);
}

static double elapsed(const struct stats *s, uint64_t now)
{
	return (now - s->start_us) / 1e6;
}

/* Requests per second: the live rate once there is one, else overall. */
static double rps(const struct stats *s, uint64_t now)
{
	double t = elapsed(s, now);

	if (s->rate_rps > 0)
		return s->rate_rps;
	return t > 0 ? (s->done - s->reused) / t : 0;
}

/* Add part (len bytes) to out if it fits in width columns (0: any). */
static int fit(struct buf *out, size_t width, const char *part)
{
	size_t n = strlen(part);

	if (width > 0 && out->len + n > width)
		return 0;
	buf_add(out, part, n);
	return 1;
}

void stats_progress(const struct stats *s, uint64_t now, size_t width,
    struct buf *out)
{
	char a[16], b[16], c[16], part[128];
	double r = rps(s, now);
	size_t start = out->len;

	width = width > 0 ? width + start : 0;	/* out may hold a prefix */
	fmt_count(a, sizeof(a), (double)s->done);
	if (s->total) {
		fmt_count(b, sizeof(b), (double)s->total);
		snprintf(part, sizeof(part), "%s/%s %.1f%%", a, b,
		    100.0 * s->done / s->total);
	} else
		snprintf(part, sizeof(part), "%s lines", a);
	if (!fit(out, width, part))
		return;
	snprintf(part, sizeof(part), " | %.1f lines/s", r);
	if (!fit(out, width, part))
		return;
	if (s->total && s->done < s->total && r > 0) {
		fmt_duration(c, sizeof(c), (s->total - s->done) / r);
		snprintf(part, sizeof(part), " | ETA %s", c);
	} else {
		fmt_duration(c, sizeof(c), elapsed(s, now));
		snprintf(part, sizeof(part), " | elapsed %s", c);
	}
	if (!fit(out, width, part))
		return;
	snprintf(part, sizeof(part), " | ok %" PRIu64 " failed %" PRIu64
	    " retried %" PRIu64, s->ok, s->failed, s->retries);
	if (!fit(out, width, part))
		return;
	if (s->workers > 0) {
		snprintf(part, sizeof(part), " | P=%d", s->workers);
		if (!fit(out, width, part))
			return;
	}
	fmt_count(a, sizeof(a), (double)s->prompt_tokens);
	fmt_count(b, sizeof(b), (double)s->completion_tokens);
	fmt_count(c, sizeof(c), s->rate_tps);
	snprintf(part, sizeof(part), " | tokens %s in %s out", a, b);
	if (fit(out, width, part) && s->rate_tps > 0) {
		snprintf(part, sizeof(part), " (%s/s)", c);
		fit(out, width, part);
	}
}

double stats_cost(const struct stats *s)
{
	uint64_t cached = s->cached_tokens < s->prompt_tokens ?
	    s->cached_tokens : s->prompt_tokens;

	return ((s->prompt_tokens - cached) * s->price_in +
	    cached * s->price_cached + s->completion_tokens * s->price_out) /
	    1e6;
}

void stats_http_error(struct stats *s, unsigned status, const char *code)
{
	unsigned k;

	for (k = 0; k < s->nkinds; k++)
		if (s->kinds[k].status == status &&
		    strcmp(s->kinds[k].code, code) == 0) {
			s->kinds[k].n++;
			return;
		}
	if (s->nkinds == STATS_KINDS) {
		s->kinds_other++;
		return;
	}
	s->kinds[k].status = status;
	snprintf(s->kinds[k].code, sizeof(s->kinds[k].code), "%s", code);
	s->kinds[k].n = 1;
	s->nkinds++;
}

/* The kinds, "404 model_not_found 10, 500 3", as JSON members if json. */
static void kinds(const struct stats *s, struct buf *out, int json)
{
	char key[64];
	unsigned k;

	for (k = 0; k < s->nkinds; k++) {
		const struct stats_kind *x = &s->kinds[k];

		snprintf(key, sizeof(key), "%u%s%s", x->status,
		    x->code[0] ? " " : "", x->code);
		if (json) {
			buf_adds(out, k ? "," : "");
			buf_add_json_string(out, key, strlen(key));
			buf_addf(out, ":%" PRIu64, x->n);
		} else
			buf_addf(out, "%s%s %" PRIu64, k ? ", " : "", key, x->n);
	}
	if (s->kinds_other)
		buf_addf(out, json ? "%s\"other\":%" PRIu64 : "%sother %" PRIu64,
		    s->nkinds ? (json ? "," : ", ") : "", s->kinds_other);
}

/* Server k's line of the summary (the parts that are not zero). */
static void server_summary(const struct stats_server *v, int k,
    struct buf *out)
{
	buf_addf(out, "splitgpt: server %d %s: %" PRIu64 " answered (%" PRIu64
	    " ok)", k + 1, v->url, v->answered, v->ok);
	if (v->failed)
		buf_addf(out, ", %" PRIu64 " failed attempt%s", v->failed,
		    v->failed == 1 ? "" : "s");
	if (v->failovers)
		buf_addf(out, ", %" PRIu64 " moved to another server",
		    v->failovers);
	if (v->set_aside)
		buf_addf(out, ", set aside %" PRIu64 " time%s", v->set_aside,
		    v->set_aside == 1 ? "" : "s");
	if (v->answered)
		buf_addf(out, ", latency p50 %.3f s p95 %.3f s",
		    hist_quantile(&v->lat, 0.5) / 1e6,
		    hist_quantile(&v->lat, 0.95) / 1e6);
	buf_addc(out, '\n');
}

void stats_summary(const struct stats *s, uint64_t now, struct buf *out)
{
	double t = elapsed(s, now);
	int i, first = 1;

	buf_addf(out, "splitgpt: %" PRIu64 " line%s: %" PRIu64 " ok, %" PRIu64
	    " failed", s->done, s->done == 1 ? "" : "s", s->ok, s->failed);
	if (s->blank)
		buf_addf(out, ", %" PRIu64 " blank", s->blank);
	for (i = 1; i < ERR_COUNT; i++) {
		if (!s->by_code[i])
			continue;
		buf_addf(out, "%s%s %" PRIu64, first ? " (" : ", ",
		    errcode_name(i), s->by_code[i]);
		first = 0;
	}
	if (s->http_errors)
		buf_addf(out, "%shttp_error %" PRIu64, first ? " (" : ", ",
		    s->http_errors), first = 0;
	buf_addf(out, "%s; %" PRIu64 " retr%s", first ? "" : ")", s->retries,
	    s->retries == 1 ? "y" : "ies");
	if (s->failovers)
		buf_addf(out, ", %" PRIu64 " moved to another server",
		    s->failovers);
	buf_addf(out, "; %" PRIu64 " request%s", http_requests(s),
	    http_requests(s) == 1 ? "" : "s");
	if (s->reused)
		buf_addf(out, "; %" PRIu64 " reused from the output file",
		    s->reused);
	if (s->cache_hits)
		buf_addf(out, "; %" PRIu64 " answered from the cache",
		    s->cache_hits);
	if (s->hedged)
		buf_addf(out, "; %" PRIu64 " hedged (the copy first in %"
		    PRIu64 ")", s->hedged, s->hedge_won);
	if (s->workers > 0)
		buf_addf(out, "; -P auto: %d at the end, %d at most",
		    s->workers, s->workers_peak);
	if (s->nkinds) {
		buf_adds(out, "\nsplitgpt: HTTP errors by status and code: ");
		kinds(s, out, 0);
	}
	buf_addf(out, "\nsplitgpt: tokens: %" PRIu64 " prompt, %" PRIu64
	    " completion", s->prompt_tokens, s->completion_tokens);
	if (s->price_in > 0 || s->price_out > 0)
		buf_addf(out, "; estimated cost $%.4f", stats_cost(s));
	buf_addf(out, "\nsplitgpt: %.2f s, %.1f lines/s, %.1f requests/s; "
	    "latency p50 %.3f s, p95 %.3f s, max %.3f s\n", t,
	    t > 0 ? (s->done - s->reused) / t : 0,
	    t > 0 ? http_requests(s) / t : 0,
	    hist_quantile(&s->latency, 0.5) / 1e6,
	    hist_quantile(&s->latency, 0.95) / 1e6, s->latency.max_us / 1e6);
	for (int k = 0; s->nservers > 1 && k < s->nservers; k++)
		server_summary(&s->servers[k], k, out);
	if (s->first_token.count)
		buf_addf(out, "splitgpt: streamed %" PRIu64 ": first token p50 "
		    "%.3f s, p95 %.3f s; %.1f tokens/s while streaming\n",
		    s->first_token.count,
		    hist_quantile(&s->first_token, 0.5) / 1e6,
		    hist_quantile(&s->first_token, 0.95) / 1e6,
		    s->stream_us ? s->stream_tokens / (s->stream_us / 1e6) : 0);
}

/* The --stats "servers" member. */
static void servers_json(const struct stats *s, struct buf *out)
{
	buf_adds(out, ",\"servers\":[");
	for (int k = 0; k < s->nservers; k++) {
		const struct stats_server *v = &s->servers[k];

		buf_adds(out, k ? ",{\"url\":" : "{\"url\":");
		buf_add_json_string(out, v->url, strlen(v->url));
		buf_addf(out, ",\"answered\":%" PRIu64 ",\"ok\":%" PRIu64
		    ",\"failed_attempts\":%" PRIu64 ",\"failovers\":%" PRIu64
		    ",\"set_aside\":%" PRIu64 ",\"latency_mean_s\":%.6f"
		    ",\"latency_p50_s\":%.6f,\"latency_p95_s\":%.6f}",
		    v->answered, v->ok, v->failed, v->failovers, v->set_aside,
		    v->answered ? v->lat_sum_us / 1e6 / v->answered : 0,
		    hist_quantile(&v->lat, 0.5) / 1e6,
		    hist_quantile(&v->lat, 0.95) / 1e6);
	}
	buf_adds(out, "]");
}

void stats_json(const struct stats *s, uint64_t now, long maxrss_kb,
    struct buf *out)
{
	double t = elapsed(s, now);
	int i, first = 1;

	buf_addf(out, "{\"lines\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"failed\":%"
	    PRIu64 ",\"blank\":%" PRIu64 ",\"reused\":%" PRIu64
	    ",\"errors\":{", s->done, s->ok, s->failed, s->blank, s->reused);
	for (i = 1; i < ERR_COUNT; i++) {
		if (!s->by_code[i])
			continue;
		buf_addf(out, "%s\"%s\":%" PRIu64, first ? "" : ",",
		    errcode_name(i), s->by_code[i]);
		first = 0;
	}
	buf_addf(out, "},\"http_errors\":%" PRIu64 ",\"lines_sent\":%" PRIu64
	    ",\"requests\":%" PRIu64 ",\"retries\":%" PRIu64
	    ",\"failovers\":%" PRIu64 ",\"prompt_tokens\":%" PRIu64 ",\"completion_tokens\":%" PRIu64
	    ",\"seconds\":%.3f,\"lines_per_second\":%.3f"
	    ",\"requests_per_second\":%.3f,\"latency_p50\":%.6f"
	    ",\"latency_p95\":%.6f,\"latency_max\":%.6f",
	    s->http_errors, s->requests, http_requests(s), s->retries,
	    s->failovers, s->prompt_tokens, s->completion_tokens, t,
	    t > 0 ? (s->done - s->reused) / t : 0,
	    t > 0 ? http_requests(s) / t : 0,
	    hist_quantile(&s->latency, 0.5) / 1e6,
	    hist_quantile(&s->latency, 0.95) / 1e6, s->latency.max_us / 1e6);
	if (s->workers > 0)
		buf_addf(out, ",\"workers\":%d,\"workers_peak\":%d",
		    s->workers, s->workers_peak);
	buf_addf(out, ",\"prompt_tokens_estimated\":%" PRIu64
	    ",\"cached_tokens\":%" PRIu64, s->prompt_estimated,
	    s->cached_tokens);
	buf_adds(out, ",\"http_errors_by_kind\":{");
	kinds(s, out, 1);
	buf_adds(out, "}");
	buf_addf(out, ",\"hedged\":%" PRIu64 ",\"hedge_won\":%" PRIu64
	    ",\"cache_hits\":%" PRIu64, s->hedged, s->hedge_won,
	    s->cache_hits);
	buf_addf(out, ",\"streamed\":%" PRIu64 ",\"first_token_p50\":%.6f"
	    ",\"first_token_p95\":%.6f,\"stream_tokens_per_second\":%.3f",
	    s->first_token.count, hist_quantile(&s->first_token, 0.5) / 1e6,
	    hist_quantile(&s->first_token, 0.95) / 1e6,
	    s->stream_us ? s->stream_tokens / (s->stream_us / 1e6) : 0);
	if (s->price_in > 0 || s->price_out > 0)
		buf_addf(out, ",\"cost\":%.6f", stats_cost(s));
	else
		buf_adds(out, ",\"cost\":null");
	servers_json(s, out);
	buf_addf(out, ",\"parent_max_rss_kb\":%ld}\n", maxrss_kb);
}

void joblog_header(struct buf *out)
{
	buf_adds(out, "Seq\tCustomId\tStarttime\tJobRuntime\tAttempts\t"
	    "Status\tError\tPromptTokens\tCompletionTokens\tFirstToken\n");
}

void joblog_line(struct buf *out, uint64_t seq, const char *custom_id,
    size_t idlen, uint64_t start_ms, uint64_t latency_us, unsigned attempts,
    unsigned status, enum errcode code, uint64_t prompt_tokens,
    uint64_t completion_tokens, uint64_t first_token_us)
{
	size_t i;

	buf_addf(out, "%" PRIu64 "\t", seq + 1);
	/* A TSV field can't hold tabs or line ends. */
	for (i = 0; i < idlen; i++) {
		char c = custom_id[i];

		buf_addc(out, c == '\t' || c == '\n' || c == '\r' ? ' ' : c);
	}
	buf_addf(out, "\t%" PRIu64 ".%03u\t%.3f\t%u\t%u\t%s\t%" PRIu64 "\t%"
	    PRIu64 "\t", start_ms / 1000, (unsigned)(start_ms % 1000),
	    latency_us / 1e6, attempts, status,
	    code == ERR_NONE ? "-" : errcode_name(code), prompt_tokens,
	    completion_tokens);
	if (first_token_us)
		buf_addf(out, "%.3f\n", first_token_us / 1e6);
	else
		buf_adds(out, "-\n");
}
