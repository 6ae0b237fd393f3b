/*
 * failfork.so: make fork(2) fail, for the tests of a parent that can't
 * start a worker.  LD_PRELOAD=failfork.so FAILFORK_AFTER=N lets the first
 * N forks through and fails every later one with EAGAIN, as a process
 * limit (ulimit -u, a cgroup's pids.max) would.
 */
#define _GNU_SOURCE
#include <dlfcn.h>	/* dlsym, RTLD_NEXT */
#include <errno.h>	/* EAGAIN */
#include <stdlib.h>	/* getenv, strtol */
#include <unistd.h>	/* fork, pid_t */

pid_t fork(void)
{
	static int made;
	static pid_t (*real)(void);
	const char *after = getenv("FAILFORK_AFTER");

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "fork");
	if (after != NULL && made >= strtol(after, NULL, 10)) {
		errno = EAGAIN;
		return -1;
	}
	made++;
	return real();
}
