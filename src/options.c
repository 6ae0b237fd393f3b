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

static const char usage_text[] =
"usage: splitgpt [-hqVv] [-P jobs] [-m model] [-d json] [-H header]\n"
"                [-o file [--resume]] [--text] [--format record|content]\n"
"                [option ...] < input.jsonl > output.jsonl\n";

static const char help_text[] =
"Send each input line to an OpenAI-compatible API with N worker processes;\n"
"write one output line per input line, in input order.\n"
"\n"
"Input (one per line, detected per line; gzip input is detected too):\n"
"  Batch API request lines {\"custom_id\",\"method\",\"url\",\"body\"},\n"
"  request bodies {\"messages\":...} or {\"input\":...}, {\"prompt\":\"...\"}\n"
"  objects (optional \"id\", \"system\"), bare JSON strings, or with --text\n"
"  plain text.  Blank lines are skipped.\n"
"\n"
"Options:\n"
"  -P, --jobs N               worker processes, 1-4096 (default 8)\n"
"  -m, --model NAME           model for lines that name none\n"
"      --system TEXT          system message for lines that have none\n"
"      --max-tokens N         max_tokens for lines that set none\n"
"      --temperature T        temperature for lines that set none\n"
"  -d, --body JSON            other default body fields, a JSON object\n"
"      --endpoint PATH        path for lines that name none\n"
"                             (default /v1/chat/completions)\n"
"      --text                 every line is a plain-text prompt\n"
"      --keep-blank           a blank line gets a record too (null with\n"
"                             --format content), so outputs line up\n"
"      --format FORMAT        record (Batch API output, default) or\n"
"                             content (one JSON string or null per line)\n"
"      --base-url URL         API base URL (default $OPENAI_BASE_URL,\n"
"                             else $AZURE_OPENAI_ENDPOINT/openai, or OpenAI)\n"
"  -H, --header 'NAME: VALUE' extra request header; -H @FILE reads\n"
"                             headers from FILE, one per line\n"
"      --api-key-file FILE    read the key from FILE's first line instead\n"
"                             of OPENAI_API_KEY\n"
"      --cacert FILE          trust the CA certificates in FILE (PEM)\n"
"      --insecure             do not verify TLS certificates (unsafe)\n"
"      --connect-timeout S    seconds to connect (default 10)\n"
"      --timeout S            seconds for one attempt (default 600)\n"
"      --stream               ask for streamed answers and put them back\n"
"                             together: the output is the same\n"
"      --idle-timeout S       cut and retry a stream that sends nothing\n"
"                             for S seconds (default 60; 0: never)\n"
"      --max-time S           seconds for one request, all attempts and\n"
"                             waits included (default 0: no limit)\n"
"      --retries N            retries after the first attempt, 0-100\n"
"                             (default 5)\n"
"      --hedge S|Nx           send a second copy of a line still out after\n"
"                             S seconds, or N x the median latency; the\n"
"                             first answer is kept (default 0: off)\n"
"      --backoff-max S        longest backoff between attempts (default 30)\n"
"      --max-retry-wait S     give up when the server asks to wait longer;\n"
"                             caps rate-limit header pauses (default 120)\n"
"      --rpm N                at most N requests a minute, evenly paced\n"
"      --tpm N                at most N tokens a minute (estimated from the\n"
"                             text and max_tokens, corrected by usage)\n"
"      --halt-after N[%]      stop sending after N failed requests, or\n"
"                             when N% of at least 20 finished have failed\n"
"      --max-line-length SIZE longest input line, and request body\n"
"                             (default 4M)\n"
"      --max-response-size SIZE  largest answer body (default 64M)\n"
"      --max-depth N          deepest JSON nesting, 2-10000 (default 64)\n"
"      --max-pending N        lines in flight plus results waiting to be\n"
"                             written (default the larger of 1024 and 64 x P)\n"
"      --max-buffer SIZE      compressed bytes of results waiting\n"
"                             (default 256M)\n"
"      --allow-duplicate-ids  do not refuse a custom_id used before; none\n"
"                             is remembered, so memory stays flat\n"
"  -o, --output FILE          write the records to FILE (replaced whole,\n"
"                             through FILE.partial) instead of stdout\n"
"      --resume               with -o: keep FILE's successes, send the rest\n"
"      --cache PATH           answer a request from the SQLite cache PATH\n"
"                             when it is there; store new answers in it\n"
"      --no-cache-write       use the --cache read-only: store nothing\n"
"      --progress             draw a progress line on stderr (default when\n"
"                             stderr is a terminal)\n"
"      --no-progress          no progress line\n"
"      --stats FILE           write the summary's figures to FILE as JSON\n"
"      --joblog FILE          a tab-separated line per finished line\n"
"      --price-in USD         price per million prompt tokens, for the cost\n"
"      --price-out USD        price per million completion tokens\n"
"  -q, --quiet                no warnings about bad lines, no summary,\n"
"                             no progress\n"
"  -v, --verbose              request and response headers on stderr (secrets\n"
"                             redacted) and a line per finished request\n"
"  -h, --help                 this help\n"
"  -V, --version              the version, and those of the libraries\n"
"\n"
"Environment: OPENAI_API_KEY (the key; never give it on the command line),\n"
"OPENAI_BASE_URL; for Azure, AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT.\n"
"\n"
"Exit status: 0 every line succeeded; 1 some lines got an error record;\n"
"2 usage error; 3 halted early (unsent lines got \"not_sent\" records);\n"
"4 input or output error (input cut short, output not writable) or\n"
"internal error (fork failed); 130 interrupted; 141 (SIGPIPE) the reader\n"
"of standard output went away.\n";

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
	OPT_HEDGE, OPT_ALLOW_DUP_IDS, OPT_CACHE, OPT_NO_CACHE_WRITE
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
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "no-cache-write", no_argument, NULL, OPT_NO_CACHE_WRITE },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "joblog", required_argument, NULL, OPT_JOBLOG },
	{ "price-in", required_argument, NULL, OPT_PRICE_IN },
	{ "price-out", required_argument, NULL, OPT_PRICE_OUT },
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
		cfg->jobs = parse_num(name ? name : "-P", arg, 1, MAX_JOBS);
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
    const char **url_from, const char **key_file)
{
	char num[32];
	const char *x;

	switch (c) {
	case OPT_BASE_URL:
		cfg->base_url = arg;
		*url_from = "--base-url";
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
	const char *env = getenv("OPENAI_BASE_URL");

	cfg->jobs = 8;
	cfg->base_url = env && *env ? env : NULL;
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
}

/* What follows from the options together, once all are read. */
static void settle(struct config *cfg, const char *url_from,
    const char *key_file, long long pending)
{
	char *url;

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
	if (cfg->base_url == NULL)
		cfg->base_url = base_url_default(&url_from);
	if ((url = value_tidy(cfg->base_url, url_from, "URL", 1)) == NULL)
		die(EXIT_USAGE, "%s: empty", url_from);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		die(EXIT_USAGE, "%s %s: not an http:// or https:// URL",
		    url_from, url);
	cfg->base_url = url;	/* url_join drops trailing slashes */
	if (pending < 0)
		pending = cfg->jobs * 64 > 1024 ? cfg->jobs * 64 : 1024;
	if (pending < cfg->jobs)
		pending = cfg->jobs;	/* fewer would leave workers idle */
	cfg->max_pending = pending;
	if (cfg->max_response > (size_t)UINT32_MAX / 2)
		cfg->max_response = UINT32_MAX / 2;
	cfg->api_key = key_read(key_file, &cfg->key_azure);
	key_warnings(cfg);
	/* The classifier checks -d and --temperature; fail here, as a
	 * usage error, rather than later. */
	classifier_free(classifier_new(cfg));
}

void options_parse(int argc, char **argv, struct config *cfg)
{
	const char *key_file = NULL, *url_from = "OPENAI_BASE_URL";
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
		    !opt_transfer(c, optarg, cfg, &url_from, &key_file) &&
		    !opt_limit(c, optarg, cfg, &pending) &&
		    !opt_output(c, optarg, cfg))
			usage();
	}
	if (optind != argc) {
		warnx("%s: unexpected argument (input comes on standard input)",
		    argv[optind]);
		usage();
	}
	settle(cfg, url_from, key_file, pending);
}

void options_free(struct config *cfg)
{
	for (int i = 0; i < cfg->nheaders; i++)
		free(cfg->headers[i]);
	free(cfg->headers);
	free((char *)cfg->base_url);
	free((char *)cfg->api_key);
}
