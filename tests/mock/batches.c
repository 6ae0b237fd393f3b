/*
 * batches.c: the mock's Files and Batches endpoints, enough of the OpenAI
 * Batch API for its official flow and for tests.  mock.c includes this
 * file (one translation unit: it answers a batch's lines with the mock's
 * own answer builder, attempt numbers and faults, all static there).
 *
 *   POST   …/files               multipart/form-data: purpose, file
 *   GET    …/files               the list
 *   GET    …/files/ID            the File object
 *   GET    …/files/ID/content    the bytes
 *   DELETE …/files/ID
 *   POST   …/batches             {"input_file_id","endpoint",
 *                                 "completion_window":"24h","metadata"?}
 *   GET    …/batches             the list
 *   GET    …/batches/ID          the Batch object
 *   POST   …/batches/ID/cancel
 *
 * A batch moves on one status every --batch-steps GETs of it:
 * validating (the input is checked: a bad line fails the batch, with
 * "errors") -> in_progress -> finalizing (every line is answered now)
 * -> completed, or expired when a line was left unanswered.  A line is
 * answered as the mock answers that request: the success goes to the
 * output file, an HTTP error (a [[mock:500]], a 400) to the error file
 * with its response, and a line whose key carries [[mock:batch-expire]]
 * (or that --fault batch-expire:RATE picks) is never sent: it goes to
 * the error file with "response":null and the error code batch_expired.
 * Both files are in a deterministic shuffled order, as the real API
 * promises no order.  Uploads beyond --max-body, or beyond --max-files
 * bytes stored in all, get 413.
 */

#define FB_MAX_FILES	4096
#define FB_MAX_BATCHES	1024
#define FB_MAX_LINES	50000		/* the real API's limit */
#define FB_MAX_ERRORS	10		/* validation errors reported */

enum bstate {
	B_VALIDATING, B_FAILED, B_IN_PROGRESS, B_FINALIZING, B_COMPLETED,
	B_EXPIRED, B_CANCELLING, B_CANCELLED, B__N
};

static const char *const bstate_name[B__N] = {
	"validating", "failed", "in_progress", "finalizing", "completed",
	"expired", "cancelling", "cancelled",
};

/* The Batch object's timestamp for entering each status. */
static const char *const bstate_at[B__N] = {
	NULL, "failed_at", "in_progress_at", "finalizing_at",
	"completed_at", "expired_at", "cancelling_at", "cancelled_at",
};

struct mfile {
	char		 id[40];
	char		*name;
	char		 purpose[32];
	long long	 created;
	struct sbuf	 data;
};

struct mbatch {
	char		 id[40], input[40], endpoint[64];
	char		 out[40], err[40];	/* "": none */
	json_object	*metadata;		/* NULL: none */
	json_object	*errors;		/* validation errors, or NULL */
	enum bstate	 state;
	long long	 gets;			/* GETs in this status */
	long long	 total, completed, failed, expired;
	long long	 created, at[B__N];
};

static pthread_mutex_t fbmu = PTHREAD_MUTEX_INITIALIZER;	/* fb */
static struct {
	struct mfile	*f[FB_MAX_FILES];
	size_t		 nf;
	long long	 bytes;
	struct mbatch	*b[FB_MAX_BATCHES];
	size_t		 nb;
	uint64_t	 serial;
} fb;

/* An id like the real ones: prefix and 24 letters and digits. */
static void
fb_id(char *out, size_t len, const char *prefix, uint64_t h)
{
	static const char a[] = "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t n = strlen(prefix), i;

	snprintf(out, len, "%s", prefix);
	for (i = 0; i < 24 && n + i + 1 < len; i++) {
		if (i % 8 == 0)
			h = mix64(h + i + cfg.seed);
		out[n + i] = a[h % 62];
		h /= 62;
	}
	out[n + i] = '\0';
}

/* ---- files ---- */

static struct mfile *
file_find(const char *id)
{
	size_t i;

	for (i = 0; i < fb.nf; i++)
		if (fb.f[i] != NULL && strcmp(fb.f[i]->id, id) == 0)
			return fb.f[i];
	return NULL;
}

/* Store a file; NULL when the store is full (the caller answers 413). */
static struct mfile *
file_add(const char *name, size_t namelen, const char *purpose,
    const char *data, size_t len)
{
	struct mfile *f;

	if (fb.nf == FB_MAX_FILES ||
	    (long long)len > cfg.max_files - fb.bytes)
		return NULL;
	f = xcalloc(1, sizeof *f);
	fb_id(f->id, sizeof f->id, "file-", ++fb.serial);
	f->name = xmalloc(namelen + 1);
	memcpy(f->name, name, namelen);
	f->name[namelen] = '\0';
	snprintf(f->purpose, sizeof f->purpose, "%s", purpose);
	f->created = (long long)time(NULL);
	sb_add(&f->data, data, len);
	fb.bytes += (long long)len;
	fb.f[fb.nf++] = f;
	return f;
}

static json_object *
file_obj(const struct mfile *f)
{
	json_object *o = json_object_new_object();

	jadd(o, "id", json_object_new_string(f->id));
	jadd(o, "object", json_object_new_string("file"));
	jadd(o, "bytes", jint((long long)f->data.len));
	jadd(o, "created_at", jint(f->created));
	jadd(o, "filename", json_object_new_string(f->name));
	jadd(o, "purpose", json_object_new_string(f->purpose));
	jadd(o, "status", json_object_new_string("processed"));
	return o;
}

/* The value of a multipart header parameter (name="x") into *v, *vl. */
static bool
mp_param(const char *h, size_t hl, const char *name, const char **v,
    size_t *vl)
{
	const char *p = find(h, hl, name, strlen(name)), *e;

	/* name=" must not be the tail of another (filename= vs name=) */
	while (p != NULL && p > h && p[-1] != ' ' && p[-1] != ';')
		p = find(p + 1, hl - (size_t)(p + 1 - h), name, strlen(name));
	if (p == NULL)
		return false;
	p += strlen(name);
	e = memchr(p, '"', hl - (size_t)(p - h));
	if (e == NULL)
		return false;
	*v = p;
	*vl = (size_t)(e - p);
	return true;
}

struct upload {
	const char	*purpose, *file, *name;
	size_t		 purposelen, filelen, namelen;
};

/* Parse a multipart/form-data body into its purpose and file parts. */
static bool
mp_parse(const char *ctype, const char *body, size_t len, struct upload *u)
{
	char delim[200];
	const char *b, *p, *end = body + len, *hd, *data, *next, *v;
	size_t bl, dl, vl;
	int parts;

	memset(u, 0, sizeof *u);
	if (ctype == NULL || (b = strstr(ctype, "boundary=")) == NULL)
		return false;
	b += strlen("boundary=");
	bl = strcspn(b, "; \t");
	if (bl >= 2 && b[0] == '"' && b[bl - 1] == '"') {
		b++;
		bl -= 2;
	}
	if (bl == 0 || bl + 5 > sizeof delim)
		return false;
	dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%.*s", (int)bl, b);
	if (len < dl - 2 || memcmp(body, delim + 2, dl - 2) != 0)
		return false;
	p = body + dl - 2;
	for (parts = 0; parts < 64 && end - p >= 2 &&
	    memcmp(p, "--", 2) != 0; parts++) {
		hd = p;
		if ((data = find(p, (size_t)(end - p), "\r\n\r\n", 4)) == NULL)
			return false;
		data += 4;
		next = find(data, (size_t)(end - data), delim, dl);
		if (next == NULL)
			return false;
		vl = 0;
		if (mp_param(hd, (size_t)(data - hd), "name=\"", &v, &vl) &&
		    vl == 7 && memcmp(v, "purpose", 7) == 0) {
			u->purpose = data;
			u->purposelen = (size_t)(next - data);
		} else if (vl == 4 && memcmp(v, "file", 4) == 0) {
			u->file = data;
			u->filelen = (size_t)(next - data);
			if (!mp_param(hd, (size_t)(data - hd), "filename=\"",
			    &u->name, &u->namelen)) {
				u->name = "upload.jsonl";
				u->namelen = strlen(u->name);
			}
		}
		p = next + dl;
	}
	return u->purpose != NULL && u->file != NULL;
}

static void
file_upload(struct MHD_Connection *c, struct req *rq, struct reply *r)
{
	struct upload u;
	struct mfile *f;
	char purpose[32];

	if (rq->toolong) {
		reply_error(r, 413, "File too large (see --max-body)",
		    "invalid_request_error", "file", NULL);
		return;
	}
	if (!mp_parse(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE), rq->body, rq->len, &u)) {
		reply_error(r, 400, "Expected a multipart/form-data body with "
		    "the fields 'purpose' and 'file'.",
		    "invalid_request_error", NULL, NULL);
		return;
	}
	if (u.purposelen == 0 || u.purposelen >= sizeof purpose) {
		reply_error(r, 400, "Invalid 'purpose'.",
		    "invalid_request_error", "purpose", NULL);
		return;
	}
	memcpy(purpose, u.purpose, u.purposelen);
	purpose[u.purposelen] = '\0';
	if ((f = file_add(u.name, u.namelen, purpose, u.file,
	    u.filelen)) == NULL) {
		reply_error(r, 413, "The file store is full (see --max-files)",
		    "invalid_request_error", "file", NULL);
		return;
	}
	jemit(file_obj(f), &r->body);
}

static void
no_such(struct reply *r, const char *what, const char *id)
{
	char msg[160];

	snprintf(msg, sizeof msg, "No such %s object: %s", what, id);
	reply_error(r, 404, msg, "invalid_request_error", "id", NULL);
}

static void
files_serve(struct MHD_Connection *c, struct req *rq, const char *method,
    const char *id, const char *action, struct reply *r)
{
	json_object *o, *data;
	struct mfile *f;
	size_t i;

	if (id[0] == '\0' && strcmp(method, "POST") == 0) {
		file_upload(c, rq, r);
		return;
	}
	if (id[0] == '\0' && strcmp(method, "GET") == 0) {
		o = json_object_new_object();
		data = json_object_new_array();
		for (i = 0; i < fb.nf; i++)
			if (fb.f[i] != NULL)
				json_object_array_add(data, file_obj(fb.f[i]));
		jadd(o, "object", json_object_new_string("list"));
		jadd(o, "data", data);
		jadd(o, "has_more", json_object_new_boolean(0));
		jemit(o, &r->body);
		return;
	}
	if (id[0] == '\0' || (f = file_find(id)) == NULL) {
		no_such(r, "File", id);
		return;
	}
	if (strcmp(method, "GET") == 0 && strcmp(action, "") == 0)
		jemit(file_obj(f), &r->body);
	else if (strcmp(method, "GET") == 0 && strcmp(action, "content") == 0) {
		r->ctype = "application/octet-stream";
		sb_add(&r->body, f->data.p ? f->data.p : "", f->data.len);
	} else if (strcmp(method, "DELETE") == 0 && action[0] == '\0') {
		o = json_object_new_object();
		jadd(o, "id", json_object_new_string(f->id));
		jadd(o, "object", json_object_new_string("file"));
		jadd(o, "deleted", json_object_new_boolean(1));
		jemit(o, &r->body);
		for (i = 0; i < fb.nf; i++)
			if (fb.f[i] == f)
				fb.f[i] = NULL;
		fb.bytes -= (long long)f->data.len;
		sb_free(&f->data);
		free(f->name);
		free(f);
	} else
		reply_error(r, 405, "Method not allowed.",
		    "invalid_request_error", NULL, NULL);
}

/* ---- batches: the lines ---- */

/* The next line of [*p, end) (without its end), or false at the end. */
static bool
next_line(const char **p, const char *end, const char **s, size_t *n)
{
	const char *e;

	if (*p >= end)
		return false;
	*s = *p;
	e = memchr(*p, '\n', (size_t)(end - *p));
	*n = (size_t)((e ? e : end) - *p);
	*p = e ? e + 1 : end;
	if (*n > 0 && (*s)[*n - 1] == '\r')
		(*n)--;
	return true;
}

static bool
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

static void
batch_error(struct mbatch *b, const char *code, const char *msg,
    const char *param, long long line)
{
	json_object *e, *data;

	if (b->errors == NULL) {
		b->errors = json_object_new_object();
		jadd(b->errors, "object", json_object_new_string("list"));
		jadd(b->errors, "data", json_object_new_array());
	}
	data = jget(b->errors, "data");
	if (json_object_array_length(data) >= FB_MAX_ERRORS)
		return;
	e = json_object_new_object();
	jadd(e, "code", json_object_new_string(code));
	jadd(e, "message", json_object_new_string(msg));
	jadd(e, "param", param ? json_object_new_string(param) : NULL);
	jadd(e, "line", line > 0 ? jint(line) : NULL);
	json_object_array_add(data, e);
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line's fault, if any: what a Batch line checks beyond JSON. */
static const char *
line_problem(json_object *o, const char *endpoint, const char **param)
{
	json_object *v;

	*param = NULL;
	if (o == NULL)
		return "This line is not a JSON object.";
	v = jget(o, "custom_id");
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		*param = "custom_id";
		return "Missing or empty 'custom_id'.";
	}
	v = jget(o, "method");
	if (!json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "POST") != 0) {
		*param = "method";
		return "'method' must be \"POST\".";
	}
	v = jget(o, "url");
	if (!json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), endpoint) != 0) {
		*param = "url";
		return "'url' must be the batch's endpoint.";
	}
	if (!json_object_is_type(jget(o, "body"), json_type_object)) {
		*param = "body";
		return "'body' must be a JSON object.";
	}
	return NULL;
}

/* validating -> in_progress, or failed with "errors". */
static bool
batch_validate(struct mbatch *b)
{
	struct mfile *in = file_find(b->input);
	const char *p, *end, *s, *why, *param;
	char **ids = NULL, msg[200];
	size_t n, nids = 0, i;
	long long line = 0;
	json_object *o, *v;

	if (in == NULL) {
		batch_error(b, "file_not_found", "The input file is gone.",
		    "input_file_id", 0);
		return false;
	}
	p = in->data.p ? in->data.p : "";
	end = p + in->data.len;
	while (next_line(&p, end, &s, &n)) {
		line++;
		if (blank(s, n))
			continue;
		o = parse_body(s, n);
		if ((why = line_problem(o, b->endpoint, &param)) != NULL)
			batch_error(b, param ? "invalid_request" :
			    "invalid_json_line", why, param, line);
		else if (nids < FB_MAX_LINES) {
			v = jget(o, "custom_id");
			ids = xrealloc(ids, (nids + 1) * sizeof *ids);
			ids[nids] = xmalloc((size_t)
			    json_object_get_string_len(v) + 1);
			memcpy(ids[nids++], json_object_get_string(v),
			    (size_t)json_object_get_string_len(v) + 1);
		} else
			batch_error(b, "too_many_requests", "More than 50000 "
			    "requests in one batch.", NULL, line);
		json_object_put(o);
	}
	qsort(ids, nids, sizeof *ids, strp_cmp);
	for (i = 1; i < nids && b->errors == NULL; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0) {
			snprintf(msg, sizeof msg, "The custom_id '%.100s' is "
			    "not unique.", ids[i]);
			batch_error(b, "duplicate_custom_id", msg, "custom_id",
			    0);
		}
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	if (nids == 0 && b->errors == NULL)
		batch_error(b, "empty_file", "The input file has no requests.",
		    "input_file_id", 0);
	b->total = (long long)nids;
	return b->errors == NULL;
}

/*
 * The answer to a line's request body, as serve_api answers it (but never
 * streamed, never delayed, no rate limits): returns the attempt number,
 * or -1 when the line is left unanswered (batch-expire).
 */
static long long
line_answer(const char *endpoint, json_object *body, struct reply *r,
    uint64_t *kh)
{
	struct call k;
	struct fault df;
	const struct fault *f = NULL;
	const char *eparam = NULL;
	char emsg[600];
	uint64_t attempt = 0;
	int d = 0;

	call_init(&k, route(endpoint));
	emsg[0] = '\0';
	extract(body, &k, emsg, sizeof emsg, &eparam);
	k.stream = false;
	if (k.key.p != NULL)
		d = directive(k.key.p, k.key.len, &df, emsg, sizeof emsg);
	k.kh = k.key.p ? fnv1a(k.key.p, k.key.len) : 0;
	*kh = k.kh;
	if (d > 0 && df.kind == F_BATCH_EXPIRE) {
		pthread_mutex_lock(&mu);
		st.faults[F_BATCH_EXPIRE]++;
		pthread_mutex_unlock(&mu);
		sb_free(&k.key);
		return -1;
	}
	if (k.key.p != NULL)
		attempt = key_register(k.key.p, k.key.len, k.kh, &(uint64_t){0});
	r->status = 200;
	r->ctype = "application/json";
	if (emsg[0] != '\0' || d < 0)
		reply_error(r, 400, emsg, "invalid_request_error", eparam,
		    NULL);
	else if (!model_known(k.model)) {
		snprintf(emsg, sizeof emsg, "The model `%s` does not exist or "
		    "you do not have access to it.", k.model);
		reply_error(r, 404, emsg, "invalid_request_error", NULL,
		    "model_not_found");
	} else {
		f = d > 0 ? &df : random_fault(k.kh, attempt);
		if (f != NULL && f->times >= 0 &&
		    (long long)attempt >= f->times)
			f = NULL;
		if (f != NULL && f->kind == F_BATCH_EXPIRE && d == 0) {
			pthread_mutex_lock(&mu);
			st.faults[F_BATCH_EXPIRE]++;
			pthread_mutex_unlock(&mu);
			sb_free(&k.key);
			return -1;
		}
		if (f != NULL && f->kind == F_HTTP)
			http_fault(f, r);
		else if (f != NULL && f->kind != F_NONE &&
		    f->kind != F_SLEEP && f->kind != F_SLOW_HEADERS &&
		    f->kind != F_SLOW_BODY && f->kind != F_BATCH_EXPIRE &&
		    (f->kind == F_ERROR_LINE || !is_stream_fault(f->kind)))
			/* What broke the connection or the body becomes the
			 * batch's own server error. */
			reply_error(r, 500, "The server had an error while "
			    "processing your request.", "server_error", NULL,
			    NULL);
		else
			build_answer(&k, NULL, r);
		pthread_mutex_lock(&mu);
		if (r->status / 100 == 2 && k.key.p != NULL)
			key_get(k.key.p, k.key.len, k.kh)->ok++;
		if (f != NULL && f->kind != F_NONE)
			st.faults[f->kind]++;
		pthread_mutex_unlock(&mu);
	}
	sb_free(&k.key);
	return (long long)attempt;
}

/* The record of line no (1-based) into rec; returns what it is. */
enum lres { L_OK, L_FAILED, L_EXPIRED };

static enum lres
batch_line(const struct mbatch *b, json_object *line, long long no,
    struct sbuf *rec)
{
	struct reply r;
	json_object *o, *resp, *e, *body;
	char id[48], rid[48];
	long long attempt;
	uint64_t kh;
	enum lres res;

	memset(&r, 0, sizeof r);
	attempt = line_answer(b->endpoint, jget(line, "body"), &r, &kh);
	o = json_object_new_object();
	fb_id(id, sizeof id, "batch_req_", fnv1a(b->id, strlen(b->id)) ^
	    (uint64_t)no);
	jadd(o, "id", json_object_new_string(id));
	jadd(o, "custom_id", json_object_get(jget(line, "custom_id")));
	if (attempt < 0) {
		e = json_object_new_object();
		jadd(e, "code", json_object_new_string("batch_expired"));
		jadd(e, "message", json_object_new_string("This request could "
		    "not be executed before the completion window expired."));
		jadd(o, "response", NULL);
		jadd(o, "error", e);
		res = L_EXPIRED;
	} else {
		body = parse_body(r.body.p ? r.body.p : "", r.body.len);
		resp = json_object_new_object();
		snprintf(rid, sizeof rid, "req_mock_%016" PRIx64,
		    mix64(khash(kh, P_REQID) ^ (uint64_t)attempt));
		jadd(resp, "status_code", jint(r.status));
		jadd(resp, "request_id", json_object_new_string(rid));
		jadd(resp, "body", body);
		jadd(o, "response", resp);
		jadd(o, "error", NULL);
		res = r.status / 100 == 2 && body != NULL ? L_OK : L_FAILED;
	}
	jemit(o, rec);
	sb_add(rec, "\n", 1);
	reply_free(&r);
	return res;
}

/* Records in a deterministic shuffled order, joined into one file. */
static void
shuffle_join(struct sbuf *v, size_t n, uint64_t h, struct sbuf *out)
{
	struct sbuf t;
	size_t i, j;

	for (i = n; i > 1; i--) {
		j = (size_t)(draw(h, i, P_JITTER) % i);
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
	for (i = 0; i < n; i++) {
		sb_add(out, v[i].p, v[i].len);
		sb_free(&v[i]);
	}
}

/* in_progress -> finalizing: answer every line, write the two files. */
static void
batch_run(struct mbatch *b)
{
	struct mfile *in = file_find(b->input), *f;
	struct sbuf *ok, *bad, okf = { 0 }, badf = { 0 };
	size_t nok = 0, nbad = 0, n;
	const char *p, *end, *s;
	long long no = 0;
	uint64_t h = fnv1a(b->id, strlen(b->id));
	char name[80];
	json_object *o;

	ok = xcalloc((size_t)b->total + 1, sizeof *ok);
	bad = xcalloc((size_t)b->total + 1, sizeof *bad);
	p = in && in->data.p ? in->data.p : "";
	end = p + (in ? in->data.len : 0);
	while (next_line(&p, end, &s, &n) &&
	    nok + nbad < (size_t)b->total) {
		no++;
		if (blank(s, n) || (o = parse_body(s, n)) == NULL)
			continue;
		switch (batch_line(b, o, no, &ok[nok])) {
		case L_OK:
			nok++;
			break;
		case L_EXPIRED:
			b->expired++;
			/* FALLTHROUGH */
		case L_FAILED:
			bad[nbad] = ok[nok];
			memset(&ok[nok], 0, sizeof ok[nok]);
			nbad++;
			break;
		}
		json_object_put(o);
	}
	b->completed = (long long)nok;
	b->failed = (long long)nbad;
	shuffle_join(ok, nok, h, &okf);
	shuffle_join(bad, nbad, h ^ 1, &badf);
	snprintf(name, sizeof name, "%s_output.jsonl", b->id);
	if (nok > 0 && (f = file_add(name, strlen(name), "batch_output",
	    okf.p, okf.len)) != NULL)
		snprintf(b->out, sizeof b->out, "%s", f->id);
	snprintf(name, sizeof name, "%s_error.jsonl", b->id);
	if (nbad > 0 && (f = file_add(name, strlen(name), "batch_output",
	    badf.p, badf.len)) != NULL)
		snprintf(b->err, sizeof b->err, "%s", f->id);
	sb_free(&okf);
	sb_free(&badf);
	free(ok);
	free(bad);
}

/* ---- batches: the objects ---- */

static void
batch_enter(struct mbatch *b, enum bstate s)
{
	b->state = s;
	b->gets = 0;
	b->at[s] = (long long)time(NULL);
}

/* A GET of the batch: every --batch-steps of them, the next status. */
static void
batch_step(struct mbatch *b)
{
	if (++b->gets < cfg.batch_steps)
		return;
	switch (b->state) {
	case B_VALIDATING:
		batch_enter(b, batch_validate(b) ? B_IN_PROGRESS : B_FAILED);
		break;
	case B_IN_PROGRESS:
		batch_run(b);
		batch_enter(b, B_FINALIZING);
		break;
	case B_FINALIZING:
		batch_enter(b, b->expired > 0 ? B_EXPIRED : B_COMPLETED);
		break;
	case B_CANCELLING:
		batch_enter(b, B_CANCELLED);
		break;
	default:
		break;
	}
}

static json_object *
idval(const char *id)
{
	return id[0] ? json_object_new_string(id) : NULL;
}

static json_object *
batch_obj(const struct mbatch *b)
{
	json_object *o = json_object_new_object(), *rc;
	int s;

	jadd(o, "id", json_object_new_string(b->id));
	jadd(o, "object", json_object_new_string("batch"));
	jadd(o, "endpoint", json_object_new_string(b->endpoint));
	jadd(o, "errors", b->errors ? json_object_get(b->errors) : NULL);
	jadd(o, "input_file_id", json_object_new_string(b->input));
	jadd(o, "completion_window", json_object_new_string("24h"));
	jadd(o, "status", json_object_new_string(bstate_name[b->state]));
	jadd(o, "output_file_id", idval(b->out));
	jadd(o, "error_file_id", idval(b->err));
	jadd(o, "created_at", jint(b->created));
	jadd(o, "expires_at", jint(b->created + 86400));
	for (s = 1; s < B__N; s++)
		jadd(o, bstate_at[s], b->at[s] ? jint(b->at[s]) : NULL);
	rc = json_object_new_object();
	jadd(rc, "total", jint(b->total));
	jadd(rc, "completed", jint(b->completed));
	jadd(rc, "failed", jint(b->failed));
	jadd(o, "request_counts", rc);
	jadd(o, "metadata", b->metadata ? json_object_get(b->metadata) :
	    NULL);
	return o;
}

static struct mbatch *
batch_find(const char *id)
{
	size_t i;

	for (i = 0; i < fb.nb; i++)
		if (strcmp(fb.b[i]->id, id) == 0)
			return fb.b[i];
	return NULL;
}

static bool
endpoint_ok(const char *e)
{
	static const char *const ok[] = {
		"/v1/chat/completions", "/v1/completions", "/v1/embeddings",
		"/v1/responses", "/v1/moderations",
	};
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(e, ok[i]) == 0)
			return true;
	return false;
}

static void
batch_create(struct req *rq, struct reply *r)
{
	json_object *root = rq->toolong ? NULL : parse_body(rq->body, rq->len);
	json_object *in = jget(root, "input_file_id"), *ep = jget(root,
	    "endpoint"), *w = jget(root, "completion_window"),
	    *md = jget(root, "metadata");
	struct mfile *f;
	struct mbatch *b;

	if (root == NULL)
		reply_error(r, 400, "The body must be a JSON object.",
		    "invalid_request_error", NULL, NULL);
	else if (!json_object_is_type(in, json_type_string))
		reply_error(r, 400, "Missing 'input_file_id'.",
		    "invalid_request_error", "input_file_id", NULL);
	else if (!json_object_is_type(ep, json_type_string) ||
	    !endpoint_ok(json_object_get_string(ep)))
		reply_error(r, 400, "Invalid 'endpoint'.",
		    "invalid_request_error", "endpoint", NULL);
	else if (!json_object_is_type(w, json_type_string) ||
	    strcmp(json_object_get_string(w), "24h") != 0)
		reply_error(r, 400, "Invalid 'completion_window': only 24h.",
		    "invalid_request_error", "completion_window", NULL);
	else if (md != NULL && !json_object_is_type(md, json_type_object))
		reply_error(r, 400, "Invalid 'metadata'.",
		    "invalid_request_error", "metadata", NULL);
	else if ((f = file_find(json_object_get_string(in))) == NULL ||
	    strcmp(f->purpose, "batch") != 0)
		no_such(r, "File", json_object_get_string(in));
	else if (fb.nb == FB_MAX_BATCHES)
		reply_error(r, 429, "Too many batches.", "requests", NULL,
		    "batch_limit_exceeded");
	else {
		b = xcalloc(1, sizeof *b);
		fb_id(b->id, sizeof b->id, "batch_", ++fb.serial);
		snprintf(b->input, sizeof b->input, "%s", f->id);
		snprintf(b->endpoint, sizeof b->endpoint, "%s",
		    json_object_get_string(ep));
		b->metadata = md ? json_object_get(md) : NULL;
		b->created = (long long)time(NULL);
		batch_enter(b, B_VALIDATING);
		fb.b[fb.nb++] = b;
		jemit(batch_obj(b), &r->body);
	}
	json_object_put(root);
}

static void
batches_serve(struct req *rq, const char *method, const char *id,
    const char *action, struct reply *r)
{
	json_object *o, *data;
	struct mbatch *b;
	size_t i;
	bool get = strcmp(method, "GET") == 0;

	if (id[0] == '\0' && strcmp(method, "POST") == 0) {
		batch_create(rq, r);
		return;
	}
	if (id[0] == '\0' && get) {
		o = json_object_new_object();
		data = json_object_new_array();
		for (i = fb.nb; i > 0; i--)
			json_object_array_add(data, batch_obj(fb.b[i - 1]));
		jadd(o, "object", json_object_new_string("list"));
		jadd(o, "data", data);
		jadd(o, "has_more", json_object_new_boolean(0));
		jemit(o, &r->body);
		return;
	}
	if (id[0] == '\0' || (b = batch_find(id)) == NULL) {
		no_such(r, "Batch", id);
		return;
	}
	if (get && action[0] == '\0') {
		batch_step(b);
		jemit(batch_obj(b), &r->body);
	} else if (!get && strcmp(method, "POST") == 0 &&
	    strcmp(action, "cancel") == 0) {
		if (b->state == B_VALIDATING || b->state == B_IN_PROGRESS)
			batch_enter(b, B_CANCELLING);
		else if (b->state != B_CANCELLING) {
			reply_error(r, 409, "Cannot cancel a batch that is "
			    "over.", "invalid_request_error", NULL, NULL);
			return;
		}
		jemit(batch_obj(b), &r->body);
	} else
		reply_error(r, 405, "Method not allowed.",
		    "invalid_request_error", NULL, NULL);
}

/* ".../SEG", ".../SEG/ID" or ".../SEG/ID/ACTION" into id and action. */
static bool
url_parts(const char *url, const char *seg, char *id, size_t idsz,
    const char **action)
{
	const char *p = strstr(url, seg) + strlen(seg), *e;
	size_t n;

	*action = "";
	id[0] = '\0';
	if (*p == '\0')
		return true;
	p++;
	e = strchr(p, '/');
	n = e ? (size_t)(e - p) : strlen(p);
	if (n == 0 || n >= idsz)
		return false;
	memcpy(id, p, n);
	id[n] = '\0';
	if (e != NULL)
		*action = e + 1;
	return strchr(*action, '/') == NULL;
}

static enum MHD_Result
serve_batches(struct MHD_Connection *c, struct req *rq, const char *method,
    const char *url)
{
	struct reply r;
	const char *action;
	char id[64];
	enum MHD_Result ret;
	bool files = rq->rt == RT_FILES;

	memset(&r, 0, sizeof r);
	r.status = 200;
	r.ctype = "application/json";
	add_hdr(&r, "x-request-id", "req_mock_%016" PRIx64,
	    khash(fnv1a(url, strlen(url)), P_REQID));
	if (!authorized(c))
		reply_error(&r, 401, "Incorrect API key provided",
		    "invalid_request_error", NULL, "invalid_api_key");
	else if (!url_parts(url, files ? "/files" : "/batches", id, sizeof id,
	    &action))
		reply_error(&r, 404, "Unknown request URL.",
		    "invalid_request_error", NULL, "unknown_url");
	else {
		pthread_mutex_lock(&fbmu);
		if (files)
			files_serve(c, rq, method, id, action, &r);
		else
			batches_serve(rq, method, id, action, &r);
		pthread_mutex_unlock(&fbmu);
	}
	r.genuine = r.status / 100 == 2;
	ret = send_reply(c, rq, &r, method, url, -1);
	reply_free(&r);
	return ret;
}
