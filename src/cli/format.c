/* --format for images, ps, history and inspect (util/gotmpl does the
 * template work), and the time stamps docker's JSON and templates show. */
#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/escape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_format_init(struct cn_fmt *f, const char *cmd, const char *spec, json_t *headers)
{
	cn_err err;
	if (cn_fmt_init(f, "--format", spec, headers, &err) < 0) {
		cli_usage_error(cmd, "%s", err.msg);
		return -1;
	}
	return 0;
}

int cli_format_row(struct cn_fmt *f, json_t *row)
{
	return cli_format_row_methods(f, row, NULL);
}

int cli_format_row_methods(struct cn_fmt *f, json_t *row, json_t *methods)
{
	cn_err err;
	int r = cn_fmt_row_methods(f, row, methods, &err);
	json_decref(row);
	json_decref(methods);
	if (r < 0)
		cli_fail(&err);
	return r;
}

void cli_format_print(struct cn_fmt *f)
{
	_cleanup_free_ char *text = cn_fmt_finish(f);
	cli_print_inert(text, stdout);
}

void cli_print_inert(const char *text, FILE *out)
{
	/* Outside text (tags, labels, commands) may be in it: escaped as every
	 * other output, the template's line breaks and tabs kept. */
	cn_buf b;
	cn_buf_init(&b, 0);
	for (const char *s = text; *s;) {
		size_t n = strcspn(s, "\n\t");
		cn_escape_buf(&b, s, n, 0, 0);
		s += n;
		if (*s)
			cn_buf_addc(&b, *s++);
	}
	fwrite(b.data, 1, b.len, out);
	cn_buf_free(&b);
}

void cli_time_docker(long long when, char *out, size_t len)
{
	time_t t = (time_t)when;
	struct tm tm;
	if (when <= 0 || !gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm))
		snprintf(out, len, "N/A");
}

void cli_time_rfc3339(long long when, char *out, size_t len)
{
	time_t t = (time_t)when;
	struct tm tm;
	if (when <= 0 || !gmtime_r(&t, &tm) || !strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, len, "0001-01-01T00:00:00Z");
}
