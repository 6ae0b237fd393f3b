/*
 * pool.c: fork the workers, wire their pipes, read and reap them (pool.h).
 */
#include "pool.h"

#include <errno.h>	/* errno */
#include <fcntl.h>	/* fcntl, open */
#include <signal.h>	/* kill */
#include <stdlib.h>	/* free */
#include <string.h>	/* memset, strerror */
#include <sys/resource.h>	/* getrlimit, setrlimit */
#include <sys/wait.h>	/* waitpid */
#include <unistd.h>	/* fork, pipe, close, dup2 */

#include "signals.h"	/* signals_close */
#include "worker.h"	/* worker_main, worker_prefork */

/* closefrom(3): glibc 2.34 and later, the BSDs. */
#if (defined(__GLIBC__) && (__GLIBC__ > 2 || \
    (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))) || \
    defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__)
#define HAVE_CLOSEFROM 1
#endif
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

/* Two pipe ends per worker, plus a few: raise the soft limit on open
 * files (often 1024) as far as -P needs. */
static void raise_nofile(int jobs)
{
	struct rlimit nofile;
	rlim_t need = (rlim_t)jobs * 2 + 64;

	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0 ||
	    nofile.rlim_cur == RLIM_INFINITY || nofile.rlim_cur >= need)
		return;
	if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < need)
		die(EXIT_USAGE, "-P %d needs %llu open files, but the limit is "
		    "%llu (ulimit -n)", jobs, (unsigned long long)need,
		    (unsigned long long)nofile.rlim_max);
	nofile.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		die_errno(EXIT_INTERNAL, "raising the open-file limit to %llu",
		    (unsigned long long)need);
}

void pool_init(struct pool *pl, const struct config *cfg)
{
	int i;

	memset(pl, 0, sizeof(*pl));
	raise_nofile(cfg->jobs);
	pl->cfg = cfg;
	pl->wanted = cfg->jobs;
	pl->procs = xcalloc(cfg->jobs, sizeof(*pl->procs));
	for (i = 0; i < cfg->jobs; i++)
		pl->procs[i].req_fd = pl->procs[i].res_fd = -1;
#ifdef HAVE_EPOLL
	pl->epfd = epoll_create1(EPOLL_CLOEXEC);
#else
	pl->epfd = -1;
#endif
}

/*
 * Add worker i's result pipe to the epoll set (on), or take it out before
 * it is closed.  With the set, a turn of the loop polls one descriptor
 * for all the workers, and learns which answered, instead of P: at
 * P = 256 poll(2) over every pipe was half the parent's time.  Should
 * the set fail (no memory, fs.epoll.max_user_watches), the run goes on
 * with poll(2) alone.
 */
static void watch(struct pool *pl, int i, int on)
{
#ifdef HAVE_EPOLL
	struct epoll_event ev;

	if (pl->epfd < 0)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(pl->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
	    pl->procs[i].res_fd, &ev) < 0 && on) {
		close(pl->epfd);
		pl->epfd = -1;
	}
#else
	(void)pl;
	(void)i;
	(void)on;
#endif
}

/* In the child: only its own pipes stay open, as 3 and 4 where
 * closefrom(3) is there; standard input and output are /dev/null. */
static void child_fds(struct pool *pl, int *r, int *w, int req_w, int res_r)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > 1 && null != *r && null != *w)
			close(null);
	}
#ifdef HAVE_CLOSEFROM
	/* Only our own pipes (a worker holding another's would keep it from
	 * seeing the end of its request pipe), and none of the parent's
	 * files: ours to 3 and 4, then one call. */
	(void)pl;
	(void)req_w;
	(void)res_r;
	if (*w == 3)
		*w = fcntl(*w, F_DUPFD, 5);
	if (*r != 3)
		dup2(*r, 3);
	if (*w != 4)
		dup2(*w, 4);
	closefrom(5);
	*r = 3;
	*w = 4;
#else
	for (int j = 0; j < pl->cfg->jobs; j++) {
		if (pl->procs[j].res_fd >= 0)
			close(pl->procs[j].res_fd);
		if (pl->procs[j].req_fd >= 0)
			close(pl->procs[j].req_fd);
	}
	close(req_w);
	close(res_r);
	if (pl->epfd >= 0)
		close(pl->epfd);
	signals_close();
#endif
}

static int spawn_failed(struct pool *pl, const char *what, int req[2],
    int res[2])
{
	int e = errno;

	buf_reset(&pl->why);
	buf_addf(&pl->why, "cannot start a worker: %s: %s", what, strerror(e));
	for (int k = 0; k < 2; k++) {
		if (req[k] >= 0)
			close(req[k]);
		if (res[k] >= 0)
			close(res[k]);
	}
	return -1;
}

int pool_spawn(struct pool *pl, int i)
{
	struct proc *p = &pl->procs[i];
	int req[2] = { -1, -1 }, res[2] = { -1, -1 };
	pid_t pid;
#ifdef HAVE_PDEATHSIG
	pid_t parent = getpid();
#endif

	if (pipe(req) < 0 || pipe(res) < 0)
		return spawn_failed(pl, "pipe", req, res);
	worker_prefork(pl->cfg);
	pid = fork();
	if (pid < 0)
		return spawn_failed(pl, "fork", req, res);
	if (pid == 0) {
		int r = req[0], w = res[1];

#ifdef HAVE_PDEATHSIG
		/* Die with the parent, at once: a worker it can no longer
		 * hear from must not go on paying for requests.  (Elsewhere
		 * the worker sees its request pipe close.)  With --cache
		 * it is told to stop retrying instead (SIGUSR1): the answer
		 * of the attempt under way, paid for already, goes into
		 * the cache, and then the closed pipe ends the worker. */
		if (prctl(PR_SET_PDEATHSIG, pl->cfg->cache_path &&
		    !pl->cfg->cache_readonly ? SIGUSR1 : SIGKILL) < 0 ||
		    getppid() != parent)
			_exit(1);
#endif
		child_fds(pl, &r, &w, req[1], res[0]);
		before_message = NULL;	/* the parent's progress line */
		_exit(worker_main(pl->cfg, r, w));
	}
	close(req[0]);
	close(res[1]);
	set_nonblock(res[0]);
	p->pid = pid;
	p->req_fd = req[1];
	p->res_fd = res[0];
	buf_release(&p->rx);	/* a dead worker's partial frame */
	watch(pl, i, 1);
	return 0;
}

void pool_send(struct pool *pl, int i, const char *p, size_t n)
{
	if (write_full(pl->procs[i].req_fd, p, n) < 0 && errno != EPIPE)
		die_errno(EXIT_INTERNAL, "writing to a worker");
}

void pool_retire(struct pool *pl, int i)
{
	struct proc *p = &pl->procs[i];

	close(p->req_fd);	/* the worker sees end of file */
	p->req_fd = -1;
	p->retired = 1;
	pl->nretired++;
}

void pool_lose(struct pool *pl, int i)
{
	pl->procs[i].pid = 0;
	pl->procs[i].retired = 1;
	pl->nretired++;
}

int pool_live(const struct pool *pl)
{
	return pl->spawned - pl->nretired;
}

void pool_kill(struct pool *pl, int i, int sig)
{
	if (pl->procs[i].pid > 0)
		kill(pl->procs[i].pid, sig);
}

long pool_read(struct pool *pl, int i, struct buf **bp)
{
	struct proc *p = &pl->procs[i];

	for (;;) {
		struct buf *b = p->rx.len > 0 ? &p->rx : &pl->rbuf;
		ssize_t n;

		buf_grow(b, POOL_READ_SIZE);
		n = read(p->res_fd, b->data + b->len, POOL_READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -1;
		if (n < 0)
			die_errno(EXIT_INTERNAL, "reading from a worker");
		if (n == 0) {
			*bp = &p->rx;
			return 0;
		}
		b->len += n;
		*bp = b;
		return n;
	}
}

void pool_keep(struct pool *pl, int i, struct buf *b)
{
	struct proc *p = &pl->procs[i];

	if (b == &pl->rbuf && b->len > 0) {
		buf_add(&p->rx, b->data, b->len);
		buf_reset(b);
	} else if (b == &p->rx && b->len == 0) {
		buf_release(b);	/* whole again: hold nothing */
	}
}

void pool_drop(struct pool *pl, int i)
{
	buf_reset(&pl->rbuf);
	buf_release(&pl->procs[i].rx);
}

int pool_reap(struct pool *pl, int i)
{
	struct proc *p = &pl->procs[i];
	int st = 0;

	watch(pl, i, 0);
	close(p->res_fd);
	if (p->req_fd >= 0)
		close(p->req_fd);
	p->res_fd = p->req_fd = -1;
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (p->retired) {
		p->pid = 0;	/* let go, and gone */
		return 0;
	}
	return st;
}

int pool_pollfds(const struct pool *pl, struct pollfd *pfd, int *set)
{
	int i;

	*set = pl->epfd >= 0;
	if (*set) {
		pfd[0].fd = pl->epfd;
		pfd[0].events = POLLIN;
		return 1;
	}
	for (i = 0; i < pl->spawned; i++) {
		pfd[i].fd = pl->procs[i].res_fd;
		pfd[i].events = POLLIN;
	}
	return pl->spawned;
}

int pool_ready(struct pool *pl, int *who, int max)
{
#ifdef HAVE_EPOLL
	struct epoll_event ev[64];
	int k, m = epoll_wait(pl->epfd, ev, max < 64 ? max : 64, 0);

	for (k = 0; k < m; k++)
		who[k] = (int)ev[k].data.u32;
	return m < 0 ? 0 : m;
#else
	(void)pl;
	(void)who;
	(void)max;
	return 0;
#endif
}

void pool_end(struct pool *pl, int abort)
{
	int i;

	for (i = 0; i < pl->spawned; i++) {
		struct proc *p = &pl->procs[i];

		if (abort && p->pid > 0)
			kill(p->pid, SIGKILL);
		if (p->req_fd >= 0)
			close(p->req_fd);	/* the worker sees end of file */
		p->req_fd = -1;
	}
	for (i = 0; i < pl->spawned; i++) {
		struct proc *p = &pl->procs[i];

		while (p->pid > 0 && waitpid(p->pid, NULL, 0) < 0 &&
		    errno == EINTR)
			;
		p->pid = 0;
		if (p->res_fd >= 0)
			close(p->res_fd);
		p->res_fd = -1;
		buf_release(&p->rx);
	}
	if (pl->epfd >= 0)
		close(pl->epfd);
	pl->epfd = -1;
	free(pl->procs);
	pl->procs = NULL;
	buf_release(&pl->why);
	buf_release(&pl->rbuf);
}
