/* The parser against BuildKit's parser corpus ($CONFORMANCE/dockerfile-parser):
 * AST dumps, must-fail files, line numbers, heredoc extraction and the
 * empty-continuation warnings. */
#include "builder/parse.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Parses PATH; returns 0/-1 as bf_parse, or -2 if it cannot be read. */
static int parse_path(const char *path, struct bf_file *f, cn_err *err)
{
	_cleanup_buf_ cn_buf text = { 0 };
	cn_buf_init(&text, 0);
	if (cn_read_file_at(AT_FDCWD, path, BF_MAX_FILE + 1, &text, err) < 0)
		return -2;
	return bf_parse("Dockerfile", text.data, text.len, f, err);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sub-directories of DIR, sorted. */
static void list_dirs(const char *dir, cn_strv *out)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			cn_strv_pushdup(out, de->d_name);
	if (out->n)
		qsort(out->v, out->n, sizeof(char *), cmp_name);
}

static void test_dumps(const char *base)
{
	_cleanup_free_ char *dir = cn_xasprintf("%s/testfiles", base);
	_cleanup_strv_ cn_strv cases = { 0 };

	list_dirs(dir, &cases);
	UNIT_CHECK(cases.n == 33, "testfiles: 33 cases found (%zu)", cases.n);
	for (size_t i = 0; i < cases.n; i++) {
		_cleanup_free_ char *df = cn_xasprintf("%s/%s/Dockerfile", dir, cases.v[i]);
		_cleanup_free_ char *rf = cn_xasprintf("%s/%s/result", dir, cases.v[i]);
		_cleanup_buf_ cn_buf want = { 0 };
		_cleanup_buf_ cn_buf got = { 0 };
		struct bf_file f;
		cn_err err = { 0 };
		bool same;

		cn_buf_init(&want, 0);
		cn_buf_init(&got, 0);
		if (parse_path(df, &f, &err) < 0 ||
		    cn_read_file_at(AT_FDCWD, rf, BF_MAX_FILE + 1, &want, &err) < 0) {
			UNIT_CHECK(0, "testfiles/%s: %s", cases.v[i], err.msg);
			continue;
		}
		bf_dump(&f, &got);
		bf_file_free(&f);
		same = got.len == want.len && memcmp(got.data, want.data, got.len) == 0;
		UNIT_CHECK(same, "testfiles/%s: dump equals result", cases.v[i]);
		if (!same)
			printf("#   got:\n%s#   want:\n%s", got.data, want.data);
	}
}

static void test_negative(const char *base)
{
	_cleanup_free_ char *dir = cn_xasprintf("%s/testfiles-negative", base);
	_cleanup_strv_ cn_strv cases = { 0 };

	list_dirs(dir, &cases);
	UNIT_CHECK(cases.n == 4, "testfiles-negative: 4 cases found (%zu)", cases.n);
	for (size_t i = 0; i < cases.n; i++) {
		_cleanup_free_ char *df = cn_xasprintf("%s/%s/Dockerfile", dir, cases.v[i]);
		struct bf_file f;
		cn_err err = { 0 };
		int rc = parse_path(df, &f, &err);
		if (rc == 0)
			bf_file_free(&f);
		UNIT_CHECK(rc == -1 && strncmp(err.msg, "Dockerfile:", 11) == 0,
			   "testfiles-negative/%s fails (%s)", cases.v[i], err.msg);
	}
}

static void test_lines(const char *base)
{
	_cleanup_free_ char *df = cn_xasprintf("%s/testfile-line/Dockerfile", base);
	static const int want[3][2] = { { 5, 5 }, { 11, 12 }, { 17, 31 } };
	struct bf_file f;
	cn_err err = { 0 };
	bool ok;

	if (parse_path(df, &f, &err) < 0) {
		UNIT_CHECK(0, "testfile-line: %s", err.msg);
		return;
	}
	ok = f.nnodes == 3;
	for (size_t i = 0; ok && i < 3; i++)
		ok = f.nodes[i].start_line == want[i][0] && f.nodes[i].end_line == want[i][1];
	UNIT_CHECK(ok, "testfile-line: 3 instructions at lines 5-5, 11-12, 17-31");
	for (size_t i = 0; i < f.nnodes; i++)
		if (!ok)
			printf("#   node %zu: %d-%d\n", i, f.nodes[i].start_line, f.nodes[i].end_line);
	bf_file_free(&f);
}

static bool heredoc_equals(const struct bf_heredoc *h, json_t *w)
{
	return strcmp(h->name, json_string_value(json_object_get(w, "name"))) == 0 &&
	       strcmp(h->content, json_string_value(json_object_get(w, "content"))) == 0 &&
	       h->expand == json_is_true(json_object_get(w, "expand")) &&
	       h->chomp == json_is_true(json_object_get(w, "chomp")) &&
	       h->fd == json_integer_value(json_object_get(w, "fd"));
}

/* extra/heredoc and extra/heredoc-json: instruction i of the Dockerfile
 * against instructions[i] of expected.json. */
static void test_heredocs(const char *base, const char *which)
{
	_cleanup_free_ char *df = cn_xasprintf("%s/extra/%s/Dockerfile", base, which);
	_cleanup_free_ char *jf = cn_xasprintf("%s/extra/%s/expected.json", base, which);
	json_error_t jerr;
	json_t *root = json_load_file(jf, 0, &jerr), *list, *inst;
	struct bf_file f;
	cn_err err = { 0 };
	size_t i;

	if (!root) {
		UNIT_CHECK(0, "extra/%s: %s", which, jerr.text);
		return;
	}
	if (parse_path(df, &f, &err) < 0) {
		UNIT_CHECK(0, "extra/%s: %s", which, err.msg);
		json_decref(root);
		return;
	}
	list = json_object_get(root, "instructions");
	UNIT_CHECK(f.nnodes == json_array_size(list), "extra/%s: %zu instructions", which,
		   json_array_size(list));
	json_array_foreach(list, i, inst) {
		const char *first = json_string_value(json_object_get(inst, "first_line"));
		json_t *docs = json_object_get(inst, "heredocs");
		const struct bf_node *nd = i < f.nnodes ? &f.nodes[i] : NULL;
		bool ok = nd && strcmp(nd->original, first) == 0 &&
			  nd->nheredocs == (json_is_array(docs) ? json_array_size(docs) : 0);
		for (size_t k = 0; ok && k < nd->nheredocs; k++)
			ok = heredoc_equals(&nd->heredocs[k], json_array_get(docs, k));
		UNIT_CHECK(ok, "extra/%s: %s (%zu heredocs)", which, first,
			   json_is_array(docs) ? json_array_size(docs) : 0);
	}
	bf_file_free(&f);
	json_decref(root);
}

static void test_empty_continuation(const char *base)
{
	_cleanup_free_ char *df = cn_xasprintf("%s/extra/empty-continuation/Dockerfile", base);
	_cleanup_free_ char *jf = cn_xasprintf("%s/extra/empty-continuation/expected.json", base);
	json_error_t jerr;
	json_t *root = json_load_file(jf, 0, &jerr), *w;
	struct bf_file f;
	cn_err err = { 0 };
	size_t i;

	if (!root || parse_path(df, &f, &err) < 0) {
		UNIT_CHECK(0, "extra/empty-continuation: %s", root ? err.msg : jerr.text);
		json_decref(root);
		return;
	}
	bool ok = (json_int_t)f.warnings.n == json_integer_value(json_object_get(root, "warning_count"));
	json_array_foreach(json_object_get(root, "warnings_contain"), i, w)
		ok = ok && i < f.warnings.n && strstr(f.warnings.v[i], json_string_value(w)) &&
		     strstr(f.warnings.v[i], "Empty continuation line found in: ");
	UNIT_CHECK(ok, "extra/empty-continuation: %zu warnings as expected", f.warnings.n);
	for (i = 0; !ok && i < f.warnings.n; i++)
		printf("#   %s\n", f.warnings.v[i]);
	bf_file_free(&f);
	json_decref(root);
}

int main(void)
{
	_cleanup_free_ char *base = cn_xasprintf("%s/dockerfile-parser", unit_corpus_dir());
	struct stat st;

	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)) {
		printf("ok - conformance corpus # SKIP skipped: conformance data not found\n");
		return 0;
	}
	test_dumps(base);
	test_negative(base);
	test_lines(base);
	test_heredocs(base, "heredoc");
	test_heredocs(base, "heredoc-json");
	test_empty_continuation(base);
	return UNIT_DONE();
}
