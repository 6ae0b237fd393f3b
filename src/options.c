/*
 * options.c: the command line and the environment into struct config
 * (options.h).  Every error is a usage error (exit 2) that names the
 * option as it was written.
 */
#include "options.h"

#include <getopt.h>	/* getopt_long */
#include <stdio.h>	/* fputs, getline */
#include <stdlib.h>	/* getenv, exit */
#include <string.h>	/* strcmp, strchr */
#include <unistd.h>	/* access, isatty */

#include "credentials.h"	/* header_add, key_read, key_warnings */
#include "classify.h"	/* classifier_new: checks -d and --temperature */
#include "util.h"	/* die, parse_num */
#include "worker.h"	/* worker_versions */

#define MAX_JOBS 4096
#define AUTO_MAX 256		/* -P auto's most workers */

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(EXIT_USAGE);
}


enum {
	OPT_SYSTEM = 256, OPT_MAX_TOKENS, OPT_TEMPERATURE, OPT_ENDPOINT,
	OPT_TEXT, OPT_KEEP_BLANK, OPT_FORMAT, OPT_BASE_URL, OPT_CONNECT_TIMEOUT, OPT_TIMEOUT,
	OPT_MAX_TIME, OPT_RETRIES, OPT_BACKOFF_MAX, OPT_MAX_RETRY_WAIT,
	OPT_HALT_AFTER, OPT_MAX_LINE, OPT_MAX_RESPONSE, OPT_MAX_DEPTH,
	OPT_MAX_PENDING, OPT_MAX_BUFFER, OPT_RESUME, OPT_PROGRESS,
	OPT_NO_PROGRESS, OPT_STATS, OPT_JOBLOG, OPT_PRICE_IN, OPT_PRICE_OUT,
	OPT_RPM, OPT_TPM, OPT_API_KEY_FILE, OPT_INSECURE, OPT_CACERT, OPT_STREAM, OPT_IDLE_TIMEOUT,
	OPT_HEDGE, OPT_ALLOW_DUP_IDS, OPT_DRY_RUN, OPT_EMIT_REQUESTS,
	OPT_PRICE_CACHED, OPT_MAX_COST, OPT_CACHE, OPT_NO_CACHE_WRITE
};

static const struct option longopts[] = {
	{ "jobs", required_argument, NULL, 'P' },
	{ "model", required_argument, NULL, 'm' },
	{ "system", required_argument, NULL, OPT_SYSTEM },
	{ "max-tokens", required_argument, NULL, OPT_MAX_TOKENS },
	{ "temperature", required_argument, NULL, OPT_TEMPERATURE },
	{ "body", required_argument, NULL, 'd' },
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "keep-blank", no_argument, NULL, OPT_KEEP_BLANK },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "base-url", required_argument, NULL, OPT_BASE_URL },
	{ "header", required_argument, NULL, 'H' },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "stream", no_argument, NULL, OPT_STREAM },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "max-time", required_argument, NULL, OPT_MAX_TIME },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "hedge", required_argument, NULL, OPT_HEDGE },
	{ "backoff-max", required_argument, NULL, OPT_BACKOFF_MAX },
	{ "max-retry-wait", required_argument, NULL, OPT_MAX_RETRY_WAIT },
	{ "halt-after", required_argument, NULL, OPT_HALT_AFTER },
	{ "max-line-length", required_argument, NULL, OPT_MAX_LINE },
	{ "max-response-size", required_argument, NULL, OPT_MAX_RESPONSE },
	{ "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
	{ "max-pending", required_argument, NULL, OPT_MAX_PENDING },
	{ "max-buffer", required_argument, NULL, OPT_MAX_BUFFER },
	{ "allow-duplicate-ids", no_argument, NULL, OPT_ALLOW_DUP_IDS },
	{ "api-key-file", required_argument, NULL, OPT_API_KEY_FILE },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "cacert", required_argument, NULL, OPT_CACERT },
	{ "rpm", required_argument, NULL, OPT_RPM },
	{ "tpm", required_argument, NULL, OPT_TPM },
	{ "output", required_argument, NULL, 'o' },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "emit-requests", no_argument, NULL, OPT_EMIT_REQUESTS },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "no-cache-write", no_argument, NULL, OPT_NO_CACHE_WRITE },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "joblog", required_argument, NULL, OPT_JOBLOG },
	{ "price-in", required_argument, NULL, OPT_PRICE_IN },
	{ "price-out", required_argument, NULL, OPT_PRICE_OUT },
	{ "price-cached-in", required_argument, NULL, OPT_PRICE_CACHED },
	{ "max-cost", required_argument, NULL, OPT_MAX_COST },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* "--name" for longopts[i], in a static buffer. */
static const char *longname(int i)
{
	static char name[40];

	snprintf(name, sizeof(name), "--%s", longopts[i].name);
	return name;
}

static long seconds_ms(const char *opt, const char *arg, double min)
{
	return (long)(parse_seconds(opt, arg, min, 86400 * 7) * 1000 + 0.5);
}

/* "N<suffix>" (suffix 'x' or '%'): the N as a string in out, or NULL. */
static const char *strip_suffix(const char *arg, const char *suffixes,
    char *out, size_t cap)
{
	size_t n = strlen(arg);

	if (n < 2 || strchr(suffixes, arg[n - 1]) == NULL)
		return NULL;
	if (n >= cap)
		return "";	/* too long to be a number */
	memcpy(out, arg, n - 1);
	out[n - 1] = 0;
	return out;
}

/*
 * getopt_long found no option in the argument it returned (c is '?', or
 * ':' for a missing value): say which and why, in our own words and with
 * our own name (getopt's would be argv[0]'s), and point to --help.
 */
static void NORETURN bad_option(int c, char **argv)
{
	const char *arg = argv[optind - 1], *eq;
	char shown[64];
	int i, n = 0, takes = -1;

	if (strncmp(arg, "--", 2) == 0) {
		eq = strchr(arg, '=');
		snprintf(shown, sizeof(shown), "%.*s", (int)(eq ? eq - arg :
		    (long)strlen(arg)), arg);
		for (i = 0; longopts[i].name; i++)
			if (strncmp(longopts[i].name, shown + 2,
			    strlen(shown + 2)) == 0) {
				n++;
				takes = longopts[i].has_arg;
			}
	} else
		snprintf(shown, sizeof(shown), "-%c", optopt);
	if (c == ':')
		warnx("%s needs a value; see splitgpt --help", shown);
	else if (n > 1)
		warnx("%s is ambiguous: it begins more than one option; see "
		    "splitgpt --help", shown);
	else if (n == 1 && takes == no_argument)
		warnx("%s takes no value; see splitgpt --help", shown);
	else
		warnx("%s: no such option; splitgpt --help lists them", shown);
	exit(EXIT_USAGE);
}

/* What goes into each request: 1 if c was one of those options. */
static int opt_request(int c, const char *arg, const char *name,
    struct config *cfg)
{
	switch (c) {
	case 'P':
		/* N, or auto (up to AUTO_MAX), or auto:MAX */
		cfg->jobs_auto = strncmp(arg, "auto", 4) == 0;
		if (!cfg->jobs_auto)
			cfg->jobs = parse_num(name ? name : "-P", arg, 1,
			    MAX_JOBS);
		else if (arg[4] == ':')
			cfg->jobs = parse_num(name ? name : "-P auto:", arg + 5,
			    1, MAX_JOBS);
		else if (arg[4] == 0)
			cfg->jobs = AUTO_MAX;
		else
			die(EXIT_USAGE, "%s %s: not N, auto or auto:MAX",
			    name ? name : "-P", arg);
		break;
	case 'm':
		cfg->model = arg;
		break;
	case OPT_SYSTEM:
		cfg->system = arg;
		break;
	case OPT_MAX_TOKENS:
		cfg->max_tokens = parse_num("--max-tokens", arg, 1, 100000000);
		break;
	case OPT_TEMPERATURE:
		cfg->temperature = arg;
		break;
	case 'd':
		cfg->body_defaults = arg;
		break;
	case OPT_ENDPOINT:
		if (arg[0] != '/')
			die(EXIT_USAGE, "--endpoint %s: not a path such as "
			    "/v1/chat/completions", arg);
		cfg->endpoint = arg;
		break;
	case OPT_TEXT:
		cfg->text = 1;
		break;
	case OPT_KEEP_BLANK:
		cfg->keep_blank = 1;
		break;
	case OPT_FORMAT:
		if (strcmp(arg, "record") == 0)
			cfg->format = FORMAT_RECORD;
		else if (strcmp(arg, "content") == 0)
			cfg->format = FORMAT_CONTENT;
		else
			die(EXIT_USAGE, "--format %s: not record or content",
			    arg);
		break;
	case 'H':
		header_add(cfg, arg);
		break;
	default:
		return 0;
	}
	return 1;
}

/* How requests are sent and retried: 1 if c was one of those options. */
static int opt_transfer(int c, const char *arg, struct config *cfg,
    const char **key_file)
{
	char num[32];
	const char *x;

	switch (c) {
	case OPT_BASE_URL:
		server_add(cfg, arg, "--base-url", 1);
		break;
	case OPT_API_KEY_FILE:
		*key_file = arg;
		break;
	case OPT_INSECURE:
		cfg->insecure = 1;
		break;
	case OPT_CACERT:
		if (access(arg, R_OK) != 0)
			die_errno(EXIT_USAGE, "--cacert %s", arg);
		cfg->cacert = arg;
		break;
	case OPT_CONNECT_TIMEOUT:
		cfg->connect_timeout_ms = seconds_ms("--connect-timeout", arg,
		    0.001);
		break;
	case OPT_TIMEOUT:
		cfg->timeout_ms = seconds_ms("--timeout", arg, 0.001);
		break;
	case OPT_MAX_TIME:
		cfg->max_time_ms = seconds_ms("--max-time", arg, 0);
		break;
	case OPT_STREAM:
		cfg->stream = 1;
		break;
	case OPT_IDLE_TIMEOUT:
		/* 0 turns it off. */
		cfg->idle_timeout_ms = seconds_ms("--idle-timeout", arg, 0);
		break;
	case OPT_RETRIES:
		cfg->retries = parse_num("--retries", arg, 0, 100);
		break;
	case OPT_HEDGE:
		/* S seconds, or Nx the median latency; 0 is off. */
		cfg->hedge_s = cfg->hedge_x = 0;
		if ((x = strip_suffix(arg, "xX", num, sizeof(num))) == NULL)
			cfg->hedge_s = parse_seconds("--hedge", arg, 0, 86400);
		else if (*x == 0)
			die(EXIT_USAGE, "--hedge %s: not S or Nx", arg);
		else
			cfg->hedge_x = parse_real("--hedge", x, 1, 1000);
		break;
	case OPT_BACKOFF_MAX:
		cfg->backoff_max_ms = seconds_ms("--backoff-max", arg, 0);
		break;
	case OPT_MAX_RETRY_WAIT:
		cfg->max_retry_wait_ms = seconds_ms("--max-retry-wait", arg, 0);
		break;
	default:
		return 0;
	}
	return 1;
}

/* Limits on rate, failures and memory: 1 if c was one of those. */
static int opt_limit(int c, const char *arg, struct config *cfg,
    long long *pending)
{
	char num[32];
	const char *x;

	switch (c) {
	case OPT_RPM:
		cfg->rpm = parse_real("--rpm", arg, 0.001, 1e9);
		break;
	case OPT_TPM:
		cfg->tpm = parse_real("--tpm", arg, 1, 1e12);
		break;
	case OPT_HALT_AFTER:
		if ((x = strip_suffix(arg, "%", num, sizeof(num))) == NULL)
			cfg->halt_count = parse_num("--halt-after", arg, 1,
			    1000000000);
		else if (*x == 0)
			die(EXIT_USAGE, "--halt-after %s: not N or N%%", arg);
		else
			cfg->halt_percent = parse_num("--halt-after", x, 1, 100);
		break;
	case OPT_MAX_LINE:
		cfg->max_line = parse_size("--max-line-length", arg, 64,
		    1LL << 30);
		break;
	case OPT_MAX_RESPONSE:
		cfg->max_response = parse_size("--max-response-size", arg,
		    1024, 1LL << 31);
		break;
	case OPT_MAX_DEPTH:
		cfg->max_depth = parse_num("--max-depth", arg, 2, 10000);
		break;
	case OPT_MAX_PENDING:
		*pending = parse_num("--max-pending", arg, 1, 1 << 24);
		break;
	case OPT_MAX_BUFFER:
		cfg->max_buffer = parse_size("--max-buffer", arg, 4096,
		    1LL << 40);
		break;
	case OPT_ALLOW_DUP_IDS:
		cfg->allow_dup_ids = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

/* Where the records and reports go: 1 if c was one of those options. */
static int opt_output(int c, const char *arg, struct config *cfg)
{
	switch (c) {
	case 'o':
		cfg->out_path = arg;
		break;
	case OPT_RESUME:
		cfg->resume = 1;
		break;
	case OPT_DRY_RUN:
		cfg->dry_run = 1;
		break;
	case OPT_EMIT_REQUESTS:
		cfg->emit_requests = 1;
		break;
	case OPT_CACHE:
		cfg->cache_path = arg;
		break;
	case OPT_NO_CACHE_WRITE:
		cfg->cache_readonly = 1;
		break;
	case OPT_PROGRESS:
		cfg->progress = 1;
		break;
	case OPT_NO_PROGRESS:
		cfg->progress = 0;
		break;
	case OPT_STATS:
		cfg->stats_path = arg;
		break;
	case OPT_JOBLOG:
		cfg->joblog_path = arg;
		break;
	case OPT_PRICE_IN:
		cfg->price_in = parse_real("--price-in", arg, 0, 1e6);
		break;
	case OPT_PRICE_OUT:
		cfg->price_out = parse_real("--price-out", arg, 0, 1e6);
		break;
	case OPT_PRICE_CACHED:
		cfg->price_cached = parse_real("--price-cached-in", arg, 0,
		    1e6);
		break;
	case OPT_MAX_COST:
		cfg->max_cost = parse_real("--max-cost", arg, 0.000001, 1e9);
		break;
	case 'q':
		cfg->quiet = 1;
		break;
	case 'v':
		cfg->verbose = 1;
		break;
	case 'h':
		fputs(usage_text, stdout);
		fputs("\n", stdout);
		fputs(help_text, stdout);
		exit(EXIT_OK);
	case 'V':
		puts("splitgpt " SPLITGPT_VERSION);
		worker_versions();	/* no worker will be forked */
		exit(EXIT_OK);
	default:
		return 0;
	}
	return 1;
}

static void defaults(struct config *cfg)
{
	cfg->jobs = 8;
	cfg->endpoint = "/v1/chat/completions";
	cfg->max_tokens = -1;
	cfg->connect_timeout_ms = 10000;
	cfg->timeout_ms = 600000;
	cfg->retries = 5;
	cfg->backoff_max_ms = 30000;
	cfg->max_retry_wait_ms = 120000;
	cfg->idle_timeout_ms = 60000;
	cfg->max_line = 4 << 20;
	cfg->max_response = 64 << 20;
	cfg->max_depth = 64;
	cfg->max_buffer = 256 << 20;
	cfg->halt_count = -1;
	cfg->halt_percent = -1;
	cfg->progress = -1;	/* not said */
	cfg->price_cached = -1;	/* --price-in's */
}

/* What follows from the options together, once all are read. */
static void settle(struct config *cfg, const char *key_file,
    long long pending)
{
	if (cfg->max_cost > 0 && cfg->price_in <= 0 && cfg->price_out <= 0)
		die(EXIT_USAGE, "--max-cost needs the prices: --price-in and "
		    "--price-out (dollars per million tokens)");
	if (cfg->max_cost > 0 && (cfg->hedge_s > 0 || cfg->hedge_x > 0))
		die(EXIT_USAGE, "--max-cost with --hedge: a copy doubles a "
		    "line's cost; give one");
	if ((cfg->dry_run || cfg->emit_requests) && cfg->cache_path)
		die(EXIT_USAGE, "--%s sends nothing: --cache has nothing to "
		    "answer or keep", cfg->dry_run ? "dry-run" :
		    "emit-requests");
	if (cfg->dry_run && cfg->emit_requests)
		die(EXIT_USAGE, "--dry-run and --emit-requests: give one");
	if ((cfg->dry_run || cfg->emit_requests) && cfg->resume)
		die(EXIT_USAGE, "--%s sends nothing: there is nothing for "
		    "--resume to finish", cfg->dry_run ? "dry-run" :
		    "emit-requests");
	if (cfg->emit_requests && cfg->format != FORMAT_RECORD)
		die(EXIT_USAGE, "--emit-requests writes request lines, not "
		    "--format content");
	if (cfg->emit_requests && cfg->stream)
		die(EXIT_USAGE, "--emit-requests: the Batch API does not "
		    "stream: drop --stream");
	if (cfg->resume && cfg->out_path == NULL)
		die(EXIT_USAGE, "--resume needs -o FILE: the file to resume");
	if (cfg->resume && cfg->format != FORMAT_RECORD)
		die(EXIT_USAGE, "--resume needs --format record: content lines "
		    "have no custom_id to match");
	if (cfg->cache_readonly && cfg->cache_path == NULL)
		die(EXIT_USAGE, "--no-cache-write needs --cache PATH");
	/* --progress wins; else -q or --no-progress; else a terminal. */
	if (cfg->progress < 0)
		cfg->progress = !cfg->quiet && isatty(2);
	if (cfg->nservers == 0) {	/* no --base-url */
		const char *env = getenv("OPENAI_BASE_URL");

		if (env && *env)
			server_add(cfg, env, "OPENAI_BASE_URL", 0);
		else {
			const char *from = "OPENAI_BASE_URL";
			const char *url = base_url_default(&from);

			server_add(cfg, url, from, 0);
		}
	}
	if (pending < 0)
		pending = cfg->jobs * 64 > 1024 ? cfg->jobs * 64 : 1024;
	if (pending < cfg->jobs)
		pending = cfg->jobs;	/* fewer would leave workers idle */
	cfg->max_pending = pending;
	if (cfg->max_response > (size_t)UINT32_MAX / 2)
		cfg->max_response = UINT32_MAX / 2;
	cfg->api_key = key_read(key_file, &cfg->key_azure);
	if (!cfg->dry_run && !cfg->emit_requests)
		key_warnings(cfg);	/* nothing is sent */
	/* The classifier checks -d and --temperature; fail here, as a
	 * usage error, rather than later. */
	classifier_free(classifier_new(cfg));
}

void options_parse(int argc, char **argv, struct config *cfg)
{
	const char *key_file = NULL;
	long long pending = -1;
	int c, longindex = -1;

	defaults(cfg);
	opterr = 0;	/* bad_option says it */
	while ((c = getopt_long(argc, argv, ":P:m:d:H:o:qvhV", longopts,
	    &longindex)) != -1) {
		/* Errors name the option the way it was written. */
		const char *name = longindex >= 0 ? longname(longindex) : NULL;

		longindex = -1;
		if (c == '?' || c == ':')
			bad_option(c, argv);
		if (!opt_request(c, optarg, name, cfg) &&
		    !opt_transfer(c, optarg, cfg, &key_file) &&
		    !opt_limit(c, optarg, cfg, &pending) &&
		    !opt_output(c, optarg, cfg))
			usage();
	}
	if (optind != argc) {
		warnx("%s: unexpected argument (input comes on standard input)",
		    argv[optind]);
		usage();
	}
	settle(cfg, key_file, pending);
}

void options_free(struct config *cfg)
{
	for (int i = 0; i < cfg->nheaders; i++)
		free(cfg->headers[i]);
	free(cfg->headers);
	servers_free(cfg);
	free((char *)cfg->api_key);
}
