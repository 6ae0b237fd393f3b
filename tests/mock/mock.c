/*
 * mock.c: an OpenAI-compatible HTTP server for splitgpt's tests, demo and
 * benchmarks.
 *
 * Everything it answers is a deterministic function of the request, the
 * --seed and the attempt number of the request's key (how many requests
 * with that key arrived before), so faults replay identically whatever
 * order a concurrent client happens to send things in.
 *
 * The Files and Batches endpoints (the Batch API) are in batches.c, which
 * this file includes.
 *
 * Build:
 *   cc -std=c11 -O2 -g -Wall -Wextra tests/mock/mock.c \
 *     $(pkg-config --cflags --libs libmicrohttpd json-c zlib) -lpthread -lm \
 *     -o tests/mock/mock
 */

#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <microhttpd.h>
#include <zlib.h>

#define CREATED		1700000000	/* fixed, so answers are reproducible */
#define SLICE_S		0.05		/* sleeps poll the stop flag this often */
#define MAX_HDRS	24
#define MAX_N		128		/* upper bound for the "n" parameter */
#define MAX_DIMS	4096		/* upper bound for embedding "dimensions" */
#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Purposes keep the hash streams for different decisions independent. */
enum purpose {
	P_FAULT = 1, P_JITTER, P_SLOW, P_REQID, P_ID, P_MSGID, P_EMB
};

enum fkind {
	F_NONE, F_HTTP, F_RESET, F_RESET_BODY, F_HANG, F_NONJSON, F_BADJSON,
	F_STALL, F_SSE_ERROR, F_SSE_CUT, F_DRIP, F_SLOW_HEADERS, F_SLEEP,
	F_BADUTF8, F_NULBODY, F_DEEP, F_ARRAY, F_ERROR_LINE, F_SLOW_BODY,
	F_BATCH_EXPIRE,	/* a Batch API line left unanswered (batches.c) */
	/* Raw port only (--raw-port-file): headers MHD cannot send. */
	F_HUGE_HEADER, F_MANY_HEADERS, F_ENDLESS_HEADERS, F_DRIP_HEADERS,
	F__N
};

static const char *const fkind_name[F__N] = {
	[F_NONE] = "ok", [F_HTTP] = "http", [F_RESET] = "reset",
	[F_RESET_BODY] = "reset-body", [F_HANG] = "hang",
	[F_NONJSON] = "nonjson", [F_BADJSON] = "badjson",
	[F_STALL] = "stall", [F_SSE_ERROR] = "sse-error",
	[F_SSE_CUT] = "sse-cut", [F_DRIP] = "drip",
	[F_SLOW_HEADERS] = "slow-headers", [F_SLEEP] = "sleep",
	/* Hostile bodies: 200 application/json that is not usable JSON. */
	[F_BADUTF8] = "badutf8", [F_NULBODY] = "nulbody", [F_DEEP] = "deep",
	/* What real servers do: llama-server's answers to a "prompt"
	 * array and its in-stream errors; a body late after headers. */
	[F_ARRAY] = "array", [F_ERROR_LINE] = "error-line",
	[F_SLOW_BODY] = "slow-body", [F_BATCH_EXPIRE] = "batch-expire",
	[F_HUGE_HEADER] = "huge-header", [F_MANY_HEADERS] = "many-headers",
	[F_ENDLESS_HEADERS] = "endless-headers",
	[F_DRIP_HEADERS] = "drip-headers",
};

struct fault {
	enum fkind	kind;
	unsigned	status;		/* F_HTTP */
	double		rate;		/* --fault only */
	long long	times;		/* only attempts < times; -1: all */
	long long	after;		/* stream events before it; -1: default */
	long long	ms;		/* duration override; -1: default */
	char		retry_after[24];	/* text, validated; "" = none */
	long long	retry_after_date;	/* seconds from now; -1 = none */
	long long	retry_after_ms;		/* -1 = none */
	int		should_retry;		/* -1 = none, else 0/1 */
	int		request_id;	/* 0 as usual, 1 invalid UTF-8, 2 none */
	bool		html_body;
	bool		crlf;
	bool		comments;
	bool		noctype;	/* a stream without a content type */
	char		code[64];
	char		type[64];
};

static struct {
	char		 host[INET6_ADDRSTRLEN];
	bool		 ipv6;
	long long	 port;
	const char	*port_file;
	const char	*raw_port_file;
	bool		 raw_keepalive;
	long long	 raw_keepalive_max;
	const char	*tls_cert;
	const char	*tls_key;
	long long	 lifetime;
	long long	 hang;
	uint64_t	 seed;
	long long	 latency;
	long long	 slots;		/* --slots: answers at once, 0: any */
	long long	 jitter;
	double		 slow_rate;
	double		 slow_factor;
	struct fault	*faults;
	size_t		 nfaults;
	bool		 gzip;
	const char	*require_key;
	const char	*log_path;
	long long	 rpm;
	long long	 tpm;
	long long	 rl_window;
	bool		 rl_headers_only;
	long long	 chunk_bytes;
	long long	 chunk_delay;
	bool		 sse_crlf;
	bool		 sse_comments;
	bool		 sse_no_ctype;
	const char	*models;	/* --models: "a,b", or NULL: any */
	long long	 conn_timeout;
	long long	 max_conns;
	long long	 max_body;
	long long	 max_files;	/* bytes of stored files, in all */
	long long	 batch_steps;	/* GETs that each batch status lasts */
	bool		 verbose;
} cfg = {
	.host = "127.0.0.1", .lifetime = 900, .hang = 30, .seed = 1,
	.slow_factor = 1, .rl_window = 60, .chunk_bytes = 8,
	.conn_timeout = 120, .max_conns = 4096, .max_body = 64 << 20,
	.max_files = 256 << 20, .batch_steps = 1,
};

static atomic_int g_stop;
static double t_start;

/* ---- small utilities ---- */

static void die(const char *, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void usage_err(const char *, ...)
    __attribute__((noreturn, format(printf, 1, 2)));
static void warnx_(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
vmsg(const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "mock: %s\n", buf);
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(1);
}

static void
usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fputs("mock: try --help\n", stderr);
	exit(2);
}

static void
warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* Growable byte string, always NUL-terminated once anything was added. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sb_grow(struct sbuf *b, size_t need)
{
	size_t cap;

	if (need > SIZE_MAX / 2 - b->len)
		die("out of memory");
	if (b->len + need + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 128;
	while (cap < b->len + need + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void
sb_add(struct sbuf *b, const void *s, size_t n)
{
	sb_grow(b, n);
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_printf(struct sbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	sb_grow(b, 128);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf failed");
	if ((size_t)n >= room) {
		/* Did not fit: grow to the exact size and format again. */
		sb_grow(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void
sb_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Sleep in short slices so that SIGTERM stops the daemon promptly even
 * when handlers are delaying or hanging.  Returns false if interrupted by
 * shutdown.
 */
static bool
sleep_ms(double ms)
{
	double end = now_s() + ms / 1000.0, left;
	struct timespec ts;

	for (;;) {
		if (atomic_load(&g_stop))
			return false;
		left = end - now_s();
		if (left <= 0)
			return true;
		if (left > SLICE_S)
			left = SLICE_S;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* Bounded memmem: keys may contain NUL bytes, so strstr will not do. */
static const char *
find(const char *h, size_t hl, const char *n, size_t nl)
{
	size_t i;

	if (nl == 0 || hl < nl)
		return NULL;
	for (i = 0; i + nl <= hl; i++)
		if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

static bool
ends_with(const char *s, const char *suf)
{
	size_t sl = strlen(s), fl = strlen(suf);

	return sl >= fl && strcmp(s + sl - fl, suf) == 0;
}

static bool
contains_ci(const char *h, const char *n)
{
	size_t nl = strlen(n);

	for (; *h; h++)
		if (strncasecmp(h, n, nl) == 0)
			return true;
	return false;
}

/* ---- deterministic hashing ---- */

static uint64_t
fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Seeded draw: faults and latency depend on (seed, key, attempt, purpose). */
static uint64_t
draw(uint64_t kh, uint64_t attempt, enum purpose p)
{
	uint64_t h = mix64(cfg.seed);

	h = mix64(h ^ kh);
	h = mix64(h ^ attempt);
	return mix64(h ^ (uint64_t)p);
}

/* Unseeded: the content of an answer depends on the request only. */
static uint64_t
khash(uint64_t kh, enum purpose p)
{
	return mix64(mix64(kh) ^ (uint64_t)p);
}

static double
unit(uint64_t h)
{
	return (double)(h >> 11) * 0x1.0p-53;
}

/* ---- statistics ---- */

struct kent {
	struct kent	*next;
	uint64_t	 h;
	uint64_t	 sent, ok, after_ok;
	size_t		 len;
	char		 key[];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;	/* all below */

static struct {
	struct kent	**b;
	size_t		  nb, n;
} keys;

static struct {
	uint64_t	gen;		/* bumped by /reset */
	uint64_t	requests, ok, rate_limited;
	uint64_t	dropped;	/* --raw-keepalive-max */
	long long	in_flight, max_in_flight;
	long long	slots_busy, max_waiting, waiting;	/* --slots */
	uint64_t	by_status[600];
	uint64_t	faults[F__N];
	uint64_t	max_sent, max_after_ok;
} st;

struct rlent {
	double		t;
	uint64_t	tok;
};

static struct {
	struct rlent	*v;
	size_t		 head, n, cap;
	uint64_t	 toksum;
} rl;

static void
keys_free(void)
{
	struct kent *e, *next;
	size_t i;

	for (i = 0; i < keys.nb; i++)
		for (e = keys.b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(keys.b);
	keys.b = NULL;
	keys.nb = keys.n = 0;
}

/* Find or create a key's entry; caller holds mu. */
static struct kent *
key_get(const char *k, size_t len, uint64_t h)
{
	struct kent *e, *next, **nb;
	size_t i, n;

	if (keys.nb == 0) {
		keys.nb = 1024;
		keys.b = xcalloc(keys.nb, sizeof *keys.b);
	}
	for (e = keys.b[h & (keys.nb - 1)]; e != NULL; e = e->next)
		if (e->h == h && e->len == len && memcmp(e->key, k, len) == 0)
			return e;
	if (keys.n >= keys.nb && keys.nb <= SIZE_MAX / 2 / sizeof *nb) {
		/* Rehash into twice as many buckets to keep chains short. */
		n = keys.nb * 2;
		nb = xcalloc(n, sizeof *nb);
		for (i = 0; i < keys.nb; i++)
			for (e = keys.b[i]; e != NULL; e = next) {
				next = e->next;
				e->next = nb[e->h & (n - 1)];
				nb[e->h & (n - 1)] = e;
			}
		free(keys.b);
		keys.b = nb;
		keys.nb = n;
	}
	e = xcalloc(1, sizeof *e + len + 1);
	e->h = h;
	e->len = len;
	memcpy(e->key, k, len);
	e->next = keys.b[h & (keys.nb - 1)];
	keys.b[h & (keys.nb - 1)] = e;
	keys.n++;
	return e;
}

/* Record the arrival of a keyed request; returns its attempt number. */
static uint64_t
key_register(const char *k, size_t len, uint64_t h, uint64_t *gen)
{
	struct kent *e;
	uint64_t a;

	pthread_mutex_lock(&mu);
	e = key_get(k, len, h);
	a = e->sent++;
	if (e->sent > st.max_sent)
		st.max_sent = e->sent;
	if (e->ok > 0) {
		e->after_ok++;
		if (e->after_ok > st.max_after_ok)
			st.max_after_ok = e->after_ok;
	}
	*gen = st.gen;
	pthread_mutex_unlock(&mu);
	return a;
}

static void
stats_reset(void)
{
	pthread_mutex_lock(&mu);
	keys_free();
	st.gen++;
	st.requests = st.ok = st.rate_limited = st.dropped = 0;
	/* In-flight requests still finish later: keep counting them. */
	st.max_in_flight = st.in_flight;
	memset(st.by_status, 0, sizeof st.by_status);
	memset(st.faults, 0, sizeof st.faults);
	st.max_sent = st.max_after_ok = 0;
	rl.head = rl.n = 0;
	rl.toksum = 0;
	pthread_mutex_unlock(&mu);
}

static json_object *
jint(long long v)
{
	return json_object_new_int64(v);
}

static void
jadd(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

static void
jemit(json_object *o, struct sbuf *b)
{
	const char *s;
	size_t n;

	s = json_object_to_json_string_length(o, JSON_FLAGS, &n);
	sb_add(b, s, n);
	json_object_put(o);
}

static void
stats_json(struct sbuf *b, bool with_keys)
{
	json_object *o, *bs, *fs, *ks, *ko;
	struct kent *e;
	char num[16];
	size_t i;
	int k;

	o = json_object_new_object();
	bs = json_object_new_object();
	fs = json_object_new_object();
	pthread_mutex_lock(&mu);
	jadd(o, "requests", jint((long long)st.requests));
	jadd(o, "ok", jint((long long)st.ok));
	jadd(o, "in_flight", jint(st.in_flight));
	jadd(o, "max_in_flight", jint(st.max_in_flight));
	jadd(o, "max_waiting", jint(st.max_waiting));
	jadd(o, "rate_limited", jint((long long)st.rate_limited));
	jadd(o, "dropped", jint((long long)st.dropped));
	for (k = 100; k < 600; k++)
		if (st.by_status[k]) {
			snprintf(num, sizeof num, "%d", k);
			jadd(bs, num, jint((long long)st.by_status[k]));
		}
	jadd(o, "by_status", bs);
	for (k = F_HTTP; k < F__N; k++)
		jadd(fs, fkind_name[k], jint((long long)st.faults[k]));
	jadd(o, "faults", fs);
	jadd(o, "max_sent", jint((long long)st.max_sent));
	jadd(o, "max_after_ok", jint((long long)st.max_after_ok));
	jadd(o, "distinct_keys", jint((long long)keys.n));
	if (with_keys) {
		ks = json_object_new_object();
		for (i = 0; i < keys.nb; i++)
			for (e = keys.b[i]; e != NULL; e = e->next) {
				ko = json_object_new_object();
				jadd(ko, "sent", jint((long long)e->sent));
				jadd(ko, "ok", jint((long long)e->ok));
				jadd(ko, "after_ok", jint((long long)e->after_ok));
				jadd(ks, e->key, ko);
			}
		jadd(o, "keys", ks);
	}
	pthread_mutex_unlock(&mu);
	jemit(o, b);
}

/* ---- request log ---- */

static FILE *logfp;
static pthread_mutex_t logmu = PTHREAD_MUTEX_INITIALIZER;
/* The request this thread serves (one connection per thread): when its
 * body was complete, in now_s() time (0: none), and its socket. */
static _Thread_local double req_complete;
static _Thread_local int req_conn = -1;

static void
log_line(const char *method, const char *url, const char *key, size_t klen,
    long long attempt, const char *what)
{
	struct sbuf b = { 0 };
	unsigned char c;
	size_t i;

	if (logfp == NULL)
		return;
	sb_printf(&b, "%lld\t%s %s\t",
	    (long long)((now_s() - t_start) * 1000), method, url);
	if (key == NULL)
		sb_adds(&b, "-");
	/* Escape so that every request stays on one tab-separated line. */
	for (i = 0; key != NULL && i < klen; i++) {
		c = (unsigned char)key[i];
		if (c == '\\')
			sb_adds(&b, "\\\\");
		else if (c == '\t')
			sb_adds(&b, "\\t");
		else if (c == '\n')
			sb_adds(&b, "\\n");
		else if (c == '\r')
			sb_adds(&b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			sb_printf(&b, "\\x%02x", c);
		else
			sb_add(&b, &key[i], 1);
	}
	if (attempt < 0)
		sb_printf(&b, "\t-\t%s", what);
	else
		sb_printf(&b, "\t%lld\t%s", attempt, what);
	/* To the microsecond, for the benchmark's breakdown of a round. */
	if (req_complete > 0)
		sb_printf(&b, "\t%.3f", (req_complete - t_start) * 1000);
	else
		sb_adds(&b, "\t-");
	sb_printf(&b, "\t%.3f\t%d\n", (now_s() - t_start) * 1000, req_conn);
	req_complete = 0;
	pthread_mutex_lock(&logmu);
	fwrite(b.p, 1, b.len, logfp);
	fflush(logfp);
	pthread_mutex_unlock(&logmu);
	sb_free(&b);
}

/* ---- option and fault-spec parsing ---- */

static bool
num_ok(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool
dbl_ok(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

static long long
opt_num(const char *opt, const char *s, long long lo, long long hi)
{
	long long v;

	if (!num_ok(s, lo, hi, &v))
		usage_err("%s: '%s' is not an integer in [%lld, %lld]",
		    opt, s, lo, hi);
	return v;
}

static double
opt_dbl(const char *opt, const char *s, double lo, double hi)
{
	double v;

	if (!dbl_ok(s, lo, hi, &v))
		usage_err("%s: '%s' is not a number in [%g, %g]",
		    opt, s, lo, hi);
	return v;
}

static bool
is_stream_fault(enum fkind k)
{
	return k == F_STALL || k == F_SSE_ERROR || k == F_SSE_CUT ||
	    k == F_ERROR_LINE;
}

static bool
is_raw_fault(enum fkind k)
{
	return k == F_HUGE_HEADER || k == F_MANY_HEADERS ||
	    k == F_ENDLESS_HEADERS || k == F_DRIP_HEADERS;
}

/*
 * Parse KIND[:RATE][:opt=val...] (RATE only when with_rate).  Errors go to
 * err and name the offending piece.
 */
static bool
parse_fault(const char *spec, bool with_rate, struct fault *f, char *err,
    size_t errlen)
{
	char buf[512], *tok[32], *p, *val;
	size_t nt = 0, i;
	long long v;
	int k;

	memset(f, 0, sizeof *f);
	f->times = f->after = f->ms = -1;
	f->retry_after_date = f->retry_after_ms = -1;
	f->should_retry = -1;
	if (strlen(spec) >= sizeof buf) {
		snprintf(err, errlen, "spec too long");
		return false;
	}
	memcpy(buf, spec, strlen(spec) + 1);
	tok[nt++] = buf;
	for (p = buf; *p != '\0'; p++)
		if (*p == ':') {
			if (nt == sizeof tok / sizeof tok[0]) {
				snprintf(err, errlen, "too many options");
				return false;
			}
			*p = '\0';
			tok[nt++] = p + 1;
		}

	if ((val = strchr(tok[0], '=')) != NULL)
		*val++ = '\0';
	if (tok[0][0] != '\0' && strspn(tok[0], "0123456789") ==
	    strlen(tok[0])) {
		if (!num_ok(tok[0], 400, 599, &v)) {
			snprintf(err, errlen, "HTTP status '%s' not in "
			    "[400, 599]", tok[0]);
			return false;
		}
		f->kind = F_HTTP;
		f->status = (unsigned)v;
	} else {
		for (k = 0; k < F__N; k++)
			if (k != F_HTTP && strcmp(tok[0], fkind_name[k]) == 0)
				break;
		if (k == F__N) {
			snprintf(err, errlen, "unknown fault kind '%s'",
			    tok[0]);
			return false;
		}
		f->kind = (enum fkind)k;
		if (with_rate && is_raw_fault(f->kind)) {
			snprintf(err, errlen, "'%s' is only a [[mock:...]] "
			    "directive, on the raw port (--raw-port-file)",
			    tok[0]);
			return false;
		}
	}
	if (val != NULL) {
		/* Only "sleep=MS" carries a value in the kind itself. */
		if (f->kind != F_SLEEP || !num_ok(val, 0, 3600000, &f->ms)) {
			snprintf(err, errlen, "bad value in '%s=%s' (only "
			    "sleep=MS, MS in [0, 3600000])", tok[0], val);
			return false;
		}
	}

	i = 1;
	if (with_rate) {
		if (nt < 2 || !dbl_ok(tok[1], 0, 1, &f->rate)) {
			snprintf(err, errlen, "rate '%s' is not a number in "
			    "[0, 1]", nt < 2 ? "" : tok[1]);
			return false;
		}
		i = 2;
	}
	for (; i < nt; i++) {
		const char *name = tok[i];

		if ((val = strchr(tok[i], '=')) != NULL)
			*val++ = '\0';
		if (strcmp(name, "crlf") == 0 && val == NULL)
			f->crlf = true;
		else if (strcmp(name, "comments") == 0 && val == NULL)
			f->comments = true;
		else if (strcmp(name, "noctype") == 0 && val == NULL)
			f->noctype = true;
		else if (val == NULL) {
			snprintf(err, errlen, "option '%s' needs a value",
			    name);
			return false;
		} else if (strcmp(name, "times") == 0) {
			if (!num_ok(val, 0, 1000000000, &f->times))
				goto badnum;
		} else if (strcmp(name, "after") == 0) {
			if (!num_ok(val, 0, 1000000, &f->after))
				goto badnum;
		} else if (strcmp(name, "ms") == 0) {
			if (!num_ok(val, 0, 3600000, &f->ms))
				goto badnum;
		} else if (strcmp(name, "retry-after") == 0) {
			double d;

			if (!dbl_ok(val, 0, 1e6, &d) ||
			    strlen(val) >= sizeof f->retry_after)
				goto badnum;
			memcpy(f->retry_after, val, strlen(val) + 1);
		} else if (strcmp(name, "retry-after-date") == 0) {
			if (!num_ok(val, 0, 10000000, &f->retry_after_date))
				goto badnum;
		} else if (strcmp(name, "retry-after-ms") == 0) {
			if (!num_ok(val, 0, 1000000000, &f->retry_after_ms))
				goto badnum;
		} else if (strcmp(name, "request-id") == 0) {
			if (strcmp(val, "badutf8") == 0)
				f->request_id = 1;
			else if (strcmp(val, "none") == 0)
				f->request_id = 2;
			else
				goto badnum;
		} else if (strcmp(name, "should-retry") == 0) {
			if (strcmp(val, "true") == 0)
				f->should_retry = 1;
			else if (strcmp(val, "false") == 0)
				f->should_retry = 0;
			else
				goto badnum;
		} else if (strcmp(name, "code") == 0 ||
		    strcmp(name, "type") == 0) {
			char *dst = name[0] == 'c' ? f->code : f->type;

			if (*val == '\0' || strlen(val) >= sizeof f->code) {
				snprintf(err, errlen, "%s must be 1-63 "
				    "characters", name);
				return false;
			}
			memcpy(dst, val, strlen(val) + 1);
		} else if (strcmp(name, "body") == 0) {
			if (strcmp(val, "nonjson") == 0 ||
			    strcmp(val, "html") == 0)
				f->html_body = true;
			else if (strcmp(val, "json") == 0)
				f->html_body = false;
			else
				goto badnum;
		} else {
			snprintf(err, errlen, "unknown option '%s'", name);
			return false;
		}
		continue;
badnum:
		snprintf(err, errlen, "bad value '%s' for option '%s'", val,
		    name);
		return false;
	}
	if (f->kind == F_SLEEP && f->ms < 0) {
		snprintf(err, errlen, "sleep needs a duration (sleep=MS)");
		return false;
	}
	return true;
}

/*
 * Look for a [[mock:SPEC]] directive in a key.  Returns 1 and fills f if
 * one is found, 0 if none, -1 (message in err) if it is malformed: a
 * typo in a test should fail loudly, not silently succeed.
 */
static int
directive(const char *key, size_t len, struct fault *f, char *err,
    size_t errlen)
{
	static const char open[] = "[[mock:";
	const char *s, *e;
	char spec[256], why[200];

	if ((s = find(key, len, open, sizeof open - 1)) == NULL)
		return 0;
	s += sizeof open - 1;
	if ((e = find(s, len - (size_t)(s - key), "]]", 2)) == NULL) {
		snprintf(err, errlen, "mock: unterminated [[mock: directive");
		return -1;
	}
	if ((size_t)(e - s) >= sizeof spec ||
	    memchr(s, '\0', (size_t)(e - s)) != NULL) {
		snprintf(err, errlen, "mock: directive too long");
		return -1;
	}
	memcpy(spec, s, (size_t)(e - s));
	spec[e - s] = '\0';
	if (!parse_fault(spec, false, f, why, sizeof why)) {
		snprintf(err, errlen, "mock: bad directive [[mock:%s]]: %s",
		    spec, why);
		return -1;
	}
	return 1;
}

/* ---- answers ---- */

/*
 * A feed is a body sent piecewise by feed_read(): segments, each sent
 * after its own delay, then an end action.  Streams, truncated bodies and
 * dripped bodies are all feeds.
 */
enum feed_end { END_OK, END_ERROR, END_HANG };

struct seg {
	size_t		end;	/* offset in buf */
	double		delay_ms;
};

struct feed {
	struct sbuf	 buf;
	struct seg	*seg;
	size_t		 nseg, cap;
	uint64_t	 size;	/* Content-Length or MHD_SIZE_UNKNOWN */
	size_t		 i, off;
	bool		 delayed;
	enum feed_end	 end;
	double		 hang_ms;
};

static void
feed_add(struct feed *f, const char *s, size_t n, double delay_ms)
{
	/* An empty segment would make feed_read return 0 ("try again"). */
	if (n == 0)
		return;
	if (f->nseg == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->seg = xrealloc(f->seg, f->cap * sizeof *f->seg);
	}
	sb_add(&f->buf, s, n);
	f->seg[f->nseg].end = f->buf.len;
	f->seg[f->nseg].delay_ms = delay_ms;
	f->nseg++;
}

static void
feed_free(void *cls)
{
	struct feed *f = cls;

	if (f == NULL)
		return;
	sb_free(&f->buf);
	free(f->seg);
	free(f);
}

static ssize_t
feed_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct feed *f = cls;
	struct seg *s;
	size_t n;

	(void)pos;
	if (atomic_load(&g_stop))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (f->i >= f->nseg) {
		if (f->end == END_OK)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (f->end == END_HANG)
			sleep_ms(f->hang_ms);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	s = &f->seg[f->i];
	if (!f->delayed) {
		f->delayed = true;
		if (s->delay_ms > 0 && !sleep_ms(s->delay_ms))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = s->end - f->off;
	if (n > max)
		n = max;
	memcpy(out, f->buf.p + f->off, n);
	f->off += n;
	if (f->off == s->end) {
		f->i++;
		f->delayed = false;
	}
	return (ssize_t)n;
}

struct hdr {
	const char	*name;
	char		 val[160];
};

struct reply {
	unsigned	 status;
	const char	*ctype;
	struct sbuf	 body;
	struct feed	*feed;		/* if set, the body comes from here */
	struct hdr	 h[MAX_HDRS];
	int		 nh;
	bool		 genuine;	/* a real answer, counts as "ok" */
	const char	*tag;		/* fault or rate limit, for the log */
};

static void add_hdr(struct reply *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
add_hdr(struct reply *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (r->nh == MAX_HDRS)
		return;
	r->h[r->nh].name = name;
	va_start(ap, fmt);
	vsnprintf(r->h[r->nh].val, sizeof r->h[r->nh].val, fmt, ap);
	va_end(ap);
	r->nh++;
}

/* request-id=badutf8: x-request-id with bytes that are not UTF-8;
 * request-id=none: no x-request-id. */
static void
set_request_id(struct reply *r, int how)
{
	int i;

	for (i = 0; i < r->nh; i++) {
		if (strcmp(r->h[i].name, "x-request-id") != 0)
			continue;
		if (how == 1) {
			snprintf(r->h[i].val, sizeof r->h[i].val,
			    "req_\xff\xfe\xc3(bad");
		} else {
			r->h[i] = r->h[r->nh - 1];
			r->nh--;
		}
		return;
	}
}

static void
err_json(struct sbuf *b, const char *msg, const char *type,
    const char *param, const char *code)
{
	json_object *o = json_object_new_object(), *e;

	e = json_object_new_object();
	jadd(e, "message", json_object_new_string(msg));
	jadd(e, "type", json_object_new_string(type));
	jadd(e, "param", param ? json_object_new_string(param) : NULL);
	jadd(e, "code", code ? json_object_new_string(code) : NULL);
	jadd(o, "error", e);
	jemit(o, b);
}

static void
reply_error(struct reply *r, unsigned status, const char *msg,
    const char *type, const char *param, const char *code)
{
	r->status = status;
	r->ctype = "application/json";
	r->body.len = 0;
	err_json(&r->body, msg, type, param, code);
	r->genuine = false;
}

static void
reply_html(struct reply *r, unsigned status, const char *title)
{
	r->status = status;
	r->ctype = "text/html; charset=utf-8";
	r->body.len = 0;
	sb_printf(&r->body, "<html>\r\n<head><title>%s</title></head>\r\n"
	    "<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx"
	    "</center>\r\n</body>\r\n</html>\r\n", title, title);
	r->genuine = false;
}

/* Go's time.Duration.String() at millisecond resolution: 12ms 1.5s 6m0s */
static void
go_dur(double sec, char *buf, size_t len)
{
	long long ms = (long long)ceil(sec * 1000 - 1e-6), h, m, s, frac;
	char fs[8] = "";
	int i;

	if (ms <= 0) {
		snprintf(buf, len, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, len, "%lldms", ms);
		return;
	}
	h = ms / 3600000;
	m = ms / 60000 % 60;
	s = ms / 1000 % 60;
	frac = ms % 1000;
	if (frac) {
		snprintf(fs, sizeof fs, ".%03lld", frac);
		for (i = 3; fs[i] == '0'; i--)
			fs[i] = '\0';
	}
	if (h)
		snprintf(buf, len, "%lldh%lldm%lld%ss", h, m, s, fs);
	else if (m)
		snprintf(buf, len, "%lldm%lld%ss", m, s, fs);
	else
		snprintf(buf, len, "%lld%ss", s, fs);
}

static const char *
status_text(unsigned s)
{
	switch (s) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return s >= 500 ? "Server Error" : "Client Error";
	}
}

/* An injected HTTP error, shaped like OpenAI's. */
static void
http_fault(const struct fault *f, struct reply *r)
{
	const char *code = f->code[0] ? f->code : NULL, *type, *msg;
	unsigned s = f->status;
	char buf[200], date[64];
	struct tm tm;
	time_t t;

	if (code == NULL && s == 429)
		code = "rate_limit_exceeded";
	if (code == NULL && s == 401)
		code = "invalid_api_key";
	if (f->type[0])
		type = f->type;
	else if (s == 429)
		type = code && strcmp(code, "insufficient_quota") == 0 ?
		    "insufficient_quota" : "requests";
	else
		type = s >= 500 ? "server_error" : "invalid_request_error";

	if (code && strcmp(code, "insufficient_quota") == 0)
		msg = "You exceeded your current quota, please check your "
		    "plan and billing details.";
	else if (s == 429)
		msg = "Rate limit reached for requests (mock). Please try "
		    "again in 1s.";
	else if (s == 401)
		msg = "Incorrect API key provided";
	else if (s == 500)
		msg = "The server had an error while processing your "
		    "request. Sorry about that!";
	else if (s == 503)
		msg = "The engine is currently overloaded, please try again "
		    "later.";
	else {
		snprintf(buf, sizeof buf, "mock: injected HTTP %u %s", s,
		    status_text(s));
		msg = buf;
	}
	if (f->html_body) {
		snprintf(buf, sizeof buf, "%u %s", s, status_text(s));
		reply_html(r, s, buf);
	} else
		reply_error(r, s, msg, type, NULL, code);

	if (f->retry_after[0])
		add_hdr(r, "retry-after", "%s", f->retry_after);
	if (f->retry_after_date >= 0) {
		t = time(NULL) + (time_t)f->retry_after_date;
		gmtime_r(&t, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		add_hdr(r, "retry-after", "%s", date);
	}
	if (f->retry_after_ms >= 0)
		add_hdr(r, "retry-after-ms", "%lld", f->retry_after_ms);
	if (f->should_retry >= 0)
		add_hdr(r, "x-should-retry", "%s",
		    f->should_retry ? "true" : "false");
}

/* ---- parsing requests ---- */

enum route {
	RT_CHAT, RT_COMPL, RT_EMB, RT_RESP, RT_MOD, RT_MODELS, RT_STATS,
	RT_RESET, RT_FILES, RT_BATCHES, RT_UNKNOWN
};

/* Whether url has the path segment seg ("/files"), ended by '/' or its
 * end: the Files and Batches endpoints (batches.c). */
static bool
has_segment(const char *url, const char *seg)
{
	const char *p = strstr(url, seg);

	return p != NULL && (p[strlen(seg)] == '\0' || p[strlen(seg)] == '/');
}

static enum route
route(const char *url)
{
	if (strcmp(url, "/stats") == 0)
		return RT_STATS;
	if (strcmp(url, "/reset") == 0)
		return RT_RESET;
	if (ends_with(url, "/chat/completions"))
		return RT_CHAT;
	if (ends_with(url, "/completions"))
		return RT_COMPL;
	if (ends_with(url, "/embeddings"))
		return RT_EMB;
	if (ends_with(url, "/responses"))
		return RT_RESP;
	if (ends_with(url, "/moderations"))
		return RT_MOD;
	if (ends_with(url, "/models"))
		return RT_MODELS;
	if (has_segment(url, "/files"))
		return RT_FILES;
	if (has_segment(url, "/batches"))
		return RT_BATCHES;
	return RT_UNKNOWN;
}

/* What we understood of an API request. */
struct call {
	enum route	 rt;
	const char	*model;
	struct sbuf	 key;
	size_t		 prompt_bytes;
	long long	 max_tokens;	/* -1: none given */
	long long	 n;
	bool		 stream;
	bool		 include_usage;
	json_object	*input;		/* embeddings input */
	long long	 dims;
	bool		 base64;
	uint64_t	 kh;
};

/* A call understood of nothing yet: route rt, the defaults. */
static void
call_init(struct call *k, enum route rt)
{
	memset(k, 0, sizeof *k);
	k->rt = rt;
	k->max_tokens = -1;
	k->n = 1;
	k->model = "mock-model";
}

static json_object *
jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o != NULL && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, k, &v))
		return v;
	return NULL;
}

static void
jtext(json_object *o, struct sbuf *b)
{
	const char *s;
	size_t n;

	s = json_object_to_json_string_length(o, JSON_FLAGS, &n);
	sb_add(b, s, n);
}

/* The text of a chat message's content: a string or an array of parts. */
static void
content_text(json_object *c, struct sbuf *out)
{
	json_object *part, *type, *text;
	size_t i, n;

	sb_add(out, "", 0);
	if (json_object_is_type(c, json_type_string)) {
		sb_add(out, json_object_get_string(c),
		    (size_t)json_object_get_string_len(c));
		return;
	}
	if (!json_object_is_type(c, json_type_array))
		return;
	n = json_object_array_length(c);
	for (i = 0; i < n; i++) {
		part = json_object_array_get_idx(c, i);
		type = jget(part, "type");
		text = jget(part, "text");
		if (json_object_is_type(type, json_type_string) &&
		    (strcmp(json_object_get_string(type), "text") == 0 ||
		    strcmp(json_object_get_string(type), "input_text") == 0) &&
		    json_object_is_type(text, json_type_string))
			sb_add(out, json_object_get_string(text),
			    (size_t)json_object_get_string_len(text));
	}
}

static bool
get_count(json_object *root, const char *name, long long lo, long long hi,
    long long *out, char *err, size_t errlen, const char **param)
{
	json_object *v = jget(root, name);

	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < lo || json_object_get_int64(v) > hi) {
		snprintf(err, errlen, "Invalid '%s': expected an integer in "
		    "[%lld, %lld].", name, lo, hi);
		*param = name;
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

/*
 * Fill k from the request body.  The key is extracted first so that even
 * a request rejected for a bad parameter is counted under its key.
 */
static bool
extract(json_object *root, struct call *k, char *err, size_t errlen,
    const char **param)
{
	json_object *v, *m;
	struct sbuf t;
	size_t i, n;
	bool user = false;

	switch (k->rt) {
	case RT_CHAT:
		v = jget(root, "messages");
		if (!json_object_is_type(v, json_type_array)) {
			snprintf(err, errlen, "Missing required parameter: "
			    "'messages'.");
			*param = "messages";
			return false;
		}
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			m = json_object_array_get_idx(v, i);
			memset(&t, 0, sizeof t);
			content_text(jget(m, "content"), &t);
			k->prompt_bytes += t.len;
			if (json_object_is_type(jget(m, "role"),
			    json_type_string) && strcmp(json_object_get_string(
			    jget(m, "role")), "user") == 0) {
				sb_free(&k->key);
				k->key = t;
				user = true;
			} else
				sb_free(&t);
		}
		if (!user)
			sb_add(&k->key, "", 0);
		break;
	case RT_COMPL:
	case RT_RESP:
	case RT_EMB:
	case RT_MOD:
		v = jget(root, k->rt == RT_COMPL ? "prompt" : "input");
		if (json_object_is_type(v, json_type_string))
			sb_add(&k->key, json_object_get_string(v),
			    (size_t)json_object_get_string_len(v));
		else if (v != NULL)
			jtext(v, &k->key);
		else
			sb_add(&k->key, "", 0);
		k->prompt_bytes = k->key.len;
		if (k->rt == RT_EMB || k->rt == RT_MOD) {
			k->input = v;
			if (v == NULL) {
				snprintf(err, errlen, "Missing required "
				    "parameter: 'input'.");
				*param = "input";
				return false;
			}
		}
		break;
	default:
		break;
	}

	if ((v = jget(root, "model")) != NULL &&
	    json_object_is_type(v, json_type_string))
		k->model = json_object_get_string(v);
	v = jget(root, "stream");
	k->stream = k->rt != RT_EMB && k->rt != RT_MOD && json_object_is_type(v,
	    json_type_boolean) && json_object_get_boolean(v);
	v = jget(jget(root, "stream_options"), "include_usage");
	k->include_usage = json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);

	switch (k->rt) {
	case RT_CHAT:
		if (!get_count(root, "max_tokens", 0, INT_MAX, &k->max_tokens,
		    err, errlen, param) ||
		    !get_count(root, "max_completion_tokens", 0, INT_MAX,
		    &k->max_tokens, err, errlen, param))
			return false;
		/* FALLTHROUGH */
	case RT_COMPL:
		if ((k->rt == RT_COMPL && !get_count(root, "max_tokens", 0,
		    INT_MAX, &k->max_tokens, err, errlen, param)) ||
		    !get_count(root, "n", 1, MAX_N, &k->n, err, errlen, param))
			return false;
		break;
	case RT_RESP:
		return get_count(root, "max_output_tokens", 0, INT_MAX,
		    &k->max_tokens, err, errlen, param);
	case RT_EMB:
		if (!get_count(root, "dimensions", 1, MAX_DIMS, &k->dims, err,
		    errlen, param))
			return false;
		v = jget(root, "encoding_format");
		if (v != NULL && (!json_object_is_type(v, json_type_string) ||
		    (strcmp(json_object_get_string(v), "float") != 0 &&
		    strcmp(json_object_get_string(v), "base64") != 0))) {
			snprintf(err, errlen, "Invalid 'encoding_format': "
			    "expected 'float' or 'base64'.");
			*param = "encoding_format";
			return false;
		}
		k->base64 = v != NULL &&
		    strcmp(json_object_get_string(v), "base64") == 0;
		break;
	default:
		break;
	}
	return true;
}

static json_object *
parse_body(const char *body, size_t len)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;

	if (len == 0 || len > INT_MAX)
		return NULL;
	if ((tok = json_tokener_new_ex(64)) == NULL)
		die("out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success)
		for (; end < len; end++)
			if (strchr(" \t\r\n", body[end]) == NULL ||
			    body[end] == '\0') {
				json_object_put(o);
				o = NULL;
				break;
			}
	json_tokener_free(tok);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* ---- successful answers ---- */

static long long
ptoks(size_t bytes)
{
	return (long long)((bytes + 3) / 4) + 1;
}

static long long
ctoks(size_t bytes)
{
	long long c = (long long)((bytes + 3) / 4);

	return c < 1 ? 1 : c;
}

/* "echo: <key>", cut to max_tokens*4 bytes on a UTF-8 boundary. */
static void
make_content(const struct call *k, struct sbuf *out, long long *ctok,
    const char **finish)
{
	size_t cut;

	sb_adds(out, "echo: ");
	sb_add(out, k->key.p, k->key.len);
	*ctok = ctoks(out->len);
	*finish = "stop";
	if (k->max_tokens >= 0 && k->max_tokens < *ctok) {
		cut = (size_t)k->max_tokens * 4;
		if (cut > out->len)
			cut = out->len;
		while (cut > 0 && cut < out->len &&
		    ((unsigned char)out->p[cut] & 0xC0) == 0x80)
			cut--;
		out->len = cut;
		out->p[cut] = '\0';
		*ctok = k->max_tokens;
		*finish = "length";
	}
}

static void
hex_id(char *buf, size_t len, const char *prefix, uint64_t h)
{
	snprintf(buf, len, "%s%016" PRIx64, prefix, h);
}

static json_object *
base_obj(const struct call *k, const char *idprefix, const char *object)
{
	json_object *o = json_object_new_object();
	char id[64];

	hex_id(id, sizeof id, idprefix, khash(k->kh, P_ID));
	jadd(o, "id", json_object_new_string(id));
	jadd(o, "object", json_object_new_string(object));
	jadd(o, "created", jint(CREATED));
	jadd(o, "model", json_object_new_string(k->model));
	return o;
}

static json_object *
usage_obj(long long p, long long c, bool responses)
{
	json_object *u = json_object_new_object();

	jadd(u, responses ? "input_tokens" : "prompt_tokens", jint(p));
	jadd(u, responses ? "output_tokens" : "completion_tokens", jint(c));
	jadd(u, "total_tokens", jint(p + c));
	return u;
}

static json_object *
jstrn(const char *s, size_t n)
{
	return json_object_new_string_len(s, (int)n);
}

static json_object *
resp_obj(const struct call *k, const struct sbuf *text, long long ctok,
    const char *finish, bool done)
{
	json_object *o = json_object_new_object(), *out, *m, *parts, *p, *d;
	char id[64];

	hex_id(id, sizeof id, "resp_mock_", khash(k->kh, P_ID));
	jadd(o, "id", json_object_new_string(id));
	jadd(o, "object", json_object_new_string("response"));
	jadd(o, "created_at", jint(CREATED));
	jadd(o, "status", json_object_new_string(!done ? "in_progress" :
	    strcmp(finish, "length") == 0 ? "incomplete" : "completed"));
	d = NULL;
	if (done && strcmp(finish, "length") == 0) {
		d = json_object_new_object();
		jadd(d, "reason", json_object_new_string("max_output_tokens"));
	}
	jadd(o, "incomplete_details", d);
	jadd(o, "model", json_object_new_string(k->model));
	out = json_object_new_array();
	if (done) {
		m = json_object_new_object();
		jadd(m, "type", json_object_new_string("message"));
		hex_id(id, sizeof id, "msg_mock_", khash(k->kh, P_MSGID));
		jadd(m, "id", json_object_new_string(id));
		jadd(m, "status", json_object_new_string("completed"));
		jadd(m, "role", json_object_new_string("assistant"));
		parts = json_object_new_array();
		p = json_object_new_object();
		jadd(p, "type", json_object_new_string("output_text"));
		jadd(p, "text", jstrn(text->p, text->len));
		jadd(p, "annotations", json_object_new_array());
		json_object_array_add(parts, p);
		jadd(m, "content", parts);
		json_object_array_add(out, m);
	}
	jadd(o, "output", out);
	jadd(o, "usage", done ? usage_obj(ptoks(k->prompt_bytes), ctok, true) :
	    NULL);
	return o;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_object *
embedding(const struct call *k, const char *s, size_t n, size_t index)
{
	json_object *o = json_object_new_object(), *vec;
	long long dims = k->dims > 0 ? k->dims : 8, i;
	unsigned char *raw = NULL;
	struct sbuf enc = { 0 };
	uint64_t h = fnv1a(s, n);
	char num[32];
	uint32_t u;
	double x;
	float fl;
	size_t j;

	jadd(o, "object", json_object_new_string("embedding"));
	jadd(o, "index", jint((long long)index));
	vec = k->base64 ? NULL : json_object_new_array();
	if (k->base64)
		raw = xmalloc((size_t)dims * 4);
	for (i = 0; i < dims; i++) {
		x = round((unit(khash(h ^ (uint64_t)i * 0x9e3779b97f4a7c15ULL,
		    P_EMB)) * 2 - 1) * 1e6) / 1e6;
		if (raw != NULL) {
			/* float32 little-endian, as the real API encodes */
			fl = (float)x;
			memcpy(&u, &fl, 4);
			raw[i * 4] = (unsigned char)u;
			raw[i * 4 + 1] = (unsigned char)(u >> 8);
			raw[i * 4 + 2] = (unsigned char)(u >> 16);
			raw[i * 4 + 3] = (unsigned char)(u >> 24);
		} else {
			snprintf(num, sizeof num, "%.6f", x);
			json_object_array_add(vec,
			    json_object_new_double_s(x, num));
		}
	}
	if (raw != NULL) {
		for (j = 0; j < (size_t)dims * 4; j += 3) {
			char q[4];
			uint32_t w = (uint32_t)raw[j] << 16;

			if (j + 1 < (size_t)dims * 4)
				w |= (uint32_t)raw[j + 1] << 8;
			if (j + 2 < (size_t)dims * 4)
				w |= raw[j + 2];
			q[0] = b64[w >> 18 & 63];
			q[1] = b64[w >> 12 & 63];
			q[2] = j + 1 < (size_t)dims * 4 ? b64[w >> 6 & 63] : '=';
			q[3] = j + 2 < (size_t)dims * 4 ? b64[w & 63] : '=';
			sb_add(&enc, q, 4);
		}
		vec = jstrn(enc.p, enc.len);
		sb_free(&enc);
		free(raw);
	}
	jadd(o, "embedding", vec);
	return o;
}

static void
embeddings_body(const struct call *k, struct sbuf *b)
{
	json_object *o = json_object_new_object(), *data, *el, *u;
	struct sbuf t = { 0 };
	size_t i, n;
	bool each = false;

	data = json_object_new_array();
	/* An array of strings (or of token arrays) is a batch of inputs. */
	if (json_object_is_type(k->input, json_type_array) &&
	    (n = json_object_array_length(k->input)) > 0) {
		each = true;
		for (i = 0; i < n; i++) {
			el = json_object_array_get_idx(k->input, i);
			if (!json_object_is_type(el, json_type_string) &&
			    !json_object_is_type(el, json_type_array))
				each = false;
		}
	}
	if (each) {
		for (i = 0; i < json_object_array_length(k->input); i++) {
			el = json_object_array_get_idx(k->input, i);
			t.len = 0;
			if (json_object_is_type(el, json_type_string))
				sb_add(&t, json_object_get_string(el),
				    (size_t)json_object_get_string_len(el));
			else
				jtext(el, &t);
			json_object_array_add(data, embedding(k, t.p, t.len,
			    i));
		}
		sb_free(&t);
	} else
		json_object_array_add(data, embedding(k, k->key.p, k->key.len,
		    0));
	jadd(o, "object", json_object_new_string("list"));
	jadd(o, "data", data);
	jadd(o, "model", json_object_new_string(k->model));
	u = json_object_new_object();
	jadd(u, "prompt_tokens", jint(ptoks(k->prompt_bytes)));
	jadd(u, "total_tokens", jint(ptoks(k->prompt_bytes)));
	jadd(o, "usage", u);
	jemit(o, b);
}

/* /moderations: one result, never flagged. */
static void
moderations_body(const struct call *k, struct sbuf *b)
{
	json_object *o = json_object_new_object(), *res, *r, *cat, *sc;
	char id[64];

	hex_id(id, sizeof id, "modr-mock-", khash(k->kh, P_ID));
	jadd(o, "id", json_object_new_string(id));
	jadd(o, "model", json_object_new_string(k->model));
	res = json_object_new_array();
	r = json_object_new_object();
	cat = json_object_new_object();
	sc = json_object_new_object();
	jadd(cat, "violence", json_object_new_boolean(0));
	jadd(sc, "violence", json_object_new_double_s(0, "0.0"));
	jadd(r, "flagged", json_object_new_boolean(0));
	jadd(r, "categories", cat);
	jadd(r, "category_scores", sc);
	json_object_array_add(res, r);
	jadd(o, "results", res);
	jemit(o, b);
}

static void
plain_body(const struct call *k, const struct sbuf *text, long long ctok,
    const char *fin, struct sbuf *b)
{
	json_object *o, *choices, *c, *m;
	long long i;

	if (k->rt == RT_MOD) {
		moderations_body(k, b);
		return;
	}
	if (k->rt == RT_RESP) {
		jemit(resp_obj(k, text, ctok, fin, true), b);
		return;
	}
	if (k->rt == RT_EMB) {
		embeddings_body(k, b);
		return;
	}
	if (k->rt == RT_CHAT)
		o = base_obj(k, "chatcmpl-mock-", "chat.completion");
	else
		o = base_obj(k, "cmpl-mock-", "text_completion");
	choices = json_object_new_array();
	for (i = 0; i < k->n; i++) {
		c = json_object_new_object();
		if (k->rt == RT_CHAT) {
			jadd(c, "index", jint(i));
			m = json_object_new_object();
			jadd(m, "role", json_object_new_string("assistant"));
			jadd(m, "content", jstrn(text->p, text->len));
			jadd(m, "refusal", NULL);
			jadd(c, "message", m);
		} else {
			jadd(c, "text", jstrn(text->p, text->len));
			jadd(c, "index", jint(i));
		}
		jadd(c, "logprobs", NULL);
		jadd(c, "finish_reason", json_object_new_string(fin));
		json_object_array_add(choices, c);
	}
	jadd(o, "choices", choices);
	jadd(o, "usage", usage_obj(ptoks(k->prompt_bytes), ctok * k->n,
	    false));
	jemit(o, b);
}

/* Server-sent events, built up front and then fed out over time. */
struct ev {
	struct sbuf	txt;
	size_t		js, jl;	/* where the JSON payload sits in txt */
};

struct evlist {
	struct ev	*v;
	size_t		 n, cap;
	const char	*eol;
};

static void
ev_raw(struct evlist *l, const char *event, const char *data, size_t dlen)
{
	struct ev *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof *e);
	if (event != NULL)
		sb_printf(&e->txt, "event: %s%s", event, l->eol);
	sb_adds(&e->txt, "data: ");
	e->js = e->txt.len;
	sb_add(&e->txt, data, dlen);
	e->jl = e->txt.len - e->js;
	sb_adds(&e->txt, l->eol);
	sb_adds(&e->txt, l->eol);
}

static void
ev_json(struct evlist *l, const char *event, json_object *o)
{
	const char *s;
	size_t n;

	s = json_object_to_json_string_length(o, JSON_FLAGS, &n);
	ev_raw(l, event, s, n);
	json_object_put(o);
}

static void
evlist_free(struct evlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		sb_free(&l->v[i].txt);
	free(l->v);
}

/* Next piece end: about want bytes, never splitting a UTF-8 sequence. */
static size_t
piece_end(const struct sbuf *t, size_t at, size_t want)
{
	size_t e = at + want;

	if (e >= t->len)
		return t->len;
	while (e < t->len && ((unsigned char)t->p[e] & 0xC0) == 0x80)
		e++;
	return e;
}

static json_object *
chunk_obj(const struct call *k, json_object *choice)
{
	json_object *o, *cs = json_object_new_array();

	if (k->rt == RT_CHAT)
		o = base_obj(k, "chatcmpl-mock-", "chat.completion.chunk");
	else
		o = base_obj(k, "cmpl-mock-", "text_completion");
	if (choice != NULL)
		json_object_array_add(cs, choice);
	jadd(o, "choices", cs);
	if (k->include_usage)
		jadd(o, "usage", NULL);
	return o;
}

static json_object *
chunk_choice(const struct call *k, long long idx, const char *role,
    const char *s, size_t n, const char *fin)
{
	json_object *c = json_object_new_object(), *d;

	if (k->rt == RT_CHAT) {
		jadd(c, "index", jint(idx));
		d = json_object_new_object();
		if (role != NULL)
			jadd(d, "role", json_object_new_string(role));
		if (s != NULL)
			jadd(d, "content", jstrn(s, n));
		jadd(c, "delta", d);
	} else {
		jadd(c, "text", jstrn(s ? s : "", s ? n : 0));
		jadd(c, "index", jint(idx));
	}
	jadd(c, "logprobs", NULL);
	jadd(c, "finish_reason", fin ? json_object_new_string(fin) : NULL);
	return c;
}

static void
stream_events(const struct call *k, const struct sbuf *text, long long ctok,
    const char *fin, struct evlist *l)
{
	json_object *o, *u;
	size_t at, e, step = (size_t)cfg.chunk_bytes;
	long long i, seq = 0;
	char id[64];

	if (k->rt == RT_RESP) {
		hex_id(id, sizeof id, "msg_mock_", khash(k->kh, P_MSGID));
		o = json_object_new_object();
		jadd(o, "type", json_object_new_string("response.created"));
		jadd(o, "sequence_number", jint(seq++));
		jadd(o, "response", resp_obj(k, text, ctok, fin, false));
		ev_json(l, "response.created", o);
		for (at = 0; at < text->len; at = e) {
			e = piece_end(text, at, step);
			o = json_object_new_object();
			jadd(o, "type", json_object_new_string(
			    "response.output_text.delta"));
			jadd(o, "sequence_number", jint(seq++));
			jadd(o, "item_id", json_object_new_string(id));
			jadd(o, "output_index", jint(0));
			jadd(o, "content_index", jint(0));
			jadd(o, "delta", jstrn(text->p + at, e - at));
			ev_json(l, "response.output_text.delta", o);
		}
		o = json_object_new_object();
		jadd(o, "type", json_object_new_string(
		    "response.output_text.done"));
		jadd(o, "sequence_number", jint(seq++));
		jadd(o, "item_id", json_object_new_string(id));
		jadd(o, "output_index", jint(0));
		jadd(o, "content_index", jint(0));
		jadd(o, "text", jstrn(text->p, text->len));
		ev_json(l, "response.output_text.done", o);
		o = json_object_new_object();
		jadd(o, "type", json_object_new_string("response.completed"));
		jadd(o, "sequence_number", jint(seq++));
		jadd(o, "response", resp_obj(k, text, ctok, fin, true));
		ev_json(l, "response.completed", o);
		return;
	}

	for (i = 0; i < k->n; i++) {
		if (k->rt == RT_CHAT)
			ev_json(l, NULL, chunk_obj(k, chunk_choice(k, i,
			    "assistant", "", 0, NULL)));
		for (at = 0; at < text->len; at = e) {
			e = piece_end(text, at, step);
			ev_json(l, NULL, chunk_obj(k, chunk_choice(k, i, NULL,
			    text->p + at, e - at, NULL)));
		}
		ev_json(l, NULL, chunk_obj(k, chunk_choice(k, i, NULL, NULL, 0,
		    fin)));
	}
	if (k->include_usage) {
		o = chunk_obj(k, NULL);
		u = usage_obj(ptoks(k->prompt_bytes), ctok * k->n, false);
		jadd(o, "usage", u);
		ev_json(l, NULL, o);
	}
	ev_raw(l, NULL, "[DONE]", 6);
}

static long long
hang_ms(const struct fault *f)
{
	long long cap = cfg.hang * 1000;

	return f != NULL && f->ms >= 0 && f->ms < cap ? f->ms : cap;
}

/* error-line: the status it stands for, code=NNN or 400. */
static unsigned
error_line_status(const struct fault *f)
{
	long long v;

	return f->code[0] && num_ok(f->code, 400, 599, &v) ? (unsigned)v : 400;
}

/* error-line: llama-server's error object, {"code":N,"message","type"}. */
static void
error_line_json(const struct fault *f, struct sbuf *b)
{
	json_object *e = json_object_new_object();
	unsigned s = error_line_status(f);

	jadd(e, "code", jint(s));
	jadd(e, "message", json_object_new_string("mock: the request exceeds "
	    "the available context size, try increasing it"));
	jadd(e, "type", json_object_new_string(f->type[0] ? f->type :
	    s >= 500 ? "server_error" : "invalid_request_error"));
	jemit(e, b);
}

/* Turn events into a feed, applying stream faults and pacing. */
static struct feed *
stream_feed(struct evlist *l, const struct fault *f, bool comments)
{
	struct feed *fd = xcalloc(1, sizeof *fd);
	enum fkind kind = f ? f->kind : F_NONE;
	size_t after, i, half;
	struct sbuf cmt = { 0 }, err = { 0 };
	double d;

	fd->size = MHD_SIZE_UNKNOWN;
	fd->end = END_OK;
	sb_printf(&cmt, ": keep-alive%s%s", l->eol, l->eol);
	if (kind == F_RESET_BODY && (f->after < 0))
		after = l->n / 2;
	else
		after = f && f->after >= 0 ? (size_t)f->after :
		    kind == F_ERROR_LINE ? 0 : 1;
	for (i = 0; i < l->n; i++) {
		if (i == after && (kind == F_STALL || kind == F_SSE_CUT ||
		    kind == F_SSE_ERROR || kind == F_RESET_BODY ||
		    kind == F_ERROR_LINE)) {
			if (kind == F_ERROR_LINE) {
				/* llama-server's way: an "error:" line, not
				 * "data:", with the error object itself. */
				sb_adds(&err, "error: ");
				error_line_json(f, &err);
				sb_adds(&err, l->eol);
				sb_adds(&err, l->eol);
				feed_add(fd, err.p, err.len,
				    (double)cfg.chunk_delay);
			} else if (kind == F_STALL) {
				fd->end = END_HANG;
				fd->hang_ms = (double)hang_ms(f);
			} else if (kind == F_RESET_BODY)
				fd->end = END_ERROR;
			else if (kind == F_SSE_ERROR) {
				/* type= and code= pick the error, e.g. one
				 * that is not transient. */
				err_json(&err, f->type[0] ? "mock: injected "
				    "stream error" : "The server had an error "
				    "while processing your request. Sorry "
				    "about that!", f->type[0] ? f->type :
				    "server_error", NULL,
				    f->code[0] ? f->code : NULL);
				ev_raw(l, NULL, err.p, err.len);
				feed_add(fd, l->v[l->n - 1].txt.p,
				    l->v[l->n - 1].txt.len,
				    (double)cfg.chunk_delay);
			}
			break;
		}
		d = i == 0 ? 0 : (double)cfg.chunk_delay;
		if (comments && i > 0) {
			/* Mid-gap, like a proxy's keep-alive would be. */
			feed_add(fd, cmt.p, cmt.len, d / 2);
			d /= 2;
		}
		if (kind == F_BADJSON && i == after) {
			half = l->v[i].js + l->v[i].jl / 2;
			feed_add(fd, l->v[i].txt.p, half, d);
			feed_add(fd, l->eol, strlen(l->eol), 0);
			feed_add(fd, l->eol, strlen(l->eol), 0);
		} else
			feed_add(fd, l->v[i].txt.p, l->v[i].txt.len, d);
	}
	sb_free(&cmt);
	sb_free(&err);
	return fd;
}

/* The whole of buf, one byte per interval, within the --hang budget. */
static struct feed *
drip_feed(const char *buf, size_t len, uint64_t size, const struct fault *f)
{
	struct feed *fd = xcalloc(1, sizeof *fd);
	double every = f->ms >= 0 ? (double)f->ms : 1000;
	size_t i, n = len;

	if (every > 0 && (double)n > (double)cfg.hang * 1000 / every + 1)
		n = (size_t)((double)cfg.hang * 1000 / every) + 1;
	for (i = 0; i < n; i++)
		feed_add(fd, buf + i, 1, i ? every : 0);
	fd->size = size;
	fd->end = n < len ? END_ERROR : END_OK;
	return fd;
}

static void
build_answer(const struct call *k, const struct fault *f, struct reply *r)
{
	enum fkind kind = f ? f->kind : F_NONE;
	struct sbuf text = { 0 };
	struct evlist l = { 0 };
	const char *fin;
	long long ctok;
	struct feed *fd;

	make_content(k, &text, &ctok, &fin);
	r->status = 200;
	r->genuine = kind != F_BADJSON && kind != F_RESET_BODY &&
	    kind != F_BADUTF8 && kind != F_NULBODY && kind != F_DEEP &&
	    !is_stream_fault(kind);
	if (k->stream) {
		l.eol = cfg.sse_crlf || (f && f->crlf) ? "\r\n" : "\n";
		stream_events(k, &text, ctok, fin, &l);
		/* Some servers send a stream with no content type. */
		r->ctype = cfg.sse_no_ctype || (f && f->noctype) ? NULL :
		    "text/event-stream; charset=utf-8";
		r->feed = stream_feed(&l, f, cfg.sse_comments ||
		    (f && f->comments));
		if (kind == F_DRIP) {
			fd = drip_feed(r->feed->buf.p, r->feed->buf.len,
			    MHD_SIZE_UNKNOWN, f);
			feed_free(r->feed);
			r->feed = fd;
		}
		evlist_free(&l);
	} else {
		r->ctype = "application/json";
		plain_body(k, &text, ctok, fin, &r->body);
		if (kind == F_BADJSON) {
			r->body.len /= 2;
			r->body.p[r->body.len] = '\0';
		} else if (kind == F_BADUTF8 || kind == F_NULBODY) {
			/* The first letter of the answer's text becomes a
			 * byte no UTF-8 has, or a NUL; the length stays. */
			char *e = strstr(r->body.p, "echo: ");

			if (e != NULL)
				*e = kind == F_BADUTF8 ? '\xff' : '\0';
		} else if (kind == F_DEEP) {
			/* 100,000 arrays deep: valid JSON, hostile nesting. */
			size_t n = 100000;
			char *deep = xcalloc(1, 2 * n);

			memset(deep, '[', n);
			memset(deep + n, ']', n);
			sb_free(&r->body);
			sb_add(&r->body, deep, 2 * n);
			free(deep);
		} else if (kind == F_RESET_BODY) {
			/* Full Content-Length, half the bytes: truncation. */
			fd = xcalloc(1, sizeof *fd);
			feed_add(fd, r->body.p, r->body.len / 2, 0);
			fd->size = r->body.len;
			fd->end = END_ERROR;
			r->feed = fd;
		} else if (kind == F_ARRAY) {
			/* llama-server answers a "prompt" array with an
			 * array of completions. */
			struct sbuf one = r->body;

			memset(&r->body, 0, sizeof r->body);
			sb_printf(&r->body, "[%s,%s]", one.p, one.p);
			sb_free(&one);
		} else if (kind == F_DRIP)
			r->feed = drip_feed(r->body.p, r->body.len,
			    r->body.len, f);
		else if (kind == F_SLOW_BODY) {
			/* The headers now, the body (Content-Length known)
			 * after ms. */
			fd = xcalloc(1, sizeof *fd);
			feed_add(fd, r->body.p, r->body.len,
			    (double)hang_ms(f));
			fd->size = r->body.len;
			fd->end = END_OK;
			r->feed = fd;
		}
	}
	if (k->stream && kind == F_SLOW_BODY && r->feed->nseg > 0)
		r->feed->seg[0].delay_ms += (double)hang_ms(f);
	sb_free(&text);
}

/* ---- rate limits ---- */

static struct rlent *
rl_at(size_t i)
{
	return &rl.v[(rl.head + i) % rl.cap];
}

static void
rl_push(double t, uint64_t tok)
{
	struct rlent *v;
	size_t i;

	if (rl.n == rl.cap) {
		v = xcalloc(rl.cap ? rl.cap * 2 : 64, sizeof *v);
		for (i = 0; i < rl.n; i++)
			v[i] = *rl_at(i);
		free(rl.v);
		rl.v = v;
		rl.head = 0;
		rl.cap = rl.cap ? rl.cap * 2 : 64;
	}
	rl.v[(rl.head + rl.n) % rl.cap].t = t;
	rl.v[(rl.head + rl.n) % rl.cap].tok = tok;
	rl.n++;
	rl.toksum += tok;
}

/*
 * Sliding-window log over the last --rl-window seconds.  Adds the
 * x-ratelimit-* headers to r; if the request is over a limit (and limits
 * are enforced) turns r into a 429 and returns true.
 */
static bool
rl_apply(const struct call *k, struct reply *r)
{
	long long rlim = 0, tlim = 0, remr, remt;
	double t, w = (double)cfg.rl_window, wait = 0, reset;
	uint64_t tok, need, freed, toksum;
	const char *what = NULL;
	char msg[320], dur[32], rdur[32];
	bool limited;
	size_t i, used;

	if (cfg.rpm == 0 && cfg.tpm == 0)
		return false;
	tok = (k->prompt_bytes + 3) / 4 +
	    (k->max_tokens > 0 ? (uint64_t)k->max_tokens : 0);
	if (cfg.rpm) {
		rlim = cfg.rpm * cfg.rl_window / 60;
		if (rlim < 1)
			rlim = 1;
	}
	if (cfg.tpm) {
		tlim = cfg.tpm * cfg.rl_window / 60;
		if (tlim < 1)
			tlim = 1;
	}

	pthread_mutex_lock(&mu);
	t = now_s();
	while (rl.n > 0 && rl_at(0)->t <= t - w) {
		rl.toksum -= rl_at(0)->tok;
		rl.head = (rl.head + 1) % rl.cap;
		rl.n--;
	}
	used = rl.n;
	if (rlim && (long long)rl.n + 1 > rlim) {
		what = "requests";
		wait = rl_at(rl.n - (size_t)rlim)->t + w - t;
	} else if (tlim && rl.toksum + tok > (uint64_t)tlim) {
		what = "tokens";
		if (tok > (uint64_t)tlim)
			wait = w;	/* never fits; say "a window" */
		else {
			need = rl.toksum + tok - (uint64_t)tlim;
			for (freed = 0, i = 0; i + 1 < rl.n; i++)
				if ((freed += rl_at(i)->tok) >= need)
					break;
			wait = rl_at(i)->t + w - t;
		}
	}
	limited = what != NULL && !cfg.rl_headers_only;
	if (!limited)
		rl_push(t, tok);
	else
		st.rate_limited++;
	reset = rl.n ? rl_at(rl.n - 1)->t + w - t : 0;
	remr = rlim - (long long)rl.n;
	remt = tlim - (long long)rl.toksum;
	toksum = rl.toksum;
	pthread_mutex_unlock(&mu);

	go_dur(reset, rdur, sizeof rdur);
	if (rlim) {
		add_hdr(r, "x-ratelimit-limit-requests", "%lld", rlim);
		add_hdr(r, "x-ratelimit-remaining-requests", "%lld",
		    remr < 0 ? 0 : remr);
		add_hdr(r, "x-ratelimit-reset-requests", "%s", rdur);
	}
	if (tlim) {
		add_hdr(r, "x-ratelimit-limit-tokens", "%lld", tlim);
		add_hdr(r, "x-ratelimit-remaining-tokens", "%lld",
		    remt < 0 ? 0 : remt);
		add_hdr(r, "x-ratelimit-reset-tokens", "%s", rdur);
	}
	if (!limited)
		return false;

	go_dur(wait, dur, sizeof dur);
	if (what[0] == 'r')
		snprintf(msg, sizeof msg, "Rate limit reached for requests in "
		    "organization org-mock on requests per min (RPM): Limit "
		    "%lld, Used %zu, Requested 1. Please try again in %s.",
		    rlim, used, dur);
	else
		snprintf(msg, sizeof msg, "Rate limit reached for tokens in "
		    "organization org-mock on tokens per min (TPM): Limit "
		    "%lld, Used %" PRIu64 ", Requested %" PRIu64 ". Please try "
		    "again in %s.", tlim, toksum, tok, dur);
	reply_error(r, 429, msg, what, NULL, "rate_limit_exceeded");
	add_hdr(r, "retry-after", "%lld", (long long)ceil(wait));
	add_hdr(r, "retry-after-ms", "%lld", (long long)ceil(wait * 1000));
	r->tag = "rate-limited";
	return true;
}

/* ---- HTTP glue ---- */

struct req {
	enum route	 rt;
	bool		 counted;	/* in requests/in_flight stats */
	char		*body;
	size_t		 len, cap;
	bool		 toolong;
	char		*key;		/* copy, for the completion callback */
	size_t		 keylen;
	uint64_t	 kh;
	uint64_t	 gen;
	unsigned	 status;
	bool		 genuine;
};

static bool
gzip_body(struct sbuf *b)
{
	struct sbuf out = { 0 };
	z_stream zs;
	uLong bound;

	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	bound = deflateBound(&zs, (uLong)b->len) + 32;
	sb_grow(&out, (size_t)bound);
	zs.next_in = (Bytef *)b->p;
	zs.avail_in = (uInt)b->len;
	zs.next_out = (Bytef *)out.p;
	zs.avail_out = (uInt)bound;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		sb_free(&out);
		return false;
	}
	out.len = zs.total_out;
	deflateEnd(&zs);
	sb_free(b);
	*b = out;
	return true;
}

static enum MHD_Result
send_reply(struct MHD_Connection *c, struct req *rq, struct reply *r,
    const char *method, const char *url, long long attempt)
{
	struct MHD_Response *resp;
	const char *ae;
	enum MHD_Result ret;
	char what[64];
	int i;

	if (r->feed != NULL) {
		resp = MHD_create_response_from_callback(r->feed->size, 16384,
		    feed_read, r->feed, feed_free);
		if (resp == NULL)
			feed_free(r->feed);
		r->feed = NULL;
	} else {
		ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_ACCEPT_ENCODING);
		if (cfg.gzip && ae != NULL && contains_ci(ae, "gzip") &&
		    r->body.len > 0 && r->body.len < UINT_MAX / 2 &&
		    gzip_body(&r->body))
			add_hdr(r, "content-encoding", "gzip");
		if (r->body.p == NULL)
			sb_add(&r->body, "", 0);
		resp = MHD_create_response_from_buffer(r->body.len, r->body.p,
		    MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			r->body.p = NULL;	/* MHD frees it */
	}
	if (resp == NULL)
		return MHD_NO;
	if (r->ctype != NULL)
		MHD_add_response_header(resp, "content-type", r->ctype);
	for (i = 0; i < r->nh; i++)
		MHD_add_response_header(resp, r->h[i].name, r->h[i].val);
	ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);

	rq->status = r->status;
	rq->genuine = r->genuine;
	if (rq->counted) {
		pthread_mutex_lock(&mu);
		if (r->status < 600)
			st.by_status[r->status]++;
		pthread_mutex_unlock(&mu);
		if (r->tag != NULL)
			snprintf(what, sizeof what, "%u %s", r->status, r->tag);
		else
			snprintf(what, sizeof what, "%u", r->status);
		log_line(method, url, rq->key, rq->keylen, rq->key ? attempt :
		    -1, what);
	}
	return ret;
}

static void
reply_free(struct reply *r)
{
	sb_free(&r->body);
	feed_free(r->feed);
	r->feed = NULL;
}

/* Whether an Authorization header value (or NULL) passes --require-key. */
static bool
key_ok(const char *a)
{
	return cfg.require_key == NULL || (a != NULL &&
	    strncmp(a, "Bearer ", 7) == 0 &&
	    strcmp(a + 7, cfg.require_key) == 0);
}

/* --require-key: the key as a Bearer token, or (Azure's way) in an
 * api-key header. */
static bool
authorized(struct MHD_Connection *c)
{
	const char *az = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "api-key");

	if (cfg.require_key != NULL && az != NULL)
		return strcmp(az, cfg.require_key) == 0;
	return key_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION));
}

static const struct fault *
random_fault(uint64_t kh, uint64_t attempt)
{
	double u, acc = 0;
	size_t i;

	if (cfg.nfaults == 0)
		return NULL;
	u = unit(draw(kh, attempt, P_FAULT));
	for (i = 0; i < cfg.nfaults; i++) {
		acc += cfg.faults[i].rate;
		if (u < acc)
			return &cfg.faults[i];
	}
	return NULL;
}

static pthread_cond_t slot_cv = PTHREAD_COND_INITIALIZER;

/* --slots: wait for a free slot (every 0.1 s the stop flag is looked
 * at); false when the mock stops first. */
static bool
slot_take(void)
{
	struct timespec ts;
	bool ok;

	if (cfg.slots <= 0)
		return true;
	pthread_mutex_lock(&mu);
	if (++st.waiting > st.max_waiting)
		st.max_waiting = st.waiting;
	while (st.slots_busy >= cfg.slots && !atomic_load(&g_stop)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&slot_cv, &mu, &ts);
	}
	st.waiting--;
	ok = !atomic_load(&g_stop);
	if (ok)
		st.slots_busy++;
	pthread_mutex_unlock(&mu);
	return ok;
}

static void
slot_give(void)
{
	if (cfg.slots <= 0)
		return;
	pthread_mutex_lock(&mu);
	st.slots_busy--;
	pthread_cond_signal(&slot_cv);
	pthread_mutex_unlock(&mu);
}

static double
latency_ms(uint64_t kh, uint64_t attempt)
{
	double d = (double)cfg.latency;

	if (cfg.slow_rate > 0 && unit(draw(kh, attempt, P_SLOW)) <
	    cfg.slow_rate)
		d *= cfg.slow_factor;
	if (cfg.jitter > 0)
		d += (double)(draw(kh, attempt, P_JITTER) %
		    ((uint64_t)cfg.jitter + 1));
	return d;
}

/*
 * Cut the connection with a TCP RST before anything is sent.  Setting
 * SO_LINGER {1, 0} alone is not enough: libmicrohttpd calls
 * shutdown(SHUT_WR) before close(), which sends a FIN first and the client
 * sees an orderly EOF.  So take the connected socket away from it: keep a
 * duplicate, atomically replace its descriptor with an unconnected dummy
 * socket (which it then shuts down and closes harmlessly), and close the
 * duplicate ourselves, which is the last reference and so aborts.  Safe in
 * thread-per-connection mode, where only this thread uses the descriptor.
 */
static void
reset_now(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct linger lg = { 1, 0 };
	int fd, orig, dummy;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	fd = ci->connect_fd;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if ((orig = dup(fd)) == -1)
		return;
	dummy = socket(cfg.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (dummy != -1) {
		fcntl(dummy, F_SETFL, O_NONBLOCK);
		if (dup2(dummy, fd) == -1)
			warnx_("dup2: %s", strerror(errno));
		close(dummy);
	}
	close(orig);
}

/* --models: whether the model is one of the list (any, without one). */
static bool
model_known(const char *model)
{
	const char *p = cfg.models, *e;
	size_t n = strlen(model);

	if (p == NULL)
		return true;
	for (;; p = e + 1) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == n && memcmp(p, model, n) == 0)
			return true;
		if (*e == '\0')
			return false;
	}
}

static enum MHD_Result
serve_api(struct MHD_Connection *c, struct req *rq, const char *method,
    const char *url)
{
	struct reply r;
	struct call k;
	struct fault df;
	const struct fault *f = NULL;
	const char *eparam = NULL;
	json_object *root;
	char emsg[600];
	uint64_t attempt = 0;
	enum MHD_Result ret;
	int d;
	double delay;

	memset(&r, 0, sizeof r);
	call_init(&k, rq->rt);
	emsg[0] = '\0';

	root = rq->toolong ? NULL : parse_body(rq->body, rq->len);
	if (root == NULL)
		snprintf(emsg, sizeof emsg, "We could not parse the JSON body "
		    "of your request. (HINT: This likely means you aren't "
		    "using your HTTP library correctly. The OpenAI API "
		    "expects a JSON payload, but what was sent was not valid "
		    "JSON.)");
	else
		extract(root, &k, emsg, sizeof emsg, &eparam);

	if (k.key.p != NULL) {
		k.kh = fnv1a(k.key.p, k.key.len);
		attempt = key_register(k.key.p, k.key.len, k.kh, &rq->gen);
		rq->key = xmalloc(k.key.len + 1);
		memcpy(rq->key, k.key.p, k.key.len + 1);
		rq->keylen = k.key.len;
		rq->kh = k.kh;
	} else
		k.kh = fnv1a(rq->body ? rq->body : "", rq->len);
	add_hdr(&r, "x-request-id", "req_mock_%016" PRIx64,
	    mix64(khash(k.kh, P_REQID) ^ attempt));

	if (!authorized(c)) {
		reply_error(&r, 401, "Incorrect API key provided",
		    "invalid_request_error", NULL, "invalid_api_key");
		goto send;
	}
	if (rq->toolong) {
		reply_error(&r, 413, "Request body too large (see --max-body)",
		    "invalid_request_error", NULL, NULL);
		goto send;
	}
	if (emsg[0] != '\0') {
		reply_error(&r, 400, emsg, "invalid_request_error", eparam,
		    NULL);
		goto send;
	}
	if (!model_known(k.model)) {
		snprintf(emsg, sizeof emsg, "The model `%s` does not exist or "
		    "you do not have access to it.", k.model);
		reply_error(&r, 404, emsg, "invalid_request_error", NULL,
		    "model_not_found");
		goto send;
	}
	if (rl_apply(&k, &r))
		goto send;

	if ((d = directive(k.key.p, k.key.len, &df, emsg, sizeof emsg)) < 0) {
		reply_error(&r, 400, emsg, "invalid_request_error", NULL,
		    NULL);
		goto send;
	}
	if (d > 0 && is_raw_fault(df.kind)) {
		snprintf(emsg, sizeof emsg, "mock: [[mock:%s]] is served only "
		    "on the raw port (--raw-port-file)", fkind_name[df.kind]);
		reply_error(&r, 400, emsg, "invalid_request_error", NULL,
		    NULL);
		goto send;
	}
	if (d > 0)
		f = df.times < 0 || (long long)attempt < df.times ? &df : NULL;
	else
		f = random_fault(k.kh, attempt);
	if (f != NULL && f->times >= 0 && (long long)attempt >= f->times)
		f = NULL;
	/* Only a batch leaves a line unanswered: here it is answered. */
	if (f != NULL && f->kind == F_BATCH_EXPIRE)
		f = NULL;
	/* Stream faults make no sense without a stream: answer normally. */
	if (f != NULL && is_stream_fault(f->kind) && !k.stream &&
	    f->kind != F_ERROR_LINE)
		f = NULL;
	if (f != NULL && f->kind != F_NONE) {
		pthread_mutex_lock(&mu);
		if (rq->gen == st.gen)
			st.faults[f->kind]++;
		pthread_mutex_unlock(&mu);
	}

	if (f != NULL && (f->kind == F_RESET || f->kind == F_HANG)) {
		log_line(method, url, rq->key, rq->keylen, (long long)attempt,
		    fkind_name[f->kind]);
		if (f->kind == F_HANG)
			sleep_ms((double)hang_ms(f));
		else
			reset_now(c);
		ret = MHD_NO;
		goto out;
	}

	delay = latency_ms(k.kh, attempt);
	if (f != NULL && f->kind == F_SLEEP)
		delay += (double)f->ms;
	if (f != NULL && f->kind == F_SLOW_HEADERS)
		delay += (double)hang_ms(f);
	if (!slot_take()) {
		ret = MHD_NO;
		goto out;
	}
	if (delay > 0 && !sleep_ms(delay)) {
		slot_give();
		ret = MHD_NO;
		goto out;
	}
	slot_give();

	if (f != NULL && f->kind == F_HTTP)
		http_fault(f, &r);
	else if (f != NULL && f->kind == F_ERROR_LINE && !k.stream) {
		/* llama-server: the same error object, as an HTTP error. */
		r.status = error_line_status(f);
		r.ctype = "application/json";
		sb_adds(&r.body, "{\"error\":");
		error_line_json(f, &r.body);
		sb_adds(&r.body, "}");
	}
	else if (f != NULL && f->kind == F_NONJSON)
		reply_html(&r, 200, "200 OK");
	else
		build_answer(&k, f, &r);
	if (f != NULL && f->kind != F_NONE)
		r.tag = fkind_name[f->kind];
	if (f != NULL && f->request_id)
		set_request_id(&r, f->request_id);
send:
	ret = send_reply(c, rq, &r, method, url, (long long)attempt);
out:
	reply_free(&r);
	sb_free(&k.key);
	json_object_put(root);
	return ret;
}

/* The Files and Batches endpoints, in their own file. */
#include "batches.c"

static enum MHD_Result
serve(struct MHD_Connection *c, struct req *rq, const char *method,
    const char *url)
{
	struct reply r;
	json_object *o, *data, *m;
	const char *v;
	char msg[300];
	enum MHD_Result ret;
	bool post = strcmp(method, "POST") == 0;
	bool get = strcmp(method, "GET") == 0;

	memset(&r, 0, sizeof r);
	r.status = 200;
	r.ctype = "application/json";
	add_hdr(&r, "x-request-id", "req_mock_%016" PRIx64,
	    khash(fnv1a(url, strlen(url)), P_REQID));
	switch (rq->rt) {
	case RT_CHAT:
	case RT_COMPL:
	case RT_EMB:
	case RT_RESP:
	case RT_MOD:
		if (post)
			return serve_api(c, rq, method, url);
		break;
	case RT_FILES:
	case RT_BATCHES:
		reply_free(&r);
		return serve_batches(c, rq, method, url);
	case RT_STATS:
		if (!get)
			break;
		v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
		    "keys");
		stats_json(&r.body, v == NULL || strcmp(v, "0") != 0);
		goto send;
	case RT_RESET:
		if (!post)
			break;
		stats_reset();
		sb_adds(&r.body, "{\"reset\":true}");
		goto send;
	case RT_MODELS:
		if (!get)
			break;
		if (!authorized(c)) {
			reply_error(&r, 401, "Incorrect API key provided",
			    "invalid_request_error", NULL, "invalid_api_key");
			goto send;
		}
		o = json_object_new_object();
		data = json_object_new_array();
		m = json_object_new_object();
		jadd(m, "id", json_object_new_string("mock-model"));
		jadd(m, "object", json_object_new_string("model"));
		jadd(m, "created", jint(CREATED));
		jadd(m, "owned_by", json_object_new_string("mock"));
		json_object_array_add(data, m);
		jadd(o, "object", json_object_new_string("list"));
		jadd(o, "data", data);
		jemit(o, &r.body);
		goto send;
	case RT_UNKNOWN:
		snprintf(msg, sizeof msg, "Unknown request URL: %s %s. Please "
		    "check the URL for typos.", method, url);
		reply_error(&r, 404, msg, "invalid_request_error", NULL,
		    "unknown_url");
		goto send;
	}
	snprintf(msg, sizeof msg, "Method %s not allowed for %s.", method, url);
	reply_error(&r, 405, msg, "invalid_request_error", NULL, NULL);
send:
	ret = send_reply(c, rq, &r, method, url, -1);
	reply_free(&r);
	return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upsize, void **con_cls)
{
	struct req *rq = *con_cls;
	size_t n = *upsize;

	(void)cls;
	(void)version;
	if (rq == NULL) {
		/* Headers are in: account for the request, wait for body. */
		rq = xcalloc(1, sizeof *rq);
		rq->rt = route(url);
		rq->counted = rq->rt != RT_STATS && rq->rt != RT_RESET &&
		    rq->rt != RT_MODELS && rq->rt != RT_FILES &&
		    rq->rt != RT_BATCHES;
		if (rq->counted) {
			pthread_mutex_lock(&mu);
			st.requests++;
			if (++st.in_flight > st.max_in_flight)
				st.max_in_flight = st.in_flight;
			rq->gen = st.gen;
			pthread_mutex_unlock(&mu);
		}
		*con_cls = rq;
		return MHD_YES;
	}
	if (n > 0) {
		if (rq->toolong || n > (size_t)cfg.max_body - rq->len)
			rq->toolong = true;
		else {
			if (rq->len + n + 1 > rq->cap) {
				rq->cap = rq->cap ? rq->cap : 4096;
				while (rq->cap < rq->len + n + 1)
					rq->cap *= 2;
				rq->body = xrealloc(rq->body, rq->cap);
			}
			memcpy(rq->body + rq->len, upload, n);
			rq->len += n;
			rq->body[rq->len] = '\0';
		}
		*upsize = 0;
		return MHD_YES;
	}
	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);

		req_complete = now_s();
		req_conn = ci != NULL ? ci->connect_fd : -1;
	}
	return serve(c, rq, method, url);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	struct kent *e;

	(void)cls;
	(void)c;
	if (rq == NULL)
		return;
	if (rq->counted) {
		pthread_mutex_lock(&mu);
		st.in_flight--;
		if (rq->genuine && rq->status / 100 == 2 &&
		    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK &&
		    rq->gen == st.gen && rq->key != NULL) {
			st.ok++;
			e = key_get(rq->key, rq->keylen, rq->kh);
			e->ok++;
		}
		pthread_mutex_unlock(&mu);
	}
	free(rq->body);
	free(rq->key);
	free(rq);
	*con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "mock: mhd: %s", buf);
}

/* ---- the raw port ---- */

/*
 * --raw-port-file: a second listener for answers libmicrohttpd cannot
 * send, response headers that are too large or never end.  One thread
 * serves one connection at a time with plain read() and write(): it reads
 * a request, answers it, and closes the connection.  A raw directive in
 * the key (huge-header, many-headers, endless-headers, drip-headers)
 * picks a hostile answer; a request without one gets the normal answer,
 * never streamed.  With --raw-keepalive a connection that got a normal
 * answer stays open for the next request, and each answer goes out as
 * two writes, the head and then the body, with Nagle's algorithm on: the
 * body waits for the client's ACK of the head, which a client that
 * delays its ACKs holds back for up to 40 ms (llama.cpp's server does
 * this; splitgpt must not pay for it).  Every wait is bounded: a read or write by SO_RCVTIMEO
 * and SO_SNDTIMEO and a deadline, the endless answers by --hang and
 * RAW_FLOOD_MAX, and everything by the stop flag.
 */
#define RAW_HEAD_MAX	(64 << 10)	/* request line and headers */
#define RAW_IO_S	10.0		/* to read a request, or send an answer */
#define RAW_HUGE	(1 << 20)	/* huge-header: one header line of 1 MiB */
#define RAW_MANY	20000		/* many-headers: this many header lines */
#define RAW_FLOOD_MAX	(512LL << 20)	/* endless-headers: bytes at most */
#define RAW_DRIP_MS	100		/* drip-headers: a line this often */

/* Write all of p; false once the client is gone, at the deadline, or
 * when the mock stops. */
static bool
raw_write(int fd, const char *p, size_t n, double deadline)
{
	ssize_t w;

	while (n > 0) {
		if (atomic_load(&g_stop) || now_s() > deadline)
			return false;
		w = write(fd, p, n);
		if (w < 0 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;	/* SO_SNDTIMEO: 0.1 s at most */
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* The value of header name (lower case) in a request head, or NULL; the
 * value is copied, trimmed, into val. */
static const char *
raw_header(const char *h, size_t n, const char *name, char *val, size_t vl)
{
	const char *p = h, *e, *end = h + n, *v;
	size_t k = strlen(name), len;

	for (; p < end; p = e + 2) {
		if ((e = find(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			break;
		if ((size_t)(e - p) <= k || p[k] != ':' ||
		    strncasecmp(p, name, k) != 0)
			continue;
		for (v = p + k + 1; v < e && (*v == ' ' || *v == '\t'); v++)
			;
		len = (size_t)(e - v);
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len >= vl)
			len = vl - 1;
		memcpy(val, v, len);
		val[len] = '\0';
		return val;
	}
	return NULL;
}

/*
 * Read a request into in: its head, *head bytes, then a body of
 * Content-Length bytes, *body_len.  False at EOF, at the deadline, or
 * for a request too large.
 */
static bool
raw_read(int fd, struct sbuf *in, size_t *head, size_t *body_len,
    double deadline)
{
	char buf[16384], cl[32];
	const char *e;
	long long want = -1;
	ssize_t r;

	for (;;) {
		if (want < 0 && in->len > 0 &&
		    (e = find(in->p, in->len, "\r\n\r\n", 4)) != NULL) {
			*head = (size_t)(e + 4 - in->p);
			want = 0;
			if (raw_header(in->p, *head, "content-length", cl,
			    sizeof cl) != NULL && !num_ok(cl, 0,
			    cfg.max_body, &want))
				return false;
		}
		if (want < 0 && in->len > RAW_HEAD_MAX)
			return false;
		if (want >= 0 && in->len - *head >= (size_t)want) {
			*body_len = (size_t)want;
			return true;
		}
		if (atomic_load(&g_stop) || now_s() > deadline)
			return false;
		r = read(fd, buf, sizeof buf);
		if (r < 0 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;	/* SO_RCVTIMEO: 0.1 s at most */
		if (r <= 0)
			return false;
		sb_add(in, buf, (size_t)r);
	}
}

/* The head of an answer: the status line, then r's headers. */
static void
raw_head(struct sbuf *b, const struct reply *r)
{
	int i;

	sb_printf(b, "HTTP/1.1 %u %s\r\ncontent-type: %s\r\n", r->status,
	    status_text(r->status), r->ctype);
	for (i = 0; i < r->nh; i++)
		sb_printf(b, "%s: %s\r\n", r->h[i].name, r->h[i].val);
}

/*
 * A raw fault.  huge-header and many-headers send their headers and then
 * the normal answer (r); endless-headers sends header lines as fast as
 * they are read, drip-headers one every ms= (default 100), until the
 * client goes, --hang seconds pass, or (endless) RAW_FLOOD_MAX bytes.
 */
static void
raw_fault(int fd, const struct fault *f, struct reply *r)
{
	struct sbuf b = { 0 };
	double end = now_s() + (double)cfg.hang, every;
	long long sent = 0, i;

	raw_head(&b, r);
	switch (f->kind) {
	case F_HUGE_HEADER:
		sb_adds(&b, "x-mock-huge: ");
		sb_grow(&b, RAW_HUGE);
		memset(b.p + b.len, 'h', RAW_HUGE);
		b.len += RAW_HUGE;
		sb_adds(&b, "\r\n");
		break;
	case F_MANY_HEADERS:
		for (i = 0; i < RAW_MANY; i++)
			sb_printf(&b, "x-mock-%05lld: 0123456789abcdef\r\n",
			    i);
		break;
	case F_ENDLESS_HEADERS:
		if (!raw_write(fd, b.p, b.len, end))
			break;
		b.len = 0;
		for (i = 0; i < 1024; i++)
			sb_adds(&b, "x-mock-flood: 0123456789abcdef"
			    "0123456789abcdef\r\n");
		while (sent < RAW_FLOOD_MAX && raw_write(fd, b.p, b.len, end))
			sent += (long long)b.len;
		break;
	case F_DRIP_HEADERS:
		every = f->ms >= 0 ? (double)f->ms : RAW_DRIP_MS;
		for (i = 0; now_s() < end; i++) {
			if (!raw_write(fd, b.p, b.len, end) ||
			    !sleep_ms(every))
				break;
			b.len = 0;
			sb_printf(&b, "x-mock-drip-%lld: %lld\r\n", i, i);
		}
		break;
	default:
		break;
	}
	if (f->kind == F_HUGE_HEADER || f->kind == F_MANY_HEADERS) {
		sb_printf(&b, "content-length: %zu\r\nconnection: close\r\n"
		    "\r\n", r->body.len);
		sb_add(&b, r->body.p, r->body.len);
		raw_write(fd, b.p, b.len, now_s() + RAW_IO_S);
	}
	sb_free(&b);
}

/* Read one request from a raw connection and answer it; true when the
 * connection may carry another (--raw-keepalive). */
static bool
raw_serve(int fd)
{
	struct sbuf in = { 0 }, out = { 0 };
	struct reply r;
	struct call k;
	struct fault df;
	json_object *root = NULL;
	const char *eparam = NULL;
	char method[16], url[256], emsg[600], auth[512], what[64];
	size_t head = 0, blen = 0;
	uint64_t attempt = 0, gen;
	bool sent = false, more = false;
	int d;

	if (!raw_read(fd, &in, &head, &blen, now_s() + RAW_IO_S) ||
	    sscanf(in.p, "%15s %255s", method, url) != 2) {
		sb_free(&in);
		return false;
	}
	memset(&r, 0, sizeof r);
	memset(&df, 0, sizeof df);
	call_init(&k, route(url));
	emsg[0] = '\0';
	pthread_mutex_lock(&mu);
	st.requests++;
	if (++st.in_flight > st.max_in_flight)
		st.max_in_flight = st.in_flight;
	gen = st.gen;
	pthread_mutex_unlock(&mu);

	if (strcmp(method, "POST") != 0 || (k.rt != RT_CHAT &&
	    k.rt != RT_COMPL && k.rt != RT_EMB && k.rt != RT_RESP)) {
		snprintf(emsg, sizeof emsg, "mock: the raw port answers "
		    "only POST to an API path, not %s %s", method, url);
		reply_error(&r, 404, emsg, "invalid_request_error", NULL,
		    "unknown_url");
		goto reply;
	}
	if ((root = parse_body(in.p + head, blen)) == NULL)
		snprintf(emsg, sizeof emsg, "We could not parse the JSON "
		    "body of your request.");
	else
		extract(root, &k, emsg, sizeof emsg, &eparam);
	if (k.key.p != NULL) {
		k.kh = fnv1a(k.key.p, k.key.len);
		attempt = key_register(k.key.p, k.key.len, k.kh, &gen);
	}
	add_hdr(&r, "x-request-id", "req_mock_%016" PRIx64,
	    mix64(khash(k.kh, P_REQID) ^ attempt));
	if (!key_ok(raw_header(in.p, head, "authorization", auth,
	    sizeof auth))) {
		reply_error(&r, 401, "Incorrect API key provided",
		    "invalid_request_error", NULL, "invalid_api_key");
		goto reply;
	}
	if (emsg[0] == '\0' && (d = directive(k.key.p, k.key.len, &df, emsg,
	    sizeof emsg)) > 0 && !is_raw_fault(df.kind) &&
	    df.kind != F_NONE)
		snprintf(emsg, sizeof emsg, "mock: [[mock:%s]] is not served "
		    "on the raw port", fkind_name[df.kind]);
	if (emsg[0] != '\0') {
		reply_error(&r, 400, emsg, "invalid_request_error", eparam,
		    NULL);
		goto reply;
	}
	k.stream = false;
	build_answer(&k, NULL, &r);
	if (is_raw_fault(df.kind) && (df.times < 0 ||
	    (long long)attempt < df.times)) {
		pthread_mutex_lock(&mu);
		if (gen == st.gen)
			st.faults[df.kind]++;
		st.by_status[200]++;
		pthread_mutex_unlock(&mu);
		log_line(method, url, k.key.p, k.key.len, (long long)attempt,
		    fkind_name[df.kind]);
		raw_fault(fd, &df, &r);
		goto out;
	}
reply:
	raw_head(&out, &r);
	sb_printf(&out, "content-length: %zu\r\n%s\r\n", r.body.len,
	    cfg.raw_keepalive ? "" : "connection: close\r\n");
	if (!cfg.raw_keepalive)
		sb_add(&out, r.body.p, r.body.len);
	sent = raw_write(fd, out.p, out.len, now_s() + RAW_IO_S) &&
	    (!cfg.raw_keepalive ||
	    raw_write(fd, r.body.p, r.body.len, now_s() + RAW_IO_S));
	more = sent && cfg.raw_keepalive;
	pthread_mutex_lock(&mu);
	st.by_status[r.status]++;
	if (sent && r.genuine && r.status / 100 == 2 && gen == st.gen &&
	    k.key.p != NULL) {
		st.ok++;
		key_get(k.key.p, k.key.len, k.kh)->ok++;
	}
	pthread_mutex_unlock(&mu);
	snprintf(what, sizeof what, "%u", r.status);
	log_line(method, url, k.key.p, k.key.len, k.key.p ?
	    (long long)attempt : -1, what);
out:
	pthread_mutex_lock(&mu);
	st.in_flight--;
	pthread_mutex_unlock(&mu);
	reply_free(&r);
	sb_free(&k.key);
	sb_free(&in);
	sb_free(&out);
	json_object_put(root);
	return more;
}

/* --raw-keepalive-max: a request read and left unanswered, the
 * connection closed under it. */
static void
raw_drop(int fd)
{
	struct sbuf in = { 0 };
	size_t head = 0, blen = 0;

	(void)raw_read(fd, &in, &head, &blen, now_s() + RAW_IO_S);
	sb_free(&in);
	pthread_mutex_lock(&mu);
	st.dropped++;
	pthread_mutex_unlock(&mu);
}

/* The raw port's thread: one connection at a time, until the stop. */
static void *
raw_main(void *arg)
{
	struct timeval tv = { 0, 100000 };
	struct pollfd pf;
	int lfd = *(int *)arg, fd;
	long long n;

	pf.fd = lfd;
	pf.events = POLLIN;
	while (!atomic_load(&g_stop)) {
		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		/* --raw-keepalive: the client's next request */
		for (n = 1; raw_serve(fd) && !atomic_load(&g_stop); n++)
			if (n == cfg.raw_keepalive_max) {
				raw_drop(fd);
				break;
			}
		close(fd);
	}
	return NULL;
}

/* Listen on --host, an ephemeral port; returns the socket, sets *port. */
/* --host and port as a socket address; returns its length. */
static socklen_t
listen_addr(struct sockaddr_storage *ss, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (cfg.ipv6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, cfg.host, &sin6->sin6_addr);
		return sizeof *sin6;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, cfg.host, &sin->sin_addr);
	return sizeof *sin;
}

/* The port of a bound socket address. */
static unsigned
addr_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)ss)->sin6_port :
	    ((const struct sockaddr_in *)ss)->sin_port);
}

static int
raw_listen(unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = listen_addr(&ss, 0);
	int fd;

	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		die("--raw-port-file: cannot listen on %s: %s", cfg.host,
		    strerror(errno));
	*port = addr_port(&ss);
	return fd;
}

/* ---- main ---- */

static void
usage(FILE *fp)
{
	fputs(
"usage: mock [options]\n"
"  --host ADDR          bind address, 127.x.x.x or ::1 (127.0.0.1)\n"
"  --port N             port, 0 = ephemeral (0)\n"
"  --port-file FILE     write the bound port to FILE (atomically)\n"
"  --raw-port-file FILE also serve raw-socket faults (huge-header,\n"
"                       many-headers, endless-headers, drip-headers) on a\n"
"                       second ephemeral port, written to FILE\n"
"  --raw-keepalive      the raw port keeps connections open and writes an\n"
"                       answer's head and body with two write(2)s, Nagle\n"
"                       on, as llama.cpp's server does\n"
"  --raw-keepalive-max N  ...and closes a connection that answered N\n"
"                       requests when the next one comes, unanswered, as\n"
"                       a server whose keep-alive ran out just then (0: no)\n"
"  --tls-cert FILE      serve HTTPS with this PEM certificate (chain)...\n"
"  --tls-key FILE       ...and this PEM private key\n"
"  --lifetime S         exit after S seconds (900)\n"
"  --seed N             seed for all random decisions (1)\n"
"  --latency MS         delay every answer (0)\n"
"  --slots N            work on N answers at once, the rest wait their\n"
"                       turn first, as a GPU server's batch (0: no limit)\n"
"  --jitter MS          plus a deterministic extra in [0, MS] (0)\n"
"  --slow RATE:FACTOR   that fraction of requests take FACTOR x latency\n"
"  --fault KIND:RATE[:opt=val...]   inject faults (repeatable)\n"
"  --hang S             how long hang/stall faults last (30)\n"
"  --gzip               gzip bodies for clients that accept it\n"
"  --require-key KEY    demand Authorization: Bearer KEY\n"
"  --log FILE           append one line per request to FILE\n"
"  --rpm N / --tpm N    rate limits per minute (0 = none)\n"
"  --rl-window S        rate-limit window (60)\n"
"  --rl-headers-only    publish x-ratelimit-* headers, never 429\n"
"  --chunk-bytes N      stream piece size (8)\n"
"  --chunk-delay MS     delay between stream events (0)\n"
"  --sse-crlf           CRLF line ends in streams\n"
"  --sse-comments       ': keep-alive' comments between events\n"
"  --sse-no-content-type  send streams with no Content-Type\n"
"  --models A,B         these models only; others get 404 model_not_found\n"
"  --conn-timeout S     idle connection timeout (120)\n"
"  --max-conns N        connection limit (4096)\n"
"  --max-body BYTES     request body limit (67108864)\n"
"  --max-files BYTES    limit on all uploaded files (268435456)\n"
"  --batch-steps N      GETs each batch status lasts (1); the Files and\n"
"                       Batches endpoints are in tests/mock/README.md\n"
"  -v, --verbose        log libmicrohttpd errors\n"
"  -h, --help           this text\n"
"See tests/mock/README.md for fault kinds and [[mock:...]] directives.\n",
	    fp);
}

static void
parse_host(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strlen(h) >= sizeof cfg.host)
		usage_err("--host: '%s' is not an address", h);
	if (inet_pton(AF_INET, h, &a4) == 1) {
		if ((ntohl(a4.s_addr) >> 24) != 127)
			usage_err("--host: refusing '%s': only loopback "
			    "(127.x.x.x or ::1) is allowed", h);
		cfg.ipv6 = false;
	} else if (inet_pton(AF_INET6, h, &a6) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&a6))
			usage_err("--host: refusing '%s': only loopback "
			    "(127.x.x.x or ::1) is allowed", h);
		cfg.ipv6 = true;
	} else
		usage_err("--host: '%s' is not a numeric IPv4/IPv6 address",
		    h);
	memcpy(cfg.host, h, strlen(h) + 1);
}

static void
add_fault(const char *spec)
{
	char err[200];
	double sum = 0;
	size_t i;

	cfg.faults = xrealloc(cfg.faults, (cfg.nfaults + 1) *
	    sizeof *cfg.faults);
	if (!parse_fault(spec, true, &cfg.faults[cfg.nfaults], err,
	    sizeof err))
		usage_err("--fault '%s': %s", spec, err);
	cfg.nfaults++;
	for (i = 0; i < cfg.nfaults; i++)
		sum += cfg.faults[i].rate;
	if (sum > 1 + 1e-9)
		usage_err("--fault '%s': fault rates add up to %g > 1", spec,
		    sum);
}

static void
parse_args(int argc, char **argv)
{
	enum {
		O_HOST = 256, O_PORT, O_PORT_FILE, O_LIFETIME, O_SEED,
		O_LATENCY, O_SLOTS, O_JITTER, O_SLOW, O_FAULT, O_HANG, O_GZIP,
		O_REQUIRE_KEY, O_LOG, O_RPM, O_TPM, O_RL_WINDOW,
		O_RL_HEADERS_ONLY, O_CHUNK_BYTES, O_CHUNK_DELAY, O_SSE_CRLF,
		O_SSE_COMMENTS, O_SSE_NO_CTYPE, O_MODELS, O_CONN_TIMEOUT, O_MAX_CONNS, O_MAX_BODY,
		O_RAW_PORT_FILE, O_RAW_KEEPALIVE, O_RAW_KEEPALIVE_MAX, O_TLS_CERT, O_TLS_KEY,
		O_MAX_FILES, O_BATCH_STEPS
	};
	static const struct option opts[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "port-file", required_argument, NULL, O_PORT_FILE },
		{ "raw-port-file", required_argument, NULL, O_RAW_PORT_FILE },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "raw-keepalive", no_argument, NULL, O_RAW_KEEPALIVE },
		{ "raw-keepalive-max", required_argument, NULL,
		    O_RAW_KEEPALIVE_MAX },
		{ "lifetime", required_argument, NULL, O_LIFETIME },
		{ "max-files", required_argument, NULL, O_MAX_FILES },
		{ "batch-steps", required_argument, NULL, O_BATCH_STEPS },
		{ "seed", required_argument, NULL, O_SEED },
		{ "latency", required_argument, NULL, O_LATENCY },
		{ "slots", required_argument, NULL, O_SLOTS },
		{ "jitter", required_argument, NULL, O_JITTER },
		{ "slow", required_argument, NULL, O_SLOW },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "hang", required_argument, NULL, O_HANG },
		{ "gzip", no_argument, NULL, O_GZIP },
		{ "require-key", required_argument, NULL, O_REQUIRE_KEY },
		{ "log", required_argument, NULL, O_LOG },
		{ "rpm", required_argument, NULL, O_RPM },
		{ "tpm", required_argument, NULL, O_TPM },
		{ "rl-window", required_argument, NULL, O_RL_WINDOW },
		{ "rl-headers-only", no_argument, NULL, O_RL_HEADERS_ONLY },
		{ "chunk-bytes", required_argument, NULL, O_CHUNK_BYTES },
		{ "chunk-delay", required_argument, NULL, O_CHUNK_DELAY },
		{ "sse-crlf", no_argument, NULL, O_SSE_CRLF },
		{ "sse-comments", no_argument, NULL, O_SSE_COMMENTS },
		{ "sse-no-content-type", no_argument, NULL, O_SSE_NO_CTYPE },
		{ "models", required_argument, NULL, O_MODELS },
		{ "conn-timeout", required_argument, NULL, O_CONN_TIMEOUT },
		{ "max-conns", required_argument, NULL, O_MAX_CONNS },
		{ "max-body", required_argument, NULL, O_MAX_BODY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char buf[64], *colon;
	int ch;

	while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (ch) {
		case O_HOST:
			parse_host(optarg);
			break;
		case O_PORT:
			cfg.port = opt_num("--port", optarg, 0, 65535);
			break;
		case O_PORT_FILE:
			cfg.port_file = optarg;
			break;
		case O_RAW_PORT_FILE:
			cfg.raw_port_file = optarg;
			break;
		case O_RAW_KEEPALIVE:
			cfg.raw_keepalive = true;
			break;
		case O_RAW_KEEPALIVE_MAX:
			cfg.raw_keepalive_max = opt_num("--raw-keepalive-max",
			    optarg, 0, 1000000);
			break;
		case O_TLS_CERT:
			cfg.tls_cert = optarg;
			break;
		case O_TLS_KEY:
			cfg.tls_key = optarg;
			break;
		case O_LIFETIME:
			cfg.lifetime = opt_num("--lifetime", optarg, 1,
			    7 * 86400);
			break;
		case O_SEED:
			cfg.seed = (uint64_t)opt_num("--seed", optarg, 0,
			    LLONG_MAX);
			break;
		case O_LATENCY:
			cfg.latency = opt_num("--latency", optarg, 0, 600000);
			break;
		case O_SLOTS:
			cfg.slots = opt_num("--slots", optarg, 0, 100000);
			break;
		case O_JITTER:
			cfg.jitter = opt_num("--jitter", optarg, 0, 600000);
			break;
		case O_SLOW:
			if (strlen(optarg) >= sizeof buf ||
			    (colon = strchr(memcpy(buf, optarg,
			    strlen(optarg) + 1), ':')) == NULL)
				usage_err("--slow: '%s' is not RATE:FACTOR",
				    optarg);
			*colon = '\0';
			cfg.slow_rate = opt_dbl("--slow RATE", buf, 0, 1);
			cfg.slow_factor = opt_dbl("--slow FACTOR", colon + 1,
			    0, 1000);
			break;
		case O_FAULT:
			add_fault(optarg);
			break;
		case O_HANG:
			cfg.hang = opt_num("--hang", optarg, 0, 3600);
			break;
		case O_GZIP:
			cfg.gzip = true;
			break;
		case O_REQUIRE_KEY:
			cfg.require_key = optarg;
			break;
		case O_LOG:
			cfg.log_path = optarg;
			break;
		case O_RPM:
			cfg.rpm = opt_num("--rpm", optarg, 0, 1000000000);
			break;
		case O_TPM:
			cfg.tpm = opt_num("--tpm", optarg, 0, 1000000000000LL);
			break;
		case O_RL_WINDOW:
			cfg.rl_window = opt_num("--rl-window", optarg, 1,
			    86400);
			break;
		case O_RL_HEADERS_ONLY:
			cfg.rl_headers_only = true;
			break;
		case O_CHUNK_BYTES:
			cfg.chunk_bytes = opt_num("--chunk-bytes", optarg, 1,
			    1 << 20);
			break;
		case O_CHUNK_DELAY:
			cfg.chunk_delay = opt_num("--chunk-delay", optarg, 0,
			    60000);
			break;
		case O_SSE_CRLF:
			cfg.sse_crlf = true;
			break;
		case O_SSE_COMMENTS:
			cfg.sse_comments = true;
			break;
		case O_SSE_NO_CTYPE:
			cfg.sse_no_ctype = true;
			break;
		case O_MODELS:
			if (*optarg == '\0')
				usage_err("--models: an empty list");
			cfg.models = optarg;
			break;
		case O_CONN_TIMEOUT:
			cfg.conn_timeout = opt_num("--conn-timeout", optarg, 1,
			    3600);
			break;
		case O_MAX_CONNS:
			cfg.max_conns = opt_num("--max-conns", optarg, 1,
			    65536);
			break;
		case O_MAX_BODY:
			cfg.max_body = opt_num("--max-body", optarg, 1,
			    1 << 30);
			break;
		case O_MAX_FILES:
			cfg.max_files = opt_num("--max-files", optarg, 1,
			    1LL << 32);
			break;
		case O_BATCH_STEPS:
			cfg.batch_steps = opt_num("--batch-steps", optarg, 1,
			    1000000);
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fputs("mock: try --help\n", stderr);
			exit(2);
		}
	}
	if (optind != argc)
		usage_err("unexpected argument '%s'", argv[optind]);
	if ((cfg.tls_cert == NULL) != (cfg.tls_key == NULL))
		usage_err("--tls-cert and --tls-key go together");
}

/* A whole PEM file, NUL-terminated, for libmicrohttpd's TLS options. */
static char *
read_pem(const char *opt, const char *path)
{
	struct sbuf b = { 0 };
	char buf[4096];
	size_t n;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL)
		usage_err("%s: %s: %s", opt, path, strerror(errno));
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0 && b.len < 1 << 20)
		sb_add(&b, buf, n);
	if (ferror(fp) || b.len == 0 || b.len >= 1 << 20)
		usage_err("%s: %s: cannot read a PEM file (empty, too "
		    "large or unreadable)", opt, path);
	fclose(fp);
	return b.p;
}

static void
write_port_file(const char *path, unsigned port)
{
	char tmp[PATH_MAX], buf[16];
	int fd, n;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		die("--port-file: path too long");
	n = snprintf(buf, sizeof buf, "%u\n", port);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		die("%s: %s", tmp, strerror(errno));
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		die("%s: write: %s", tmp, strerror(errno));
	}
	if (close(fd) == -1)
		die("%s: close: %s", tmp, strerror(errno));
	/* rename is atomic: readers never see a half-written file. */
	if (rename(tmp, path) == -1)
		die("rename %s to %s: %s", tmp, path, strerror(errno));
}

/* Thread-per-connection with many keep-alive clients needs many fds. */
static void
raise_nofile(void)
{
	struct rlimit rl_;

	if (getrlimit(RLIMIT_NOFILE, &rl_) == -1)
		return;
	if (rl_.rlim_cur < rl_.rlim_max) {
		rl_.rlim_cur = rl_.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl_);
		getrlimit(RLIMIT_NOFILE, &rl_);
	}
	if (rl_.rlim_cur != RLIM_INFINITY &&
	    rl_.rlim_cur < (rlim_t)cfg.max_conns + 32)
		warnx_("open file limit %llu is below --max-conns %lld",
		    (unsigned long long)rl_.rlim_cur, cfg.max_conns);
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	struct MHD_Daemon *d;
	struct sigaction sa;
	struct timespec ts;
	sigset_t set;
	socklen_t sl;
	struct MHD_OptionItem tls[3] = { { MHD_OPTION_END, 0, NULL } };
	char *tls_cert = NULL, *tls_key = NULL;
	pthread_t raw_thread;
	unsigned flags, port, raw_port;
	double deadline, left;
	int sig, raw_fd = -1;

	parse_args(argc, argv);
	raise_nofile();
	if (cfg.log_path != NULL && (logfp = fopen(cfg.log_path, "a")) ==
	    NULL)
		die("--log %s: %s", cfg.log_path, strerror(errno));

	/*
	 * Block the stop signals before any thread exists so that all of
	 * libmicrohttpd's threads inherit the mask and only sigtimedwait()
	 * below ever sees them.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	sl = listen_addr(&ss, (unsigned)cfg.port);
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL;
	if (cfg.ipv6)
		flags |= MHD_USE_IPv6;
	if (cfg.verbose)
		flags |= MHD_USE_ERROR_LOG;
	if (cfg.tls_cert != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			die("--tls-cert: this libmicrohttpd has no TLS");
		tls_cert = read_pem("--tls-cert", cfg.tls_cert);
		tls_key = read_pem("--tls-key", cfg.tls_key);
		flags |= MHD_USE_TLS;
		tls[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
		    tls_cert };
		tls[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
		    tls_key };
		tls[2] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	}
	t_start = now_s();
	d = MHD_start_daemon(flags, (uint16_t)cfg.port, NULL, NULL, handler,
	    NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg.max_conns,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg.conn_timeout,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_END);
	if (d == NULL)
		die("cannot listen on %s:%lld%s", cfg.host, cfg.port,
		    cfg.tls_cert ? " (or a bad --tls-cert/--tls-key)" : "");
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	if (di == NULL || getsockname(di->listen_fd, (struct sockaddr *)&ss,
	    &sl) == -1)
		die("getsockname: %s", strerror(errno));
	port = addr_port(&ss);
	if (cfg.raw_port_file != NULL) {
		/* Before --port-file: once that exists, both are up. */
		raw_fd = raw_listen(&raw_port);
		if ((errno = pthread_create(&raw_thread, NULL, raw_main,
		    &raw_fd)) != 0)
			die("pthread_create: %s", strerror(errno));
		write_port_file(cfg.raw_port_file, raw_port);
		fprintf(stderr, "mock: raw port %u\n", raw_port);
	}
	if (cfg.port_file != NULL)
		write_port_file(cfg.port_file, port);
	if (cfg.ipv6)
		fprintf(stderr, "mock: listening on [%s]:%u\n", cfg.host, port);
	else
		fprintf(stderr, "mock: listening on %s:%u\n", cfg.host, port);

	deadline = t_start + (double)cfg.lifetime;
	for (;;) {
		left = deadline - now_s();
		if (left <= 0) {
			fprintf(stderr, "mock: lifetime of %llds is over\n",
			    cfg.lifetime);
			break;
		}
		if (left > 1)
			left = 1;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0)
			break;
	}
	atomic_store(&g_stop, 1);
	MHD_stop_daemon(d);
	if (raw_fd != -1) {
		pthread_join(raw_thread, NULL);
		close(raw_fd);
	}
	free(tls_cert);
	free(tls_key);

	pthread_mutex_lock(&mu);
	keys_free();
	free(rl.v);
	rl.v = NULL;
	pthread_mutex_unlock(&mu);
	free(cfg.faults);
	if (logfp != NULL)
		fclose(logfp);
	return 0;
}
