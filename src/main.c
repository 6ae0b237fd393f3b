/*
 * splitgpt: run a file of prompts through an OpenAI-compatible API with N
 * worker processes, writing one answer line per input line, in input order.
 *
 * Design
 *
 * The parent is a pipeline of stages, each in a file of its own with the
 * state it owns, run by one poll(2) loop; the workers are forked processes
 * that make the HTTP requests:
 *
 *   options.c      argv, environment -> struct config (every setting)
 *
 *   stdin -> reader -> classifier -> dispatcher ----> pool ==> workers
 *            reader.c  classify.c    dispatch.c       pool.c   worker.c
 *                          |          hedge.c          flight.c    |
 *                          | bad line        (pacer: ratelimit.c)  |
 *                          v                                       v
 *   stdout <- writer <------------------------------ collector <== results
 *             writer.c (reorder ring, -o, journal)   collect.c
 *
 *   loop.c runs the stages; progress.c draws the progress line and the
 *   summary; signals.c turns signals into an event on a self-pipe.
 *   Beside the dispatcher: resume.c (--resume's probation), recall.c and
 *   cache.c (--cache), budget.c (--max-cost), autoscale.c (-P auto's
 *   limit), route.c (which server, with several --base-url); plan.c runs
 *   --dry-run and --emit-requests instead of the loop.
 *
 * Reader: standard input is read in chunks only when the dispatcher has
 * somewhere to send a line, so a slow producer never stops results from
 * being written.  Classifier: each line becomes a request (classify.c), or an
 * error record at once, without a worker.  Dispatcher: a request goes to
 * an idle worker when the pacer lets it go (held until then); with
 * --hedge a straggler gets a copy on a second worker.  With --cache
 * (recall.c, cache.c) a request answered before gets its record from the
 * cache, before the pacer, and one already out is waited for, not sent
 * twice.  Pool: each worker
 * has its own pair of pipes, requests down one, results up the other, so
 * messages never interleave and need not fit in PIPE_BUF; workers are
 * forked a few per turn of the loop, so the first lines go out while the
 * rest start, and once the input is done idle workers are let go.
 * Workers: each holds one request at a time, makes the call with blocking
 * libcurl and its own retries (moving on to another server when one fails
 * it), and sends back the finished output line,
 * deflated, tagged with the line's sequence number (frame.h).  Collector:
 * a result goes to the writer; a worker that died holding a line is
 * replaced and the line sent again as a further attempt; the collector
 * decides when the run halts.  Writer: records wait in a reorder ring
 * (reorder.h), and every record whose predecessors are all written goes
 * out at once, so output streams.
 *
 * Invariants.
 * - Only workers call libcurl.  It is not fork-safe: the parent never
 *   calls it (but for --version, which forks nothing); it does initialise
 *   OpenSSL, and parse the CA file for https, before the first fork
 *   (worker_prefork), since that is most of a worker's start-up CPU.
 * - Every sequence number (a non-blank input line) gets exactly one
 *   record, and it enters through the writer (writer_put, writer_error):
 *   from a worker, or from the parent for a bad line, a line whose worker
 *   died on every attempt, or a line not sent because the run halted.  The
 *   ring refuses a second record for a sequence number, so a worker that
 *   dies after its result reached the parent can't cause a duplicate, and
 *   with --hedge the first of two answers is kept.
 * - Each stage owns its state (parent.h): it changes another's only
 *   through that one's functions; the collector never calls the
 *   dispatcher.
 * - Memory is bounded.  Let W = --max-pending (default max(1024, 64 P)),
 *   B = --max-buffer and L = --max-line-length.  The parent hands out line
 *   s only while s < next + W, where next is the first line not yet
 *   written, and only while the ring holds less than B bytes.  So the ring
 *   has at most W slots in use, holding at most B plus P results' deflated
 *   bytes (the results of lines already in flight when B was reached); the
 *   workers hold P lines of at most L bytes, and the parent a copy of each
 *   (to resend after a crash); the reader holds one partial line of at
 *   most L bytes and one read's worth of input.  When one slow request
 *   holds the head of the ring, the other workers go on until W or B is
 *   reached, then the reader waits.  None of this depends on the input's
 *   size.  With --cache the lines waiting on a request out are lines
 *   handed out, so within W, each holding its id and metadata (and one
 *   copy of each request they wait on), and SQLite's page cache is 2 MB
 *   a process, whatever the cache's size.  The one part that can grow is
 *   the custom_id set (idset.h): nothing
 *   for ids that count (request-1, request-2, ...), 10 to 15 bytes for
 *   each other id, and none at all with --allow-duplicate-ids.
 */
#include <errno.h>	/* errno */
#include <fcntl.h>	/* fcntl, open */
#include <stdlib.h>	/* exit */
#include <sys/resource.h>	/* setrlimit */
#include <time.h>	/* time */
#include <unistd.h>	/* getpid, isatty */

#include "options.h"	/* options_parse */
#include "parent.h"	/* the stages */
#include "plan.h"	/* plan_run */
#include "signals.h"	/* signals_init */
#include "worker.h"	/* worker_prefork_free */

#define ABORT_GRACE_MS 2000	/* an abort waits this long to end a record */

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

/* Set up every stage; the workers are forked by the loop. */
static void start(struct parent *pp, struct config *cfg)
{
	stats_init(&pp->st);
	pp->st.price_in = cfg->price_in;
	pp->st.price_out = cfg->price_out;
	pp->st.price_cached = cfg->price_cached >= 0 ? cfg->price_cached :
	    cfg->price_in;
	/* What may refuse the run (a bad --cache, too few open files: exit
	 * 2) comes before -o FILE is opened, which would leave an empty
	 * FILE.partial behind. */
	recall_init(pp);
	pool_init(&pp->pool, cfg);
	writer_init(&pp->wr, cfg, &pp->st);
	pacer_init(&pp->pacer, cfg->rpm, cfg->tpm, now_s());
	pacer_cap(&pp->pacer, cfg->max_retry_wait_ms / 1000.0);
	cfg->run_id = (uint32_t)(hash64(&pp, sizeof(&pp)) ^ now_us() ^
	    ((uint64_t)getpid() << 16) ^ (uint64_t)time(NULL));
	if (cfg->jobs_auto) {
		autoscale_init(&pp->as, cfg->jobs);
		pp->pool.wanted = autoscale_limit(&pp->as);
		pp->st.workers = pp->st.workers_peak = pp->pool.wanted;
	}
	if (cfg->api_key && *cfg->api_key) {
		/* The key is in this process's memory and its workers': no
		 * core file should carry it off. */
		struct rlimit no_core = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &no_core);
	}
	signals_init();
	flight_init(&pp->fl, cfg->jobs, cfg->nservers);
	route_init(&pp->rt, cfg->nservers, cfg->max_retry_wait_ms / 1000.0);
	stats_servers(&pp->st, cfg);
	pp->col.last_code = xcalloc(cfg->jobs, sizeof(*pp->col.last_code));
	pp->cls = classifier_new(cfg);
	/* Standard input stays blocking: it is read only when poll(2)
	 * says it is readable, and O_NONBLOCK would leak to a terminal
	 * or to the other processes that share the descriptor. */
	lr_init(&pp->lr, 0, cfg->max_line);
	if (isatty(0) && !cfg->quiet)
		warnx("reading prompts from the terminal, a request per line; "
		    "^D ends them (or give a file: splitgpt < FILE)");
	progress_init(&pp->pg, cfg, &pp->st);
}

/* What the run ends with (splitgpt(1) EXIT STATUS). */
static int exit_status(const struct parent *pp)
{
	if (pp->lp.signals)
		return EXIT_INTERRUPTED;
	if (pp->lr.cut || pp->col.broken)
		return EXIT_INTERNAL;	/* lines after the cut have no record;
					 * or no worker could be started */
	if (pp->col.halted && pp->st.by_code[ERR_NOT_SENT] > 0)
		return EXIT_HALTED;	/* a halt that left nothing unsent is
					 * as if it had not come */
	return pp->st.failed ? EXIT_FAILED : EXIT_OK;
}

static void finish(struct parent *pp, struct config *cfg)
{
	worker_prefork_free();
	classifier_free(pp->cls);
	recall_free(pp);
	lr_free(&pp->lr);
	flight_free(&pp->fl);
	route_free(&pp->rt);
	stats_free(&pp->st);
	request_free(&pp->dp.req);
	resume_free(pp);
	buf_release(&pp->dp.msg);
	buf_release(&pp->col.msg);
	buf_release(&pp->col.broken_why);
	buf_release(&pp->col.ff_why);
	buf_release(&pp->bg.why);
	free(pp->col.last_code);
	options_free(cfg);
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct parent pp;
	int status;

	hold_std_fds();
	options_parse(argc, argv, &cfg);
	pp.cfg = &cfg;
	start(&pp, &cfg);
	if (cfg.dry_run || cfg.emit_requests) {
		status = plan_run(&pp);
		writer_close(&pp.wr, 0);
		finish(&pp, &cfg);
		return status;
	}
	loop_run(&pp);
	loop_end(&pp, ABORT_GRACE_MS);
	progress_draw(&pp.pg, 1);
	progress_stop(&pp.pg);
	writer_close(&pp.wr, cfg.resume && pp.dp.input_done);
	progress_report(&pp.pg);
	status = exit_status(&pp);
	finish(&pp, &cfg);
	return status;
}
