/* util/path: Go's path.Clean, and the split/join helpers. */
#include "util/cleanup.h"
#include "util/path.h"
#include "util/strv.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static void test_clean(void)
{
	/* What Go's path.Clean returns. */
	static const char *const t[][2] = {
		{ "", "." }, { "abc", "abc" }, { "abc/def", "abc/def" }, { "a/b/c", "a/b/c" },
		{ ".", "." }, { "..", ".." }, { "../..", "../.." }, { "../../abc", "../../abc" },
		{ "/abc", "/abc" }, { "/", "/" }, { "abc/", "abc" }, { "abc/def/", "abc/def" },
		{ "./", "." }, { "../", ".." }, { "/abc/", "/abc" }, { "abc//def//ghi", "abc/def/ghi" },
		{ "//abc", "/abc" }, { "///abc", "/abc" }, { "//abc//", "/abc" }, { "abc//", "abc" },
		{ "abc/./def", "abc/def" }, { "/./abc/def", "/abc/def" }, { "abc/.", "abc" },
		{ "abc/def/ghi/../jkl", "abc/def/jkl" }, { "abc/def/../ghi/../jkl", "abc/jkl" },
		{ "abc/def/..", "abc" }, { "abc/def/../..", "." }, { "/abc/def/../..", "/" },
		{ "abc/def/../../..", ".." }, { "/abc/def/../../..", "/" },
		{ "abc/def/../../../ghi/jkl/../../../mno", "../../mno" }, { "abc/./../def", "def" },
		{ "abc//./../def", "def" }, { "abc/../../././../def", "../../def" },
		{ "/..", "/" }, { "/../a", "/a" }, { "..a/.b", "..a/.b" }, { "a/...", "a/..." },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(t); i++) {
		char *c = cn_path_clean(t[i][0]);
		UNIT_STREQ(c, t[i][1], "Clean(\"%s\")", t[i][0]);
		free(c);
	}
	{
		/* Only N bytes are read: "a/.." cut to "a/." is "a". */
		char *c = cn_path_clean_n("a/..", 3);
		UNIT_STREQ(c, "a", "clean_n reads N bytes only");
		free(c);
	}
}

static void test_clean_rel(void)
{
	static const char *const t[][2] = {
		{ "a/b", "a/b" }, { "/a/b/", "a/b" }, { "//a", "a" }, { "", "." }, { "/", "." },
		{ "a/..", "." }, { "a/../b", "b" }, { "..", NULL }, { "/..", NULL }, { "a/../..", NULL },
		{ "a/../../b", NULL }, { "../a/..", NULL }, { "..a", "..a" },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(t); i++) {
		char *c = cn_path_clean_rel(t[i][0]);
		UNIT_CHECK(t[i][1] ? c && !strcmp(c, t[i][1]) : !c, "clean_rel(\"%s\") -> %s (got %s)",
			   t[i][0], t[i][1] ? t[i][1] : "NULL", c ? c : "NULL");
		free(c);
	}
}

static void test_split_join(void)
{
	_cleanup_strv_ cn_strv v = { 0 };
	char *s;
	cn_path_split("/a//./b/../c/", &v);
	UNIT_CHECK(v.n == 4 && !strcmp(v.v[0], "a") && !strcmp(v.v[1], "b") && !strcmp(v.v[2], "..") &&
		   !strcmp(v.v[3], "c"), "split drops empty and '.' elements, keeps '..'");
	s = cn_path_join_all(v.v, v.n);
	UNIT_STREQ(s, "a/b/../c", "join_all");
	free(s);
	s = cn_path_join_all(v.v, 0);
	UNIT_STREQ(s, ".", "join_all of nothing is '.'");
	free(s);
	s = cn_path_join("", "x");
	UNIT_STREQ(s, "x", "join below ''");
	free(s);
	s = cn_path_join(".", "x");
	UNIT_STREQ(s, "x", "join below '.'");
	free(s);
	s = cn_path_join("a/b", "x");
	UNIT_STREQ(s, "a/b/x", "join below a/b");
	free(s);
}

int main(void)
{
	test_clean();
	test_clean_rel();
	test_split_join();
	return UNIT_DONE();
}
