/*
 * progress.c: the progress line, the summary, the --stats file
 * (progress.h).
 */
#include "progress.h"

#include <signal.h>	/* kill */
#include <stdio.h>	/* fopen, snprintf */
#include <stdlib.h>	/* strtoull */
#include <string.h>	/* memset */
#include <sys/resource.h>	/* getrusage */
#include <sys/ioctl.h>	/* TIOCGWINSZ */
#include <sys/stat.h>	/* fstat */
#include <sys/wait.h>	/* waitpid */
#include <unistd.h>	/* fork, pipe */

#include "reader.h"	/* count_lines */
#include "util.h"	/* struct buf, write_full */

/* A child that counts the input's lines, for the progress line's total. */
static void start_counter(struct progress *pg)
{
	struct stat sb;
	int p[2];

	if (fstat(0, &sb) < 0 || !S_ISREG(sb.st_mode) || pipe(p) < 0)
		return;
	pg->counter_pid = fork();
	if (pg->counter_pid < 0) {
		pg->counter_pid = 0;
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pg->counter_pid == 0) {
		char num[32];
		int n;

		close(p[0]);
		n = snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)count_lines(0));
		(void)write_full(p[1], num, n);
		_exit(0);
	}
	close(p[1]);
	pg->counter_fd = p[0];
}

static struct progress *shown;	/* the line a message must clear */

/* Before a message: clear the line, drawn again at the next redraw. */
static void clear_line(void)
{
	if (shown && shown->drawn) {
		(void)write_full(2, "\r\033[K", 4);
		shown->drawn = 0;
		shown->drawn_at = 0;
	}
}

void progress_init(struct progress *pg, const struct config *cfg,
    struct stats *st)
{
	memset(pg, 0, sizeof(*pg));
	pg->cfg = cfg;
	pg->st = st;
	pg->counter_fd = -1;
	if (cfg->progress) {
		start_counter(pg);
		shown = pg;
		before_message = clear_line;
	}
}

void progress_counted(struct progress *pg)
{
	char num[32];
	ssize_t n = read(pg->counter_fd, num, sizeof(num) - 1);

	if (n > 0) {
		num[n] = 0;
		pg->st->total = strtoull(num, NULL, 10);
	}
	close(pg->counter_fd);
	pg->counter_fd = -1;
	waitpid(pg->counter_pid, NULL, 0);
	pg->counter_pid = 0;
}

void progress_stop(struct progress *pg)
{
	if (pg->counter_pid > 0) {
		kill(pg->counter_pid, SIGKILL);
		waitpid(pg->counter_pid, NULL, 0);
		pg->counter_pid = 0;
	}
	if (pg->counter_fd >= 0)
		close(pg->counter_fd);
	pg->counter_fd = -1;
}

/* The columns the line may use: the terminal's width (asked at each
 * redraw, so a resized window is followed), less one, so the cursor never
 * wraps to a new row; no limit when stderr is not a terminal. */
static size_t columns(void)
{
	struct winsize ws;

	if (ioctl(2, TIOCGWINSZ, &ws) < 0 || ws.ws_col < 2)
		return 0;
	return (size_t)ws.ws_col - 1;
}

#define PREFIX "splitgpt: "

void progress_draw(struct progress *pg, int final)
{
	struct buf line = { 0 };
	uint64_t now = now_us();
	size_t cols;

	if (!pg->cfg->progress || (!final && now - pg->drawn_at < DRAW_US))
		return;
	pg->drawn_at = now;
	stats_rate(pg->st, now);
	buf_adds(&line, "\r");
	cols = columns();
	if (!final && (cols == 0 || cols > sizeof(PREFIX) - 1)) {
		buf_adds(&line, PREFIX);
		stats_progress(pg->st, now, cols ? cols - (sizeof(PREFIX) - 1) :
		    0, &line);
	}
	buf_adds(&line, "\033[K");
	(void)write_full(2, line.data, line.len);
	pg->drawn = !final;
	buf_release(&line);
}

void progress_report(struct progress *pg)
{
	if (!pg->cfg->quiet) {
		struct buf sum = { 0 };

		stats_summary(pg->st, now_us(), &sum);
		(void)write_full(2, sum.data, sum.len);
		buf_release(&sum);
	}
	if (pg->cfg->stats_path) {
		struct buf js = { 0 };
		struct rusage ru;
		FILE *f = fopen(pg->cfg->stats_path, "w");

		getrusage(RUSAGE_SELF, &ru);
		stats_json(pg->st, now_us(), ru.ru_maxrss, &js);
		if (f == NULL || fwrite(js.data, 1, js.len, f) != js.len ||
		    fclose(f) != 0)
			die_errno(EXIT_INTERNAL, "--stats %s",
			    pg->cfg->stats_path);
		buf_release(&js);
	}
}
