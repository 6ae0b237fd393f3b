/* evstream.c: the text/event-stream line parser. */
#include "evstream.h"

#include <string.h>	/* memchr, memcmp, memset */

void evstream_init(struct evstream *e, size_t max_size,
    evstream_handler *handler, void *arg)
{
	memset(e, 0, sizeof(*e));
	e->max_size = max_size;
	e->handler = handler;
	e->arg = arg;
}

void evstream_reset(struct evstream *e)
{
	e->bom = 0;
	e->cr = 0;
	e->in_comment = 0;
	buf_reset(&e->line);
	buf_reset(&e->data);
	buf_reset(&e->event);
}

void evstream_free(struct evstream *e)
{
	buf_release(&e->line);
	buf_release(&e->data);
	buf_release(&e->event);
}

static enum evstream_status dispatch(struct evstream *e)
{
	int stop;

	if (e->data.len == 0) {
		buf_reset(&e->event);
		return EVS_MORE;
	}
	/* Drop the LF after the last data line. */
	e->data.data[--e->data.len] = 0;
	stop = e->handler(e->arg, e->event.len ? e->event.data : "",
	    e->data.data, e->data.len);
	buf_reset(&e->data);
	buf_reset(&e->event);
	return stop ? EVS_STOPPED : EVS_MORE;
}

/* One complete line, without its end. */
static enum evstream_status line(struct evstream *e, const char *l, size_t n)
{
	const char *colon, *v;
	size_t flen, vlen;

	if (n == 0)
		return dispatch(e);
	if (l[0] == ':')
		return EVS_MORE;	/* a comment: keep-alives */
	colon = memchr(l, ':', n);
	if (colon) {
		flen = (size_t)(colon - l);
		v = colon + 1;
		vlen = n - flen - 1;
		if (vlen > 0 && *v == ' ') {
			v++;
			vlen--;
		}
	} else {
		flen = n;
		v = l + n;
		vlen = 0;
	}
	if (flen == 5 && memcmp(l, "error", 5) == 0) {
		/* llama-server's errors: "error: {...}", an error event in
		 * one line, where the standard has "event:" and "data:". */
		buf_reset(&e->event);
		buf_adds(&e->event, "error");
		flen = 4;
		l = "data";
	}
	if (flen == 4 && memcmp(l, "data", 4) == 0) {
		if (vlen + 1 > e->max_size - e->data.len)
			return EVS_EVENT_TOO_LARGE;
		buf_add(&e->data, v, vlen);
		buf_addc(&e->data, '\n');
	} else if (flen == 5 && memcmp(l, "event", 5) == 0) {
		buf_reset(&e->event);
		buf_add(&e->event, v, vlen < 128 ? vlen : 128);
	}
	/* id, retry and unknown fields mean nothing for an answer. */
	return EVS_MORE;
}

enum evstream_status evstream_feed(struct evstream *e, const char *p,
    size_t n)
{
	const char *end = p + n, *q;
	enum evstream_status st = EVS_MORE;

	/* The stream may begin with a BOM, which may come split: it is no
	 * part of the first line.  (Bytes that begin like one and go on
	 * otherwise are not UTF-8, and are dropped too.) */
	while (e->bom < 3 && p < end) {
		if ((unsigned char)*p != (unsigned char)"\xef\xbb\xbf"[e->bom]) {
			e->bom = 3;	/* none: the stream starts here */
			break;
		}
		e->bom++;
		p++;
	}
	while (p < end && st == EVS_MORE) {
		if (e->cr) {
			/* CR LF split across calls, or not: one line end. */
			e->cr = 0;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		for (q = p; q < end && *q != '\n' && *q != '\r'; q++)
			;
		/* A comment (a keep-alive) is dropped as it comes, however
		 * long and however it is cut into pieces. */
		if (e->in_comment || (e->line.len == 0 && q > p && *p == ':')) {
			e->in_comment = q == end;
			if (q == end)
				break;
			e->cr = *q == '\r';
			p = q + 1;
			continue;
		}
		/* The same limit whether a line comes whole or in pieces. */
		if ((size_t)(q - p) > e->max_size - e->line.len)
			return EVS_LINE_TOO_LARGE;
		if (q == end) {
			buf_add(&e->line, p, (size_t)(q - p));
			break;
		}
		e->cr = *q == '\r';
		if (e->line.len) {
			buf_add(&e->line, p, (size_t)(q - p));
			st = line(e, e->line.data, e->line.len);
			buf_reset(&e->line);
		} else {
			st = line(e, p, (size_t)(q - p));
		}
		p = q + 1;
	}
	return st;
}

enum evstream_status evstream_end(struct evstream *e)
{
	if (e->line.len == 0)
		return dispatch(e);
	return EVS_MORE;
}

int evstream_sniff(const char *p, size_t n, size_t *start)
{
	static const char *const fields[] = { "data:", "event:", "id:",
	    "retry:", ":" };
	size_t i = 0, k, f, rest;
	int maybe = 0;

	/* A BOM, or as much of one as has come. */
	for (k = 0; k < 3 && k < n && (unsigned char)p[k] ==
	    (unsigned char)"\xef\xbb\xbf"[k]; k++)
		;
	if (k == n && k < 3)
		return -1;
	if (k == 3)
		i = 3;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n'))
		i++;
	rest = n - i;
	for (f = 0; f < sizeof(fields) / sizeof(*fields); f++) {
		k = strlen(fields[f]);
		if (memcmp(p + i, fields[f], rest < k ? rest : k) != 0)
			continue;
		if (rest < k) {
			maybe = 1;
			continue;
		}
		*start = i;
		return 1;
	}
	return maybe || rest == 0 ? -1 : 0;
}
