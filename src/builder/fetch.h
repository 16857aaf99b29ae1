/* ADD URL: one http(s) resource streamed to a file with libcurl, hashed
 * while it is written. TLS peers are verified, redirects are limited and
 * may only lead to http(s), and the body is never held in memory. */
#ifndef BF_FETCH_H
#define BF_FETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util/digest.h"
#include "util/err.h"

#define BF_FETCH_MAX_REDIRECTS 10
#define BF_FETCH_MAX_BYTES ((uint64_t)64 << 30)     /* as the archive reader's cap */

struct bf_fetch_result {
	char digest[CN_DIGEST_STR_SIZE];   /* sha256 of the body */
	uint64_t size;
	bool has_mtime;                    /* the server sent Last-Modified */
	time_t mtime;
};

/* True for the sources ADD fetches: http:// and https:// URLs. */
bool bf_is_url(const char *src);

/* The file name a URL's path ends with, percent-decoded, into *NAME; NULL
 * when it names none ("http://host/", ".", "..") or the name could not be
 * a file name (a '/' or NUL once decoded). -1 when libcurl, which parses
 * the URL, cannot be loaded. */
int bf_url_file_name(const char *url, char **name, cn_err *err);

/* GET URL into NAME under DIR_FD (created with mode 0600; must not exist),
 * its mtime set from Last-Modified when there is one. With CHECKSUM
 * ("sha256:HEX") the body must hash to it. On any failure (HTTP status >=
 * 400, TLS, too many redirects, a checksum mismatch, Ctrl-C) the file is
 * removed and the error names the URL. */
int bf_fetch(const char *url, int dir_fd, const char *name, const char *checksum,
	     struct bf_fetch_result *res, cn_err *err);

#endif
