/*
 * credentials.h: the checks on where the API key goes, made once the
 * options are read and before anything is sent.
 */
#ifndef SPLITGPT_CREDENTIALS_H
#define SPLITGPT_CREDENTIALS_H

#include "config.h"	/* struct config */

/*
 * A value from the environment, a file or the command line (from names
 * it, what says what it is), less the blanks and line ends around it;
 * NULL if nothing is left.  A control character inside is a usage error
 * (exit 2), and so is a space when no_space is set.  The message names
 * the byte, never the value, which may be a key.  Allocated.
 */
char *value_tidy(const char *raw, const char *from, const char *what,
    int no_space);

/* The key: key_file's first line (--api-key-file) if given, else
 * OPENAI_API_KEY, tidied; NULL if neither.  Allocated. */
char *key_read(const char *key_file);

/*
 * Warn on stderr (never naming the key): --insecure; a key that would go
 * over plain http to another machine than this one (127.0.0.0/8, ::1,
 * localhost); no key at all for api.openai.com, which wants one (unless a
 * -H header brings an Authorization of the user's own).
 */
void key_warnings(const struct config *cfg);

#endif
