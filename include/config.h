/*
 * config.h: the run's settings, every one of them, filled once by option
 * parsing (options.h) in the parent before any worker is forked, and
 * read-only afterwards (each worker has its own copy through fork).
 */
#ifndef SPLITGPT_CONFIG_H
#define SPLITGPT_CONFIG_H

#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint32_t */

#define SPLITGPT_VERSION "0.1.0"

#define SERVERS_MAX 64	/* --base-url given this many times at most */

/* A server (--base-url URL[,key-file=F][,header-file=F]). */
struct server {
	const char *url;	/* tidied; trailing slashes are dropped by
				 * url_join */
	const char *key;	/* key-file's key, or NULL: the run's */
	char **headers;		/* header-file's, NULL terminated, or NULL */
	int nheaders;
};

enum out_format {
	FORMAT_RECORD,	/* Batch API output records */
	FORMAT_CONTENT	/* one JSON string (or null) per line */
};

struct config {
	int jobs;			/* -P: worker processes */
	const char *base_url;		/* servers[0].url */
	struct server *servers;		/* one per --base-url, in order */
	int nservers;
	const char *endpoint;		/* path for lines that don't name one */
	const char *model;		/* defaults filled into bodies, or NULL */
	const char *system;
	long long max_tokens;		/* -1: not set */
	const char *temperature;	/* kept as the user wrote it */
	const char *body_defaults;	/* -d: a JSON object, checked */
	int text;			/* --text: lines are plain prompts */
	int keep_blank;			/* --keep-blank: blank lines get a
					 * blank_line record */
	enum out_format format;

	const char *api_key;		/* from the environment, never argv */
	int key_azure;			/* it is AZURE_OPENAI_API_KEY: sent as
					 * api-key, not Authorization */
	char **headers;			/* -H values, NULL terminated */
	int nheaders;

	long connect_timeout_ms;
	long timeout_ms;		/* one attempt */
	long max_time_ms;		/* one request, all attempts; 0: none */
	int retries;			/* attempts = retries + 1 */
	long backoff_max_ms;
	long max_retry_wait_ms;		/* a server asking for longer: give up */
	int stream;			/* --stream: ask for event streams */
	long idle_timeout_ms;		/* a stream silent this long is cut;
					 * 0: never */

	size_t max_line;		/* input line length */
	size_t max_response;		/* response body size */
	int max_depth;			/* JSON nesting */
	size_t max_pending;		/* lines in flight + buffered results */
	size_t max_buffer;		/* compressed bytes buffered */
	int allow_dup_ids;		/* remember no custom_ids */

	int verbose;
	int insecure;			/* --insecure: no TLS verification */
	const char *cacert;		/* --cacert FILE */
	int quiet;
	uint32_t run_id;		/* makes record ids unique across runs */

	/* The parent's own settings (the workers read none of these). */
	double hedge_s;			/* --hedge S: copy a line out this long */
	double hedge_x;			/* --hedge Nx: N x the median latency */
	long long halt_count;		/* --halt-after N, or -1 */
	int halt_percent;		/* --halt-after N%, or -1 */
	double rpm, tpm;		/* --rpm, --tpm; 0: no limit */
	const char *out_path;		/* -o, or NULL for standard output */
	int resume;			/* --resume */
	int jobs_auto;			/* -P auto: jobs is the most */
	int dry_run;			/* --dry-run */
	int emit_requests;		/* --emit-requests */
	const char *cache_path;		/* --cache, or NULL */
	int cache_readonly;		/* --no-cache-write */
	int progress;			/* draw the progress line */
	const char *stats_path;		/* --stats, or NULL */
	const char *joblog_path;	/* --joblog, or NULL */
	double price_in, price_out;	/* --price-in, --price-out */
	double price_cached;		/* --price-cached-in, -1: price_in */
	double max_cost;		/* --max-cost, 0: none */
};

#endif
