/* ADD URL helpers: which sources are URLs, and the file name a URL gives
 * (the download itself is tested against a real server in t0210). */
#include "builder/fetch.h"
#include "unit.h"

#include <stdlib.h>

static void name_is(const char *url, const char *want)
{
	char *got = NULL;
	cn_err err = { 0 };
	UNIT_CHECK(bf_url_file_name(url, &got, &err) == 0, "parse %s: %s", url, err.msg);
	if (want)
		UNIT_STREQ(got, want, "file name of %s", url);
	else
		UNIT_CHECK(!got, "%s names no file (got %s)", url, got ? got : "none");
	free(got);
}

int main(void)
{
	UNIT_CHECK(bf_is_url("http://h/x") && bf_is_url("https://h/x"), "http and https are URLs");
	UNIT_CHECK(!bf_is_url("ftp://h/x") && !bf_is_url("file.txt") && !bf_is_url("http:/x"),
		   "other schemes and paths are not");
	name_is("https://example.com/a/b/tool-1.2.tar.gz", "tool-1.2.tar.gz");
	name_is("https://example.com/f.txt?token=1/2#frag", "f.txt");
	name_is("https://example.com/my%20file.txt", "my file.txt");
	name_is("https://example.com:8080/x", "x");
	name_is("https://example.com/dir/", NULL);
	name_is("https://example.com", NULL);
	name_is("https://example.com/a/..", NULL);
	name_is("https://example.com/a/.", NULL);
	name_is("https://example.com/a%2Fb", NULL);
	name_is("https://example.com/a%00b", NULL);
	name_is("https://example.com/100%", "100%");
	return UNIT_DONE();
}
