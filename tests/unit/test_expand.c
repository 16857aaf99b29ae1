/* Word expansion against BuildKit's shell-expansion corpus ($CONFORMANCE/
 * shell-expansion): envVarTest (ProcessWord), wordsTest (ProcessWords) and
 * process-word-cases.json (ProcessWordWithMatches), plus the limits. */
#include "builder/expand.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int read_corpus_file(const char *dir, const char *name, cn_buf *out)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/shell-expansion/%s", dir, name);
	cn_err err;
	if (cn_read_file_at(AT_FDCWD, path, 1u << 24, out, &err) < 0) {
		UNIT_CHECK(0, "read %s: %s", path, err.msg);
		return -1;
	}
	return 0;
}

/* Splits off the next line (empty lines included); NULL at the end. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *nl;
	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl)
		*nl++ = '\0';
	*cursor = nl;
	return line;
}

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* envVarTest: "PLATFORM|INPUT|EXPECTED", one ProcessWord each. */
static void test_env_var_file(const char *dir)
{
	_cleanup_buf_ cn_buf text = { 0 };
	_cleanup_strv_ cn_strv env = { 0 };
	char *cursor;
	int lineno = 0;

	cn_buf_init(&text, 0);
	if (read_corpus_file(dir, "envVarTest", &text) < 0)
		return;
	cn_strv_pushdup(&env, "PWD=/home");
	cn_strv_pushdup(&env, "SHELL=bash");
	cn_strv_pushdup(&env, "KOREAN=한국어");
	cn_strv_pushdup(&env, "NULL=");
	cursor = text.data;
	for (char *line; (line = next_line(&cursor));) {
		char *f[3], *s, *bar1, *bar2;
		_cleanup_free_ char *got = NULL;
		cn_err err = { 0 };
		int rc;

		lineno++;
		if (line[0] == '#')
			continue;
		s = trim(line);
		if (!*s)
			continue;
		bar1 = strchr(s, '|');
		bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
		if (!bar1 || !bar2 || strchr(bar2 + 1, '|')) {
			UNIT_CHECK(0, "envVarTest:%d: malformed line '%s'", lineno, s);
			continue;
		}
		*bar1 = *bar2 = '\0';
		f[0] = trim(s), f[1] = trim(bar1 + 1), f[2] = trim(bar2 + 1);
		if (strcmp(f[0], "W") == 0) {
			UNIT_SKIP("Windows-only case", "envVarTest:%d: %s", lineno, f[1]);
			continue;
		}
		rc = bf_expand_word(f[1], '\\', &env, &got, NULL, &err);
		if (strcmp(f[2], "error") == 0)
			UNIT_CHECK(rc < 0, "envVarTest:%d: %s -> error", lineno, f[1]);
		else if (rc < 0)
			UNIT_CHECK(0, "envVarTest:%d: %s -> '%s' (error: %s)", lineno, f[1], f[2], err.msg);
		else
			UNIT_STREQ(got, f[2], "envVarTest:%d: %s -> '%s'", lineno, f[1], f[2]);
	}
}

static char *join_words(const cn_strv *w)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < w->n; i++) {
		if (i)
			cn_buf_addc(&b, ',');
		cn_buf_adds(&b, w->v[i]);
	}
	return cn_buf_detach(&b);
}

/* wordsTest: "ENV k=v" lines build the environment; "INPUT|EXPECTED" lines
 * are ProcessWords cases with the expected words comma-separated. */
static void test_words_file(const char *dir)
{
	_cleanup_buf_ cn_buf text = { 0 };
	_cleanup_strv_ cn_strv env = { 0 };
	char *cursor;
	int ncase = 0;

	cn_buf_init(&text, 0);
	if (read_corpus_file(dir, "wordsTest", &text) < 0)
		return;
	cursor = text.data;
	for (char *line; (line = next_line(&cursor));) {
		_cleanup_strv_ cn_strv got = { 0 };
		_cleanup_free_ char *joined = NULL;
		char *bar, *in, *want;
		cn_err err = { 0 };
		int rc;

		if (line[0] == '#' || !line[strspn(line, " \t\r")])
			continue;
		if (strncmp(line, "ENV ", 4) == 0) {
			char *kv = line + 4, *eq;
			while (*kv == ' ')
				kv++;
			eq = strchr(kv, '=');
			if (eq) {
				*eq = '\0';
				cn_env_set(&env, kv, eq + 1);
			}
			continue;
		}
		ncase++;
		bar = strchr(line, '|');
		if (!bar || strchr(bar + 1, '|')) {
			UNIT_CHECK(0, "wordsTest case %d: malformed line '%s'", ncase, line);
			continue;
		}
		*bar = '\0';
		in = trim(line);
		for (want = bar + 1; *want == ' ';)
			want++;
		rc = bf_expand_words(in, '\\', &env, &got, &err);
		if (strcmp(want, "error") == 0) {
			UNIT_CHECK(rc < 0, "wordsTest case %d: %s -> error", ncase, in);
			continue;
		}
		if (rc < 0) {
			UNIT_CHECK(0, "wordsTest case %d: %s -> [%s] (error: %s)", ncase, in, want, err.msg);
			continue;
		}
		joined = join_words(&got);
		UNIT_STREQ(joined, want, "wordsTest case %d: %s -> [%s]", ncase, in, want);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of a JSON array and of a strv, sorted, as one string. */
static char *sorted_set(cn_strv *v)
{
	if (v->n)
		qsort(v->v, v->n, sizeof(char *), cmp_str);
	return join_words(v);
}

static bool set_equals(json_t *want, cn_strv *got)
{
	_cleanup_strv_ cn_strv w = { 0 };
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t i;
	json_t *x;

	json_array_foreach(want, i, x)
		cn_strv_pushdup(&w, json_string_value(x));
	a = sorted_set(&w);
	b = sorted_set(got);
	return strcmp(a, b) == 0;
}

static void run_json_case(size_t idx, json_t *c)
{
	const char *input = json_string_value(json_object_get(c, "input"));
	json_t *envj = json_object_get(c, "env"), *want = json_object_get(c, "expected");
	json_t *jm = json_object_get(c, "matched"), *ju = json_object_get(c, "unmatched");
	const char *contains = json_string_value(json_object_get(c, "error_contains"));
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv matched = { 0 };
	_cleanup_strv_ cn_strv unmatched = { 0 };
	_cleanup_free_ char *got = NULL;
	struct bf_lex_opts opts = { 0, &matched, &unmatched };
	cn_err err = { 0 };
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach(envj, k, v)
		cn_env_set(&env, k, json_string_value(v));
	rc = bf_expand(input, '\\', &env, &opts, &got, NULL, &err);
	if (json_is_true(json_object_get(c, "error"))) {
		UNIT_CHECK(rc < 0 && (!contains || strstr(err.msg, contains)),
			   "process-word-cases #%zu: %s -> error%s%s", idx, input,
			   contains ? " containing " : "", contains ? contains : "");
		return;
	}
	if (rc < 0) {
		UNIT_CHECK(0, "process-word-cases #%zu: %s (error: %s)", idx, input, err.msg);
		return;
	}
	bool ok = strcmp(got, json_string_value(want)) == 0;
	if (jm)
		ok = ok && set_equals(jm, &matched);
	if (ju)
		ok = ok && set_equals(ju, &unmatched);
	UNIT_CHECK(ok, "process-word-cases #%zu: %s -> '%s'%s", idx, input,
		   json_string_value(want), jm ? " (with matched/unmatched)" : "");
	if (!ok)
		printf("#   got: '%s'\n", got);
}

static void test_process_word_cases(const char *dir)
{
	_cleanup_free_ char *path = cn_xasprintf("%s/shell-expansion/process-word-cases.json", dir);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *cases, *c;
	size_t i;

	if (!root) {
		UNIT_CHECK(0, "load %s: %s", path, jerr.text);
		return;
	}
	cases = json_object_get(root, "cases");
	json_array_foreach(cases, i, c)
		run_json_case(i + 1, c);
	json_decref(root);
}

/* Limits: results are capped, nesting is bounded. */
static void test_limits(void)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *big = cn_xmalloc(600001);
	_cleanup_free_ char *got = NULL;
	cn_buf deep;
	cn_err err = { 0 };
	int rc;

	memset(big, 'x', 600000);
	big[600000] = '\0';
	cn_env_set(&env, "BIG", big);
	rc = bf_expand_word("$BIG$BIG", '\\', &env, &got, NULL, &err);
	UNIT_CHECK(rc < 0 && strstr(err.msg, "1 MiB"), "expansion past 1 MiB fails (%s)", err.msg);

	cn_buf_init(&deep, 0);
	for (int i = 0; i < 200; i++)
		cn_buf_adds(&deep, "${X:-");
	for (int i = 0; i < 200; i++)
		cn_buf_addc(&deep, '}');
	rc = bf_expand_word(deep.data, '\\', &env, &got, NULL, &err);
	UNIT_CHECK(rc < 0 && strstr(err.msg, "nested"), "deep ${ nesting fails (%s)", err.msg);
	cn_buf_free(&deep);

	rc = bf_expand_word("a`$BIG`", '`', &env, &got, NULL, &err);
	UNIT_STREQ(rc == 0 ? got : NULL, "a$BIG", "backtick escape token");
	free(CN_TAKE_PTR(got));
	rc = bf_expand_word("${BIG/x/y}", '\\', &env, &got, NULL, &err);
	UNIT_CHECK(rc == 0 && got[0] == 'y' && strlen(got) == 600000, "${V/p/r} on a long value");
}

int main(void)
{
	const char *dir = unit_corpus_dir();
	_cleanup_free_ char *sub = cn_xasprintf("%s/shell-expansion", dir);
	struct stat st;

	if (stat(sub, &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("ok - conformance corpus # SKIP skipped: conformance data not found\n");
		return 0;
	}
	test_env_var_file(dir);
	test_words_file(dir);
	test_process_word_cases(dir);
	test_limits();
	return UNIT_DONE();
}
