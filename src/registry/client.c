#include "registry/internal.h"
#include "registry/url.h"

#include "util/cleanup.h"
#include "util/interrupt.h"
#include "util/lazylib.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ATTEMPTS 4
#define MAX_REDIRECTS 5
#define ERR_BODY_MAX (64u << 10)
#define SINK_BUFFER (512L << 10)        /* CURLOPT_BUFFERSIZE of streamed downloads */
#define CERTS_D_CONTAINERS "/etc/containers/certs.d"
#define CERTS_D_DOCKER "/etc/docker/certs.d"

int reg_global_init(cn_err *err)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *why = cn_lazylib_error(CN_LAZY_CURL);
	if (rc != CURLE_OK && *why)
		return cn_err_fail(err, CN_ERR_SYSTEM, "libcurl cannot be loaded: %s", why);
	if (rc != CURLE_OK)
		return cn_err_fail(err, CN_ERR_SYSTEM, "libcurl: %s", curl_easy_strerror(rc));
	return 0;
}

void reg_report(struct reg_client *c, enum reg_phase phase, const char *digest, uint64_t done,
		uint64_t total)
{
	struct reg_progress p = { .phase = phase, .digest = digest, .done = done, .total = total };
	if (!c->opts->progress)
		return;
	pthread_mutex_lock(&c->progress_mu);
	c->opts->progress(c->opts->progress_ctx, &p);
	pthread_mutex_unlock(&c->progress_mu);
}

void reg_resp_free(struct reg_resp *r)
{
	free(r->location);
	free(r->content_type);
	free(r->www_authenticate);
	free(r->range);
	cn_buf_free(&r->err_body);
	memset(r, 0, sizeof(*r));
}

/* ---- URLs ---- */

static bool is_loopback(const char *host)
{
	/* host[:port]; IPv6 in brackets. */
	size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
	return (n == 9 && strncmp(host, "localhost", 9) == 0) ||
	       (n >= 4 && strncmp(host, "127.", 4) == 0) || (n == 5 && strncmp(host, "[::1]", 5) == 0);
}

/* ---- TLS: extra CAs per host, from certs.d and --cert-dir ---- */

struct ca_files {
	cn_strv files;
};

static void add_crt_files(cn_strv *out, const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".crt") == 0)
			cn_strv_push(out, cn_xasprintf("%s/%s", dir, de->d_name));
	}
}

static void collect_cas(const struct reg_client *c, const char *host, cn_strv *out)
{
	_cleanup_free_ char *a = cn_xasprintf("%s/%s", CERTS_D_CONTAINERS, host);
	_cleanup_free_ char *b = cn_xasprintf("%s/%s", CERTS_D_DOCKER, host);
	add_crt_files(out, a);
	add_crt_files(out, b);
	if (c->cert_dir)
		add_crt_files(out, c->cert_dir);
}

static CURLcode ssl_ctx_cb(CURL *curl, void *sslctx, void *parm)
{
	const cn_strv *files = parm;
	X509_STORE *store = SSL_CTX_get_cert_store(sslctx);
	(void)curl;
	for (size_t i = 0; i < files->n; i++)
		if (!X509_STORE_load_file(store, files->v[i]))
			return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

/* ---- one exchange ---- */

struct exchange {
	const struct reg_req *rq;
	struct reg_resp *resp;
	CURL *curl;
	uint64_t sent;
	bool sink_started;
};

/* The first NAME header of the last response (1xx ones are not), trimmed
 * by libcurl; heap or NULL. */
static char *header_dup(CURL *curl, const char *name)
{
	struct curl_header *h;
	if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return cn_xstrdup(h->value);
}

/* The headers the client uses, from the final response. A relative
 * Location is resolved against URL, the request's own (RFC 3986); one
 * that does not resolve is dropped, as if there were none. */
static void read_headers(CURL *curl, const char *url, struct reg_resp *r)
{
	_cleanup_free_ char *loc = header_dup(curl, "Location");
	_cleanup_free_ char *retry = header_dup(curl, "Retry-After");
	free(r->location);
	free(r->content_type);
	free(r->www_authenticate);
	free(r->range);
	r->content_type = header_dup(curl, "Content-Type");
	r->www_authenticate = header_dup(curl, "WWW-Authenticate");
	r->range = header_dup(curl, "Range");
	r->retry_after = retry ? strtol(retry, NULL, 10) : 0;
	/* Another scheme is kept as given, for the refusal to name it. */
	r->location = !loc ? NULL : reg_url_other_scheme(loc) ? cn_xstrdup(loc) : reg_url_resolve(url, loc);
}

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *x = arg;
	const struct reg_req *rq = x->rq;
	struct reg_resp *r = x->resp;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		/* Error bodies (and redirect bodies) are kept for messages only. */
		cn_buf_add(&r->err_body, data, len < ERR_BODY_MAX - r->err_body.len ? len
						  : ERR_BODY_MAX - r->err_body.len);
		return len;
	}
	if (rq->sink) {
		x->sink_started = true;
		if (rq->sink(rq->sink_ctx, data, len) < 0) {
			r->sink_failed = true;
			return 0;
		}
		return len;
	}
	if (rq->out && cn_buf_add(rq->out, data, len) < 0) {
		cn_err_fail(&r->sink_err, CN_ERR_TOO_BIG, "response larger than %zu bytes", rq->out->max);
		r->sink_failed = true;
		return 0;
	}
	return len;
}

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct exchange *x = arg;
	const struct reg_req *rq = x->rq;
	size_t want = size * n;
	if (rq->has_fd_body) {
		uint64_t left = rq->body_fd_len - x->sent;
		ssize_t got;
		if (want > left)
			want = (size_t)left;
		if (want == 0)
			return 0;
		got = pread(rq->body_fd, buf, want, (off_t)(rq->body_off + x->sent));
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		x->sent += (uint64_t)got;
		return (size_t)got;
	}
	if (want > rq->body_len - x->sent)
		want = (size_t)(rq->body_len - x->sent);
	memcpy(buf, (const char *)rq->body + x->sent, want);
	x->sent += want;
	return want;
}

static int xferinfo_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	return cn_interrupted() ? 1 : 0;
}

static struct curl_slist *slist_add(struct curl_slist *l, const char *s)
{
	struct curl_slist *n = curl_slist_append(l, s);
	if (!n) {
		curl_slist_free_all(l);
		abort();        /* out of memory, as cn_x* do */
	}
	return n;
}

/* Perform METHOD URL once. Returns the curl code. */
static CURLcode exchange_once(struct reg_conn *k, const struct reg_req *rq, const char *method,
			      const char *url, const char *auth, struct reg_resp *resp,
			      cn_strv *cas, char *errbuf)
{
	CURL *curl = k->curl;
	struct curl_slist *hl = NULL;
	struct exchange x = { .rq = rq, .resp = resp, .curl = curl };
	bool has_body = rq->has_fd_body || rq->body;
	CURLcode rc;

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled transfer (under 1 byte/s for a minute) fails and is retried. */
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "cairn/0.1");
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, k->c->tls_verify ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, k->c->tls_verify ? 2L : 0L);
	if (cas->n) {
		curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
		curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, cas);
	}
	/* Blobs arrive in bigger pieces than the 16 KiB default: fewer reads,
	 * writes and hash calls per byte (curl's own cap is 10 MiB). */
	if (rq->sink)
		curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, SINK_BUFFER);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		curl_off_t len = rq->has_fd_body ? (curl_off_t)rq->body_fd_len : (curl_off_t)rq->body_len;
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, len);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(curl, CURLOPT_READDATA, &x);
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
		hl = slist_add(hl, "Expect:");
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	} else if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
		/* An empty body (the closing PUT of an upload). */
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(curl, CURLOPT_READDATA, &x);
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	}
	for (const char *const *h = rq->headers; h && *h; h++)
		hl = slist_add(hl, *h);
	if (auth)
		hl = slist_add(hl, auth);
	if (hl)
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
	errbuf[0] = '\0';
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	read_headers(curl, url, resp);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	return rc;
}

static bool retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* 0.5 s, 1 s, 2 s ...; a Retry-After of up to 30 s is honoured. */
static int backoff(int attempt, long retry_after, cn_err *err)
{
	long ms = 500L << (attempt > 6 ? 6 : attempt);
	struct timespec ts;
	if (getenv("CAIRN_TEST_FAST_RETRY"))
		ms = 10;
	if (retry_after > 0)
		ms = (retry_after > 30 ? 30 : retry_after) * 1000L;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		if (cn_interrupted())
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	return 0;
}

/* ---- authentication ---- */

void reg_challenge_free(struct reg_challenge *ch)
{
	free(ch->realm);
	free(ch->service);
	free(ch->scope);
}

/* `Bearer realm="https://auth",service="reg",scope="repository:x:pull"` */
int reg_challenge_parse(const char *s, struct reg_challenge *ch)
{
	size_t n = strcspn(s, " \t");
	memset(ch, 0, sizeof(*ch));
	if (n == 0 || n >= sizeof(ch->scheme))
		return -1;
	memcpy(ch->scheme, s, n);
	s += n;
	while (*s) {
		const char *key;
		size_t klen;
		cn_buf val;
		char **slot = NULL;
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		key = s;
		klen = strcspn(s, "=, \t");
		s += klen;
		if (*s != '=')
			continue;   /* a token68 or a bare word: not used */
		s++;
		cn_buf_init(&val, 8192);
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				cn_buf_addc(&val, *s);
			}
			if (*s == '"')
				s++;
		} else {
			size_t vl = strcspn(s, ", \t");
			cn_buf_add(&val, s, vl);
			s += vl;
		}
		if (klen == 5 && strncasecmp(key, "realm", 5) == 0)
			slot = &ch->realm;
		else if (klen == 7 && strncasecmp(key, "service", 7) == 0)
			slot = &ch->service;
		else if (klen == 5 && strncasecmp(key, "scope", 5) == 0)
			slot = &ch->scope;
		if (slot && !*slot)
			*slot = cn_buf_detach(&val);
		cn_buf_free(&val);
	}
	return 0;
}

static char *basic_header(const struct reg_creds *cr)
{
	_cleanup_free_ char *plain = cn_xasprintf("%s:%s", cr->user, cr->pass);
	size_t n = strlen(plain);
	_cleanup_free_ char *b64 = cn_xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)n);
	explicit_bzero(plain, n);
	return cn_xasprintf("Authorization: Basic %s", b64);
}

static void url_add_param(cn_buf *u, CURL *curl, const char *key, const char *value)
{
	char *esc = curl_easy_escape(curl, value, 0);
	cn_buf_addf(u, "%c%s=%s", strchr(u->data, '?') ? '&' : '?', key, esc ? esc : "");
	curl_free(esc);
}

/* The token flow: GET realm?service=..&scope=.. (with the credentials as
 * Basic auth, only over https), answer {"token"|"access_token": ...}. */
static int fetch_token(struct reg_conn *k, const struct reg_challenge *ch, char **header, cn_err *err)
{
	struct reg_client *c = k->c;
	_cleanup_buf_ cn_buf url, body;
	_cleanup_free_ char *basic = NULL, *rhost = NULL;
	struct reg_req rq = { .method = "GET", .out = &body, .retry = true };
	struct reg_resp resp = { 0 };
	_cleanup_strv_ cn_strv cas = { 0 };
	char errbuf[CURL_ERROR_SIZE];
	bool https = false;
	json_t *doc;
	const char *tok;
	CURLcode rc = CURLE_OK;
	int r = -1;

	cn_buf_init(&url, 16384);
	cn_buf_init(&body, REG_MAX_MANIFEST);
	rhost = ch->realm ? reg_url_host(ch->realm, &https) : NULL;
	if (!rhost)
		return cn_err_fail(err, CN_ERR_PROTOCOL, "registry %s: bad token realm '%s'", c->host,
				  ch->realm ? ch->realm : "");
	if (!https && c->tls_verify && !is_loopback(rhost))
		return cn_err_fail(err, CN_ERR_PROTOCOL, "registry %s: token realm %s is not https", c->host,
				  ch->realm);
	cn_buf_adds(&url, ch->realm);
	if (ch->service)
		url_add_param(&url, k->curl, "service", ch->service);
	for (size_t i = 0; i < c->scopes.n; i++)
		url_add_param(&url, k->curl, "scope", c->scopes.v[i]);
	if (ch->scope && !cn_strv_array(&c->scopes)[0])
		url_add_param(&url, k->curl, "scope", ch->scope);
	/* Credentials go only to a realm on https. */
	if (c->creds.user && https)
		basic = basic_header(&c->creds);
	collect_cas(c, rhost, &cas);
	cn_buf_init(&resp.err_body, ERR_BODY_MAX);
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		cn_buf_reset(&body);
		cn_buf_reset(&resp.err_body);
		rc = exchange_once(k, &rq, "GET", url.data, basic, &resp, &cas, errbuf);
		if (rc == CURLE_OK && resp.status != 429 && resp.status < 500)
			break;
		if (rc != CURLE_OK && !retryable(rc))
			break;
		if (attempt + 1 < MAX_ATTEMPTS && backoff(attempt, resp.retry_after, err) < 0)
			goto out;
	}
	if (rc != CURLE_OK) {
		cn_err_fail(err, CN_ERR_NETWORK, "token server %s: %s", rhost, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (resp.status == 401 || resp.status == 403) {
		cn_err_fail(err, CN_ERR_DENIED, "registry %s: the token server refused %s", c->host,
			   c->creds.user ? "the credentials (wrong user or password?)" : "anonymous access");
		goto out;
	}
	if (resp.status != 200) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "token server %s: HTTP %ld", rhost, resp.status);
		goto out;
	}
	doc = json_loadb(body.data, body.len, 0, NULL);
	tok = json_string_value(json_object_get(doc, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(doc, "access_token"));
	if (!tok || !*tok || strpbrk(tok, "\r\n")) {
		json_decref(doc);
		cn_err_fail(err, CN_ERR_PROTOCOL, "token server %s: no token in its answer", rhost);
		goto out;
	}
	*header = cn_xasprintf("Authorization: Bearer %s", tok);
	json_decref(doc);
	r = 0;
out:
	if (basic)
		explicit_bzero(basic, strlen(basic));
	reg_resp_free(&resp);
	return r;
}

/* Answer a 401 seen with auth generation GEN. Another thread may have
 * answered it already: then just try again with the new header. */
static int authenticate(struct reg_conn *k, const char *www, unsigned gen, bool retried, cn_err *err)
{
	struct reg_client *c = k->c;
	struct reg_challenge ch;
	char *header = NULL;
	int r = -1;
	pthread_mutex_lock(&c->mu);
	if (c->auth_gen != gen) {
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	if (!www || reg_challenge_parse(www, &ch) < 0) {
		pthread_mutex_unlock(&c->mu);
		return cn_err_fail(err, CN_ERR_DENIED, "registry %s: 401 Unauthorized without a usable "
				  "WWW-Authenticate challenge", c->host);
	}
	if (strcasecmp(ch.scheme, "Basic") == 0) {
		if (!c->creds.user)
			cn_err_fail(err, CN_ERR_DENIED, "registry %s requires authentication: use 'cairn login %s' "
				   "or --creds USER:PASSWORD", c->host, c->host);
		else if (retried)
			cn_err_fail(err, CN_ERR_DENIED, "registry %s: authentication failed (wrong user or password?)",
				   c->host);
		else if (strncmp(c->base, "https://", 8) != 0 && !is_loopback(c->host) && c->tls_verify)
			cn_err_fail(err, CN_ERR_DENIED, "registry %s: refusing to send a password over plain http",
				   c->host);
		else
			header = basic_header(&c->creds), r = 0;
	} else if (strcasecmp(ch.scheme, "Bearer") == 0) {
		if (retried)
			cn_err_fail(err, CN_ERR_DENIED, "registry %s: access denied to %s%s", c->host,
				   c->scopes.n ? c->scopes.v[0] : "the repository",
				   c->creds.user ? "" : " (not logged in: try 'cairn login' or --creds)");
		else
			r = fetch_token(k, &ch, &header, err);
	} else {
		cn_err_fail(err, CN_ERR_DENIED, "registry %s: unsupported authentication scheme '%s'", c->host,
			   ch.scheme);
	}
	if (r == 0) {
		if (c->auth_header)
			explicit_bzero(c->auth_header, strlen(c->auth_header));
		free(c->auth_header);
		c->auth_header = header;
		c->auth_gen++;
	}
	pthread_mutex_unlock(&c->mu);
	reg_challenge_free(&ch);
	return r;
}

/* ---- requests ---- */

int reg_do(struct reg_conn *k, const struct reg_req *rq, struct reg_resp *resp, cn_err *err)
{
	struct reg_client *c = k->c;
	_cleanup_free_ char *url = NULL, *auth = NULL;
	_cleanup_strv_ cn_strv cas = { 0 };
	const char *method = rq->method;
	char errbuf[CURL_ERROR_SIZE];
	int attempt = 0, redirects = 0;
	size_t scheme_len;
	bool same_host = true, https = false;
	int auth_rounds = 0;
	unsigned gen;

	memset(resp, 0, sizeof(*resp));
	cn_buf_init(&resp->err_body, ERR_BODY_MAX);
	url = rq->url[0] == '/' ? cn_xasprintf("%s%s", c->base, rq->url) : cn_xstrdup(rq->url);
	for (;;) {
		CURLcode rc;
		free(auth);
		auth = NULL;
		pthread_mutex_lock(&c->mu);
		gen = c->auth_gen;
		if (same_host && c->auth_header)
			auth = cn_xstrdup(c->auth_header);
		pthread_mutex_unlock(&c->mu);
		if (rq->out)
			cn_buf_reset(rq->out);
		cn_buf_reset(&resp->err_body);
		free(resp->location);
		resp->location = NULL;
		if (rq->sink_reset && rq->sink_reset(rq->sink_ctx) < 0)
			return cn_err_sys(err, "restart download");
		rc = exchange_once(k, rq, method, url, auth, resp, same_host ? &c->cas : &cas, errbuf);
		if (auth)
			explicit_bzero(auth, strlen(auth));
		if (resp->sink_failed) {
			if (rq->sink)
				return -1;      /* the sink's own error is in its context */
			*err = resp->sink_err;
			return cn_err_wrap(err, "%s %s", method, url);
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK && cn_interrupted())
			return cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
		if (rc != CURLE_OK) {
			if (rq->retry && retryable(rc) && ++attempt < MAX_ATTEMPTS) {
				if (backoff(attempt - 1, 0, err) < 0)
					return -1;
				continue;
			}
			return cn_err_fail(err, CN_ERR_NETWORK, "%s %s: %s", method, url,
					  errbuf[0] ? errbuf : curl_easy_strerror(rc));
		}
		if (resp->status == 401 && same_host) {
			/* A fresh answer to the first challenge; a second 401 means
			 * the credentials or the token's scope do not allow this. */
			if (++auth_rounds > 3)
				return cn_err_fail(err, CN_ERR_DENIED, "registry %s: access denied", c->host);
			if (authenticate(k, resp->www_authenticate, gen, auth_rounds > 1, err) < 0)
				return -1;
			continue;
		}
		/* file:, ftp:, ...: refused whether or not this request follows. */
		if (resp->location && resp->status >= 300 && resp->status < 400 &&
		    (scheme_len = reg_url_other_scheme(resp->location)))
			return cn_err_fail(err, CN_ERR_PROTOCOL, "%s %s: refusing a redirect to a %.*s: URL "
					   "(only http and https)", method, url, (int)scheme_len, resp->location);
		if (rq->follow && resp->location &&
		    (resp->status == 301 || resp->status == 302 || resp->status == 303 ||
		     resp->status == 307 || resp->status == 308)) {
			bool was_https = strncmp(url, "https://", 8) == 0;
			_cleanup_free_ char *h = reg_url_host(resp->location, &https);
			if (++redirects > MAX_REDIRECTS)
				return cn_err_fail(err, CN_ERR_INVALID, "%s %s: more than %d redirects", method, url,
						  MAX_REDIRECTS);
			if (!h)
				return cn_err_fail(err, CN_ERR_PROTOCOL, "%s %s: redirect to an unusable URL", method, url);
			if (was_https && !https)
				return cn_err_fail(err, CN_ERR_PROTOCOL, "%s %s: refusing a redirect from https to http (%s)",
						  method, url, resp->location);
			/* The registry's credentials never go to another host (blob storage). */
			same_host = same_host && strcmp(h, c->host) == 0;
			if (resp->status == 303)
				method = "GET";
			free(url);
			url = CN_TAKE_PTR(resp->location);
			cn_strv_free(&cas);
			collect_cas(c, h, &cas);
			continue;
		}
		if ((resp->status >= 500 || resp->status == 429) && rq->retry && ++attempt < MAX_ATTEMPTS) {
			if (backoff(attempt - 1, resp->retry_after, err) < 0)
				return -1;
			continue;
		}
		return 0;
	}
}

int reg_status_error(const struct reg_req *rq, const struct reg_resp *resp, cn_err *err)
{
	json_t *doc = json_loadb(resp->err_body.data, resp->err_body.len, 0, NULL);
	json_t *e0 = json_array_get(json_object_get(doc, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	enum cn_err_kind kind = resp->status == 404 ? CN_ERR_NOT_FOUND
		: resp->status == 401 || resp->status == 403 ? CN_ERR_DENIED : CN_ERR_PROTOCOL;
	if (code)
		cn_err_fail(err, kind, "%s %s: HTTP %ld %s%s%s", rq->method, rq->url, resp->status, code,
			   msg ? ": " : "", msg ? msg : "");
	else
		cn_err_fail(err, kind, "%s %s: HTTP %ld", rq->method, rq->url, resp->status);
	json_decref(doc);
	return -1;
}

/* ---- client ---- */

int reg_conn_open(struct reg_conn *k, struct reg_client *c, cn_err *err)
{
	k->c = c;
	k->curl = curl_easy_init();
	if (!k->curl)
		return cn_err_errno(err, ENOMEM, "libcurl: cannot create a handle");
	return 0;
}

void reg_conn_close(struct reg_conn *k)
{
	if (k->curl)
		curl_easy_cleanup(k->curl);
	k->curl = NULL;
}

/* GET /v2/ over BASE; 0 with *status, or the curl code in *rc. */
static int ping(struct reg_conn *k, long *status, CURLcode *rc, char *errbuf)
{
	struct reg_req rq = { .method = "GET", .url = "/v2/" };
	struct reg_resp resp = { 0 };
	_cleanup_free_ char *url = cn_xasprintf("%s/v2/", k->c->base);
	cn_buf_init(&resp.err_body, ERR_BODY_MAX);
	*rc = exchange_once(k, &rq, "GET", url, NULL, &resp, &k->c->cas, errbuf);
	*status = resp.status;
	reg_resp_free(&resp);
	return *rc == CURLE_OK ? 0 : -1;
}

int reg_client_open(struct reg_client *c, const struct cn_ref *ref, const struct reg_opts *o,
		    const char *const *scopes, cn_err *err)
{
	struct reg_conn k;
	char errbuf[CURL_ERROR_SIZE];
	CURLcode rc;
	long status = 0;
	int r = -1;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->progress_mu, NULL);
	c->opts = o;
	c->host = cn_xstrdup(reg_ref_api_host(ref));
	c->tls_verify = o->tls_verify;
	c->cert_dir = o->cert_dir ? cn_xstrdup(o->cert_dir) : NULL;
	for (const char *const *s = scopes; s && *s; s++)
		cn_strv_pushdup(&c->scopes, *s);
	if (o->creds) {
		c->creds.user = cn_xstrdup(o->creds->user);
		c->creds.pass = cn_xstrdup(o->creds->pass);
	} else if (reg_auth_lookup(ref->domain, &c->creds, err) < 0) {
		reg_client_close(c);
		return -1;
	}
	c->base = cn_xasprintf("https://%s", c->host);
	collect_cas(c, c->host, &c->cas);
	if (reg_conn_open(&k, c, err) < 0) {
		reg_client_close(c);
		return -1;
	}
	ping(&k, &status, &rc, errbuf);
	/* Plain http only where it was allowed: loopback, or --tls-verify=false;
	 * and only when the server does not speak TLS at all. */
	if (rc == CURLE_SSL_CONNECT_ERROR && (is_loopback(c->host) || !c->tls_verify)) {
		free(c->base);
		c->base = cn_xasprintf("http://%s", c->host);
		ping(&k, &status, &rc, errbuf);
	}
	if (rc != CURLE_OK) {
		cn_err_fail(err, CN_ERR_NETWORK, "registry %s: %s", c->host, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		if (rc == CURLE_PEER_FAILED_VERIFICATION)
			cn_err_wrap(err, "TLS verification failed (add the registry's CA to "
				    "/etc/containers/certs.d/%s/ or use --cert-dir)", c->host);
		goto out;
	}
	if (status == 401) {
		/* Authenticate up front, so the transfers start with a token. */
		struct reg_req rq = { .method = "GET", .url = "/v2/", .retry = true };
		struct reg_resp resp;
		if (reg_do(&k, &rq, &resp, err) < 0) {
			reg_resp_free(&resp);
			goto out;
		}
		status = resp.status;
		reg_resp_free(&resp);
		if (status != 200 && status != 401) {
			cn_err_fail(err, CN_ERR_PROTOCOL, "registry %s: GET /v2/ answered HTTP %ld", c->host, status);
			goto out;
		}
	} else if (status != 200) {
		cn_err_fail(err, CN_ERR_PROTOCOL, "%s does not look like a registry: GET /v2/ answered HTTP %ld",
			   c->host, status);
		goto out;
	}
	r = 0;
out:
	reg_conn_close(&k);
	if (r < 0)
		reg_client_close(c);
	return r;
}

void reg_client_close(struct reg_client *c)
{
	free(c->base);
	free(c->host);
	free(c->cert_dir);
	reg_creds_free(&c->creds);
	cn_strv_free(&c->scopes);
	cn_strv_free(&c->cas);
	if (c->auth_header)
		explicit_bzero(c->auth_header, strlen(c->auth_header));
	free(c->auth_header);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->progress_mu);
	memset(c, 0, sizeof(*c));
}
