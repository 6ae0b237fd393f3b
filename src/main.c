/*
 * splitgpt: run a file of prompts through an OpenAI-compatible API with N
 * worker processes, writing one answer line per input line, in input order.
 *
 * Design
 *
 * Processes.  The parent forks -P workers before anything calls into
 * libcurl (libcurl is not fork-safe; the parent never calls it, but for
 * --version, which forks nothing).
 * It does initialise OpenSSL, when libcurl uses it, before the first fork
 * (worker_prefork): that is most of a worker's start-up CPU otherwise.
 * For https it also parses the CA file there, once, so that no worker
 * parses it again for each connection it opens.
 * Each worker has its own pair of pipes: requests go down one, results come
 * up the other, so messages never interleave and need not fit in PIPE_BUF.
 * A worker holds one request at a time, makes the call with blocking
 * libcurl and its own retries, and sends back the finished output line,
 * deflated, tagged with the line's sequence number (frame.h).
 *
 * The parent is a single poll(2) loop with three jobs (on Linux the result
 * pipes are one epoll(7) set in it: see watch()).  Reader: it reads
 * standard input in chunks when it has somewhere to send a line, so a slow
 * producer never stops results from being written.  Dispatcher: it turns
 * each line into a request (input.c) and gives it to an idle worker; a line
 * that is not a valid request gets its error record at once, without a
 * worker.  Collector: results go into a reorder ring (reorder.h) and every
 * result whose predecessors are all written is inflated and written to
 * standard output right away, so output streams.
 *
 * Order and exactly-once.  Sequence numbers count non-blank input lines.
 * Every sequence number gets exactly one record: from a worker, or from the
 * parent for a bad line, a line whose worker died on every attempt, or a
 * line not sent because the run halted.  The ring refuses a second result
 * for a sequence number, so a worker that dies after its result reached
 * the parent can't cause a duplicate.  A worker that dies while holding a
 * line (its result pipe reaches end of file first) is replaced by a new
 * fork, and the line is sent again as a further attempt.  With --hedge a
 * line may be out on two workers at once; the first result is kept, the
 * other worker killed and replaced, and its late result (if any) dropped.
 *
 * Start and end.  Workers are forked a few per turn of the loop, so the
 * first lines go out while the rest start; once the input is done, idle
 * workers are told to exit (their request pipe is closed), so the end of a
 * run with many workers does not wait for all of them to tear down.
 *
 * Memory bound.  Let W = --max-pending (default max(1024, 64 P)), B =
 * --max-buffer and L = --max-line-length.  The parent hands out line s only
 * while s < next + W, where next is the first line not yet written, and
 * only while the ring holds less than B bytes.  So the ring has at most W
 * slots in use, holding at most B plus P results' deflated bytes (the
 * results of lines already in flight when B was reached); the workers hold
 * P lines of at most L bytes, and the parent a copy of each (to resend
 * after a crash); the reader holds one partial line of at most L bytes and
 * one read's worth of input.  When one slow request holds the head of
 * the ring, the other workers go on until W or B is reached, then the
 * reader waits.  None of this depends on the input's size.  The one part
 * that can is the custom_id set (idset.h): nothing for ids that count
 * (request-1, request-2, ...), 10 to 15 bytes for each other id, and none
 * at all with --allow-duplicate-ids.
 */
#include <errno.h>	/* errno */
#include <fcntl.h>	/* fcntl, open */
#include <getopt.h>	/* getopt_long */
#include <poll.h>	/* poll */
#include <signal.h>	/* sigaction, kill */
#include <stdio.h>	/* printf, FILE */
#include <stdlib.h>	/* getenv, exit */
#include <string.h>	/* strcmp, strchr */
#include <strings.h>	/* strncasecmp */
#include <sys/resource.h>	/* getrusage */
#include <sys/stat.h>	/* fstat */
#include <sys/wait.h>	/* waitpid */
#include <time.h>	/* time */
#include <unistd.h>	/* fork, pipe, close */
#include <zlib.h>	/* inflate */

#include "config.h"	/* struct config */
#include "frame.h"	/* messages to and from workers */
#include "input.h"	/* line reader, classifier */
#include "output.h"	/* stdout or -o FILE, resume */
#include "ratelimit.h"	/* the pacer */
#include "record.h"	/* error records */
#include "reorder.h"	/* the reorder ring */
#include "stats.h"	/* counts, progress, summary, job log */
#include "util.h"	/* messages, buffers */
#include "worker.h"	/* worker_main, worker_versions */

#define MAX_JOBS 4096
#define OUT_FLUSH (256 * 1024)	/* write output at least this often */
#define DRAW_US 250000		/* redraw the progress line this often */
/* closefrom(3): glibc 2.34 and later, the BSDs. */
#if (defined(__GLIBC__) && (__GLIBC__ > 2 || \
    (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))) || \
    defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__)
#define HAVE_CLOSEFROM 1
#endif

#define SPAWN_BATCH 4		/* workers forked per turn of the loop */
#define PAUSE_SAY 5.0		/* a pacer pause this long is announced */
#define ABORT_GRACE_MS 2000	/* an abort waits this long to end a record */
/* epoll(7): Linux.  Elsewhere poll(2) is given every result pipe (as
 * in the splitgpt-poll that make check builds to test that path). */
#if defined(__linux__) && !defined(SPLITGPT_NO_EPOLL)
#include <sys/epoll.h>
#define HAVE_EPOLL 1
#endif
/* PR_SET_PDEATHSIG: Linux.  Elsewhere a worker learns that its parent is
 * gone from its request pipe (worker.c, parent_gone), as in splitgpt-poll. */
#if defined(__linux__) && !defined(SPLITGPT_NO_PDEATHSIG)
#include <sys/prctl.h>
#define HAVE_PDEATHSIG 1
#endif

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
"      --format FORMAT        record (Batch API output, default) or\n"
"                             content (one JSON string or null per line)\n"
"      --base-url URL         API base URL (default $OPENAI_BASE_URL,\n"
"                             else https://api.openai.com/v1)\n"
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
"OPENAI_BASE_URL.\n"
"\n"
"Exit status: 0 every line succeeded; 1 some lines got an error record;\n"
"2 usage error; 3 halted early (unsent lines got \"not_sent\" records);\n"
"4 input or output error (input cut short, output not writable) or\n"
"internal error (fork failed); 130 interrupted.\n";

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(EXIT_USAGE);
}

/* One worker process and what the parent knows of it. */
struct slot {
	pid_t pid;		/* 0 once a retired worker is reaped */
	int retired;		/* told to exit: no more work for it */
	int req_fd;		/* requests go down this; -1 if none */
	int res_fd;		/* results come up this; -1 if none */
	int busy;
	uint64_t seq;		/* the line it holds, when busy */
	uint64_t lineno;
	struct buf sent;	/* that line's request frame, to resend */
	struct buf rx;		/* the start of a frame read from the worker */
	uint64_t sent_us;	/* when its line went down the pipe */
	uint64_t due_us;	/* when, at the latest, it must say something:
				 * its result, or a beat (frame.h) */
	int stalled;		/* killed for being silent past due_us */
	int hedged;		/* another slot holds a copy of its line */
	int is_copy;		/* it holds the copy (--hedge) */
	int cancelled;		/* killed: its twin answered first */
	unsigned orphan;	/* no worker (none could be started), but
				 * a line to send again after this many
				 * attempts; 0: none */
	long long charged;	/* tokens the pacer was charged for it */
	long long prompt_est;	/* its prompt estimate, before correction */
	long long max_out;
};

struct parent {
	struct config *cfg;
	struct slot *slots;
	int epfd;		/* the result pipes' epoll set, or -1 */
	int spawned;		/* slots[0..spawned) have a worker */
	int *idle;		/* a stack of idle slot numbers */
	int nidle;
	int nretired;		/* slots whose worker was let go */
	struct linereader lr;
	struct classifier *cls;
	struct request req;
	struct buf msg;
	struct buf out;		/* output waiting for one write */
	size_t out_off;		/* how much of it is written */
	struct buf out_tags;	/* its records' tags, one byte each */
	struct reorder ring;
	z_stream z;		/* inflates results */
	uint64_t next_seq;	/* the next line's sequence number */
	int input_done;
	int halted;		/* sending stopped; lines get not_sent */
	const char *halt_why;
	int jobs;		/* workers wanted: -P, fewer once one could
				 * not be started */
	int norphans;		/* slots with the orphan flag */
	int broken;		/* halted for want of any worker: exit 4 */
	uint64_t watch_due_us;	/* the earliest due_us of a busy slot, or 0 */
	struct buf no_worker;	/* why a worker could not be started */
	struct buf broken_why;	/* why the run is broken (halt_why) */
	int stopping;		/* first signal: stop reading, drain */
	unsigned idle_deaths;	/* workers that died holding nothing, in a row */
	/* Requests (not bad lines) finished and failed, for --halt-after;
	 * everything else is counted in st. */
	unsigned long long requests_failed, finished;
	long long halt_count;	/* --halt-after N, or -1 */
	int halt_percent;	/* --halt-after N%, or -1 */
	double hedge_s;		/* --hedge S: copy a line out this long */
	double hedge_x;		/* --hedge Nx: N times the median latency */
	uint64_t placed;	/* lines given to a worker (not copies) */
	uint64_t hedge_due_us;	/* the oldest line's hedge time, or 0 */

	struct pacer pacer;
	double rpm, tpm;	/* --rpm, --tpm */
	int held;		/* pp->req (line held_seq) waits for the pacer */
	uint64_t held_seq, held_lineno;
	double wake_at;		/* when it may go */
	double pause_said;	/* the end of the last pause announced */

	struct stats st;
	struct output sink;
	const char *out_path;	/* -o */
	int resume;
	struct buf reused;	/* a record taken from the -o file */
	int progress;		/* draw the progress line */
	int drawn;		/* a progress line is on the screen */
	uint64_t drawn_at;
	int counter_fd;		/* the line counter's answer, or -1 */
	pid_t counter_pid;
	struct buf scratch;	/* an inflated result, for the journal */
	struct buf rbuf;	/* what collect() reads, for every slot */
	const char *joblog_path;
	int joblog_fd;		/* -1: no job log */
	struct buf jl;
	const char *stats_path;
	struct buf idbuf;
};

static volatile sig_atomic_t signals_seen;
/* The self-pipe: a signal writes a byte, so the loop's poll(2) wakes for
 * it even when it came just before poll was called. */
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int e = errno;

	/* A hangup may come twice, from the terminal and then from the
	 * shell passing it on to its jobs: it only ever asks for the gentle
	 * stop, never the abort. */
	if (sig == SIGHUP && signals_seen > 0)
		return;
	signals_seen++;
	if (sig_pipe[1] >= 0)
		(void)write(sig_pipe[1], "s", 1);	/* full: awake anyway */
	errno = e;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		die_errno("fcntl");
}

/*
 * Add slot i's result pipe to the epoll set (on), or take it out before
 * it is closed.  With the set, a turn of the loop polls one descriptor
 * for all the workers, and learns which answered, instead of P: at
 * P = 256 poll(2) over every pipe was half the parent's time.  Should
 * the set fail (no memory, fs.epoll.max_user_watches), the run goes on
 * with poll(2) alone.
 */
static void watch(struct parent *pp, int i, int on)
{
#ifdef HAVE_EPOLL
	struct epoll_event ev;

	if (pp->epfd < 0)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(pp->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
	    pp->slots[i].res_fd, &ev) < 0 && on) {
		close(pp->epfd);
		pp->epfd = -1;
	}
#else
	(void)pp;
	(void)i;
	(void)on;
#endif
}

/*
 * Start slot i's worker; 0, or -1 when the system can't (no pipes, no
 * fork: a process or file limit, no memory), with why in pp->no_worker.
 */
static int spawn(struct parent *pp, int i)
{
	struct slot *s = &pp->slots[i];
	int req[2] = { -1, -1 }, res[2] = { -1, -1 }, e;
	pid_t pid;
#ifdef HAVE_PDEATHSIG
	pid_t parent = getpid();
#endif

	if (pipe(req) < 0 || pipe(res) < 0) {
		e = errno;
		buf_reset(&pp->no_worker);
		buf_addf(&pp->no_worker, "cannot start a worker: pipe: %s",
		    strerror(e));
		goto fail;
	}
	worker_prefork(pp->cfg);
	pid = fork();
	if (pid < 0) {
		e = errno;
		buf_reset(&pp->no_worker);
		buf_addf(&pp->no_worker, "cannot start a worker: fork: %s",
		    strerror(e));
		goto fail;
	}
	if (pid == 0) {
		int null, r = req[0], w = res[1];

#ifdef HAVE_PDEATHSIG
		/* Die with the parent, at once: a worker it can no longer
		 * hear from must not go on paying for requests.  (Elsewhere
		 * the worker sees its request pipe close.) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    getppid() != parent)
			_exit(1);
#endif
		null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			if (null > 1 && null != r && null != w)
				close(null);
		}
#ifdef HAVE_CLOSEFROM
		/* Only our own pipes (a worker holding another's would keep
		 * it from seeing the end of its request pipe), and none of
		 * the parent's files: ours to 3 and 4, then one call. */
		if (w == 3)
			w = fcntl(w, F_DUPFD, 5);
		if (r != 3)
			dup2(r, 3);
		if (w != 4)
			dup2(w, 4);
		closefrom(5);
		r = 3;
		w = 4;
#else
		for (int j = 0; j < pp->cfg->jobs; j++) {
			if (pp->slots[j].res_fd >= 0)
				close(pp->slots[j].res_fd);
			if (pp->slots[j].req_fd >= 0)
				close(pp->slots[j].req_fd);
		}
		close(req[1]);
		close(res[0]);
		if (pp->epfd >= 0)
			close(pp->epfd);
		close(sig_pipe[0]);
		close(sig_pipe[1]);
#endif
		_exit(worker_main(pp->cfg, r, w));
	}
	close(req[0]);
	close(res[1]);
	set_nonblock(res[0]);
	s->pid = pid;
	s->req_fd = req[1];
	s->res_fd = res[0];
	s->busy = 0;
	s->stalled = 0;
	buf_release(&s->rx);	/* a dead worker's partial frame */
	watch(pp, i, 1);
	return 0;
fail:
	for (int k = 0; k < 2; k++) {
		if (req[k] >= 0)
			close(req[k]);
		if (res[k] >= 0)
			close(res[k]);
	}
	return -1;
}

/* Queue a finished line for output; data is taken over; tag says what
 * it is, for the counts once it is written (stats_tag). */
static void put_result(struct parent *pp, uint64_t seq, char *data,
    size_t len, size_t rawlen, int compressed, unsigned char tag)
{
	if (reorder_put(&pp->ring, seq, data, len, rawlen, compressed,
	    tag) < 0)
		warnx("internal: a second result for line sequence %llu "
		    "was dropped", (unsigned long long)seq);
}

/* An error record made by the parent itself, for line seq whose
 * custom_id is id (always the line's own: never a scratch request that
 * may hold another line by now). */
static void parent_error(struct parent *pp, uint64_t seq, uint64_t lineno,
    const struct buf *id, enum errcode code, const char *message,
    unsigned attempts)
{
	struct buf rec = { 0 };
	struct record_error re = { code, message, lineno, attempts };

	record_error(&rec, pp->cfg, seq, id->data, id->len, &re);
	put_result(pp, seq, rec.data, rec.len, rec.len, 0, stats_tag(code, 0));
	if (pp->joblog_fd >= 0)
		joblog_line(&pp->jl, seq, id->data, id->len, wall_ms(), 0,
		    attempts, 0, code, 0, 0, 0);
}

/*
 * A worker silent this long past the time it was given (an attempt's
 * --timeout, or what its last beat said) is taken to be stopped or hung
 * and is killed; its line goes out again as a further attempt.  The margin
 * covers what a worker does after a transfer (judging, deflating a large
 * answer) on a busy machine: killing a worker that was only slow would pay
 * for its request twice.
 */
static uint64_t due_after(uint64_t now, uint64_t ms)
{
	return now + (ms + 10000 + ms / 10) * 1000;
}

/* Slot i was told, or said, that it has until due. */
static void set_due(struct parent *pp, int i, uint64_t due)
{
	pp->slots[i].due_us = due;
	if (pp->watch_due_us == 0 || due < pp->watch_due_us)
		pp->watch_due_us = due;
}

static void send_to(struct parent *pp, int i)
{
	struct slot *s = &pp->slots[i];

	if (write_full(s->req_fd, s->sent.data, s->sent.len) < 0 &&
	    errno != EPIPE)
		die_errno("writing to a worker");
	/* On EPIPE the worker died; its end of file says so shortly. */
	s->busy = 1;
	s->sent_us = now_us();
	set_due(pp, i, due_after(s->sent_us, (uint64_t)pp->cfg->timeout_ms));
}

/* Kill the busy workers silent past their time; find the next due. */
static void watchdog(struct parent *pp)
{
	uint64_t now = now_us(), next = 0;
	int i;

	for (i = 0; i < pp->spawned; i++) {
		struct slot *s = &pp->slots[i];

		if (!s->busy || s->pid <= 0 || s->stalled || s->cancelled)
			continue;
		if (now < s->due_us) {
			if (next == 0 || s->due_us < next)
				next = s->due_us;
			continue;
		}
		s->stalled = 1;
		if (!pp->cfg->quiet)
			warnx("line %llu: its worker was silent for %.1f s, past "
			    "its attempt's time: killed, the line goes out again",
			    (unsigned long long)s->lineno,
			    (now - s->sent_us) / 1e6);
		kill(s->pid, SIGKILL);	/* its end of file buries it */
	}
	pp->watch_due_us = next;
}

static int admit(const struct parent *pp)
{
	const struct config *cfg = pp->cfg;

	return pp->next_seq - pp->ring.next < cfg->max_pending &&
	    pp->ring.bytes < cfg->max_buffer;
}

static int busy_count(const struct parent *pp)
{
	return pp->spawned - pp->nidle - pp->nretired;
}

static int hedgeable(const struct parent *pp);
static void adopt_orphans(struct parent *pp);

/* --hedge is on. */
static int hedging(const struct parent *pp)
{
	return pp->hedge_s > 0 || pp->hedge_x > 0;
}

/* No line can come for a new or an idle worker any more: the input is
 * done and none waits for the pacer.  (A crash still respawns its slot.) */
static int no_more_work(const struct parent *pp)
{
	return pp->input_done && !pp->held && pp->norphans == 0;
}

/*
 * Let idle workers go once no_more_work(): each exits while the last
 * requests are still out, so a run with many workers does not end by
 * waiting for all of them to tear down at once.
 */
static void retire_idle(struct parent *pp)
{
	int keep = hedging(pp) ? hedgeable(pp) : 0;

	while (pp->nidle > keep) {
		struct slot *s = &pp->slots[pp->idle[--pp->nidle]];

		close(s->req_fd);	/* the worker sees end of file */
		s->req_fd = -1;
		s->retired = 1;
		pp->nretired++;
	}
}

static double now_s(void)
{
	return now_us() / 1e6;
}

/*
 * Give the classified request in pp->req (line seq) to an idle worker, if
 * the pacer lets it go now; else hold it and return 0.
 */
static int place(struct parent *pp, uint64_t seq, uint64_t lineno)
{
	long long cost = pacer_correct(&pp->pacer, pp->req.prompt_est) +
	    pp->req.max_out;
	double now = now_s(), at = pacer_ready_at(&pp->pacer, now, cost,
	    busy_count(pp));
	struct msg_request m = {
		lineno, 0,
		pp->req.path.data, pp->req.path.len,
		pp->req.custom_id.data, pp->req.custom_id.len,
		pp->req.body.data, pp->req.body.len
	};
	struct slot *s;
	int i;

	if (at > now) {
		pp->held = 1;
		pp->held_seq = seq;
		pp->held_lineno = lineno;
		pp->wake_at = at;
		if (at - now >= PAUSE_SAY && at > pp->pause_said + PAUSE_SAY &&
		    !pp->cfg->quiet) {
			/* A long pause is not a hang: say so, and why. */
			warnx("pausing %.1f s: %s", at - now,
			    pacer_why(&pp->pacer, now, cost, busy_count(pp)));
			pp->pause_said = at;
		}
		return 0;
	}
	pp->held = 0;
	pacer_sent(&pp->pacer, now, cost);
	i = pp->idle[--pp->nidle];
	s = &pp->slots[i];
	buf_reset(&s->sent);
	msg_request_encode(&s->sent, seq, &m);
	s->seq = seq;
	s->lineno = lineno;
	s->charged = cost;
	s->prompt_est = pp->req.prompt_est;
	s->max_out = pp->req.max_out;
	s->hedged = s->is_copy = 0;
	pp->placed++;
	send_to(pp, i);
	return 1;
}

/*
 * --hedge: a line out longer than the hedge delay (a straggler) gets a
 * copy on an idle worker; the first answer is kept and the other
 * request cut (its worker is killed and replaced).  It costs one more
 * request per hedged line, so at most one line in HEDGE_SHARE is hedged,
 * each at most once, and only when the pacer lets a request go.
 */
#define HEDGE_SHARE 20
#define HEDGE_MIN_SAMPLES 20	/* answers before "Nx the median" is known */

/* The hedge delay now, in microseconds; 0 if off or not yet known. */
static uint64_t hedge_delay_us(const struct parent *pp)
{
	if (pp->hedge_s > 0)
		return (uint64_t)(pp->hedge_s * 1e6);
	if (pp->hedge_x > 0 && pp->st.latency.count >= HEDGE_MIN_SAMPLES)
		return (uint64_t)(pp->hedge_x *
		    (double)hist_quantile(&pp->st.latency, 0.5));
	return 0;
}

/* The other slot that holds slot i's line, or -1. */
static int twin_of(const struct parent *pp, int i)
{
	const struct slot *s = &pp->slots[i];
	int k;

	if (!s->hedged)
		return -1;
	for (k = 0; k < pp->spawned; k++)
		if (k != i && pp->slots[k].busy && pp->slots[k].hedged &&
		    !pp->slots[k].cancelled && pp->slots[k].seq == s->seq)
			return k;
	return -1;
}

/* Lines out but not hedged: each may still want an idle worker. */
static int hedgeable(const struct parent *pp)
{
	int i, n = 0;

	for (i = 0; i < pp->spawned; i++)
		if (pp->slots[i].busy && !pp->slots[i].hedged)
			n++;
	return n;
}

/* Copy the oldest overdue lines to idle workers. */
static void hedge(struct parent *pp)
{
	uint64_t delay, now;

	pp->hedge_due_us = 0;
	if (!hedging(pp) || pp->halted || pp->stopping)
		return;
	delay = hedge_delay_us(pp);
	now = now_us();
	if (delay == 0) {
		pp->hedge_due_us = now + 50000;	/* look again when known */
		return;
	}
	while (pp->nidle > 0 &&
	    pp->st.hedged * HEDGE_SHARE < pp->placed) {
		int i, old = -1;
		struct slot *s, *c;
		double t;

		for (i = 0; i < pp->spawned; i++) {
			s = &pp->slots[i];
			if (s->busy && !s->hedged && (old < 0 ||
			    s->sent_us < pp->slots[old].sent_us))
				old = i;
		}
		if (old < 0)
			return;
		s = &pp->slots[old];
		if (now < s->sent_us + delay) {
			pp->hedge_due_us = s->sent_us + delay;
			return;
		}
		t = now / 1e6;
		if (pacer_ready_at(&pp->pacer, t, s->charged,
		    busy_count(pp)) > t) {
			pp->hedge_due_us = now + 10000;
			return;
		}
		pacer_sent(&pp->pacer, t, s->charged);
		i = pp->idle[--pp->nidle];
		c = &pp->slots[i];
		buf_reset(&c->sent);
		buf_add(&c->sent, s->sent.data, s->sent.len);
		c->seq = s->seq;
		c->lineno = s->lineno;
		c->charged = s->charged;
		c->prompt_est = s->prompt_est;
		c->max_out = s->max_out;
		c->hedged = s->hedged = 1;
		c->is_copy = 1;
		pp->st.hedged++;
		if (pp->cfg->verbose)
			warnx("line %llu: out for %.3f s: hedged",
			    (unsigned long long)s->lineno,
			    (now - s->sent_us) / 1e6);
		send_to(pp, i);
	}
}

/* Slot i answered its line first: cut the twin's request. */
static void hedge_won(struct parent *pp, int i)
{
	int k = twin_of(pp, i);

	if (pp->slots[i].is_copy)
		pp->st.hedge_won++;
	pp->slots[i].hedged = 0;
	if (k < 0)
		return;
	pp->slots[k].cancelled = 1;
	kill(pp->slots[k].pid, SIGKILL);
}

/* A line that is not sent because the run halted. */
static void not_sent(struct parent *pp, uint64_t seq, uint64_t lineno)
{
	buf_reset(&pp->msg);
	buf_addf(&pp->msg, "line %llu: not sent: %s",
	    (unsigned long long)lineno, pp->halt_why);
	parent_error(pp, seq, lineno, &pp->req.custom_id, ERR_NOT_SENT,
	    pp->msg.data, 0);
}

/* Take lines while there is a worker for them; 1 if input is wanted. */
static int dispatch(struct parent *pp)
{
	const struct config *cfg = pp->cfg;
	struct line ln;

	if (pp->norphans > 0)
		adopt_orphans(pp);	/* lines out already come first */
	if (hedging(pp) && pp->nidle > 0 && now_us() >= pp->hedge_due_us)
		hedge(pp);	/* stragglers first: they hold up the output */
	if (pp->held && !pp->stopping) {
		if (pp->halted) {
			pp->held = 0;
			not_sent(pp, pp->held_seq, pp->held_lineno);
		} else if (pp->nidle == 0 ||
		    !place(pp, pp->held_seq, pp->held_lineno))
			return 0;
	}
	while (!pp->input_done && !pp->stopping && !pp->held &&
	    (pp->nidle > 0 || pp->halted) && admit(pp)) {
		enum errcode code;
		uint64_t seq;
		int r = lr_next(&pp->lr, &ln);

		if (r == 0)
			return 1;
		if (r < 0) {
			pp->input_done = 1;
			break;
		}
		if (!ln.too_long && line_is_blank(ln.p, ln.len))
			continue;
		seq = pp->next_seq++;
		if (ln.too_long) {
			code = input_too_long(pp->cls, ln.lineno, ln.len,
			    &pp->req, &pp->msg);
		} else {
			code = input_classify(pp->cls, ln.p, ln.len, ln.lineno,
			    &pp->req, &pp->msg);
		}
		if (pp->resume) {
			int r2 = output_reuse(&pp->sink, seq, ln.lineno,
			    pp->req.custom_id.data, pp->req.custom_id.len,
			    &pp->reused, &pp->msg);

			if (r2 < 0) {
				die_status = EXIT_USAGE;
				die("%s", pp->msg.data);
			}
			/* Only a line that is a request now may keep an
			 * answer: a duplicate custom_id stays a duplicate. */
			if (r2 > 0 && code == ERR_NONE) {
				put_result(pp, seq, xmemdup(pp->reused.data,
				    pp->reused.len), pp->reused.len,
				    pp->reused.len, 0, STATS_REUSED);
				continue;
			}
		}
		if (code != ERR_NONE) {
			if (!cfg->quiet)
				warnx("%s", pp->msg.data);
			parent_error(pp, seq, ln.lineno, &pp->req.custom_id,
			    code, pp->msg.data, 0);
			continue;
		}
		if (pp->halted) {
			not_sent(pp, seq, ln.lineno);
			continue;
		}
		if (!place(pp, seq, ln.lineno))
			return 0;
	}
	return 0;
}

static void halt(struct parent *pp, const char *why)
{
	if (pp->halted)
		return;
	pp->halted = 1;
	pp->halt_why = why;
	if (!pp->cfg->quiet)
		warnx("halting: %s; requests in flight finish, the rest are not sent",
	    why);
}

static void count_result(struct parent *pp, int i, uint64_t seq,
    const struct msg_result *m)
{
	struct stats *st = &pp->st;

	st->requests++;
	st->retries += m->attempts > 1 ? m->attempts - 1 : 0;
	st->prompt_tokens += m->prompt_tokens;
	st->completion_tokens += m->completion_tokens;
	hist_add(&st->latency, m->latency_us);
	stats_stream(st, m->first_token_us, m->completion_tokens,
	    m->latency_us);
	if (m->prompt_tokens > 0) {
		struct slot *sl = &pp->slots[i];
		long long real = m->prompt_tokens + (sl->max_out > 0 ?
		    sl->max_out : (long long)m->completion_tokens);

		pacer_usage(&pp->pacer, sl->charged, sl->prompt_est,
		    m->prompt_tokens, real);
	}
	if (pp->joblog_fd >= 0) {
		msg_request_custom_id(&pp->slots[i].sent, &pp->idbuf);
		joblog_line(&pp->jl, seq, pp->idbuf.data, pp->idbuf.len,
		    m->started_ms, m->latency_us, m->attempts, m->status,
		    m->error, m->prompt_tokens, m->completion_tokens,
		    m->first_token_us);
	}
	pp->finished++;
	if (m->flags & RESULT_OK)
		return;
	pp->requests_failed++;
	if (m->status == 401)
		halt(pp, "the API key was rejected (HTTP 401)");
	else if (m->flags & RESULT_QUOTA)
		halt(pp, "the quota is exhausted (insufficient_quota)");
	else if (pp->halt_count >= 0 &&
	    pp->requests_failed >= (unsigned long long)pp->halt_count)
		halt(pp, "--halt-after: too many failed requests");
	else if (pp->halt_percent >= 0 && pp->finished >= 20 &&
	    pp->requests_failed * 100 >= pp->halt_percent * pp->finished)
		halt(pp, "--halt-after: too many failed requests");
}

static void mark_idle(struct parent *pp, int i)
{
	pp->slots[i].busy = 0;
	pp->idle[pp->nidle++] = i;
}

/* Inflate a result of len bytes (rawlen inflated) onto the end of out. */
static void inflate_onto(struct parent *pp, struct buf *out, const char *data,
    size_t len, size_t rawlen)
{
	buf_grow(out, rawlen);
	inflateReset(&pp->z);
	pp->z.next_in = (unsigned char *)data;
	pp->z.avail_in = len;
	pp->z.next_out = (unsigned char *)out->data + out->len;
	pp->z.avail_out = rawlen;
	if (inflate(&pp->z, Z_FINISH) != Z_STREAM_END || pp->z.avail_out != 0)
		die("internal: a result did not inflate");
	out->len += rawlen;
	out->data[out->len] = 0;
}

/* A success that must wait for earlier lines: journal it (-o, in the
 * record format: the only one --resume reads). */
static void journal(struct parent *pp, uint64_t seq, const struct msg_result *m)
{
	if (!(m->flags & RESULT_OK) || pp->cfg->format != FORMAT_RECORD ||
	    !output_journaling(&pp->sink))
		return;
	buf_reset(&pp->scratch);
	inflate_onto(pp, &pp->scratch, m->data, m->len, m->rawlen);
	output_journal(&pp->sink, seq, pp->scratch.data, pp->scratch.len);
}

/* Use every complete frame in the worker's buffer; -1 on nonsense. */
static int take_frames(struct parent *pp, int i, struct buf *b)
{
	struct slot *s = &pp->slots[i];
	size_t off = 0;
	int rc = 0;

	for (;;) {
		struct frame f;
		struct msg_result m;
		long used = frame_decode(b->data + off, b->len - off,
		    UINT32_MAX, &f);

		if (used == 0)
			break;
		if (used > 0 && f.type == FRAME_HINT) {
			struct msg_hint h;
			struct ratelimit_hint rh;

			if (msg_hint_decode(&f, &h) < 0) {
				rc = -1;
				break;
			}
			off += used;
			rh.limit_requests = h.limit_requests;
			rh.remaining_requests = h.remaining_requests;
			rh.limit_tokens = h.limit_tokens;
			rh.remaining_tokens = h.remaining_tokens;
			rh.reset_requests = h.reset_requests_us < 0 ? -1 :
			    h.reset_requests_us / 1e6;
			rh.reset_tokens = h.reset_tokens_us < 0 ? -1 :
			    h.reset_tokens_us / 1e6;
			rh.cooldown = h.cooldown_us < 0 ? -1 :
			    h.cooldown_us / 1e6;
			pacer_hint(&pp->pacer, now_s(), &rh);
			continue;
		}
		if (used > 0 && f.type == FRAME_BEAT) {
			uint64_t ms;

			if (msg_beat_decode(&f, &ms) < 0) {
				rc = -1;
				break;
			}
			off += used;
			if (s->busy && f.seq == s->seq)
				set_due(pp, i, due_after(now_us(), ms));
			continue;
		}
		if (used < 0 || f.type != FRAME_RESULT ||
		    msg_result_decode(&f, &m) < 0 || !s->busy ||
		    f.seq != s->seq) {
			rc = -1;
			break;
		}
		off += used;
		if (s->cancelled)
			continue;	/* too late: its twin answered */
		if (s->hedged)
			hedge_won(pp, i);
		if (!reorder_has(&pp->ring, f.seq)) {
			if (f.seq != pp->ring.next)
				journal(pp, f.seq, &m);
			put_result(pp, f.seq, xmemdup(m.data, m.len), m.len,
			    m.rawlen, 1, stats_tag(m.error,
			    (m.flags & RESULT_OK) != 0));
			count_result(pp, i, f.seq, &m);
		}
		pp->idle_deaths = 0;
		mark_idle(pp, i);
	}
	buf_consume(b, off);
	return rc;
}

/* Workers running or able to run: neither let go nor lost. */
static int live_workers(const struct parent *pp)
{
	return pp->spawned - pp->nretired;
}

/* The run can't go on for want of a worker: every line not yet sent gets
 * a not_sent record that says why, and the exit status is 4. */
static void halt_broken(struct parent *pp)
{
	if (pp->broken)
		return;
	pp->broken = 1;
	buf_add(&pp->broken_why, pp->no_worker.data, pp->no_worker.len);
	halt(pp, pp->broken_why.data);
}

/* A worker could not be started (pp->no_worker says why): go on with
 * those there are, or, with none, halt. */
static void short_of_workers(struct parent *pp)
{
	int n = live_workers(pp);

	if (pp->broken)
		return;
	if (n == 0)
		halt_broken(pp);
	else if (!pp->cfg->quiet)
		warnx("%s: going on with %d worker%s", pp->no_worker.data, n,
		    n == 1 ? "" : "s");
}

/* Slot i's worker is gone and none is started in its place: the slot is
 * let go for good. */
static void lose_slot(struct parent *pp, int i)
{
	struct slot *s = &pp->slots[i];

	s->pid = 0;
	s->busy = 0;
	s->retired = 1;
	pp->nretired++;
	short_of_workers(pp);
}

/* The line slot s held, whose worker died on its last attempt (or when
 * no more may be made): its record, with message m ("line N: ..."). */
static void crashed(struct parent *pp, struct slot *s, unsigned attempts,
    const struct buf *m)
{
	struct buf id = { 0 };

	/* The dead line's own id: pp->req may hold a line the pacer is
	 * holding. */
	msg_request_custom_id(&s->sent, &id);
	parent_error(pp, s->seq, s->lineno, &id, ERR_WORKER_CRASHED, m->data,
	    attempts);
	pp->requests_failed++;
	pp->finished++;
	pp->st.requests++;
	pp->st.retries += attempts - 1;
	buf_release(&id);
}

/*
 * Orphans: lines whose worker died and could not be replaced.  Each goes
 * to an idle worker as soon as there is one; when there will be none
 * (the run halted for want of workers, or is stopping) it gets its record.
 */
static void adopt_orphans(struct parent *pp)
{
	int k;

	for (k = 0; k < pp->spawned && pp->norphans > 0; k++) {
		struct slot *o = &pp->slots[k], *c;
		int i;

		if (!o->orphan)
			continue;
		if (pp->stopping || pp->broken) {
			buf_reset(&pp->msg);
			buf_addf(&pp->msg, "line %llu: its worker died after "
			    "%u attempt(s), and no other was there to try "
			    "again (%s)", (unsigned long long)o->lineno,
			    o->orphan, pp->broken ? pp->broken_why.data :
			    "interrupted");
			crashed(pp, o, o->orphan, &pp->msg);
		} else if (pp->nidle > 0) {
			i = pp->idle[--pp->nidle];
			c = &pp->slots[i];
			buf_reset(&c->sent);
			buf_add(&c->sent, o->sent.data, o->sent.len);
			c->seq = o->seq;
			c->lineno = o->lineno;
			c->charged = o->charged;
			c->prompt_est = o->prompt_est;
			c->max_out = o->max_out;
			c->hedged = c->is_copy = 0;
			send_to(pp, i);
		} else {
			return;
		}
		o->orphan = 0;
		pp->norphans--;
	}
}

/* A worker is gone: account for the line it held and start another. */
static void bury(struct parent *pp, int i)
{
	const struct config *cfg = pp->cfg;
	struct slot *s = &pp->slots[i];
	int st = 0, held = s->busy;
	unsigned resend = 0;	/* attempts made, if it is to be resent */
	char how[64];

	watch(pp, i, 0);
	close(s->res_fd);
	if (s->req_fd >= 0)
		close(s->req_fd);
	s->res_fd = s->req_fd = -1;
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (s->retired) {
		s->pid = 0;	/* let go, and gone: nothing to account for */
		return;
	}
	if (s->stalled)
		snprintf(how, sizeof(how), "the worker went silent (killed)");
	else
		snprintf(how, sizeof(how), "the worker died (%s %d)",
		    WIFSIGNALED(st) ? "signal" : "exit status",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (s->cancelled || (held && twin_of(pp, i) >= 0)) {
		/* Cut for its twin, or died while the twin still holds the
		 * line: the twin answers for it (and is not hedged again). */
		s->cancelled = s->hedged = 0;
	} else if (!held) {
		/* Not the line's fault; but a worker that can't start at
		 * all would otherwise be respawned for ever. */
		for (int k = 0; k < pp->nidle; k++)
			if (pp->idle[k] == i)
				pp->idle[k] = pp->idle[--pp->nidle];
		if (++pp->idle_deaths > (unsigned)cfg->jobs + 10 &&
		    !pp->broken) {
			buf_reset(&pp->no_worker);
			buf_addf(&pp->no_worker, "workers keep dying as they "
			    "start (the last: %s)", how);
			halt_broken(pp);
		}
	} else if (!reorder_has(&pp->ring, s->seq)) {
		unsigned attempts = msg_request_bump_attempts(&s->sent);

		if (attempts > (unsigned)cfg->retries || pp->stopping) {
			buf_reset(&pp->msg);
			buf_addf(&pp->msg, "line %llu: %s on each of %u "
			    "attempt(s)", (unsigned long long)s->lineno, how,
			    attempts);
			crashed(pp, s, attempts, &pp->msg);
		} else {
			resend = attempts;
		}
	}
	if (pp->broken || spawn(pp, i) < 0) {
		if (resend) {
			s->orphan = resend;	/* another worker takes it */
			pp->norphans++;
		}
		lose_slot(pp, i);
		adopt_orphans(pp);
		return;
	}
	if (resend)
		send_to(pp, i);
	else
		mark_idle(pp, i);
}

#define READ_SIZE	65536	/* bytes one read(2) of a worker asks for */

/* Read what a worker sent; bury it if it is gone.  Reads go to one buffer
 * shared by every slot, and only the start of a frame that has not all
 * arrived is kept in the slot's own: 256 slots of 128 KB each would be
 * 32 MB of address space that every later fork() copies the mapping of
 * and every write after it faults on. */
static void collect(struct parent *pp, int i)
{
	struct slot *s = &pp->slots[i];

	for (;;) {
		struct buf *b = s->rx.len > 0 ? &s->rx : &pp->rbuf;
		ssize_t n;

		buf_grow(b, READ_SIZE);
		n = read(s->res_fd, b->data + b->len, READ_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			die_errno("reading from a worker");
		}
		if (n == 0) {
			if (take_frames(pp, i, &s->rx) < 0)
				kill(s->pid, SIGKILL);
			bury(pp, i);
			return;
		}
		b->len += n;
		if (take_frames(pp, i, b) < 0) {
			warnx("internal: worker %ld sent nonsense; replacing it",
			    (long)s->pid);
			kill(s->pid, SIGKILL);
			buf_reset(&pp->rbuf);
			buf_release(&s->rx);
			bury(pp, i);
			return;
		}
		if (b == &pp->rbuf && b->len > 0) {
			buf_add(&s->rx, b->data, b->len);
			buf_reset(b);
		} else if (b == &s->rx && b->len == 0) {
			buf_release(b);	/* whole again: hold nothing */
		}
		if (n < READ_SIZE)
			break;
	}
}

/* Collect worker i and, if that left a worker idle, give out the next
 * line now rather than after every other ready worker is read: at
 * -P 256 a round's answers come together, and the worker read first
 * would wait for the rest. */
static void collect_then_dispatch(struct parent *pp, int i)
{
	int idle = pp->nidle;

	collect(pp, i);
	if (pp->nidle > idle && signals_seen == 0)
		(void)dispatch(pp);
}

/* Collect each worker the epoll set EPFD says has something to read. */
static void collect_ready(struct parent *pp, int epfd)
{
#ifdef HAVE_EPOLL
	struct epoll_event ev[64];	/* the rest come next turn */
	int k, m = epoll_wait(epfd, ev, 64, 0);

	for (k = 0; k < m; k++)
		collect_then_dispatch(pp, (int)ev[k].data.u32);
#else
	(void)pp;
	(void)epfd;
#endif
}

/* The reader of standard output is gone (| head): leave as cat does. */
static void broken_pipe(struct parent *pp)
{
	int i;

	for (i = 0; i < pp->spawned; i++)
		if (pp->slots[i].pid > 0)
			kill(pp->slots[i].pid, SIGKILL);
	for (i = 0; i < pp->spawned; i++)
		if (pp->slots[i].pid > 0)
			waitpid(pp->slots[i].pid, NULL, 0);
	if (pp->counter_pid > 0)
		kill(pp->counter_pid, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	_exit(EXIT_INTERNAL);
}

/* Count the first n records of pp->out as written. */
static void count_written(struct parent *pp, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		stats_written(&pp->st, (unsigned char)pp->out_tags.data[k]);
	buf_consume(&pp->out_tags, n);
}

/*
 * Write what pp->out holds; 1 if a signal came first (the rest stays for
 * the next call, after the loop has heard the signal), else 0.
 */
static int write_out(struct parent *pp)
{
	int r;

	if (pp->out.len == 0)
		return 0;
	r = output_write(&pp->sink, pp->out.data, pp->out.len, &pp->out_off,
	    &signals_seen, -1);
	if (r < 0) {
		if (errno == EPIPE && pp->out_path == NULL)
			broken_pipe(pp);
		die_errno("%s", pp->out_path ? pp->out_path : "standard output");
	}
	if (r > 0)
		return 1;
	count_written(pp, pp->out_tags.len);
	buf_reset(&pp->out);
	pp->out_off = 0;
	return 0;
}

/*
 * Aborting: end the output with the record being written, if one was
 * cut, so it holds whole records only, and count those; the rest of
 * pp->out is dropped.  A reader that reads nothing gets ABORT_GRACE_MS for
 * that, and a further signal stops it at once: then the output ends cut,
 * and stderr says so.
 */
static void write_out_aborting(struct parent *pp)
{
	const char *nl;
	size_t end = pp->out_off, n = 0;

	if (end > 0 && pp->out.data[end - 1] != '\n' &&
	    (nl = memchr(pp->out.data + end, '\n', pp->out.len - end)) != NULL)
		end = (size_t)(nl - pp->out.data) + 1;
	if (end > pp->out_off && output_write(&pp->sink, pp->out.data, end,
	    &pp->out_off, &signals_seen, ABORT_GRACE_MS) != 0 &&
	    pp->out_off < end)
		warnx("the output ends with a cut record: its reader is not "
		    "reading");
	for (nl = pp->out.data; nl < pp->out.data + pp->out_off &&
	    (nl = memchr(nl, '\n', (size_t)(pp->out.data + pp->out_off -
	    nl))) != NULL; nl++)
		n++;
	count_written(pp, n);
	buf_reset(&pp->out);
	pp->out_off = 0;
}

static void write_joblog(struct parent *pp)
{
	if (pp->joblog_fd < 0 || pp->jl.len == 0)
		return;
	if (write_full(pp->joblog_fd, pp->jl.data, pp->jl.len) < 0)
		die_errno("--joblog %s", pp->joblog_path);
	buf_reset(&pp->jl);
}

static void draw_progress(struct parent *pp, int final)
{
	struct buf line = { 0 };
	uint64_t now = now_us();

	if (!pp->progress || (!final && now - pp->drawn_at < DRAW_US))
		return;
	pp->drawn_at = now;
	stats_rate(&pp->st, now);
	buf_adds(&line, "\r");
	if (!final) {
		buf_adds(&line, "splitgpt: ");
		stats_progress(&pp->st, now, &line);
	}
	buf_adds(&line, "\033[K");
	(void)write_full(2, line.data, line.len);
	pp->drawn = !final;
	buf_release(&line);
}

/* A child that counts the input's lines, for the progress line's total. */
static void start_counter(struct parent *pp)
{
	struct stat sb;
	int p[2];

	pp->counter_fd = -1;
	if (fstat(0, &sb) < 0 || !S_ISREG(sb.st_mode) || pipe(p) < 0)
		return;
	pp->counter_pid = fork();
	if (pp->counter_pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pp->counter_pid == 0) {
		char num[32];
		int n;

		close(p[0]);
		n = snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)count_lines(0));
		(void)write_full(p[1], num, n);
		_exit(0);
	}
	close(p[1]);
	pp->counter_fd = p[0];
}

static void read_counter(struct parent *pp)
{
	char num[32];
	ssize_t n = read(pp->counter_fd, num, sizeof(num) - 1);

	if (n > 0) {
		num[n] = 0;
		pp->st.total = strtoull(num, NULL, 10);
	}
	close(pp->counter_fd);
	pp->counter_fd = -1;
	waitpid(pp->counter_pid, NULL, 0);
	pp->counter_pid = 0;
}

/* Write every result whose predecessors are all written; how many were
 * taken from the ring.  A signal stops it early (write_out). */
static size_t flush_ready(struct parent *pp)
{
	struct reorder_slot r;
	size_t n = 0;

	if (write_out(pp))
		return 0;	/* what a signal cut short, first */
	while (reorder_take(&pp->ring, &r)) {
		n++;
		if (!r.compressed)
			buf_add(&pp->out, r.data, r.len);
		else
			inflate_onto(pp, &pp->out, r.data, r.len, r.rawlen);
		buf_addc(&pp->out_tags, (char)r.tag);
		free(r.data);
		if (pp->out.len >= OUT_FLUSH && write_out(pp))
			return n;
	}
	write_out(pp);
	write_joblog(pp);
	return n;
}

static void run(struct parent *pp)
{
	const struct config *cfg = pp->cfg;
	struct pollfd *pfd = xcalloc(cfg->jobs + 4, sizeof(*pfd));
	int i, want_input;

	if (pp->progress)
		start_counter(pp);
	for (;;) {
		int n = 0, first_worker, other, timeout, epoll = 0;

		/* Fork the workers a few at a time, so the first lines go
		 * out while the rest start, not after. */
		for (i = 0; i < SPAWN_BATCH && pp->spawned < pp->jobs &&
		    !no_more_work(pp); i++) {
			if (spawn(pp, pp->spawned) < 0) {
				pp->jobs = pp->spawned;
				short_of_workers(pp);
				break;
			}
			mark_idle(pp, pp->spawned);
			pp->spawned++;
		}

		if (signals_seen == 1 && !pp->stopping) {
			pp->stopping = 1;
			/* Requests in flight finish their attempt and make no
			 * more; their records are written, then we stop. */
			for (i = 0; i < pp->spawned; i++)
				if (pp->slots[i].pid > 0 && !pp->slots[i].retired)
					kill(pp->slots[i].pid, SIGUSR1);
			draw_progress(pp, 1);
			if (!cfg->quiet) {
				int b = busy_count(pp);

				warnx("interrupted: finishing the %d request%s "
				    "in flight (again to abort)", b,
				    b == 1 ? "" : "s");
			}
		}
		if (signals_seen >= 2)
			break;
		if (pp->watch_due_us > 0 && now_us() >= pp->watch_due_us)
			watchdog(pp);
		want_input = dispatch(pp);
		/* Writing moves the window: if dispatch stopped at its edge,
		 * it may go on now. */
		if (flush_ready(pp) > 0 && !want_input)
			continue;
		if (((pp->input_done && !pp->held) || pp->stopping) &&
		    busy_count(pp) == 0 && pp->norphans == 0)
			break;
		if (no_more_work(pp))
			retire_idle(pp);
		if (want_input && !pp->lr.eof) {
			pfd[n].fd = 0;
			pfd[n].events = POLLIN;
			n++;
		}
		first_worker = n;
		if (pp->epfd >= 0) {
			epoll = 1;
			pfd[n].fd = pp->epfd;
			pfd[n].events = POLLIN;
			n++;
		} else {
			for (i = 0; i < pp->spawned; i++) {
				pfd[n].fd = pp->slots[i].res_fd;
				pfd[n].events = POLLIN;
				n++;
			}
		}
		other = n;
		if (pp->out_path == NULL) {
			/* No events asked: POLLERR says the reader is gone. */
			pfd[n].fd = 1;
			pfd[n].events = 0;
			n++;
		}
		if (pp->counter_fd >= 0) {
			pfd[n].fd = pp->counter_fd;
			pfd[n].events = POLLIN;
			n++;
		}
		pfd[n].fd = sig_pipe[0];
		pfd[n].events = POLLIN;
		n++;
		if (want_input && pp->lr.eof) {
			/* Nothing to wait for: lr_next finishes the input. */
			continue;
		}
		draw_progress(pp, 0);
		timeout = pp->progress ? DRAW_US / 1000 : -1;
		if (pp->spawned < pp->jobs && !no_more_work(pp))
			timeout = 0;	/* more workers to start */
		if (pp->hedge_due_us > 0 && pp->nidle > 0 &&
		    busy_count(pp) > 0) {
			/* Wake when the oldest line is due a copy. */
			uint64_t t = now_us();
			int w = pp->hedge_due_us <= t ? 0 :
			    (int)((pp->hedge_due_us - t) / 1000) + 1;

			if (timeout < 0 || w < timeout)
				timeout = w;
		}
		if (pp->watch_due_us > 0 && busy_count(pp) > 0) {
			/* Wake when a worker is due to have said something. */
			uint64_t t = now_us();
			int w = pp->watch_due_us <= t ? 0 :
			    (int)((pp->watch_due_us - t) / 1000) + 1;

			if (timeout < 0 || w < timeout)
				timeout = w;
		}
		if (pp->held && pp->nidle > 0) {
			/* Wake when the pacer lets the held request go. */
			double ms = (pp->wake_at - now_s()) * 1000;
			int w = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms + 1;

			if (timeout < 0 || w < timeout)
				timeout = w;
		}
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die_errno("poll");
		}
		if (first_worker == 1 && pfd[0].revents)
			lr_fill(&pp->lr);
		if (epoll && pfd[first_worker].revents)
			collect_ready(pp, pfd[first_worker].fd);
		for (i = first_worker; !epoll && i < other; i++)
			if (pfd[i].revents)
				collect_then_dispatch(pp, i - first_worker);
		for (i = other; i < n; i++) {
			if (pfd[i].fd == 1 && (pfd[i].revents & (POLLERR | POLLHUP)))
				broken_pipe(pp);
			if (pfd[i].fd == pp->counter_fd && pfd[i].revents)
				read_counter(pp);
			if (pfd[i].fd == sig_pipe[0] && pfd[i].revents) {
				char drain[64];

				/* signals_seen says what came; the loop's top
				 * deals with it. */
				while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
					;
			}
		}
	}
	free(pfd);
}

/* Append a header line to the NULL-terminated list. */
static void push_header(struct config *cfg, const char *h)
{
	cfg->headers = xrealloc(cfg->headers,
	    (cfg->nheaders + 2) * sizeof(char *));
	cfg->headers[cfg->nheaders++] = xstrdup(h);
	cfg->headers[cfg->nheaders] = NULL;
}

static void read_header_file(struct config *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		die_errno("-H @%s", path);
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		if (strchr(line, ':') == NULL)
			die("-H @%s: \"%s\" is not NAME: VALUE", path, line);
		push_header(cfg, line);
	}
	free(line);
	fclose(f);
}

static void add_header(struct config *cfg, const char *h)
{
	if (h[0] == '@') {
		read_header_file(cfg, h + 1);
		return;
	}
	if (strchr(h, ':') == NULL || strpbrk(h, "\r\n") != NULL)
		die("-H %s: not NAME: VALUE", h);
	push_header(cfg, h);
}

enum {
	OPT_SYSTEM = 256, OPT_MAX_TOKENS, OPT_TEMPERATURE, OPT_ENDPOINT,
	OPT_TEXT, OPT_FORMAT, OPT_BASE_URL, OPT_CONNECT_TIMEOUT, OPT_TIMEOUT,
	OPT_MAX_TIME, OPT_RETRIES, OPT_BACKOFF_MAX, OPT_MAX_RETRY_WAIT,
	OPT_HALT_AFTER, OPT_MAX_LINE, OPT_MAX_RESPONSE, OPT_MAX_DEPTH,
	OPT_MAX_PENDING, OPT_MAX_BUFFER, OPT_RESUME, OPT_PROGRESS,
	OPT_NO_PROGRESS, OPT_STATS, OPT_JOBLOG, OPT_PRICE_IN, OPT_PRICE_OUT,
	OPT_RPM, OPT_TPM, OPT_API_KEY_FILE, OPT_INSECURE, OPT_CACERT, OPT_STREAM, OPT_IDLE_TIMEOUT,
	OPT_HEDGE, OPT_ALLOW_DUP_IDS
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

/*
 * A value from the environment, a file or the command line (from names
 * it, what says what it is), less the blanks and line ends around it,
 * which a copied value or a file saved on Windows brings along; NULL if
 * nothing is left.  A control character inside is a usage error, since a
 * line break in a header starts a header of its own, and so is a space
 * when no_space is set.  The message names the byte, never the value,
 * which may be a key.
 */
static char *tidy(const char *raw, const char *from, const char *what,
    int no_space)
{
	const char *k = raw, *e, *p;

	while (*k && strchr(" \t\r\n", *k))
		k++;
	for (e = k + strlen(k); e > k && strchr(" \t\r\n", e[-1]); e--)
		;
	for (p = k; p < e; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f ||
		    (no_space && *p == ' '))
			die("%s: the %s has %s at byte %zu", from, what,
			    *p == '\n' || *p == '\r' ? "a line break" :
			    *p == ' ' ? "a space" : "a control character",
			    (size_t)(p - raw) + 1);
	return e > k ? xmemdup(k, e - k) : NULL;
}

/* The key from --api-key-file: its first line, tidied. */
static char *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *k;
	struct buf from = { 0 };
	size_t cap = 0;

	if (f == NULL)
		die_errno("--api-key-file %s", path);
	if (getline(&line, &cap, f) < 0)
		die("--api-key-file %s: empty", path);
	fclose(f);
	buf_addf(&from, "--api-key-file %s", path);
	if ((k = tidy(line, from.data, "key", 0)) == NULL)
		die("%s: empty", from.data);
	buf_release(&from);
	memset(line, 0, cap);
	free(line);
	return k;
}

/* The host of url (after any user:pass@; "[::1]" with its brackets),
 * and its length in *n; NULL if url has no "scheme://". */
static const char *url_host(const char *url, size_t *n)
{
	const char *h = strstr(url, "://"), *at;
	size_t auth;

	if (h == NULL)
		return NULL;
	h += 3;
	auth = strcspn(h, "/?#");
	if ((at = memchr(h, '@', auth)) != NULL)
		h = at + 1;
	if (*h == '[') {	/* an IPv6 address: up to its ']' */
		*n = strcspn(h, "]/?#");
		if (h[*n] == ']')
			(*n)++;
	} else
		*n = strcspn(h, ":/?#");
	return h;
}

/*
 * Whether sending a key to url is fine: https, or plain http to this
 * machine (127.0.0.0/8, ::1, localhost).
 */
static int loopback_http_ok(const char *url)
{
	const char *h;
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return 1;
	h = url_host(url, &n);
	if (n == 5 && strncmp(h, "[::1]", 5) == 0)
		return 1;
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	if (n >= 4 && strncmp(h, "127.", 4) == 0 &&
	    strspn(h, "0123456789.") == n)
		return 1;
	return 0;
}

/*
 * Whether a run without a key is sure to be refused: OpenAI's own API
 * wants one, and no -H header brings an Authorization of the user's own.
 * (A local server, a proxy or Azure's api-key header may need none.)
 */
static int key_missing(const struct config *cfg)
{
	const char *h;
	size_t n;
	int i;

	if (cfg->api_key && *cfg->api_key)
		return 0;
	h = url_host(cfg->base_url, &n);
	if (h == NULL || n != 14 || strncasecmp(h, "api.openai.com", 14) != 0)
		return 0;
	for (i = 0; i < cfg->nheaders; i++)
		if (strncasecmp(cfg->headers[i], "Authorization:", 14) == 0)
			return 0;
	return 1;
}

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

static void parse_options(int argc, char **argv, struct config *cfg,
    struct parent *pp)
{
	const char *env = getenv("OPENAI_BASE_URL");
	const char *key_file = NULL;
	long long pending = -1;
	int c, longindex = -1, progress = -1;
	const char *url_from = "OPENAI_BASE_URL";
	char *url;
	size_t n;

	cfg->jobs = 8;
	cfg->base_url = env && *env ? env : "https://api.openai.com/v1";
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
	pp->halt_count = -1;
	pp->halt_percent = -1;

	while ((c = getopt_long(argc, argv, "P:m:d:H:o:qvhV", longopts,
	    &longindex)) != -1) {
		/* Errors name the option the way it was written. */
		const char *name = longindex >= 0 ? longname(longindex) : NULL;

		longindex = -1;
		switch (c) {
		case 'P':
			cfg->jobs = parse_num(name ? name : "-P", optarg, 1,
			    MAX_JOBS);
			break;
		case 'm':
			cfg->model = optarg;
			break;
		case OPT_SYSTEM:
			cfg->system = optarg;
			break;
		case OPT_MAX_TOKENS:
			cfg->max_tokens = parse_num("--max-tokens", optarg, 1,
			    100000000);
			break;
		case OPT_TEMPERATURE:
			cfg->temperature = optarg;
			break;
		case 'd':
			cfg->body_defaults = optarg;
			break;
		case OPT_ENDPOINT:
			if (optarg[0] != '/')
				die("--endpoint %s: not a path such as "
				    "/v1/chat/completions", optarg);
			cfg->endpoint = optarg;
			break;
		case OPT_TEXT:
			cfg->text = 1;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "record") == 0)
				cfg->format = FORMAT_RECORD;
			else if (strcmp(optarg, "content") == 0)
				cfg->format = FORMAT_CONTENT;
			else
				die("--format %s: not record or content",
				    optarg);
			break;
		case OPT_BASE_URL:
			cfg->base_url = optarg;
			url_from = "--base-url";
			break;
		case 'H':
			add_header(cfg, optarg);
			break;
		case OPT_CONNECT_TIMEOUT:
			cfg->connect_timeout_ms = seconds_ms("--connect-timeout",
			    optarg, 0.001);
			break;
		case OPT_TIMEOUT:
			cfg->timeout_ms = seconds_ms("--timeout", optarg, 0.001);
			break;
		case OPT_MAX_TIME:
			cfg->max_time_ms = seconds_ms("--max-time", optarg, 0);
			break;
		case OPT_STREAM:
			cfg->stream = 1;
			break;
		case OPT_IDLE_TIMEOUT:
			/* 0 turns it off. */
			cfg->idle_timeout_ms = seconds_ms("--idle-timeout",
			    optarg, 0);
			break;
		case OPT_RETRIES:
			cfg->retries = parse_num("--retries", optarg, 0, 100);
			break;
		case OPT_HEDGE:
			/* S seconds, or Nx the median latency; 0 is off. */
			n = strlen(optarg);
			pp->hedge_s = pp->hedge_x = 0;
			if (n > 1 && (optarg[n - 1] == 'x' ||
			    optarg[n - 1] == 'X')) {
				char x[32];

				if (n >= sizeof(x))
					die("--hedge %s: not S or Nx", optarg);
				memcpy(x, optarg, n - 1);
				x[n - 1] = 0;
				pp->hedge_x = parse_real("--hedge", x, 1, 1000);
			} else {
				pp->hedge_s = parse_seconds("--hedge", optarg,
				    0, 86400);
			}
			break;
		case OPT_BACKOFF_MAX:
			cfg->backoff_max_ms = seconds_ms("--backoff-max", optarg,
			    0);
			break;
		case OPT_MAX_RETRY_WAIT:
			cfg->max_retry_wait_ms = seconds_ms("--max-retry-wait",
			    optarg, 0);
			break;
		case OPT_HALT_AFTER:
			n = strlen(optarg);
			if (n > 1 && optarg[n - 1] == '%') {
				char pct[32];

				if (n >= sizeof(pct))
					die("--halt-after %s: not N or N%%",
					    optarg);
				memcpy(pct, optarg, n - 1);
				pct[n - 1] = 0;
				pp->halt_percent = parse_num("--halt-after",
				    pct, 1, 100);
			} else {
				pp->halt_count = parse_num("--halt-after",
				    optarg, 1, 1000000000);
			}
			break;
		case OPT_MAX_LINE:
			cfg->max_line = parse_size("--max-line-length", optarg,
			    64, 1LL << 30);
			break;
		case OPT_MAX_RESPONSE:
			cfg->max_response = parse_size("--max-response-size",
			    optarg, 1024, 1LL << 31);
			break;
		case OPT_MAX_DEPTH:
			cfg->max_depth = parse_num("--max-depth", optarg, 2,
			    10000);
			break;
		case OPT_MAX_PENDING:
			pending = parse_num("--max-pending", optarg, 1,
			    1 << 24);
			break;
		case OPT_MAX_BUFFER:
			cfg->max_buffer = parse_size("--max-buffer", optarg,
			    4096, 1LL << 40);
			break;
		case OPT_ALLOW_DUP_IDS:
			cfg->allow_dup_ids = 1;
			break;
		case OPT_API_KEY_FILE:
			key_file = optarg;
			break;
		case OPT_INSECURE:
			cfg->insecure = 1;
			break;
		case OPT_CACERT:
			if (access(optarg, R_OK) != 0)
				die_errno("--cacert %s", optarg);
			cfg->cacert = optarg;
			break;
		case OPT_RPM:
			pp->rpm = parse_real("--rpm", optarg, 0.001, 1e9);
			break;
		case OPT_TPM:
			pp->tpm = parse_real("--tpm", optarg, 1, 1e12);
			break;
		case 'o':
			pp->out_path = optarg;
			break;
		case OPT_RESUME:
			pp->resume = 1;
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case OPT_STATS:
			pp->stats_path = optarg;
			break;
		case OPT_JOBLOG:
			pp->joblog_path = optarg;
			break;
		case OPT_PRICE_IN:
			pp->st.price_in = parse_real("--price-in", optarg, 0,
			    1e6);
			break;
		case OPT_PRICE_OUT:
			pp->st.price_out = parse_real("--price-out", optarg,
			    0, 1e6);
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
			usage();
		}
	}
	if (optind != argc) {
		warnx("%s: unexpected argument (input comes on standard input)",
		    argv[optind]);
		usage();
	}
	if (pp->resume && pp->out_path == NULL)
		die("--resume needs -o FILE: the file to resume");
	if (pp->resume && cfg->format != FORMAT_RECORD)
		die("--resume needs --format record: content lines have no "
		    "custom_id to match");
	/* --progress wins; else -q or --no-progress; else a terminal. */
	pp->progress = progress >= 0 ? progress :
	    !cfg->quiet && isatty(2);
	if ((url = tidy(cfg->base_url, url_from, "URL", 1)) == NULL)
		die("%s: empty", url_from);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		die("%s %s: not an http:// or https:// URL", url_from, url);
	cfg->base_url = url;	/* url_join drops trailing slashes */
	if (pending < 0)
		pending = cfg->jobs * 64 > 1024 ? cfg->jobs * 64 : 1024;
	if (pending < cfg->jobs)
		pending = cfg->jobs;	/* fewer would leave workers idle */
	cfg->max_pending = pending;
	if (cfg->max_response > (size_t)UINT32_MAX / 2)
		cfg->max_response = UINT32_MAX / 2;
	if (key_file)
		cfg->api_key = read_key(key_file);
	else if (getenv("OPENAI_API_KEY"))
		cfg->api_key = tidy(getenv("OPENAI_API_KEY"),
		    "OPENAI_API_KEY", "key", 0);
	if (cfg->insecure)
		warnx("warning: --insecure: TLS certificates are not checked; "
		    "anyone on the path can read the key and the answers");
	if (cfg->api_key && *cfg->api_key && !loopback_http_ok(cfg->base_url))
		warnx("warning: the API key goes over plain http to %s; "
		    "use https unless this network is yours", cfg->base_url);
	if (key_missing(cfg))
		warnx("warning: no API key (set OPENAI_API_KEY, or give "
		    "--api-key-file): api.openai.com will refuse every "
		    "request");
	/* The classifier checks -d and --temperature; fail here, as a
	 * usage error, rather than later. */
	classifier_free(classifier_new(cfg));
}

/*
 * A descriptor 0, 1 or 2 that whoever started us closed would be the next
 * one that pipe(2), open(2) or epoll_create1(2) hands out: a worker's pipe
 * or the epoll set would be read as the input, or written as the output.
 * So each closed one is held by /dev/null, opened the other way round: a
 * read of standard input, or a write of standard output, still fails with
 * EBADF as on the closed descriptor, and is reported as such.
 */
static void hold_std_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) < 0)
			return;	/* then nothing else opens either */
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct parent pp;
	struct sigaction sa, old_hup;
	int i, status;

	hold_std_fds();
	/* Usage errors exit 2 wherever parsing dies. */
	pp.cfg = &cfg;
	stats_init(&pp.st);
	die_status = EXIT_USAGE;
	parse_options(argc, argv, &cfg, &pp);
	die_status = EXIT_INTERNAL;
	pp.joblog_fd = -1;
	pp.counter_fd = -1;
#ifdef HAVE_EPOLL
	pp.epfd = epoll_create1(EPOLL_CLOEXEC);
#else
	pp.epfd = -1;
#endif
	if (pp.joblog_path) {
		pp.joblog_fd = open(pp.joblog_path,
		    O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (pp.joblog_fd < 0)
			die_errno("--joblog %s", pp.joblog_path);
		joblog_header(&pp.jl);
	}
	output_open(&pp.sink, pp.out_path, pp.resume);
	pacer_init(&pp.pacer, pp.rpm, pp.tpm, now_s());
	pacer_cap(&pp.pacer, cfg.max_retry_wait_ms / 1000.0);
	cfg.run_id = (uint32_t)(hash64(&pp, sizeof(&pp)) ^ now_us() ^
	    ((uint64_t)getpid() << 16) ^ (uint64_t)time(NULL));

	{
		/* Two pipe ends per worker, plus a few: raise the soft limit
		 * on open files (often 1024) as far as -P needs. */
		struct rlimit nofile;
		rlim_t need = (rlim_t)cfg.jobs * 2 + 64;

		if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
		    nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur < need) {
			if (nofile.rlim_max != RLIM_INFINITY &&
			    nofile.rlim_max < need) {
				die_status = EXIT_USAGE;
				die("-P %d needs %llu open files, but the limit "
				    "is %llu (ulimit -n)", cfg.jobs,
				    (unsigned long long)need,
				    (unsigned long long)nofile.rlim_max);
			}
			nofile.rlim_cur = need;
			if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
				die_errno("raising the open-file limit to %llu",
				    (unsigned long long)need);
		}
	}
	if (cfg.api_key && *cfg.api_key) {
		/* The key is in this process's memory and its workers': no
		 * core file should carry it off. */
		struct rlimit no_core = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &no_core);
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe(sig_pipe) < 0)
		die_errno("pipe");
	set_nonblock(sig_pipe[0]);
	set_nonblock(sig_pipe[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A hangup (the terminal or the ssh session went away) stops like
	 * ^C, so the answers in flight are kept; under nohup(1) it stays
	 * ignored. */
	if (sigaction(SIGHUP, NULL, &old_hup) == 0 &&
	    old_hup.sa_handler != SIG_IGN)
		sigaction(SIGHUP, &sa, NULL);

	pp.jobs = cfg.jobs;
	pp.slots = xcalloc(cfg.jobs, sizeof(*pp.slots));
	for (i = 0; i < cfg.jobs; i++)
		pp.slots[i].req_fd = pp.slots[i].res_fd = -1;
	pp.idle = xcalloc(cfg.jobs, sizeof(*pp.idle));
	pp.cls = classifier_new(&cfg);
	reorder_init(&pp.ring, cfg.max_pending);
	if (inflateInit(&pp.z) != Z_OK)
		die("inflateInit failed");
	/* Standard input stays blocking: it is read only when poll(2)
	 * says it is readable, and O_NONBLOCK would leak to a terminal
	 * or to the other processes that share the descriptor. */
	lr_init(&pp.lr, 0, cfg.max_line);

	run(&pp);

	for (i = 0; i < pp.spawned; i++) {
		struct slot *s = &pp.slots[i];

		if (signals_seen >= 2 && s->pid > 0)
			kill(s->pid, SIGKILL);
		if (s->req_fd >= 0)
			close(s->req_fd);	/* the worker sees end of file */
	}
	for (i = 0; i < pp.spawned; i++) {
		while (pp.slots[i].pid > 0 &&
		    waitpid(pp.slots[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (pp.slots[i].res_fd >= 0)
			close(pp.slots[i].res_fd);
		buf_release(&pp.slots[i].sent);
		buf_release(&pp.slots[i].rx);
	}
	/* The rest of the output; on an abort (a second signal), only the
	 * end of a record a signal cut, when the output may block: its
	 * reader may read nothing, and the abort must not wait for it. */
	while (signals_seen < 2 || !output_may_block(&pp.sink)) {
		flush_ready(&pp);
		if (pp.out.len == 0)
			break;
	}
	if (pp.out.len > 0)
		write_out_aborting(&pp);
	draw_progress(&pp, 1);
	if (pp.counter_pid > 0) {
		kill(pp.counter_pid, SIGKILL);
		waitpid(pp.counter_pid, NULL, 0);
	}
	if (pp.resume && pp.input_done && output_left_over(&pp.sink) > 0) {
		output_close(&pp.sink);
		die_status = EXIT_USAGE;
		die("--resume: %s has more records than the input has lines: "
		    "is it the same input?", pp.out_path);
	}
	output_close(&pp.sink);
	if (pp.joblog_fd >= 0 && close(pp.joblog_fd) < 0)
		die_errno("--joblog %s", pp.joblog_path);
	if (!cfg.quiet) {
		struct buf sum = { 0 };

		stats_summary(&pp.st, now_us(), &sum);
		(void)write_full(2, sum.data, sum.len);
		buf_release(&sum);
	}
	if (pp.stats_path) {
		struct buf js = { 0 };
		struct rusage ru;
		FILE *f = fopen(pp.stats_path, "w");

		getrusage(RUSAGE_SELF, &ru);
		stats_json(&pp.st, now_us(), ru.ru_maxrss, &js);
		if (f == NULL || fwrite(js.data, 1, js.len, f) != js.len ||
		    fclose(f) != 0)
			die_errno("--stats %s", pp.stats_path);
		buf_release(&js);
	}

	if (signals_seen)
		status = EXIT_INTERRUPTED;
	else if (pp.lr.cut || pp.broken)
		status = EXIT_INTERNAL;	/* lines after the cut have no record;
					 * or no worker could be started */
	else if (pp.halted)
		status = EXIT_HALTED;
	else if (pp.st.failed)
		status = EXIT_FAILED;
	else
		status = EXIT_OK;

	inflateEnd(&pp.z);
	worker_prefork_free();
	reorder_free(&pp.ring);
	classifier_free(pp.cls);
	lr_free(&pp.lr);
	buf_release(&pp.req.path);
	buf_release(&pp.req.custom_id);
	buf_release(&pp.req.body);
	buf_release(&pp.msg);
	buf_release(&pp.out);
	buf_release(&pp.out_tags);
	buf_release(&pp.jl);
	buf_release(&pp.reused);
	buf_release(&pp.idbuf);
	buf_release(&pp.scratch);
	buf_release(&pp.rbuf);
	buf_release(&pp.no_worker);
	buf_release(&pp.broken_why);
	if (pp.epfd >= 0)
		close(pp.epfd);
	free(pp.slots);
	free(pp.idle);
	for (i = 0; i < cfg.nheaders; i++)
		free(cfg.headers[i]);
	free(cfg.headers);
	free((char *)cfg.base_url);
	return status;
}
