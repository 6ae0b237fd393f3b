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

/* The key in the file path (from names the option): its first line,
 * tidied. */
static char *read_key(const char *path, const char *from)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *k;
	size_t cap = 0;

	if (f == NULL)
		die_errno(EXIT_USAGE, "%s", from);
	if (getline(&line, &cap, f) < 0)
		die(EXIT_USAGE, "%s: empty", from);
	fclose(f);
	if ((k = value_tidy(line, from, "key", 0)) == NULL)
		die(EXIT_USAGE, "%s: empty", from);
	memset(line, 0, cap);
	free(line);
	return k;
}

char *key_read(const char *key_file, int *azure)
{
	const char *env = getenv("OPENAI_API_KEY");
	const char *az = getenv("AZURE_OPENAI_API_KEY");

	*azure = 0;
	if (key_file) {
		struct buf from = { 0 };
		char *k;

		buf_addf(&from, "--api-key-file %s", key_file);
		k = read_key(key_file, from.data);
		buf_release(&from);
		return k;
	}
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

/* Whether one of the n headers is an Authorization or an api-key one. */
static int has_key_header(char *const *headers, int n)
{
	for (int i = 0; i < n; i++)
		if (strncasecmp(headers[i], "Authorization:", 14) == 0 ||
		    strncasecmp(headers[i], "api-key:", 8) == 0)
			return 1;
	return 0;
}

int user_key_header(const struct config *cfg, int server)
{
	const struct server *s = &cfg->servers[server];

	return has_key_header(cfg->headers, cfg->nheaders) ||
	    has_key_header(s->headers, s->nheaders);
}

const char *server_key(const struct config *cfg, int server)
{
	const char *k = cfg->servers[server].key ?
	    cfg->servers[server].key : cfg->api_key;

	return k && *k && !user_key_header(cfg, server) ? k : NULL;
}

int key_header(const struct config *cfg, int server, struct buf *out)
{
	const char *key = server_key(cfg, server);

	if (key == NULL)
		return 0;
	if (cfg->key_azure && cfg->servers[server].key == NULL)
		buf_addf(out, "api-key: %s", key);
	else
		buf_addf(out, "Authorization: Bearer %s", key);
	return 1;
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
static int key_missing(const struct config *cfg, int server)
{
	const char *h;
	size_t n;

	if (server_key(cfg, server) || user_key_header(cfg, server))
		return 0;
	h = url_host(cfg->servers[server].url, &n);
	return h != NULL && n == 14 &&
	    strncasecmp(h, "api.openai.com", 14) == 0;
}

void key_warnings(const struct config *cfg)
{
	if (cfg->insecure)
		warnx("warning: --insecure: TLS certificates are not checked; "
		    "anyone on the path can read the key and the answers");
	for (int i = 0; i < cfg->nservers; i++) {
		const char *url = cfg->servers[i].url;

		if (server_key(cfg, i) && !loopback_http_ok(url))
			warnx("warning: the API key goes over plain http to "
			    "%s; use https unless this network is yours", url);
		if (key_missing(cfg, i))
			warnx("warning: no API key (set OPENAI_API_KEY, or "
			    "give --api-key-file): %s will refuse every "
			    "request", cfg->nservers > 1 ? url :
			    "api.openai.com");
	}
}

/* Append a header line to the NULL-terminated list of n. */
static void push_header(char ***list, int *n, const char *h)
{
	*list = xrealloc(*list, (*n + 2) * sizeof(char *));
	(*list)[(*n)++] = xstrdup(h);
	(*list)[*n] = NULL;
}

/* Each line of the file path as a header (from names the option). */
static void read_header_file(char ***list, int *nh, const char *path,
    const char *from)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		die_errno(EXIT_USAGE, "%s", from);
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		if (strchr(line, ':') == NULL)
			die(EXIT_USAGE, "%s: \"%s\" is not NAME: VALUE", from,
			    line);
		push_header(list, nh, line);
	}
	free(line);
	fclose(f);
}

void header_add(struct config *cfg, const char *h)
{
	if (h[0] == '@') {
		struct buf from = { 0 };

		buf_addf(&from, "-H @%s", h + 1);
		read_header_file(&cfg->headers, &cfg->nheaders, h + 1,
		    from.data);
		buf_release(&from);
		return;
	}
	if (strchr(h, ':') == NULL || strpbrk(h, "\r\n") != NULL)
		die(EXIT_USAGE, "-H %s: not NAME: VALUE", h);
	push_header(&cfg->headers, &cfg->nheaders, h);
}

/* The options a --base-url may carry after its URL. */
static const char *const server_opts[] = { ",key-file=", ",header-file=" };

/* Where the next ",key-file=" or ",header-file=" is in p, or its end. */
static const char *next_opt(const char *p)
{
	const char *end = p + strlen(p), *q;

	for (size_t k = 0; k < 2; k++)
		if ((q = strstr(p, server_opts[k])) != NULL && q < end)
			end = q;
	return end;
}

/* One option of --base-url arg, [p, e): key-file= or header-file=. */
static void server_opt(struct server *s, const char *arg,
    const char *p, const char *e, unsigned *seen)
{
	unsigned k = strncmp(p, server_opts[0], strlen(server_opts[0])) == 0 ?
	    0 : 1;
	size_t skip = strlen(server_opts[k]);
	char *file = xmemdup(p + skip, (size_t)(e - p) - skip);
	struct buf from = { 0 };

	buf_addf(&from, "--base-url %s: %s%s", arg, server_opts[k] + 1, file);
	if (*seen & (1u << k))
		die(EXIT_USAGE, "--base-url %s: %.*s given twice", arg,
		    (int)skip - 2, server_opts[k] + 1);
	*seen |= 1u << k;
	if (*file == 0)
		die(EXIT_USAGE, "--base-url %s: %.*s names no file", arg,
		    (int)skip - 2, server_opts[k] + 1);
	if (k == 0)
		s->key = read_key(file, from.data);
	else
		read_header_file(&s->headers, &s->nheaders, file, from.data);
	free(file);
	buf_release(&from);
}

void server_add(struct config *cfg, const char *arg, const char *from,
    int opts)
{
	const char *e = opts ? next_opt(arg) : arg + strlen(arg), *p;
	struct server *s;
	unsigned seen = 0;
	char *raw;

	if (cfg->nservers == SERVERS_MAX)
		die(EXIT_USAGE, "--base-url: more than %d servers", SERVERS_MAX);
	cfg->servers = xrealloc(cfg->servers,
	    (cfg->nservers + 1) * sizeof(*cfg->servers));
	s = &cfg->servers[cfg->nservers++];
	memset(s, 0, sizeof(*s));
	raw = xmemdup(arg, (size_t)(e - arg));
	if ((s->url = value_tidy(raw, from, "URL", 1)) == NULL)
		die(EXIT_USAGE, "%s: empty", from);
	free(raw);
	if (strncmp(s->url, "http://", 7) != 0 &&
	    strncmp(s->url, "https://", 8) != 0)
		die(EXIT_USAGE, "%s %s: not an http:// or https:// URL", from,
		    s->url);
	for (p = e; *p; p = e) {
		e = next_opt(p + 1);
		server_opt(s, arg, p, e, &seen);
	}
	cfg->base_url = cfg->servers[0].url;
}

void servers_free(struct config *cfg)
{
	for (int i = 0; i < cfg->nservers; i++) {
		struct server *s = &cfg->servers[i];

		for (int k = 0; k < s->nheaders; k++)
			free(s->headers[k]);
		free(s->headers);
		free((char *)s->url);
		if (s->key)
			memset((char *)s->key, 0, strlen(s->key));
		free((char *)s->key);
	}
	free(cfg->servers);
	cfg->servers = NULL;
	cfg->nservers = 0;
}
