/*
 * credentials.c: where the key goes, checked before any is sent
 * (credentials.h).
 */
#include "credentials.h"

#include <stdio.h>	/* fopen, getline */
#include <stdlib.h>	/* getenv, free */
#include <string.h>	/* strncmp, strcspn, strchr, strpbrk */
#include <strings.h>	/* strncasecmp */

#include "util.h"	/* warnx */

/*
 * A value from the environment, a file or the command line (from names
 * it, what says what it is), less the blanks and line ends around it,
 * which a copied value or a file saved on Windows brings along; NULL if
 * nothing is left.  A control character inside is a usage error, since a
 * line break in a header starts a header of its own, and so is a space
 * when no_space is set.  The message names the byte, never the value,
 * which may be a key.
 */
char *value_tidy(const char *raw, const char *from, const char *what,
    int no_space)
{
	const char *k = raw, *e, *p;

	while (*k && strchr(" \t\r\n", *k))
		k++;
	for (e = k + strlen(k); e > k && strchr(" \t\r\n", e[-1]); e--)
		;
	for (p = k; p < e; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f ||
		    (no_space && *p == ' '))
			die(EXIT_USAGE, "%s: the %s has %s at byte %zu", from, what,
			    *p == '\n' || *p == '\r' ? "a line break" :
			    *p == ' ' ? "a space" : "a control character",
			    (size_t)(p - raw) + 1);
	return e > k ? xmemdup(k, e - k) : NULL;
}

/* The key from --api-key-file: its first line, tidied. */
static char *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *k;
	struct buf from = { 0 };
	size_t cap = 0;

	if (f == NULL)
		die_errno(EXIT_USAGE, "--api-key-file %s", path);
	if (getline(&line, &cap, f) < 0)
		die(EXIT_USAGE, "--api-key-file %s: empty", path);
	fclose(f);
	buf_addf(&from, "--api-key-file %s", path);
	if ((k = value_tidy(line, from.data, "key", 0)) == NULL)
		die(EXIT_USAGE, "%s: empty", from.data);
	buf_release(&from);
	memset(line, 0, cap);
	free(line);
	return k;
}

char *key_read(const char *key_file, int *azure)
{
	const char *env = getenv("OPENAI_API_KEY");
	const char *az = getenv("AZURE_OPENAI_API_KEY");

	*azure = 0;
	if (key_file)
		return read_key(key_file);
	if (env)
		return value_tidy(env, "OPENAI_API_KEY", "key", 0);
	if (az == NULL)
		return NULL;
	*azure = 1;
	return value_tidy(az, "AZURE_OPENAI_API_KEY", "key", 0);
}

const char *base_url_default(const char **from)
{
	static struct buf url;
	const char *env = getenv("AZURE_OPENAI_ENDPOINT");
	char *u;
	size_t n;

	if (env == NULL || *env == 0)
		return "https://api.openai.com/v1";
	*from = "AZURE_OPENAI_ENDPOINT";
	if ((u = value_tidy(env, *from, "URL", 1)) == NULL)
		die(EXIT_USAGE, "%s: empty", *from);
	for (n = strlen(u); n > 0 && u[n - 1] == '/'; n--)
		;
	buf_reset(&url);
	buf_add(&url, u, n);
	buf_adds(&url, "/openai");
	free(u);
	return url.data;
}

int user_key_header(const struct config *cfg)
{
	int i;

	for (i = 0; i < cfg->nheaders; i++)
		if (strncasecmp(cfg->headers[i], "Authorization:", 14) == 0 ||
		    strncasecmp(cfg->headers[i], "api-key:", 8) == 0)
			return 1;
	return 0;
}

/* The host of url (after any user:pass@; "[::1]" with its brackets),
 * and its length in *n; NULL if url has no "scheme://". */
static const char *url_host(const char *url, size_t *n)
{
	const char *h = strstr(url, "://"), *at;
	size_t auth;

	if (h == NULL)
		return NULL;
	h += 3;
	auth = strcspn(h, "/?#");
	if ((at = memchr(h, '@', auth)) != NULL)
		h = at + 1;
	if (*h == '[') {	/* an IPv6 address: up to its ']' */
		*n = strcspn(h, "]/?#");
		if (h[*n] == ']')
			(*n)++;
	} else
		*n = strcspn(h, ":/?#");
	return h;
}

/*
 * Whether sending a key to url is fine: https, or plain http to this
 * machine (127.0.0.0/8, ::1, localhost).
 */
static int loopback_http_ok(const char *url)
{
	const char *h;
	size_t n;

	if (strncmp(url, "http://", 7) != 0)
		return 1;
	h = url_host(url, &n);
	if (n == 5 && strncmp(h, "[::1]", 5) == 0)
		return 1;
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	if (n >= 4 && strncmp(h, "127.", 4) == 0 &&
	    strspn(h, "0123456789.") == n)
		return 1;
	return 0;
}

/*
 * Whether a run without a key is sure to be refused: OpenAI's own API
 * wants one, and no -H header brings a key of the user's own.
 * (A local server, a proxy or Azure's api-key header may need none.)
 */
static int key_missing(const struct config *cfg)
{
	const char *h;
	size_t n;

	if (cfg->api_key && *cfg->api_key)
		return 0;
	h = url_host(cfg->base_url, &n);
	if (h == NULL || n != 14 || strncasecmp(h, "api.openai.com", 14) != 0)
		return 0;
	return !user_key_header(cfg);
}

void key_warnings(const struct config *cfg)
{
	if (cfg->insecure)
		warnx("warning: --insecure: TLS certificates are not checked; "
		    "anyone on the path can read the key and the answers");
	if (cfg->api_key && *cfg->api_key && !loopback_http_ok(cfg->base_url))
		warnx("warning: the API key goes over plain http to %s; "
		    "use https unless this network is yours", cfg->base_url);
	if (key_missing(cfg))
		warnx("warning: no API key (set OPENAI_API_KEY, or give "
		    "--api-key-file): api.openai.com will refuse every "
		    "request");
}

/* Append a header line to the NULL-terminated list. */
static void push_header(struct config *cfg, const char *h)
{
	cfg->headers = xrealloc(cfg->headers,
	    (cfg->nheaders + 2) * sizeof(char *));
	cfg->headers[cfg->nheaders++] = xstrdup(h);
	cfg->headers[cfg->nheaders] = NULL;
}

static void read_header_file(struct config *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		die_errno(EXIT_USAGE, "-H @%s", path);
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		if (strchr(line, ':') == NULL)
			die(EXIT_USAGE, "-H @%s: \"%s\" is not NAME: VALUE", path, line);
		push_header(cfg, line);
	}
	free(line);
	fclose(f);
}

void header_add(struct config *cfg, const char *h)
{
	if (h[0] == '@') {
		read_header_file(cfg, h + 1);
		return;
	}
	if (strchr(h, ':') == NULL || strpbrk(h, "\r\n") != NULL)
		die(EXIT_USAGE, "-H %s: not NAME: VALUE", h);
	push_header(cfg, h);
}
