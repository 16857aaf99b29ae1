/* ADD URL with libcurl: the body goes straight to a file while it is
 * hashed; nothing about the server is trusted (size capped, redirects
 * limited to http(s), TLS verified, Ctrl-C honoured between chunks). */
#include "builder/fetch.h"
#include "registry/url.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/lazylib.h"
#include "util/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libcurl is loaded on first use (util/lazylib.h): when it cannot be,
 * say so rather than blame memory. */
static int curl_unavailable(cn_err *err)
{
	const char *why = cn_lazylib_error(CN_LAZY_CURL);
	if (!*why)
		return cn_err_errno(err, ENOMEM, "libcurl");
	return cn_err_fail(err, CN_ERR_SYSTEM, "libcurl cannot be loaded: %s", why);
}

bool bf_is_url(const char *src)
{
	return !strncmp(src, "http://", 7) || !strncmp(src, "https://", 8);
}

int bf_url_file_name(const char *url, char **name, cn_err *err)
{
	CURLU *u = curl_url();
	char *path = NULL, *dec = NULL, *out = NULL;
	const char *base;
	int n = 0;

	*name = NULL;
	/* NULL: libcurl could not be loaded (lazylib.c), or no memory. */
	if (!u)
		return curl_unavailable(err);
	/* libcurl's parser splits off the host, query and fragment, as the
	 * transfer itself will read the URL; the path stays encoded, so an
	 * encoded '/' is still seen below. */
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!*base)
		goto out;
	dec = curl_easy_unescape(NULL, base, 0, &n);
	if (!dec)
		goto out;
	/* A decoded NUL or '/' would name something else; "." and ".." nothing. */
	if ((size_t)n == strlen(dec) && !strchr(dec, '/') && strcmp(dec, ".") && strcmp(dec, ".."))
		out = cn_xstrdup(dec);
out:
	curl_free(dec);
	curl_free(path);
	curl_url_cleanup(u);
	*name = out;
	return 0;
}

struct sink {
	int fd;
	cn_sha256 h;
	uint64_t size;
	int werr;               /* errno of a failed write */
	bool too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;
	if (s->size + len > BF_FETCH_MAX_BYTES) {
		s->too_big = true;
		return 0;
	}
	if (cn_write_all(s->fd, data, len) < 0) {
		s->werr = errno;
		return 0;
	}
	cn_sha256_update(&s->h, data, len);
	s->size += len;
	return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)ud, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return cn_interrupted() ? 1 : 0;
}

struct scheme {
	const char *url;     /* owned by the curl handle */
	size_t len;
};

/* After CURLE_UNSUPPORTED_PROTOCOL: the redirect curl refused to follow
 * (REDIR_PROTOCOLS), when its scheme is not http or https. */
static bool redirect_scheme(CURL *c, struct scheme *out)
{
	char *u = NULL;
	if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &u) != CURLE_OK || !u)
		u = NULL;
	if (!u && (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &u) != CURLE_OK || !u))
		return false;
	out->url = u;
	out->len = reg_url_other_scheme(u);
	return out->len > 0;
}

/* One transfer; the error says why, without the URL (the caller adds it). */
static int transfer(const char *url, struct sink *s, struct bf_fetch_result *res, cn_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = curl_easy_init();
	CURLcode rc;
	long status = 0;
	curl_off_t ft = -1;
	struct scheme scheme;
	int r = 0;
	if (!c)
		return curl_unavailable(err);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)BF_FETCH_MAX_REDIRECTS);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A server that stalls for a minute is given up on. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BF_FETCH_MAX_BYTES);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_FILETIME_T, &ft);
		res->has_mtime = ft >= 0;
		res->mtime = (time_t)ft;
	} else if (rc == CURLE_HTTP_RETURNED_ERROR) {
		r = cn_err_fail(err, CN_ERR_PROTOCOL, "HTTP status %ld", status);
	} else if (rc == CURLE_UNSUPPORTED_PROTOCOL && redirect_scheme(c, &scheme)) {
		r = cn_err_fail(err, CN_ERR_PROTOCOL, "refusing a redirect to a %.*s: URL (only http and https)",
				(int)scheme.len, scheme.url);
	} else if (rc == CURLE_ABORTED_BY_CALLBACK) {
		r = cn_err_fail(err, CN_ERR_INTERRUPTED, "interrupted");
	} else if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
		r = cn_err_fail(err, CN_ERR_TOO_BIG, "larger than %llu bytes", (unsigned long long)BF_FETCH_MAX_BYTES);
	} else if (s->werr) {
		r = cn_err_errno(err, s->werr, "write the download");
	} else {
		r = cn_err_fail(err, CN_ERR_NETWORK, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
	}
	curl_easy_cleanup(c);
	return r;
}

int bf_fetch(const char *url, int dir_fd, const char *name, const char *checksum,
	     struct bf_fetch_result *res, cn_err *err)
{
	struct sink s = { .fd = -1 };
	int r;
	memset(res, 0, sizeof(*res));
	s.fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s.fd < 0)
		return cn_err_sys(err, "'%s': create the download file", url);
	cn_sha256_init(&s.h);
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK && *cn_lazylib_error(CN_LAZY_CURL)) {
		r = curl_unavailable(err);
	} else if (rc != CURLE_OK) {
		r = cn_err_fail(err, CN_ERR_SYSTEM, "libcurl initialisation: %s", curl_easy_strerror(rc));
	} else {
		r = transfer(url, &s, res, err);
		curl_global_cleanup();
	}
	cn_sha256_final(&s.h, res->digest);
	res->size = s.size;
	if (r == 0 && checksum && strcmp(checksum, res->digest) != 0)
		r = cn_err_fail(err, CN_ERR_INVALID, "checksum mismatch: expected %s, got %s", checksum, res->digest);
	if (r == 0 && res->has_mtime) {
		struct timespec t[2] = { { .tv_sec = res->mtime }, { .tv_sec = res->mtime } };
		if (futimens(s.fd, t) < 0)
			r = cn_err_sys(err, "set the download's time");
	}
	if (r == 0 && fchmod(s.fd, 0600) < 0)
		r = cn_err_sys(err, "chmod the download");
	close(s.fd);
	if (r < 0) {
		unlinkat(dir_fd, name, 0);
		return cn_err_wrap(err, "'%s'", url);
	}
	return 0;
}
