/* transfer.c: one HTTP call, through libcurl, and what its callbacks keep. */
#include "transfer.h"

#include <json-c/json.h>	/* reading --stream bodies */
#include <netinet/in.h>	/* IPPROTO_TCP */
#include <netinet/tcp.h>	/* TCP_QUICKACK */
#include <stdint.h>	/* INT32_MAX */
#include <stdlib.h>	/* free */
#include <string.h>	/* memcpy, memchr, strlen */
#include <strings.h>	/* strncasecmp */
#include <unistd.h>	/* close */

#include "api.h"	/* endpoint_of, url_join */
#include "cacache.h"	/* the parent's parsed CA file */
#include "credentials.h"	/* key_header */
#include "evstream.h"	/* evstream_sniff */
#include "sse.h"	/* streamed answers */

#define MAX_NAP_MS 60000	/* the longest a waiting worker sleeps */

/* The rate-limit headers, as OpenAI names them. */
static const char *const rl_names[6] = {
	"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
	"x-ratelimit-reset-requests", "x-ratelimit-limit-tokens",
	"x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"
};

/* A piece of an event stream: parsed as it comes, never stored whole. */
static size_t feed_stream(struct transfer *t, const char *p, size_t n)
{
	enum sse_state st = sse_feed(t->sse, p, n);

	t->last_rx_ms = now_ms();
	if (t->first_token_us == 0 && sse_got_token(t->sse))
		/* + 1: 0 means no token yet. */
		t->first_token_us = now_us() - t->attempt_us + 1;
	if (st == SSE_TOO_LARGE)
		t->too_large = 1;
	/* A stream gone wrong is not worth reading on. */
	return st == SSE_TOO_LARGE || st == SSE_BAD ? 0 : n;
}

/*
 * An answer whose Content-Type did not say text/event-stream may be one
 * all the same (some servers send none): the body's first bytes decide.
 * Once they do, what was kept is fed to the stream parser.  Returns 0
 * when that stream went wrong, else 1.
 */
static int sniff_stream(struct transfer *t)
{
	size_t start = 0, n;
	int is = evstream_sniff(t->body.data, t->body.len, &start);

	if (is < 0)
		return 1;
	t->sniffed = 1;
	if (is == 0)
		return 1;
	t->h.event_stream = 1;
	sse_reset(t->sse);
	n = t->body.len - start;
	n = feed_stream(t, t->body.data + start, n) == n;
	buf_reset(&t->body);
	return (int)n;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;

	n *= size;
	if (t->h.event_stream)
		return feed_stream(t, p, n);
	if (t->body.len + n > t->cfg->max_response) {
		t->too_large = 1;
		return 0;	/* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	buf_add(&t->body, p, n);
	if (!t->sniffed && !sniff_stream(t))
		return 0;
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

/*
 * An answer's head is in: acknowledge it now, and what follows as it is
 * read.  Linux delays the ACK (up to 40 ms) on a kept-alive connection,
 * expecting to send data it can ride on; a server that writes its head
 * and its body apart with Nagle's algorithm on (llama.cpp's server) holds
 * the body until that ACK, and every request would pay the 40 ms.
 */
static void ack_now(const struct transfer *t)
{
#ifdef TCP_QUICKACK
	int one = 1;

	/* A worker's one handle keeps a connection to each server: the
	 * socket opened last to this one is the one in use
	 * (CURLINFO_ACTIVESOCKET is known only once a transfer is over).
	 * Not a TCP socket: setsockopt just fails. */
	if (t->sock[t->server] != CURL_SOCKET_BAD)
		(void)setsockopt(t->sock[t->server], IPPROTO_TCP,
		    TCP_QUICKACK, &one, sizeof(one));
#else
	(void)t;
#endif
}

/* libcurl opened a socket, or closes one: keep track of the last to
 * each server. */
static int on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct transfer *t = arg;

	if (purpose == CURLSOCKTYPE_IPCXN)
		t->sock[t->server] = fd;
	return CURL_SOCKOPT_OK;
}

static int on_close(void *arg, curl_socket_t fd)
{
	struct transfer *t = arg;

	for (int i = 0; i < t->cfg->nservers; i++)
		if (fd == t->sock[i])
			t->sock[i] = CURL_SOCKET_BAD;
	return close(fd);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	struct answer_headers *h = &t->h;
	char ctype[64];

	n *= size;
	/* A new status line starts a new answer (after a 100 Continue). */
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		memset(h, 0, sizeof(*h));
		t->sniffed = 0;
		ack_now(t);
		return n;
	}
	if (take_header(p, n, "content-type", ctype, sizeof(ctype))) {
		/* Whoever asked for it (--stream or the line itself), an
		 * event stream is reassembled, and the idle clock starts. */
		h->event_stream = strncasecmp(ctype, "text/event-stream",
		    17) == 0;
		if (h->event_stream) {
			sse_reset(t->sse);
			t->last_rx_ms = now_ms();
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
 * --idle-timeout: libcurl calls this often while data flows, and run()
 * wakes it when the stream's deadline comes; a stream silent too long is
 * cut here, and judge() calls that a timeout.  Only event streams are
 * watched: an unstreamed answer is silent until it is ready.
 */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct transfer *t = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (t->h.event_stream &&
	    now_ms() - t->last_rx_ms >= (uint64_t)t->idle_ms) {
		t->idle_fired = 1;
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
	struct transfer *t = arg;

	(void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
	return ++t->sends > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
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
	struct transfer *t = arg;
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
			if (type == CURLINFO_TEXT && t->cas_file != NULL &&
			    n - lead == 12 && memcmp(p + lead, "CAfile: none",
			    12) == 0) {
				/* libcurl read no file: the parent did. */
				warnx("line %llu: * %.*sCAfile: %s (parsed "
				    "once, before the workers started)",
				    (unsigned long long)t->lineno, (int)lead,
				    p, t->cas_file);
			} else if (type != CURLINFO_TEXT &&
			    secret_header(p, n)) {
				const char *colon = memchr(p, ':', n);

				warnx("line %llu: %s %.*s: [redacted]",
				    (unsigned long long)t->lineno, dir,
				    (int)(colon - p), p);
			} else
				warnx("line %llu: %s %.*s",
				    (unsigned long long)t->lineno, dir,
				    n > 900 ? 900 : (int)n, p);
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* The headers of requests to server: the key (as Azure's api-key when
 * it came from AZURE_OPENAI_API_KEY; none when a header gives one), -H's,
 * then the server's header-file's. */
static struct curl_slist *request_headers(const struct config *cfg,
    int server)
{
	const struct server *s = &cfg->servers[server];
	struct curl_slist *h;
	struct buf hb = { 0 };
	int i;

	h = curl_slist_append(NULL, "Content-Type: application/json");
	/* No 100-continue round trip for large bodies. */
	h = curl_slist_append(h, "Expect:");
	if (key_header(cfg, server, &hb)) {
		h = curl_slist_append(h, hb.data);
		/* The key is in the list now; don't leave a second copy. */
		memset(hb.data, 0, hb.len);
	}
	buf_release(&hb);
	for (i = 0; i < cfg->nheaders; i++)
		h = curl_slist_append(h, cfg->headers[i]);
	for (i = 0; i < s->nheaders; i++)
		h = curl_slist_append(h, s->headers[i]);
	if (h == NULL)
		die(EXIT_INTERNAL, "out of memory for request headers");
	return h;
}

/* The handle's options, set once for the worker's life. */
static void set_options(struct transfer *t)
{
	curl_easy_setopt(t->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(t->curl, CURLOPT_USERAGENT,
	    "splitgpt/" SPLITGPT_VERSION);
	curl_easy_setopt(t->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    t->cfg->connect_timeout_ms);
	curl_easy_setopt(t->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(t->curl, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(t->curl, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(t->curl, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(t->curl, CURLOPT_SOCKOPTDATA, t);
	curl_easy_setopt(t->curl, CURLOPT_CLOSESOCKETFUNCTION, on_close);
	curl_easy_setopt(t->curl, CURLOPT_CLOSESOCKETDATA, t);
	curl_easy_setopt(t->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(t->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#if LIBCURL_VERSION_NUM >= 0x075000
	curl_easy_setopt(t->curl, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(t->curl, CURLOPT_PREREQDATA, t);
#endif
	if (t->cfg->insecure) {
		curl_easy_setopt(t->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(t->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->cfg->cacert)
		curl_easy_setopt(t->curl, CURLOPT_CAINFO, t->cfg->cacert);
	t->cas_file = cacache_use(t->curl, t->cfg->cacert);
	if (t->cfg->verbose) {
		curl_easy_setopt(t->curl, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(t->curl, CURLOPT_DEBUGDATA, t);
		curl_easy_setopt(t->curl, CURLOPT_VERBOSE, 1L);
	}
	if (t->idle_ms > 0) {
		curl_easy_setopt(t->curl, CURLOPT_XFERINFOFUNCTION,
		    on_progress);
		curl_easy_setopt(t->curl, CURLOPT_XFERINFODATA, t);
		curl_easy_setopt(t->curl, CURLOPT_NOPROGRESS, 0L);
	}
}

void transfer_init(struct transfer *t, const struct config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die(EXIT_INTERNAL, "curl_global_init failed");
	t->curl = curl_easy_init();
	if (t->curl == NULL)
		die(EXIT_INTERNAL, "curl_easy_init failed");
	t->tok = json_tokener_new_ex(cfg->max_depth + 1);
	if (t->tok == NULL)
		die(EXIT_INTERNAL, "out of memory for the JSON parser");
	t->sse = sse_new(cfg->max_response, cfg->max_depth);
	t->idle_ms = cfg->idle_timeout_ms;
	t->headers = xcalloc(cfg->nservers, sizeof(*t->headers));
	t->sock = xcalloc(cfg->nservers, sizeof(*t->sock));
	for (int i = 0; i < cfg->nservers; i++) {
		t->headers[i] = request_headers(cfg, i);
		t->sock[i] = CURL_SOCKET_BAD;
	}
	set_options(t);
}

void transfer_free(struct transfer *t)
{
	if (t->multi != NULL)
		curl_multi_cleanup(t->multi);	/* closes the connection */
	curl_easy_cleanup(t->curl);
	for (int i = 0; i < t->cfg->nservers; i++)
		curl_slist_free_all(t->headers[i]);
	free(t->headers);
	free(t->sock);
	curl_global_cleanup();
	json_tokener_free(t->tok);
	buf_release(&t->url);
	buf_release(&t->body);
	buf_release(&t->reqbody);
	sse_free(t->sse);
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
void transfer_stream_body(struct transfer *t, const struct msg_request *rq,
    const char **body, size_t *len)
{
	enum endpoint api = endpoint_of(rq->path, rq->pathlen);
	const char *p = rq->body, *end = rq->body + rq->bodylen, *q;
	int has_opts = 0;

	if ((api != EP_CHAT && api != EP_COMPLETIONS && api != EP_RESPONSES) ||
	    rq->bodylen > INT32_MAX)
		return;
	if (has_bytes(p, rq->bodylen, "\"stream")) {
		json_object *o;

		json_tokener_reset(t->tok);
		o = json_tokener_parse_ex(t->tok, p, (int)rq->bodylen);
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
	buf_reset(&t->reqbody);
	buf_add(&t->reqbody, rq->body, (size_t)(p - rq->body));
	buf_adds(&t->reqbody, "\"stream\":true");
	if (api != EP_RESPONSES && !has_opts)
		buf_adds(&t->reqbody,
		    ",\"stream_options\":{\"include_usage\":true}");
	for (q = p; q < end && (*q == ' ' || *q == '\t' || *q == '\r' ||
	    *q == '\n'); q++)
		;
	if (q < end && *q != '}')
		buf_addc(&t->reqbody, ',');
	buf_add(&t->reqbody, p, (size_t)(end - p));
	*body = t->reqbody.data;
	*len = t->reqbody.len;
}

/* How long run may wait for the socket: libcurl's own timers (the
 * --timeout, connecting) shorten it; an event stream is woken when
 * --idle-timeout would cut it, for on_progress to do so. */
static int nap_ms(const struct transfer *t)
{
	uint64_t due, now;

	if (t->idle_ms <= 0 || !t->h.event_stream)
		return MAX_NAP_MS;
	due = t->last_rx_ms + (uint64_t)t->idle_ms;
	now = now_ms();
	if (due <= now)
		return 0;
	return due - now < MAX_NAP_MS ? (int)(due - now) : MAX_NAP_MS;
}

/*
 * curl_easy_perform, less its wake-up each second: it polls at most
 * 1000 ms at a time, so every worker waiting on an answer woke once a
 * second for nothing (some 20 us of CPU each time: 4% of a core at -P
 * 2048).  Here a worker sleeps until its socket, libcurl's timers or
 * nap_ms wake it.  The multi handle keeps the connection between
 * requests, as the easy handle's own one did.
 */
static CURLcode run(struct transfer *t)
{
	CURLcode cc = CURLE_RECV_ERROR;	/* if libcurl said nothing */
	CURLMcode mc;
	CURLMsg *m;
	int running = 1, left;

	if (t->multi == NULL) {
		if ((t->multi = curl_multi_init()) == NULL)
			die(EXIT_INTERNAL, "curl_multi_init failed");
		/* A connection kept to each server (the default keeps 4). */
		curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS,
		    t->cfg->nservers > 4 ? (long)t->cfg->nservers : 4L);
	}
	mc = curl_multi_add_handle(t->multi, t->curl);
	while (mc == CURLM_OK) {
		mc = curl_multi_perform(t->multi, &running);
		if (mc != CURLM_OK || !running)
			break;
		mc = curl_multi_poll(t->multi, NULL, 0, nap_ms(t), NULL);
	}
	if (mc == CURLM_OUT_OF_MEMORY)
		cc = CURLE_OUT_OF_MEMORY;
	while ((m = curl_multi_info_read(t->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE && m->easy_handle == t->curl)
			cc = m->data.result;
	curl_multi_remove_handle(t->multi, t->curl);
	return cc;
}

static CURLcode perform(struct transfer *t, const struct msg_request *rq,
    int server, const char *body, size_t bodylen, long timeout_ms)
{
	buf_reset(&t->url);
	t->server = server;
	url_join(&t->url, t->cfg->servers[server].url, rq->path, rq->pathlen);
	curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->headers[server]);
	buf_reset(&t->body);
	memset(&t->h, 0, sizeof(t->h));
	t->too_large = 0;
	t->sniffed = 0;
	t->idle_fired = 0;
	t->sends = 0;
	t->first_token_us = 0;
	t->attempt_us = now_us();
	t->errbuf[0] = 0;
	curl_easy_setopt(t->curl, CURLOPT_URL, t->url.data);
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)bodylen);
	curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	return run(t);
}

/* How an event stream ended; the answer is a new reference. */
static void stream_end_of(struct transfer *t, struct stream_end *e)
{
	e->state = sse_end(t->sse);
	e->answer = e->state == SSE_DONE ? sse_result(t->sse) : NULL;
	e->error = sse_error(t->sse);
	e->problem = sse_problem(t->sse);
	e->events = sse_events(t->sse);
}

void transfer_perform(struct transfer *t, const struct msg_request *rq,
    int server, const char *body, size_t bodylen, long timeout_ms,
    struct attempt *a)
{
	const struct answer_headers *h = &t->h;
	const struct config *cfg = t->cfg;
	long connects = 0;
	CURLcode cc;

	t->lineno = rq->lineno;
	cc = perform(t, rq, server, body, bodylen, timeout_ms);
	memset(a, 0, sizeof(*a));
	a->curl_code = cc;
	a->curl_error = t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc);
	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &a->status);
	a->body = t->body.data;
	a->body_len = t->body.len;
	a->too_large = t->too_large;
	a->sends = t->sends;
	curl_easy_getinfo(t->curl, CURLINFO_NUM_CONNECTS, &connects);
	a->reused = connects == 0;
	a->idle_fired = t->idle_fired;
	a->event_stream = h->event_stream;
	a->stream.problem = "";
	if (h->event_stream)
		stream_end_of(t, &a->stream);
	a->retry_after_ms = h->retry_after_ms[0] ? h->retry_after_ms : NULL;
	a->retry_after = h->retry_after[0] ? h->retry_after : NULL;
	a->should_retry = h->should_retry[0] ? h->should_retry : NULL;
	a->lineno = rq->lineno;
	a->tok = t->tok;
	a->max_response = cfg->max_response;
	a->max_depth = cfg->max_depth;
	a->idle_ms = t->idle_ms;
	a->retries = cfg->retries;
	a->max_retry_wait_ms = cfg->max_retry_wait_ms;
}
