/*
 * stats.h: what a run has done, for the progress line, the summary, the
 * --stats file and the job log.
 *
 * Requests, tokens and latencies are counted in the parent as results
 * arrive (they were paid for); lines (done, ok, failed and their codes)
 * as their records are written, so a run cut short counts what its
 * output holds.  Latencies go
 * into a histogram of logarithmic buckets (2% wide, from 1 ms to about
 * 100 hours), so percentiles cost a fixed few kilobytes however long the
 * run, and are exact to within a bucket.
 */
#ifndef SPLITGPT_STATS_H
#define SPLITGPT_STATS_H

#include <stdint.h>	/* uint64_t */
#include <stdio.h>	/* FILE */

#include "record.h"	/* ERR_COUNT */
#include "util.h"	/* struct buf */

#define LAT_BUCKETS 1000

/* A histogram of durations. */
struct hist {
	uint64_t count;
	uint64_t max_us;
	uint32_t b[LAT_BUCKETS];
};

void hist_add(struct hist *h, uint64_t us);
/* The duration at quantile q in [0, 1], in microseconds (upper bound). */
uint64_t hist_quantile(const struct hist *h, double q);

#define STATS_KINDS 16

struct config;

/* What one server (config.h) did. */
struct stats_server {
	const char *url;
	uint64_t answered;	/* lines whose last attempt was there */
	uint64_t ok;		/* ... with a 2xx answer */
	uint64_t failed;	/* attempts there that failed */
	uint64_t failovers;	/* lines moved from it to another server */
	uint64_t set_aside;	/* times set aside (route.h) */
	uint64_t lat_sum_us;	/* the last attempt's time, answered lines */
	struct hist lat;
};

struct stats {
	uint64_t start_us;	/* monotonic */
	uint64_t total;		/* lines expected, 0 if unknown */
	uint64_t done;		/* records made */
	uint64_t ok;
	uint64_t failed;
	uint64_t reused;	/* successes taken from the -o file */
	uint64_t cache_hits;	/* successes answered from --cache */
	uint64_t blank;		/* blank lines' records (--keep-blank) */
	uint64_t by_code[ERR_COUNT];
	uint64_t http_errors;	/* records with a non-2xx response */
	uint64_t retries;	/* attempts beyond the first */
	uint64_t requests;	/* lines that reached a worker (their first
				 * attempts: HTTP requests are these plus
				 * the retries and the failovers) */
	uint64_t failovers;	/* attempts moved to another server, not
				 * counted as retries */
	int workers, workers_peak;	/* -P auto: the limit now, its peak;
					 * 0 without */
	uint64_t hedged;	/* lines sent a second time (--hedge) */
	uint64_t hedge_won;	/* ... whose copy answered first */
	uint64_t prompt_tokens;
	uint64_t cached_tokens;		/* of the prompt tokens, cached */
	uint64_t completion_tokens;
	uint64_t prompt_estimated;	/* the --tpm estimate of the lines sent
					 * (--dry-run reports the same) */
	struct hist latency;
	struct hist first_token;	/* streamed answers only */
	uint64_t stream_tokens;		/* their completion tokens */
	uint64_t stream_us;		/* and time from first token to end */
	/* HTTP error records by status and the server's error code: the
	 * first STATS_KINDS kinds, then the rest together. */
	struct stats_kind {
		unsigned status;
		char code[48];
		uint64_t n;
	} kinds[STATS_KINDS];
	unsigned nkinds;
	uint64_t kinds_other;
	double price_in;	/* per million tokens; 0 if not given */
	double price_out;
	double price_cached;	/* cached prompt tokens (price_in if not
				 * given) */
	struct stats_server *servers;	/* one per server, in order */
	int nservers;
	/* For the live rate: a snapshot a few seconds old. */
	uint64_t rate_at_us, rate_done, rate_tokens;
	double rate_rps, rate_tps;
};

void stats_init(struct stats *s);
/* A count for each of cfg's servers; stats_free frees them. */
void stats_servers(struct stats *s, const struct config *cfg);
void stats_free(struct stats *s);
/* A line's last attempt was on server k, took attempt_us; ok: 2xx. */
void stats_server_answered(struct stats *s, unsigned k, int ok,
    uint64_t attempt_us);

/*
 * What a record says, in a byte, for counting it once it is written: its
 * error code (ERR_NONE for a success), or STATS_HTTP_ERROR for a non-2xx
 * response with none; STATS_REUSED added to a success taken from the -o
 * file, STATS_CACHED to one answered from --cache.
 */
#define STATS_HTTP_ERROR 0x3f
#define STATS_CACHED 0x40
#define STATS_REUSED 0x80
unsigned char stats_tag(enum errcode code, int ok);
/* An HTTP error record came: its status and the server's code ("" for
 * none), for the summary's count by kind. */
void stats_http_error(struct stats *s, unsigned status, const char *code);
/* A record with this tag was written. */
void stats_written(struct stats *s, unsigned char tag);
/* A streamed answer: time to its first token, tokens, total time. */
void stats_stream(struct stats *s, uint64_t first_token_us,
    uint64_t completion_tokens, uint64_t latency_us);
/* Refresh the live rates from a snapshot at least 2 s old. */
void stats_rate(struct stats *s, uint64_t now_us);

/* What the answers' usage cost, at the prices given, in dollars. */
double stats_cost(const struct stats *s);

/* "1.5k", "2.3M": counts in a few characters. */
void fmt_count(char *out, size_t n, double v);
/* "45s", "3m12s", "2h05m": durations. */
void fmt_duration(char *out, size_t n, double seconds);

/*
 * The progress line, without a line end, in at most width columns (0: no
 * limit): its parts in order of use (done and total, the rate, the ETA
 * or the time elapsed, ok/failed/retried, tokens), as many as fit whole.
 * One column per byte: every part is ASCII.
 */
void stats_progress(const struct stats *s, uint64_t now_us, size_t width,
    struct buf *out);
/* The summary, several lines each starting "splitgpt: ". */
void stats_summary(const struct stats *s, uint64_t now_us, struct buf *out);
/* The same figures as a JSON object, one line. */
void stats_json(const struct stats *s, uint64_t now_us, long parent_maxrss_kb,
    struct buf *out);

/* The job log's header line and one line per record. */
void joblog_header(struct buf *out);
void joblog_line(struct buf *out, uint64_t seq, const char *custom_id,
    size_t idlen, uint64_t start_ms, uint64_t latency_us, unsigned attempts,
    unsigned status, enum errcode code, uint64_t prompt_tokens,
    uint64_t completion_tokens, uint64_t first_token_us);

#endif
