/*
 * floor: the least a client of splitgpt's shape can do, for the benchmark.
 *
 *	floor [-c] P PORT < bodies.jsonl > answers
 *
 * It reads every request body first, then forks P workers.  Each keeps one
 * connection to 127.0.0.1:PORT and posts /v1/chat/completions, taking the
 * next body from a counter the workers share, and writes each answer's
 * body as one line.  That is all: no pipes to a parent, no input order, no
 * retries, no JSON, no compression.  It is linked with splitgpt's
 * libraries, so a fork copies the same mappings.
 *
 * Without -c the workers speak HTTP over a socket themselves and call none
 * of the libraries: what this machine allows the shape (fork P processes,
 * one connection each).  With -c each makes its calls with libcurl as a
 * splitgpt worker does (curl_global_init after the fork, one easy handle
 * for its life, a blocking curl_easy_perform per body), after the same
 * set-up in the parent (worker_prefork): what the shape allows a worker
 * that uses libcurl.  The benchmark runs both beside splitgpt; splitgpt's
 * efficiency over the second is what its own work costs (the pipes to the
 * parent, the order, the records), and the second's over the first what
 * libcurl costs.
 *
 * Exit status: 0 when every worker posted its bodies and read every answer
 * with status 200, 1 otherwise, 2 for a usage error.  Not installed; not
 * for real servers.
 */
#include <arpa/inet.h>		/* htonl, htons */
#include <errno.h>
#include <netinet/in.h>		/* sockaddr_in */
#include <netinet/tcp.h>	/* TCP_NODELAY */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>		/* mmap */
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <zlib.h>

#include "config.h"	/* struct config, for worker_prefork */
#include "util.h"	/* struct buf, write_full */
#include "worker.h"	/* worker_prefork */

/* Referenced: keeps the three libraries (and what libcurl brings) in the
 * process image, as in splitgpt, whether or not -c calls them. */
void (*volatile floor_keep[])(void) = {
	(void (*)(void))curl_version, (void (*)(void))json_c_version,
	(void (*)(void))zlibVersion,
};

#define MAX_BODIES	10000000
#define MAX_ANSWER	(1 << 20)

static char **bodies;	/* the request bodies, read before the fork */
static size_t *lens;

static void fail(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* All of p to fd, or fail (util.c's write_full does the looping). */
static void write_all(int fd, const char *p, size_t n)
{
	if (write_full(fd, p, n) < 0)
		fail("write");
}

/* One request on the connection FD; the answer's body goes to standard
 * output as one line.  Returns 0, or -1 when the status is not 200. */
static int post(int fd, int port, const char *body, size_t blen, char *buf)
{
	char head[256];
	size_t got = 0, need = 0, hlen = 0;
	int n, status;

	n = snprintf(head, sizeof(head), "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", port, blen);
	write_all(fd, head, (size_t)n);
	write_all(fd, body, blen);
	for (;;) {
		ssize_t r;
		char *end, *cl;

		if (got == MAX_ANSWER - 1)
			fail("an answer too long");
		r = read(fd, buf + got, MAX_ANSWER - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			fail("reading an answer");
		got += (size_t)r;
		buf[got] = '\0';
		if (hlen == 0) {
			if ((end = strstr(buf, "\r\n\r\n")) == NULL)
				continue;
			hlen = (size_t)(end + 4 - buf);
			*end = '\0';	/* headers only, for the search */
			cl = strstr(buf, "\r\nContent-Length:");
			if (cl == NULL)
				cl = strstr(buf, "\r\ncontent-length:");
			if (cl == NULL) {
				errno = EPROTO;
				fail("an answer without Content-Length");
			}
			need = strtoul(cl + 17, NULL, 10);
			*end = '\r';
			if (hlen + need > MAX_ANSWER - 1)
				fail("an answer too long");
		}
		if (got >= hlen + need)
			break;
	}
	if (got != hlen + need) {
		errno = EPROTO;
		fail("more than one answer");
	}
	status = (int)strtol(buf + 9, NULL, 10);	/* "HTTP/1.1 200" */
	buf[got] = '\n';
	write_all(1, buf + hlen, need + 1);
	return status == 200 ? 0 : -1;
}

/* The answer's body as libcurl hands it over, into a buffer. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *a = arg;

	n *= size;
	if (a->len + n > MAX_ANSWER - 1)
		return 0;	/* too long: libcurl stops with an error */
	buf_add(a, p, n);
	return n;
}

/* -c: the worker of worker(), with libcurl making the calls. */
static int curl_worker(size_t n, atomic_size_t *next, const char *url)
{
	struct buf a = { 0 };
	struct curl_slist *hdr;
	CURL *c;
	long status;
	int bad = 0;
	size_t i;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c = curl_easy_init()) == NULL || (hdr = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL) {
		fprintf(stderr, "floor: libcurl could not be set up\n");
		_exit(1);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	while ((i = atomic_fetch_add(next, 1)) < n) {
		CURLcode cc;

		buf_reset(&a);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, bodies[i]);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)lens[i]);
		if ((cc = curl_easy_perform(c)) != CURLE_OK) {
			fprintf(stderr, "floor: %s\n", curl_easy_strerror(cc));
			_exit(1);
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			bad = 1;
		buf_addc(&a, '\n');
		write_all(1, a.data, a.len);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	curl_global_cleanup();
	buf_release(&a);
	return bad;
}

static int worker(size_t n, atomic_size_t *next, int port)
{
	struct sockaddr_in sa;
	char *buf = malloc(MAX_ANSWER);
	int fd, one = 1, bad = 0;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (buf == NULL)
		fail("malloc");
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		fail("socket");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("connect");
	while ((i = atomic_fetch_add(next, 1)) < n)
		if (post(fd, port, bodies[i], lens[i], buf) < 0)
			bad = 1;
	free(buf);
	return bad;
}

int main(int argc, char **argv)
{
	char *line = NULL;
	size_t n = 0, cap = 0, lcap = 0;
	atomic_size_t *next;
	ssize_t len;
	struct config cfg = { 0 };
	char url[64];
	int p, port, k, status, rc = 0, use_curl = 0;

	if (argc == 4 && strcmp(argv[1], "-c") == 0) {
		use_curl = 1;
		argc--;
		argv++;
	}
	if (argc != 3 || (p = atoi(argv[1])) < 1 || p > 4096 ||
	    (port = atoi(argv[2])) < 1 || port > 65535) {
		fprintf(stderr, "usage: floor [-c] P PORT < bodies > answers\n");
		return 2;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions",
	    port);
	while ((len = getline(&line, &lcap, stdin)) > 0 && n < MAX_BODIES) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			bodies = realloc(bodies, cap * sizeof(*bodies));
			lens = realloc(lens, cap * sizeof(*lens));
			if (bodies == NULL || lens == NULL)
				fail("realloc");
		}
		if ((bodies[n] = strdup(line)) == NULL)
			fail("strdup");
		lens[n++] = (size_t)len;
	}
	free(line);
	next = mmap(NULL, sizeof(*next), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (next == MAP_FAILED)
		fail("mmap");
	atomic_init(next, 0);
	fflush(stdout);
	cfg.base_url = url;
	if (use_curl)
		worker_prefork(&cfg);	/* splitgpt's own, before its forks */
	for (k = 0; k < p; k++) {
		pid_t pid = fork();

		if (pid < 0)
			fail("fork");
		if (pid == 0)
			_exit(use_curl ? curl_worker(n, next, url) :
			    worker(n, next, port));
	}
	for (k = 0; k < p; k++)
		if (wait(&status) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			rc = 1;
	if (use_curl)
		worker_prefork_free();
	while (n > 0)
		free(bodies[--n]);
	free(bodies);
	free(lens);
	return rc;
}
