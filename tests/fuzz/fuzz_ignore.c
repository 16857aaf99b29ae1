/* The .dockerignore matcher (builder/ignore.c). Input: the ignore file,
 * then a NUL, then newline-separated paths to decide. Each path is decided
 * by bf_ignore_match and, component by component, the way a walk does it
 * (bf_ignore_child, bf_ignore_may_reinclude); for a clean path both must
 * agree, since COPY and the build context use one and the other. */
#include "fuzz.h"

#include "builder/ignore.h"
#include "util/path.h"

#include <stdbool.h>

/* A clean relative path: no empty, "." or ".." components, no leading or
 * trailing '/'. Only those are walked. */
static bool clean_rel(const char *p)
{
	const char *c = p;
	if (!*p)
		return false;
	while (*c) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (*c == '/' && !*++c)
			return false;
	}
	return true;
}

static void walk(const struct bf_ignore *ig, char *path)
{
	size_t n = bf_ignore_count(ig) ? bf_ignore_count(ig) : 1;
	unsigned char *parent = cn_xcalloc(n, 1), *state = cn_xcalloc(n, 1);
	bool have_parent = false, excluded = false, final = false, whole = bf_ignore_match(ig, path);
	char *slash = path;
	if (!clean_rel(path))
		goto out;
	for (;;) {
		unsigned char *t;
		slash = strchr(slash, '/');
		if (slash)
			*slash = '\0';
		excluded = bf_ignore_child(ig, path, have_parent ? parent : NULL, state);
		if (slash && excluded && !bf_ignore_may_reinclude(ig, path, state))
			final = true;   /* a walk stops here: all below is excluded */
		if (!slash)
			break;
		*slash++ = '/';
		t = parent;
		parent = state;
		state = t;
		have_parent = true;
	}
	if (excluded != whole || (final && !whole))
		abort();    /* a walk and a lookup disagree */
	if (bf_ignore_path(ig, path, state) != whole)
		abort();
out:
	free(parent);
	free(state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_part(&data, &size), *paths = fuzz_str(data, size), *save = NULL, *p;
	cn_err err;
	struct bf_ignore *ig = bf_ignore_parse(".dockerignore", text, strlen(text), &err);
	fuzz_debug("bf_ignore_parse", ig ? 0 : -1, &err);
	if (ig) {
		for (p = strtok_r(paths, "\n", &save); p; p = strtok_r(NULL, "\n", &save))
			walk(ig, p);
		bf_ignore_free(ig);
	}
	free(text);
	free(paths);
	return 0;
}
