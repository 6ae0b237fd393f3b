/*
 * progress.h: what the user sees of a run on stderr: the progress line
 * (redrawn at most every DRAW_US, with a total from a child that counts
 * the input's lines when it is a regular file), and at the end the
 * summary and the --stats file.
 */
#ifndef SPLITGPT_PROGRESS_H
#define SPLITGPT_PROGRESS_H

#include <stdint.h>	/* uint64_t */
#include <sys/types.h>	/* pid_t */

#include "config.h"	/* struct config */
#include "stats.h"	/* struct stats */

#define DRAW_US 250000		/* redraw the progress line this often */

struct progress {
	const struct config *cfg;
	struct stats *st;
	int drawn;		/* a progress line is on the screen */
	uint64_t drawn_at;
	int counter_fd;		/* the line counter's answer, or -1 */
	pid_t counter_pid;
};

/* Set up; with the progress line on, start the line counter. */
void progress_init(struct progress *pg, const struct config *cfg,
    struct stats *st);

/* Redraw the line if it is due (final: clear it for good). */
void progress_draw(struct progress *pg, int final);

/* The counter answered (counter_fd is readable): take the total. */
void progress_counted(struct progress *pg);

/* Stop the counter, if it still runs. */
void progress_stop(struct progress *pg);

/* The end, once the line is cleared (progress_draw final) and the output
 * closed: the summary (unless -q), the --stats file. */
void progress_report(struct progress *pg);

#endif
