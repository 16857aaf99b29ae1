/* Docker's output conventions shared by images, history, rmi and prune:
 * columns padded to their widest cell plus three spaces (docker's
 * tabwriter), sizes as docker's units print them, times as "N ago". */
#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_table_init(struct cli_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

void cli_table_add(struct cli_table *t, ...)
{
	va_list ap;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		cn_strv_push(&t->cells, cn_xstrdup(s ? s : ""));
	}
	va_end(ap);
}

/* Characters, not bytes ("…" is one column). */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

void cli_table_print(struct cli_table *t, FILE *out)
{
	_cleanup_free_ size_t *w = cn_xcalloc(t->ncols ? t->ncols : 1, sizeof(*w));
	for (size_t i = 0; i < t->cells.n; i++) {
		size_t len = width(t->cells.v[i]);
		if (len > w[i % t->ncols])
			w[i % t->ncols] = len;
	}
	for (size_t i = 0; i < t->cells.n; i++) {
		size_t col = i % t->ncols;
		if (col + 1 == t->ncols)
			fprintf(out, "%s\n", t->cells.v[i]);
		else
			fprintf(out, "%s%*s", t->cells.v[i], (int)(w[col] - width(t->cells.v[i]) + 3), "");
	}
}

void cli_table_free(struct cli_table *t)
{
	cn_strv_free(&t->cells);
}

void cli_docker_size(unsigned long long bytes, char *out, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	snprintf(out, len, "%.3g%s", v, units[u]);
}

void cli_ago(long long when, long long now, char *out, size_t len)
{
	char d[48];
	if (when <= 0) {
		snprintf(out, len, "N/A");
		return;
	}
	cli_human_duration(now - when, d, sizeof(d));
	snprintf(out, len, "%s ago", d);
}
