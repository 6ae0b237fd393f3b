/*
 * options.h: the command line and the environment (OPENAI_API_KEY,
 * OPENAI_BASE_URL) into struct config, which holds every setting of the
 * run.  Nothing else reads argv or those variables.
 */
#ifndef SPLITGPT_OPTIONS_H
#define SPLITGPT_OPTIONS_H

#include "config.h"	/* struct config */

/*
 * Fill cfg (zeroed) from argv and the environment.  --help and --version
 * print and exit 0; any error is a usage error: a message naming the
 * option, and exit 2.  Warnings (an unsafe key, no key) go to stderr.
 */
void options_parse(int argc, char **argv, struct config *cfg);

/* Free what options_parse allocated in cfg. */
void options_free(struct config *cfg);

/* The usage lines, and the rest of --help (help.c). */
extern const char usage_text[];
extern const char help_text[];

#endif
