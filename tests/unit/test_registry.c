/* The registry client's URL handling (through libcurl's URL API):
 * Location references resolve as RFC 3986 section 5.4 says, and the
 * host:port of a URL is what the client compares and looks CAs up by. */
#include "registry/url.h"
#include "unit.h"

#include <stdlib.h>

static void resolves(const char *base, const char *loc, const char *want)
{
	char *got = reg_url_resolve(base, loc);
	UNIT_STREQ(got, want, "'%s' against %s", loc, base);
	free(got);
}

static void host_is(const char *url, const char *want, bool want_https)
{
	bool https = !want_https;
	char *got = reg_url_host(url, &https);
	if (want) {
		UNIT_STREQ(got, want, "host of %s", url);
		UNIT_CHECK(https == want_https, "%s is %shttps", url, want_https ? "" : "not ");
	} else {
		UNIT_CHECK(!got, "%s has no usable host (got %s)", url, got ? got : "none");
	}
	free(got);
}

int main(void)
{
	const char *up = "http://r:5000/v2/team/app/blobs/uploads/";

	/* The registry's own upload URLs, in the forms registries send. */
	resolves(up, "/v2/team/app/blobs/uploads/u1?_state=s", "http://r:5000/v2/team/app/blobs/uploads/u1?_state=s");
	resolves(up, "u1?_state=s", "http://r:5000/v2/team/app/blobs/uploads/u1?_state=s");
	resolves(up, "blobs/uploads/x", "http://r:5000/v2/team/app/blobs/uploads/blobs/uploads/x");
	resolves("http://r:5000/v2/team/app/blobs/uploads/u1?_state=s", "u2?_state=t",
		 "http://r:5000/v2/team/app/blobs/uploads/u2?_state=t");
	resolves(up, "../../manifests/x", "http://r:5000/v2/team/app/manifests/x");
	resolves(up, "https://storage.example/b?sig=1", "https://storage.example/b?sig=1");
	resolves(up, "//cdn.example/b", "http://cdn.example/b");
	resolves(up, "?q=1", "http://r:5000/v2/team/app/blobs/uploads/?q=1");
	/* RFC 3986 section 5.4.1 examples. */
	resolves("http://a/b/c/d;p?q", "g", "http://a/b/c/g");
	resolves("http://a/b/c/d;p?q", "./g", "http://a/b/c/g");
	resolves("http://a/b/c/d;p?q", "g/", "http://a/b/c/g/");
	resolves("http://a/b/c/d;p?q", "/g", "http://a/g");
	resolves("http://a/b/c/d;p?q", "../g", "http://a/b/g");
	resolves("http://a/b/c/d;p?q", "../../g", "http://a/g");

	host_is("https://registry.example/v2/", "registry.example", true);
	host_is("http://127.0.0.1:5000/v2/x", "127.0.0.1:5000", false);
	host_is("https://[::1]:5000/token", "[::1]:5000", true);
	host_is("https://auth.example:443/token?x=1", "auth.example:443", true);
	host_is("https://user:pw@auth.example/token", NULL, false);
	host_is("ftp://auth.example/token", NULL, false);
	host_is("file:///etc/passwd", NULL, false);
	host_is("not a url", NULL, false);
	/* Redirects to another scheme are refused, naming it. */
	UNIT_CHECK(reg_url_other_scheme("file:///etc/shadow") == 4, "file: is another scheme");
	UNIT_CHECK(reg_url_other_scheme("FTP://h/x") == 3, "FTP: is another scheme");
	UNIT_CHECK(reg_url_other_scheme("git+ssh://h/x") == 7, "git+ssh: is another scheme");
	UNIT_CHECK(reg_url_other_scheme("https://h/x") == 0, "https is not");
	UNIT_CHECK(reg_url_other_scheme("HTTP://h/x") == 0, "HTTP is not");
	UNIT_CHECK(reg_url_other_scheme("/v2/x") == 0, "a path is not");
	UNIT_CHECK(reg_url_other_scheme("x?a=b:c") == 0, "a relative reference is not");
	UNIT_CHECK(reg_url_other_scheme("") == 0, "empty is not");
	return UNIT_DONE();
}
