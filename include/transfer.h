/*
 * transfer.h: one HTTP call of a worker, made with libcurl.
 *
 * A worker has one struct transfer for its life: one easy handle, so
 * connections are kept alive between requests, with the request headers
 * (the key among them) set once.  Each attempt posts a body to the base
 * URL joined with the request's path, and libcurl's callbacks keep what
 * the judge (judge.h) needs: the body (up to --max-response-size), the
 * few headers that matter, and, for an answer that comes as
 * text/event-stream, the stream parsed as it arrives (sse.h) instead of
 * the body.  A stream silent for --idle-timeout is cut from the progress
 * callback; a request libcurl would send a second time on a connection
 * found dead is refused (it may have reached the server); -v shows the
 * headers on stderr, secrets redacted.
 *
 * The structure is public so that the serve loop can read what an
 * attempt left (the headers for its hints, the body for the record, the
 * time to the first token); only transfer.c writes it.
 */
#ifndef SPLITGPT_TRANSFER_H
#define SPLITGPT_TRANSFER_H

#include <curl/curl.h>	/* CURL, CURL_ERROR_SIZE */
#include <stddef.h>	/* size_t */
#include <stdint.h>	/* uint64_t */

#include "config.h"	/* struct config */
#include "frame.h"	/* struct msg_request */
#include "judge.h"	/* struct attempt */
#include "util.h"	/* struct buf */

struct json_tokener;
struct sse;

/* Headers worth keeping from an answer; the rest are ignored. */
struct answer_headers {
	char request_id[128];
	char retry_after_ms[32];
	char retry_after[64];
	char should_retry[16];
	int event_stream;	/* Content-Type: text/event-stream, or a
				 * body that begins like one */
	char rl[6][32];		/* x-ratelimit-*, in the order of
				 * limit, remaining, reset of requests,
				 * then the same of tokens */
};

struct transfer {
	const struct config *cfg;
	CURL *curl;
	CURLM *multi;		/* runs curl, and keeps its connection */
	struct curl_slist **headers;	/* for each server (config.h) */
	char errbuf[CURL_ERROR_SIZE];
	struct buf url;
	struct buf body;	/* the answer's body */
	int too_large;		/* the body passed --max-response-size */
	int sniffed;		/* the body's start said whether it is an
				 * event stream (without the header) */
	struct answer_headers h;
	struct json_tokener *tok;	/* for bodies, up to --max-depth */
	struct buf reqbody;	/* a body edited for --stream */
	struct sse *sse;	/* an event-stream answer, reassembled */
	uint64_t lineno;	/* the line being served, for -v */
	uint64_t attempt_us;	/* when this attempt started */
	uint64_t last_rx_ms;	/* when the stream last sent something */
	uint64_t first_token_us;	/* attempt start to first token, or 0 */
	long idle_ms;		/* --idle-timeout, 0: off */
	int idle_fired;		/* --idle-timeout cut this attempt */
	int sends;		/* requests libcurl began this attempt */
	const char *cas_file;	/* the CA file parsed by the parent, in use */
	int server;		/* the server of the attempt under way */
	curl_socket_t *sock;	/* for each server, the socket libcurl
				 * opened to it last, or CURL_SOCKET_BAD
				 * once it is closed */
};

/*
 * In a worker (never before the fork): initialise libcurl and make the
 * handle, with the headers, timeouts, TLS settings and callbacks of cfg,
 * which must outlive t.  Dies when libcurl or memory fails.
 */
void transfer_init(struct transfer *t, const struct config *cfg);

/* Free what transfer_init made, and clean libcurl up. */
void transfer_free(struct transfer *t);

/*
 * --stream: point *body and *len at rq's body with "stream":true (and
 * for chat and completions "stream_options":{"include_usage":true} so
 * the usage is not lost) put first in the object, kept in t until the
 * next call.  The body is left as it is when the line sets "stream"
 * itself, for embeddings, moderations and unknown endpoints, and when
 * it is not an object.
 */
void transfer_stream_body(struct transfer *t, const struct msg_request *rq,
    const char **body, size_t *len);

/*
 * Make one attempt: post body to server's URL (cfg->servers) joined with
 * rq's path, with that server's headers,
 * within timeout_ms, and fill what it left into *a, with the settings
 * the judge needs: all of it but a->attempt and a->now.  What *a points
 * to (body, headers, the stream's error and problem) belongs to t and
 * lasts until the next attempt, but for a->stream.answer: a new
 * reference (or NULL), which the caller puts once it has judged.
 */
void transfer_perform(struct transfer *t, const struct msg_request *rq,
    int server, const char *body, size_t bodylen, long timeout_ms,
    struct attempt *a);

#endif
