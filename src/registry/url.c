#include "registry/url.h"

#include "util/mem.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *reg_url_resolve(const char *base, const char *location)
{
	CURLU *u = curl_url();
	char *s = NULL, *out = NULL;

	if (!u)
		abort();        /* out of memory, as cn_x* do */
	/* Setting a relative URL on a handle that holds one resolves it
	 * against it (merge and dot-segment removal, RFC 3986 5.2). */
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK)
		out = cn_xstrdup(s);
	curl_free(s);
	curl_url_cleanup(u);
	return out;
}

char *reg_url_host(const char *url, bool *https)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *out = NULL;

	if (!u)
		abort();
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	/* Userinfo in a URL from outside: refuse. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER)
		goto out;
	if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		goto out;
	*https = scheme[4] == 's';
	/* CURLUE_NO_PORT when the URL names none: then just the host, as
	 * the registry's own host is written. */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
		out = cn_xasprintf("%s:%s", host, port);
	else
		out = cn_xstrdup(host);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_url_cleanup(u);
	return out;
}

size_t reg_url_other_scheme(const char *url)
{
	size_t n = 0;
	/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	if (!isalpha((unsigned char)url[0]))
		return 0;
	while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' || url[n] == '.')
		n++;
	if (url[n] != ':')
		return 0;
	if ((n == 4 && !strncasecmp(url, "http", 4)) || (n == 5 && !strncasecmp(url, "https", 5)))
		return 0;
	return n;
}
