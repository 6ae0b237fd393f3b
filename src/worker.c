/* worker.c: making the HTTP calls, with retries, and writing the records. */
#include "worker.h"

#include <curl/curl.h>	/* libcurl easy interface */
#include <json-c/json.h>	/* parsing response bodies */
#include <errno.h>	/* errno */
#include <poll.h>	/* poll */
#include <signal.h>	/* signal, SIGINT */
#include <stdint.h>	/* uint64_t */
#include <stdio.h>	/* printf */
#include <stdlib.h>	/* free */
#include <string.h>	/* strncasecmp, memcpy */
#include <strings.h>	/* strncasecmp */
#include <time.h>	/* time */
#include <unistd.h>	/* getpid, getppid */
#include <zlib.h>	/* deflate */

#include "api.h"	/* endpoint_of, url_join, response_digest */
#include "cacache.h"	/* the parent's parsed CA file */
#include "frame.h"	/* request and result messages */
#include "jsoncheck.h"	/* json_check */
#include "ratelimit.h"	/* parse_duration, parse_count */
#include "record.h"	/* output lines */
#include "retry.h"	/* the wait rule */
#include "sse.h"	/* streamed answers */

/* Headers worth keeping from an answer; the rest are ignored. */
struct answer_headers {
	char request_id[128];
	char retry_after_ms[32];
	char retry_after[64];
	char should_retry[16];
	int event_stream;	/* Content-Type: text/event-stream */
	char rl[6][32];		/* x-ratelimit-*, in rl_names order */
};

/* The rate-limit headers, as OpenAI names them. */
static const char *const rl_names[6] = {
	"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
	"x-ratelimit-reset-requests", "x-ratelimit-limit-tokens",
	"x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"
};

/* Below this many bytes a record goes stored (level 0): deflate's fixed
 * cost per stream, mostly building the block's Huffman codes, is about
 * 5 us at level 1 even for 400 bytes (a tenth of the workers' CPU in a
 * profile of short answers), and it would save a few hundred bytes that
 * the parent holds for a moment; storing costs 0.5 us, and the parent's
 * inflate of it is a copy. */
#define STORE_BELOW 1024
#define DEFLATE_LEVEL 1		/* for the rest */

struct worker {
	const struct config *cfg;
	int rfd;		/* requests come down this */
	int wfd;		/* results and hints go up this */
	pid_t ppid;		/* the parent that forked us */
	struct buf hintbuf;
	CURL *curl;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	struct buf url;
	struct buf body;	/* the answer's body */
	int too_large;		/* the body passed --max-response-size */
	struct answer_headers h;
	json_tokener *tok;
	z_stream z;
	int zlevel;		/* the level z is set to: DEFLATE_LEVEL, or 0 */
	struct buf line;	/* the output line */
	struct buf packed;	/* the line, deflated */
	struct buf frame;	/* the result frame */
	struct buf content;
	struct buf msg;		/* what went wrong, "line N: ..." */
	struct buf why;		/* why the retries stopped early */
	uint64_t rng;
	uint64_t lineno;	/* the line being served, for -v */
	struct buf reqbody;	/* a body edited for --stream */
	struct sse *sse;	/* an event-stream answer, reassembled */
	uint64_t attempt_us;	/* when this attempt started */
	uint64_t last_rx_ms;	/* when the stream last sent something */
	uint64_t first_token_us;	/* attempt start to first token, or 0 */
	long idle_ms;		/* --idle-timeout, 0: off */
	int idle_fired;		/* --idle-timeout cut this attempt */
	int sends;		/* requests libcurl began this attempt */
	const char *cas_file;	/* the CA file parsed by the parent, in use */
};

/* Set by SIGUSR1: the parent is stopping; make no further attempts. */
static volatile sig_atomic_t stop_retrying;

static void on_usr1(int sig)
{
	(void)sig;
	stop_retrying = 1;
}

/*
 * Whether the parent is gone: we were reparented, or our request pipe
 * closed while we hold a request (the parent never writes to a busy
 * worker, so anything there is its end of file).  Then nobody will read
 * our answer, and no further attempt is made: on Linux PR_SET_PDEATHSIG
 * has killed us already; elsewhere this is what stops us.
 */
static int parent_gone(const struct worker *w)
{
	struct pollfd p = { w->rfd, POLLIN, 0 };

	return getppid() != w->ppid ||
	    (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)));
}

/*
 * Wait ms milliseconds between attempts, watching the request pipe: 0
 * when the time is up, 1 when the parent asked us to stop retrying, -1
 * when it is gone.
 */
static int backoff_wait(const struct worker *w, long ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd p = { w->rfd, POLLIN, 0 };
		uint64_t now = now_ms();
		int r;

		if (stop_retrying)
			return 1;
		if (getppid() != w->ppid)
			return -1;
		if (now >= end)
			return 0;
		r = poll(&p, 1, (int)(end - now > 60000 ? 60000 : end - now));
		if (r > 0)
			return -1;	/* the pipe closed: see parent_gone */
		if (r < 0 && errno != EINTR)
			die_errno("worker: poll");
	}
}

/* What one attempt came to. */
struct outcome {
	enum errcode err;	/* ERR_NONE: an HTTP answer with a JSON body */
	long status;		/* 0: no HTTP answer */
	int retry;		/* worth another attempt */
	int quota;		/* 429 insufficient_quota */
	long wait_ms;		/* what the server asked for, or -1 */
	json_object *json;	/* the parsed body, when it is JSON */
};


static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct worker *w = arg;

	n *= size;
	if (w->h.event_stream) {
		/* Parsed as it comes, never stored whole. */
		enum sse_state st = sse_feed(w->sse, p, n);

		w->last_rx_ms = now_ms();
		if (w->first_token_us == 0 && sse_got_token(w->sse))
			/* + 1: 0 means no token yet. */
			w->first_token_us = now_us() - w->attempt_us + 1;
		if (st == SSE_TOO_LARGE)
			w->too_large = 1;
		/* A stream gone wrong is not worth reading on. */
		return st == SSE_TOO_LARGE || st == SSE_BAD ? 0 : n;
	}
	if (w->body.len + n > w->cfg->max_response) {
		w->too_large = 1;
		return 0;	/* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	buf_add(&w->body, p, n);
	return n;
}

/* Copy a header's value, trimmed, into dst if the name matches. */
static int take_header(const char *p, size_t n, const char *name, char *dst,
    size_t dstlen)
{
	size_t k = strlen(name);

	if (n <= k || p[k] != ':' || strncasecmp(p, name, k) != 0)
		return 0;
	p += k + 1;
	n -= k + 1;
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' ||
	    p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, p, n);
	dst[n] = 0;
	return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct worker *w = arg;
	struct answer_headers *h = &w->h;
	char ctype[64];

	n *= size;
	/* A new status line starts a new answer (after a 100 Continue). */
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		memset(h, 0, sizeof(*h));
		return n;
	}
	if (take_header(p, n, "content-type", ctype, sizeof(ctype))) {
		/* Whoever asked for it (--stream or the line itself), an
		 * event stream is reassembled, and the idle clock starts. */
		h->event_stream = strncasecmp(ctype, "text/event-stream",
		    17) == 0;
		if (h->event_stream) {
			sse_reset(w->sse);
			w->last_rx_ms = now_ms();
		}
		return n;
	}
	if (take_header(p, n, "x-request-id", h->request_id,
	    sizeof(h->request_id)) ||
	    take_header(p, n, "retry-after-ms", h->retry_after_ms,
	    sizeof(h->retry_after_ms)) ||
	    take_header(p, n, "retry-after", h->retry_after,
	    sizeof(h->retry_after)) ||
	    take_header(p, n, "x-should-retry", h->should_retry,
	    sizeof(h->should_retry)))
		return n;
	if (n > 12 && strncasecmp(p, "x-ratelimit-", 12) == 0) {
		int i;

		for (i = 0; i < 6; i++)
			if (take_header(p, n, rl_names[i], h->rl[i],
			    sizeof(h->rl[i])))
				break;
	}
	return n;
}

/*
 * --idle-timeout: libcurl calls this often while data flows and about
 * once a second while none does; a stream silent too long is cut here,
 * and judge() calls that a timeout.  Only event streams are watched: an
 * unstreamed answer is silent until it is ready.
 */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct worker *w = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (w->h.event_stream &&
	    now_ms() - w->last_rx_ms >= (uint64_t)w->idle_ms) {
		w->idle_fired = 1;
		return 1;	/* CURLE_ABORTED_BY_CALLBACK */
	}
	return 0;
}

/*
 * libcurl calls this each time it is about to send the request, on a new
 * or a reused connection.  When a reused connection turns out dead before
 * any answer (the server closed it, or reset it), libcurl connects again
 * and sends the request once more, by itself: but the first one may have
 * reached the server, and would be paid twice.  So an attempt sends once;
 * a second send is refused, and the attempt ends as a connection error
 * that the retry rule counts like any other.
 */
#if LIBCURL_VERSION_NUM >= 0x075000	/* 7.80.0 */
static int on_prereq(void *arg, char *primary_ip, char *local_ip,
    int primary_port, int local_port)
{
	struct worker *w = arg;

	(void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
	return ++w->sends > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}
#endif

/* Headers whose values are secrets: -v shows them as [redacted]. */
static int secret_header(const char *p, size_t n)
{
	static const char *const names[] = { "authorization:", "api-key:",
	    "x-api-key:", "proxy-authorization:", "cookie:", "set-cookie:",
	    "x-goog-api-key:" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (n >= strlen(names[i]) &&
		    strncasecmp(p, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/*
 * -v: request and response headers on stderr, a line each, with the
 * line number, secrets redacted.  Bodies are not shown (they are the
 * input and the output).
 */
static int on_debug(CURL *c, curl_infotype type, char *data, size_t size,
    void *arg)
{
	struct worker *w = arg;
	const char *dir, *p = data, *end = data + size;

	(void)c;
	if (type == CURLINFO_HEADER_OUT)
		dir = ">";
	else if (type == CURLINFO_HEADER_IN)
		dir = "<";
	else if (type == CURLINFO_TEXT)
		dir = "*";
	else
		return 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = (nl ? nl : end) - p;

		while (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0) {
			size_t lead = 0;

			while (lead < n && p[lead] == ' ')
				lead++;
			if (type == CURLINFO_TEXT && w->cas_file != NULL &&
			    n - lead == 12 && memcmp(p + lead, "CAfile: none",
			    12) == 0) {
				/* libcurl read no file: the parent did. */
				warnx("line %llu: * %.*sCAfile: %s (parsed "
				    "once, before the workers started)",
				    (unsigned long long)w->lineno, (int)lead,
				    p, w->cas_file);
			} else if (type != CURLINFO_TEXT &&
			    secret_header(p, n)) {
				const char *colon = memchr(p, ':', n);

				warnx("line %llu: %s %.*s: [redacted]",
				    (unsigned long long)w->lineno, dir,
				    (int)(colon - p), p);
			} else
				warnx("line %llu: %s %.*s",
				    (unsigned long long)w->lineno, dir,
				    n > 900 ? 900 : (int)n, p);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}


void worker_prefork(const struct config *cfg)
{
	cacache_prefork(cfg);
}

void worker_prefork_free(void)
{
	cacache_free();
}

void worker_versions(void)
{
	printf("%s\njson-c/%s zlib/%s\n", curl_version(), json_c_version(),
	    zlibVersion());
}

static void worker_init(struct worker *w, const struct config *cfg)
{
	struct buf hb = { 0 };
	int i;

	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init failed");
	w->curl = curl_easy_init();
	if (w->curl == NULL)
		die("curl_easy_init failed");
	w->tok = json_tokener_new_ex(cfg->max_depth + 1);
	if (w->tok == NULL)
		die("out of memory for the JSON parser");
	/* A record is one deflate stream, mostly of a few hundred bytes to
	 * a few KB.  memLevel 4 keeps the hash table and the pending buffer
	 * at 4 KB each, against 64 KB at the default 8, whose table every
	 * record's deflateReset clears: each worker holds 60 KB less.  The
	 * ratio is the same to 1% up to 20 KB records, 4% worse at 100 KB
	 * (level 1, windowBits 15 either way). */
	if (deflateInit2(&w->z, DEFLATE_LEVEL, Z_DEFLATED, 15, 4,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit failed");
	w->zlevel = DEFLATE_LEVEL;
	w->sse = sse_new(cfg->max_response, cfg->max_depth);
	w->idle_ms = cfg->idle_timeout_ms;
	w->rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ now_us();

	w->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* No 100-continue round trip for large bodies. */
	w->headers = curl_slist_append(w->headers, "Expect:");
	if (cfg->api_key && *cfg->api_key) {
		buf_addf(&hb, "Authorization: Bearer %s", cfg->api_key);
		w->headers = curl_slist_append(w->headers, hb.data);
		/* The key is in the list now; don't leave a second copy. */
		memset(hb.data, 0, hb.len);
		buf_release(&hb);
	}
	for (i = 0; i < cfg->nheaders; i++)
		w->headers = curl_slist_append(w->headers, cfg->headers[i]);
	if (w->headers == NULL)
		die("out of memory for request headers");

	curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
	curl_easy_setopt(w->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(w->curl, CURLOPT_USERAGENT,
	    "splitgpt/" SPLITGPT_VERSION);
	curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    cfg->connect_timeout_ms);
	curl_easy_setopt(w->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#if LIBCURL_VERSION_NUM >= 0x075000
	curl_easy_setopt(w->curl, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(w->curl, CURLOPT_PREREQDATA, w);
#endif
	if (cfg->insecure) {
		curl_easy_setopt(w->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(w->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->cacert)
		curl_easy_setopt(w->curl, CURLOPT_CAINFO, cfg->cacert);
	w->cas_file = cacache_use(w->curl, cfg->cacert);
	if (cfg->verbose) {
		curl_easy_setopt(w->curl, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(w->curl, CURLOPT_DEBUGDATA, w);
		curl_easy_setopt(w->curl, CURLOPT_VERBOSE, 1L);
	}
	if (w->idle_ms > 0) {
		curl_easy_setopt(w->curl, CURLOPT_XFERINFOFUNCTION,
		    on_progress);
		curl_easy_setopt(w->curl, CURLOPT_XFERINFODATA, w);
		curl_easy_setopt(w->curl, CURLOPT_NOPROGRESS, 0L);
	}
}

/* The parent's parsed CA file stays: freeing it would copy its every
 * page into this process just before exit. */
static void worker_free(struct worker *w)
{
	curl_easy_cleanup(w->curl);
	curl_slist_free_all(w->headers);
	curl_global_cleanup();
	json_tokener_free(w->tok);
	deflateEnd(&w->z);
	buf_release(&w->url);
	buf_release(&w->body);
	buf_release(&w->line);
	buf_release(&w->packed);
	buf_release(&w->frame);
	buf_release(&w->content);
	buf_release(&w->msg);
	buf_release(&w->why);
	buf_release(&w->hintbuf);
	buf_release(&w->reqbody);
	sse_free(w->sse);
}

/* A uniform draw in [0, 1) for the jitter (xorshift64*). */
static double draw(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return (double)((w->rng * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

static json_object *error_code_of(json_object *body)
{
	json_object *e, *code;

	if (json_object_object_get_ex(body, "error", &e) &&
	    json_object_object_get_ex(e, "code", &code))
		return code;
	return NULL;
}

/*
 * A stream's error event: worth another attempt when it looks transient,
 * a server error or one without a code; an error with a code of its own
 * (a content filter, a context too long) would only come back.
 */
static int stream_error_transient(json_object *e)
{
	json_object *v;
	const char *s;

	if (json_object_object_get_ex(e, "type", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "server_error") == 0)
		return 1;
	if (!json_object_object_get_ex(e, "code", &v) || v == NULL)
		return 1;
	if (json_object_is_type(v, json_type_int)) {
		int64_t c = json_object_get_int64(v);

		return c >= 500 || c == 429 || c == 408;
	}
	s = json_object_get_string(v);
	return strcmp(s, "server_error") == 0 ||
	    strcmp(s, "rate_limit_exceeded") == 0;
}

/* An event stream that ended: the reassembled answer, or why not. */
static int stream_outcome(struct worker *w, struct outcome *o)
{
	json_object *e, *m;
	const char *s;
	size_t n;

	switch (sse_end(w->sse)) {
	case SSE_DONE:
		/* The record embeds this as the answer's body. */
		o->json = sse_result(w->sse);
		s = json_object_to_json_string_length(o->json,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
		buf_reset(&w->body);
		buf_add(&w->body, s, n);
		return 0;
	case SSE_ERROR:
		e = sse_error(w->sse);
		o->err = ERR_STREAM_ERROR;
		o->retry = stream_error_transient(e);
		buf_adds(&w->msg, "the stream reported an error: ");
		if (json_object_object_get_ex(e, "message", &m) &&
		    json_object_is_type(m, json_type_string)) {
			s = json_object_get_string(m);
			n = json_object_get_string_len(m);
			if (n > 300) {
				/* Short, and cut between characters. */
				n = 300;
				while (n > 0 && (s[n] & 0xc0) == 0x80)
					n--;
			}
			buf_add(&w->msg, s, n);
		} else {
			buf_adds(&w->msg, "(no message)");
		}
		return -1;
	case SSE_RUNNING:
		o->err = ERR_INVALID_RESPONSE;
		o->retry = 1;	/* like a cut-off body */
		buf_addf(&w->msg, "HTTP %ld event stream cut off: no [DONE] "
		    "or final event after %zu events", o->status,
		    sse_events(w->sse));
		return -1;
	default:
		o->err = ERR_INVALID_RESPONSE;
		o->retry = 1;
		buf_addf(&w->msg, "HTTP %ld event stream: %s", o->status,
		    sse_problem(w->sse));
		return -1;
	}
}

/* Classify a finished transfer: curl's result and the HTTP answer. */
static void judge(struct worker *w, CURLcode cc, struct outcome *o,
    uint64_t lineno)
{
	struct json_problem problem;
	json_object *code;
	int should;

	memset(o, 0, sizeof(*o));
	o->wait_ms = -1;
	buf_reset(&w->msg);
	buf_addf(&w->msg, "line %llu: ", (unsigned long long)lineno);
	/* A stream that said all it had to say but was left open: what
	 * came is the answer. */
	if (w->idle_fired && sse_end(w->sse) != SSE_RUNNING)
		cc = CURLE_OK;
	if (cc != CURLE_OK) {
		const char *why = w->errbuf[0] ? w->errbuf :
		    curl_easy_strerror(cc);
		long status = 0;

		if (w->idle_fired) {
			o->err = ERR_TIMEOUT;
			o->retry = 1;
			buf_addf(&w->msg, "timed out: the stream was idle for "
			    "%.1f s (--idle-timeout)",
			    w->idle_ms / 1000.0);
			return;
		}
		if (cc == CURLE_ABORTED_BY_CALLBACK && w->sends > 1) {
			o->err = ERR_CONNECTION;
			o->retry = 1;
			buf_adds(&w->msg, "connection error: the connection "
			    "closed before an answer (the request may have "
			    "reached the server)");
			return;
		}
		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT:
			o->err = ERR_TIMEOUT;
			o->retry = 1;
			buf_addf(&w->msg, "timed out: %s", why);
			return;
		case CURLE_WRITE_ERROR:
			if (w->too_large) {
				o->err = ERR_RESPONSE_TOO_LARGE;
				buf_addf(&w->msg, "the answer is larger than "
				    "--max-response-size (%zu bytes)",
				    w->cfg->max_response);
				return;
			}
			if (w->h.event_stream) {
				/* on_body stopped a stream gone wrong. */
				curl_easy_getinfo(w->curl,
				    CURLINFO_RESPONSE_CODE, &o->status);
				o->err = ERR_INVALID_RESPONSE;
				o->retry = 1;
				buf_addf(&w->msg, "HTTP %ld event stream: %s",
				    o->status, sse_problem(w->sse));
				return;
			}
			break;
		case CURLE_OUT_OF_MEMORY:
			/* After a status line, libcurl's word for a header
			 * line over its 100 KB limit: the answer is bad. */
			if (curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE,
			    &status) == CURLE_OK && status > 0) {
				o->err = ERR_INVALID_RESPONSE;
				buf_addf(&w->msg, "HTTP %ld answer: a header "
				    "too large to read (%s)", status, why);
				return;
			}
			break;
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
		case CURLE_BAD_CONTENT_ENCODING:
			o->retry = 1;
			break;
		default:
			break;
		}
		o->err = ERR_CONNECTION;
		buf_addf(&w->msg, "connection error: %s", why);
		return;
	}
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &o->status);
	o->retry = retry_status(o->status);
	if (w->h.event_stream && stream_outcome(w, o) < 0)
		return;
	/* Only an object is embedded: strict JSON, or the record breaks. */
	if (o->json == NULL && w->body.len <= INT32_MAX && w->body.data &&
	    memchr(w->body.data, 0, w->body.len) == NULL &&
	    json_check(w->body.data, w->body.len, w->cfg->max_depth,
	    &problem) == '{') {
		json_tokener_reset(w->tok);
		o->json = json_tokener_parse_ex(w->tok, w->body.data,
		    (int)w->body.len);
	}
	if (o->json == NULL) {
		o->err = ERR_INVALID_RESPONSE;
		if (o->status >= 200 && o->status < 300)
			o->retry = 1;	/* a truncated answer */
		buf_addf(&w->msg, "HTTP %ld answer is not a JSON object "
		    "(%zu bytes)", o->status, w->body.len);
	}
	if (o->status == 429 && o->json && (code = error_code_of(o->json)) &&
	    json_object_is_type(code, json_type_string) &&
	    strcmp(json_object_get_string(code), "insufficient_quota") == 0) {
		o->quota = 1;
		o->retry = 0;
	}
	should = retry_should_header(w->h.should_retry);
	if (should >= 0 && !o->quota && o->status >= 300)
		o->retry = should;
	if (o->status >= 200 && o->status < 300 && o->json)
		o->retry = 0;
	o->wait_ms = retry_after_ms_header(w->h.retry_after_ms[0] ?
	    w->h.retry_after_ms : NULL);
	if (o->wait_ms < 0)
		o->wait_ms = retry_after_header(w->h.retry_after[0] ?
		    w->h.retry_after : NULL, time(NULL));
}

static int has_bytes(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s), i;

	for (i = 0; i + k <= n; i++)
		if (p[i] == s[0] && memcmp(p + i, s, k) == 0)
			return 1;
	return 0;
}

/*
 * --stream: the body with "stream":true, and for chat and completions
 * "stream_options":{"include_usage":true} so the usage is not lost, put
 * first in the object.  A line that sets "stream" itself is left alone,
 * as with the other defaults.  The rest of the body is kept byte for
 * byte (a json-c round trip would respell escapes and drop duplicate
 * keys), and a large body is not rebuilt.  It is parsed only
 * when the text holds "stream somewhere, to see whether at the top.
 */
static void stream_body(struct worker *w, const struct msg_request *rq,
    const char **body, size_t *len)
{
	enum endpoint api = endpoint_of(rq->path, rq->pathlen);
	const char *p = rq->body, *end = rq->body + rq->bodylen, *q;
	int has_opts = 0;

	if (api == EP_OTHER || api == EP_EMBEDDINGS || rq->bodylen > INT32_MAX)
		return;
	if (has_bytes(p, rq->bodylen, "\"stream")) {
		json_object *o;

		json_tokener_reset(w->tok);
		o = json_tokener_parse_ex(w->tok, p, (int)rq->bodylen);
		if (o == NULL || json_object_object_get_ex(o, "stream",
		    NULL)) {
			json_object_put(o);
			return;
		}
		has_opts = json_object_object_get_ex(o, "stream_options",
		    NULL);
		json_object_put(o);
	}
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'))
		p++;
	if (p == end || *p != '{')
		return;
	p++;
	buf_reset(&w->reqbody);
	buf_add(&w->reqbody, rq->body, (size_t)(p - rq->body));
	buf_adds(&w->reqbody, "\"stream\":true");
	if (api != EP_RESPONSES && !has_opts)
		buf_adds(&w->reqbody,
		    ",\"stream_options\":{\"include_usage\":true}");
	for (q = p; q < end && (*q == ' ' || *q == '\t' || *q == '\r' ||
	    *q == '\n'); q++)
		;
	if (q < end && *q != '}')
		buf_addc(&w->reqbody, ',');
	buf_add(&w->reqbody, p, (size_t)(end - p));
	*body = w->reqbody.data;
	*len = w->reqbody.len;
}

static CURLcode perform(struct worker *w, const struct msg_request *rq,
    const char *body, size_t bodylen, long timeout_ms)
{
	buf_reset(&w->url);
	url_join(&w->url, w->cfg->base_url, rq->path, rq->pathlen);
	buf_reset(&w->body);
	memset(&w->h, 0, sizeof(w->h));
	w->too_large = 0;
	w->idle_fired = 0;
	w->sends = 0;
	w->first_token_us = 0;
	w->attempt_us = now_us();
	w->errbuf[0] = 0;
	curl_easy_setopt(w->curl, CURLOPT_URL, w->url.data);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)bodylen);
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	return curl_easy_perform(w->curl);
}

/* Make the call for one request, with its retries; fills res and w->line. */
/*
 * Tell the parent what the answer's headers said of the rate limits, and
 * of a 429's wait, so it paces everyone (not just this worker) by them.
 * Sent at once, before any wait here; nothing is sent when there is
 * nothing to say.
 */
static void send_hint(struct worker *w, uint64_t seq, const struct outcome *o)
{
	const struct answer_headers *h = &w->h;
	struct msg_hint m;
	double d;

	m.limit_requests = parse_count(h->rl[0]);
	m.remaining_requests = parse_count(h->rl[1]);
	m.reset_requests_us = (d = parse_duration(h->rl[2])) < 0 ? -1 :
	    (int64_t)(d * 1e6);
	m.limit_tokens = parse_count(h->rl[3]);
	m.remaining_tokens = parse_count(h->rl[4]);
	m.reset_tokens_us = (d = parse_duration(h->rl[5])) < 0 ? -1 :
	    (int64_t)(d * 1e6);
	m.cooldown_us = o->status == 429 && !o->quota && o->wait_ms > 0 &&
	    o->wait_ms <= w->cfg->max_retry_wait_ms ?
	    (int64_t)o->wait_ms * 1000 : -1;
	if (m.remaining_requests < 0 && m.remaining_tokens < 0 &&
	    m.cooldown_us < 0)
		return;
	buf_reset(&w->hintbuf);
	msg_hint_encode(&w->hintbuf, seq, &m);
	(void)write_full(w->wfd, w->hintbuf.data, w->hintbuf.len);
}

static void serve(struct worker *w, uint64_t seq, const struct msg_request *rq,
    struct msg_result *res)
{
	const struct config *cfg = w->cfg;
	uint64_t start = now_us(), started_ms = wall_ms();
	uint64_t deadline = cfg->max_time_ms ?
	    start + (uint64_t)cfg->max_time_ms * 1000 : 0;
	unsigned attempts = rq->attempts;
	struct outcome o = { 0 };
	struct record_error re = { 0 };
	const char *body = rq->body;
	size_t bodylen = rq->bodylen;
	int ok;

	if (cfg->stream)
		stream_body(w, rq, &body, &bodylen);
	buf_reset(&w->why);
	for (;;) {
		long timeout = cfg->timeout_ms, wait;
		CURLcode cc;
		int r;

		if (deadline) {
			uint64_t now = now_us();
			long left = now < deadline ?
			    (long)((deadline - now) / 1000) : 0;

			if (left < timeout)
				timeout = left > 0 ? left : 1;
		}
		if (attempts > rq->attempts && parent_gone(w))
			_exit(1);	/* no answer to give, nobody to pay */
		attempts++;
		json_object_put(o.json);
		cc = perform(w, rq, body, bodylen, timeout);
		judge(w, cc, &o, rq->lineno);
		send_hint(w, seq, &o);
		if (!o.retry || attempts > (unsigned)cfg->retries)
			break;
		if (stop_retrying) {
			buf_adds(&w->why, "interrupted");
			break;
		}
		wait = o.wait_ms > 0 ? o.wait_ms :
		    retry_backoff_ms(attempts, cfg->backoff_max_ms, draw(w));
		if (o.wait_ms > cfg->max_retry_wait_ms) {
			re.code = ERR_RETRY_TOO_LONG;
			buf_addf(&w->why, "the server asked to wait %.1f s, "
			    "more than --max-retry-wait %.1f s",
			    o.wait_ms / 1000.0, cfg->max_retry_wait_ms / 1000.0);
			break;
		}
		if (deadline && now_us() + (uint64_t)wait * 1000 >= deadline) {
			buf_addf(&w->why, "--max-time %.1f s reached",
			    cfg->max_time_ms / 1000.0);
			break;
		}
		/* Say when to expect us next: after the wait and the next
		 * attempt (the parent kills a worker silent past that). */
		buf_reset(&w->hintbuf);
		msg_beat_encode(&w->hintbuf, seq, (uint64_t)wait +
		    (uint64_t)cfg->timeout_ms);
		(void)write_full(w->wfd, w->hintbuf.data, w->hintbuf.len);
		r = backoff_wait(w, wait);
		if (r < 0)
			_exit(1);
		if (r > 0) {
			buf_adds(&w->why, "interrupted");
			break;
		}
	}

	memset(res, 0, sizeof(*res));
	res->status = o.status;
	res->attempts = attempts;
	res->latency_us = now_us() - start;
	res->started_ms = started_ms;
	if (w->h.event_stream) {
		res->flags |= RESULT_STREAMED;
		res->first_token_us = w->first_token_us;
	}
	buf_reset(&w->line);
	buf_reset(&w->content);
	re.lineno = rq->lineno;
	re.attempts = attempts;
	ok = o.json && o.status >= 200 && o.status < 300;
	if (o.json) {
		const struct record_error *err = NULL;
		unsigned long long pt = 0, ct = 0;
		int has_content;

		has_content = response_digest(o.json, &pt, &ct, &w->content);
		res->prompt_tokens = pt;
		res->completion_tokens = ct;
		if (ok)
			res->flags |= RESULT_OK;
		if (o.quota)
			res->flags |= RESULT_QUOTA;
		if (!ok && (o.retry || w->why.len)) {
			/* Still an error after trying: say so, and why. */
			if (re.code == ERR_NONE)
				re.code = ERR_RETRIES_EXHAUSTED;
			buf_addf(&w->msg, "HTTP %ld after %u attempt%s",
			    o.status, attempts, attempts == 1 ? "" : "s");
			if (w->why.len)
				buf_addf(&w->msg, "; %s", w->why.data);
			re.message = w->msg.data;
			err = &re;
			res->error = re.code;
		}
		record_response(&w->line, cfg, seq, rq->id, rq->idlen,
		    o.status, w->h.request_id[0] ? w->h.request_id : NULL,
		    w->body.data, w->body.len,
		    has_content ? w->content.data : NULL, err);
		json_object_put(o.json);
	} else {
		if (re.code == ERR_NONE)
			re.code = o.err;
		if (attempts > 1)
			buf_addf(&w->msg, " (after %u attempts)", attempts);
		if (w->why.len)
			buf_addf(&w->msg, "; %s", w->why.data);
		re.message = w->msg.data;
		res->error = re.code;
		record_error(&w->line, cfg, seq, rq->id, rq->idlen, &re);
	}
}


/* Deflate w->line into a result frame and write it to the parent. */
static int send_result(struct worker *w, int wfd, uint64_t seq,
    struct msg_result *res)
{
	int level = w->line.len < STORE_BELOW ? 0 : DEFLATE_LEVEL;
	/* 16 over: room for the empty block below, on an old zlib. */
	uLong bound = deflateBound(&w->z, w->line.len) + 16;

	buf_reset(&w->packed);
	buf_grow(&w->packed, bound);
	deflateReset(&w->z);
	w->z.next_out = (unsigned char *)w->packed.data;
	w->z.avail_out = bound;
	w->z.avail_in = 0;
	/* Nothing has gone in since the reset, so zlib 1.2.12 and later
	 * flush nothing here; older ones may write an empty block, which
	 * goes at the start of this record's stream, where it is valid. */
	if (level != w->zlevel) {
		if (deflateParams(&w->z, level, Z_DEFAULT_STRATEGY) != Z_OK)
			die("deflateParams failed");
		w->zlevel = level;
	}
	w->z.next_in = (unsigned char *)w->line.data;
	w->z.avail_in = w->line.len;
	if (deflate(&w->z, Z_FINISH) != Z_STREAM_END)
		die("deflate failed");
	w->packed.len = bound - w->z.avail_out;
	res->rawlen = w->line.len;
	res->data = w->packed.data;
	res->len = w->packed.len;
	buf_reset(&w->frame);
	msg_result_encode(&w->frame, seq, res);
	return write_full(wfd, w->frame.data, w->frame.len);
}

int worker_main(const struct config *cfg, int rfd, int wfd)
{
	struct worker w;
	struct buf in = { 0 };
	/* A request frame holds a body of at most --max-line-length (the
	 * classifier refuses longer), an id and a path from a line of at most
	 * that (or the --endpoint), and a few numbers. */
	size_t max = cfg->max_line * 2 + strlen(cfg->endpoint) + 65536;
	int status = 0;

	struct sigaction sa;

	/* ^C, a hangup, or a stop sent to the process group reach us too;
	 * the parent decides, and tells us with SIGUSR1 to stop retrying.
	 * (Its handler for them would be ours too, after the fork.) */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	worker_init(&w, cfg);
	w.rfd = rfd;
	w.wfd = wfd;
	w.ppid = getppid();
	for (;;) {
		struct frame f;
		struct msg_request rq;
		struct msg_result res;
		ssize_t r;
		long used;

		buf_reset(&in);
		buf_grow(&in, FRAME_HDR_SIZE);
		r = read_full(rfd, in.data, FRAME_HDR_SIZE);
		if (r == 0)
			break;	/* the parent is done with us */
		if (r < 0)
			die_errno("worker: reading a request");
		in.len = FRAME_HDR_SIZE;
		used = frame_decode(in.data, in.len, max, &f);
		if (used < 0)
			die("worker: a request frame that makes no sense");
		if (used == 0) {
			buf_grow(&in, f.len);
			if (read_full(rfd, in.data + in.len, f.len) != f.len)
				die_errno("worker: reading a request");
			in.len += f.len;
			used = frame_decode(in.data, in.len, max, &f);
		}
		if (used <= 0 || msg_request_decode(&f, &rq) < 0)
			die("worker: a request frame that makes no sense");
		w.lineno = rq.lineno;
		serve(&w, f.seq, &rq, &res);
		if (cfg->verbose)
			warnx("line %llu: done: HTTP %u, %u attempt%s, %.3f s%s%s",
			    (unsigned long long)rq.lineno, res.status,
			    res.attempts, res.attempts == 1 ? "" : "s",
			    res.latency_us / 1e6, res.error ? ", " : "",
			    res.error ? errcode_name(res.error) : "");
		if (send_result(&w, wfd, f.seq, &res) < 0) {
			status = 1;	/* the parent is gone */
			break;
		}
	}
	buf_release(&in);
	worker_free(&w);
	return status;
}
