/* cacache.c: OpenSSL initialised and the CA file parsed once, in the parent. */
#include "cacache.h"

#include <dlfcn.h>	/* dlopen, dlsym */
#include <pthread.h>	/* pthread_create */
#include <stdint.h>	/* uint64_t */
#include <string.h>	/* strncmp, strcmp */
#include <unistd.h>	/* access */

/*
 * The flags libcurl's OpenSSL back end (vtls/openssl.c, ossl_init) gives
 * OPENSSL_init_ssl: OPENSSL_INIT_ENGINE_ALL_BUILTIN (RDRAND, DYNAMIC,
 * CRYPTODEV, CAPI, PADLOCK) | OPENSSL_INIT_LOAD_CONFIG, from OpenSSL's
 * crypto.h, which splitgpt does not build against.  The same flags, so
 * the worker's own call has nothing left to do.
 */
#define OSSL_INIT_AS_CURL	(0x0200 | 0x0400 | 0x1000 | 0x2000 | 0x4000 | \
				 0x0040)

/*
 * The CA certificates, parsed once.  libcurl's OpenSSL back end reads and
 * parses its CA file for every new TLS connection when a CA directory is
 * set as well (Debian's libcurl has both, which also keeps libcurl's own
 * CA cache off): some 145 certificates, 20 to 35 ms of CPU, at each
 * worker's first request and again at every reconnect, and each worker
 * keeps its own parsed copy, 0.8 MB.  So the parent parses the file once,
 * before the first fork, and the workers leave the file to it: each new
 * TLS context gets a lookup (CURLOPT_SSL_CTX_FUNCTION) that finds an
 * issuer among the parsed certificates by its name, as OpenSSL's lookup
 * in a CA directory finds one among the files there.  A worker then
 * touches only the few certificates its server's chain names, and shares
 * the rest with the parent.  The file is --cacert, or the system bundle
 * that libcurl itself would read: the worker compares it with libcurl's
 * built-in default (CURLINFO_CAINFO) and keeps libcurl's way when they
 * differ.  libcurl still adds its CA directory and its verification
 * flags to each context.  Its lookup in that directory comes first, so
 * when the directory has a certificate of the issuer's name, OpenSSL
 * tries that one alone (on Debian the directory and the bundle hold the
 * same certificates).  OpenSSL is reached through dlsym, like
 * OPENSSL_init_ssl above, so its types are opaque here.
 *
 * The parse runs in a thread of its own, joined before any fork: glibc's
 * malloc then puts the certificates in an arena of their own.  Parsed in
 * the main thread, they would sit among the free chunks the parse leaves
 * behind, which each worker's malloc reuses, copying the pages around
 * them (0.5 MB a worker with Debian's bundle).
 */
enum { LU_X509 = 1, LU_CRL = 2 };	/* OpenSSL's X509_LOOKUP_TYPE */

static struct {
	void *store;		/* X509_STORE: the parsed file, or NULL */
	void *method;		/* X509_LOOKUP_METHOD: cas_lookup */
	const char *file;	/* which file */
	void *(*store_new)(void);
	int (*store_load)(void *, const char *, const char *);
	void (*store_free)(void *);
	void *(*store_objects)(void *);
	int (*store_add_cert)(void *, void *);
	int (*store_add_crl)(void *, void *);
	void *(*store_add_lookup)(void *, void *);
	void *(*ctx_store)(const void *);
	void *(*meth_new)(const char *);
	int (*meth_set)(void *, int (*)(void *, int, const void *, void *));
	void (*meth_free)(void *);
	void *(*lookup_store)(const void *);
	int (*object_idx)(void *, int, const void *);
	int (*object_type)(const void *);
	void *(*object_cert)(const void *);
	void *(*object_crl)(const void *);
	int (*object_set_cert)(void *, void *);
	int (*object_set_crl)(void *, void *);
	void (*cert_free)(void *);
	void (*crl_free)(void *);
	void *(*cert_subject)(const void *);
	void *(*crl_issuer)(const void *);
	int (*name_cmp)(const void *, const void *);
	int (*sk_num)(const void *);
	void *(*sk_value)(const void *, int);
} cas;

/* Where libcurl's configure looks for the system's CA bundle, in order. */
static const char *const ca_bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",	/* Debian, Ubuntu, Arch */
	"/etc/pki/tls/certs/ca-bundle.crt",	/* Fedora, RHEL */
	"/usr/share/ssl/certs/ca-bundle.crt",
	"/usr/local/share/certs/ca-root-nss.crt",	/* FreeBSD */
	"/etc/ssl/cert.pem",			/* OpenBSD, Alpine */
};

/*
 * The lookup's get_by_subject: put every parsed certificate (or CRL) of
 * that name into the context's store, as the CA-directory lookup loads
 * every file of that name's hash, and answer with the first.  The answer
 * borrows the store's reference, as that lookup's does: set1 takes one,
 * the free gives it back.
 */
static int cas_lookup(void *lookup, int type, const void *name, void *ret)
{
	int cert = type == LU_X509;
	void *(*get)(const void *) = cert ? cas.object_cert : cas.object_crl;
	void *(*named)(const void *) = cert ? cas.cert_subject : cas.crl_issuer;
	int (*add)(void *, void *) = cert ? cas.store_add_cert :
	    cas.store_add_crl;
	int (*set)(void *, void *) = cert ? cas.object_set_cert :
	    cas.object_set_crl;
	void (*put)(void *) = cert ? cas.cert_free : cas.crl_free;
	void *objs = cas.store_objects(cas.store), *to, *o, *first = NULL;
	int i, n = cas.sk_num(objs);

	if (type != LU_X509 && type != LU_CRL)
		return 0;
	if ((i = cas.object_idx(objs, type, name)) < 0)
		return 0;
	to = cas.lookup_store(lookup);
	/* The objects are sorted: those of this name follow the first. */
	for (; i < n; i++) {
		o = cas.sk_value(objs, i);
		if (cas.object_type(o) != type ||
		    cas.name_cmp(named(get(o)), name) != 0)
			break;
		/* One that fails (out of memory) is one fewer trusted. */
		if (add(to, get(o)) == 1 && first == NULL)
			first = get(o);
	}
	if (first == NULL || !set(ret, first))
		return 0;
	put(first);
	return 1;
}

/* The thread that parses the CA file into cas.store, or leaves it NULL. */
static void *cas_parse(void *file)
{
	if ((cas.store = cas.store_new()) != NULL &&
	    cas.store_load(cas.store, file, NULL) != 1) {
		cas.store_free(cas.store);
		cas.store = NULL;
	}
	return NULL;
}

/* Find OpenSSL's functions and parse the CA file into cas.store. */
static void cas_load(void *self, const struct config *cfg)
{
	const struct { const char *name; void **fn; } fns[] = {
		{ "X509_STORE_new", (void **)&cas.store_new },
		{ "X509_STORE_load_locations", (void **)&cas.store_load },
		{ "X509_STORE_free", (void **)&cas.store_free },
		{ "X509_STORE_get0_objects", (void **)&cas.store_objects },
		{ "X509_STORE_add_cert", (void **)&cas.store_add_cert },
		{ "X509_STORE_add_crl", (void **)&cas.store_add_crl },
		{ "X509_STORE_add_lookup", (void **)&cas.store_add_lookup },
		{ "SSL_CTX_get_cert_store", (void **)&cas.ctx_store },
		{ "X509_LOOKUP_meth_new", (void **)&cas.meth_new },
		{ "X509_LOOKUP_meth_set_get_by_subject", (void **)&cas.meth_set },
		{ "X509_LOOKUP_meth_free", (void **)&cas.meth_free },
		{ "X509_LOOKUP_get_store", (void **)&cas.lookup_store },
		{ "X509_OBJECT_idx_by_subject", (void **)&cas.object_idx },
		{ "X509_OBJECT_get_type", (void **)&cas.object_type },
		{ "X509_OBJECT_get0_X509", (void **)&cas.object_cert },
		{ "X509_OBJECT_get0_X509_CRL", (void **)&cas.object_crl },
		{ "X509_OBJECT_set1_X509", (void **)&cas.object_set_cert },
		{ "X509_OBJECT_set1_X509_CRL", (void **)&cas.object_set_crl },
		{ "X509_free", (void **)&cas.cert_free },
		{ "X509_CRL_free", (void **)&cas.crl_free },
		{ "X509_get_subject_name", (void **)&cas.cert_subject },
		{ "X509_CRL_get_issuer", (void **)&cas.crl_issuer },
		{ "X509_NAME_cmp", (void **)&cas.name_cmp },
		{ "OPENSSL_sk_num", (void **)&cas.sk_num },
		{ "OPENSSL_sk_value", (void **)&cas.sk_value },
	};
	const char *file = cfg->cacert;
	pthread_t parser;
	void *objs;
	size_t i;
	int k, n, tls = 0;

	for (k = 0; k < cfg->nservers; k++)
		tls |= strncmp(cfg->servers[k].url, "https://", 8) == 0;
	if (cfg->insecure || !tls)
		return;
	for (i = 0; file == NULL && i < sizeof(ca_bundles) / sizeof(*ca_bundles);
	    i++)
		if (access(ca_bundles[i], R_OK) == 0)
			file = ca_bundles[i];
	if (file == NULL)
		return;
	for (i = 0; i < sizeof(fns) / sizeof(*fns); i++)
		if ((*fns[i].fn = dlsym(self, fns[i].name)) == NULL)
			return;		/* not OpenSSL 1.1 or later */
	if (pthread_create(&parser, NULL, cas_parse, (void *)file) == 0)
		pthread_join(parser, NULL);
	else
		cas_parse((void *)file);	/* no thread: here, then */
	if (cas.store == NULL ||
	    (cas.method = cas.meth_new("splitgpt: the parsed CA file")) == NULL ||
	    !cas.meth_set(cas.method, cas_lookup)) {
		/* The worker's libcurl reads it and says what is wrong. */
		cacache_free();
		return;
	}
	/* Sort the objects by name here, once, rather than in each worker
	 * at its first lookup: any search sorts them. */
	objs = cas.store_objects(cas.store);
	for (n = cas.sk_num(objs), k = 0; k < n; k++) {
		void *x = cas.object_cert(cas.sk_value(objs, k));

		if (x != NULL) {
			(void)cas.object_idx(objs, LU_X509, cas.cert_subject(x));
			break;
		}
	}
	cas.file = file;
}

/* libcurl's CURLOPT_SSL_CTX_FUNCTION: the lookup, in the context's store.
 * Without it the check finds no issuer there and fails. */
static CURLcode cas_give(CURL *curl, void *ssl_ctx, void *arg)
{
	(void)curl;
	(void)arg;
	if (cas.store_add_lookup(cas.ctx_store(ssl_ctx), cas.method) == NULL)
		return CURLE_OUT_OF_MEMORY;
	return CURLE_OK;
}

const char *cacache_use(CURL *curl, const char *cacert)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	if (cas.file == NULL || v->ssl_version == NULL ||
	    strncmp(v->ssl_version, "OpenSSL/", 8) != 0)
		return NULL;
	if (cacert == NULL) {
#if LIBCURL_VERSION_NUM >= 0x075400	/* 7.84: CURLINFO_CAINFO */
		char *builtin = NULL;

		if (curl_easy_getinfo(curl, CURLINFO_CAINFO, &builtin) !=
		    CURLE_OK || builtin == NULL || strcmp(builtin, cas.file) != 0)
			return NULL;
#else
		return NULL;
#endif
	}
	if (curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, cas_give) !=
	    CURLE_OK)
		return NULL;
	curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
	return cas.file;
}

void cacache_prefork(const struct config *cfg)
{
	static int done;
	int (*init_ssl)(uint64_t, const void *);
	void *self;

	if (done)
		return;
	done = 1;
	/* Look in what is loaded already: splitgpt does not link OpenSSL,
	 * and a libcurl built on another TLS library leaves nothing. */
	if ((self = dlopen(NULL, RTLD_LAZY)) == NULL)
		return;
	*(void **)&init_ssl = dlsym(self, "OPENSSL_init_ssl");
	if (init_ssl != NULL) {
		(void)init_ssl(OSSL_INIT_AS_CURL, NULL);	/* as libcurl */
		cas_load(self, cfg);
	}
	dlclose(self);
}


void cacache_free(void)
{
	if (cas.method != NULL)
		cas.meth_free(cas.method);
	if (cas.store != NULL)
		cas.store_free(cas.store);
	cas.method = NULL;
	cas.store = NULL;
}