/*
 * signals.h: SIGINT, SIGTERM and SIGHUP reach the parent's loop as an
 * event: the handler writes a byte down a self-pipe, so poll(2) wakes for
 * a signal even when it came just before poll was called, and a blocking
 * write (output.h) can tell that one came.  Only the loop takes signals
 * (signals_take); other code may only ask whether one is waiting.
 */
#ifndef SPLITGPT_SIGNALS_H
#define SPLITGPT_SIGNALS_H

/* Install the handlers and make the self-pipe; SIGPIPE is ignored (a
 * write to a gone reader fails with EPIPE instead).  A SIGHUP that was
 * ignored (nohup(1)) stays ignored. */
void signals_init(void);

/* The self-pipe's read end: readable while a signal is waiting to be
 * taken.  -1 before signals_init. */
int signals_fd(void);

/* Nonzero when a signal came that signals_take has not taken: cheap (no
 * system call), for the places that must not start new work after one. */
int signals_waiting(void);

/* The signals that came since the last call, the pipe drained: the
 * loop's event. */
unsigned signals_take(void);

/* Close the self-pipe (in a freshly forked child). */
void signals_close(void);

#endif
