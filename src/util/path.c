/* Lexical path handling (see path.h). */
#include "util/path.h"
#include "util/buf.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

char *cn_path_clean_n(const char *path, size_t n)
{
	/* The result is never longer than the input, but for "" -> ".". */
	char *out = cn_xmalloc(n + 2);
	bool rooted = n > 0 && path[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;     /* dotdot: where ".." may no longer go back */

	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (path[r] == '/') {
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			r++;
		} else if (path[r] == '.' && r + 1 < n && path[r + 1] == '.' &&
			   (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (r < n && path[r] != '/')
				out[w++] = path[r++];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return out;
}

char *cn_path_clean(const char *path)
{
	return cn_path_clean_n(path, strlen(path));
}

char *cn_path_clean_rel(const char *path)
{
	char *clean;
	while (*path == '/')
		path++;
	clean = cn_path_clean(path);
	/* Once a ".." climbs above the start, Clean keeps it in front. */
	if (!strcmp(clean, "..") || !strncmp(clean, "../", 3)) {
		free(clean);
		return NULL;
	}
	return clean;
}

char *cn_path_join(const char *dir, const char *name)
{
	if (!*dir || !strcmp(dir, "."))
		return cn_xstrdup(name);
	return cn_xasprintf("%s/%s", dir, name);
}

void cn_path_split(const char *path, cn_strv *out)
{
	while (*path) {
		size_t len = strcspn(path, "/");
		if (len > 0 && !(len == 1 && path[0] == '.'))
			cn_strv_push(out, cn_xstrndup(path, len));
		path += len;
		if (*path == '/')
			path++;
	}
}

char *cn_path_join_all(char *const *elems, size_t n)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			cn_buf_addc(&b, '/');
		cn_buf_adds(&b, elems[i]);
	}
	if (n == 0)
		cn_buf_adds(&b, ".");
	return cn_buf_detach(&b);
}
