/*
 * credentials.h: the key and the request headers the user gives, and the
 * checks on where the key goes, made once the options are read and
 * before anything is sent.
 */
#ifndef SPLITGPT_CREDENTIALS_H
#define SPLITGPT_CREDENTIALS_H

#include "config.h"	/* struct config */
#include "util.h"	/* struct buf */

/*
 * A value from the environment, a file or the command line (from names
 * it, what says what it is), less the blanks and line ends around it;
 * NULL if nothing is left.  A control character inside is a usage error
 * (exit 2), and so is a space when no_space is set.  The message names
 * the byte, never the value, which may be a key.  Allocated.
 */
char *value_tidy(const char *raw, const char *from, const char *what,
    int no_space);

/*
 * The key: key_file's first line (--api-key-file) if given, else
 * OPENAI_API_KEY, else AZURE_OPENAI_API_KEY (then *azure is set: it goes
 * in an api-key header), tidied; NULL if none.  Allocated.
 */
char *key_read(const char *key_file, int *azure);

/*
 * The base URL when neither --base-url nor OPENAI_BASE_URL gives one:
 * AZURE_OPENAI_ENDPOINT, tidied, its trailing slashes dropped, and
 * "/openai" after it, as the Azure SDKs have it; else
 * https://api.openai.com/v1.  *from names where
 * it came from.  Kept for the program's life.
 */
const char *base_url_default(const char **from);

/* Whether a -H header, or server's header-file, brings a key of the
 * user's own: an Authorization or an api-key header.  Then no key of
 * splitgpt's goes to that server. */
int user_key_header(const struct config *cfg, int server);

/* The key that goes to server (its key-file's, else the run's), or NULL
 * when none does. */
const char *server_key(const struct config *cfg, int server);

/* The header that carries server's key into out: "Authorization: Bearer
 * KEY", or Azure's "api-key: KEY" for AZURE_OPENAI_API_KEY's; 1, or 0
 * when no key goes to it (out untouched).  The caller wipes out. */
int key_header(const struct config *cfg, int server, struct buf *out);

/*
 * Warn on stderr (never naming the key), for each server: --insecure; a
 * key that would go
 * over plain http to another machine than this one (127.0.0.0/8, ::1,
 * localhost); no key at all for api.openai.com, which wants one (unless a
 * -H header brings an Authorization of the user's own).
 */
void key_warnings(const struct config *cfg);

/*
 * -H: add the header "NAME: VALUE" to cfg->headers, or with "@FILE" each
 * line of FILE (blank lines and # comments skipped).  A header without a
 * colon, or with a line break, is a usage error (exit 2).
 */
void header_add(struct config *cfg, const char *h);

/*
 * --base-url URL[,key-file=FILE][,header-file=FILE] (from names where it
 * came from; with opts 0, as from OPENAI_BASE_URL, all of it is the URL):
 * add a server to cfg->servers, its URL tidied and checked,
 * its key read from key-file's first line, its own headers from each line
 * of header-file.  A comma starts an option only when key-file= or
 * header-file= follows.  A usage error (exit 2): no http(s) URL, an
 * option twice or with no file, a file that cannot be read, more than
 * SERVERS_MAX servers.  cfg->base_url is the first server's URL.
 */
void server_add(struct config *cfg, const char *arg, const char *from,
    int opts);

/* Free the servers, their keys wiped. */
void servers_free(struct config *cfg);

#endif
