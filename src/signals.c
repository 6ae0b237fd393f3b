/*
 * signals.c: signals as an event on a self-pipe (signals.h).
 */
#include "signals.h"

#include <errno.h>	/* errno */
#include <fcntl.h>	/* fcntl */
#include <signal.h>	/* sigaction */
#include <string.h>	/* memset */
#include <unistd.h>	/* pipe, read, write */

#include "util.h"	/* die_errno, set_nonblock */

static volatile sig_atomic_t came;	/* signals the handler counted */
static sig_atomic_t taken;		/* of which signals_take took */
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int e = errno;

	/* A hangup may come twice, from the terminal and then from the
	 * shell passing it on to its jobs: it only ever asks for the gentle
	 * stop, never the abort. */
	if (sig == SIGHUP && came > 0)
		return;
	came++;
	if (sig_pipe[1] >= 0)
		(void)write(sig_pipe[1], "s", 1);	/* full: awake anyway */
	errno = e;
}

void signals_init(void)
{
	struct sigaction sa, old_hup;

	signal(SIGPIPE, SIG_IGN);
	if (pipe(sig_pipe) < 0)
		die_errno(EXIT_INTERNAL, "pipe");
	set_nonblock(sig_pipe[0]);
	set_nonblock(sig_pipe[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: writes see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A hangup (the terminal or the ssh session went away) stops like
	 * ^C, so the answers in flight are kept; under nohup(1) it stays
	 * ignored. */
	if (sigaction(SIGHUP, NULL, &old_hup) == 0 &&
	    old_hup.sa_handler != SIG_IGN)
		sigaction(SIGHUP, &sa, NULL);
}

int signals_fd(void)
{
	return sig_pipe[0];
}

int signals_waiting(void)
{
	return came != taken;
}

unsigned signals_take(void)
{
	char drain[64];
	sig_atomic_t now;
	unsigned n;

	/* Drain first: a signal that comes meanwhile leaves its byte, or
	 * is counted now; never neither. */
	while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
		;
	now = came;
	n = (unsigned)(now - taken);
	taken = now;
	return n;
}

void signals_close(void)
{
	for (int k = 0; k < 2; k++)
		if (sig_pipe[k] >= 0) {
			close(sig_pipe[k]);
			sig_pipe[k] = -1;
		}
}
