/*
 * worker.h: a worker process, the only place splitgpt uses libcurl.
 *
 * A worker is forked by the parent before it (or anyone) has called into
 * libcurl, since libcurl is not fork-safe.  It then initialises libcurl,
 * makes one easy handle that lives as long as the worker (so connections
 * are kept alive between requests), and loops: read a request frame, make
 * the call with its retries, write the output line, deflated, as a result
 * frame.  It handles one request at a time, so the parent knows exactly
 * which line a worker holds.  It stops when the request pipe closes.
 *
 * The pipeline, a file each: worker.c reads a request frame; tries.c
 * (tries.h) runs the retry loop, across the servers; transfer.c
 * (transfer.h) makes one attempt with libcurl; judge.c (judge.h) decides
 * what the attempt came to and whether another is worth it; worker.c
 * builds the record (record.h) and writes it back deflated (pack.h).
 * cacache.c (cacache.h) is the parent's OpenSSL set-up that the workers
 * share.
 *
 * Streaming: with --stream the worker adds "stream":true to chat,
 * completions and Responses bodies that do not set it.  Any answer that
 * comes as text/event-stream (asked for by --stream or by the line) is
 * parsed as it arrives, in the write callback, and reassembled (sse.h)
 * into the object an unstreamed call returns; that object is the record's
 * body, so the output is the same.  A stream silent for --idle-timeout is
 * cut from the progress callback and retried as a timeout; one that ends
 * before [DONE] is retried as a cut-off body; an error event midway is
 * retried when transient and otherwise ends as stream_error.
 */
#ifndef SPLITGPT_WORKER_H
#define SPLITGPT_WORKER_H

#include "config.h"	/* struct config */

/* Serve requests from rfd, results to wfd; returns an exit status. */
int worker_main(const struct config *cfg, int rfd, int wfd);

/*
 * Called by the parent before its first fork; never calls libcurl.  With
 * OpenSSL under libcurl, it initialises OpenSSL ahead of time and parses
 * the CA file once, for the workers to share (cacache.h).  Without
 * OpenSSL it does nothing.  Safe to call more than once.
 */
void worker_prefork(const struct config *cfg);

/* The parent's end: frees what worker_prefork parsed. */
void worker_prefork_free(void);

/*
 * For --version: print libcurl's version line (its TLS library and the
 * rest it was built with), then json-c's and zlib's.  It calls libcurl,
 * so only a process that will fork no worker may call it.
 */
void worker_versions(void);

#endif
