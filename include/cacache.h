/*
 * cacache.h: OpenSSL set up and the CA certificates parsed once, in the
 * parent, for every worker to share.
 *
 * libcurl is not fork-safe, but OpenSSL may be initialised before fork
 * (servers such as nginx do): since 1.1.1d its random generator reseeds
 * in a child.  So the parent, before its first fork and without calling
 * libcurl, runs the costly part of curl_global_init ahead of time
 * (OpenSSL's own initialisation: reading openssl.cnf, loading error
 * strings, building cipher tables), with the flags libcurl passes, and
 * parses the CA file; the workers then share both copy-on-write.  See
 * cacache.c for why the parse is worth it and how a worker's TLS contexts
 * find the parsed certificates.  OpenSSL is reached through dlsym in what
 * is loaded already: splitgpt does not link it, and with a libcurl built
 * on another TLS library all of this does nothing.
 *
 * The state is one per process: the parent makes it, the workers inherit
 * it by fork.
 */
#ifndef SPLITGPT_CACACHE_H
#define SPLITGPT_CACACHE_H

#include <curl/curl.h>	/* CURL */

#include "config.h"	/* struct config */

/*
 * In the parent, before the first fork; never calls libcurl.  When
 * libcurl has brought OpenSSL into the process, initialise OpenSSL as
 * libcurl would and, for an https base URL with verification on, parse
 * the CA file (--cacert, or the first system bundle found) in a thread
 * of its own.  Does nothing when there is no OpenSSL, or the file cannot
 * be read or parsed (the worker's libcurl then reads it and says what is
 * wrong).  Safe to call more than once: only the first call works.
 */
void cacache_prefork(const struct config *cfg);

/*
 * In a worker, on its easy handle: use the parent's parsed certificates
 * instead of letting libcurl parse the file for every TLS connection,
 * if they are the very file libcurl would read (cacert, --cacert or NULL,
 * else libcurl's built-in default) through the same OpenSSL.  Returns the
 * name of that file (static; for -v), or NULL when libcurl keeps its own
 * way.
 */
const char *cacache_use(CURL *curl, const char *cacert);

/*
 * The parent's end: frees the parsed certificates.  A worker does not
 * call it: freeing would copy every page of them into the worker just
 * before it exits.
 */
void cacache_free(void);

#endif
