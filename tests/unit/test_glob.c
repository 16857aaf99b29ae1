/* builder/glob: Go's filepath.Match for COPY sources (flags 0) and
 * patternmatcher's regexp flavour for ignore files (BF_GLOB_IGNORE). */
#include "builder/glob.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct mcase {
	const char *pat, *name;
	int want;               /* 1 match, 0 no match, -1 malformed */
};

/* Match PAT against NAME: 1, 0, or -1 when the pattern is malformed. */
static int match(const char *pat, const char *name, unsigned flags)
{
	struct bf_glob g;
	bool r;
	if (bf_glob_compile(&g, pat, strlen(pat), flags))
		return -1;
	r = bf_glob_match(&g, name, strlen(name));
	bf_glob_free(&g);
	return r;
}

static void run_table(const struct mcase *t, size_t n, unsigned flags, const char *what)
{
	for (size_t i = 0; i < n; i++)
		UNIT_CHECK(match(t[i].pat, t[i].name, flags) == t[i].want, "%s: '%s' on '%s' -> %d",
			   what, t[i].pat, t[i].name, t[i].want);
}

/* What filepath.Match answers, with and without the ignore flags (none of
 * these patterns holds "**" or a reversed range). */
static void test_filepath_match(void)
{
	static const struct mcase t[] = {
		{ "abc", "abc", 1 }, { "*", "abc", 1 }, { "*c", "abc", 1 }, { "a*", "a", 1 },
		{ "a*", "abc", 1 }, { "a*", "ab/c", 0 }, { "a*/b", "abc/b", 1 }, { "a*/b", "a/c/b", 0 },
		{ "a*b*c*d*e*/f", "axbxcxdxe/f", 1 }, { "a*b*c*d*e*/f", "axbxcxdxexxx/f", 1 },
		{ "a*b*c*d*e*/f", "axbxcxdxe/xxx/f", 0 }, { "a*b*c*d*e*/f", "axbxcxdxexxx/fff", 0 },
		{ "a*b?c*x", "abxbbxdbxebxczzx", 1 }, { "a*b?c*x", "abxbbxdbxebxczzy", 0 },
		{ "ab[c]", "abc", 1 }, { "ab[b-d]", "abc", 1 }, { "ab[e-g]", "abc", 0 },
		{ "ab[^c]", "abc", 0 }, { "ab[^b-d]", "abc", 0 }, { "ab[^e-g]", "abc", 1 },
		{ "a\\*b", "a*b", 1 }, { "a\\*b", "ab", 0 }, { "a?b", "a\xe2\x98\xba" "b", 1 },
		{ "a[^a]b", "a\xe2\x98\xba" "b", 1 }, { "a?" "?" "?b", "a\xe2\x98\xba" "b", 0 },
		{ "a[^a][^a][^a]b", "a\xe2\x98\xba" "b", 0 }, { "[a-\xce\xb6]*", "\xce\xb1", 1 },
		{ "*[a-\xce\xb6]", "A", 0 }, { "a?b", "a/b", 0 }, { "a*b", "a/b", 0 },
		{ "[\\]a]", "]", 1 }, { "[\\-]", "-", 1 }, { "[x\\-]", "x", 1 }, { "[x\\-]", "-", 1 },
		{ "[x\\-]", "z", 0 }, { "[\\-x]", "x", 1 }, { "[\\-x]", "a", 0 },
		{ "[]a]", "]", -1 }, { "[-]", "-", -1 }, { "[x-]", "x", -1 }, { "[-x]", "x", -1 },
		{ "\\", "a", -1 }, { "[a-b-c]", "a", -1 }, { "[", "a", -1 }, { "[^", "a", -1 },
		{ "[^bc", "a", -1 }, { "a[", "a", -1 }, { "a[", "ab", -1 }, { "a\\", "a", -1 },
		{ "*x", "xxx", 1 }, { "", "", 1 }, { "", "a", 0 }, { "*", "", 1 }, { "?", "", 0 },
		{ "[/]", "/", 1 },                      /* a class may match '/' */
		{ "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	};
	run_table(t, CN_ARRAY_SIZE(t), 0, "filepath.Match");
	run_table(t, CN_ARRAY_SIZE(t), BF_GLOB_IGNORE, "ignore flavour");
}

/* Names are decoded as utf8.DecodeRune decodes them. */
static void test_utf8_names(void)
{
	static const struct mcase t[] = {
		{ "?", "\xc0\xaf", 0 },                 /* overlong '/': two bad bytes */
		{ "?" "?", "\xc0\xaf", 1 },
		{ "?", "\xed\xa0\x80", 0 },             /* a surrogate */
		{ "?" "?" "?", "\xed\xa0\x80", 1 },
		{ "?", "\xf4\x90\x80\x80", 0 },         /* past U+10FFFF */
		{ "?", "\xf5\x80\x80", 0 },             /* no sequence starts with F5 */
		{ "?", "\xe2\x82", 0 },                 /* cut short */
		{ "?", "\xc3\xa9", 1 },
		{ "[\xc3\xbf]", "\xff", 0 },            /* an invalid byte is not U+00FF... */
		{ "[\xef\xbf\xbd]", "\xff", 1 },        /* ...but U+FFFD, as in Go */
		{ "[^a]", "\xff", 1 },
		{ "[\xff]", "\xff", -1 },               /* invalid UTF-8 in a class: ErrBadPattern */
		{ "\xff", "\xff", 1 },                  /* outside a class, bytes compare */
		{ "\xc3?", "\xc3\xa9", 1 },             /* a byte, then the lone continuation byte */
	};
	run_table(t, CN_ARRAY_SIZE(t), 0, "utf-8");
	/* filepath.Match's '*' tries every byte; a regexp's takes characters. */
	UNIT_CHECK(match("*\xa9", "\xc3\xa9", 0) == 1, "filepath.Match: '*' may stop inside a character");
	UNIT_CHECK(match("*\xa9", "\xc3\xa9", BF_GLOB_RUNE_STAR) == 0,
		   "BF_GLOB_RUNE_STAR: '*' takes whole characters");
}

/* What only the ignore flavour does. */
static void test_ignore_flavour(void)
{
	static const struct mcase t[] = {
		{ "**/x", "a/b/x", 1 }, { "**/x", "x", 1 }, { "a/**", "a/b/c", 1 },
		{ "a/**/b", "a/b", 1 }, { "a/**/b", "a/x/y/b", 1 }, { "a/**/b", "a/x/yb", 0 },
		{ "a**b", "a/x/b", 1 }, { "a/**", "a/b\nc", 0 }, { "a/**/b", "a/x\n/b", 0 },
		{ "[z-a]", "m", -1 }, { "*.go", "a/b.go", 0 },
	};
	static const struct mcase plain[] = {
		{ "a/**/b", "a/x/y/b", 0 }, { "a/**/b", "a/x/b", 1 }, { "**", "ab", 1 },
		{ "[z-a]", "m", 0 }, { "[z-a]", "z", 0 },
	};
	run_table(t, CN_ARRAY_SIZE(t), BF_GLOB_IGNORE, "ignore flavour");
	run_table(plain, CN_ARRAY_SIZE(plain), 0, "no ** without the flag");
	UNIT_CHECK(match("[z-a]", "m", BF_GLOB_RANGE_ORDER) == -1, "BF_GLOB_RANGE_ORDER alone");
	UNIT_CHECK(match("a/**/b", "a/x/y/b", BF_GLOB_DOUBLESTAR) == 1, "BF_GLOB_DOUBLESTAR alone");
}

static void test_viable(void)
{
	struct bf_glob g;
	UNIT_CHECK(!bf_glob_compile(&g, "a/*/c", 5, BF_GLOB_IGNORE), "compile a/*/c");
	UNIT_CHECK(bf_glob_viable(&g, "a/", 2) && bf_glob_viable(&g, "a/x/", 4),
		   "a/*/c may match below a/ and a/x/");
	UNIT_CHECK(!bf_glob_viable(&g, "b/", 2) && !bf_glob_viable(&g, "a/x/c/", 6),
		   "a/*/c cannot match below b/ nor a/x/c/");
	bf_glob_free(&g);
	UNIT_CHECK(!bf_glob_compile(&g, "a/**", 4, BF_GLOB_IGNORE) && bf_glob_viable(&g, "a/b/c/", 6),
		   "a/** may match below a/b/c/");
	bf_glob_free(&g);
}

/* A pattern longer than the matcher's stack sets. */
static void test_long(void)
{
	char pat[1100], name[1100];
	memset(pat, 'a', 1000);
	strcpy(pat + 1000, "*?");
	memset(name, 'a', 1000);
	strcpy(name + 1000, "bbbb");
	UNIT_CHECK(match(pat, name, 0) == 1, "1002-token pattern matches");
	name[1000] = '\0';
	UNIT_CHECK(match(pat, name, 0) == 0, "...and needs its '?'");
}

static void test_escape(void)
{
	char *e = bf_glob_escape("a*b?[c]\\d");
	char *u = bf_glob_unescape(e);
	UNIT_STREQ(e, "a\\*b\\?\\[c]\\\\d", "escape: '*', '?', '[' and '\\' escaped");
	UNIT_STREQ(u, "a*b?[c]\\d", "unescape undoes it");
	UNIT_CHECK(match(e, "a*b?[c]\\d", 0) == 1 && match(e, "axb?[c]\\d", 0) == 0,
		   "an escaped name matches itself only");
	UNIT_CHECK(!bf_glob_has_meta(e) && bf_glob_has_meta("a*") && bf_glob_has_meta("[a]") &&
		   bf_glob_has_meta("?") && !bf_glob_has_meta("a]") && !bf_glob_has_meta("a\\"),
		   "has_meta: unescaped '*', '?', '[' only");
	free(e);
	free(u);
}

int main(void)
{
	test_filepath_match();
	test_utf8_names();
	test_ignore_flavour();
	test_viable();
	test_long();
	test_escape();
	return UNIT_DONE();
}
